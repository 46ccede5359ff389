// Composes one store per domain into the app, and wires them to the stream: messages are
// queued and applied once per animation frame (the latest status and progress win, file
// changes are merged per workspace), so a busy daemon costs one render per frame.
//
// Call inside a reactive root (render() or createRoot): the wiring uses effects.

import { batch, createEffect, createSignal, on, onCleanup } from "solid-js";
import type { Client } from "../api/client";
import { ApiError, describeError } from "../api/errors";
import type { GitMessage, HistoryEntry, IndexStatus, SessionUi, StatusReport, StreamMessage, TermMessage, TreeEvent } from "../api/types";
import { frameQueue, type Schedule } from "../lib/frame";
import { xtermWidget, type TermWidgetFactory } from "../lib/termWidget";
import { createGitStore } from "./git";
import { createHistoryStore } from "./history";
import { createSessionStore, type OpenFile } from "./session";
import { createTerminalsStore } from "./terminals";
import { createCommandRegistry } from "./commands";
import { createEditorStore, type EditorOptions, type RevealTarget, type TabRef } from "./editor";
import { createFilesStore } from "./files";
import { createHealthStore } from "./health";
import { createIndexStore } from "./indexProgress";
import { createLayoutStore, type Theme } from "./layout";
import { createNoticesStore } from "./notices";
import { createSearchStore } from "./search";
import { createTreeStore } from "./tree";
import { createUiStore } from "./ui";
import { createWorkspaceStore } from "./workspace";

export interface AppDeps {
  client: Client;
  /** How stream updates are coalesced (default: one flush per animation frame). */
  schedule?: Schedule;
  editor?: EditorOptions;
  layoutDelayMs?: number;
  /** The daemon refused the token (main.tsx forgets the stored one). */
  onAuthFailed?: () => void;
  /** The terminal emulator (xterm.js by default; tests pass a fake). */
  termWidget?: TermWidgetFactory;
  sessionDelayMs?: number;
}

