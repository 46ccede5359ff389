// The workspace's files as a virtualised tree: folders list when expanded, ignored entries
// are dimmed, and the stream keeps shown folders current. Arrow keys move, Right/Left expand
// and collapse, Enter opens.

import { createEffect, createMemo, Show } from "solid-js";
import { useApp } from "../context";
import { VirtualList } from "./VirtualList";

export const TREE_ROW_HEIGHT = 24;

export function FileTree() {
  const app = useApp();
  const tree = app.tree;
  let list: HTMLDivElement | undefined;

  const rows = tree.rows;
  const selectedIndex = createMemo(() => {
    const sel = tree.selected();
    return sel === null ? -1 : rows().findIndex((r) => r.entry.path === sel);
  });
  const root = () => tree.dir("");

  createEffect(() => {
    const f = app.ui.focus();
    if (f?.target === "tree") list?.focus();
  });

  const selectIndex = (i: number) => {
    const r = rows()[Math.max(0, Math.min(rows().length - 1, i))];
    if (r) tree.setSelected(r.entry.path);
  };

  const activate = (i: number) => {
    const r = rows()[i];
    if (!r) return;
    tree.setSelected(r.entry.path);
    if (r.entry.is_dir) void tree.toggle(r.entry.path);
    else void app.openFile(r.entry.path);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const i = selectedIndex();
    const row = rows()[i];
    switch (e.key) {
      case "ArrowDown":
        selectIndex(i + 1);
        break;
      case "ArrowUp":
        selectIndex(i < 0 ? 0 : i - 1);
        break;
      case "PageDown":
        selectIndex(i + 20);
        break;
      case "PageUp":
        selectIndex(i - 20);
        break;
      case "Home":
        selectIndex(0);
        break;
      case "End":
        selectIndex(rows().length - 1);
        break;
      case "ArrowRight":
        if (row?.entry.is_dir) {
          if (!tree.isExpanded(row.entry.path)) void tree.expand(row.entry.path);
          else selectIndex(i + 1);
        }
        break;
      case "ArrowLeft":
        if (!row) break;
        if (row.entry.is_dir && tree.isExpanded(row.entry.path)) tree.collapse(row.entry.path);
        else {
          const parent = row.entry.path.includes("/") ? row.entry.path.slice(0, row.entry.path.lastIndexOf("/")) : null;
          if (parent !== null) tree.setSelected(parent);
        }
        break;
      case "Enter":
      case " ":
        activate(i);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  return (
    <div class="file-tree">
      <Show when={app.workspace.current()} fallback={<p class="empty">No workspace open.</p>}>
        <Show when={root()?.error}>
          <p class="error" role="alert">{root()?.error}</p>
        </Show>
        <Show when={root()?.loading && !root()?.entries}>
          <p class="empty">Listing…</p>
        </Show>
        <VirtualList
          count={rows().length}
          rowHeight={TREE_ROW_HEIGHT}
          selected={selectedIndex()}
          role="tree"
          aria-label="Files"
          aria-activedescendant={selectedIndex() >= 0 ? `tree-row-${selectedIndex()}` : undefined}
          tabIndex={0}
          onKeyDown={onKeyDown}
          ref={(el) => (list = el)}
          class="tree-list"
        >
          {(i) => {
            const row = () => rows()[i];
            const isDir = () => row()?.entry.is_dir ?? false;
            const expanded = () => isDir() && tree.isExpanded(row()?.entry.path ?? "");
            const loading = () => isDir() && tree.dir(row()?.entry.path ?? "")?.loading === true;
            return (
              <div
                id={`tree-row-${i}`}
                class="tree-row"
                classList={{
                  ignored: row()?.entry.ignored ?? false,
                  dir: isDir(),
                  selected: selectedIndex() === i,
                }}
                role="treeitem"
                aria-level={(row()?.depth ?? 0) + 1}
                aria-expanded={isDir() ? expanded() : undefined}
                aria-selected={selectedIndex() === i}
                data-testid="tree-row"
                data-path={row()?.entry.path}
                title={row()?.entry.path}
                style={{ "padding-left": `${(row()?.depth ?? 0) * 14 + 6}px` }}
                onClick={() => activate(i)}
              >
                <span class="chevron" aria-hidden="true">
                  {isDir() ? (loading() ? "…" : expanded() ? "▾" : "▸") : ""}
                </span>
                <span class="name">{row()?.entry.name}</span>
              </div>
            );
          }}
        </VirtualList>
      </Show>
    </div>
  );
}
