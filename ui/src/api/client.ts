// Every command the UI sends to the core, typed, in one place. Components and stores call
// these; none of them builds a path or picks a method.

import { ApiError } from "./errors";
import type { TermConnection, TermHandlers, Transport } from "./transport";
import type {
  DirEntry,
  FileContent,
  FileList,
  GitDiff,
  GitLog,
  GitStatus,
  HistoryEntryDetail,
  HistoryQuery,
  HistoryResponse,
  OpenTerminalRequest,
  SessionResponse,
  SessionUi,
  TermInfo,
  TermList,
  IndexOpenResponse,
  IndexStatus,
  KillResponse,
  RescanResponse,
  SearchRequest,
  SearchResponse,
  StatusReport,
  StreamMessage,
  WorkspaceInfo,
  WriteFileResponse,
} from "./types";

function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(
    ([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`,
  );
  return parts.length ? `?${parts.join("&")}` : "";
}

export class Client {
  constructor(readonly transport: Transport) {}

  /** The live tree, pools, index and the daemon's facts. */
  status(): Promise<StatusReport> {
    return this.transport.call("GET", "/v1/status");
  }

  /** Index state per workspace, and the vectors. */
  indexStatus(): Promise<IndexStatus> {
    return this.transport.call("GET", "/v1/index");
  }

  /** Registers a folder as a workspace and starts indexing it; answers at once. */
  openWorkspace(path: string): Promise<IndexOpenResponse> {
    return this.transport.call("POST", "/v1/index", { path, wait: false });
  }

  /** Rescans one workspace, or all of them. */
  rescan(workspace?: number): Promise<RescanResponse> {
    return this.transport.call(
      "POST",
      "/v1/index/rescan",
      workspace === undefined ? {} : { workspace },
    );
  }

  /** Hybrid search. */
  search(req: SearchRequest): Promise<SearchResponse> {
    return this.transport.call("POST", "/v1/search", req);
  }

  /** Known workspaces, most recently opened first. */
  workspaces(): Promise<WorkspaceInfo[]> {
    return this.transport.call("GET", "/v1/workspaces");
  }

  /** One folder's entries (dir "" is the root), folders first then by name. */
  listDir(workspace: number, dir: string): Promise<DirEntry[]> {
    return this.transport.call("GET", `/v1/fs/list${query({ workspace, dir })}`);
  }

  /** Every indexed path of a workspace, for quick open. */
  files(workspace: number): Promise<FileList> {
    return this.transport.call("GET", `/v1/fs/files${query({ workspace })}`);
  }

  /** A text file. Fails with `not_found`, `outside_workspace`, `binary` or `too_large`. */
  readFile(workspace: number, path: string): Promise<FileContent> {
    return this.transport.call("GET", `/v1/fs/file${query({ workspace, path })}`);
  }

  /**
   * Writes a file. With `baseHash`, fails with `conflict` (409) when the file on disk no
   * longer has that hash; `null` overwrites.
   */
  writeFile(
    workspace: number,
    path: string,
    content: string,
    baseHash: string | null,
  ): Promise<WriteFileResponse> {
    return this.transport.call("PUT", "/v1/fs/file", {
      workspace,
      path,
      content,
      base_hash: baseHash,
    });
  }

  /** A stored UI value, or null when none is stored under `key`. */
  async getUiState(key: string): Promise<unknown> {
    try {
      return await this.transport.call<unknown>(
        "GET",
        `/v1/ui-state/${encodeURIComponent(key)}`,
      );
    } catch (e) {
      if (e instanceof ApiError && e.notFound) return null;
      throw e;
    }
  }

  /** Stores a UI value (any JSON). */
  async putUiState(key: string, value: unknown): Promise<void> {
    await this.transport.call<unknown>("PUT", `/v1/ui-state/${encodeURIComponent(key)}`, value);
  }

  /** Fault injection: kills the actor at `path` (e.g. `root/storage`). */
  kill(path: string): Promise<KillResponse> {
    return this.transport.call("POST", "/v1/kill", { path });
  }

  // ----- terminals

  /** Starts a shell (at the workspace root unless `cwd`). */
  openTerminal(req: OpenTerminalRequest = {}): Promise<TermInfo> {
    return this.transport.call("POST", "/v1/terms", req);
  }

  /** Live terminals, and those that exited in the last minute. */
  async listTerminals(): Promise<TermInfo[]> {
    return (await this.transport.call<TermList>("GET", "/v1/terms")).terms;
  }

  /** Ends a terminal (SIGHUP, then SIGKILL after 2 s). */
  async closeTerminal(id: number): Promise<void> {
    await this.transport.call<unknown>("DELETE", `/v1/terms/${id}`);
  }

  /** Types into a terminal (a re-run sends the command and "\r"). */
  async termInput(id: number, data: string): Promise<void> {
    await this.transport.call<unknown>("POST", `/v1/terms/${id}/input`, { data });
  }

  async termResize(id: number, cols: number, rows: number): Promise<void> {
    await this.transport.call<unknown>("POST", `/v1/terms/${id}/resize`, { cols, rows });
  }

  /** Attaches to a terminal's output; the connection sends input and sizes. */
  attachTerminal(id: number, handlers: TermHandlers): TermConnection {
    return this.transport.terminal(id, handlers);
  }

  // ----- command history

  /** Recorded commands, newest first without `q`. */
  history(q: HistoryQuery = {}): Promise<HistoryResponse> {
    const text = q.q && q.q.trim() !== "" ? q.q.trim() : undefined;
    return this.transport.call(
      "GET",
      `/v1/history${query({
        q: text,
        failed: q.failed ? true : undefined,
        exit: q.exit,
        cwd: q.cwd && q.cwd !== "" ? q.cwd : undefined,
        term: q.term,
        limit: q.limit,
        // "By meaning" needs a description to mean something.
        semantic: q.semantic && text !== undefined ? true : undefined,
      })}`,
    );
  }

  /** One command with its output. */
  historyEntry(id: number): Promise<HistoryEntryDetail> {
    return this.transport.call("GET", `/v1/history/${id}`);
  }

  // ----- session

  /** The last session snapshot the core took (null when none). */
  session(): Promise<SessionResponse> {
    return this.transport.call("GET", "/v1/session");
  }

  /** Records what the UI has open (the core debounces the snapshot). */
  async putSession(ui: SessionUi): Promise<void> {
    await this.transport.call<unknown>("PUT", "/v1/session", { ui });
  }

  // ----- git

  gitStatus(workspace?: number): Promise<GitStatus> {
    return this.transport.call("GET", `/v1/git/status${query({ workspace })}`);
  }

  /** Recorded git events, newest first. */
  gitLog(opts: { workspace?: number; limit?: number; before?: number } = {}): Promise<GitLog> {
    return this.transport.call("GET", `/v1/git/log${query(opts)}`);
  }

  /** The unified diff of one path (worktree against the index, or `staged`: index against HEAD). */
  gitDiff(path: string, opts: { workspace?: number; staged?: boolean } = {}): Promise<GitDiff> {
    return this.transport.call(
      "GET",
      `/v1/git/diff${query({ workspace: opts.workspace, path, staged: opts.staged ?? false })}`,
    );
  }

  /** Follows the stream; returns the function that stops. */
  subscribe(
    onMessage: (m: StreamMessage) => void,
    onState?: (connected: boolean) => void,
  ): () => void {
    return this.transport.subscribe(onMessage, onState);
  }
}
