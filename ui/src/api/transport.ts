// The boundary between the UI and the core: one interface, two transports. Nothing else in
// the UI knows which one is in use.

import type { Method, StreamMessage, TermControl } from "./types";

export type { Method, StreamMessage } from "./types";

/** What a terminal connection reports. */
export interface TermHandlers {
  /** Output bytes (may split a UTF-8 sequence: feed them to the terminal as they are). */
  onData(bytes: Uint8Array): void;
  onControl(msg: TermControl): void;
  /** Connectedness changes. */
  onState?(connected: boolean): void;
  /**
   * The frames that follow replay the core's scrollback from its start (a first attach or a
   * reconnect): clear the screen before them.
   */
  onReplay?(): void;
}

/** One attached terminal: input, size, detach. */
export interface TermConnection {
  /** Keyboard input (queued until connected). */
  send(data: string): void;
  resize(cols: number, rows: number): void;
  /** Detaches (the terminal itself keeps running; `DELETE /v1/terms/{id}` ends it). */
  close(): void;
}

/** Carries calls and the event stream to the core. */
export interface Transport {
  /** One request; resolves with the answer's JSON, rejects with an `ApiError`. */
  call<T>(method: Method, path: string, body?: unknown): Promise<T>;
  /**
   * Follows the stream: `onMessage` gets every message, `onState` every change of
   * connectedness. Returns the function that stops following.
   */
  subscribe(
    onMessage: (m: StreamMessage) => void,
    onState?: (connected: boolean) => void,
  ): () => void;
  /** Attaches to terminal `id`'s output and control messages. */
  terminal(id: number, handlers: TermHandlers): TermConnection;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** True for a value shaped like a terminal control message. */
export function isTermControl(v: unknown): v is TermControl {
  if (!isObj(v)) return false;
  switch (v.type) {
    case "exit":
      return v.code === null || typeof v.code === "number";
    case "cwd":
      return typeof v.cwd === "string";
    case "command":
      return isObj(v.entry) && typeof v.entry.id === "number" && typeof v.entry.command === "string";
    case "dropped":
      return typeof v.bytes === "number";
    case "title":
      return typeof v.title === "string";
    default:
      return false;
  }
}

/** True for a value shaped like a stream message (the stream is input; check it). */
export function isStreamMessage(v: unknown): v is StreamMessage {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Record<string, unknown>;
  switch (m.type) {
    case "status":
      return typeof m.report === "object" && m.report !== null;
    case "progress":
      return typeof m.index === "object" && m.index !== null;
    case "fs":
      return typeof m.workspace === "number" && Array.isArray(m.paths);
    case "event":
      return typeof m.event === "object" && m.event !== null;
    case "term":
      return typeof m.event === "string" && typeof m.term === "number";
    case "git":
      return typeof m.workspace === "number" && Array.isArray(m.events);
    default:
      return false;
  }
}
