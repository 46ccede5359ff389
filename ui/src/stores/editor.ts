// Editor tabs: each open file's CodeMirror state, its hash on disk, whether it is dirty, and
// what to do when the disk and the buffer disagree.
//
// The store owns the documents; the one EditorView shows the active tab's state and hands
// every update back (`onViewUpdate`). Changes made by the store (a reload) go through the
// view when it shows that tab, so cursor, scroll and undo history survive.
//
// Saving sends the hash the buffer was loaded from; the core refuses with `conflict` when the
// file changed since, and the tab then offers Reload or Overwrite. External changes reported
// on the stream reload a clean tab silently and flag a dirty one.

import type { EditorState, Text, TransactionSpec } from "@codemirror/state";
import { batch, createSignal } from "solid-js";
import { createStore } from "solid-js/store";
import type { Client } from "../api/client";
import { ApiError, describeError } from "../api/errors";
import type { FileContent } from "../api/types";
import { loadLanguage } from "../editor/languages";
import { createDocState } from "../editor/setup";
import { langOfPath, normalizeLang, type LangName } from "../lib/lang";
import { basename } from "../lib/paths";
import type { NoticesStore } from "./notices";

/** Why the buffer and the disk disagree. */
export type Conflict =
  /** Changed on disk while the tab had unsaved edits. */
  | "changed"
  /** Deleted on disk. */
  | "deleted"
  /** A save was refused: the disk changed since the buffer was loaded. */
  | "save";

export interface Tab {
  id: string;
  workspace: number;
  path: string;
  title: string;
  lang: LangName;
  /** The disk's hash when the buffer was loaded or last saved (null: not loaded). */
  hash: string | null;
  dirty: boolean;
  loading: boolean;
  saving: boolean;
  conflict: Conflict | null;
  /** "Keep mine": the next save overwrites whatever is on disk. */
  overwrite: boolean;
  /** Why the file cannot be shown (binary, too large, not found...). */
  error: string | null;
}

/**
 * Where to put the cursor when opening: a line, or (with `symbol`) the first line from `line`
 * to `endLine` that names the symbol — a search hit's chunk may start at the doc comment or
 * attributes above a definition, and the cursor belongs on the definition.
 */
export interface RevealTarget {
  line: number;
  /** 1-based column: the cursor goes there instead of selecting the line. */
  col?: number;
  symbol?: string | null;
  endLine?: number;
}

export interface TabRef {
  workspace: number;
  path: string;
}

interface Doc {
  state: EditorState;
  /** The document as last loaded or saved. */
  saved: Text;
}

/** Asks before throwing away unsaved work. */
export type Confirm = (message: string) => boolean;

export interface EditorOptions {
  makeState?: (content: string, lang: LangName) => Promise<EditorState>;
  confirm?: Confirm;
}

export function tabId(workspace: number, path: string): string {
  return `${workspace}:${path}`;
}

/** The smallest single replacement that turns `old` into `next` (keeps cursors in place). */
export function diffReplace(old: string, next: string): { from: number; to: number; insert: string } {
  let start = 0;
  const max = Math.min(old.length, next.length);
  while (start < max && old.charCodeAt(start) === next.charCodeAt(start)) start++;
  let endOld = old.length;
  let endNew = next.length;
  while (endOld > start && endNew > start && old.charCodeAt(endOld - 1) === next.charCodeAt(endNew - 1)) {
    endOld--;
    endNew--;
  }
  return { from: start, to: endOld, insert: next.slice(start, endNew) };
}

async function defaultMakeState(content: string, lang: LangName): Promise<EditorState> {
  return createDocState(content, await loadLanguage(lang));
}

const browserConfirm: Confirm = (message) =>
  typeof window !== "undefined" && typeof window.confirm === "function" ? window.confirm(message) : true;

