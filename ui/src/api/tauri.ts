// The desktop transport: Tauri `invoke("api", {method, path, body})` answers with the same
// JSON as HTTP (errors reject with the same error body), and the stream is the Tauri event
// `weft://stream`. The Tauri modules are imported on first use, so the browser bundle never
// needs them.

import { errorFromBody } from "./errors";
import { isStreamMessage, isTermControl, type TermConnection, type TermHandlers, type Transport } from "./transport";
import type { Method, StreamMessage } from "./types";

type Invoke = <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;
type Listen = (
  event: string,
  handler: (e: { payload: unknown }) => void,
) => Promise<() => void>;

/** The part of Tauri's `Channel` a terminal attachment uses. */
export interface ChannelLike {
  onmessage: (frame: unknown) => void;
}
export type ChannelCtor = new () => ChannelLike;

/** Where the Tauri functions come from (the real modules, or a stand-in in tests). */
export interface TauriModules {
  invoke(): Promise<Invoke>;
  listen(): Promise<Listen>;
  channel(): Promise<ChannelCtor>;
}

const realModules: TauriModules = {
  invoke: async () => (await import("@tauri-apps/api/core")).invoke as Invoke,
  listen: async () => (await import("@tauri-apps/api/event")).listen as unknown as Listen,
  channel: async () => (await import("@tauri-apps/api/core")).Channel as unknown as ChannelCtor,
};

/** Decodes a frame's base64 output. */
export function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

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

  /**
   * Attaches with `term_attach` (frames arrive on a Channel: `{data: base64}` or
   * `{control}`); input and resizes go through `api` like every other call; `term_detach`
   * stops the frames. The desktop shell and the core live in one process: no reconnecting.
   */
  terminal(id: number, handlers: TermHandlers): TermConnection {
    let stopped = false;
    let attachment: number | null = null;
    const fail = (why: unknown) => {
      if (stopped) return;
      handlers.onState?.(false);
      console.warn(`term_attach ${id} failed`, why);
    };
    void (async () => {
      const [invoke, Channel] = await Promise.all([this.modules.invoke(), this.modules.channel()]);
      if (stopped) return;
      const ch = new Channel();
      ch.onmessage = (frame: unknown) => {
        if (stopped || typeof frame !== "object" || frame === null) return;
        const f = frame as Record<string, unknown>;
        if (typeof f.data === "string") handlers.onData(decodeBase64(f.data));
        else if (isTermControl(f.control)) handlers.onControl(f.control);
      };
      handlers.onReplay?.();
      const a = await invoke<number>("term_attach", { id, onFrame: ch });
      if (stopped) {
        void invoke("term_detach", { attachment: a }).catch(() => {});
        return;
      }
      attachment = a;
      handlers.onState?.(true);
    })().catch(fail);
    // Input keeps its order: one call at a time, what is typed meanwhile goes in the next.
    let queued = "";
    let sending = false;
    const pump = async () => {
      if (sending) return;
      sending = true;
      while (queued !== "" && !stopped) {
        const data = queued;
        queued = "";
        try {
          await this.call("POST", `/v1/terms/${id}/input`, { data });
        } catch (e) {
          console.warn(`terminal ${id}: input failed`, e);
        }
      }
      sending = false;
    };
    return {
      send: (data) => {
        if (stopped || data === "") return;
        queued += data;
        void pump();
      },
      resize: (cols, rows) => {
        if (stopped) return;
        this.call("POST", `/v1/terms/${id}/resize`, { cols, rows }).catch((e: unknown) => console.warn(`terminal ${id}: resize failed`, e));
      },
      close: () => {
        if (stopped) return;
        stopped = true;
        const a = attachment;
        attachment = null;
        if (a !== null) {
          void this.modules
            .invoke()
            .then((invoke) => invoke("term_detach", { attachment: a }))
            .catch(() => {});
          handlers.onState?.(false);
        }
      },
    };
  }
}
