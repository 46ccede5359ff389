// Every command of the registry, fuzzy-filtered by title, with its keybinding.

import { Show } from "solid-js";
import { useApp } from "../context";
import { fuzzyFilter } from "../lib/fuzzy";
import { formatChord } from "../lib/keys";
import type { Command } from "../stores/commands";
import { Modal } from "./Modal";
import { Picker } from "./Picker";

export function CommandPalette() {
  const app = useApp();
  const close = () => app.ui.close();
  const items = (q: string): Command[] => {
    const cmds = app.commands.all().filter((c) => c.id !== "palette.open" && (!c.enabled || c.enabled()));
    const titles = cmds.map((c) => c.title);
    return fuzzyFilter(q, titles, undefined, 200)
      .map((h) => cmds[h.index])
      .filter((c): c is Command => c !== undefined);
  };
  return (
    <Modal label="Command palette" onClose={close} testid="command-palette">
      <Picker<Command>
        label="Command"
        placeholder="Type a command"
        items={items}
        onClose={close}
        onPick={(c) => {
          close();
          app.commands.run(c.id);
        }}
        render={(c) => (
          <div class="command-item" data-testid="command-item" data-command={c.id}>
            <span>{c.title}</span>
            <Show when={c.keybinding}>
              <kbd>{formatChord(c.keybinding ?? "")}</kbd>
            </Show>
          </div>
        )}
      />
    </Modal>
  );
}
