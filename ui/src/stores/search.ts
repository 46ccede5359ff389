// The search panel's state: query and filters, the latest answer, the selected hit. Typing
// searches after 150 ms of quiet; answers to older queries are dropped; the current query is
// searched again when the index commits new writes, so hits follow edits.

import { createSignal } from "solid-js";
import type { Client } from "../api/client";
import { describeError } from "../api/errors";
import type { SearchHit, SearchRequest, SearchResponse } from "../api/types";
import { debounce } from "../lib/debounce";

export const SEARCH_DEBOUNCE_MS = 150;
const RERUN_MS = 400;
const HITS = 50;

export function createSearchStore(client: Client, workspace: () => number | null) {
  const [query, setQueryRaw] = createSignal("");
  const [glob, setGlobRaw] = createSignal("");
  const [lang, setLangRaw] = createSignal("");
  const [response, setResponse] = createSignal<SearchResponse | null>(null);
  const [loading, setLoading] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const [selected, setSelected] = createSignal(0);
  let seq = 0;
  let inflight: Promise<void> | null = null;

  function request(): SearchRequest {
    return {
      query: query().trim(),
      k: HITS,
      workspace: workspace(),
      path: glob().trim() || null,
      lang: lang() || null,
    };
  }

  /** Searches now with the current query and filters. */
  function run(keepSelection = false): Promise<void> {
    debounced.cancel();
    const req = request();
    const my = ++seq;
    if (req.query === "") {
      setResponse(null);
      setError(null);
      setLoading(false);
      return Promise.resolve();
    }
    setLoading(true);
    const p = client.search(req).then(
      (res) => {
        if (my !== seq) return;
        setResponse(res);
        setError(null);
        setLoading(false);
        if (!keepSelection || selected() >= res.hits.length) setSelected(0);
      },
      (e: unknown) => {
        if (my !== seq) return;
        setError(describeError(e));
        setLoading(false);
      },
    );
    inflight = p;
    return p;
  }

  const debounced = debounce(() => void run(), SEARCH_DEBOUNCE_MS);
  // At most one re-search per RERUN_MS while the index keeps changing (a debounce would never
  // fire during a long indexing run), always one after the last change.
  let rerunTimer: ReturnType<typeof setTimeout> | null = null;
  const rerun = () => {
    if (rerunTimer !== null) return;
    rerunTimer = setTimeout(() => {
      rerunTimer = null;
      if (query().trim() !== "" && !debounced.pending()) void run(true);
    }, RERUN_MS);
  };

  return {
    query,
    glob,
    lang,
    response,
    loading,
    error,
    selected,
    hits: (): SearchHit[] => response()?.hits ?? [],
    setQuery(q: string) {
      setQueryRaw(q);
      debounced();
    },
    setGlob(g: string) {
      setGlobRaw(g);
      debounced();
    },
    setLang(l: string) {
      setLangRaw(l);
      debounced();
    },
    run,
    /** Settles any pending or running search (Enter right after typing). */
    async settle(): Promise<void> {
      if (debounced.pending()) await run();
      else if (loading() && inflight) await inflight;
    },
    select(i: number) {
      const n = response()?.hits.length ?? 0;
      if (n === 0) return setSelected(0);
      setSelected(Math.max(0, Math.min(n - 1, i)));
    },
    /** The index changed: search the same query again, keeping the selection. */
    onIndexChanged() {
      rerun();
    },
    dispose() {
      debounced.cancel();
      if (rerunTimer !== null) clearTimeout(rerunTimer);
    },
  };
}

export type SearchStore = ReturnType<typeof createSearchStore>;
