// Failures of the command surface. Every error answer carries a stable `code` (api.rs
// `error(...)`); the UI branches on the code, never on the message text.

/** Codes the UI acts on; others pass through as plain strings. */
export type KnownCode =
  | "not_found"
  | "outside_workspace"
  | "binary"
  | "too_large"
  | "conflict"
  | "not_a_folder"
  | "index_failed"
  | "bad_query"
  | "index_unavailable"
  | "indexer_unavailable"
  | "storage_unavailable"
  | "no_such_actor"
  | "starting"
  | "unauthorized"
  | "unreachable"
  | "bad_response"
  | "internal";

/** A failed call: the HTTP status (0 when no answer came), the stable code and the message. */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly status: number,
    readonly code: KnownCode | (string & {}),
    message: string,
  ) {
    super(message);
  }

  /** True for a missing file, key or endpoint. */
  get notFound(): boolean {
    return this.status === 404 || this.code === "not_found";
  }
}

/** Statuses for codes whose answer came without one (the Tauri transport). */
const STATUS_OF_CODE: Record<string, number> = {
  not_found: 404,
  outside_workspace: 403,
  binary: 415,
  too_large: 413,
  conflict: 409,
  not_a_folder: 400,
  bad_query: 400,
  unauthorized: 401,
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Builds an ApiError from an error answer. api.rs writes `{"code", "message"}`; a nested
 * `{"error": {"code", "message"}}` and a Tauri `{"status", "code", "message"}` are read too,
 * so a change of envelope on either side still yields the code.
 */
export function errorFromBody(status: number, body: unknown, fallback: string): ApiError {
  let inner: unknown = body;
  if (isRecord(body) && isRecord(body.error)) inner = body.error;
  if (isRecord(inner) && typeof inner.code === "string") {
    const message = typeof inner.message === "string" ? inner.message : fallback;
    let st = status;
    if (st === 0 && isRecord(body) && typeof body.status === "number") st = body.status;
    if (st === 0) st = STATUS_OF_CODE[inner.code] ?? 0;
    return new ApiError(st, inner.code, message);
  }
  if (typeof body === "string" && body.trim() !== "") {
    return new ApiError(status, status === 401 ? "unauthorized" : "internal", body.trim());
  }
  return new ApiError(status, status === 401 ? "unauthorized" : "internal", fallback);
}

/** A one-line message for a failure of any kind, for notices. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
