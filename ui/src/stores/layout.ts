// The layout: split sizes, which panels are open, the theme, and the session (workspace, open
// tabs, active tab). Saved with putUiState("layout") 500 ms after the last change, restored
// at start.

import { createSignal } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import type { Client } from "../api/client";
import { describeError } from "../api/errors";
import { debounce } from "../lib/debounce";
import type { TabRef } from "./editor";

export type Theme = "system" | "dark" | "light";
export type Area = "left" | "bottom" | "right";
export const AREAS: readonly Area[] = ["left", "bottom", "right"];

export const LAYOUT_KEY = "layout";
export const LAYOUT_SAVE_MS = 500;

export interface LayoutSnapshot {
  version: 1;
  /** Split sizes in px, by split id. */
  sizes: Record<string, number>;
  /** Panels opened or closed by the user, by panel id (others use their default). */
  panels: Record<string, boolean>;
  /** The panel shown in each area. */
  active: Partial<Record<Area, string>>;
  /** Areas hidden as a whole. */
  collapsed: Partial<Record<Area, boolean>>;
  theme: Theme;
  workspace: number | null;
  tabs: TabRef[];
  activeTab: TabRef | null;
}

export function defaultLayout(): LayoutSnapshot {
  return {
    version: 1,
    sizes: {},
    panels: {},
    active: {},
    collapsed: {},
    theme: "system",
    workspace: null,
    tabs: [],
    activeTab: null,
  };
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function tabRef(v: unknown): TabRef | null {
  if (!isObj(v) || typeof v.workspace !== "number" || typeof v.path !== "string") return null;
  return { workspace: v.workspace, path: v.path };
}

/** Reads a stored layout field by field; whatever is malformed falls back to the default. */
export function parseLayout(v: unknown): LayoutSnapshot {
  const out = defaultLayout();
  if (!isObj(v)) return out;
  if (isObj(v.sizes)) {
    for (const [k, n] of Object.entries(v.sizes)) {
      if (typeof n === "number" && Number.isFinite(n) && n >= 0) out.sizes[k] = n;
    }
  }
  if (isObj(v.panels)) {
    for (const [k, b] of Object.entries(v.panels)) if (typeof b === "boolean") out.panels[k] = b;
  }
  if (isObj(v.active)) {
    for (const a of AREAS) {
      const id = v.active[a];
      if (typeof id === "string") out.active[a] = id;
    }
  }
  if (isObj(v.collapsed)) {
    for (const a of AREAS) if (typeof v.collapsed[a] === "boolean") out.collapsed[a] = v.collapsed[a];
  }
  if (v.theme === "dark" || v.theme === "light" || v.theme === "system") out.theme = v.theme;
  if (typeof v.workspace === "number") out.workspace = v.workspace;
  if (Array.isArray(v.tabs)) out.tabs = v.tabs.map(tabRef).filter((t): t is TabRef => t !== null);
  out.activeTab = tabRef(v.activeTab);
  return out;
}

export function createLayoutStore(client: Client, opts: { delayMs?: number; onError?: (msg: string) => void } = {}) {
  const [state, setState] = createStore<LayoutSnapshot>(defaultLayout());
  // The panel brought to front last (the session's `active_panel`; not part of the layout).
  const [lastPanel, setLastPanel] = createSignal<string | null>(null);
  let autosave = false;
  let reported = false;
  let lastSaved = "";

  const snapshot = (): LayoutSnapshot => JSON.parse(JSON.stringify(state)) as LayoutSnapshot;

  const save = debounce(() => {
    const snap = snapshot();
    const json = JSON.stringify(snap);
    if (json === lastSaved) return;
    lastSaved = json;
    client.putUiState(LAYOUT_KEY, snap).then(
      () => {
        reported = false;
      },
      (e: unknown) => {
        lastSaved = "";
        if (!reported) opts.onError?.(`Could not save the layout: ${describeError(e)}`);
        reported = true;
      },
    );
  }, opts.delayMs ?? LAYOUT_SAVE_MS);

  const changed = () => {
    if (autosave) save();
  };

  return {
    state,
    snapshot,
    size(id: string, fallback: number): number {
      return state.sizes[id] ?? fallback;
    },
    setSize(id: string, px: number) {
      if (state.sizes[id] === px) return;
      setState("sizes", id, Math.round(px));
      changed();
    },
    /** Whether a panel is open (`fallback` is its registry default). */
    isOpen(id: string, fallback: boolean): boolean {
      return state.panels[id] ?? fallback;
    },
    setOpen(id: string, open: boolean) {
      setState("panels", id, open);
      changed();
    },
    lastPanel,
    setActive(area: Area, id: string) {
      setLastPanel(id);
      if (state.active[area] === id) return;
      setState("active", area, id);
      changed();
    },
    isCollapsed(area: Area): boolean {
      return state.collapsed[area] === true;
    },
    setCollapsed(area: Area, c: boolean) {
      setState("collapsed", area, c);
      changed();
    },
    setTheme(t: Theme) {
      setState("theme", t);
      changed();
    },
    /** Records the session (called whenever the workspace or the tabs change). */
    setSession(workspace: number | null, tabs: TabRef[], activeTab: TabRef | null) {
      const same =
        state.workspace === workspace &&
        JSON.stringify(state.tabs) === JSON.stringify(tabs) &&
        JSON.stringify(state.activeTab) === JSON.stringify(activeTab);
      if (same) return;
      setState({ workspace, tabs, activeTab });
      changed();
    },
    /** Loads the stored layout (defaults when none or unreadable) and returns it. */
    async restore(): Promise<LayoutSnapshot> {
      let stored: unknown = null;
      try {
        stored = await client.getUiState(LAYOUT_KEY);
      } catch (e) {
        opts.onError?.(`Could not load the saved layout: ${describeError(e)}`);
      }
      const snap = parseLayout(stored);
      setState(reconcile(snap));
      lastSaved = JSON.stringify(snap);
      return snap;
    },
    /** Takes a layout restored from elsewhere (the core's session); it is saved on the next change. */
    adopt(snap: LayoutSnapshot) {
      setState(reconcile(snap));
    },
    /** From now on every change is saved (after the restore, so it is not overwritten). */
    startAutosave() {
      autosave = true;
    },
    /** Saves a pending change now (page hide). */
    flush: () => save.flush(),
    dispose: () => save.cancel(),
  };
}

export type LayoutStore = ReturnType<typeof createLayoutStore>;
