import { describe, expect, it } from "vitest";
import { FakeTransport, fail } from "../test/fake";
import { Client } from "./client";
import { ApiError } from "./errors";

describe("Client", () => {
  it("sends every command with its method, path and body", async () => {
    const t = new FakeTransport().on("GET", /.*/, { ok: true }).on("POST", /.*/, { ok: true }).on("PUT", /.*/, { ok: true });
    const c = new Client(t);
    await c.status();
    await c.indexStatus();
    await c.openWorkspace("/home/me/repo");
    await c.rescan();
    await c.rescan(3);
    await c.search({ query: "parse", k: 5, workspace: 1 });
    await c.workspaces();
    await c.listDir(2, "src/a b");
    await c.listDir(2, "");
    await c.files(2);
    await c.readFile(2, "src/lib.rs");
    await c.writeFile(2, "src/lib.rs", "fn x() {}", "abc");
    await c.writeFile(2, "src/lib.rs", "fn x() {}", null);
    await c.putUiState("layout", { a: 1 });
    await c.getUiState("layout");
    await c.kill("root/storage");
    expect(t.calls).toEqual([
      { method: "GET", path: "/v1/status", body: undefined },
      { method: "GET", path: "/v1/index", body: undefined },
      { method: "POST", path: "/v1/index", body: { path: "/home/me/repo", wait: false } },
      { method: "POST", path: "/v1/index/rescan", body: {} },
      { method: "POST", path: "/v1/index/rescan", body: { workspace: 3 } },
      { method: "POST", path: "/v1/search", body: { query: "parse", k: 5, workspace: 1 } },
      { method: "GET", path: "/v1/workspaces", body: undefined },
      { method: "GET", path: "/v1/fs/list?workspace=2&dir=src%2Fa%20b", body: undefined },
      { method: "GET", path: "/v1/fs/list?workspace=2&dir=", body: undefined },
      { method: "GET", path: "/v1/fs/files?workspace=2", body: undefined },
      { method: "GET", path: "/v1/fs/file?workspace=2&path=src%2Flib.rs", body: undefined },
      { method: "PUT", path: "/v1/fs/file", body: { workspace: 2, path: "src/lib.rs", content: "fn x() {}", base_hash: "abc" } },
      { method: "PUT", path: "/v1/fs/file", body: { workspace: 2, path: "src/lib.rs", content: "fn x() {}", base_hash: null } },
      { method: "PUT", path: "/v1/ui-state/layout", body: { a: 1 } },
      { method: "GET", path: "/v1/ui-state/layout", body: undefined },
      { method: "POST", path: "/v1/kill", body: { path: "root/storage" } },
    ]);
  });

  it("reads a missing UI state key as null and passes other failures on", async () => {
    const t = new FakeTransport()
      .on("GET", "/v1/ui-state/none", () => fail(404, "not_found"))
      .on("GET", "/v1/ui-state/broken", () => fail(503, "storage_unavailable", "db locked"))
      .on("GET", "/v1/ui-state/some", { theme: "dark" });
    const c = new Client(t);
    expect(await c.getUiState("none")).toBeNull();
    expect(await c.getUiState("some")).toEqual({ theme: "dark" });
    await expect(c.getUiState("broken")).rejects.toMatchObject({ status: 503, code: "storage_unavailable" });
  });

  it("surfaces conflicts as ApiError with the code", async () => {
    const t = new FakeTransport().on("PUT", "/v1/fs/file", () => fail(409, "conflict", "changed on disk"));
    const err = await new Client(t).writeFile(1, "a", "b", "h").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: "conflict", message: "changed on disk" });
  });

  it("passes the stream through", () => {
    const t = new FakeTransport();
    const got: unknown[] = [];
    const states: boolean[] = [];
    const off = new Client(t).subscribe((m) => got.push(m), (c) => states.push(c));
    t.emit({ type: "fs", workspace: 1, paths: ["a"] });
    off();
    t.emit({ type: "fs", workspace: 1, paths: ["b"] });
    expect(got).toEqual([{ type: "fs", workspace: 1, paths: ["a"] }]);
    expect(states).toEqual([true]);
  });

  it("sends the issue 6 commands: terminals, history, session, git", async () => {
    const t = new FakeTransport()
      .on("GET", /.*/, { ok: true })
      .on("GET", "/v1/terms", { terms: [] })
      .on("POST", /.*/, { ok: true })
      .on("PUT", /.*/, { ok: true })
      .on("DELETE", /.*/, { closed: true });
    const c = new Client(t);
    await c.openTerminal();
    await c.openTerminal({ cwd: "/repo1/src", cols: 80, rows: 24 });
    expect(await c.listTerminals()).toEqual([]);
    await c.closeTerminal(3);
    await c.termInput(3, "ls\r");
    await c.termResize(3, 100, 30);
    await c.history();
    await c.history({ q: "  cargo test ", semantic: true, failed: true, exit: 101, cwd: "/repo1", limit: 50, term: 2 });
    await c.history({ q: " ", semantic: true, failed: false, cwd: "" });
    await c.historyEntry(9);
    await c.session();
    await c.putSession({ layout: {}, open_files: [], active_file: null, active_panel: "terminal" });
    await c.gitStatus();
    await c.gitStatus(2);
    await c.gitLog({ workspace: 2, limit: 100, before: 40 });
    await c.gitDiff("src/a b.rs", { workspace: 2 });
    await c.gitDiff("x.rs", { staged: true });
    expect(t.calls.map((x) => `${x.method} ${x.path}${x.body === undefined ? "" : ` ${JSON.stringify(x.body)}`}`)).toEqual([
      "POST /v1/terms {}",
      'POST /v1/terms {"cwd":"/repo1/src","cols":80,"rows":24}',
      "GET /v1/terms",
      "DELETE /v1/terms/3",
      'POST /v1/terms/3/input {"data":"ls\\r"}',
      'POST /v1/terms/3/resize {"cols":100,"rows":30}',
      "GET /v1/history",
      "GET /v1/history?q=cargo%20test&failed=true&exit=101&cwd=%2Frepo1&term=2&limit=50&semantic=true",
      "GET /v1/history",
      "GET /v1/history/9",
      "GET /v1/session",
      'PUT /v1/session {"ui":{"layout":{},"open_files":[],"active_file":null,"active_panel":"terminal"}}',
      "GET /v1/git/status",
      "GET /v1/git/status?workspace=2",
      "GET /v1/git/log?workspace=2&limit=100&before=40",
      "GET /v1/git/diff?workspace=2&path=src%2Fa%20b.rs&staged=false",
      "GET /v1/git/diff?path=x.rs&staged=true",
    ]);
  });
});
