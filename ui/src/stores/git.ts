// The git panel's state: the repository's status (branch, state, changed files), the recorded
// git events, and the diff of the file picked. Loaded when the panel is first shown; the
// status follows file changes (debounced) and the log follows `git` stream messages.

import { batch, createSignal, untrack } from "solid-js";
import type { Client } from "../api/client";
import { describeError } from "../api/errors";
import type { GitDiff, GitEvent, GitMessage, GitStatus } from "../api/types";
import { debounce } from "../lib/debounce";

export const GIT_REFRESH_MS = 800;
const LOG_LIMIT = 100;

export function createGitStore(client: Client, workspace: () => number | null) {
  const [status, setStatus] = createSignal<GitStatus | null>(null);
  const [statusError, setStatusError] = createSignal<string | null>(null);
  const [events, setEvents] = createSignal<GitEvent[]>([]);
  const [logError, setLogError] = createSignal<string | null>(null);
  const [diff, setDiff] = createSignal<{ path: string; staged: boolean; diff: GitDiff | null; error: string | null } | null>(null);
  const [loaded, setLoaded] = createSignal(false);
  const [loading, setLoading] = createSignal(false);

  const ws = () => workspace() ?? undefined;

  async function refreshStatus(): Promise<void> {
    try {
      const s = await client.gitStatus(ws());
      batch(() => {
        setStatus(s);
        setStatusError(null);
      });
    } catch (e) {
      setStatusError(describeError(e));
    }
  }

  async function refreshLog(): Promise<void> {
    try {
      const l = await client.gitLog({ workspace: ws(), limit: LOG_LIMIT });
      batch(() => {
        setEvents(l.events);
        setLogError(null);
      });
    } catch (e) {
      setLogError(describeError(e));
    }
  }

  async function load(): Promise<void> {
    setLoading(true);
    await Promise.all([refreshStatus(), refreshLog()]);
    batch(() => {
      setLoading(false);
      setLoaded(true);
    });
  }

  const later = debounce(() => void refreshStatus(), GIT_REFRESH_MS);

  return {
    status,
    statusError,
    events,
    logError,
    diff,
    loaded,
    loading,
    load,
    ensureLoaded: () => untrack(() => (loaded() || loading() ? Promise.resolve() : load())),
    refreshStatus,
    /** Shows a file's diff (`staged`: the index against HEAD). */
    async showDiff(path: string, staged = false): Promise<void> {
      setDiff({ path, staged, diff: null, error: null });
      try {
        const d = await client.gitDiff(path, { workspace: ws(), staged });
        if (diff()?.path === path) setDiff({ path, staged, diff: d, error: null });
      } catch (e) {
        if (diff()?.path === path) setDiff({ path, staged, diff: null, error: describeError(e) });
      }
    },
    closeDiff: () => setDiff(null),
    /** New git events (stream). */
    onGit(m: GitMessage) {
      if (!loaded()) return;
      const cur = workspace();
      if (cur !== null && m.workspace !== cur) return;
      const known = new Set(events().map((e) => e.id));
      const fresh = m.events.filter((e) => !known.has(e.id)).sort((a, b) => b.ts_ms - a.ts_ms || b.id - a.id);
      if (fresh.length) setEvents((l) => [...fresh, ...l].slice(0, LOG_LIMIT * 2));
      later();
    },
    /** Files changed in a workspace: the status may have too. */
    onFs(workspaceId: number) {
      if (loaded() && workspaceId === workspace()) later();
    },
    /** Another workspace: start over. */
    reset() {
      later.cancel();
      batch(() => {
        setStatus(null);
        setEvents([]);
        setDiff(null);
        setStatusError(null);
        setLogError(null);
        setLoaded(false);
      });
    },
    dispose: () => later.cancel(),
  };
}

export type GitStore = ReturnType<typeof createGitStore>;
