import { describe, expect, it } from "vitest";
import { formatChord, matches, parseChord } from "./keys";

const ev = (init: KeyboardEventInit) => new KeyboardEvent("keydown", init);

describe("keybindings", () => {
  it("matches Mod as Ctrl off macOS and Cmd on it", () => {
    const c = parseChord("Mod+Shift+P");
    expect(matches(c, ev({ key: "P", code: "KeyP", ctrlKey: true, shiftKey: true }), false)).toBe(true);
    expect(matches(c, ev({ key: "P", code: "KeyP", metaKey: true, shiftKey: true }), false)).toBe(false);
    expect(matches(c, ev({ key: "P", code: "KeyP", metaKey: true, shiftKey: true }), true)).toBe(true);
    expect(matches(c, ev({ key: "p", code: "KeyP", ctrlKey: true }), false)).toBe(false);
  });

  it("uses the physical key for letters and brackets (Alt changes the character on macOS)", () => {
    expect(matches(parseChord("Alt+W"), ev({ key: "∑", code: "KeyW", altKey: true }), true)).toBe(true);
    expect(matches(parseChord("Alt+]"), ev({ key: "‘", code: "BracketRight", altKey: true }), true)).toBe(true);
  });

  it("formats for the platform", () => {
    expect(formatChord("Mod+Shift+P", false)).toBe("Ctrl+Shift+P");
    expect(formatChord("Mod+Shift+P", true)).toBe("⌘⇧P");
    expect(formatChord("Alt+W", false)).toBe("Alt+W");
  });
});
