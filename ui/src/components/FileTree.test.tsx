import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import type { DirEntry } from "../api/types";
import { entry, fileContent } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";

function fsTree() {
  const dirs: Record<string, DirEntry[]> = {
    "": [entry("src", true), entry("target", true, true), entry("Cargo.toml")],
    src: [entry("src/deep", true), entry("src/lib.rs"), entry("src/main.rs")],
    "src/deep": [entry("src/deep/x.rs")],
  };
  const t = workspaceTransport()
    .on("GET", /^\/v1\/fs\/list\?workspace=1&dir=(.*)$/, (_c, m) => dirs[decodeURIComponent(m[1] ?? "")] ?? [])
    .on("GET", /^\/v1\/fs\/file\?workspace=1&path=(.*)$/, (_c, m) => fileContent(decodeURIComponent(m[1] ?? ""), "content\n"));
  return { dirs, t };
}

const names = () => screen.getAllByTestId("tree-row").map((r) => r.querySelector(".name")?.textContent);
const row = (name: string) => screen.getAllByTestId("tree-row").find((r) => r.querySelector(".name")?.textContent === name)!;

describe("file tree", () => {
  it("lists the root, dims ignored entries, lists folders lazily on expand", async () => {
    const { t } = fsTree();
    await renderApp(t);
    await waitFor(() => expect(names()).toEqual(["src", "target", "Cargo.toml"]));
    expect(row("target").classList.contains("ignored")).toBe(true);
    expect(row("src").classList.contains("ignored")).toBe(false);
    expect(t.callsTo("GET", "/v1/fs/list").map((c) => c.path)).toEqual(["/v1/fs/list?workspace=1&dir="]);
    fireEvent.click(row("src"));
    await waitFor(() => expect(names()).toEqual(["src", "deep", "lib.rs", "main.rs", "target", "Cargo.toml"]));
    expect(row("lib.rs").getAttribute("aria-level")).toBe("2");
    fireEvent.click(row("src"));
    expect(names()).toEqual(["src", "target", "Cargo.toml"]);
  });

  it("is driven by the keyboard: arrows, Right/Left, Enter opens a file", async () => {
    const { t } = fsTree();
    const { app } = await renderApp(t);
    await waitFor(() => expect(names()).toHaveLength(3));
    const list = screen.getByRole("tree", { name: "Files" });
    fireEvent.keyDown(list, { key: "ArrowDown" });
    expect(row("src").getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(list, { key: "ArrowRight" });
    await waitFor(() => expect(names()).toContain("lib.rs"));
    fireEvent.keyDown(list, { key: "ArrowDown" });
    fireEvent.keyDown(list, { key: "ArrowDown" });
    expect(row("lib.rs").getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(list, { key: "Enter" });
    await waitFor(() => expect(app.editor.activeTab()?.path).toBe("src/lib.rs"));
    fireEvent.keyDown(list, { key: "ArrowLeft" });
    expect(row("src").getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(list, { key: "ArrowLeft" });
    expect(names()).toEqual(["src", "target", "Cargo.toml"]);
  });

  it("re-lists the shown folders a change touches, and only those", async () => {
    const { t, dirs } = fsTree();
    const { app } = await renderApp(t);
    await waitFor(() => expect(names()).toHaveLength(3));
    fireEvent.click(row("src"));
    await waitFor(() => expect(names()).toContain("lib.rs"));
    const before = t.callsTo("GET", "/v1/fs/list").length;
    dirs.src = [...(dirs.src ?? []), entry("src/new.rs")];
    app.receive({ type: "fs", workspace: 1, paths: ["src/new.rs"] });
    await waitFor(() => expect(names()).toContain("new.rs"));
    expect(t.callsTo("GET", "/v1/fs/list").slice(before).map((c) => c.path)).toEqual(["/v1/fs/list?workspace=1&dir=src"]);
    // Another workspace's change is not ours.
    app.receive({ type: "fs", workspace: 2, paths: ["src/x.rs"] });
    // "" means everything: every shown folder again.
    const mid = t.callsTo("GET", "/v1/fs/list").length;
    dirs[""] = [entry("src", true), entry("Cargo.toml")];
    app.receive({ type: "fs", workspace: 1, paths: [""] });
    await waitFor(() => expect(names()).not.toContain("target"));
    expect(t.callsTo("GET", "/v1/fs/list").slice(mid).map((c) => c.path).sort()).toEqual(["/v1/fs/list?workspace=1&dir=", "/v1/fs/list?workspace=1&dir=src"]);
  });

  it("handles a folder of 100k entries without rendering them all", async () => {
    const big = Array.from({ length: 100_000 }, (_, i) => entry(`f${String(i).padStart(6, "0")}.txt`));
    const t = workspaceTransport().on("GET", /^\/v1\/fs\/list\?workspace=1&dir=$/, big);
    await renderApp(t);
    await waitFor(() => expect(screen.getAllByTestId("tree-row").length).toBeGreaterThan(0));
    expect(screen.getAllByTestId("tree-row").length).toBeLessThan(100);
  });
});
