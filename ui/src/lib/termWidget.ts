// The terminal emulator as the terminal panel uses it. The real one (xterm.js, `xterm.ts`) is
// loaded on first use, so its code and CSS stay out of the first page load; tests pass a fake.

import type { WriteSink } from "./termWriter";

export interface TermWidget extends WriteSink {
  focus(): void;
  /** Fits the grid to the host element: the new size, or null while the host has no size. */
  fit(): { cols: number; rows: number } | null;
  /** Follows the CSS variables of the current theme. */
  applyTheme(): void;
  findNext(query: string): boolean;
  findPrevious(query: string): boolean;
  clearSearch(): void;
  /** The buffer's text (tests and the e2e check). */
  text(): string;
  dispose(): void;
}

export interface TermWidgetOptions {
  /** Typed or pasted input. */
  onInput(data: string): void;
  /** Ctrl/Cmd+F inside the terminal. */
  onFind(): void;
  /** A `path:line[:col]` link was clicked. */
  onPathLink(path: string, line: number, col: number | undefined): void;
  /** A URL was clicked. */
  onUrl(url: string): void;
}

export type TermWidgetFactory = (host: HTMLElement, opts: TermWidgetOptions) => Promise<TermWidget>;

/** xterm.js, imported on first use. */
export const xtermWidget: TermWidgetFactory = async (host, opts) => (await import("./xterm")).createXtermWidget(host, opts);
