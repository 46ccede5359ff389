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
import type { StreamMessage } from "./types";

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
  server = createServer((req, res) => void handle(req, res));
  wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const u = new URL(req.url ?? "", "http://x");
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
