// Toasts for background errors and confirmations.

import { For } from "solid-js";
import { useApp } from "../context";

export function Notices() {
  const app = useApp();
  return (
    <div class="notices" role="status" aria-live="polite">
      <For each={app.notices.list()}>
        {(n) => (
          <div class={`notice notice-${n.kind}`} data-testid="notice">
            <span>{n.text}</span>
            <button type="button" aria-label="Dismiss" onClick={() => app.notices.dismiss(n.id)}>
              ×
            </button>
          </div>
        )}
      </For>
    </div>
  );
}
