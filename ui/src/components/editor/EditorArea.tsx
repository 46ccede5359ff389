// The center: tabs, the conflict bar, and the editor (or why the file is not shown).

import { Show } from "solid-js";
import { useApp } from "../../context";
import { formatChord } from "../../lib/keys";
import { CodeEditor } from "./CodeEditor";
import { ConflictBar } from "./ConflictBar";
import { TabBar } from "./TabBar";

export function EditorArea() {
  const app = useApp();
  const tab = () => app.editor.activeTab();
  const editable = () => {
    const t = tab();
    return t !== undefined && !t.loading && t.error === null;
  };
  return (
    <div class="editor-area">
      <TabBar />
      <ConflictBar />
      <Show when={tab()} fallback={
        <div class="editor-empty">
          <p>
            <kbd>{formatChord("Mod+P")}</kbd> go to file · <kbd>{formatChord("Mod+Shift+F")}</kbd> search ·{" "}
            <kbd>{formatChord("Mod+Shift+P")}</kbd> all commands
          </p>
          <p class="hint">In the editor, Tab indents; press Esc then Tab to move focus on.</p>
        </div>
      }>
        {(t) => (
          <>
            <Show when={t().loading}>
              <p class="editor-message">Loading {t().path}…</p>
            </Show>
            <Show when={t().error}>
              <p class="editor-message error" role="alert">{t().error}</p>
            </Show>
          </>
        )}
      </Show>
      <CodeEditor hidden={!editable()} />
    </div>
  );
}
