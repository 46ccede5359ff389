// The desktop transport: Tauri `invoke("api", {method, path, body})` answers with the same
// JSON as HTTP (errors reject with the same error body), and the stream is the Tauri event
// `weft://stream`. The Tauri modules are imported on first use, so the browser bundle never
// needs them.

import { errorFromBody } from "./errors";
import { isStreamMessage, type Transport } from "./transport";
import type { Method, StreamMessage } from "./types";

type Invoke = <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;
type Listen = (
  event: string,
  handler: (e: { payload: unknown }) => void,
) => Promise<() => void>;

/** Where the Tauri functions come from (the real modules, or a stand-in in tests). */
export interface TauriModules {
  invoke(): Promise<Invoke>;
  listen(): Promise<Listen>;
}

const realModules: TauriModules = {
  invoke: async () => (await import("@tauri-apps/api/core")).invoke as Invoke,
  listen: async () => (await import("@tauri-apps/api/event")).listen as unknown as Listen,
};

/** The event that carries stream messages. */
export const STREAM_EVENT = "weft://stream";

export class TauriTransport implements Transport {
  constructor(private readonly modules: TauriModules = realModules) {}

  async call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const invoke = await this.modules.invoke();
    try {
      return await invoke<T>("api", { method, path, body: body ?? null });
    } catch (e) {
      throw errorFromBody(0, e, typeof e === "string" ? e : `${method} ${path} failed`);
    }
  }

  subscribe(
    onMessage: (m: StreamMessage) => void,
    onState?: (connected: boolean) => void,
  ): () => void {
    let stopped = false;
    let unlisten: (() => void) | null = null;
    this.modules
      .listen()
      .then((listen) =>
        listen(STREAM_EVENT, (e) => {
          if (!stopped && isStreamMessage(e.payload)) onMessage(e.payload);
        }),
      )
      .then(
        (u) => {
          if (stopped) {
            u();
            return;
          }
          unlisten = u;
          onState?.(true);
        },
        () => onState?.(false),
      );
    return () => {
      stopped = true;
      unlisten?.();
      unlisten = null;
    };
  }
}
