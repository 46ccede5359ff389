import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { fileContent } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";
import { splitLine } from "./QuickOpen";

const PATHS = ["README.md", "src/lib.rs", "src/library/mod.rs", "src/main.rs", "tests/lib_test.rs"];

async function setup() {
  const t = workspaceTransport()
    .on("GET", "/v1/fs/files?workspace=1", { paths: PATHS, truncated: false })
    .on("GET", /^\/v1\/fs\/file\?workspace=1&path=(.*)$/, (_c, m) =>
      fileContent(decodeURIComponent(m[1] ?? ""), Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join("\n")),
    );
  const r = await renderApp(t);
  fireEvent.keyDown(window, { key: "p", code: "KeyP", ctrlKey: true });
  const input = screen.getByRole("combobox", { name: "File" }) as HTMLInputElement;
  await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(PATHS.length));
  return { ...r, t, input };
}

describe("quick open", () => {
  it("opens with Ctrl+P, fuzzy-matches, highlights and opens with Enter", async () => {
    const { app, input } = await setup();
    fireEvent.input(input, { target: { value: "lib" } });
    const items = screen.getAllByRole("option").map((o) => o.textContent);
    expect(items[0]).toBe("src/lib.rs");
    expect(items).not.toContain("README.md");
    expect(screen.getAllByRole("option")[0]?.querySelectorAll("mark")).toHaveLength(1);
    fireEvent.keyDown(input, { key: "ArrowDown" });
    fireEvent.keyDown(input, { key: "Enter" });
    expect(screen.queryByTestId("quick-open")).toBeNull();
    await waitFor(() => expect(app.editor.activeTab()?.path).toBe(items[1]));
  });

  it("opens at a line with path:line", async () => {
    const { app, input } = await setup();
    fireEvent.input(input, { target: { value: "main:30" } });
    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(app.editor.cursor()?.line).toBe(30));
    expect(app.editor.activeTab()?.path).toBe("src/main.rs");
  });

  it("fetches the file list once, and again after files change", async () => {
    const { app, t } = await setup();
    fireEvent.keyDown(window, { key: "Escape" });
    fireEvent.keyDown(screen.getByRole("combobox", { name: "File" }), { key: "Escape" });
    fireEvent.keyDown(window, { key: "p", code: "KeyP", ctrlKey: true });
    await waitFor(() => expect(screen.getAllByRole("option").length).toBeGreaterThan(0));
    expect(t.callsTo("GET", "/v1/fs/files")).toHaveLength(1);
    fireEvent.keyDown(screen.getByRole("combobox", { name: "File" }), { key: "Escape" });
    // An edit of a listed file does not refetch the list...
    app.receive({ type: "fs", workspace: 1, paths: ["src/lib.rs"] });
    fireEvent.keyDown(window, { key: "p", code: "KeyP", ctrlKey: true });
    await waitFor(() => expect(screen.getAllByRole("option").length).toBeGreaterThan(0));
    expect(t.callsTo("GET", "/v1/fs/files")).toHaveLength(1);
    fireEvent.keyDown(screen.getByRole("combobox", { name: "File" }), { key: "Escape" });
    // ...a new file does.
    app.receive({ type: "fs", workspace: 1, paths: ["src/new.rs"] });
    fireEvent.keyDown(window, { key: "p", code: "KeyP", ctrlKey: true });
    await waitFor(() => expect(t.callsTo("GET", "/v1/fs/files")).toHaveLength(2));
  });

  it("splits path:line", () => {
    expect(splitLine("src/lib.rs:42")).toEqual({ query: "src/lib.rs", line: 42 });
    expect(splitLine("lib")).toEqual({ query: "lib", line: undefined });
  });
});
