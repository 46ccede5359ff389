// Two panes and a handle between them. One pane has a size in px (the handle drags it, arrow
// keys move it 16 px, Shift+arrow 64 px, Home/End to the limits); the other takes the rest.
// Both keep their minimum sizes.

import { createSignal, type JSX, Show } from "solid-js";

export interface SplitProps {
  /** Name for the handle (screen readers, tests). */
  label: string;
  /** "row": side by side (handle moves left/right); "column": stacked. */
  direction: "row" | "column";
  /** Which pane has the size: the first (left/top) or the second (right/bottom). */
  sized: "first" | "second";
  size: number;
  onResize: (px: number) => void;
  /** Minimum of the sized pane. */
  min: number;
  /** Minimum of the other pane. */
  minOther: number;
  first: JSX.Element;
  second: JSX.Element;
  /** Hide the sized pane (and the handle). */
  collapsed?: boolean;
  class?: string;
}

export const KEY_STEP = 16;
export const KEY_STEP_LARGE = 64;

/** Clamps a size to [min, total - minOther]; with an unknown total (0) only the minimum holds. */
export function clampSize(px: number, min: number, minOther: number, total: number): number {
  const max = total > 0 ? Math.max(min, total - minOther) : Number.POSITIVE_INFINITY;
  return Math.round(Math.min(Math.max(px, min), max));
}

export function Split(props: SplitProps) {
  let container!: HTMLDivElement;
  const [dragging, setDragging] = createSignal(false);
  const horizontal = () => props.direction === "row";

  const total = () => {
    const r = container.getBoundingClientRect();
    return horizontal() ? r.width : r.height;
  };
  const resize = (px: number) => props.onResize(clampSize(px, props.min, props.minOther, total()));

  const onPointerDown = (e: PointerEvent) => {
    if (e.button !== 0) return;
    e.preventDefault();
    const start = horizontal() ? e.clientX : e.clientY;
    const startSize = props.size;
    const sign = props.sized === "first" ? 1 : -1;
    setDragging(true);
    const move = (ev: PointerEvent) => {
      const pos = horizontal() ? ev.clientX : ev.clientY;
      resize(startSize + sign * (pos - start));
    };
    const up = () => {
      setDragging(false);
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      window.removeEventListener("pointercancel", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
    window.addEventListener("pointercancel", up);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const step = e.shiftKey ? KEY_STEP_LARGE : KEY_STEP;
    // Arrow keys move the handle; the sized pane grows or shrinks accordingly.
    const grow = props.sized === "first" ? 1 : -1;
    let delta = 0;
    if (horizontal() ? e.key === "ArrowRight" : e.key === "ArrowDown") delta = step * grow;
    else if (horizontal() ? e.key === "ArrowLeft" : e.key === "ArrowUp") delta = -step * grow;
    else if (e.key === "Home") return (e.preventDefault(), resize(props.min));
    else if (e.key === "End") return (e.preventDefault(), resize(Number.MAX_SAFE_INTEGER));
    else return;
    e.preventDefault();
    resize(props.size + delta);
  };

  const sizedStyle = (): JSX.CSSProperties => ({
    [horizontal() ? "width" : "height"]: `${props.size}px`,
    flex: "0 0 auto",
  });
  const handle = () => (
    <div
      class="split-handle"
      classList={{ dragging: dragging() }}
      role="separator"
      tabIndex={0}
      aria-label={props.label}
      aria-orientation={horizontal() ? "vertical" : "horizontal"}
      aria-valuenow={props.size}
      aria-valuemin={props.min}
      onPointerDown={onPointerDown}
      onKeyDown={onKeyDown}
      data-testid={`split-${props.label}`}
    />
  );

  return (
    <div
      ref={container}
      class={`split split-${props.direction} ${props.class ?? ""}`}
      classList={{ "split-dragging": dragging() }}
    >
      <Show when={props.sized === "first"} fallback={
        <>
          <div class="split-pane split-rest">{props.first}</div>
          <Show when={!props.collapsed}>
            {handle()}
            <div class="split-pane" style={sizedStyle()}>{props.second}</div>
          </Show>
        </>
      }>
        <Show when={!props.collapsed}>
          <div class="split-pane" style={sizedStyle()}>{props.first}</div>
          {handle()}
        </Show>
        <div class="split-pane split-rest">{props.second}</div>
      </Show>
    </div>
  );
}
