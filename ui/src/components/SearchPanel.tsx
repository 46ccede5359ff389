// Hybrid search: a query (searched 150 ms after typing stops), path-glob and language
// filters, and the hits — path:line, symbol, kind, a snippet, a "stale" badge, each signal's
// score on hover. Up/Down move through hits from the query box or the list; Enter opens the
// selected hit at its first line.

import { createEffect, For, Show } from "solid-js";
import type { SearchHit } from "../api/types";
import { useApp } from "../context";
import { LANGS } from "../lib/lang";
import { showPanel } from "../panels/registry";
import { ExitBadge } from "./HistoryPanel";
import { VirtualList } from "./VirtualList";

export const HIT_ROW_HEIGHT = 92;

/** The tooltip with every signal's score and rank. */
export function scoresTitle(hit: SearchHit): string {
  const s = hit.scores;
  const sig = (name: string, score: number | null, rank: number | null, digits: number) =>
    score === null ? `${name}: —` : `${name}: ${score.toFixed(digits)} (rank ${rank ?? "?"})`;
  return [
    `rrf: ${s.rrf.toFixed(4)}`,
    sig("fts", s.fts, s.fts_rank, 2),
    sig("vector", s.vector, s.vector_rank, 3),
    sig("symbol", s.symbol, s.symbol_rank, 2),
  ].join("\n");
}

function HitRow(props: { hit: SearchHit | undefined; index: number; selected: boolean; onOpen: () => void }) {
  return (
    <Show when={props.hit}>
      {(hit) => (
        <div
          id={`search-hit-${props.index}`}
          class="search-hit"
          classList={{ selected: props.selected }}
          role="option"
          aria-selected={props.selected}
          data-testid="search-hit"
          data-path={hit().path}
          data-line={hit().start_line}
          title={scoresTitle(hit())}
          onClick={() => props.onOpen()}
        >
          <div class="hit-head">
            <span class="hit-path">
              {hit().path}:{hit().start_line}
            </span>
            <Show when={hit().stale}>
              <span class="badge stale" title="The file changed on disk after it was indexed: lines may have moved">
                stale
              </span>
            </Show>
            <span class="hit-kind">{hit().kind}</span>
            <Show when={hit().symbol}>
              <span class="hit-symbol">{hit().symbol}</span>
            </Show>
          </div>
          <pre class="hit-snippet">{hit().snippet}</pre>
        </div>
      )}
    </Show>
  );
}

export function SearchPanel() {
  const app = useApp();
  const search = app.search;
  let input: HTMLInputElement | undefined;

  createEffect(() => {
    const f = app.ui.focus();
    if (f?.target === "search") {
      input?.focus();
      input?.select();
    }
  });

  const openSelected = async () => {
    await search.settle();
    const hit = search.hits()[search.selected()];
    if (hit) {
      await app.openFile(hit.path, { line: hit.start_line, symbol: hit.symbol, endLine: hit.end_line }, hit.workspace);
    }
  };

  const onKeys = (e: KeyboardEvent) => {
    switch (e.key) {
      case "ArrowDown":
        search.select(search.selected() + 1);
        break;
      case "ArrowUp":
        search.select(search.selected() - 1);
        break;
      case "PageDown":
        search.select(search.selected() + 5);
        break;
      case "PageUp":
        search.select(search.selected() - 5);
        break;
      case "Enter":
        void openSelected();
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  const summary = () => {
    const r = search.response();
    if (search.loading()) return "searching…";
    if (!r) return "";
    return `${r.hits.length} hit${r.hits.length === 1 ? "" : "s"} · ${r.took_ms.toFixed(0)} ms`;
  };

  return (
    <div class="search-panel">
      <div class="search-form">
        <input
          ref={input}
          type="search"
          class="search-input"
          data-testid="search-input"
          aria-label="Search the workspace"
          aria-controls="search-results"
          aria-activedescendant={search.hits().length ? `search-hit-${search.selected()}` : undefined}
          placeholder="Search code: words, identifiers, or a description"
          value={search.query()}
          onInput={(e) => search.setQuery(e.currentTarget.value)}
          onKeyDown={onKeys}
          spellcheck={false}
          autocomplete="off"
        />
        <div class="search-filters">
          <input
            type="text"
            aria-label="Path filter (glob)"
            placeholder="path glob, e.g. src/**/*.rs"
            value={search.glob()}
            onInput={(e) => search.setGlob(e.currentTarget.value)}
            onKeyDown={onKeys}
            spellcheck={false}
          />
          <select aria-label="Language filter" value={search.lang()} onChange={(e) => search.setLang(e.currentTarget.value)}>
            <option value="">any language</option>
            <For each={LANGS}>{(l) => <option value={l}>{l}</option>}</For>
          </select>
        </div>
      </div>
      <div class="search-meta" aria-live="polite">
        <span>{summary()}</span>
        <Show when={search.error()}>
          <span class="error" role="alert">{search.error()}</span>
        </Show>
        <For each={search.response()?.notes ?? []}>{(n) => <span class="note">{n}</span>}</For>
      </div>
      <Show when={(search.response()?.terminal ?? []).length > 0}>
        <div class="search-terminal" data-testid="search-terminal" aria-label="From your terminals">
          <div class="search-terminal-title">From your terminals</div>
          <For each={search.response()?.terminal ?? []}>
            {(e) => (
              <button
                type="button"
                class="search-terminal-row"
                data-testid="search-terminal-row"
                title={e.snippet}
                onClick={() => {
                  showPanel(app, "history");
                  void app.history.show(e.id);
                }}
              >
                <ExitBadge code={e.exit_code} ended={e.ended_ms !== null} />
                <code>{e.command}</code>
                <span class="muted">{e.cwd ?? ""}</span>
              </button>
            )}
          </For>
        </div>
      </Show>
      <Show
        when={search.hits().length > 0 || !search.response()}
        fallback={<p class="empty">No hits for “{search.query()}”.</p>}
      >
        <VirtualList
          id="search-results"
          count={search.hits().length}
          rowHeight={HIT_ROW_HEIGHT}
          selected={search.selected()}
          role="listbox"
          aria-label="Search hits"
          tabIndex={0}
          onKeyDown={onKeys}
          class="search-results"
        >
          {(i) => (
            <HitRow
              hit={search.hits()[i]}
              index={i}
              selected={search.selected() === i}
              onOpen={() => {
                search.select(i);
                void openSelected();
              }}
            />
          )}
        </VirtualList>
      </Show>
    </div>
  );
}
