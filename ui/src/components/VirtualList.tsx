// A fixed-row-height virtual list: only the rows in view (plus a few) exist in the DOM, so
// 100k rows scroll like 30. The selected row is kept in view.

import { createEffect, createMemo, createSignal, For, type JSX, onCleanup, onMount } from "solid-js";

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  /** Renders row `index` (called once per row that comes into view; read data reactively). */
  children: (index: number) => JSX.Element;
  /** Extra rows above and below the window. */
  overscan?: number;
  /** Row to keep in view. */
  selected?: number;
  /** Viewport height when it cannot be measured (no layout, as in tests). */
  fallbackHeight?: number;
  class?: string;
  role?: JSX.HTMLAttributes<HTMLDivElement>["role"];
  "aria-label"?: string;
  "aria-activedescendant"?: string;
  tabIndex?: number;
  id?: string;
  onKeyDown?: (e: KeyboardEvent) => void;
  ref?: (el: HTMLDivElement) => void;
  "data-testid"?: string;
}

/** The rows to render for a scroll position: [start, end). */
export function visibleRange(
  scrollTop: number,
  height: number,
  rowHeight: number,
  count: number,
  overscan: number,
): [number, number] {
  const first = Math.floor(scrollTop / rowHeight);
  const last = Math.ceil((scrollTop + height) / rowHeight);
  return [Math.max(0, first - overscan), Math.min(count, last + overscan)];
}

export function VirtualList(props: VirtualListProps) {
  let el!: HTMLDivElement;
  const [scrollTop, setScrollTop] = createSignal(0);
  const [height, setHeight] = createSignal(props.fallbackHeight ?? 400);

  const measure = () => setHeight(el.clientHeight || props.fallbackHeight || 400);

  onMount(() => {
    measure();
    if (typeof ResizeObserver === "function") {
      const ro = new ResizeObserver(measure);
      ro.observe(el);
      onCleanup(() => ro.disconnect());
    }
  });

  const range = createMemo(() =>
    visibleRange(scrollTop(), height(), props.rowHeight, props.count, props.overscan ?? 6),
  );
  const indices = createMemo(() => {
    const [start, end] = range();
    const out: number[] = new Array(Math.max(0, end - start));
    for (let i = start; i < end; i++) out[i - start] = i;
    return out;
  });

  // The list shrank under the scroll position: follow it.
  createEffect(() => {
    const max = Math.max(0, props.count * props.rowHeight - height());
    if (scrollTop() > max) {
      el.scrollTop = max;
      setScrollTop(max);
    }
  });

  createEffect(() => {
    const sel = props.selected;
    if (sel === undefined || sel < 0 || sel >= props.count) return;
    const top = sel * props.rowHeight;
    const bottom = top + props.rowHeight;
    const view = el.scrollTop;
    if (top < view) {
      el.scrollTop = top;
      setScrollTop(top);
    } else if (bottom > view + height()) {
      el.scrollTop = bottom - height();
      setScrollTop(bottom - height());
    }
  });

  return (
    <div
      ref={(e) => {
        el = e;
        props.ref?.(e);
      }}
      class={`vlist ${props.class ?? ""}`}
      role={props.role}
      aria-label={props["aria-label"]}
      aria-activedescendant={props["aria-activedescendant"]}
      tabIndex={props.tabIndex}
      id={props.id}
      data-testid={props["data-testid"]}
      onKeyDown={(e) => props.onKeyDown?.(e)}
      onScroll={() => setScrollTop(el.scrollTop)}
    >
      <div class="vlist-spacer" style={{ height: `${props.count * props.rowHeight}px` }}>
        <For each={indices()}>
          {(i) => (
            <div class="vlist-row" style={{ top: `${i * props.rowHeight}px`, height: `${props.rowHeight}px` }}>
              {props.children(i)}
            </div>
          )}
        </For>
      </div>
    </div>
  );
}
