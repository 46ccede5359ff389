// Every command the UI sends to the core, typed, in one place. Components and stores call
// these; none of them builds a path or picks a method.

import { ApiError } from "./errors";
import type { Transport } from "./transport";
import type {
  DirEntry,
  FileContent,
  FileList,
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

function query(params: Record<string, string | number>): string {
  const parts = Object.entries(params).map(
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

  /** Follows the stream; returns the function that stops. */
  subscribe(
    onMessage: (m: StreamMessage) => void,
    onState?: (connected: boolean) => void,
  ): () => void {
    return this.transport.subscribe(onMessage, onState);
  }
}
