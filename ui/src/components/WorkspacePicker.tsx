// Choose the workspace: a recent one, the folder `weft serve` was started on, or any folder by
// its path. Shown in the center while none is open, and as a dialog by command.

import { createMemo, createSignal, For, onMount, Show } from "solid-js";
import type { WorkspaceInfo } from "../api/types";
import { useApp } from "../context";
import { ago } from "../lib/format";
import { folderName } from "../lib/paths";

export function WorkspacePicker(props: { onDone?: () => void; autofocus?: boolean }) {
  const app = useApp();
  const ws = app.workspace;
  const [path, setPath] = createSignal("");
  let input: HTMLInputElement | undefined;
  let list: HTMLUListElement | undefined;

  onMount(() => {
    void ws.loadRecent();
    if (props.autofocus !== false) input?.focus();
  });

  /** The served folder, when it is not among the recent ones. */
  const served = createMemo<WorkspaceInfo | null>(() => {
    const root = app.health.report()?.daemon.workspace;
    if (!root || ws.recent().some((w) => w.root === root)) return null;
    return { id: -1, root, name: folderName(root), last_opened_ms: 0 };
  });

  const done = (ok: unknown) => {
    if (ok) props.onDone?.();
  };
  const submit = async (e?: Event) => {
    e?.preventDefault();
    done(await ws.open(path()));
  };
  const pick = async (w: WorkspaceInfo) => {
    done(w.id < 0 ? await ws.open(w.root) : await ws.select(w));
  };

  const moveFocus = (e: KeyboardEvent) => {
    const buttons = [...(list?.querySelectorAll<HTMLButtonElement>("button") ?? [])];
    const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (e.key === "ArrowDown") {
      buttons[Math.min(buttons.length - 1, i + 1)]?.focus();
      e.preventDefault();
    } else if (e.key === "ArrowUp") {
      if (i <= 0) input?.focus();
      else buttons[i - 1]?.focus();
      e.preventDefault();
    }
  };

  const item = (w: WorkspaceInfo, hint: string) => (
    <li>
      <button type="button" class="ws-item" onClick={() => void pick(w)} disabled={ws.busy()} data-testid="workspace-item">
        <span class="ws-name">{w.name}</span>
        <span class="ws-root">{w.root}</span>
        <span class="ws-hint">{hint}</span>
      </button>
    </li>
  );

  return (
    <div class="workspace-picker" data-testid="workspace-picker">
      <h2>Open a workspace</h2>
      <form onSubmit={submit} class="ws-form">
        <label for="ws-path">Folder</label>
        <input
          id="ws-path"
          ref={input}
          type="text"
          data-testid="workspace-path"
          placeholder="/absolute/path/to/a/project"
          value={path()}
          onInput={(e) => {
            setPath(e.currentTarget.value);
            ws.clearError();
          }}
          onKeyDown={(e) => e.key === "ArrowDown" && moveFocus(e)}
          spellcheck={false}
          autocomplete="off"
        />
        <button type="submit" disabled={ws.busy()}>
          {ws.busy() ? "Opening…" : "Open"}
        </button>
      </form>
      <Show when={ws.error()}>
        <p class="error" role="alert">
          {ws.error()}
        </p>
      </Show>
      <ul class="ws-list" ref={list} onKeyDown={moveFocus} aria-label="Workspaces">
        <Show when={served()}>{(s) => item(s(), "served by weft serve")}</Show>
        <For each={ws.recent()}>
          {(w) => item(w, w.id === ws.id() ? "open now" : w.last_opened_ms ? `opened ${ago(w.last_opened_ms)}` : "")}
        </For>
      </ul>
      <Show when={!served() && ws.recent().length === 0}>
        <p class="empty">No workspaces yet: type the path of a folder to index it.</p>
      </Show>
    </div>
  );
}
