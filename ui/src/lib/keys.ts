// Keybindings as strings ("Mod+Shift+P", "Alt+W", "F1"): parsed once, matched against
// KeyboardEvents, shown in the platform's words. "Mod" is Cmd on macOS, Ctrl elsewhere.

export interface Chord {
  key: string;
  mod: boolean;
  ctrl: boolean;
  shift: boolean;
  alt: boolean;
}

export function isMac(): boolean {
  if (typeof navigator === "undefined") return false;
  return /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
}

export function parseChord(binding: string): Chord {
  const parts = binding.split("+");
  const key = (parts.pop() ?? "").toLowerCase();
  const has = (m: string) => parts.some((p) => p.toLowerCase() === m);
  return { key, mod: has("mod"), ctrl: has("ctrl"), shift: has("shift"), alt: has("alt") };
}

function eventKey(e: KeyboardEvent): string {
  // Shift+P gives key "P", Alt on macOS changes the character: prefer the physical key for
  // letters and digits.
  if (/^Key[A-Z]$/.test(e.code)) return e.code.slice(3).toLowerCase();
  if (/^Digit[0-9]$/.test(e.code)) return e.code.slice(5);
  if (e.code === "BracketLeft") return "[";
  if (e.code === "BracketRight") return "]";
  if (e.code === "Backquote") return "`";
  return e.key.toLowerCase();
}

export function matches(chord: Chord, e: KeyboardEvent, mac: boolean = isMac()): boolean {
  const wantMeta = chord.mod && mac;
  const wantCtrl = chord.ctrl || (chord.mod && !mac);
  return (
    eventKey(e) === chord.key &&
    e.metaKey === wantMeta &&
    e.ctrlKey === wantCtrl &&
    e.shiftKey === chord.shift &&
    e.altKey === chord.alt
  );
}

export function formatChord(binding: string, mac: boolean = isMac()): string {
  const c = parseChord(binding);
  const parts: string[] = [];
  if (c.ctrl) parts.push(mac ? "⌃" : "Ctrl");
  if (c.mod) parts.push(mac ? "⌘" : "Ctrl");
  if (c.alt) parts.push(mac ? "⌥" : "Alt");
  if (c.shift) parts.push(mac ? "⇧" : "Shift");
  const key = c.key.length === 1 ? c.key.toUpperCase() : c.key[0]?.toUpperCase() + c.key.slice(1);
  parts.push(key);
  return parts.join(mac ? "" : "+");
}
