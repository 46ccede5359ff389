// The status bar: connection, workspace, index progress (click for details), degraded state,
// and the cursor of the active file.

import { Show } from "solid-js";
import { useApp } from "../context";
import { showPanel } from "../panels/registry";
import { IndexDetails } from "./IndexDetails";

export function StatusBar() {
  const app = useApp();
  const summary = () => app.index.summary(app.workspace.id());
  const detailsOpen = () => app.ui.overlay() === "indexDetails";

  return (
    <footer class="statusbar" aria-label="Status">
      <span
        class="sb-item conn"
        classList={{ on: app.health.connected() }}
        data-testid="connection"
        title={app.health.connected() ? "Connected to the daemon" : "Not connected: reconnecting…"}
      >
        <span class="dot" aria-hidden="true" />
        {app.health.connected() ? "connected" : "reconnecting…"}
      </span>
      <button type="button" class="sb-item" onClick={() => app.ui.open("workspace")} title="Open a workspace">
        {app.workspace.current()?.name ?? "Open workspace…"}
      </button>
      <span class="sb-anchor">
        <button
          type="button"
          class={`sb-item index-progress state-${summary().state}`}
          data-testid="index-progress"
          data-state={summary().state}
          aria-haspopup="dialog"
          aria-expanded={detailsOpen()}
          title="Index details"
          onClick={() => app.ui.toggle("indexDetails")}
        >
          <Show when={summary().fraction !== null && summary().state !== "indexed"}>
            <span class="meter" aria-hidden="true">
              <span style={{ width: `${Math.round((summary().fraction ?? 0) * 100)}%` }} />
            </span>
          </Show>
          {summary().text}
        </button>
        <Show when={detailsOpen()}>
          <IndexDetails onClose={() => app.ui.close()} />
        </Show>
      </span>
      <Show when={app.health.degraded()}>
        <button type="button" class="sb-item degraded" onClick={() => showPanel(app, "health")} data-testid="degraded-indicator">
          ⚠ degraded
        </button>
      </Show>
      <span class="sb-spacer" />
      <Show when={app.editor.activeTab()}>
        {(tab) => (
          <>
            <Show when={app.editor.cursor()}>
              {(c) => (
                <span class="sb-item">
                  Ln {c().line}, Col {c().col}
                </span>
              )}
            </Show>
            <span class="sb-item">{tab().lang}</span>
          </>
        )}
      </Show>
    </footer>
  );
}
