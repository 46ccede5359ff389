// The boundary between the UI and the core: one interface, two transports. Nothing else in
// the UI knows which one is in use.

import type { Method, StreamMessage } from "./types";

export type { Method, StreamMessage } from "./types";

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
    default:
      return false;
  }
}
