import { EditorView } from "@codemirror/view";
import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/errors";
import type { WriteFileRequest } from "../../api/types";
import { fileContent, hashOf } from "../../test/fake";
import { renderApp, workspaceTransport } from "../../test/render";

const ORIGINAL = "fn one() {}\nfn two() {}\nfn three() {}\n";

/** A disk the fake core reads and writes, with hash checks like the real one. */
function disk(initial: Record<string, string>) {
  const files = new Map(Object.entries(initial));
  const t = workspaceTransport()
    .on("GET", /^\/v1\/fs\/file\?workspace=1&path=(.*)$/, (_c, m) => {
      const path = decodeURIComponent(m[1] ?? "");
      const content = files.get(path);
      if (content === undefined) throw new ApiError(404, "not_found", `${path} not found`);
      return fileContent(path, content);
    })
    .on("PUT", "/v1/fs/file", (c) => {
      const req = c.body as WriteFileRequest;
      const cur = files.get(req.path);
      if (req.base_hash !== null && cur !== undefined && `h${hashOf(cur)}` !== req.base_hash) {
        throw new ApiError(409, "conflict", "the file changed on disk");
      }
      files.set(req.path, req.content);
      return { hash: `h${hashOf(req.content)}`, mtime_ms: 2, size: req.content.length };
    });
  return { files, t };
}

function view(): EditorView {
  const el = screen.getByTestId("editor").querySelector(".cm-editor");
  const v = el ? EditorView.findFromDOM(el as HTMLElement) : null;
  if (!v) throw new Error("no editor view");
  return v;
}

const ctrlS = () => fireEvent.keyDown(document.activeElement ?? window, { key: "s", code: "KeyS", ctrlKey: true });
const tabText = () => screen.getAllByTestId("tab").map((t) => t.textContent);

async function openLib() {
  const d = disk({ "src/lib.rs": ORIGINAL });
  const r = await renderApp(d.t);
  await r.app.openFile("src/lib.rs", 2);
  await waitFor(() => expect(view().state.doc.toString()).toBe(ORIGINAL));
  return { ...r, ...d };
}

