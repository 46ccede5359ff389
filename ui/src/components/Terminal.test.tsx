import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { showPanel } from "../panels/registry";
import { fileContent, termInfo } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";
import { fakeWidgets } from "../test/term";

function termTransport(existing = [] as ReturnType<typeof termInfo>[]) {
  let next = 10;
  return workspaceTransport()
    .on("GET", "/v1/terms", () => ({ terms: existing }))
    .on("POST", "/v1/terms", (call) => termInfo(next++, { cwd: (call.body as { cwd?: string }).cwd ?? "/repo1" }))
    .on("DELETE", /^\/v1\/terms\/\d+$/, { closed: true })
    .on("POST", /^\/v1\/terms\/\d+\/input$/, { ok: true });
}

const tabs = () => screen.queryAllByTestId("term-tab");

describe("terminal panel", () => {
  it("Ctrl+` opens a terminal when there is none: output reaches xterm, typing reaches the shell, the size follows the panel", async () => {
    const t = termTransport();
    const w = fakeWidgets();
    const { app } = await renderApp(t, { termWidget: w.factory });
    fireEvent.keyDown(document.body, { key: "`", code: "Backquote", ctrlKey: true });
    await waitFor(() => expect(tabs()).toHaveLength(1));
    expect(t.callsTo("POST", "/v1/terms")).toHaveLength(1);
    expect(app.layout.state.active.bottom).toBe("terminal");
    const conn = t.term(10);
    expect(conn).toBeDefined();
    await waitFor(() => expect(w.live()).toHaveLength(1));
    const widget = w.live()[0]!;
    conn!.output("hello \x1b[1mworld\x1b[0m\r\n$ ");
    await waitFor(() => expect(widget.text()).toContain("hello"));
    widget.type("ls -la\r");
    expect(conn!.sent).toEqual(["ls -la\r"]);
    await waitFor(() => expect(conn!.sizes).toContainEqual([100, 30]));
    await waitFor(() => expect(widget.focused).toBeGreaterThan(0));
  });

  it("coalesces a flood of output into a few writes", async () => {
    const t = termTransport([termInfo(1)]);
    const w = fakeWidgets();
    const { app } = await renderApp(t, { termWidget: w.factory });
    showPanel(app, "terminal");
    await waitFor(() => expect(w.live()).toHaveLength(1));
    const conn = t.term(1)!;
    for (let i = 0; i < 2000; i++) conn.output(`line ${i}\r\n`);
    await waitFor(() => expect(w.live()[0]!.text()).toContain("line 1999"));
    expect(w.live()[0]!.writes).toBeLessThanOrEqual(3);
  });

  it("lists the core's terminals as tabs; + opens another; × ends a live one; an exit shows on its tab", async () => {
    const t = termTransport([termInfo(1, { title: "bash" }), termInfo(2, { title: "old", alive: false, exit_code: 1, end_reason: "exited" })]);
    const w = fakeWidgets();
    const { app } = await renderApp(t, { termWidget: w.factory });
    showPanel(app, "terminal");
    await waitFor(() => expect(tabs().map((e) => e.textContent)).toEqual(["bash", "oldexited 1"]));
    expect(tabs()[0]?.getAttribute("aria-selected")).toBe("true");

    fireEvent.click(screen.getByTestId("term-new"));
    await waitFor(() => expect(tabs()).toHaveLength(3));
    expect(app.terminals.active()).toBe(10);
    expect(tabs()[2]?.getAttribute("aria-selected")).toBe("true");
    // Only the active terminal's view is shown.
    await waitFor(() => expect(screen.getAllByTestId("terminal-view").filter((v) => !v.hidden).map((v) => v.dataset.termId)).toEqual(["10"]));

    fireEvent.click(tabs()[0]!);
    expect(app.terminals.active()).toBe(1);

    t.term(1)!.control({ type: "exit", code: 0, reason: "exited" });
    await waitFor(() => expect(screen.getAllByTestId("term-exited").map((e) => e.textContent)).toContainEqual(expect.stringContaining("exited with code 0")));
    t.term(10)!.control({ type: "title", title: "vim" });
    await waitFor(() => expect(tabs()[2]?.textContent).toBe("vim"));

    // Closing an ended terminal only drops the tab; a live one is ended with DELETE.
    fireEvent.click(screen.getAllByTestId("term-close")[1]!);
    fireEvent.click(screen.getAllByTestId("term-close")[1]!);
    await waitFor(() => expect(tabs()).toHaveLength(1));
    expect(t.callsTo("DELETE", "/v1/terms").map((c) => c.path)).toEqual(["/v1/terms/10"]);
    expect(t.term(10)).toBeUndefined();
  });

  it("clears the screen before the core replays the scrollback (reconnect)", async () => {
    const t = termTransport([termInfo(1)]);
    const w = fakeWidgets();
    const { app } = await renderApp(t, { termWidget: w.factory });
    showPanel(app, "terminal");
    await waitFor(() => expect(w.live()).toHaveLength(1));
    const conn = t.term(1)!;
    conn.output("first run\r\n");
    await waitFor(() => expect(w.live()[0]!.text()).toContain("first run"));
    conn.handlers.onState?.(false);
    await waitFor(() => expect(screen.getByText("Connecting to the terminal…")).toBeTruthy());
    conn.handlers.onReplay?.();
    conn.handlers.onState?.(true);
    conn.output("replayed\r\n");
    await waitFor(() => expect(w.live()[0]!.text()).toBe("replayed\r\n"));
    expect(screen.queryByText("Connecting to the terminal…")).toBeNull();
  });

  it("opens path:line:col links relative to the terminal's cwd in the editor", async () => {
    const t = termTransport([termInfo(1, { cwd: "/repo1/src" })]).on(
      "GET",
      /^\/v1\/fs\/file\?workspace=1&path=src%2Flib\.rs$/,
      fileContent("src/lib.rs", "line 1\nline 2\nfn third() {}\n"),
    );
    const w = fakeWidgets();
    const { app } = await renderApp(t, { termWidget: w.factory });
    showPanel(app, "terminal");
    await waitFor(() => expect(w.live()).toHaveLength(1));
    w.live()[0]!.opts.onPathLink("lib.rs", 3, 4);
    await waitFor(() => expect(app.editor.activeTab()?.path).toBe("src/lib.rs"));
    await waitFor(() => expect(app.editor.cursor()).toEqual({ line: 3, col: 4 }));
  });

  it("searches the scrollback with Ctrl/Cmd+F: Enter next, Shift+Enter previous, Escape closes", async () => {
    const t = termTransport([termInfo(1)]);
    const w = fakeWidgets();
    const { app } = await renderApp(t, { termWidget: w.factory });
    showPanel(app, "terminal");
    await waitFor(() => expect(w.live()).toHaveLength(1));
    const widget = w.live()[0]!;
    t.term(1)!.output("error: boom\r\n");
    widget.opts.onFind();
    const input = await screen.findByTestId("term-search");
    fireEvent.input(input, { target: { value: "boom" } });
    fireEvent.keyDown(input, { key: "Enter", shiftKey: true });
    fireEvent.keyDown(input, { key: "Enter" });
    expect(widget.searches).toEqual([["boom", 1], ["boom", -1], ["boom", 1]]);
    fireEvent.input(input, { target: { value: "nothing-like-this" } });
    expect(screen.getByText("no match")).toBeTruthy();
    fireEvent.keyDown(input, { key: "Escape" });
    expect(screen.queryByTestId("term-search")).toBeNull();
  });

  it("leaves the shell's keys to the shell; the palette and terminal keys still work", async () => {
    const t = termTransport([termInfo(1)]);
    const w = fakeWidgets();
    const { app } = await renderApp(t, { termWidget: w.factory });
    showPanel(app, "terminal");
    await waitFor(() => expect(w.live()).toHaveLength(1));
    const host = screen.getByTestId("term-host");
    const ctrlP = fireEvent.keyDown(host, { key: "p", code: "KeyP", ctrlKey: true });
    expect(ctrlP).toBe(true);
    expect(app.ui.overlay()).toBeNull();
    fireEvent.keyDown(host, { key: "b", code: "KeyB", ctrlKey: true });
    expect(app.layout.isCollapsed("left")).toBe(false);
    fireEvent.keyDown(host, { key: "P", code: "KeyP", ctrlKey: true, shiftKey: true });
    expect(app.ui.overlay()).toBe("palette");
  });

  it("follows the theme", async () => {
    const t = termTransport([termInfo(1)]);
    const w = fakeWidgets();
    const { app } = await renderApp(t, { termWidget: w.factory });
    showPanel(app, "terminal");
    await waitFor(() => expect(w.live()).toHaveLength(1));
    app.layout.setTheme(document.documentElement.dataset.theme === "light" ? "dark" : "light");
    await waitFor(() => expect(w.live()[0]!.themes).toBeGreaterThan(0));
  });

  it("says so when the daemon has no terminals", async () => {
    const t = workspaceTransport();
    const { app } = await renderApp(t);
    showPanel(app, "terminal");
    await waitFor(() => expect(screen.getByTestId("term-unavailable").textContent).toContain("no terminals"));
  });
});
