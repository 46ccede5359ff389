// Wire types of the core's one command surface, mirroring the Rust JSON exactly (serde's
// default field names; `Option<T>` is `T | null`, `#[serde(default)]` fields of requests are
// optional). Where each comes from is named above it; keep the two in step.
//
// The types marked NEW are defined here first; the Rust side implements them to match.

// ---------------------------------------------------------------------------------------
// actors/src/supervision/events.rs

/** What happened to a child (`EventKind`, snake_case). */
export type EventKind =
  | "started"
  | "restarted"
  | "exited"
  | "stopped"
  | "restart_scheduled"
  | "start_failed"
  | "removed"
  | "gave_up"
  | "escalated";

/** One supervision event (`TreeEvent`). */
export interface TreeEvent {
  /** Wall-clock time, Unix ms. */
  ts_ms: number;
  /** Path of the supervisor that owns the child, e.g. `root/pools`. */
  supervisor: string;
  /** The child's id within that supervisor. */
  child: string;
  kind: EventKind;
  /** Which incarnation (1 for the first start). */
  generation: number;
  reason: string | null;
  /** Backoff delay, attempt, abnormal flag... */
  detail: unknown;
}

/** `NodeState`, snake_case. */
export type NodeState = "running" | "restarting" | "stopped" | "failed";

/** What a node is. Not in the Rust `NodeStatus` yet: the UI infers it when absent. */
export type NodeKind = "supervisor" | "actor" | "worker";

/** One node of the live tree (`NodeStatus`). */
export interface NodeStatus {
  /** Full path, e.g. `root/storage`. */
  path: string;
  state: NodeState;
  generation: number;
  restarts: number;
  last_error: string | null;
  since_ms: number;
  /** Facts a child publishes about itself (a worker's pid, model...). */
  info: Record<string, unknown>;
  /** A supervisor that exceeded its restart intensity and escalated. */
  gave_up: boolean;
  /** Proposed addition (optional until the Rust side sends it). */
  kind?: NodeKind;
}

// ---------------------------------------------------------------------------------------
// actors/src/pool/mod.rs

/** Live counters of one worker pool (`PoolStats`). */
export interface PoolStats {
  ready: number;
  queued: number;
  in_flight: number;
  served: number;
  retried: number;
  last_error: string | null;
}

// ---------------------------------------------------------------------------------------
// actors/src/index/progress.rs, files.rs, service.rs

/** Counters of the scan in progress or the last one (`ProgressSnapshot`). */
export interface ProgressSnapshot {
  scanning: boolean;
  /** Paths the walk yielded so far. */
  seen: number;
  /** Files read, chunked and written in this scan. */
  indexed: number;
  bytes: number;
  chunks: number;
  /** Files passed over (binary, oversized, unreadable...). */
  skipped: number;
  /** Files whose size and mtime matched: not read. */
  unchanged: number;
  /** Seconds since the scan started (until it finished, for a finished one). */
  elapsed_s: number;
}

/** Row counts of one workspace (`IndexCounts`). */
export interface IndexCounts {
  /** File rows (indexed or skipped). */
  files: number;
  /** Files whose chunks are written. */
  chunked: number;
  /** Files whose chunks all have vectors. */
  embedded: number;
  skipped: number;
  chunks: number;
  /** Chunks still waiting for a vector. */
  pending: number;
  bytes: number;
}

/** What the last full scan found (`ScanSummary`). */
export interface ScanSummary {
  seen: number;
  unchanged: number;
  indexed: number;
  removed: number;
  /** `Vec<(String, String)>`: [path, reason] pairs, the first 50. */
  skipped: Array<[string, string]>;
  skipped_total: number;
  retry_later: number;
  seconds: number;
}

/** `WorkspaceStatus.phase` as service.rs sets it. */
export type WorkspacePhase = "scanning" | "refining" | "updating" | "idle" | "failed" | "stopped" | "missing";

/** One workspace as status shows it (`WorkspaceStatus`). */
export interface WorkspaceStatus {
  id: number;
  root: string;
  /** A `WorkspacePhase`; kept open so a new phase does not break the UI. */
  phase: WorkspacePhase | (string & {});
  /** `native (N dirs)`, `polling: reason`, `off`. */
  watch: string;
  counts: IndexCounts;
  progress: ProgressSnapshot;
  last_scan: ScanSummary | null;
  scans: number;
  updates: number;
  last_error: string | null;
}

