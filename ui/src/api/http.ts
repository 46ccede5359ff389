// The browser transport: HTTP calls with a bearer token to `weft serve` on 127.0.0.1, and
// the stream over a WebSocket that reconnects with capped exponential backoff.

import { ApiError, errorFromBody } from "./errors";
import { isStreamMessage, isTermControl, type TermConnection, type TermHandlers, type Transport } from "./transport";
import type { Method, StreamMessage } from "./types";

/** The part of the WebSocket API the stream uses (the DOM's, or `ws` in Node tests). */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
  /** Used by terminal connections (the stream only listens). */
  send?(data: string): void;
  /** "arraybuffer" for terminal output. */
  binaryType?: string;
}

/** Input held while a terminal's socket is down, at most (older input is dropped). */
export const TERM_PENDING_MAX = 64 * 1024;

/** A binary frame's bytes (ArrayBuffer in browsers, Buffer/ArrayBuffer under Node `ws`). */
export function frameBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

export type SocketCtor = new (url: string) => SocketLike;

export interface HttpTransportOptions {
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Defaults to the global WebSocket. */
  WebSocket?: SocketCtor;
  /** First reconnect delay (ms); doubles per failed try. */
  backoffMinMs?: number;
  /** Reconnect delay cap (ms). */
  backoffMaxMs?: number;
}

/** Closes a socket we are done with, without its handlers firing (no reconnect, no stale messages). */
function closeQuietly(s: SocketLike | null, reason: string): void {
  if (!s) return;
  s.onclose = null;
  s.onmessage = null;
  s.close(1000, reason);
}

