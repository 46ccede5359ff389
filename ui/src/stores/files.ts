// Every indexed path of the current workspace, for quick open: fetched on first use, kept
// with lowercased copies for the fuzzy scorer, and refetched after files change.

import { createSignal } from "solid-js";
import type { Client } from "../api/client";
import { describeError } from "../api/errors";
import { fuzzyFilter, type FuzzyHit } from "../lib/fuzzy";

interface Loaded {
  workspace: number;
  paths: string[];
  lowers: string[];
  truncated: boolean;
  /** Built on the first change report, to tell new files from edits. */
  known?: Set<string>;
}

export function createFilesStore(client: Client) {
  const [loaded, setLoaded] = createSignal<Loaded | null>(null);
  const [loading, setLoading] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  let stale = true;
  let inflight: Promise<void> | null = null;
  let workspace: number | null = null;

  async function fetchList(ws: number): Promise<void> {
    setLoading(true);
    setError(null);
    try {
      const list = await client.files(ws);
      if (workspace !== ws) return;
      stale = false;
      setLoaded({
        workspace: ws,
        paths: list.paths,
        lowers: list.paths.map((p) => p.toLowerCase()),
        truncated: list.truncated,
      });
    } catch (e) {
      if (workspace === ws) setError(describeError(e));
    } finally {
      setLoading(false);
    }
  }

  return {
    loading,
    error,
    paths: () => loaded()?.paths ?? [],
    truncated: () => loaded()?.truncated ?? false,
    /** Switches workspace (drops the list). */
    reset(ws: number | null) {
      workspace = ws;
      stale = true;
      inflight = null;
      setLoaded(null);
    },
    /** Makes sure the list is there and fresh. */
    ensure(): Promise<void> {
      const ws = workspace;
      if (ws === null) return Promise.resolve();
      if (!stale && loaded()?.workspace === ws) return Promise.resolve();
      if (!inflight) {
        inflight = fetchList(ws).finally(() => {
          inflight = null;
        });
      }
      return inflight;
    },
    /**
     * Files changed. A path the list does not have is a new file: the next quick open
     * refetches. (Edits of listed files change nothing here; a deleted file stays listed until
     * the next refetch, and opening it says it is gone.)
     */
    onFs(ws: number, paths: readonly string[] = [""]) {
      if (ws !== workspace || stale) return;
      const l = loaded();
      if (!l || l.workspace !== ws || paths.includes("")) {
        stale = true;
        return;
      }
      l.known ??= new Set(l.paths);
      const known = l.known;
      if (paths.some((p) => !known.has(p))) stale = true;
    },
    /** Forces a refetch on the next use (a listed file turned out to be gone). */
    invalidate() {
      stale = true;
    },
    /** The best matches for `query`. */
    filter(query: string, limit = 100): FuzzyHit[] {
      const l = loaded();
      if (!l) return [];
      return fuzzyFilter(query, l.paths, l.lowers, limit);
    },
  };
}

export type FilesStore = ReturnType<typeof createFilesStore>;
