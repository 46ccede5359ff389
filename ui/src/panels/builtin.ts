// The panels Weft ships with. Later panels (terminal, notes, tasks, chat, graph) register the
// same way.

import { FileTree } from "../components/FileTree";
import { HealthPanel } from "../components/HealthPanel";
import { SearchPanel } from "../components/SearchPanel";
import { registerPanel } from "./registry";

export function registerBuiltinPanels(): void {
  registerPanel({ id: "files", title: "Files", area: "left", component: FileTree, defaultOpen: true, keybinding: "Mod+Shift+E", focus: "tree" });
  registerPanel({ id: "search", title: "Search", area: "left", component: SearchPanel, defaultOpen: true, keybinding: "Mod+Shift+F", focus: "search" });
  registerPanel({ id: "health", title: "Health", area: "bottom", component: HealthPanel, defaultOpen: true, keybinding: "Mod+J", focus: "health" });
}
