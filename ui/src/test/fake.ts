// Test doubles for the transport boundary only: a Transport whose answers the test scripts
// (real ApiErrors, real JSON shapes), and builders for the wire types.

import { ApiError } from "../api/errors";
import type { TermConnection, TermHandlers, Transport } from "../api/transport";
import type {
  DirEntry,
  GitEvent,
  GitStatus,
  HistoryEntry,
  TermControl,
  TermInfo,
  IndexStatus,
  Method,
  NodeStatus,
  SearchHit,
  StatusReport,
  StreamMessage,
  WorkspaceStatus,
} from "../api/types";

export interface Call {
  method: Method;
  path: string;
  body: unknown;
}

type Handler = (call: Call, match: RegExpMatchArray) => unknown;

export class FakeTransport implements Transport {
  calls: Call[] = [];
  private routes: Array<{ method: Method; re: RegExp; handler: Handler }> = [];
  private listeners = new Set<{ onMessage: (m: StreamMessage) => void; onState?: (c: boolean) => void }>();

  /**
   * Answers `method path` (a string matches the full path with its query exactly; a regex is
   * matched against it) with a handler's result or a fixed value.
   */
  on(method: Method, path: RegExp | string, handler: Handler): this;
  on(method: Method, path: RegExp | string, value: unknown): this;
  on(method: Method, path: RegExp | string, handler: unknown): this {
    const re = typeof path === "string" ? new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) : path;
    const h: Handler = typeof handler === "function" ? (handler as Handler) : () => structuredClone(handler);
    // Later routes win, so a test can override a default.
    this.routes.unshift({ method, re, handler: h });
    return this;
  }

  async call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const call = { method, path, body };
    this.calls.push(call);
    for (const r of this.routes) {
      const m = r.method === method ? path.match(r.re) : null;
      if (m) {
        const out = await r.handler(call, m);
        return out as T;
      }
    }
    throw new ApiError(404, "not_found", `no route for ${method} ${path}`);
  }

  subscribe(onMessage: (m: StreamMessage) => void, onState?: (c: boolean) => void): () => void {
    const l = { onMessage, onState };
    this.listeners.add(l);
    onState?.(true);
    return () => this.listeners.delete(l);
  }

  emit(m: StreamMessage) {
    for (const l of this.listeners) l.onMessage(m);
  }

  setConnected(c: boolean) {
    for (const l of this.listeners) l.onState?.(c);
  }

  callsTo(method: Method, prefix: string): Call[] {
    return this.calls.filter((c) => c.method === method && c.path.startsWith(prefix));
  }

  /** Every terminal attachment made, newest last. */
  terms: FakeTermConnection[] = [];

  terminal(id: number, handlers: TermHandlers): TermConnection {
    const c = new FakeTermConnection(id, handlers);
    this.terms.push(c);
    handlers.onReplay?.();
    handlers.onState?.(true);
    return c;
  }

  /** The live (not closed) attachment to terminal `id`. */
  term(id: number): FakeTermConnection | undefined {
    return [...this.terms].reverse().find((t) => t.id === id && !t.closed);
  }
}

/** A terminal attachment whose output the test writes and whose input it reads. */
export class FakeTermConnection implements TermConnection {
  sent: string[] = [];
  sizes: Array<[number, number]> = [];
  closed = false;

  constructor(
    readonly id: number,
    readonly handlers: TermHandlers,
  ) {}

  send(data: string) {
    this.sent.push(data);
  }

  resize(cols: number, rows: number) {
    this.sizes.push([cols, rows]);
  }

  close() {
    this.closed = true;
  }

  /** Output from the "shell". */
  output(text: string) {
    this.handlers.onData(new TextEncoder().encode(text));
  }

  control(msg: TermControl) {
    this.handlers.onControl(msg);
  }
}

/** Rejects like the core: the same ApiError the transports throw. */
export function fail(status: number, code: string, message = code): never {
  throw new ApiError(status, code, message);
}

export function node(path: string, state: NodeStatus["state"] = "running", extra: Partial<NodeStatus> = {}): NodeStatus {
  return { path, state, generation: 1, restarts: 0, last_error: null, since_ms: 0, info: {}, gave_up: false, ...extra };
}

