import { fireEvent, render, screen } from "@solidjs/testing-library";
import { createSignal } from "solid-js";
import { describe, expect, it } from "vitest";
import { clampSize, KEY_STEP, KEY_STEP_LARGE, Split } from "./Split";

function setup(sized: "first" | "second", direction: "row" | "column" = "row", total = 1000) {
  const [size, setSize] = createSignal(300);
  const r = render(() => (
    <Split
      label="test"
      direction={direction}
      sized={sized}
      size={size()}
      onResize={setSize}
      min={100}
      minOther={200}
      first={<div>first</div>}
      second={<div>second</div>}
    />
  ));
  const container = r.container.querySelector(".split") as HTMLElement;
  // jsdom has no layout: give the container a size.
  container.getBoundingClientRect = () =>
    ({ width: direction === "row" ? total : 0, height: direction === "column" ? total : 0, top: 0, left: 0, right: total, bottom: total, x: 0, y: 0, toJSON() {} }) as DOMRect;
  const handle = screen.getByRole("separator");
  const pane = () => (sized === "first" ? handle.previousElementSibling : handle.nextElementSibling) as HTMLElement;
  return { size, handle, pane };
}

function drag(handle: HTMLElement, from: number, to: number, axis: "clientX" | "clientY" = "clientX") {
  fireEvent.pointerDown(handle, { button: 0, [axis]: from });
  fireEvent.pointerMove(window, { [axis]: (from + to) / 2 });
  fireEvent.pointerMove(window, { [axis]: to });
  fireEvent.pointerUp(window, { [axis]: to });
}

describe("Split", () => {
  it("drags the handle to resize the sized pane", () => {
    const { size, handle, pane } = setup("first");
    expect(pane().style.width).toBe("300px");
    drag(handle, 300, 360);
    expect(size()).toBe(360);
    expect(pane().style.width).toBe("360px");
    expect(handle.getAttribute("aria-valuenow")).toBe("360");
  });

  it("keeps both minimum sizes while dragging", () => {
    const { size, handle } = setup("first");
    drag(handle, 300, 20);
    expect(size()).toBe(100);
    drag(handle, 100, 990);
    expect(size()).toBe(800); // 1000 total - 200 for the other pane
  });

  it("grows a second (right/bottom) pane when the handle moves toward the first", () => {
    const { size, handle } = setup("second", "column");
    drag(handle, 700, 600, "clientY");
    expect(size()).toBe(400);
  });

  it("stops following the pointer after release", () => {
    const { size, handle } = setup("first");
    drag(handle, 300, 350);
    fireEvent.pointerMove(window, { clientX: 600 });
    expect(size()).toBe(350);
  });

  it("resizes from the keyboard, within the limits", () => {
    const { size, handle } = setup("first");
    fireEvent.keyDown(handle, { key: "ArrowRight" });
    expect(size()).toBe(300 + KEY_STEP);
    fireEvent.keyDown(handle, { key: "ArrowLeft", shiftKey: true });
    expect(size()).toBe(300 + KEY_STEP - KEY_STEP_LARGE);
    fireEvent.keyDown(handle, { key: "Home" });
    expect(size()).toBe(100);
    fireEvent.keyDown(handle, { key: "End" });
    expect(size()).toBe(800);
    expect(handle.tabIndex).toBe(0);
  });

  it("arrow keys move the handle of a second pane the other way round", () => {
    const { size, handle } = setup("second");
    fireEvent.keyDown(handle, { key: "ArrowLeft" });
    expect(size()).toBe(300 + KEY_STEP);
  });

  it("hides the sized pane and its handle when collapsed", () => {
    render(() => (
      <Split label="c" direction="row" sized="first" size={300} onResize={() => {}} min={100} minOther={100} collapsed first={<div>left</div>} second={<div>rest</div>} />
    ));
    expect(screen.queryByRole("separator")).toBeNull();
    expect(screen.queryByText("left")).toBeNull();
    expect(screen.getByText("rest")).toBeTruthy();
  });

  it("clamps with an unknown total to the minimum only", () => {
    expect(clampSize(5000, 100, 200, 0)).toBe(5000);
    expect(clampSize(50, 100, 200, 0)).toBe(100);
    expect(clampSize(50, 100, 200, 250)).toBe(100);
  });
});
