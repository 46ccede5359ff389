// Transient UI state: which overlay is open, and focus requests for panels.

import { createSignal } from "solid-js";

export type Overlay = "palette" | "quickOpen" | "workspace" | "indexDetails" | null;
export type FocusTarget = "search" | "tree" | "editor" | "health" | "terminal" | "history" | "git";

export function createUiStore() {
  const [overlay, setOverlay] = createSignal<Overlay>(null);
  const [focus, setFocus] = createSignal<{ target: FocusTarget; nonce: number } | null>(null);
  let nonce = 0;
  return {
    overlay,
    open: (o: Exclude<Overlay, null>) => setOverlay(o),
    close: () => setOverlay(null),
    toggle: (o: Exclude<Overlay, null>) => setOverlay((cur) => (cur === o ? null : o)),
    focus,
    requestFocus: (target: FocusTarget) => setFocus({ target, nonce: ++nonce }),
  };
}

export type UiStore = ReturnType<typeof createUiStore>;