export function wsStatus(id: number, extra: Partial<WorkspaceStatus> = {}): WorkspaceStatus {
  return {
    id,
    root: `/repo${id}`,
    phase: "idle",
    watch: "native (3 dirs)",
    counts: { files: 10, chunked: 10, embedded: 10, skipped: 0, chunks: 40, pending: 0, bytes: 4096 },
    progress: { scanning: false, seen: 10, indexed: 10, bytes: 4096, chunks: 40, skipped: 0, unchanged: 0, elapsed_s: 1.5 },
    last_scan: { seen: 10, unchanged: 0, indexed: 10, removed: 0, skipped: [], skipped_total: 0, retry_later: 0, seconds: 1.5 },
    scans: 1,
    updates: 0,
    last_error: null,
    ...extra,
  };
}

export function indexStatus(workspaces: WorkspaceStatus[] = [wsStatus(1)], generation = 1): IndexStatus {
  return {
    workspaces,
    vectors: { model: "all-MiniLM-L6-v2", table: "code_minilm", rows: 40, indexed: false, rate: 0, building: null, blocked: null },
    generation,
  };
}

export function statusReport(extra: Partial<StatusReport> = {}): StatusReport {
  return {
    daemon: {
      version: "0.1.0",
      pid: 4242,
      boot_id: "boot",
      started_ms: Date.now() - 60_000,
      profile: "default",
      data_dir: "/data",
      workspace: "/repo1",
    },
    degraded: false,
    tree: [node("root"), node("root/storage"), node("root/pools"), node("root/pools/embed"), node("root/pools/embed/workers/w1", "running", { info: { pid: 77 } })],
    recent_events: [],
    pools: { embed: { ready: 1, queued: 0, in_flight: 0, served: 12, retried: 0, last_error: null } },
    index: indexStatus(),
    ...extra,
  };
}

export function hit(path: string, line: number, extra: Partial<SearchHit> = {}): SearchHit {
  return {
    chunk_id: `${path}#${line}`,
    workspace: 1,
    root: "/repo1",
    path,
    start_line: line,
    end_line: line + 5,
    lang: "rust",
    kind: "function",
    symbol: null,
    snippet: `fn at_line_${line}() {}`,
    snippet_line: line,
    scores: { rrf: 0.0325, fts: 7.5, fts_rank: 1, vector: 0.81, vector_rank: 2, symbol: null, symbol_rank: null },
    stale: false,
    ...extra,
  };
}

export function entry(path: string, isDir = false, ignored = false): DirEntry {
  return { name: path.slice(path.lastIndexOf("/") + 1), path, is_dir: isDir, ignored, size: isDir ? null : 100 };
}

/** A file's content answer with a hash derived from the text. */
export function fileContent(path: string, content: string) {
  return { path, content, hash: `h${hashOf(content)}`, mtime_ms: 1, size: content.length, lang: null };
}

export function hashOf(s: string): string {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return (h >>> 0).toString(16);
}

export function termInfo(id: number, extra: Partial<TermInfo> = {}): TermInfo {
  return {
    id,
    pid: 1000 + id,
    shell: "/bin/bash",
    cwd: "/repo1",
    cols: 80,
    rows: 24,
    started_ms: Date.now() - 1000,
    session_id: 1,
    alive: true,
    exit_code: null,
    end_reason: null,
    title: `bash ${id}`,
    ...extra,
  };
}

export function historyEntry(id: number, command: string, extra: Partial<HistoryEntry> = {}): HistoryEntry {
  const started = Date.now() - 60_000;
  return {
    id,
    session_id: 1,
    seq: id,
    command,
    cwd: "/repo1",
    started_ms: started,
    ended_ms: started + 1200,
    duration_ms: 1200,
    exit_code: 0,
    output_bytes: 10,
    truncated: false,
    snippet: "",
    ...extra,
  };
}

export function gitStatus(extra: Partial<GitStatus> = {}): GitStatus {
  return {
    workspace: 1,
    state: "ok",
    branch: "main",
    head: "0123456789abcdef0123456789abcdef01234567",
    detached: false,
    ahead: 0,
    behind: 0,
    upstream: "origin/main",
    files: [],
    ...extra,
  };
}

export function gitEvent(id: number, kind: GitEvent["kind"], summary: string, extra: Partial<GitEvent> = {}): GitEvent {
  return { id, kind, ref_name: "refs/heads/main", old_oid: null, new_oid: null, summary, author: "Ada", ts_ms: Date.now() - 5000, detail: null, ...extra };
}

/** Lets pending promise callbacks run. */
export async function flush(times = 5) {
  for (let i = 0; i < times; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}
