// The xterm.js terminal widget: fit, search and web-links addons, `path:line[:col]` links,
// Ctrl/Cmd+F for search, Ctrl+Shift+C to copy, colors from the theme's CSS variables.

import { FitAddon } from "@xterm/addon-fit";
import { SearchAddon } from "@xterm/addon-search";
import { WebLinksAddon } from "@xterm/addon-web-links";
import { type ITheme, Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { isMac } from "./keys";
import { findPathLinks } from "./termLinks";
import type { TermWidget, TermWidgetOptions } from "./termWidget";

const DARK_ANSI = {
  black: "#1c1f26", red: "#f0706a", green: "#5fcf8a", yellow: "#e5b45a", blue: "#6ea8fe", magenta: "#c792ea", cyan: "#89ddff", white: "#d8dbe2",
  brightBlack: "#5c6170", brightRed: "#ff8a80", brightGreen: "#8be9a8", brightYellow: "#ffd580", brightBlue: "#9cc2ff", brightMagenta: "#e0b0ff", brightCyan: "#b4ecff", brightWhite: "#ffffff",
};
const LIGHT_ANSI = {
  black: "#1f2329", red: "#c62828", green: "#1f8a4c", yellow: "#a86b00", blue: "#2563eb", magenta: "#8e24aa", cyan: "#00796b", white: "#9aa1ad",
  brightBlack: "#5d6470", brightRed: "#e53935", brightGreen: "#2e9d5a", brightYellow: "#c58a00", brightBlue: "#3b82f6", brightMagenta: "#ab47bc", brightCyan: "#00897b", brightWhite: "#5d6470",
};

/** The terminal colors for the theme on <html> now. */
export function currentTermTheme(): ITheme {
  const root = document.documentElement;
  const css = getComputedStyle(root);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const light = root.dataset.theme === "light";
  return {
    ...(light ? LIGHT_ANSI : DARK_ANSI),
    background: v("--bg-editor", light ? "#ffffff" : "#1a1c22"),
    foreground: v("--fg", light ? "#1f2329" : "#d8dbe2"),
    cursor: v("--accent", light ? "#2563eb" : "#6ea8fe"),
    cursorAccent: v("--bg-editor", light ? "#ffffff" : "#1a1c22"),
    selectionBackground: v("--selection", light ? "#c7dafc" : "#2f4a78"),
  };
}

export function createXtermWidget(host: HTMLElement, opts: TermWidgetOptions): TermWidget {
  const css = getComputedStyle(document.documentElement);
  const term = new Terminal({
    fontFamily: css.getPropertyValue("--mono").trim() || "monospace",
    fontSize: 13,
    scrollback: 10_000,
    cursorBlink: true,
    allowProposedApi: false,
    theme: currentTermTheme(),
  });
  const fit = new FitAddon();
  const search = new SearchAddon();
  term.loadAddon(fit);
  term.loadAddon(search);
  term.loadAddon(new WebLinksAddon((_ev, uri) => opts.onUrl(uri)));
  term.open(host);

  const mac = isMac();
  term.attachCustomKeyEventHandler((e) => {
    if (e.type !== "keydown") return true;
    const mod = mac ? e.metaKey && !e.ctrlKey : e.ctrlKey && !e.metaKey;
    if (mod && !e.altKey && !e.shiftKey && e.code === "KeyF") {
      e.preventDefault();
      opts.onFind();
      return false;
    }
    if (!mac && e.ctrlKey && e.shiftKey && e.code === "KeyC" && term.hasSelection()) {
      e.preventDefault();
      void navigator.clipboard?.writeText(term.getSelection()).catch(() => {});
      return false;
    }
    return true;
  });

  const inputSub = term.onData((d) => opts.onInput(d));
  const links = term.registerLinkProvider({
    provideLinks(y, callback) {
      const line = term.buffer.active.getLine(y - 1)?.translateToString(true) ?? "";
      const found = findPathLinks(line);
      if (found.length === 0) return callback(undefined);
      callback(
        found.map((l) => ({
          range: { start: { x: l.start + 1, y }, end: { x: l.end, y } },
          text: l.text,
          decorations: { underline: true, pointerCursor: true },
          activate: () => opts.onPathLink(l.path, l.line, l.col),
        })),
      );
    },
  });

  return {
    write(data, done) {
      term.write(data, done);
    },
    focus: () => term.focus(),
    fit() {
      if (host.clientWidth === 0 || host.clientHeight === 0) return null;
      const dims = fit.proposeDimensions();
      if (!dims || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows) || dims.cols < 2 || dims.rows < 1) return null;
      if (dims.cols !== term.cols || dims.rows !== term.rows) term.resize(dims.cols, dims.rows);
      return { cols: term.cols, rows: term.rows };
    },
    applyTheme() {
      term.options.theme = currentTermTheme();
    },
    findNext: (q) => search.findNext(q),
    findPrevious: (q) => search.findPrevious(q),
    clearSearch: () => search.clearDecorations(),
    text() {
      const b = term.buffer.active;
      const out: string[] = [];
      for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? "");
      return out.join("\n").replace(/\n+$/, "");
    },
    dispose() {
      inputSub.dispose();
      links.dispose();
      term.dispose();
    },
  };
}