export function createEditorStore(client: Client, notices: NoticesStore, opts: EditorOptions = {}) {
  const makeState = opts.makeState ?? defaultMakeState;
  const confirm = opts.confirm ?? browserConfirm;
  const [state, setState] = createStore<{ tabs: Tab[]; active: string | null }>({ tabs: [], active: null });
  const docs = new Map<string, Doc>();
  const [reveal, setReveal] = createSignal<(RevealTarget & { id: string; nonce: number }) | null>(null);
  const [cursor, setCursor] = createSignal<{ line: number; col: number } | null>(null);
  // Bumped when a tab's document is replaced without the view (the view must take it again).
  const [docVersion, setDocVersion] = createSignal(0);
  /** The view, while it shows a tab: store-made changes go through it. */
  let view: { id: () => string | null; dispatch: (spec: TransactionSpec) => void } | null = null;
  // Tabs whose disk check was deferred until their save finished.
  const recheck = new Set<string>();
  let nonce = 0;

  const find = (id: string) => state.tabs.find((t) => t.id === id);
  const patch = (id: string, p: Partial<Tab>) =>
    setState("tabs", (t) => t.id === id, p);


  /** Applies a change to a tab's document, through the view when it shows the tab. */
  function change(id: string, spec: TransactionSpec) {
    const doc = docs.get(id);
    if (!doc) return;
    if (view && view.id() === id) {
      view.dispatch(spec);
    } else {
      doc.state = doc.state.update(spec).state;
      setDocVersion((v) => v + 1);
    }
  }

  async function load(id: string, ws: number, path: string): Promise<void> {
    try {
      const content = await client.readFile(ws, path);
      if (!find(id)) return;
      const lang = normalizeLang(content.lang) ?? langOfPath(path);
      const st = await makeState(content.content, lang);
      if (!find(id)) return;
      docs.set(id, { state: st, saved: st.doc });
      patch(id, { loading: false, hash: content.hash, lang, error: null, dirty: false });
      setDocVersion((v) => v + 1);
    } catch (e) {
      patch(id, { loading: false, error: loadError(e) });
    }
  }

  function loadError(e: unknown): string {
    if (e instanceof ApiError) {
      switch (e.code) {
        case "binary":
          return "This is a binary file; it is not shown.";
        case "too_large":
          return `This file is too large to open here. ${e.message}`;
        case "not_found":
          return "This file does not exist (any more).";
        case "outside_workspace":
          return "This path is outside the workspace.";
      }
    }
    return `Could not open the file: ${describeError(e)}`;
  }

  function activate(id: string | null) {
    setState("active", id);
  }

  /** Opens a file (or switches to its tab) and, with `at`, puts the cursor on that line. */
  async function open(ws: number, path: string, at?: number | RevealTarget, activateTab = true): Promise<void> {
    const target: RevealTarget | undefined = typeof at === "number" ? { line: at } : at;
    const id = tabId(ws, path);
    if (!find(id)) {
      const tab: Tab = {
        id,
        workspace: ws,
        path,
        title: basename(path),
        lang: langOfPath(path),
        hash: null,
        dirty: false,
        loading: true,
        saving: false,
        conflict: null,
        overwrite: false,
        error: null,
      };
      setState("tabs", (tabs) => [...tabs, tab]);
      if (activateTab) activate(id);
      if (target) setReveal({ ...target, id, nonce: ++nonce });
      await load(id, ws, path);
      return;
    }
    if (activateTab) activate(id);
    if (target) setReveal({ ...target, id, nonce: ++nonce });
  }

  function close(id: string | null = state.active, force = false): boolean {
    if (id === null) return false;
    const tab = find(id);
    if (!tab) return false;
    if (tab.dirty && !force && !confirm(`${tab.path} has unsaved changes. Close it and lose them?`)) {
      return false;
    }
    const idx = state.tabs.findIndex((t) => t.id === id);
    batch(() => {
      setState("tabs", (tabs) => tabs.filter((t) => t.id !== id));
      if (state.active === id) {
        const next = state.tabs[Math.min(idx, state.tabs.length - 1)];
        activate(next?.id ?? null);
      }
    });
    docs.delete(id);
    recheck.delete(id);
    return true;
  }

  async function save(id: string | null = state.active): Promise<boolean> {
    if (id === null) return false;
    const tab = find(id);
    const doc = docs.get(id);
    if (!tab || !doc || tab.saving || tab.loading) return false;
    const snapshot = doc.state.doc;
    const base = tab.overwrite ? null : tab.hash;
    patch(id, { saving: true });
    try {
      const res = await client.writeFile(tab.workspace, tab.path, snapshot.toString(), base);
      const cur = docs.get(id);
      if (cur) cur.saved = snapshot;
      patch(id, {
        saving: false,
        hash: res.hash,
        overwrite: false,
        conflict: null,
        dirty: cur ? !cur.state.doc.eq(snapshot) : false,
      });
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.code === "conflict") {
        patch(id, { saving: false, conflict: "save" });
      } else {
        patch(id, { saving: false });
        notices.error(`Could not save ${tab.path}: ${describeError(e)}`);
      }
      return false;
    } finally {
      if (recheck.delete(id)) void check(id);
    }
  }

  /** Replaces the buffer with the disk's content. */
  async function reload(id: string | null = state.active): Promise<void> {
    if (id === null) return;
    const tab = find(id);
    if (!tab) return;
    try {
      const content = await client.readFile(tab.workspace, tab.path);
      applyDisk(id, content);
    } catch (e) {
      if (e instanceof ApiError && e.code === "not_found") patch(id, { conflict: "deleted" });
      else notices.error(`Could not reload ${tab.path}: ${describeError(e)}`);
    }
  }

  function applyDisk(id: string, content: FileContent) {
    const doc = docs.get(id);
    if (!doc) {
      void load(id, find(id)?.workspace ?? 0, content.path);
      return;
    }
    const old = doc.state.doc.toString();
    if (old !== content.content) change(id, { changes: diffReplace(old, content.content) });
    const cur = docs.get(id);
    if (cur) cur.saved = cur.state.doc;
    patch(id, { hash: content.hash, dirty: false, conflict: null, overwrite: false, error: null });
  }

  /** Keeps the buffer: the next save overwrites the disk (a refused save is retried now). */
  async function keepMine(id: string | null = state.active): Promise<void> {
    if (id === null) return;
    const tab = find(id);
    if (!tab) return;
    const retry = tab.conflict === "save";
    patch(id, { conflict: null, overwrite: true });
    if (retry) await save(id);
  }

  /** Compares a tab with the disk after a change was reported. */
  async function check(id: string): Promise<void> {
    const tab = find(id);
    if (!tab || tab.loading) return;
    if (tab.saving) {
      // Our own write is landing: look again once the save has its new hash.
      recheck.add(id);
      return;
    }
    if (tab.error !== null) {
      await load(id, tab.workspace, tab.path);
      return;
    }
    let content: FileContent;
    try {
      content = await client.readFile(tab.workspace, tab.path);
    } catch (e) {
      if (e instanceof ApiError && e.code === "not_found") patch(id, { conflict: "deleted" });
      return;
    }
    const now = find(id);
    if (!now || now.saving) return;
    if (content.hash === now.hash) {
      if (now.conflict === "deleted") patch(id, { conflict: null });
      return;
    }
    if (now.dirty) patch(id, { conflict: "changed" });
    else applyDisk(id, content);
  }

  return {
    state,
    tabs: () => state.tabs,
    active: () => state.active,
    activeTab: () => (state.active === null ? undefined : find(state.active)),
    reveal,
    cursor,
    docVersion,
    open,
    activate,
    close,
    save,
    reload,
    keepMine,
    check,
    /** The state to show for a tab (undefined while loading). */
    docState(id: string): EditorState | undefined {
      return docs.get(id)?.state;
    },
    /** The view reports every update of the tab it shows. */
    onViewUpdate(id: string, st: EditorState, docChanged: boolean) {
      const doc = docs.get(id);
      if (!doc) return;
      doc.state = st;
      const head = st.selection.main.head;
      const line = st.doc.lineAt(head);
      setCursor({ line: line.number, col: head - line.from + 1 });
      if (!docChanged) return;
      const dirty = st.doc.length === doc.saved.length ? !st.doc.eq(doc.saved) : true;
      const tab = find(id);
      if (tab && tab.dirty !== dirty) patch(id, { dirty });
    },
    /** The view binds itself; returns the unbinding function. */
    bindView(v: { id: () => string | null; dispatch: (spec: TransactionSpec) => void }) {
      view = v;
      return () => {
        if (view === v) view = null;
      };
    },
    /** The stream reported changes in `ws`: check the open files among them. */
    async onFs(ws: number, paths: readonly string[]): Promise<void> {
      const all = paths.includes("");
      const set = new Set(paths);
      await Promise.all(
        state.tabs.filter((t) => t.workspace === ws && (all || set.has(t.path))).map((t) => check(t.id)),
      );
    },
    /** Checks every tab (after a reconnect, when changes may have been missed). */
    async checkAll(): Promise<void> {
      await Promise.all(state.tabs.map((t) => check(t.id)));
    },
    /** Switches to the next (+1) or previous (-1) tab. */
    cycle(step: 1 | -1) {
      const n = state.tabs.length;
      if (n === 0) return;
      const idx = state.tabs.findIndex((t) => t.id === state.active);
      const next = state.tabs[(((idx + step) % n) + n) % n];
      if (next) activate(next.id);
    },
    /** Tabs as the layout stores them. */
    refs(): TabRef[] {
      return state.tabs.map((t) => ({ workspace: t.workspace, path: t.path }));
    },
    /** Closes every tab (asking about unsaved ones unless forced). */
    closeAll(force = false) {
      for (const t of [...state.tabs]) close(t.id, force);
    },
  };
}

export type EditorStore = ReturnType<typeof createEditorStore>;