describe("editor", () => {
  it("opens a file at a line: cursor on it, the line selected", async () => {
    await openLib();
    const v = view();
    const sel = v.state.selection.main;
    expect(v.state.doc.lineAt(sel.head).number).toBe(2);
    expect(v.state.sliceDoc(sel.from, sel.to)).toBe("fn two() {}");
    expect(screen.getByTestId("editor").querySelector(".cm-activeLine")?.textContent).toBe("fn two() {}");
    expect(tabText()).toEqual(["lib.rs×"]);
  });

  it("marks the tab dirty, saves with the base hash on Ctrl+S, and clears the mark", async () => {
    const { t, files } = await openLib();
    view().dispatch({ changes: { from: 0, insert: "// edited\n" } });
    await waitFor(() => expect(tabText()).toEqual(["lib.rs●×"]));
    ctrlS();
    await waitFor(() => expect(tabText()).toEqual(["lib.rs×"]));
    const put = t.callsTo("PUT", "/v1/fs/file");
    expect(put).toHaveLength(1);
    expect(put[0]?.body).toEqual({ workspace: 1, path: "src/lib.rs", content: `// edited\n${ORIGINAL}`, base_hash: `h${hashOf(ORIGINAL)}` });
    expect(files.get("src/lib.rs")).toBe(`// edited\n${ORIGINAL}`);
    // The next save sends the hash of what was saved.
    view().dispatch({ changes: { from: 0, insert: "x" } });
    ctrlS();
    await waitFor(() => expect(t.callsTo("PUT", "/v1/fs/file")).toHaveLength(2));
    expect((t.callsTo("PUT", "/v1/fs/file")[1]?.body as WriteFileRequest).base_hash).toBe(`h${hashOf(`// edited\n${ORIGINAL}`)}`);
  });

  it("undoing back to the saved text clears the dirty mark", async () => {
    await openLib();
    view().dispatch({ changes: { from: 0, insert: "z" } });
    await waitFor(() => expect(tabText()).toEqual(["lib.rs●×"]));
    view().dispatch({ changes: { from: 0, to: 1 } });
    await waitFor(() => expect(tabText()).toEqual(["lib.rs×"]));
  });

  it("on a 409 conflict offers reload or overwrite; overwrite saves without a base hash", async () => {
    const { t, files } = await openLib();
    files.set("src/lib.rs", "changed by someone else\n");
    view().dispatch({ changes: { from: 0, insert: "// mine\n" } });
    ctrlS();
    const bar = await screen.findByTestId("conflict-bar");
    expect(bar.dataset.conflict).toBe("save");
    expect(tabText()).toEqual(["lib.rs●×"]);
    fireEvent.click(screen.getByRole("button", { name: "Overwrite" }));
    await waitFor(() => expect(screen.queryByTestId("conflict-bar")).toBeNull());
    const puts = t.callsTo("PUT", "/v1/fs/file");
    expect(puts.map((p) => (p.body as WriteFileRequest).base_hash)).toEqual([`h${hashOf(ORIGINAL)}`, null]);
    expect(files.get("src/lib.rs")).toBe(`// mine\n${ORIGINAL}`);
    await waitFor(() => expect(tabText()).toEqual(["lib.rs×"]));
  });

  it("on a 409 conflict, reload takes the disk's version", async () => {
    const { files } = await openLib();
    files.set("src/lib.rs", "theirs\n");
    view().dispatch({ changes: { from: 0, insert: "mine\n" } });
    ctrlS();
    await screen.findByTestId("conflict-bar");
    fireEvent.click(screen.getByRole("button", { name: "Reload (discard mine)" }));
    await waitFor(() => expect(view().state.doc.toString()).toBe("theirs\n"));
    expect(screen.queryByTestId("conflict-bar")).toBeNull();
    expect(tabText()).toEqual(["lib.rs×"]);
  });

  it("reloads a clean tab silently when the file changes on disk", async () => {
    const { app, files } = await openLib();
    files.set("src/lib.rs", `${ORIGINAL}fn four() {}\n`);
    app.receive({ type: "fs", workspace: 1, paths: ["src/lib.rs"] });
    await waitFor(() => expect(view().state.doc.toString()).toBe(`${ORIGINAL}fn four() {}\n`));
    expect(screen.queryByTestId("conflict-bar")).toBeNull();
    expect(tabText()).toEqual(["lib.rs×"]);
    // The cursor stays on its line.
    expect(view().state.doc.lineAt(view().state.selection.main.head).number).toBe(2);
  });

  it("flags a dirty tab when the file changes on disk; keep mine overwrites on save", async () => {
    const { app, files, t } = await openLib();
    view().dispatch({ changes: { from: 0, insert: "mine\n" } });
    files.set("src/lib.rs", "theirs\n");
    app.receive({ type: "fs", workspace: 1, paths: ["src/lib.rs", "other.rs"] });
    const bar = await screen.findByTestId("conflict-bar");
    expect(bar.textContent).toContain("changed on disk");
    expect(view().state.doc.toString()).toBe(`mine\n${ORIGINAL}`);
    fireEvent.click(screen.getByRole("button", { name: "Keep mine (overwrite on save)" }));
    expect(screen.queryByTestId("conflict-bar")).toBeNull();
    ctrlS();
    await waitFor(() => expect(files.get("src/lib.rs")).toBe(`mine\n${ORIGINAL}`));
    expect((t.callsTo("PUT", "/v1/fs/file")[0]?.body as WriteFileRequest).base_hash).toBeNull();
  });

  it("does not flag its own save as an external change", async () => {
    const { app, t } = await openLib();
    view().dispatch({ changes: { from: 0, insert: "a" } });
    ctrlS();
    app.receive({ type: "fs", workspace: 1, paths: ["src/lib.rs"] });
    await waitFor(() => expect(t.callsTo("PUT", "/v1/fs/file")).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 30));
    expect(screen.queryByTestId("conflict-bar")).toBeNull();
    expect(tabText()).toEqual(["lib.rs×"]);
  });

  it("flags a file deleted on disk", async () => {
    const { app, files } = await openLib();
    files.delete("src/lib.rs");
    app.receive({ type: "fs", workspace: 1, paths: ["src/lib.rs"] });
    expect((await screen.findByTestId("conflict-bar")).dataset.conflict).toBe("deleted");
  });

  it("shows why a binary file is not opened", async () => {
    const t = workspaceTransport().on("GET", /^\/v1\/fs\/file/, () => {
      throw new ApiError(415, "binary", "logo.png is binary");
    });
    const { app } = await renderApp(t);
    await app.openFile("logo.png");
    expect((await screen.findByRole("alert")).textContent).toContain("binary");
  });

  it("closes tabs, asking before losing unsaved work", async () => {
    let asked = 0;
    const d = disk({ "a.rs": "a", "b.rs": "b" });
    const { app } = await renderApp(d.t, { confirm: () => (asked++, false) });
    await app.openFile("a.rs");
    await app.openFile("b.rs");
    await waitFor(() => expect(view().state.doc.toString()).toBe("b"));
    view().dispatch({ changes: { from: 0, insert: "!" } });
    fireEvent.keyDown(window, { key: "w", code: "KeyW", altKey: true });
    expect(asked).toBe(1);
    expect(tabText()).toEqual(["a.rs×", "b.rs●×"]);
    fireEvent.click(screen.getByRole("button", { name: "Close a.rs" }));
    expect(tabText()).toEqual(["b.rs●×"]);
  });
});
