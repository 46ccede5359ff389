// Terminals: a tab per terminal (new, close, switch), each an xterm attached to the core's
// terminal. Output goes from the connection into xterm through a per-frame writer, never
// through Solid state. The grid follows the panel's size; Ctrl/Cmd+F searches the scrollback;
// URLs and `path:line[:col]` are links (the latter open in the editor).

import { createEffect, createSignal, For, onCleanup, onMount, Show, untrack } from "solid-js";
import type { TermConnection } from "../api/transport";
import { useApp } from "../context";
import { nextFrame } from "../lib/frame";
import { linkCandidates } from "../lib/termLinks";
import type { TermWidget } from "../lib/termWidget";
import { createTermWriter } from "../lib/termWriter";
import { activePanel, areaVisible } from "../panels/registry";
import type { TermTab } from "../stores/terminals";

/** Whether a panel is on screen (its area shown and the panel in front). */
export function usePanelVisible(id: string, area: "left" | "bottom" | "right") {
  const app = useApp();
  return () => areaVisible(app, area) && activePanel(app, area)?.id === id;
}

function exitText(tab: TermTab): string {
  if (tab.endReason === "gone") return "This terminal is gone (the daemon restarted).";
  const code = tab.exitCode === null ? "" : ` with code ${tab.exitCode}`;
  const how = tab.endReason === "killed" ? "was killed" : tab.endReason === "closed" ? "was closed" : "exited";
  return `The shell ${how}${code}.`;
}

function TerminalView(props: { tab: TermTab; active: boolean }) {
  const app = useApp();
  const id = props.tab.id;
  let host!: HTMLDivElement;
  let searchInput: HTMLInputElement | undefined;
  let widget: TermWidget | null = null;
  let conn: TermConnection | null = null;
  let disposed = false;
  let size: { cols: number; rows: number } | null = null;
  const [ready, setReady] = createSignal(false);
  const [searching, setSearching] = createSignal(false);
  const [query, setQuery] = createSignal("");
  const [found, setFound] = createSignal<boolean | null>(null);
  const writer = createTermWriter();

  const fit = () => {
    if (!widget || !props.active) return;
    const s = widget.fit();
    if (!s || (size && s.cols === size.cols && s.rows === size.rows)) return;
    size = s;
    conn?.resize(s.cols, s.rows);
  };
  let fitQueued = false;
  const queueFit = () => {
    if (fitQueued) return;
    fitQueued = true;
    nextFrame(() => {
      fitQueued = false;
      if (!disposed) fit();
    });
  };

  const openLink = (raw: string, line: number, col: number | undefined) => {
    const root = app.workspace.current()?.root ?? null;
    const cands = linkCandidates(raw, app.terminals.get(id)?.cwd ?? null, root);
    if (cands.length === 0) {
      app.notices.error(`${raw} is outside the workspace.`);
      return;
    }
    const known = new Set(app.files.paths());
    const path = cands.find((c) => known.has(c)) ?? cands[0];
    if (path) void app.openFile(path, col === undefined ? { line } : { line, col });
  };

  onMount(() => {
    conn = app.client.attachTerminal(id, {
      onData: (b) => writer.push(b),
      onControl: (m) => {
        app.terminals.applyControl(id, m);
        if (m.type === "command") app.onCommand(m.entry);
      },
      onState: (c) => app.terminals.setConnected(id, c),
      onReplay: () => writer.reset(),
    });
    void app
      .termWidget(host, {
        onInput: (d) => {
          if (app.terminals.get(id)?.alive) conn?.send(d);
        },
        onFind: () => {
          setSearching(true);
          searchInput?.focus();
          searchInput?.select();
        },
        onPathLink: openLink,
        onUrl: (url) => {
          if (/^https?:\/\//i.test(url)) window.open(url, "_blank", "noopener,noreferrer");
        },
      })
      .then(
        (w) => {
          if (disposed) return w.dispose();
          widget = w;
          writer.attach(w);
          setReady(true);
          fit();
          if (props.active && app.ui.focus()?.target === "terminal") w.focus();
        },
        (e: unknown) => app.notices.error(`Could not start the terminal view: ${e instanceof Error ? e.message : String(e)}`),
      );
    if (typeof ResizeObserver === "function") {
      const ro = new ResizeObserver(queueFit);
      ro.observe(host);
      onCleanup(() => ro.disconnect());
    }
    // The theme on <html> changes (a toggle, or the system's preference).
    if (typeof MutationObserver === "function") {
      const mo = new MutationObserver(() => widget?.applyTheme());
      mo.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
      onCleanup(() => mo.disconnect());
    }
  });

  onCleanup(() => {
    disposed = true;
    writer.dispose();
    conn?.close();
    widget?.dispose();
  });

  // Shown (or shown again): fit, and take the focus when asked to.
  createEffect(() => {
    if (!props.active || !ready()) return;
    queueFit();
    const f = app.ui.focus();
    if (f?.target === "terminal") widget?.focus();
  });

  const find = (dir: 1 | -1) => {
    const q = query();
    if (!widget || q === "") return setFound(null);
    setFound(dir === 1 ? widget.findNext(q) : widget.findPrevious(q));
  };
  const closeSearch = () => {
    setSearching(false);
    setFound(null);
    widget?.clearSearch();
    widget?.focus();
  };

  return (
    <div
      class="terminal-view"
      classList={{ active: props.active }}
      hidden={!props.active}
      role="tabpanel"
      id={`term-panel-${id}`}
      aria-label={`Terminal ${props.tab.title}`}
      data-testid="terminal-view"
      data-term-id={id}
    >
      <Show when={searching()}>
        <div class="term-search" role="search">
          <input
            ref={searchInput}
            type="search"
            aria-label="Find in the terminal"
            placeholder="Find"
            data-testid="term-search"
            value={query()}
            onInput={(e) => {
              setQuery(e.currentTarget.value);
              find(1);
            }}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                find(e.shiftKey ? -1 : 1);
              } else if (e.key === "Escape") {
                e.preventDefault();
                closeSearch();
              }
            }}
          />
          <span class="term-search-state" aria-live="polite">
            {found() === false ? "no match" : ""}
          </span>
          <button type="button" aria-label="Previous match" title="Previous match (Shift+Enter)" onClick={() => find(-1)}>
            ↑
          </button>
          <button type="button" aria-label="Next match" title="Next match (Enter)" onClick={() => find(1)}>
            ↓
          </button>
          <button type="button" aria-label="Close search" title="Close (Esc)" onClick={closeSearch}>
            ×
          </button>
        </div>
      </Show>
      <Show when={!props.tab.alive}>
        <div class="term-bar" role="status" data-testid="term-exited">
          <span>{exitText(props.tab)}</span>
          <button type="button" onClick={() => void app.terminals.close(id)}>
            Close
          </button>
          <button type="button" onClick={() => void app.terminals.open(props.tab.cwd)}>
            New terminal here
          </button>
        </div>
      </Show>
      <Show when={props.tab.alive && !props.tab.connected}>
        <div class="term-bar warn" role="status">Connecting to the terminal…</div>
      </Show>
      <Show when={props.tab.dropped > 0}>
        <div class="term-bar warn" role="status">
          {props.tab.dropped} bytes of output were skipped (the view fell behind).
        </div>
      </Show>
      <div class="term-host" ref={host} data-testid="term-host" />
    </div>
  );
}

