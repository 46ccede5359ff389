// The panels Weft ships with. Later panels (notes, tasks, chat, graph) register the same way.

import { FileTree } from "../components/FileTree";
import { GitPanel } from "../components/GitPanel";
import { HistoryPanel } from "../components/HistoryPanel";
import { TerminalPanel } from "../components/TerminalPanel";
import { HealthPanel } from "../components/HealthPanel";
import { SearchPanel } from "../components/SearchPanel";
import { registerPanel } from "./registry";

export function registerBuiltinPanels(): void {
  registerPanel({ id: "files", title: "Files", area: "left", component: FileTree, defaultOpen: true, keybinding: "Mod+Shift+E", focus: "tree" });
  registerPanel({ id: "search", title: "Search", area: "left", component: SearchPanel, defaultOpen: true, keybinding: "Mod+Shift+F", focus: "search" });
  registerPanel({ id: "git", title: "Git", area: "left", component: GitPanel, defaultOpen: true, focus: "git" });
  registerPanel({ id: "health", title: "Health", area: "bottom", component: HealthPanel, defaultOpen: true, keybinding: "Mod+J", focus: "health" });
  registerPanel({ id: "terminal", title: "Terminal", area: "bottom", component: TerminalPanel, defaultOpen: true, focus: "terminal" });
  registerPanel({ id: "history", title: "History", area: "bottom", component: HistoryPanel, defaultOpen: true, focus: "history" });
}
