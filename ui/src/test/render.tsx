// Renders the whole app over a FakeTransport, the way main.tsx does over a real one.

import { render } from "@solidjs/testing-library";
import { Client } from "../api/client";
import { App } from "../App";
import { registerBuiltinPanels } from "../panels/builtin";
import { createApp, type App as AppStores } from "../stores/app";
import { FakeTransport, indexStatus, statusReport } from "./fake";
import { fakeWidgets } from "./term";
import type { TermWidgetFactory } from "../lib/termWidget";

export interface Rendered {
  app: AppStores;
  transport: FakeTransport;
  unmount: () => void;
  container: HTMLElement;
}

/** A transport with the defaults every app start needs. */
export function defaultTransport(): FakeTransport {
  return new FakeTransport()
    .on("GET", "/v1/status", () => statusReport())
    .on("GET", "/v1/index", () => indexStatus())
    .on("GET", "/v1/workspaces", [{ id: 1, root: "/repo1", name: "repo1", last_opened_ms: Date.now() }])
    .on("POST", "/v1/index", { workspace: 1 })
    .on("GET", /^\/v1\/fs\/list\?workspace=1&dir=$/, [])
    .on("PUT", /^\/v1\/ui-state\//, null);
}

export async function renderApp(
  transport: FakeTransport = defaultTransport(),
  opts: {
    start?: boolean;
    confirm?: (m: string) => boolean;
    schedule?: (run: () => void) => void;
    onAuthFailed?: () => void;
    termWidget?: TermWidgetFactory;
    sessionDelayMs?: number;
  } = {},
): Promise<Rendered> {
  registerBuiltinPanels();
  let app!: AppStores;
  const r = render(() => {
    app = createApp({
      client: new Client(transport),
      schedule: opts.schedule ?? ((run) => run()),
      editor: { confirm: opts.confirm ?? (() => true) },
      layoutDelayMs: 500,
      onAuthFailed: opts.onAuthFailed,
      termWidget: opts.termWidget ?? fakeWidgets().factory,
      sessionDelayMs: opts.sessionDelayMs,
    });
    return <App app={app} />;
  });
  if (opts.start !== false) await app.start();
  return { app, transport, unmount: r.unmount, container: r.container };
}

/** A transport whose stored layout opens workspace 1 at start. */
export function workspaceTransport(extraLayout: Record<string, unknown> = {}): FakeTransport {
  return defaultTransport().on("GET", "/v1/ui-state/layout", { version: 1, workspace: 1, ...extraLayout });
}
