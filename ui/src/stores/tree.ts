// The file tree of the current workspace: folders listed lazily when expanded, flattened into
// rows for a virtual list, and re-listed when the stream says files under them changed.

import { createMemo, createSignal } from "solid-js";
import type { Client } from "../api/client";
import { describeError } from "../api/errors";
import type { DirEntry } from "../api/types";
import { dirname, isWithin } from "../lib/paths";

export interface DirState {
  entries: DirEntry[] | null;
  loading: boolean;
  error: string | null;
}

export interface TreeRow {
  entry: DirEntry;
  depth: number;
}

/** Flattens the listed, expanded folders under `root` into rows, depth first. */
export function flatten(dirs: ReadonlyMap<string, DirState>, expanded: ReadonlySet<string>): TreeRow[] {
  const rows: TreeRow[] = [];
  const walk = (dir: string, depth: number) => {
    const entries = dirs.get(dir)?.entries;
    if (!entries) return;
    for (const entry of entries) {
      rows.push({ entry, depth });
      if (entry.is_dir && expanded.has(entry.path)) walk(entry.path, depth + 1);
    }
  };
  walk("", 0);
  return rows;
}

export function createTreeStore(client: Client) {
  let workspace: number | null = null;
  // Plain containers behind a version signal: a folder of 100k entries is not made into a
  // deep reactive proxy, and one change re-flattens once.
  const dirs = new Map<string, DirState>();
  const expanded = new Set<string>();
  const [version, setVersion] = createSignal(0);
  const bump = () => setVersion((v) => v + 1);
  const [selected, setSelected] = createSignal<string | null>(null);

  const rows = createMemo(() => {
    version();
    return flatten(dirs, expanded);
  });

  async function list(dir: string): Promise<void> {
    const ws = workspace;
    if (ws === null) return;
    const prev = dirs.get(dir);
    dirs.set(dir, { entries: prev?.entries ?? null, loading: true, error: null });
    bump();
    try {
      const entries = await client.listDir(ws, dir);
      if (workspace !== ws) return;
      dirs.set(dir, { entries, loading: false, error: null });
    } catch (e) {
      if (workspace !== ws) return;
      dirs.set(dir, { entries: prev?.entries ?? null, loading: false, error: describeError(e) });
      // A folder that vanished collapses.
      if (dir !== "") expanded.delete(dir);
    }
    bump();
  }

  function forget(dir: string) {
    for (const key of [...dirs.keys()]) if (isWithin(key, dir) && key !== "") dirs.delete(key);
    for (const key of [...expanded]) if (isWithin(key, dir)) expanded.delete(key);
  }

  return {
    rows,
    selected,
    setSelected,
    /** The listing state of one folder. */
    dir(path: string): DirState | undefined {
      version();
      return dirs.get(path);
    },
    isExpanded(path: string): boolean {
      version();
      return expanded.has(path);
    },
    /** Shows another workspace (or none): drops everything and lists its root. */
    async reset(ws: number | null): Promise<void> {
      workspace = ws;
      dirs.clear();
      expanded.clear();
      setSelected(null);
      bump();
      if (ws !== null) await list("");
    },
    async expand(path: string): Promise<void> {
      if (expanded.has(path)) return;
      expanded.add(path);
      bump();
      if (!dirs.get(path)?.entries) await list(path);
    },
    collapse(path: string) {
      if (expanded.delete(path)) bump();
    },
    async toggle(path: string): Promise<void> {
      if (expanded.has(path)) {
        expanded.delete(path);
        bump();
      } else {
        expanded.add(path);
        bump();
        if (!dirs.get(path)?.entries) await list(path);
      }
    },
    /** Expands every folder above `path` and selects it. */
    async reveal(path: string): Promise<void> {
      const parts = path.split("/");
      let dir = "";
      for (let i = 0; i < parts.length - 1; i++) {
        dir = dir === "" ? (parts[i] ?? "") : `${dir}/${parts[i] ?? ""}`;
        if (!expanded.has(dir)) {
          expanded.add(dir);
          if (!dirs.get(dir)?.entries) await list(dir);
        }
      }
      bump();
      setSelected(path);
    },
    /**
     * Files changed under the workspace: re-list the folders shown that contain them; forget
     * listings of collapsed ones (they re-list when opened). "" means everything changed.
     */
    async onFs(ws: number, paths: readonly string[]): Promise<void> {
      if (ws !== workspace) return;
      const affected = new Set<string>();
      if (paths.includes("")) {
        for (const d of dirs.keys()) affected.add(d);
      } else {
        for (const p of paths) {
          affected.add(dirname(p));
          if (dirs.has(p)) affected.add(p);
        }
      }
      const relist: string[] = [];
      for (const d of affected) {
        if (!dirs.has(d)) continue;
        if (d === "" || expanded.has(d)) relist.push(d);
        else forget(d);
      }
      await Promise.all(relist.map(list));
    },
    /** Re-lists every folder shown (after a reconnect, when changes may have been missed). */
    async refreshAll(): Promise<void> {
      const shown = [...dirs.keys()].filter((d) => d === "" || expanded.has(d));
      for (const d of [...dirs.keys()]) if (!shown.includes(d)) dirs.delete(d);
      await Promise.all(shown.map(list));
    },
  };
}

export type TreeStore = ReturnType<typeof createTreeStore>;
