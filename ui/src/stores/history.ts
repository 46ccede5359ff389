// Command history: the filters (keyword or "by meaning", failed only, exit code, cwd), a page
// of entries (more on demand), the entry shown with its output, and live additions from the
// stream.

import { batch, createSignal, untrack } from "solid-js";
import type { Client } from "../api/client";
import { describeError } from "../api/errors";
import type { HistoryEntry, HistoryEntryDetail, HistoryQuery } from "../api/types";
import { debounce } from "../lib/debounce";

export const HISTORY_PAGE = 100;
export const HISTORY_DEBOUNCE_MS = 200;

export interface HistoryFilters {
  q: string;
  semantic: boolean;
  failed: boolean;
  /** As typed; a whole number filters. */
  exit: string;
  cwd: string;
}

export function emptyFilters(): HistoryFilters {
  return { q: "", semantic: false, failed: false, exit: "", cwd: "" };
}

/** The request for these filters. */
export function historyQuery(f: HistoryFilters, limit: number): HistoryQuery {
  const q: HistoryQuery = { limit };
  if (f.q.trim() !== "") {
    q.q = f.q.trim();
    if (f.semantic) q.semantic = true;
  }
  if (f.failed) q.failed = true;
  if (/^-?\d+$/.test(f.exit.trim())) q.exit = Number(f.exit.trim());
  if (f.cwd.trim() !== "") q.cwd = f.cwd.trim();
  return q;
}

/** Whether a new entry belongs in the list these filters show (without a text query). */
export function entryMatches(e: HistoryEntry, f: HistoryFilters): boolean {
  if (f.q.trim() !== "") return false;
  if (f.failed && (e.exit_code === 0 || e.exit_code === null)) return false;
  const q = historyQuery(f, 1);
  if (q.exit !== undefined && e.exit_code !== q.exit) return false;
  if (q.cwd !== undefined && !(e.cwd ?? "").startsWith(q.cwd)) return false;
  return true;
}

export function createHistoryStore(client: Client) {
  const [filters, setFilters] = createSignal<HistoryFilters>(emptyFilters());
  const [entries, setEntries] = createSignal<HistoryEntry[]>([]);
  const [semanticUsed, setSemanticUsed] = createSignal(false);
  const [timeWindow, setTimeWindow] = createSignal<{ since_ms: number; until_ms: number } | null>(null);
  const [loading, setLoading] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const [loaded, setLoaded] = createSignal(false);
  const [limit, setLimit] = createSignal(HISTORY_PAGE);
  const [selected, setSelected] = createSignal(0);
  const [detail, setDetail] = createSignal<HistoryEntryDetail | null>(null);
  const [detailError, setDetailError] = createSignal<string | null>(null);
  let seq = 0;

  async function run(): Promise<void> {
    debounced.cancel();
    const my = ++seq;
    setLoading(true);
    try {
      const res = await client.history(historyQuery(filters(), limit()));
      if (my !== seq) return;
      batch(() => {
        setEntries(res.entries);
        setSemanticUsed(res.semantic);
        setTimeWindow(res.window ?? null);
        setError(null);
        if (selected() >= res.entries.length) setSelected(Math.max(0, res.entries.length - 1));
      });
    } catch (e) {
      if (my === seq) setError(describeError(e));
    } finally {
      if (my === seq) {
        batch(() => {
          setLoading(false);
          setLoaded(true);
        });
      }
    }
  }

  const debounced = debounce(() => void run(), HISTORY_DEBOUNCE_MS);

  function setFilter<K extends keyof HistoryFilters>(key: K, value: HistoryFilters[K]) {
    setFilters((f) => ({ ...f, [key]: value }));
    setLimit(HISTORY_PAGE);
    setSelected(0);
    // A toggle answers at once; typing waits for a pause.
    if (typeof value === "boolean") void run();
    else debounced();
  }

  return {
    filters,
    setFilter,
    entries,
    semanticUsed,
    /** The time window the query named, as the core understood it. */
    timeWindow,
    loading,
    error,
    loaded,
    selected,
    detail,
    detailError,
    run,
    /** Loads the first page once. */
    ensureLoaded(): Promise<void> {
      return untrack(() => (loaded() || loading() ? Promise.resolve() : run()));
    },
    /** Whether a full page came back (there may be more). */
    hasMore: () => entries().length >= limit(),
    loadMore() {
      setLimit((l) => l + HISTORY_PAGE);
      return run();
    },
    select(i: number) {
      const n = entries().length;
      setSelected(n === 0 ? 0 : Math.max(0, Math.min(n - 1, i)));
    },
    /** Shows one entry with its output. */
    async show(id: number): Promise<void> {
      setDetailError(null);
      const head = entries().find((e) => e.id === id);
      if (head) setDetail({ ...head, output: "" });
      try {
        const d = await client.historyEntry(id);
        setDetail(d);
      } catch (e) {
        setDetailError(describeError(e));
      }
    },
    closeDetail() {
      setDetail(null);
      setDetailError(null);
    },
    /** A command finished (stream or a terminal's connection). */
    onCommand(e: HistoryEntry) {
      if (!loaded()) return;
      if (entries().some((x) => x.id === e.id)) return;
      if (entryMatches(e, filters())) {
        setEntries((l) => [e, ...l]);
        if (selected() > 0) setSelected((s) => s + 1);
      } else if (filters().q.trim() !== "") {
        debounced();
      }
    },
    dispose: () => debounced.cancel(),
  };
}

export type HistoryStore = ReturnType<typeof createHistoryStore>;
