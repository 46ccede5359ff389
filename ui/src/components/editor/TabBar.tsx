// The open files: click or Enter to show, middle-click or the × to close, ● while unsaved.
// Left/Right move between tabs.

import { For, Show } from "solid-js";
import { useApp } from "../../context";

export function TabBar() {
  const app = useApp();
  const ed = app.editor;
  let bar: HTMLDivElement | undefined;

  const focusTab = (i: number) => {
    const tabs = bar?.querySelectorAll<HTMLElement>("[role=tab]");
    const el = tabs?.[i];
    const t = ed.tabs()[i];
    if (el && t) {
      ed.activate(t.id);
      el.focus();
    }
  };

  return (
    <div class="tab-bar" role="tablist" aria-label="Open files" ref={bar}>
      <For each={ed.tabs()}>
        {(tab, i) => (
          <div
            role="tab"
            class="tab"
            classList={{ active: ed.active() === tab.id, dirty: tab.dirty }}
            aria-selected={ed.active() === tab.id}
            tabIndex={ed.active() === tab.id ? 0 : -1}
            data-testid="tab"
            data-path={tab.path}
            title={tab.path}
            onClick={() => ed.activate(tab.id)}
            onAuxClick={(e) => {
              if (e.button === 1) ed.close(tab.id);
            }}
            onKeyDown={(e) => {
              if (e.key === "ArrowRight") focusTab((i() + 1) % ed.tabs().length);
              else if (e.key === "ArrowLeft") focusTab((i() - 1 + ed.tabs().length) % ed.tabs().length);
              else if (e.key === "Delete") ed.close(tab.id);
              else if (e.key === "Enter") app.ui.requestFocus("editor");
              else return;
              e.preventDefault();
            }}
          >
            <span class="tab-title">{tab.title}</span>
            <Show when={tab.dirty}>
              <span class="tab-dirty" data-testid="tab-dirty" aria-label="unsaved changes" title="Unsaved changes">
                ●
              </span>
            </Show>
            <button
              type="button"
              class="tab-close"
              tabIndex={-1}
              aria-label={`Close ${tab.title}`}
              onClick={(e) => {
                e.stopPropagation();
                ed.close(tab.id);
              }}
            >
              ×
            </button>
          </div>
        )}
      </For>
    </div>
  );
}
