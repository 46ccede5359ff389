import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import type { SearchResponse } from "../api/types";
import { fileContent, hit, historyEntry } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";

const LIB = Array.from({ length: 30 }, (_, i) => (i === 11 ? "fn parse_config_line(line: &str) -> Option<(String, String)> {" : `// line ${i + 1}`)).join("\n");

function response(): SearchResponse {
  return {
    hits: [
      // The chunk starts at the doc comment two lines above the fn.
      hit("src/lib.rs", 10, { end_line: 20, symbol: "parse_config_line", stale: true, snippet: "fn parse_config_line(line: &str)" }),
      hit("src/config.rs", 3, { kind: "section", scores: { rrf: 0.016, fts: null, fts_rank: null, vector: 0.5, vector_rank: 1, symbol: 1, symbol_rank: 1 } }),
    ],
    fts_candidates: 1,
    vector_candidates: 0,
    symbol_candidates: 1,
    notes: ["vector signal unavailable: the embed pool is down"],
    took_ms: 3.2,
  };
}

async function setup() {
  const t = workspaceTransport()
    .on("POST", "/v1/search", () => response())
    .on("GET", /^\/v1\/fs\/file\?workspace=1&path=src%2Flib\.rs$/, fileContent("src/lib.rs", LIB))
    .on("GET", /^\/v1\/fs\/file\?workspace=1&path=src%2Fconfig\.rs$/, fileContent("src/config.rs", "a\nb\nc\nd\n"));
  const r = await renderApp(t);
  // Ctrl+Shift+F shows the search panel and focuses its input.
  fireEvent.keyDown(window, { key: "F", code: "KeyF", ctrlKey: true, shiftKey: true });
  const input = screen.getByTestId("search-input") as HTMLInputElement;
  expect(input.closest("[hidden]")).toBeNull();
  expect(document.activeElement).toBe(input);
  return { ...r, t, input };
}

function type(input: HTMLInputElement, text: string) {
  for (let i = 1; i <= text.length; i++) fireEvent.input(input, { target: { value: text.slice(0, i) } });
}

describe("search panel", () => {
  it("searches once typing pauses, scoped to the workspace and filters", async () => {
    const { t, input } = await setup();
    type(input, "parse_config");
    expect(t.callsTo("POST", "/v1/search")).toHaveLength(0);
    await waitFor(() => expect(screen.getAllByTestId("search-hit")).toHaveLength(2));
    expect(t.callsTo("POST", "/v1/search")).toHaveLength(1);
    expect(t.callsTo("POST", "/v1/search")[0]?.body).toMatchObject({ query: "parse_config", workspace: 1, path: null, lang: null });

    fireEvent.input(screen.getByLabelText("Path filter (glob)"), { target: { value: "src/**" } });
    fireEvent.change(screen.getByLabelText("Language filter"), { target: { value: "rust" } });
    await waitFor(() => expect(t.callsTo("POST", "/v1/search")).toHaveLength(2));
    expect(t.callsTo("POST", "/v1/search")[1]?.body).toMatchObject({ path: "src/**", lang: "rust" });
  });

  it("shows path:line, symbol, kind, snippet, the stale badge, scores on hover and notes", async () => {
    const { input } = await setup();
    type(input, "parse_config_line");
    await waitFor(() => expect(screen.getAllByTestId("search-hit")).toHaveLength(2));
    const [first, second] = screen.getAllByTestId("search-hit");
    expect(first?.textContent).toContain("src/lib.rs:10");
    expect(first?.textContent).toContain("parse_config_line");
    expect(first?.textContent).toContain("function");
    expect(first?.querySelector(".hit-snippet")?.textContent).toBe("fn parse_config_line(line: &str)");
    expect(first?.querySelector(".badge.stale")?.textContent).toBe("stale");
    expect(second?.querySelector(".badge.stale")).toBeNull();
    expect(first?.getAttribute("title")).toBe("rrf: 0.0325\nfts: 7.50 (rank 1)\nvector: 0.810 (rank 2)\nsymbol: —");
    expect(second?.getAttribute("title")).toContain("symbol: 1.00 (rank 1)");
    expect(second?.getAttribute("title")).toContain("fts: —");
    expect(screen.getByText("vector signal unavailable: the embed pool is down")).toBeTruthy();
    expect(screen.getByText(/2 hits/)).toBeTruthy();
  });

  it("moves with the arrow keys and opens the selected hit with Enter, cursor on the definition", async () => {
    const { app, t, input } = await setup();
    type(input, "parse_config_line");
    await waitFor(() => expect(screen.getAllByTestId("search-hit")).toHaveLength(2));
    fireEvent.keyDown(input, { key: "ArrowDown" });
    expect(screen.getAllByTestId("search-hit")[1]?.getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(input, { key: "ArrowUp" });
    expect(screen.getAllByTestId("search-hit")[0]?.getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(app.editor.activeTab()?.path).toBe("src/lib.rs"));
    expect(t.callsTo("GET", "/v1/fs/file")).toHaveLength(1);
    await waitFor(() => {
      const active = screen.getByTestId("editor").querySelector(".cm-activeLine");
      expect(active?.textContent).toContain("parse_config_line");
    });
    expect(app.editor.cursor()?.line).toBe(12);
  });

  it("opens a hit on click, and searches immediately when Enter comes before the pause", async () => {
    const { app, t, input } = await setup();
    fireEvent.input(input, { target: { value: "config" } });
    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(app.editor.activeTab()?.path).toBe("src/lib.rs"));
    expect(t.callsTo("POST", "/v1/search")).toHaveLength(1);
    fireEvent.click(screen.getAllByTestId("search-hit")[1]!);
    await waitFor(() => expect(app.editor.activeTab()?.path).toBe("src/config.rs"));
  });

  it("shows the error of a bad query", async () => {
    const { t, input } = await setup();
    t.on("POST", "/v1/search", () => {
      throw Object.assign(new Error("unknown language"), {});
    });
    type(input, "x");
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("unknown language"));
  });

  it("lists the terminal commands the core found for the same query, and opens one in the history", async () => {
    const failed = historyEntry(7, "cargo test -p parser", { exit_code: 101, cwd: "/w", snippet: "test parse ... FAILED" });
    const t = workspaceTransport()
      .on("POST", "/v1/search", () => ({ ...response(), terminal: [failed] }))
      .on("GET", "/v1/history/7", () => ({ ...failed, output: "test parse ... FAILED\n" }));
    await renderApp(t);
    fireEvent.keyDown(window, { key: "F", code: "KeyF", ctrlKey: true, shiftKey: true });
    type(screen.getByTestId("search-input") as HTMLInputElement, "parser tests");
    await waitFor(() => expect(screen.getAllByTestId("search-terminal-row")).toHaveLength(1));
    const row = screen.getByTestId("search-terminal-row");
    expect(row.textContent).toContain("cargo test -p parser");
    expect(row.textContent).toContain("101");
    fireEvent.click(row);
    await waitFor(() => expect(t.callsTo("GET", "/v1/history/7")).toHaveLength(1));
  });
});
