// A modal dialog over the app: Escape or a click outside closes it, and focus goes back to
// where it was.

import { type JSX, onCleanup, onMount } from "solid-js";

export function Modal(props: { label: string; onClose: () => void; children: JSX.Element; class?: string; testid?: string }) {
  let previous: Element | null = null;
  onMount(() => {
    previous = document.activeElement;
  });
  onCleanup(() => {
    if (previous instanceof HTMLElement && previous.isConnected) previous.focus();
  });
  return (
    <div
      class="overlay"
      onPointerDown={(e) => {
        if (e.target === e.currentTarget) props.onClose();
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          props.onClose();
        }
      }}
    >
      <div class={`modal ${props.class ?? ""}`} role="dialog" aria-modal="true" aria-label={props.label} data-testid={props.testid}>
        {props.children}
      </div>
    </div>
  );
}