/** What the embedder reports about vectors (`VectorStatus`). */
export interface VectorStatus {
  model: string | null;
  table: string | null;
  rows: number;
  /** Whether the table has an ANN index. */
  indexed: boolean;
  /** Chunks embedded per second over the last batches. */
  rate: number;
  building: string | null;
  /** Why vectors are not being made right now. */
  blocked: string | null;
}

/** `GET /v1/index` (`IndexStatus`). */
export interface IndexStatus {
  workspaces: WorkspaceStatus[];
  vectors: VectorStatus;
  /** Committed writes so far: grows with every scan batch and update. */
  generation: number;
}

// ---------------------------------------------------------------------------------------
// actors/src/api.rs

/** `DaemonInfo`. */
export interface DaemonInfo {
  version: string;
  pid: number;
  boot_id: string;
  started_ms: number;
  profile: string;
  data_dir: string;
  /** The folder `weft serve` was started on. */
  workspace: string;
}

/** `GET /v1/status` (`StatusReport`). */
export interface StatusReport {
  daemon: DaemonInfo;
  /** True when any node is restarting or failed. */
  degraded: boolean;
  /** Every node, sorted by path. */
  tree: NodeStatus[];
  /** The latest events, oldest first. */
  recent_events: TreeEvent[];
  pools: Record<string, PoolStats>;
  index: IndexStatus | null;
}

/** Every error answer: api.rs `error(status, code, message)` writes this flat object. */
export interface ApiErrorBody {
  code: string;
  message: string;
}

/** `POST /v1/index` body (`IndexRequest`; `wait` is ignored by the daemon). */
export interface IndexRequest {
  path: string;
  wait?: boolean;
}

/** `POST /v1/index` answer. */
export interface IndexOpenResponse {
  workspace: number;
}

/** `POST /v1/index/rescan` body (`RescanRequest`): all workspaces when absent. */
export interface RescanRequest {
  workspace?: number | null;
}

/** `POST /v1/index/rescan` answer (202). */
export interface RescanResponse {
  rescan: boolean;
}

/** `POST /v1/kill` answer (202). */
export interface KillResponse {
  killed: string;
}

// ---------------------------------------------------------------------------------------
// actors/src/index/search.rs

/** `POST /v1/search` body (`SearchRequest`). */
export interface SearchRequest {
  query: string;
  /** Hits (default 10, at most 200). */
  k?: number | null;
  workspace?: number | null;
  /** Path glob relative to the workspace root. */
  path?: string | null;
  /** `rust`, `python`, `typescript`, ... (see `Lang::from_name`). */
  lang?: string | null;
  /** `function`, `class`, `section`, ... */
  kind?: string | null;
  no_vector?: boolean;
  vector_only?: boolean;
}

/** Each signal's contribution to a hit (`Scores`). */
export interface Scores {
  rrf: number;
  fts: number | null;
  fts_rank: number | null;
  vector: number | null;
  vector_rank: number | null;
  symbol: number | null;
  symbol_rank: number | null;
}

/** One result (`SearchHit`). */
export interface SearchHit {
  chunk_id: string;
  workspace: number;
  root: string;
  /** Relative to the root. */
  path: string;
  /** 1-based. */
  start_line: number;
  /** Inclusive. */
  end_line: number;
  lang: string;
  kind: string;
  symbol: string | null;
  snippet: string;
  snippet_line: number;
  scores: Scores;
  /** The file changed on disk after it was indexed. */
  stale: boolean;
}

/** `POST /v1/search` answer (`SearchResponse`). */
export interface SearchResponse {
  hits: SearchHit[];
  fts_candidates: number;
  vector_candidates: number;
  symbol_candidates: number;
  /** Why a signal was left out (e.g. the embed pool is down). */
  notes: string[];
  took_ms: number;
  /** Commands of Weft's terminals matching the same query (absent from older cores). */
  terminal?: HistoryEntry[];
}

