// Test environment additions jsdom lacks.

// CodeMirror measures text through Range rects; jsdom has none.
if (typeof Range !== "undefined") {
  const empty = () => ({ x: 0, y: 0, width: 0, height: 0, top: 0, left: 0, right: 0, bottom: 0, toJSON() {} }) as DOMRect;
  if (!Range.prototype.getBoundingClientRect) Range.prototype.getBoundingClientRect = empty;
  if (!Range.prototype.getClientRects) {
    Range.prototype.getClientRects = () => {
      const list: DOMRect[] = [];
      return Object.assign(list, { item: (i: number) => list[i] ?? null }) as unknown as DOMRectList;
    };
  }
}

// Unmount what each test rendered (the library registers this itself only with globals).
import { cleanup } from "@solidjs/testing-library";
import { afterEach } from "vitest";
afterEach(() => cleanup());
