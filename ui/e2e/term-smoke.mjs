#!/usr/bin/env node
// Smoke check of the real xterm.js terminal panel in Chromium against a mock API (no core
// needed): serves dist/, answers the few calls the app makes at start, and a terminal whose
// WebSocket echoes input. Usage (from ui/, after `npm run build`): node e2e/term-smoke.mjs [SHOTS_DIR]

import { createServer } from "node:http";
import { readFileSync, existsSync, mkdirSync } from "node:fs";
import { join, extname } from "node:path";
import { chromium } from "playwright-core";
import { WebSocketServer } from "ws";

const shots = process.argv[2] ?? "e2e-artifacts";
mkdirSync(shots, { recursive: true });
const dist = new URL("../dist/", import.meta.url).pathname;
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
const received = [];
const status = { daemon: { version: "0", pid: 1, boot_id: "b", started_ms: Date.now(), profile: "p", data_dir: "/d", workspace: "/repo" }, degraded: false, tree: [], recent_events: [], pools: {}, index: null };
const term = { id: 1, pid: 2, shell: "/bin/sh", cwd: "/repo", cols: 80, rows: 24, started_ms: Date.now(), session_id: 1, alive: true, exit_code: null, end_reason: null, title: "sh" };

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const json = (code, body) => (res.writeHead(code, { "content-type": "application/json" }), res.end(JSON.stringify(body)));
  if (url.pathname.startsWith("/v1/")) {
    if (url.pathname === "/v1/status") return json(200, status);
    if (url.pathname === "/v1/index") return json(200, { workspaces: [], vectors: { model: null, table: null, rows: 0, indexed: false, rate: 0, building: null, blocked: null }, generation: 0 });
    if (url.pathname === "/v1/workspaces") return json(200, []);
    if (url.pathname === "/v1/terms" && req.method === "GET") return json(200, { terms: [] });
    if (url.pathname === "/v1/terms" && req.method === "POST") return json(201, term);
    if (req.method === "PUT") return json(200, { ok: true });
    return json(404, { code: "not_found", message: "mock" });
  }
  const file = join(dist, url.pathname === "/" ? "index.html" : url.pathname);
  if (!existsSync(file)) return (res.writeHead(404), res.end());
  res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
  res.end(readFileSync(file));
});
const wss = new WebSocketServer({ noServer: true });
server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://x");
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (url.pathname !== "/v1/terms/1/io") return;
    ws.send(Buffer.from("mock shell ready\r\n$ "));
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(String(data));
      received.push(m);
      if (m.type === "input") ws.send(Buffer.from(m.data.replace(/\r/g, "\r\nran it\r\n$ ")));
    });
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const port = server.address().port;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
let rc = 0;
try {
  await page.goto(`http://127.0.0.1:${port}/#token=t`);
  await page.waitForSelector('.app[data-ready="true"]', { timeout: 20_000 });
  await page.keyboard.press("Control+Backquote");
  await page.waitForSelector('[data-testid="terminal-view"]:not([hidden]) .xterm-rows', { timeout: 20_000 });
  await page.waitForFunction(() => document.querySelector(".xterm-rows")?.textContent?.includes("mock shell ready"), null, { timeout: 10_000 });
  await page.waitForFunction(() => document.activeElement?.closest(".xterm") != null, null, { timeout: 5000 });
  await page.keyboard.type("echo hi");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector(".xterm-rows")?.textContent?.includes("ran it"), null, { timeout: 10_000 });
  const resize = received.find((m) => m.type === "resize");
  if (!resize || resize.cols < 20 || resize.rows < 3) throw new Error(`no sensible resize: ${JSON.stringify(resize)}`);
  await page.keyboard.press("Control+KeyF");
  await page.waitForSelector('[data-testid="term-search"]', { timeout: 5000 });
  await page.keyboard.type("ran");
  await page.screenshot({ path: join(shots, "term-smoke-dark.png") });
  await page.keyboard.press("Escape");
  await page.evaluate(() => (document.documentElement.dataset.theme = "light"));
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(shots, "term-smoke-light.png") });
  const input = received.filter((m) => m.type === "input").map((m) => m.data).join("");
  if (input !== "echo hi\r") throw new Error(`input was ${JSON.stringify(input)}`);
  console.log(`term-smoke: ok — resize ${resize.cols}x${resize.rows}, input ${JSON.stringify(input)}; screenshots in ${shots}`);
} catch (e) {
  rc = 1;
  console.error(`term-smoke: FAILED: ${e.message}`);
  await page.screenshot({ path: join(shots, "term-smoke-FAILED.png") }).catch(() => {});
}
if (errors.length) console.error(`page errors:\n  ${errors.join("\n  ")}`);
await browser.close();
server.close();
process.exit(rc);
