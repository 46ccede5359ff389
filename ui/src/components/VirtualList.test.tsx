import { fireEvent, render } from "@solidjs/testing-library";
import { createSignal } from "solid-js";
import { describe, expect, it } from "vitest";
import { VirtualList, visibleRange } from "./VirtualList";

const ROW = 20;
const HEIGHT = 400; // 20 rows in view

function setup(count = 100_000) {
  const [selected, setSelected] = createSignal<number | undefined>(undefined);
  const [n, setN] = createSignal(count);
  const r = render(() => (
    <VirtualList count={n()} rowHeight={ROW} fallbackHeight={HEIGHT} overscan={5} selected={selected()}>
      {(i) => <div class="row" data-i={i}>row {i}</div>}
    </VirtualList>
  ));
  const list = r.container.querySelector(".vlist") as HTMLDivElement;
  const rows = () => [...r.container.querySelectorAll<HTMLElement>(".row")].map((e) => Number(e.dataset.i));
  const scrollTo = (top: number) => {
    list.scrollTop = top;
    fireEvent.scroll(list);
  };
  return { list, rows, scrollTo, setSelected, setN };
}

describe("VirtualList", () => {
  it("renders only the visible window of 100k rows", () => {
    const t0 = performance.now();
    const { rows, list } = setup();
    const ms = performance.now() - t0;
    expect(rows()).toEqual(Array.from({ length: 25 }, (_, i) => i)); // 20 in view + 5 below
    expect((list.firstElementChild as HTMLElement).style.height).toBe(`${100_000 * ROW}px`);
    expect(ms).toBeLessThan(1000);
  });

  it("renders the rows around the scroll position", () => {
    const { rows, scrollTo, list } = setup();
    scrollTo(50_000 * ROW);
    const r = rows();
    expect(r[0]).toBe(50_000 - 5);
    expect(r[r.length - 1]).toBe(50_000 + 20 + 5 - 1);
    expect(r.length).toBe(30);
    const row = list.querySelector<HTMLElement>('[data-i="50000"]')?.parentElement;
    expect(row?.style.top).toBe(`${50_000 * ROW}px`);
    scrollTo(100_000 * ROW - HEIGHT);
    expect(rows().at(-1)).toBe(99_999);
  });

  it("scrolls the selected row into view", () => {
    const { list, setSelected, rows } = setup();
    setSelected(1000);
    expect(list.scrollTop).toBe(1001 * ROW - HEIGHT);
    expect(rows()).toContain(1000);
    setSelected(3);
    expect(list.scrollTop).toBe(3 * ROW);
  });

  it("follows a list that shrinks under the scroll position", () => {
    const { scrollTo, setN, rows, list } = setup();
    scrollTo(90_000 * ROW);
    setN(50);
    // Scrolled to the new end: rows 30..49 in view, 5 above.
    expect(list.scrollTop).toBe(50 * ROW - HEIGHT);
    expect(rows()).toEqual(Array.from({ length: 25 }, (_, i) => 25 + i));
  });

  it("computes ranges at the edges", () => {
    expect(visibleRange(0, 100, 10, 5, 3)).toEqual([0, 5]);
    expect(visibleRange(95, 100, 10, 1000, 2)).toEqual([7, 22]);
  });
});