export function createApp(deps: AppDeps) {
  const { client } = deps;
  const notices = createNoticesStore();
  const health = createHealthStore();
  const index = createIndexStore();
  const workspace = createWorkspaceStore(client, notices);
  const tree = createTreeStore(client);
  const files = createFilesStore(client);
  const editor = createEditorStore(client, notices, deps.editor);
  const search = createSearchStore(client, workspace.id);
  const layout = createLayoutStore(client, { delayMs: deps.layoutDelayMs, onError: notices.error });
  const commands = createCommandRegistry({ onError: notices.error });
  const ui = createUiStore();
  const terminals = createTerminalsStore(client, notices);
  const history = createHistoryStore(client);
  const git = createGitStore(client, workspace.id);
  const session = createSessionStore(client, { delayMs: deps.sessionDelayMs, onError: notices.error });
  const [ready, setReady] = createSignal(false);
  const [authFailed, setAuthFailed] = createSignal(false);
  let lastGeneration = -1;
  let everConnected = false;
  let unsubscribe: (() => void) | null = null;

  function setIndex(s: IndexStatus) {
    index.set(s);
    if (s.generation !== lastGeneration) {
      if (lastGeneration !== -1) search.onIndexChanged();
      lastGeneration = s.generation;
    }
  }

  function applyReport(r: StatusReport) {
    health.applyReport(r);
    if (r.index) setIndex(r.index);
  }

  /** Applies one frame's worth of stream messages. */
  function apply(items: StreamMessage[]) {
    let report: StatusReport | null = null;
    let latestIndex: IndexStatus | null = null;
    const events: TreeEvent[] = [];
    const fs = new Map<number, Set<string>>();
    const terms: TermMessage[] = [];
    const gits: GitMessage[] = [];
    for (const m of items) {
      switch (m.type) {
        case "status":
          report = m.report;
          if (m.report.index) latestIndex = m.report.index;
          break;
        case "progress":
          latestIndex = m.index;
          break;
        case "event":
          events.push(m.event);
          break;
        case "fs": {
          let set = fs.get(m.workspace);
          if (!set) fs.set(m.workspace, (set = new Set()));
          for (const p of m.paths) set.add(p);
          break;
        }
        case "term":
          terms.push(m);
          break;
        case "git":
          gits.push(m);
          break;
      }
    }
    batch(() => {
      if (report) health.applyReport(report);
      if (latestIndex) setIndex(latestIndex);
      health.addEvents(events);
      for (const m of terms) {
        terminals.onStream(m);
        if (m.event === "command" && m.entry) history.onCommand(m.entry);
      }
      for (const m of gits) git.onGit(m);
    });
    for (const ws of fs.keys()) git.onFs(ws);
    for (const [ws, set] of fs) {
      const paths = [...set];
      void tree.onFs(ws, paths);
      void editor.onFs(ws, paths);
      files.onFs(ws, paths);
    }
  }

  const queue = frameQueue(apply, deps.schedule);

  async function refreshStatus(): Promise<void> {
    const [st, ix] = await Promise.allSettled([client.status(), client.indexStatus()]);
    if (st.status === "fulfilled") applyReport(st.value);
    else if (st.reason instanceof ApiError && st.reason.code === "unauthorized") {
      setAuthFailed(true);
      deps.onAuthFailed?.();
    } else notices.error(`Could not read the daemon's status: ${describeError(st.reason)}`);
    if (ix.status === "fulfilled") setIndex(ix.value);
  }

  function onConnection(connected: boolean) {
    health.setConnected(connected);
    if (!connected) return;
    if (everConnected) {
      // Back after a gap: anything may have changed meanwhile.
      void refreshStatus();
      void tree.refreshAll();
      void editor.checkAll();
      const ws = workspace.id();
      if (ws !== null) files.onFs(ws);
      if (terminals.loaded()) void terminals.load(true);
      if (history.loaded()) void history.run();
      if (git.loaded()) void git.load();
    }
    everConnected = true;
  }

  // A new workspace: its tree, its file list, and search scoped to it.
  createEffect(
    on(workspace.id, (id) => {
      void tree.reset(id);
      git.reset();
      files.reset(id);
      // Its index state now, not what the last message said before it was opened.
      if (id !== null) client.indexStatus().then(setIndex, () => {});
      if (search.query().trim() !== "") void search.run();
    }),
  );

  // The session is part of the layout.
  createEffect(() => {
    const active = editor.activeTab();
    const activeRef: TabRef | null = active ? { workspace: active.workspace, path: active.path } : null;
    layout.setSession(workspace.id(), editor.refs(), activeRef);
  });

  /** What the core's session keeps of this UI. */
  function sessionUi(): SessionUi {
    const active = editor.activeTab();
    editor.cursor();
    const openFiles: OpenFile[] = editor.tabs().map((t) => {
      const st = editor.docState(t.id);
      if (!st) return { workspace: t.workspace, path: t.path, line: 1, col: 1 };
      const head = st.selection.main.head;
      const line = st.doc.lineAt(head);
      return { workspace: t.workspace, path: t.path, line: line.number, col: head - line.from + 1 };
    });
    return {
      layout: JSON.parse(JSON.stringify(layout.state)) as unknown,
      open_files: openFiles,
      active_file: active?.path ?? null,
      active_panel: layout.lastPanel(),
    };
  }
  createEffect(() => session.changed(sessionUi()));

  // The theme: an explicit choice, or the system's.
  createEffect(() => applyTheme(layout.state.theme));

  /** Connects the stream, restores the layout and the session. */
  async function start(): Promise<void> {
    unsubscribe?.();
    unsubscribe = client.subscribe((m) => queue.push(m), onConnection);
    const [stored, sess] = await Promise.all([layout.restore(), session.restore(), refreshStatus(), workspace.loadRecent()]);
    // The core's session wins over the ui-state layout (it also has the cursors).
    let snap = stored;
    if (sess?.layout) {
      snap = sess.layout;
      layout.adopt(snap);
    }
    if (snap.workspace !== null) {
      const ws = workspace.recent().find((w) => w.id === snap.workspace);
      if (ws && (await workspace.select(ws))) {
        const tabs = snap.tabs.filter((t) => t.workspace === ws.id);
        await Promise.all(tabs.map((t) => editor.open(t.workspace, t.path, undefined, false)));
        const act = snap.activeTab;
        const target = act && tabs.some((t) => t.path === act.path) ? act : tabs[0];
        if (target) {
          const at = sess?.openFiles.find((f) => f.workspace === target.workspace && f.path === target.path);
          if (at && (at.line > 1 || at.col > 1)) await editor.open(target.workspace, target.path, { line: at.line, col: at.col });
          else editor.activate(`${target.workspace}:${target.path}`);
        }
      }
    }
    layout.startAutosave();
    session.startAutosave();
    setReady(true);
  }

  onCleanup(() => {
    unsubscribe?.();
    search.dispose();
    layout.flush();
    layout.dispose();
    session.flush();
    session.dispose();
    history.dispose();
    git.dispose();
  });

  return {
    client,
    notices,
    health,
    index,
    workspace,
    tree,
    files,
    editor,
    search,
    layout,
    commands,
    ui,
    terminals,
    history,
    git,
    session,
    termWidget: deps.termWidget ?? xtermWidget,
    ready,
    /** The daemon refused our token: the page needs a fresh link. */
    authFailed,
    start,
    refreshStatus,
    /** Applies queued stream messages now (tests and teardown). */
    drainStream: () => queue.drain(),
    /** Feeds one stream message (as the transport would). */
    receive: (m: StreamMessage) => queue.push(m),
    /** A command finished in a terminal (its connection says so, as does the stream). */
    onCommand: (e: HistoryEntry) => history.onCommand(e),
    /** Opens a file (of the current workspace by default) at a line, and shows it in the tree. */
    async openFile(path: string, at?: number | RevealTarget, ws: number | null = workspace.id()) {
      if (ws === null) return;
      const p = editor.open(ws, path, at);
      if (ws === workspace.id()) void tree.reveal(path);
      await p;
      ui.requestFocus("editor");
    },
  };
}

export type App = ReturnType<typeof createApp>;

let mediaCleanup: (() => void) | null = null;

/** Sets `data-theme` on the root element; "system" follows prefers-color-scheme live. */
export function applyTheme(theme: Theme) {
  if (typeof document === "undefined") return;
  mediaCleanup?.();
  mediaCleanup = null;
  const root = document.documentElement;
  if (theme !== "system") {
    root.dataset.theme = theme;
    return;
  }
  const mq = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  const set = () => {
    root.dataset.theme = mq && !mq.matches ? "light" : "dark";
  };
  set();
  if (mq) {
    mq.addEventListener("change", set);
    mediaCleanup = () => mq.removeEventListener("change", set);
  }
}

/** The theme a toggle switches to from what is shown now. */
export function toggledTheme(): Theme {
  if (typeof document === "undefined") return "dark";
  return document.documentElement.dataset.theme === "dark" ? "light" : "dark";
}
