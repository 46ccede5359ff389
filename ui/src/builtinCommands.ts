// Weft's commands: everything the keyboard, the palette and the menus can do, each declared
// once with its keybinding.

import { describeError } from "./api/errors";
import { allPanels, showPanel, togglePanel } from "./panels/registry";
import { toggledTheme, type App } from "./stores/app";
import type { Command } from "./stores/commands";

export function builtinCommands(app: App): Command[] {
  const hasWs = () => app.workspace.id() !== null;
  const hasTab = () => app.editor.activeTab() !== undefined;
  const cmds: Command[] = [
    { id: "palette.open", title: "Show All Commands", keybinding: "Mod+Shift+P", terminal: true, run: () => app.ui.toggle("palette") },
    { id: "terminal.focus", title: "Terminal: Focus", keybinding: "Ctrl+`", terminal: true, run: () => focusTerminal(app) },
    { id: "terminal.new", title: "Terminal: New", keybinding: "Ctrl+Shift+`", terminal: true, run: () => newTerminal(app) },
    {
      id: "terminal.close",
      title: "Terminal: Close",
      enabled: () => app.terminals.active() !== null,
      run: () => app.terminals.close(),
    },
    { id: "terminal.next", title: "Terminal: Next", keybinding: "Ctrl+PageDown", terminal: true, enabled: () => app.terminals.tabs().length > 1, run: () => app.terminals.cycle(1) },
    { id: "terminal.prev", title: "Terminal: Previous", keybinding: "Ctrl+PageUp", terminal: true, enabled: () => app.terminals.tabs().length > 1, run: () => app.terminals.cycle(-1) },
    { id: "terminal.history", title: "Terminal: Show History", run: () => showPanel(app, "history") },
    { id: "git.show", title: "Git: Show Changes", run: () => showPanel(app, "git") },
    { id: "quickOpen", title: "Go to File…", keybinding: "Mod+P", enabled: hasWs, run: () => app.ui.toggle("quickOpen") },
    { id: "workspace.open", title: "Open Workspace…", keybinding: "Mod+O", run: () => app.ui.open("workspace") },
    { id: "search.focus", title: "Search in Workspace", keybinding: "Mod+Shift+F", run: () => showPanel(app, "search") },
    { id: "file.save", title: "Save", keybinding: "Mod+S", enabled: hasTab, run: () => app.editor.save() },
    { id: "file.reload", title: "Reload File from Disk", enabled: hasTab, run: () => app.editor.reload() },
    { id: "tab.close", title: "Close Tab", keybinding: "Alt+W", enabled: hasTab, run: () => app.editor.close() },
    { id: "tab.next", title: "Next Tab", keybinding: "Alt+]", enabled: hasTab, run: () => app.editor.cycle(1) },
    { id: "tab.prev", title: "Previous Tab", keybinding: "Alt+[", enabled: hasTab, run: () => app.editor.cycle(-1) },
    { id: "focus.editor", title: "Focus Editor", enabled: hasTab, run: () => app.ui.requestFocus("editor") },
    { id: "theme.toggle", title: "Toggle Dark/Light Theme", run: () => app.layout.setTheme(toggledTheme()) },
    { id: "theme.system", title: "Theme: Follow the System", run: () => app.layout.setTheme("system") },
    {
      id: "area.left.toggle",
      title: "Toggle Sidebar",
      keybinding: "Mod+B",
      run: () => app.layout.setCollapsed("left", !app.layout.isCollapsed("left")),
    },
    { id: "index.rescan", title: "Rescan Index", enabled: hasWs, run: () => rescan(app) },
    { id: "index.details", title: "Show Index Details", run: () => app.ui.open("indexDetails") },
    { id: "tree.refresh", title: "Refresh File Tree", enabled: hasWs, run: () => app.tree.refreshAll() },
    { id: "dev.kill", title: "Developer: Kill an Actor (fault injection)…", run: () => killActor(app) },
  ];
  for (const p of allPanels()) {
    cmds.push({
      id: `panel.${p.id}.toggle`,
      title: `Toggle ${p.title} Panel`,
      keybinding: p.keybinding,
      run: () => togglePanel(app, p.id),
    });
  }
  return cmds;
}

/** Shows the terminal panel and focuses the active terminal, opening one when there is none. */
async function focusTerminal(app: App) {
  showPanel(app, "terminal");
  await app.terminals.load();
  if (app.terminals.tabs().length === 0 && !app.terminals.unavailable()) await app.terminals.open();
  app.ui.requestFocus("terminal");
}

async function newTerminal(app: App) {
  showPanel(app, "terminal");
  const id = await app.terminals.open();
  if (id !== null) app.ui.requestFocus("terminal");
}

async function rescan(app: App) {
  const ws = app.workspace.id();
  if (ws === null) return;
  try {
    await app.client.rescan(ws);
    app.notices.info("Rescanning the workspace.");
  } catch (e) {
    app.notices.error(`Rescan failed: ${describeError(e)}`);
  }
}

async function killActor(app: App) {
  const path = typeof window !== "undefined" ? window.prompt("Path of the actor to kill (e.g. root/storage):") : null;
  if (!path) return;
  try {
    await app.client.kill(path.trim());
    app.notices.info(`Killed ${path.trim()}; its supervisor decides what happens next.`);
  } catch (e) {
    app.notices.error(`Kill failed: ${describeError(e)}`);
  }
}

/** Registers every built-in command; returns the function that removes them. */
export function registerBuiltinCommands(app: App): () => void {
  const offs = builtinCommands(app).map((c) => app.commands.register(c));
  return () => offs.forEach((off) => off());
}
