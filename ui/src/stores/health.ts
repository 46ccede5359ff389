// The live supervision tree, worker pools and recent events (from status reports and the
// stream), the degraded state, and whether the stream is connected.

import { createMemo, createSignal } from "solid-js";
import type { NodeKind, NodeStatus, StatusReport, TreeEvent } from "../api/types";

/** How many events the health panel keeps. */
export const MAX_EVENTS = 200;

function eventKey(e: TreeEvent): string {
  return `${e.ts_ms}|${e.supervisor}|${e.child}|${e.kind}|${e.generation}`;
}

/** Merges event lists, oldest first, without duplicates, keeping the newest `max`. */
export function mergeEvents(a: TreeEvent[], b: TreeEvent[], max = MAX_EVENTS): TreeEvent[] {
  const seen = new Set<string>();
  const out: TreeEvent[] = [];
  for (const e of [...a, ...b]) {
    const k = eventKey(e);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(e);
  }
  out.sort((x, y) => x.ts_ms - y.ts_ms);
  return out.length > max ? out.slice(out.length - max) : out;
}

/** A node is down when it is restarting or failed (what makes the daemon degraded). */
export function isDown(n: NodeStatus): boolean {
  return n.state === "restarting" || n.state === "failed";
}

/**
 * What a node is: the Rust side may send `kind`; otherwise a node with children is a
 * supervisor, a node in a pool's `workers` set (or publishing a pid) is a worker.
 */
export function nodeKind(n: NodeStatus, all: readonly NodeStatus[]): NodeKind {
  if (n.kind) return n.kind;
  const prefix = n.path + "/";
  if (all.some((o) => o.path.startsWith(prefix))) return "supervisor";
  if ("pid" in n.info || "remote" in n.info || /\/workers\/[^/]+$/.test(n.path)) return "worker";
  return "actor";
}

export function createHealthStore() {
  const [report, setReport] = createSignal<StatusReport | null>(null);
  const [connected, setConnected] = createSignal(false);
  const [events, setEvents] = createSignal<TreeEvent[]>([]);

  const tree = createMemo(() => report()?.tree ?? []);
  const downNodes = createMemo(() => tree().filter(isDown));
  const degraded = createMemo(() => report()?.degraded === true);

  return {
    report,
    connected,
    events,
    tree,
    downNodes,
    degraded,
    setConnected,
    applyReport(r: StatusReport) {
      setReport(r);
      setEvents((old) => mergeEvents(old, r.recent_events ?? []));
    },
    addEvents(evs: TreeEvent[]) {
      if (evs.length) setEvents((old) => mergeEvents(old, evs));
    },
  };
}

export type HealthStore = ReturnType<typeof createHealthStore>;
