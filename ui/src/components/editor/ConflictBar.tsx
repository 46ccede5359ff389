// When the buffer and the disk disagree: reload the disk's version, or keep the buffer and
// overwrite on save.

import { Match, Show, Switch } from "solid-js";
import { useApp } from "../../context";

export function ConflictBar() {
  const app = useApp();
  const ed = app.editor;
  return (
    <Show when={ed.activeTab()?.conflict ? ed.activeTab() : undefined}>
      {(tab) => (
        <div class="conflict-bar" role="alert" data-testid="conflict-bar" data-conflict={tab().conflict}>
          <Switch>
            <Match when={tab().conflict === "changed"}>
              <span>{tab().path} changed on disk while you were editing it.</span>
              <button type="button" onClick={() => void ed.reload(tab().id)}>
                Reload
              </button>
              <button type="button" onClick={() => void ed.keepMine(tab().id)}>
                Keep mine (overwrite on save)
              </button>
            </Match>
            <Match when={tab().conflict === "save"}>
              <span>Not saved: {tab().path} changed on disk since it was loaded.</span>
              <button type="button" onClick={() => void ed.reload(tab().id)}>
                Reload (discard mine)
              </button>
              <button type="button" onClick={() => void ed.keepMine(tab().id)}>
                Overwrite
              </button>
            </Match>
            <Match when={tab().conflict === "deleted"}>
              <span>{tab().path} was deleted on disk.</span>
              <button type="button" onClick={() => ed.close(tab().id)}>
                Close
              </button>
              <button type="button" onClick={() => void ed.keepMine(tab().id)}>
                Keep mine (save recreates it)
              </button>
            </Match>
          </Switch>
        </div>
      )}
    </Show>
  );
}
