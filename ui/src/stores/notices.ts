// Short messages for the user (errors of background actions, confirmations), shown as toasts.

import { createSignal } from "solid-js";

export interface Notice {
  id: number;
  kind: "error" | "info";
  text: string;
}

export function createNoticesStore(timeoutMs = 6000) {
  const [list, setList] = createSignal<Notice[]>([]);
  let next = 1;

  function dismiss(id: number) {
    setList((l) => l.filter((n) => n.id !== id));
  }

  function push(kind: Notice["kind"], text: string): number {
    const id = next++;
    // Identical text already showing: do not stack it.
    setList((l) => [...l.filter((n) => n.text !== text), { id, kind, text }].slice(-5));
    if (timeoutMs > 0) setTimeout(() => dismiss(id), timeoutMs);
    return id;
  }

  return {
    list,
    dismiss,
    error: (text: string) => push("error", text),
    info: (text: string) => push("info", text),
  };
}

export type NoticesStore = ReturnType<typeof createNoticesStore>;
