// The open workspace and the recent ones.

import { createSignal } from "solid-js";
import type { Client } from "../api/client";
import { describeError } from "../api/errors";
import type { WorkspaceInfo } from "../api/types";
import { folderName } from "../lib/paths";
import type { NoticesStore } from "./notices";

export function createWorkspaceStore(client: Client, notices: NoticesStore) {
  const [recent, setRecent] = createSignal<WorkspaceInfo[]>([]);
  const [current, setCurrent] = createSignal<WorkspaceInfo | null>(null);
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);

  async function loadRecent(): Promise<WorkspaceInfo[]> {
    try {
      const list = await client.workspaces();
      setRecent(list);
      return list;
    } catch (e) {
      notices.error(`Could not list workspaces: ${describeError(e)}`);
      return recent();
    }
  }

  /**
   * Opens (registers and indexes) the folder at `path` and makes it current. The daemon
   * answers at once; indexing progress follows on the stream.
   */
  async function open(path: string): Promise<WorkspaceInfo | null> {
    const trimmed = path.trim();
    if (trimmed === "") {
      setError("Type the absolute path of a folder.");
      return null;
    }
    setBusy(true);
    setError(null);
    try {
      const { workspace: id } = await client.openWorkspace(trimmed);
      const list = await loadRecent();
      const info = list.find((w) => w.id === id) ?? {
        id,
        root: trimmed,
        name: folderName(trimmed),
        last_opened_ms: Date.now(),
      };
      setCurrent(info);
      return info;
    } catch (e) {
      setError(describeError(e));
      return null;
    } finally {
      setBusy(false);
    }
  }

  /** Makes a known workspace current (re-opening it, so the daemon indexes and watches it). */
  function select(ws: WorkspaceInfo): Promise<WorkspaceInfo | null> {
    return open(ws.root);
  }

  return {
    recent,
    current,
    busy,
    error,
    loadRecent,
    open,
    select,
    /** The current workspace's id, or null. */
    id: () => current()?.id ?? null,
    clearError: () => setError(null),
  };
}

export type WorkspaceStore = ReturnType<typeof createWorkspaceStore>;
