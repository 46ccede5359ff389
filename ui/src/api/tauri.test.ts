import { describe, expect, it } from "vitest";
import { Client } from "./client";
import { ApiError } from "./errors";
import { STREAM_EVENT, TauriTransport, type TauriModules } from "./tauri";
import type { StreamMessage, TermControl } from "./types";

function fakeTauri(answer: (args: Record<string, unknown>) => unknown) {
  const invoked: Array<{ cmd: string; args: Record<string, unknown> | undefined }> = [];
  const handlers = new Map<string, (e: { payload: unknown }) => void>();
  let unlistened = 0;
  const channels: Array<{ onmessage: (frame: unknown) => void }> = [];
  const modules: TauriModules = {
    invoke: async () =>
      (async (cmd: string, args?: Record<string, unknown>) => {
        invoked.push({ cmd, args });
        return answer(args ?? {});
      }) as never,
    listen: async () => async (event, handler) => {
      handlers.set(event, handler);
      return () => {
        unlistened++;
        handlers.delete(event);
      };
    },
    channel: async () =>
      class {
        onmessage: (frame: unknown) => void = () => {};
        constructor() {
          channels.push(this);
        }
      },
  };
  return { modules, invoked, handlers, channels, unlistened: () => unlistened };
}

describe("TauriTransport", () => {
  it("invokes `api` with method, path and body", async () => {
    const f = fakeTauri(() => ({ workspace: 7 }));
    const res = await new Client(new TauriTransport(f.modules)).openWorkspace("/r");
    expect(res).toEqual({ workspace: 7 });
    expect(f.invoked).toEqual([{ cmd: "api", args: { method: "POST", path: "/v1/index", body: { path: "/r", wait: false } } }]);
    await new Client(new TauriTransport(f.modules)).status();
    expect(f.invoked[1]?.args).toEqual({ method: "GET", path: "/v1/status", body: null });
  });

  it("throws ApiError from the error body, with the status when given or implied by the code", async () => {
    const withStatus = fakeTauri(() => {
      throw { status: 409, code: "conflict", message: "changed" };
    });
    const e1 = await new TauriTransport(withStatus.modules).call("PUT", "/v1/fs/file", {}).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ApiError);
    expect(e1).toMatchObject({ status: 409, code: "conflict", message: "changed" });

    const bare = fakeTauri(() => {
      throw { code: "not_found", message: "no such key" };
    });
    expect(await new Client(new TauriTransport(bare.modules)).getUiState("x")).toBeNull();

    const str = fakeTauri(() => {
      throw "panicked";
    });
    await expect(new TauriTransport(str.modules).call("GET", "/v1/status")).rejects.toMatchObject({ code: "internal", message: "panicked" });
  });

  it("follows the stream event and stops on unsubscribe", async () => {
    const f = fakeTauri(() => null);
    const got: StreamMessage[] = [];
    const states: boolean[] = [];
    const off = new TauriTransport(f.modules).subscribe((m) => got.push(m), (c) => states.push(c));
    await new Promise((r) => setTimeout(r, 0));
    const h = f.handlers.get(STREAM_EVENT);
    expect(h).toBeDefined();
    h?.({ payload: { type: "fs", workspace: 2, paths: [""] } });
    h?.({ payload: { type: "bogus" } });
    expect(got).toEqual([{ type: "fs", workspace: 2, paths: [""] }]);
    expect(states).toEqual([true]);
    off();
    expect(f.unlistened()).toBe(1);
  });
});

describe("TauriTransport terminal", () => {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

  it("attaches with a channel, decodes frames, posts input in order, detaches", async () => {
    let release: (() => void) | null = null;
    const f = fakeTauri((args) => {
      if ("onFrame" in args) return 42;
      if (args.path === "/v1/terms/5/input" && (args.body as { data: string }).data === "a") {
        return new Promise<unknown>((r) => (release = () => r({ ok: true })));
      }
      return { ok: true };
    });
    const out: string[] = [];
    const controls: TermControl[] = [];
    const events: string[] = [];
    const conn = new TauriTransport(f.modules).terminal(5, {
      onData: (b) => out.push(new TextDecoder().decode(b)),
      onControl: (m) => controls.push(m),
      onState: (c) => events.push(c ? "up" : "down"),
      onReplay: () => events.push("replay"),
    });
    await flushAll();
    expect(f.invoked[0]?.cmd).toBe("term_attach");
    expect(f.invoked[0]?.args?.id).toBe(5);
    expect(f.invoked[0]?.args?.onFrame).toBe(f.channels[0]);
    expect(events).toEqual(["replay", "up"]);
    const ch = f.channels[0]!;
    ch.onmessage({ data: b64("héllo ") });
    ch.onmessage({ control: { type: "title", title: "vim" } });
    ch.onmessage({ control: { type: "bogus" } });
    ch.onmessage({ data: b64("world") });
    expect(out.join("")).toBe("héllo world");
    expect(controls).toEqual([{ type: "title", title: "vim" }]);

    // The first input is still in flight: what follows waits and goes in one call.
    conn.send("a");
    conn.send("b");
    conn.send("c");
    await flushAll();
    const inputs = () => f.invoked.filter((i) => i.args?.path === "/v1/terms/5/input").map((i) => (i.args?.body as { data: string }).data);
    expect(inputs()).toEqual(["a"]);
    release!();
    await flushAll();
    expect(inputs()).toEqual(["a", "bc"]);
    conn.resize(100, 30);
    await flushAll();
    expect(f.invoked.at(-1)?.args).toEqual({ method: "POST", path: "/v1/terms/5/resize", body: { cols: 100, rows: 30 } });

    conn.close();
    await flushAll();
    expect(f.invoked.at(-1)).toEqual({ cmd: "term_detach", args: { attachment: 42 } });
    expect(events.at(-1)).toBe("down");
  });
});

async function flushAll() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}
