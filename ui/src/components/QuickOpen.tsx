// Go to file: fuzzy match over every indexed path of the workspace ("path:42" opens at line
// 42), matched characters highlighted.

import { For, onMount } from "solid-js";
import { useApp } from "../context";
import { count } from "../lib/format";
import { fuzzyPositions, normalizeQuery } from "../lib/fuzzy";
import { Modal } from "./Modal";
import { Picker } from "./Picker";

interface Item {
  path: string;
  line: number | undefined;
}

/** Splits "src/lib.rs:42" into the file query and the line. */
export function splitLine(q: string): { query: string; line: number | undefined } {
  const m = /^(.*?):(\d+)$/.exec(q.trim());
  if (!m) return { query: q, line: undefined };
  return { query: m[1] ?? "", line: Number(m[2]) };
}

function Highlighted(props: { path: string; query: string }) {
  const parts = () => {
    const pos = new Set(fuzzyPositions(normalizeQuery(props.query), props.path));
    const out: Array<{ text: string; hit: boolean }> = [];
    for (let i = 0; i < props.path.length; i++) {
      const hit = pos.has(i);
      const last = out[out.length - 1];
      const ch = props.path.charAt(i);
      if (last && last.hit === hit) last.text += ch;
      else out.push({ text: ch, hit });
    }
    return out;
  };
  return (
    <span class="qo-path">
      <For each={parts()}>{(p) => (p.hit ? <mark>{p.text}</mark> : <>{p.text}</>)}</For>
    </span>
  );
}

export function QuickOpen() {
  const app = useApp();
  const close = () => app.ui.close();
  onMount(() => void app.files.ensure());

  const items = (q: string): Item[] => {
    const { query, line } = splitLine(q);
    const paths = app.files.paths();
    return app.files.filter(query, 100).map((h) => ({ path: paths[h.index] ?? "", line }));
  };
  const note = () => {
    if (app.workspace.id() === null) return "Open a workspace first.";
    if (app.files.error()) return app.files.error();
    if (app.files.loading() && app.files.paths().length === 0) return "Loading the file list…";
    if (app.files.truncated()) return `Showing matches among the first ${count(app.files.paths().length)} files (list truncated).`;
    return null;
  };

  return (
    <Modal label="Go to file" onClose={close} testid="quick-open">
      <Picker<Item>
        label="File"
        placeholder="Go to file (name, path, or path:line)"
        items={items}
        note={note}
        empty="No matching file."
        onClose={close}
        onPick={(item) => {
          close();
          void app.openFile(item.path, item.line).then(() => {
            // A listed file that cannot be opened (deleted since): list again next time.
            if (app.editor.activeTab()?.error) app.files.invalidate();
          });
        }}
        render={(item, q) => <Highlighted path={item.path} query={splitLine(q).query} />}
      />
    </Modal>
  );
}
