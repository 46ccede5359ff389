// The browser transport: HTTP calls with a bearer token to `weft serve` on 127.0.0.1, and
// the stream over a WebSocket that reconnects with capped exponential backoff.

import { ApiError, errorFromBody } from "./errors";
import { isStreamMessage, type Transport } from "./transport";
import type { Method, StreamMessage } from "./types";

/** The part of the WebSocket API the stream uses (the DOM's, or `ws` in Node tests). */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
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
      const s = socket;
      socket = null;
      if (s) {
        s.onclose = null;
        s.onmessage = null;
        s.close(1000, "unsubscribed");
      }
      setConnected(false);
    };
  }
}
