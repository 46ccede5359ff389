// The app shell: banner, workbench, status bar, overlays and toasts; the global keyboard
// handler runs the command registry's bindings.

import { Match, onCleanup, onMount, Show, Switch } from "solid-js";
import { registerBuiltinCommands } from "./builtinCommands";
import { CommandPalette } from "./components/CommandPalette";
import { DegradedBanner } from "./components/DegradedBanner";
import { Modal } from "./components/Modal";
import { NoToken } from "./components/NoToken";
import { Notices } from "./components/Notices";
import { QuickOpen } from "./components/QuickOpen";
import { StatusBar } from "./components/StatusBar";
import { Workbench } from "./components/Workbench";
import { WorkspacePicker } from "./components/WorkspacePicker";
import { AppContext } from "./context";
import type { App as AppStores } from "./stores/app";

export function App(props: { app: AppStores }) {
  const app = props.app;

  onMount(() => {
    const off = registerBuiltinCommands(app);
    // Capture phase: app bindings (Mod+S, Mod+P...) win over the focused widget's.
    const onKey = (e: KeyboardEvent) => {
      const inTerminal = e.target instanceof Element && e.target.closest(".term-host") !== null;
      app.commands.handleKey(e, undefined, inTerminal);
    };
    window.addEventListener("keydown", onKey, true);
    const onHide = () => app.layout.flush();
    window.addEventListener("pagehide", onHide);
    onCleanup(() => {
      off();
      window.removeEventListener("keydown", onKey, true);
      window.removeEventListener("pagehide", onHide);
    });
  });

  return (
    <AppContext.Provider value={app}>
      <Show when={!app.authFailed()} fallback={<NoToken refused />}>
        <div class="app" data-ready={app.ready() ? "true" : "false"}>
          <DegradedBanner />
          <Workbench />
          <StatusBar />
          <Switch>
            <Match when={app.ui.overlay() === "palette"}>
              <CommandPalette />
            </Match>
            <Match when={app.ui.overlay() === "quickOpen"}>
              <QuickOpen />
            </Match>
            <Match when={app.ui.overlay() === "workspace"}>
              <Modal label="Open a workspace" onClose={() => app.ui.close()}>
                <WorkspacePicker onDone={() => app.ui.close()} />
              </Modal>
            </Match>
          </Switch>
          <Show when={!app.ready()}>
            <div class="starting" aria-live="polite">Connecting to Weft…</div>
          </Show>
          <Notices />
        </div>
      </Show>
    </AppContext.Provider>
  );
}
