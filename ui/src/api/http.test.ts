// @vitest-environment node
// HttpTransport against a real HTTP + WebSocket server on 127.0.0.1 (real fetch, real error
// bodies shaped like api.rs writes them, a real socket that drops and comes back).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type * as WsModule from "ws";
import { Client } from "./client";
import { ApiError } from "./errors";
import { backoffDelay, HttpTransport, type SocketCtor } from "./http";
import type { StreamMessage, TermControl } from "./types";

// `ws`'s Node entry, loaded by path: the test workers run with the "browser" condition (for
// Solid), which would pick its browser stub.
const requireHere = createRequire(import.meta.url);
const wsEntry = join(dirname(requireHere.resolve("ws/package.json")), "index.js");
const { WebSocket: WsClient, WebSocketServer } = requireHere(wsEntry) as typeof WsModule;

const TOKEN = "s3cret-token";

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  contentType: string | undefined;
  body: string;
}

let server: Server;
let wss: WsModule.WebSocketServer;
let base: string;
let seen: Seen[];
let streamTokens: string[];
let termSockets: WsModule.WebSocket[];
let termReceived: Array<{ text: boolean; data: string }>;
let termTokens: string[];

function send(res: ServerResponse, status: number, body: unknown) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json" });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  let body = "";
  for await (const chunk of req) body += String(chunk);
  seen.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization, contentType: req.headers["content-type"], body });
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { code: "unauthorized", message: "bad token" });
  const url = req.url ?? "";
  if (url === "/v1/status") return send(res, 200, { degraded: false, tree: [] });
  if (url === "/v1/search") return send(res, 400, { code: "bad_query", message: "the query is empty" });
  if (url.startsWith("/v1/fs/file?")) return send(res, 415, { code: "binary", message: "logo.png is binary" });
  if (url === "/v1/fs/file" && req.method === "PUT") return send(res, 409, { error: { code: "conflict", message: "changed on disk" } });
  if (url === "/v1/ui-state/layout" && req.method === "PUT") {
    res.writeHead(204);
    return res.end();
  }
  if (url === "/v1/ui-state/missing") return send(res, 404, { code: "not_found", message: "no such key" });
  if (url === "/v1/plain") {
    res.writeHead(502, { "content-type": "text/plain" });
    return res.end("upstream exploded");
  }
  if (url === "/v1/notjson") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end("{nope");
  }
  return send(res, 404, { code: "not_found", message: `no route ${url}` });
}

