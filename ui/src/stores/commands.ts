// One registry of commands: the palette lists them, the keyboard runs them, menus and buttons
// call them by id. A keybinding belongs to its command, nowhere else.

import { createSignal } from "solid-js";
import { isMac, matches, parseChord, type Chord } from "../lib/keys";

export interface Command {
  /** Stable id, e.g. `file.save`. */
  id: string;
  /** What the palette shows. */
  title: string;
  /** "Mod+S", "Mod+Shift+P", "Alt+W"...; Mod is Cmd on macOS, Ctrl elsewhere. */
  keybinding?: string;
  /** Whether it can run now (absent: always). */
  enabled?: () => boolean;
  /**
   * Its keybinding works while a terminal has the focus too (others are the shell's there:
   * Ctrl+P, Ctrl+B... mean something to bash, tmux and vim).
   */
  terminal?: boolean;
  /** What it does; a returned promise is awaited for errors. */
  run: () => unknown;
}

interface Entry {
  cmd: Command;
  chord: Chord | null;
}

export function createCommandRegistry(opts: { onError?: (msg: string) => void } = {}) {
  const [entries, setEntries] = createSignal<Entry[]>([]);

  function register(cmd: Command): () => void {
    const entry: Entry = { cmd, chord: cmd.keybinding ? parseChord(cmd.keybinding) : null };
    setEntries((l) => [...l.filter((e) => e.cmd.id !== cmd.id), entry]);
    return () => setEntries((l) => l.filter((e) => e !== entry));
  }

  function run(id: string): boolean {
    const e = entries().find((x) => x.cmd.id === id);
    if (!e || (e.cmd.enabled && !e.cmd.enabled())) return false;
    try {
      const r = e.cmd.run();
      if (r instanceof Promise) {
        r.catch((err: unknown) => opts.onError?.(`${e.cmd.title}: ${err instanceof Error ? err.message : String(err)}`));
      }
    } catch (err) {
      opts.onError?.(`${e.cmd.title}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return true;
  }

  return {
    register,
    /** Every registered command, in registration order. */
    all: (): Command[] => entries().map((e) => e.cmd),
    get: (id: string): Command | undefined => entries().find((e) => e.cmd.id === id)?.cmd,
    run,
    /**
     * Runs the command bound to this key press; true when one ran. A bound key is the app's
     * even while its command cannot run (Ctrl+S with no file open must not save the page).
     */
    handleKey(ev: KeyboardEvent, mac: boolean = isMac(), inTerminal = false): boolean {
      for (const e of entries()) {
        if (inTerminal && !e.cmd.terminal) continue;
        if (e.chord && matches(e.chord, ev, mac)) {
          ev.preventDefault();
          ev.stopPropagation();
          return run(e.cmd.id);
        }
      }
      return false;
    },
  };
}

export type CommandRegistry = ReturnType<typeof createCommandRegistry>;
