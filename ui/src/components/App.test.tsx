import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { entry, fileContent } from "../test/fake";
import { renderApp, workspaceTransport, defaultTransport } from "../test/render";

describe("app start", () => {
  it("shows the workspace picker when no workspace was open", async () => {
    await renderApp(defaultTransport());
    expect(screen.getByTestId("workspace-picker")).toBeTruthy();
    expect(screen.getByTestId("index-progress").textContent).toContain("no workspace");
  });

  it("restores the workspace, tabs and active tab from the saved layout", async () => {
    const t = workspaceTransport({
      tabs: [
        { workspace: 1, path: "src/a.rs" },
        { workspace: 1, path: "src/b.rs" },
      ],
      activeTab: { workspace: 1, path: "src/b.rs" },
      theme: "light",
    })
      .on("GET", /^\/v1\/fs\/list\?workspace=1&dir=$/, [entry("src", true), entry("README.md")])
      .on("GET", /^\/v1\/fs\/file\?workspace=1&path=src%2Fa\.rs$/, fileContent("src/a.rs", "fn a() {}\n"))
      .on("GET", /^\/v1\/fs\/file\?workspace=1&path=src%2Fb\.rs$/, fileContent("src/b.rs", "fn b() {}\n"));
    const { app } = await renderApp(t);
    expect(screen.queryByTestId("workspace-picker")).toBeNull();
    expect(t.callsTo("POST", "/v1/index")[0]?.body).toEqual({ path: "/repo1", wait: false });
    await waitFor(() => expect(screen.getAllByTestId("tab").map((e) => e.textContent)).toEqual(["a.rs×", "b.rs×"]));
    expect(app.editor.activeTab()?.path).toBe("src/b.rs");
    await waitFor(() => expect(screen.getByTestId("editor").textContent).toContain("fn b()"));
    expect(document.documentElement.dataset.theme).toBe("light");
    await waitFor(() => expect(screen.getAllByTestId("tree-row").map((e) => e.textContent)).toEqual(["▸src", "README.md"]));
  });

  it("saves the layout after a resize and after opening a file, debounced", async () => {
    const t = workspaceTransport().on("GET", /^\/v1\/fs\/file/, fileContent("src/a.rs", "x"));
    const { app } = await renderApp(t);
    const handle = screen.getByRole("separator", { name: "left" });
    fireEvent.keyDown(handle, { key: "ArrowRight" });
    fireEvent.keyDown(handle, { key: "ArrowRight" });
    await app.openFile("src/a.rs");
    expect(t.callsTo("PUT", "/v1/ui-state/layout")).toHaveLength(0);
    await waitFor(() => expect(t.callsTo("PUT", "/v1/ui-state/layout")).toHaveLength(1), { timeout: 2000 });
    expect(t.callsTo("PUT", "/v1/ui-state/layout")[0]?.body).toMatchObject({
      sizes: { left: 332 },
      workspace: 1,
      tabs: [{ workspace: 1, path: "src/a.rs" }],
      activeTab: { workspace: 1, path: "src/a.rs" },
    });
  });
});

describe("refused token", () => {
  it("shows the link screen when the daemon answers unauthorized", async () => {
    const { ApiError } = await import("../api/errors");
    let forgot = 0;
    const t = defaultTransport().on("GET", "/v1/status", () => {
      throw new ApiError(401, "unauthorized", "bad token");
    });
    await renderApp(t, { onAuthFailed: () => void forgot++ });
    expect(screen.getByTestId("no-token").textContent).toContain("refused");
    expect(forgot).toBe(1);
  });
});
