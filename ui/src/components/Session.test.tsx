import { screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import type { SessionUi } from "../api/types";
import { showPanel } from "../panels/registry";
import { fileContent } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";

const puts = (t: ReturnType<typeof workspaceTransport>) => t.callsTo("PUT", "/v1/session").map((c) => (c.body as { ui: SessionUi }).ui);

describe("session", () => {
  it("puts the layout, open files with cursors, active file and panel 250 ms after changes", async () => {
    const t = workspaceTransport()
      .on("GET", /^\/v1\/fs\/file\?workspace=1&path=src%2Fa\.rs$/, fileContent("src/a.rs", "one\ntwo\nthree\n"))
      .on("PUT", "/v1/session", { ok: true });
    const { app } = await renderApp(t, { sessionDelayMs: 250 });
    await app.openFile("src/a.rs", { line: 2, col: 3 });
    showPanel(app, "terminal");
    expect(puts(t)).toHaveLength(0);
    await waitFor(() => expect(puts(t).length).toBeGreaterThan(0), { timeout: 2000 });
    await new Promise((r) => setTimeout(r, 400));
    const last = puts(t).at(-1)!;
    expect(last.open_files).toEqual([{ workspace: 1, path: "src/a.rs", line: 2, col: 3 }]);
    expect(last.active_file).toBe("src/a.rs");
    expect(last.active_panel).toBe("terminal");
    expect(last.layout).toMatchObject({ version: 1, workspace: 1, tabs: [{ workspace: 1, path: "src/a.rs" }], active: { bottom: "terminal" } });
    // Debounced: a burst of changes is one put, and nothing changed is none.
    expect(puts(t).length).toBeLessThanOrEqual(2);
    const n = puts(t).length;
    app.layout.setActive("bottom", "terminal");
    await new Promise((r) => setTimeout(r, 400));
    expect(puts(t)).toHaveLength(n);
  });

  it("restores from the core's session before the ui-state layout: tabs, active tab, its cursor, theme", async () => {
    const t = workspaceTransport({ tabs: [{ workspace: 1, path: "src/a.rs" }], theme: "dark" })
      .on("GET", "/v1/session", {
        snapshot: {
          taken_ms: Date.now(),
          reason: "change",
          state: {
            version: 1,
            profile: "default",
            workspace: { id: 1, root: "/repo1" },
            terminals: [],
            ui: {
              layout: { version: 1, workspace: 1, theme: "light", tabs: [{ workspace: 1, path: "src/a.rs" }, { workspace: 1, path: "src/b.rs" }], activeTab: { workspace: 1, path: "src/b.rs" } },
              open_files: [{ workspace: 1, path: "src/b.rs", line: 2, col: 3 }, { path: 5 }],
              active_file: "src/b.rs",
              active_panel: "history",
            },
          },
        },
      })
      .on("GET", /^\/v1\/fs\/file\?workspace=1&path=src%2Fa\.rs$/, fileContent("src/a.rs", "fn a() {}\n"))
      .on("GET", /^\/v1\/fs\/file\?workspace=1&path=src%2Fb\.rs$/, fileContent("src/b.rs", "fn b() {\n    body();\n}\n"));
    const { app } = await renderApp(t);
    await waitFor(() => expect(screen.getAllByTestId("tab").map((e) => e.dataset.path)).toEqual(["src/a.rs", "src/b.rs"]));
    expect(app.editor.activeTab()?.path).toBe("src/b.rs");
    expect(document.documentElement.dataset.theme).toBe("light");
    await waitFor(() => expect(app.editor.cursor()).toEqual({ line: 2, col: 3 }));
  });

  it("works with a core that has no session endpoint: the ui-state layout, no errors, no more puts", async () => {
    const t = workspaceTransport({ tabs: [{ workspace: 1, path: "src/a.rs" }] }).on(
      "GET",
      /^\/v1\/fs\/file\?workspace=1&path=src%2Fa\.rs$/,
      fileContent("src/a.rs", "x\n"),
    );
    const { app } = await renderApp(t, { sessionDelayMs: 50 });
    await waitFor(() => expect(app.editor.activeTab()?.path).toBe("src/a.rs"));
    app.layout.setTheme("light");
    await waitFor(() => expect(t.callsTo("PUT", "/v1/session")).toHaveLength(1));
    app.layout.setTheme("dark");
    await new Promise((r) => setTimeout(r, 200));
    expect(t.callsTo("PUT", "/v1/session")).toHaveLength(1);
    expect(app.notices.list()).toEqual([]);
  });
});
