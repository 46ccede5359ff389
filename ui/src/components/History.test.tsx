import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import type { HistoryEntry } from "../api/types";
import { showPanel } from "../panels/registry";
import { type Call, historyEntry, termInfo } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";

const ENTRIES: HistoryEntry[] = [
  historyEntry(3, "cargo test", { exit_code: 101, duration_ms: 15_300, cwd: "/repo1/actors" }),
  historyEntry(2, "ls -la", { exit_code: 0, duration_ms: 40 }),
  historyEntry(1, "echo hi", { exit_code: 0, duration_ms: 3 }),
];

function historyTransport(terms = [] as ReturnType<typeof termInfo>[]) {
  return workspaceTransport()
    .on("GET", /^\/v1\/history(\?.*)?$/, (call: Call) => {
      const u = new URL(call.path, "http://x");
      let list = ENTRIES;
      if (u.searchParams.get("failed") === "true") list = list.filter((e) => e.exit_code !== 0);
      const exit = u.searchParams.get("exit");
      if (exit !== null) list = list.filter((e) => e.exit_code === Number(exit));
      const q = u.searchParams.get("q");
      if (q) list = list.filter((e) => e.command.includes(q));
      return { entries: list, semantic: u.searchParams.get("semantic") === "true" };
    })
    .on("GET", /^\/v1\/history\/(\d+)$/, (_c: Call, m: RegExpMatchArray) => ({ ...ENTRIES.find((e) => e.id === Number(m[1]))!, output: `output of ${m[1]}\nerror: failed` }))
    .on("GET", "/v1/terms", { terms })
    .on("POST", "/v1/terms", termInfo(20))
    .on("POST", /^\/v1\/terms\/\d+\/input$/, { ok: true });
}

const rows = () => screen.queryAllByTestId("history-row");
const lastHistoryQuery = (t: ReturnType<typeof historyTransport>) =>
  t.calls.filter((c) => c.method === "GET" && /^\/v1\/history(\?|$)/.test(c.path)).at(-1)?.path;

describe("history panel", () => {
  it("lists commands with exit code, duration and cwd; filters by keyword, meaning, failure, exit code and cwd", async () => {
    const t = historyTransport();
    const { app } = await renderApp(t);
    showPanel(app, "history");
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(rows()[0]?.textContent).toContain("cargo test");
    expect(rows()[0]?.textContent).toContain("/repo1/actors");
    expect(rows()[0]?.textContent).toContain("15 s");
    expect(screen.getAllByTestId("history-exit").map((e) => e.textContent)).toEqual(["101", "0", "0"]);
    expect(lastHistoryQuery(t)).toBe("/v1/history?limit=100");

    fireEvent.click(screen.getByTestId("history-failed"));
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(lastHistoryQuery(t)).toBe("/v1/history?failed=true&limit=100");
    fireEvent.click(screen.getByTestId("history-failed"));
    await waitFor(() => expect(rows()).toHaveLength(3));

    fireEvent.input(screen.getByTestId("history-exit-filter"), { target: { value: "0" } });
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(lastHistoryQuery(t)).toBe("/v1/history?exit=0&limit=100");
    fireEvent.input(screen.getByTestId("history-exit-filter"), { target: { value: "" } });

    fireEvent.input(screen.getByTestId("history-cwd-filter"), { target: { value: "/repo1/actors" } });
    await waitFor(() => expect(lastHistoryQuery(t)).toBe("/v1/history?cwd=%2Frepo1%2Factors&limit=100"));
    fireEvent.input(screen.getByTestId("history-cwd-filter"), { target: { value: "" } });

    fireEvent.input(screen.getByTestId("history-query"), { target: { value: "ls" } });
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(lastHistoryQuery(t)).toBe("/v1/history?q=ls&limit=100");
    fireEvent.click(screen.getByTestId("history-semantic"));
    await waitFor(() => expect(lastHistoryQuery(t)).toBe("/v1/history?q=ls&limit=100&semantic=true"));
    await waitFor(() => expect(screen.getByTestId("history-summary").textContent).toContain("by meaning"));
  });

  it("Enter shows the output; Escape goes back; Re-run types the command into the active terminal", async () => {
    const t = historyTransport([termInfo(7)]);
    const { app } = await renderApp(t);
    await app.terminals.load();
    showPanel(app, "history");
    await waitFor(() => expect(rows()).toHaveLength(3));
    const list = screen.getByTestId("history-list");
    fireEvent.keyDown(list, { key: "ArrowDown" });
    fireEvent.keyDown(list, { key: "Enter" });
    await waitFor(() => expect(screen.getByTestId("history-output").textContent).toBe("output of 2\nerror: failed"));
    expect(t.callsTo("GET", "/v1/history/2")).toHaveLength(1);
    fireEvent.click(screen.getByTestId("history-rerun"));
    await waitFor(() => expect(t.callsTo("POST", "/v1/terms/7/input")).toHaveLength(1));
    expect(t.callsTo("POST", "/v1/terms/7/input")[0]?.body).toEqual({ data: "ls -la\r" });
    expect(t.calls.filter((c) => c.method === "POST" && c.path === "/v1/terms")).toHaveLength(0);
    expect(app.layout.state.active.bottom).toBe("terminal");
    showPanel(app, "history");
    fireEvent.keyDown(screen.getByTestId("history-detail"), { key: "Escape" });
    await waitFor(() => expect(rows()).toHaveLength(3));
  });

  it("Re-run opens a terminal when none is alive", async () => {
    const t = historyTransport([termInfo(7, { alive: false, exit_code: 0 })]);
    const { app } = await renderApp(t);
    showPanel(app, "history");
    await waitFor(() => expect(rows()).toHaveLength(3));
    fireEvent.keyDown(screen.getByTestId("history-list"), { key: "r" });
    await waitFor(() => expect(t.callsTo("POST", "/v1/terms/20/input")).toHaveLength(1));
    expect(t.callsTo("POST", "/v1/terms/20/input")[0]?.body).toEqual({ data: "cargo test\r" });
    expect(t.callsTo("POST", "/v1/terms/7/input")).toHaveLength(0);
    expect(app.terminals.active()).toBe(20);
  });

  it("adds commands as they finish (stream), once, and only where the filters allow", async () => {
    const t = historyTransport();
    const { app } = await renderApp(t);
    showPanel(app, "history");
    await waitFor(() => expect(rows()).toHaveLength(3));
    const made = historyEntry(4, "make", { exit_code: 2 });
    app.receive({ type: "term", event: "command", term: 1, entry: made });
    app.receive({ type: "term", event: "command", term: 1, entry: made });
    await waitFor(() => expect(rows()).toHaveLength(4));
    expect(screen.getAllByTestId("history-command")[0]?.textContent).toBe("make");

    fireEvent.click(screen.getByTestId("history-failed"));
    await waitFor(() => expect(rows()).toHaveLength(1));
    app.receive({ type: "term", event: "command", term: 1, entry: historyEntry(5, "true", { exit_code: 0 }) });
    app.receive({ type: "term", event: "command", term: 1, entry: historyEntry(6, "false", { exit_code: 1 }) });
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(screen.getAllByTestId("history-command").map((e) => e.textContent)).toEqual(["false", "cargo test"]);
  });
});