// ---------------------------------------------------------------------------------------
// NEW endpoints (defined here; the Rust side matches them)

/** NEW `GET /v1/workspaces` item; the list is most recently opened first. */
export interface WorkspaceInfo {
  id: number;
  /** Absolute, canonical root. */
  root: string;
  /** Display name (the root's last component). */
  name: string;
  last_opened_ms: number;
}

/** NEW `GET /v1/fs/list?workspace=ID&dir=REL` item; sorted dirs first, then by name. */
export interface DirEntry {
  name: string;
  /** Relative to the workspace root, `/`-separated. */
  path: string;
  is_dir: boolean;
  /** Matched by the ignore rules (shown dimmed, not indexed). */
  ignored: boolean;
  /** Bytes; null for folders. */
  size: number | null;
}

/** NEW `GET /v1/fs/files?workspace=ID`: every indexed relative path. */
export interface FileList {
  paths: string[];
  truncated: boolean;
}

/** NEW `GET /v1/fs/file?workspace=ID&path=REL`. */
export interface FileContent {
  path: string;
  content: string;
  /** The hash `writeFile` compares `base_hash` with. */
  hash: string;
  mtime_ms: number;
  size: number;
  /** Language name as `Lang::name` writes it, when known. */
  lang: string | null;
}

/** NEW `PUT /v1/fs/file` body; `base_hash: null` overwrites whatever is on disk. */
export interface WriteFileRequest {
  workspace: number;
  path: string;
  content: string;
  base_hash: string | null;
}

/** NEW `PUT /v1/fs/file` answer. */
export interface WriteFileResponse {
  hash: string;
  mtime_ms: number;
  size: number;
}

// ---------------------------------------------------------------------------------------
// Issue 6 (contract-issue6.md): terminals, command history, session, git.
// actors/src/term/, actors/src/api/term.rs, actors/src/git/, actors/src/api/git.rs

/** `POST /v1/terms` body. `cwd` defaults to the active workspace root. */
export interface OpenTerminalRequest {
  cwd?: string;
  cols?: number;
  rows?: number;
  shell?: string;
}

/** One terminal (`TermInfo`). */
export interface TermInfo {
  id: number;
  pid: number | null;
  shell: string;
  cwd: string;
  cols: number;
  rows: number;
  started_ms: number;
  session_id: number;
  alive: boolean;
  exit_code: number | null;
  end_reason: string | null;
  title: string;
}

/** `GET /v1/terms`. */
export interface TermList {
  terms: TermInfo[];
}

/** One recorded command (`HistoryEntry`). */
export interface HistoryEntry {
  id: number;
  session_id: number;
  seq: number;
  command: string;
  cwd: string | null;
  started_ms: number;
  ended_ms: number | null;
  duration_ms: number | null;
  exit_code: number | null;
  output_bytes: number;
  truncated: boolean;
  snippet: string;
  /** Relevance, with a query. */
  score?: number;
}

/** `GET /v1/history/{id}`. */
export interface HistoryEntryDetail extends HistoryEntry {
  output: string;
}

/** `GET /v1/history` query. */
export interface HistoryQuery {
  /** Keyword (FTS over command, output and cwd), or a description with `semantic`. */
  q?: string;
  failed?: boolean;
  exit?: number;
  /** A cwd prefix. */
  cwd?: string;
  term?: number;
  limit?: number;
  semantic?: boolean;
}

/** `GET /v1/history`. */
export interface HistoryResponse {
  entries: HistoryEntry[];
  /** Whether embeddings took part. */
  semantic: boolean;
  /** The start-time window a phrase of the query named ("yesterday", "last 2 hours"). */
  window?: { since_ms: number; until_ms: number } | null;
}

/** What the core keeps of a session (`SessionState`). */
export interface SessionState {
  version: 1;
  profile: string;
  workspace: { id: number; root: string } | null;
  /** What the UI put (`SessionUi` is what this UI writes; older or foreign data may differ). */
  ui: unknown;
  terminals: Array<{ id: number; cwd: string; shell: string; title: string }>;
}

/** `GET /v1/session`. */
export interface SessionResponse {
  snapshot: { taken_ms: number; reason: string; state: SessionState } | null;
}

