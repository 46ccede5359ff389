// Index progress: the latest IndexStatus (from progress messages, status reports and
// GET /v1/index) and what the status bar says about a workspace.

import { createSignal } from "solid-js";
import type { IndexStatus, VectorStatus, WorkspaceStatus } from "../api/types";
import { count, duration, rate } from "../lib/format";

export type IndexState =
  | "none"
  | "waiting"
  | "scanning"
  | "refining"
  | "updating"
  | "embedding"
  | "blocked"
  | "indexed"
  | "failed"
  | "missing"
  | "stopped";

export interface IndexSummary {
  state: IndexState;
  /** One line for the status bar. Only the "indexed" state's text contains "indexed". */
  text: string;
  /** 0..1 when a fraction is known. */
  fraction: number | null;
}

/**
 * What a workspace's index is doing. "indexed" means the last full scan finished, no update
 * is being applied and no chunk waits for a vector: every search signal covers the folder.
 */
export function summarize(ws: WorkspaceStatus, vectors: VectorStatus): IndexSummary {
  const p = ws.progress;
  const c = ws.counts;
  switch (ws.phase) {
    case "failed":
      return { state: "failed", text: `index failed: ${ws.last_error ?? "see health"}`, fraction: null };
    case "missing":
      return { state: "missing", text: "folder missing", fraction: null };
    case "stopped":
      return { state: "stopped", text: "index stopped", fraction: null };
  }
  if (ws.phase === "scanning" || p.scanning) {
    const walked = p.indexed + p.unchanged + p.skipped;
    const r = p.elapsed_s > 0 ? walked / p.elapsed_s : 0;
    // A rescan walks about as many paths as the last scan did: that gives a total and an ETA.
    const total = ws.last_scan?.seen ?? 0;
    const fraction = total > 0 ? Math.min(1, walked / total) : null;
    const eta = total > walked && r > 0 ? ` · ETA ${duration((total - walked) / r)}` : "";
    return {
      state: "scanning",
      text: `scanning ${count(p.seen)} files · ${count(p.chunks)} chunks · ${rate(r)}${eta}`,
      fraction,
    };
  }
  if (ws.last_scan === null) return { state: "waiting", text: "waiting for the first scan", fraction: null };
  if (ws.phase === "refining") {
    // Text first: keyword search covers every file; the rest get their syntax chunks.
    const total = Math.max(0, c.files - c.skipped);
    return {
      state: "refining",
      text: `keyword search ready · chunking by syntax ${count(c.chunked)}/${count(total)} files`,
      fraction: total > 0 ? Math.min(1, c.chunked / total) : null,
    };
  }
  if (c.pending > 0) {
    const done = Math.max(0, c.chunks - c.pending);
    const fraction = c.chunks > 0 ? done / c.chunks : null;
    if (vectors.blocked) {
      return {
        state: "blocked",
        text: `keyword search ready · vectors paused: ${vectors.blocked}`,
        fraction,
      };
    }
    const eta = vectors.rate > 0 ? ` · ETA ${duration(c.pending / vectors.rate)}` : "";
    return {
      state: "embedding",
      text: `embedding ${count(done)}/${count(c.chunks)} chunks · ${rate(vectors.rate)}${eta}`,
      fraction,
    };
  }
  if (ws.phase === "updating") return { state: "updating", text: "applying changes…", fraction: null };
  return {
    state: "indexed",
    text: `indexed · ${count(c.files)} files · ${count(c.chunks)} chunks`,
    fraction: 1,
  };
}

export function createIndexStore() {
  const [status, setStatus] = createSignal<IndexStatus | null>(null);

  function workspace(id: number | null | undefined): WorkspaceStatus | undefined {
    if (id === null || id === undefined) return undefined;
    return status()?.workspaces.find((w) => w.id === id);
  }

  return {
    status,
    set: (s: IndexStatus) => setStatus(s),
    workspace,
    /** The status bar's summary of one workspace. */
    summary(id: number | null | undefined): IndexSummary {
      const s = status();
      const ws = workspace(id);
      // No text but the "indexed" state's may contain "indexed" (tests and scripts wait on it).
      if (!s || !ws) return { state: "none", text: id == null ? "no workspace" : "waiting for the index…", fraction: null };
      return summarize(ws, s.vectors);
    },
  };
}

export type IndexStore = ReturnType<typeof createIndexStore>;
