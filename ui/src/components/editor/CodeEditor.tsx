// The one CodeMirror view. It shows the active tab's state, reports every update back to the
// editor store, keeps each tab's scroll position, and carries out "open at line" requests:
// cursor on the line, the line selected, scrolled to the middle.

import { EditorSelection, type StateEffect, type Text } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { createEffect, onCleanup, onMount } from "solid-js";
import { useApp } from "../../context";
import type { RevealTarget } from "../../stores/editor";

/** The line to put the cursor on: the first in the range naming the symbol, else `line`. */
export function targetLine(doc: Text, t: RevealTarget): number {
  const first = Math.max(1, Math.min(doc.lines, t.line));
  // Symbols are qualified (`Parser::parse`, `Class.method`): the line names the last part.
  const name = t.symbol?.split(/::|\.|#|>/).pop()?.trim();
  if (!name) return first;
  const word = new RegExp(`(^|[^A-Za-z0-9_$])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^A-Za-z0-9_$])`);
  const last = Math.min(doc.lines, Math.max(first, t.endLine ?? first), first + 500);
  for (let n = first; n <= last; n++) {
    if (word.test(doc.line(n).text)) return n;
  }
  return first;
}

export function CodeEditor(props: { hidden: boolean }) {
  const app = useApp();
  const ed = app.editor;
  let host!: HTMLDivElement;
  let view: EditorView | undefined;
  let shown: string | null = null;
  let handledReveal = 0;
  const scrolls = new Map<string, StateEffect<unknown>>();

  onMount(() => {
    view = new EditorView({
      parent: host,
      dispatchTransactions(trs, v) {
        v.update(trs);
        if (shown !== null) ed.onViewUpdate(shown, v.state, trs.some((t) => t.docChanged));
      },
    });
    const unbind = ed.bindView({
      id: () => shown,
      dispatch: (spec) => view?.dispatch(spec),
    });
    onCleanup(() => {
      unbind();
      view?.destroy();
      view = undefined;
    });
  });

  // Show the active tab's document.
  createEffect(() => {
    const id = ed.active();
    ed.docVersion();
    const loading = ed.activeTab()?.loading;
    if (!view || loading === undefined) return;
    const st = id === null ? undefined : ed.docState(id);
    if (!st || id === null) {
      shown = null;
      return;
    }
    if (shown === id && view.state === st) return;
    if (shown !== null && shown !== id) scrolls.set(shown, view.scrollSnapshot());
    view.setState(st);
    shown = id;
    const snap = scrolls.get(id);
    if (snap) view.dispatch({ effects: snap });
  });

  // Open at a line.
  createEffect(() => {
    const r = ed.reveal();
    const id = ed.active();
    ed.docVersion();
    const tab = ed.activeTab();
    if (!view || !r || r.nonce === handledReveal || r.id !== id || !tab || tab.loading || shown !== id) return;
    handledReveal = r.nonce;
    const doc = view.state.doc;
    const line = doc.line(targetLine(doc, r));
    // With a column (a terminal's path:line:col, a restored cursor): the cursor there.
    const at = r.col !== undefined ? line.from + Math.max(0, Math.min(line.length, r.col - 1)) : null;
    view.dispatch({
      selection: at !== null ? EditorSelection.cursor(at) : EditorSelection.range(line.from, line.to),
      effects: EditorView.scrollIntoView(line.from, { y: "center" }),
    });
    view.focus();
  });

  createEffect(() => {
    if (app.ui.focus()?.target === "editor") view?.focus();
  });

  return <div class="code-editor" data-testid="editor" ref={host} hidden={props.hidden} />;
}