beforeEach(async () => {
  seen = [];
  streamTokens = [];
  termSockets = [];
  termReceived = [];
  termTokens = [];
  server = createServer((req, res) => void handle(req, res));
  wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const u = new URL(req.url ?? "", "http://x");
    const term = /^\/v1\/terms\/(\d+)\/io$/.exec(u.pathname);
    if (term) {
      termTokens.push(u.searchParams.get("token") ?? "");
      if (term[1] !== "7") return socket.destroy();
      return wss.handleUpgrade(req, socket, head, (ws) => {
        termSockets.push(ws);
        ws.on("message", (data, isBinary) => termReceived.push({ text: !isBinary, data: String(data) }));
        // The replay (a UTF-8 sequence split across two frames), then a control message and junk.
        const e = Buffer.from("café\r\n");
        ws.send(e.subarray(0, 4), { binary: true });
        ws.send(e.subarray(4), { binary: true });
        ws.send(JSON.stringify({ type: "cwd", cwd: "/repo1/src" }));
        ws.send(JSON.stringify({ type: "nonsense" }));
        ws.send("not json");
      });
    }
    if (u.pathname !== "/v1/stream") return socket.destroy();
    streamTokens.push(u.searchParams.get("token") ?? "");
    wss.handleUpgrade(req, socket, head, (ws) => {
      const hello: StreamMessage = { type: "fs", workspace: 1, paths: ["hello.txt"] };
      ws.send(JSON.stringify(hello));
      ws.send("not json at all");
      ws.send(JSON.stringify({ type: "unknown", x: 1 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const c of wss.clients) c.terminate();
  wss.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const transport = (token = TOKEN) =>
  new HttpTransport(base, token, { WebSocket: WsClient as unknown as SocketCtor, backoffMinMs: 20, backoffMaxMs: 100 });

async function until(cond: () => boolean, ms = 3000) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("HttpTransport calls", () => {
  it("sends the bearer token and JSON, and parses the JSON answer", async () => {
    const c = new Client(transport());
    expect(await c.status()).toEqual({ degraded: false, tree: [] });
    await c.putUiState("layout", { theme: "dark" });
    expect(seen[0]).toMatchObject({ method: "GET", url: "/v1/status", auth: `Bearer ${TOKEN}` });
    expect(seen[0]?.contentType).toBeUndefined();
    expect(seen[1]).toMatchObject({ method: "PUT", url: "/v1/ui-state/layout", contentType: "application/json", body: '{"theme":"dark"}' });
  });

  it("turns error answers into ApiError with status, code and message", async () => {
    const c = new Client(transport());
    await expect(c.search({ query: "" })).rejects.toMatchObject({ status: 400, code: "bad_query", message: "the query is empty" });
    await expect(c.readFile(1, "logo.png")).rejects.toMatchObject({ status: 415, code: "binary" });
    // The nested envelope is read too.
    await expect(c.writeFile(1, "a.rs", "x", "h")).rejects.toMatchObject({ status: 409, code: "conflict", message: "changed on disk" });
    const plain = await transport().call("GET", "/v1/plain").catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(ApiError);
    expect(plain).toMatchObject({ status: 502, code: "internal", message: "upstream exploded" });
    await expect(transport().call("GET", "/v1/notjson")).rejects.toMatchObject({ code: "bad_response" });
  });

  it("reports a wrong token as unauthorized", async () => {
    await expect(new Client(transport("wrong")).status()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("reads a 404 UI-state key as null", async () => {
    expect(await new Client(transport()).getUiState("missing")).toBeNull();
  });

  it("reports an unreachable daemon with code unreachable", async () => {
    const port = (server.address() as AddressInfo).port;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const err = await new HttpTransport(`http://127.0.0.1:${port}`, TOKEN).call("GET", "/v1/status").catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: "unreachable" });
    server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });
});

describe("HttpTransport stream", () => {
  it("connects with the token, delivers valid messages, skips junk", async () => {
    const t = transport();
    expect(t.streamUrl()).toBe(`${base.replace("http", "ws")}/v1/stream?token=${TOKEN}`);
    const got: StreamMessage[] = [];
    const states: boolean[] = [];
    const off = t.subscribe((m) => got.push(m), (c) => states.push(c));
    await until(() => got.length === 1 && states.includes(true));
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([{ type: "fs", workspace: 1, paths: ["hello.txt"] }]);
    expect(streamTokens).toEqual([TOKEN]);
    off();
    expect(states).toEqual([true, false]);
  });

  it("reports the drop and reconnects by itself", async () => {
    const got: StreamMessage[] = [];
    const states: boolean[] = [];
    const off = transport().subscribe((m) => got.push(m), (c) => states.push(c));
    await until(() => got.length === 1);
    for (const c of wss.clients) c.terminate();
    await until(() => states.length >= 3 && got.length === 2);
    expect(states.slice(0, 3)).toEqual([true, false, true]);
    expect(streamTokens).toHaveLength(2);
    off();
  });

  it("stops reconnecting once unsubscribed", async () => {
    const states: boolean[] = [];
    const off = transport().subscribe(() => {}, (c) => states.push(c));
    await until(() => states.includes(true));
    off();
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => setTimeout(r, 250));
    expect(streamTokens).toHaveLength(1);
  });

  it("backs off exponentially, capped", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelay(a, 250, 5000))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });
});

describe("HttpTransport terminal", () => {
  function attach(id = 7) {
    const t = transport();
    const out: Uint8Array[] = [];
    const controls: TermControl[] = [];
    const events: string[] = [];
    const conn = t.terminal(id, {
      onData: (b) => {
        out.push(b.slice());
        events.push("data");
      },
      onControl: (m) => controls.push(m),
      onState: (c) => events.push(c ? "up" : "down"),
      onReplay: () => events.push("replay"),
    });
    const text = () => new TextDecoder().decode(Buffer.concat(out.map((b) => Buffer.from(b))));
    return { t, conn, out, controls, events, text };
  }

  it("connects with the token, delivers output bytes and valid control messages", async () => {
    const a = attach();
    expect(a.t.terminalUrl(7)).toBe(`${base.replace("http", "ws")}/v1/terms/7/io?token=${TOKEN}`);
    await until(() => a.controls.length === 1 && a.out.length === 2);
    await new Promise((r) => setTimeout(r, 30));
    expect(a.text()).toBe("café\r\n");
    expect(a.controls).toEqual([{ type: "cwd", cwd: "/repo1/src" }]);
    expect(a.events.slice(0, 3)).toEqual(["replay", "up", "data"]);
    expect(termTokens).toEqual([TOKEN]);
    a.conn.close();
    expect(a.events.at(-1)).toBe("down");
  });

  it("sends input and sizes as JSON text; input typed before the socket opened is kept", async () => {
    const a = attach();
    a.conn.send("ec");
    a.conn.send("ho hi\r");
    a.conn.resize(120, 40);
    await until(() => termReceived.length >= 2);
    a.conn.send("x");
    await until(() => termReceived.length >= 3);
    expect(termReceived.map((m) => [m.text, JSON.parse(m.data)])).toEqual([
      [true, { type: "resize", cols: 120, rows: 40 }],
      [true, { type: "input", data: "echo hi\r" }],
      [true, { type: "input", data: "x" }],
    ]);
    a.conn.close();
  });

  it("reconnects a dropped socket, announcing the replay, and resends the size", async () => {
    const a = attach();
    a.conn.resize(90, 20);
    await until(() => a.out.length === 2);
    for (const s of termSockets) s.terminate();
    await until(() => termSockets.length === 2 && a.out.length === 4);
    expect(a.events.filter((e) => e !== "data")).toEqual(["replay", "up", "down", "replay", "up"]);
    await until(() => termReceived.filter((m) => m.data.includes("resize")).length === 2);
    a.conn.close();
  });

  it("stops reconnecting after the terminal exited, and after close()", async () => {
    const a = attach();
    await until(() => termSockets.length === 1 && a.events.includes("up"));
    termSockets[0]?.send(JSON.stringify({ type: "exit", code: 3, reason: "exited" }));
    await until(() => a.controls.some((c) => c.type === "exit"));
    termSockets[0]?.close();
    await new Promise((r) => setTimeout(r, 250));
    expect(termSockets).toHaveLength(1);
    expect(a.controls.at(-1)).toEqual({ type: "exit", code: 3, reason: "exited" });

    const b = attach();
    await until(() => termSockets.length === 2);
    b.conn.close();
    await new Promise((r) => setTimeout(r, 250));
    expect(termSockets).toHaveLength(2);
  });

  it("keeps retrying with backoff while the terminal's socket is refused", async () => {
    const a = attach(8);
    await until(() => termTokens.length >= 3, 3000);
    expect(a.events).toEqual([]);
    a.conn.close();
    const n = termTokens.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(termTokens.length).toBe(n);
  });
});
