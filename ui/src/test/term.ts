// A stand-in for the xterm widget (jsdom has no canvas or layout): it decodes what is written,
// honours the in-band reset, and lets a test type, click links and search.

import type { TermWidget, TermWidgetFactory, TermWidgetOptions } from "../lib/termWidget";

export class FakeWidget implements TermWidget {
  buffer = "";
  writes = 0;
  focused = 0;
  disposed = false;
  themes = 0;
  size = { cols: 100, rows: 30 };
  searches: Array<[string, 1 | -1]> = [];
  private decoder = new TextDecoder();

  constructor(
    readonly host: HTMLElement,
    readonly opts: TermWidgetOptions,
  ) {}

  write(data: Uint8Array, done: () => void) {
    this.writes++;
    const text = this.decoder.decode(data, { stream: true });
    const reset = text.lastIndexOf("\x1bc");
    this.buffer = reset >= 0 ? text.slice(reset + 2) : this.buffer + text;
    queueMicrotask(done);
  }
  focus() {
    this.focused++;
  }
  fit() {
    return { ...this.size };
  }
  applyTheme() {
    this.themes++;
  }
  findNext(q: string) {
    this.searches.push([q, 1]);
    return this.buffer.includes(q);
  }
  findPrevious(q: string) {
    this.searches.push([q, -1]);
    return this.buffer.includes(q);
  }
  clearSearch() {}
  text() {
    return this.buffer;
  }
  dispose() {
    this.disposed = true;
  }
  /** The user types. */
  type(data: string) {
    this.opts.onInput(data);
  }
}

/** A factory that keeps every widget it made, by host element order. */
export function fakeWidgets() {
  const made: FakeWidget[] = [];
  const factory: TermWidgetFactory = async (host, opts) => {
    const w = new FakeWidget(host, opts);
    made.push(w);
    return w;
  };
  return { factory, made, live: () => made.filter((w) => !w.disposed) };
}