/** The reconnect delay before try `attempt` (0-based): min·2^attempt, capped at max. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
}

export class HttpTransport implements Transport {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly socketCtor: SocketCtor | undefined;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;

  constructor(
    baseUrl: string,
    private readonly token: string,
    opts: HttpTransportOptions = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, "");
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.socketCtor =
      opts.WebSocket ?? (globalThis.WebSocket as unknown as SocketCtor | undefined);
    this.backoffMinMs = opts.backoffMinMs ?? 250;
    this.backoffMaxMs = opts.backoffMaxMs ?? 5000;
  }

  async call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.token}`,
      Accept: "application/json",
    };
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + path, init);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ApiError(0, "unreachable", `cannot reach weft serve at ${this.base}: ${why}`);
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    let parseFailed = false;
    if (text.trim() !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parseFailed = true;
      }
    }
    if (!res.ok) {
      throw errorFromBody(
        res.status,
        parseFailed ? text : parsed,
        `${method} ${path} answered HTTP ${res.status}`,
      );
    }
    if (parseFailed) {
      throw new ApiError(res.status, "bad_response", `${method} ${path}: answer is not JSON`);
    }
    return (parsed ?? null) as T;
  }

  /** The stream's URL: ws(s)://host/v1/stream?token=... */
  streamUrl(): string {
    const url = new URL(this.base + "/v1/stream");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token);
    return url.toString();
  }

  /** A terminal's socket URL: ws(s)://host/v1/terms/ID/io?token=... */
  terminalUrl(id: number): string {
    const url = new URL(`${this.base}/v1/terms/${id}/io`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token);
    return url.toString();
  }

  /**
   * Attaches to a terminal over its WebSocket: binary frames are output, text frames JSON
   * control messages; input and resizes go out as JSON text. A dropped socket reconnects with
   * the stream's capped backoff (the core replays the scrollback: `onReplay` comes first),
   * until the terminal exits or `close()`.
   */
  terminal(id: number, handlers: TermHandlers): TermConnection {
    const Ctor = this.socketCtor;
    let stopped = false;
    let exited = false;
    let socket: SocketLike | null = null;
    let open = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let attempt = 0;
    let pending: string[] = [];
    let pendingBytes = 0;
    let size: { cols: number; rows: number } | null = null;

    const sendNow = (msg: unknown): boolean => {
      if (!socket || !open || !socket.send) return false;
      try {
        socket.send(JSON.stringify(msg));
        return true;
      } catch {
        return false;
      }
    };
    const connect = () => {
      timer = null;
      if (stopped || !Ctor) return;
      let s: SocketLike;
      try {
        s = new Ctor(this.terminalUrl(id));
      } catch {
        retry();
        return;
      }
      socket = s;
      s.binaryType = "arraybuffer";
      s.onopen = () => {
        if (socket !== s) return;
        attempt = 0;
        open = true;
        handlers.onReplay?.();
        handlers.onState?.(true);
        if (size) sendNow({ type: "resize", ...size });
        const queued = pending;
        pending = [];
        pendingBytes = 0;
        if (queued.length) sendNow({ type: "input", data: queued.join("") });
      };
      s.onmessage = (ev) => {
        if (socket !== s) return;
        if (typeof ev.data === "string") {
          let m: unknown;
          try {
            m = JSON.parse(ev.data);
          } catch {
            return;
          }
          if (!isTermControl(m)) return;
          if (m.type === "exit") exited = true;
          handlers.onControl(m);
          return;
        }
        const bytes = frameBytes(ev.data);
        if (bytes) handlers.onData(bytes);
      };
      s.onerror = () => {};
      s.onclose = () => {
        if (socket !== s) return;
        socket = null;
        const was = open;
        open = false;
        if (was) handlers.onState?.(false);
        if (!exited) retry();
      };
    };
    const retry = () => {
      if (stopped || timer !== null) return;
      const delay = backoffDelay(attempt, this.backoffMinMs, this.backoffMaxMs);
      attempt += 1;
      timer = setTimeout(connect, delay);
    };

    if (Ctor) connect();
    else handlers.onState?.(false);
    return {
      send: (data) => {
        if (stopped || data === "") return;
        if (sendNow({ type: "input", data })) return;
        pending.push(data);
        pendingBytes += data.length;
        while (pendingBytes > TERM_PENDING_MAX && pending.length > 1) pendingBytes -= pending.shift()?.length ?? 0;
      },
      resize: (cols, rows) => {
        size = { cols, rows };
        sendNow({ type: "resize", cols, rows });
      },
      close: () => {
        if (stopped) return;
        stopped = true;
        if (timer !== null) clearTimeout(timer);
        closeQuietly(socket, "detached");
        socket = null;
        if (open) {
          open = false;
          handlers.onState?.(false);
        }
      },
    };
  }

  subscribe(
    onMessage: (m: StreamMessage) => void,
    onState?: (connected: boolean) => void,
  ): () => void {
    const Ctor = this.socketCtor;
    if (!Ctor) {
      onState?.(false);
      return () => {};
    }
    let stopped = false;
    let socket: SocketLike | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let attempt = 0;
    let connected = false;

    const setConnected = (c: boolean) => {
      if (c !== connected) {
        connected = c;
        onState?.(c);
      }
    };
    const connect = () => {
      timer = null;
      if (stopped) return;
      let s: SocketLike;
      try {
        s = new Ctor(this.streamUrl());
      } catch {
        retry();
        return;
      }
      socket = s;
      s.onopen = () => {
        attempt = 0;
        setConnected(true);
      };
      s.onmessage = (ev) => {
        if (typeof ev.data !== "string") return;
        let m: unknown;
        try {
          m = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (isStreamMessage(m)) onMessage(m);
      };
      s.onerror = () => {
        // `close` follows every error; reconnecting happens there.
      };
      s.onclose = () => {
        if (socket !== s) return;
        socket = null;
        setConnected(false);
        retry();
      };
    };
    const retry = () => {
      if (stopped || timer !== null) return;
      const delay = backoffDelay(attempt, this.backoffMinMs, this.backoffMaxMs);
      attempt += 1;
      timer = setTimeout(connect, delay);
    };

    connect();
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      closeQuietly(socket, "unsubscribed");
      socket = null;
      setConnected(false);
    };
  }
}
