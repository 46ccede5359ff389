// Terminal tabs: which terminals exist (from `GET /v1/terms`, the stream and this UI), their
// titles, cwds and exit states, and the active one. The output never passes through here:
// each tab's view attaches to its terminal and writes straight into xterm.

import { batch, createSignal } from "solid-js";
import { createStore } from "solid-js/store";
import type { Client } from "../api/client";
import { ApiError, describeError } from "../api/errors";
import type { TermControl, TermInfo, TermMessage } from "../api/types";
import type { NoticesStore } from "./notices";

export interface TermTab {
  id: number;
  title: string;
  shell: string;
  cwd: string;
  alive: boolean;
  exitCode: number | null;
  endReason: string | null;
  /** Whether the view's connection is up. */
  connected: boolean;
  /** Output the core skipped for this client (it fell behind). */
  dropped: number;
}

function tabOf(info: TermInfo): TermTab {
  return {
    id: info.id,
    title: info.title || info.shell.split("/").pop() || `terminal ${info.id}`,
    shell: info.shell,
    cwd: info.cwd,
    alive: info.alive,
    exitCode: info.exit_code,
    endReason: info.end_reason,
    connected: false,
    dropped: 0,
  };
}

/** The message for a daemon without terminals (an older core, or the feature is off). */
export function unavailableMessage(e: unknown): string {
  if (e instanceof ApiError && (e.status === 404 || e.status === 405 || e.status === 501)) {
    return "This Weft daemon has no terminals (its API answered “not found”). Update the core to use terminals here.";
  }
  return `Terminals are unavailable: ${describeError(e)}`;
}

export function createTerminalsStore(client: Client, notices: NoticesStore) {
  const [state, setState] = createStore<{ tabs: TermTab[]; active: number | null }>({ tabs: [], active: null });
  const [unavailable, setUnavailable] = createSignal<string | null>(null);
  const [loaded, setLoaded] = createSignal(false);
  const [opening, setOpening] = createSignal(false);
  let loading: Promise<void> | null = null;

  const find = (id: number) => state.tabs.find((t) => t.id === id);
  const patch = (id: number, p: Partial<TermTab>) => setState("tabs", (t) => t.id === id, p);

  function add(info: TermInfo, activate: boolean) {
    batch(() => {
      if (find(info.id)) patch(info.id, { alive: info.alive, exitCode: info.exit_code, endReason: info.end_reason, cwd: info.cwd });
      else setState("tabs", (tabs) => [...tabs, tabOf(info)]);
      if (activate || state.active === null) setState("active", info.id);
    });
  }

  /** Lists the terminals the core has (restored ones included); once, unless `force`. */
  function load(force = false): Promise<void> {
    if (loading && !force) return loading;
    loading = (async () => {
      try {
        const list = await client.listTerminals();
        setUnavailable(null);
        batch(() => {
          const known = new Set(list.map((t) => t.id));
          for (const t of list) add(t, false);
          // Terminals that are gone from the core (it restarted): mark them ended.
          for (const t of state.tabs) if (!known.has(t.id) && t.alive) patch(t.id, { alive: false, endReason: "gone" });
        });
      } catch (e) {
        setUnavailable(unavailableMessage(e));
      } finally {
        setLoaded(true);
      }
    })();
    return loading;
  }

  /** Opens a terminal (at the workspace root unless `cwd`) and makes it active. */
  async function open(cwd?: string): Promise<number | null> {
    setOpening(true);
    try {
      const info = await client.openTerminal(cwd ? { cwd } : {});
      setUnavailable(null);
      add(info, true);
      return info.id;
    } catch (e) {
      const msg = unavailableMessage(e);
      if (e instanceof ApiError && e.status === 404) setUnavailable(msg);
      notices.error(`Could not open a terminal: ${describeError(e)}`);
      return null;
    } finally {
      setOpening(false);
    }
  }

  /** Removes a tab; a live terminal is ended. */
  async function close(id: number | null = state.active): Promise<void> {
    if (id === null) return;
    const tab = find(id);
    if (!tab) return;
    const idx = state.tabs.findIndex((t) => t.id === id);
    batch(() => {
      setState("tabs", (tabs) => tabs.filter((t) => t.id !== id));
      if (state.active === id) setState("active", state.tabs[Math.min(idx, state.tabs.length - 1)]?.id ?? null);
    });
    if (tab.alive) {
      try {
        await client.closeTerminal(id);
      } catch (e) {
        if (!(e instanceof ApiError && e.notFound)) notices.error(`Could not close the terminal: ${describeError(e)}`);
      }
    }
  }

  function applyControl(id: number, m: TermControl) {
    switch (m.type) {
      case "exit":
        patch(id, { alive: false, exitCode: m.code, endReason: m.reason });
        break;
      case "cwd":
        patch(id, { cwd: m.cwd });
        break;
      case "title":
        if (m.title.trim() !== "") patch(id, { title: m.title });
        break;
      case "dropped":
        patch(id, { dropped: (find(id)?.dropped ?? 0) + m.bytes });
        break;
      case "command":
        break;
    }
  }

  return {
    state,
    tabs: () => state.tabs,
    active: () => state.active,
    activeTab: () => (state.active === null ? undefined : find(state.active)),
    get: find,
    unavailable,
    loaded,
    opening,
    load,
    open,
    close,
    activate: (id: number) => setState("active", id),
    /** Switches to the next (+1) or previous (-1) terminal. */
    cycle(step: 1 | -1) {
      const n = state.tabs.length;
      if (n === 0) return;
      const i = state.tabs.findIndex((t) => t.id === state.active);
      const next = state.tabs[(((i + step) % n) + n) % n];
      if (next) setState("active", next.id);
    },
    setConnected: (id: number, connected: boolean) => {
      if (find(id)?.connected !== connected) patch(id, { connected });
    },
    applyControl,
    /** A `term` stream message. */
    onStream(m: TermMessage) {
      if (!loaded()) return;
      switch (m.event) {
        case "opened":
          if (m.info) add(m.info, false);
          else if (!find(m.term)) void load(true);
          break;
        case "exited":
          if (find(m.term)) patch(m.term, { alive: false, exitCode: m.code ?? null });
          break;
        case "cwd":
          if (typeof m.cwd === "string" && find(m.term)) patch(m.term, { cwd: m.cwd });
          break;
      }
    },
    /**
     * Types a command (and Enter) into the active live terminal, opening one when there is
     * none; returns the terminal's id.
     */
    async run(command: string): Promise<number | null> {
      await load();
      let tab = state.active === null ? undefined : find(state.active);
      if (!tab?.alive) tab = state.tabs.find((t) => t.alive);
      const id = tab ? tab.id : await open();
      if (id === null) return null;
      setState("active", id);
      try {
        await client.termInput(id, `${command}\r`);
        return id;
      } catch (e) {
        notices.error(`Could not run the command: ${describeError(e)}`);
        return null;
      }
    },
  };
}

export type TerminalsStore = ReturnType<typeof createTerminalsStore>;
