// The panel registry: every dockable panel (files, search, health today; terminal, notes,
// tasks, chat and graph later) declares its id, title, component and default area once. The
// workbench renders areas from it; commands to show and toggle each panel come from it too.

import { createSignal, type Component } from "solid-js";
import type { App } from "../stores/app";
import type { Area } from "../stores/layout";
import type { FocusTarget } from "../stores/ui";

export interface PanelDef {
  id: string;
  title: string;
  area: Area;
  component: Component;
  /** Open unless the user closed it. */
  defaultOpen: boolean;
  /** Keybinding of its "toggle" command. */
  keybinding?: string;
  /** What to focus when the panel is shown by command. */
  focus?: FocusTarget;
}

const [panels, setPanels] = createSignal<PanelDef[]>([]);

/** Adds (or replaces) a panel; returns the function that removes it. */
export function registerPanel(def: PanelDef): () => void {
  setPanels((l) => [...l.filter((p) => p.id !== def.id), def]);
  return () => setPanels((l) => l.filter((p) => p !== def));
}

export function allPanels(): PanelDef[] {
  return panels();
}

export function panelsIn(area: Area): PanelDef[] {
  return panels().filter((p) => p.area === area);
}

export function panel(id: string): PanelDef | undefined {
  return panels().find((p) => p.id === id);
}

export function isPanelOpen(app: App, def: PanelDef): boolean {
  return app.layout.isOpen(def.id, def.defaultOpen);
}

/** The open panels of an area. */
export function openPanelsIn(app: App, area: Area): PanelDef[] {
  return panelsIn(area).filter((p) => isPanelOpen(app, p));
}

/** Whether an area shows at all (not collapsed, with an open panel). */
export function areaVisible(app: App, area: Area): boolean {
  return !app.layout.isCollapsed(area) && openPanelsIn(app, area).length > 0;
}

/** The panel an area shows. */
export function activePanel(app: App, area: Area): PanelDef | undefined {
  const open = openPanelsIn(app, area);
  const want = app.layout.state.active[area];
  return open.find((p) => p.id === want) ?? open[0];
}

/** Opens a panel, brings it to front in its area, and focuses it. */
export function showPanel(app: App, id: string) {
  const def = panel(id);
  if (!def) return;
  app.layout.setOpen(id, true);
  app.layout.setActive(def.area, id);
  app.layout.setCollapsed(def.area, false);
  if (def.focus) app.ui.requestFocus(def.focus);
}

/** Closes an open panel, or shows a closed (or hidden) one. */
export function togglePanel(app: App, id: string) {
  const def = panel(id);
  if (!def) return;
  const visible = isPanelOpen(app, def) && !app.layout.isCollapsed(def.area) && activePanel(app, def.area)?.id === id;
  if (visible) app.layout.setOpen(id, false);
  else showPanel(app, id);
}
