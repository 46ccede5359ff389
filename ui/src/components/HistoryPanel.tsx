// Command history: every command the terminals ran (exit code, duration, when, where), with
// filters — keyword or "by meaning", failed only, exit code, cwd. Up/Down move, Enter shows
// the output, R (or the button) runs the command again in the active terminal.

import { createEffect, Show } from "solid-js";
import type { HistoryEntry } from "../api/types";
import { useApp } from "../context";
import { ago, bytes } from "../lib/format";
import { usePanelVisible } from "./TerminalPanel";
import { VirtualList } from "./VirtualList";

export const HISTORY_ROW_HEIGHT = 46;

/** "1.2 s", "350 ms", "3m 4s". */
export function shortDuration(ms: number | null): string {
  if (ms === null) return "running";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${s % 60}s`;
}

export function ExitBadge(props: { code: number | null; ended: boolean }) {
  return (
    <span
      class="badge exit"
      classList={{ "exit-ok": props.code === 0, "exit-fail": props.code !== null && props.code !== 0, "exit-none": props.code === null }}
      data-testid="history-exit"
      title={props.code === null ? (props.ended ? "no exit code" : "still running") : `exit code ${props.code}`}
    >
      {props.code === null ? (props.ended ? "?" : "…") : props.code}
    </span>
  );
}

function Row(props: { entry: HistoryEntry | undefined; index: number; selected: boolean; onOpen: () => void; onRerun: () => void }) {
  return (
    <Show when={props.entry}>
      {(e) => (
        <div
          id={`history-row-${props.index}`}
          class="history-row"
          classList={{ selected: props.selected }}
          role="option"
          aria-selected={props.selected}
          data-testid="history-row"
          data-id={e().id}
          data-exit={e().exit_code ?? ""}
          onClick={() => props.onOpen()}
        >
          <ExitBadge code={e().exit_code} ended={e().ended_ms !== null} />
          <div class="history-main">
            <code class="history-command" data-testid="history-command">{e().command}</code>
            <div class="history-meta">
              <span class="history-cwd" title={e().cwd ?? ""}>{e().cwd ?? ""}</span>
              <span>{shortDuration(e().duration_ms)}</span>
              <span title={new Date(e().started_ms).toLocaleString()}>{ago(e().started_ms)}</span>
            </div>
          </div>
          <button
            type="button"
            class="history-rerun"
            tabIndex={-1}
            aria-label={`Re-run ${e().command}`}
            title="Re-run in the terminal (R)"
            onClick={(ev) => {
              ev.stopPropagation();
              props.onRerun();
            }}
          >
            ↻
          </button>
        </div>
      )}
    </Show>
  );
}

export function HistoryPanel() {
  const app = useApp();
  const h = app.history;
  const visible = usePanelVisible("history", "bottom");
  let input: HTMLInputElement | undefined;
  let list: HTMLDivElement | undefined;
  let back: HTMLButtonElement | undefined;

  createEffect(() => {
    if (visible()) void h.ensureLoaded();
  });
  createEffect(() => {
    if (app.ui.focus()?.target === "history") {
      if (h.detail()) back?.focus();
      else input?.focus();
    }
  });

  const rerun = async (command: string) => {
    const id = await app.terminals.run(command);
    if (id !== null) app.layout.setActive("bottom", "terminal");
  };
  const openSelected = () => {
    const e = h.entries()[h.selected()];
    if (e) void h.show(e.id).then(() => back?.focus());
  };
  const closeDetail = () => {
    h.closeDetail();
    list?.focus();
  };

  const onKeys = (e: KeyboardEvent) => {
    switch (e.key) {
      case "ArrowDown":
        h.select(h.selected() + 1);
        break;
      case "ArrowUp":
        h.select(h.selected() - 1);
        break;
      case "PageDown":
        h.select(h.selected() + 10);
        break;
      case "PageUp":
        h.select(h.selected() - 10);
        break;
      case "Enter":
        openSelected();
        break;
      case "r":
      case "R": {
        if (e.currentTarget === input || e.ctrlKey || e.metaKey || e.altKey) return;
        const cur = h.entries()[h.selected()];
        if (cur) void rerun(cur.command);
        break;
      }
      default:
        return;
    }
    e.preventDefault();
  };

  const summary = () => {
    if (h.loading()) return "loading…";
    const n = h.entries().length;
    const by = h.filters().semantic && h.filters().q.trim() !== "" ? (h.semanticUsed() ? " · by meaning" : " · by keyword (no embeddings yet)") : "";
    const w = h.timeWindow();
    const when = w ? ` · ${new Date(w.since_ms).toLocaleString()} – ${new Date(w.until_ms).toLocaleString()}` : "";
    return `${n}${h.hasMore() ? "+" : ""} command${n === 1 ? "" : "s"}${by}${when}`;
  };

  return (
    <div class="history-panel" data-testid="history-panel">
      <Show
        when={h.detail()}
        fallback={
          <>
            <div class="history-filters">
              <input
                ref={input}
                type="search"
                class="history-query"
                aria-label="Filter commands"
                aria-controls="history-list"
                placeholder={h.filters().semantic ? "describe it: the test run that failed" : "keyword in command, output or cwd"}
                data-testid="history-query"
                value={h.filters().q}
                onInput={(e) => h.setFilter("q", e.currentTarget.value)}
                onKeyDown={onKeys}
                spellcheck={false}
              />
              <label class="check" title="Search the outputs by meaning (embeddings) as well as keywords">
                <input type="checkbox" checked={h.filters().semantic} data-testid="history-semantic" onChange={(e) => h.setFilter("semantic", e.currentTarget.checked)} />
                by meaning
              </label>
              <label class="check">
                <input type="checkbox" checked={h.filters().failed} data-testid="history-failed" onChange={(e) => h.setFilter("failed", e.currentTarget.checked)} />
                failed only
              </label>
              <input
                type="text"
                inputMode="numeric"
                class="history-exit"
                aria-label="Exit code"
                placeholder="exit"
                data-testid="history-exit-filter"
                value={h.filters().exit}
                onInput={(e) => h.setFilter("exit", e.currentTarget.value)}
              />
              <input
                type="text"
                class="history-cwd-filter"
                aria-label="Working directory prefix"
                placeholder="cwd prefix"
                data-testid="history-cwd-filter"
                value={h.filters().cwd}
                onInput={(e) => h.setFilter("cwd", e.currentTarget.value)}
                spellcheck={false}
              />
            </div>
            <div class="search-meta" aria-live="polite">
              <span data-testid="history-summary">{summary()}</span>
              <Show when={h.error()}>
                <span class="error" role="alert">{h.error()}</span>
              </Show>
            </div>
            <Show when={h.entries().length > 0} fallback={<p class="empty">{h.loaded() && !h.loading() ? "No commands match." : ""}</p>}>
              <VirtualList
                id="history-list"
                ref={(el) => (list = el)}
                count={h.entries().length}
                rowHeight={HISTORY_ROW_HEIGHT}
                selected={h.selected()}
                role="listbox"
                aria-label="Recorded commands"
                aria-activedescendant={`history-row-${h.selected()}`}
                tabIndex={0}
                onKeyDown={onKeys}
                class="history-list"
                data-testid="history-list"
              >
                {(i) => (
                  <Row
                    entry={h.entries()[i]}
                    index={i}
                    selected={h.selected() === i}
                    onOpen={() => {
                      h.select(i);
                      openSelected();
                    }}
                    onRerun={() => {
                      const e = h.entries()[i];
                      if (e) void rerun(e.command);
                    }}
                  />
                )}
              </VirtualList>
              <Show when={h.hasMore()}>
                <button type="button" class="history-more" onClick={() => void h.loadMore()}>
                  Load more
                </button>
              </Show>
            </Show>
          </>
        }
      >
        {(d) => (
          <div
            class="history-detail"
            data-testid="history-detail"
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.preventDefault();
                closeDetail();
              }
            }}
          >
            <div class="history-detail-head">
              <button ref={back} type="button" aria-label="Back to the list" title="Back (Esc)" onClick={closeDetail}>
                ←
              </button>
              <ExitBadge code={d().exit_code} ended={d().ended_ms !== null} />
              <code class="history-command">{d().command}</code>
              <span class="sb-spacer" />
              <button type="button" data-testid="history-rerun" onClick={() => void rerun(d().command)}>
                Re-run
              </button>
            </div>
            <div class="history-meta">
              <span>{d().cwd ?? ""}</span>
              <span>{shortDuration(d().duration_ms)}</span>
              <span>{new Date(d().started_ms).toLocaleString()}</span>
              <span>{bytes(d().output_bytes)}{d().truncated ? " (truncated)" : ""}</span>
            </div>
            <Show when={h.detailError()}>
              <p class="error" role="alert">{h.detailError()}</p>
            </Show>
            <pre class="history-output" data-testid="history-output" tabIndex={0} aria-label="Output">
              {d().output}
            </pre>
          </div>
        )}
      </Show>
    </div>
  );
}