export function TerminalPanel() {
  const app = useApp();
  const t = app.terminals;
  const visible = usePanelVisible("terminal", "bottom");
  let newButton: HTMLButtonElement | undefined;

  createEffect(() => {
    if (visible()) untrack(() => void t.load());
  });
  // Focus requested with no terminal to focus: the "new" button.
  createEffect(() => {
    if (app.ui.focus()?.target === "terminal" && t.tabs().length === 0) newButton?.focus();
  });

  const onTabKey = (e: KeyboardEvent) => {
    if (e.key === "ArrowRight") t.cycle(1);
    else if (e.key === "ArrowLeft") t.cycle(-1);
    else return;
    e.preventDefault();
    (document.querySelector(`[data-testid="term-tab"][aria-selected="true"]`) as HTMLElement | null)?.focus();
  };

  return (
    <div class="terminal-panel" data-testid="terminal-panel">
      <div class="term-tabs" role="tablist" aria-label="Terminals" onKeyDown={onTabKey}>
        <For each={t.tabs()}>
          {(tab) => (
            <span class="term-tab" classList={{ active: t.active() === tab.id, ended: !tab.alive }}>
              <button
                type="button"
                role="tab"
                class="term-tab-title"
                aria-selected={t.active() === tab.id}
                aria-controls={`term-panel-${tab.id}`}
                tabIndex={t.active() === tab.id ? 0 : -1}
                title={`${tab.title} — ${tab.cwd}`}
                data-testid="term-tab"
                data-term-id={tab.id}
                onClick={() => {
                  t.activate(tab.id);
                  app.ui.requestFocus("terminal");
                }}
              >
                {tab.title}
                <Show when={!tab.alive}>
                  <span class={`badge ${tab.exitCode === 0 ? "exit-ok" : "exit-fail"}`}>exited{tab.exitCode === null ? "" : ` ${tab.exitCode}`}</span>
                </Show>
              </button>
              <button
                type="button"
                class="term-tab-close"
                aria-label={`Close terminal ${tab.title}`}
                title={tab.alive ? "End this terminal" : "Close"}
                data-testid="term-close"
                onClick={() => void t.close(tab.id)}
              >
                ×
              </button>
            </span>
          )}
        </For>
        <button
          ref={newButton}
          type="button"
          class="term-new"
          aria-label="New terminal"
          title="New terminal (Ctrl+Shift+`)"
          data-testid="term-new"
          disabled={t.opening()}
          onClick={() => void t.open().then((id) => id !== null && app.ui.requestFocus("terminal"))}
        >
          +
        </button>
      </div>
      <Show when={t.unavailable()}>
        <p class="error term-unavailable" role="alert" data-testid="term-unavailable">
          {t.unavailable()}
        </p>
      </Show>
      <Show when={t.loaded() && t.tabs().length === 0 && !t.unavailable()}>
        <p class="empty">
          No terminal open.{" "}
          <button type="button" onClick={() => void t.open().then((id) => id !== null && app.ui.requestFocus("terminal"))}>
            New terminal
          </button>
        </p>
      </Show>
      <div class="term-views">
        <For each={t.tabs()}>{(tab) => <TerminalView tab={tab} active={t.active() === tab.id} />}</For>
      </div>
    </div>
  );
}
