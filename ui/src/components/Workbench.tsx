// The layout: a left area, the center (editor, or the workspace picker while none is open),
// a bottom and a right area, divided by resizable splits whose sizes the layout keeps. Each
// area shows the registered panels that are open in it, one at a time, with tabs to switch.

import { For, Show } from "solid-js";
import { Dynamic } from "solid-js/web";
import { useApp } from "../context";
import { activePanel, areaVisible, openPanelsIn } from "../panels/registry";
import type { Area } from "../stores/layout";
import { EditorArea } from "./editor/EditorArea";
import { Split } from "./Split";
import { WorkspacePicker } from "./WorkspacePicker";

function PanelArea(props: { area: Area }) {
  const app = useApp();
  const open = () => openPanelsIn(app, props.area);
  const active = () => activePanel(app, props.area);
  return (
    <section class={`panel-area area-${props.area}`} aria-label={`${props.area} panels`}>
      <div class="area-tabs" role="tablist">
        <For each={open()}>
          {(p) => (
            <button
              type="button"
              role="tab"
              class="area-tab"
              classList={{ active: active()?.id === p.id }}
              aria-selected={active()?.id === p.id}
              onClick={() => app.layout.setActive(props.area, p.id)}
              data-testid={`panel-tab-${p.id}`}
            >
              {p.title}
            </button>
          )}
        </For>
        <span class="sb-spacer" />
        <button
          type="button"
          class="area-close"
          aria-label={`Hide the ${props.area} area`}
          title="Hide"
          onClick={() => app.layout.setCollapsed(props.area, true)}
        >
          ×
        </button>
      </div>
      <For each={open()}>
        {(p) => (
          <div class="panel-body" role="tabpanel" aria-label={p.title} hidden={active()?.id !== p.id}>
            <Dynamic component={p.component} />
          </div>
        )}
      </For>
    </section>
  );
}

function Center() {
  const app = useApp();
  return (
    <main class="center">
      {/* Until the saved session is restored, a picker could race the restored workspace. */}
      <Show when={app.ready()} fallback={<p class="empty">Connecting…</p>}>
        <Show when={app.workspace.current()} fallback={<WorkspacePicker autofocus />}>
          <EditorArea />
        </Show>
      </Show>
    </main>
  );
}

export function Workbench() {
  const app = useApp();
  const l = app.layout;
  return (
    <div class="workbench">
      <Split
        label="left"
        direction="row"
        sized="first"
        size={l.size("left", 300)}
        onResize={(px) => l.setSize("left", px)}
        min={160}
        minOther={320}
        collapsed={!areaVisible(app, "left")}
        first={<PanelArea area="left" />}
        second={
          <Split
            label="right"
            direction="row"
            sized="second"
            size={l.size("right", 360)}
            onResize={(px) => l.setSize("right", px)}
            min={200}
            minOther={320}
            collapsed={!areaVisible(app, "right")}
            first={
              <Split
                label="bottom"
                direction="column"
                sized="second"
                size={l.size("bottom", 240)}
                onResize={(px) => l.setSize("bottom", px)}
                min={80}
                minOther={160}
                collapsed={!areaVisible(app, "bottom")}
                first={<Center />}
                second={<PanelArea area="bottom" />}
              />
            }
            second={<PanelArea area="right" />}
          />
        }
      />
    </div>
  );
}