/** What this UI puts under `ui` with `PUT /v1/session`. */
export interface SessionUi {
  /** The layout as the ui-state key `layout` stores it (`LayoutSnapshot`). */
  layout: unknown;
  open_files: Array<{ workspace: number; path: string; line: number; col: number }>;
  active_file: string | null;
  active_panel: string | null;
}

/** `GitStatus.state`. */
export type GitRepoState =
  | "ok"
  | "not_a_repo"
  | "bare"
  | "rebasing"
  | "merging"
  | "cherry_picking"
  | "reverting"
  | "bisecting";

/** How a file changed, in the index or the worktree. */
export type GitChange = "new" | "modified" | "deleted" | "renamed" | "typechange" | "conflicted";

export interface GitFileStatus {
  path: string;
  index: GitChange | null;
  worktree: GitChange | null;
}

/** `GET /v1/git/status`. */
export interface GitStatus {
  workspace: number;
  state: GitRepoState | (string & {});
  branch: string | null;
  head: string | null;
  detached: boolean;
  ahead: number | null;
  behind: number | null;
  upstream: string | null;
  files: GitFileStatus[];
  /** A human sentence for the non-ok states. */
  message?: string | null;
}

export type GitEventKind =
  | "commit"
  | "amend"
  | "checkout"
  | "merge"
  | "rebase"
  | "pull"
  | "stash"
  | "reset"
  | "cherry-pick"
  | "branch"
  | "clone"
  | "other";

/** One recorded git event (`GitEvent`). */
export interface GitEvent {
  id: number;
  kind: GitEventKind | (string & {});
  ref_name: string | null;
  old_oid: string | null;
  new_oid: string | null;
  summary: string;
  author: string | null;
  ts_ms: number;
  detail: Record<string, unknown> | null;
}

/** `GET /v1/git/log`. */
export interface GitLog {
  events: GitEvent[];
}

/** `GET /v1/git/diff`. */
export interface GitDiff {
  diff: string;
  files: Array<{ path: string; additions: number; deletions: number }>;
  truncated: boolean;
}

/** A control message on a terminal's connection (text frames / Tauri `{control}`). */
export type TermControl =
  | { type: "exit"; code: number | null; reason: "exited" | "killed" | "closed" | (string & {}) }
  | { type: "cwd"; cwd: string }
  | { type: "command"; entry: HistoryEntry }
  | { type: "dropped"; bytes: number }
  | { type: "title"; title: string };

/** What a Tauri `term_attach` channel carries: output (base64) or a control message. */
export type TermFrame = { data: string } | { control: TermControl };

// ---------------------------------------------------------------------------------------
// Stream (WebSocket `/v1/stream`, or the Tauri event `weft://stream`)

/** Sent on connect and whenever the tree, pools or degraded state change (≤ 4 Hz). */
export interface StatusMessage {
  type: "status";
  report: StatusReport;
}

/** Index progress (≤ 4 Hz while indexing). */
export interface ProgressMessage {
  type: "progress";
  index: IndexStatus;
}

/** Files created, changed or deleted; a path equal to "" means "rescan everything". */
export interface FsMessage {
  type: "fs";
  workspace: number;
  paths: string[];
}

/** One supervision event as it happens. */
export interface EventMessage {
  type: "event";
  event: TreeEvent;
}

/** A terminal opened, exited, finished a command or changed directory. */
export interface TermMessage {
  type: "term";
  event: "opened" | "exited" | "command" | "cwd" | (string & {});
  term: number;
  /** With `command`. */
  entry?: HistoryEntry;
  /** With `cwd`. */
  cwd?: string;
  /** With `exited`. */
  code?: number | null;
  /** With `opened`. */
  info?: TermInfo;
}

/** New git events in a workspace. */
export interface GitMessage {
  type: "git";
  workspace: number;
  events: GitEvent[];
}

export type StreamMessage =
  | StatusMessage
  | ProgressMessage
  | FsMessage
  | EventMessage
  | TermMessage
  | GitMessage;

/** HTTP methods the surface uses. */
export type Method = "GET" | "POST" | "PUT" | "DELETE";
