// The session the core keeps (`PUT /v1/session`): the layout, the open files with their
// cursors, the active file and panel, put 250 ms after the last change. At start the UI
// restores from `GET /v1/session`, falling back to the ui-state layout when the core has no
// snapshot (or no session endpoint).

import type { Client } from "../api/client";
import { ApiError, describeError } from "../api/errors";
import type { SessionUi } from "../api/types";
import { debounce } from "../lib/debounce";
import { parseLayout, type LayoutSnapshot } from "./layout";

export const SESSION_SAVE_MS = 250;

export type OpenFile = SessionUi["open_files"][number];

export interface RestoredSession {
  layout: LayoutSnapshot | null;
  openFiles: OpenFile[];
  activeFile: string | null;
  activePanel: string | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const posInt = (v: unknown): number | null => (typeof v === "number" && Number.isInteger(v) && v >= 1 ? v : null);

/** Reads what the UI put, field by field (null when there is nothing usable). */
export function parseSessionUi(ui: unknown): RestoredSession | null {
  if (!isObj(ui)) return null;
  const out: RestoredSession = {
    layout: isObj(ui.layout) ? parseLayout(ui.layout) : null,
    openFiles: [],
    activeFile: typeof ui.active_file === "string" ? ui.active_file : null,
    activePanel: typeof ui.active_panel === "string" ? ui.active_panel : null,
  };
  if (Array.isArray(ui.open_files)) {
    for (const f of ui.open_files) {
      if (!isObj(f) || typeof f.path !== "string") continue;
      const ws = typeof f.workspace === "number" ? f.workspace : out.layout?.workspace ?? null;
      if (ws === null) continue;
      out.openFiles.push({ workspace: ws, path: f.path, line: posInt(f.line) ?? 1, col: posInt(f.col) ?? 1 });
    }
  }
  return out.layout || out.openFiles.length ? out : null;
}

export function createSessionStore(client: Client, opts: { delayMs?: number; onError?: (msg: string) => void } = {}) {
  let autosave = false;
  let disabled = false;
  let reported = false;
  let lastPut = "";
  let latest: SessionUi | null = null;

  const save = debounce(() => {
    if (disabled || !latest) return;
    const json = JSON.stringify(latest);
    if (json === lastPut) return;
    lastPut = json;
    client.putSession(latest).then(
      () => {
        reported = false;
      },
      (e: unknown) => {
        lastPut = "";
        // An older core without sessions: the ui-state layout still keeps the essentials.
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
          disabled = true;
          return;
        }
        if (!reported) opts.onError?.(`Could not save the session: ${describeError(e)}`);
        reported = true;
      },
    );
  }, opts.delayMs ?? SESSION_SAVE_MS);

  return {
    /** The last snapshot's UI part, or null (none, unreadable, or no session endpoint). */
    async restore(): Promise<RestoredSession | null> {
      try {
        const res = await client.session();
        return parseSessionUi(res.snapshot?.state.ui);
      } catch (e) {
        if (!(e instanceof ApiError && e.notFound)) opts.onError?.(`Could not load the last session: ${describeError(e)}`);
        return null;
      }
    },
    /** The UI changed: put it (debounced, only when different from the last put). */
    changed(ui: SessionUi) {
      latest = ui;
      if (autosave && JSON.stringify(ui) !== lastPut) save();
    },
    /** From now on changes are put (after the restore, so it is not overwritten). */
    startAutosave(current?: SessionUi) {
      autosave = true;
      if (current) lastPut = JSON.stringify(current);
    },
    flush: () => save.flush(),
    dispose: () => save.cancel(),
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
