import { describe, expect, it } from "vitest";
import { concatBytes, createTermWriter, RESET } from "./termWriter";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function manualFrames() {
  const q: Array<() => void> = [];
  return { schedule: (run: () => void) => void q.push(run), frame: () => q.splice(0).forEach((r) => r()), pending: () => q.length };
}

describe("terminal writer", () => {
  it("writes a burst of frames as one write per animation frame", () => {
    const f = manualFrames();
    const w = createTermWriter(f.schedule);
    const written: string[] = [];
    const dones: Array<() => void> = [];
    w.attach({ write: (d, done) => (written.push(dec(d)), dones.push(done)) });
    for (let i = 0; i < 1000; i++) w.push(enc(`${i % 10}`));
    expect(f.pending()).toBe(1);
    f.frame();
    expect(written).toHaveLength(1);
    expect(written[0]).toHaveLength(1000);
    // While xterm parses, nothing more is written, however much arrives.
    w.push(enc("a"));
    w.push(enc("b"));
    expect(f.pending()).toBe(0);
    dones[0]?.();
    f.frame();
    expect(written).toEqual([written[0], "ab"]);
  });

  it("queues output until the terminal is attached", () => {
    const f = manualFrames();
    const w = createTermWriter(f.schedule);
    w.push(enc("early "));
    w.push(enc("bytes"));
    f.frame();
    expect(w.queued()).toBe(11);
    const written: string[] = [];
    w.attach({ write: (d, done) => (written.push(dec(d)), done()) });
    f.frame();
    expect(written).toEqual(["early bytes"]);
  });

  it("on reset drops what is queued and resets the screen in band", () => {
    const f = manualFrames();
    const w = createTermWriter(f.schedule);
    const written: Uint8Array[] = [];
    w.attach({ write: (d, done) => (written.push(d), done()) });
    w.push(enc("stale output"));
    w.reset();
    w.push(enc("replay"));
    f.frame();
    expect(written).toHaveLength(1);
    expect(dec(written[0]!)).toBe("\x1bcreplay");
    expect([...written[0]!.slice(0, 2)]).toEqual([...RESET]);
  });

  it("keeps a UTF-8 sequence split across frames intact", () => {
    const bytes = enc("é€");
    expect(dec(concatBytes([bytes.slice(0, 1), bytes.slice(1, 4), bytes.slice(4)]))).toBe("é€");
  });
});
