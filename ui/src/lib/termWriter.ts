// Coalesces a terminal's output: frames are queued and handed to the terminal in one write per
// animation frame, and never while the previous write is still being parsed (xterm's write is
// asynchronous; its callback says when it is done). A busy shell costs one write per frame,
// and no Solid state changes per byte.

import { nextFrame, type Schedule } from "./frame";

export interface WriteSink {
  write(data: Uint8Array, done: () => void): void;
}

/** ESC c: a full reset (screen and scrollback), in band so it keeps its place in the output. */
export const RESET = new Uint8Array([0x1b, 0x63]);

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function createTermWriter(schedule: Schedule = nextFrame) {
  let sink: WriteSink | null = null;
  let pending: Uint8Array[] = [];
  let scheduled = false;
  let writing = false;
  let disposed = false;
  let writes = 0;

  const kick = () => {
    if (disposed || !sink || scheduled || writing || pending.length === 0) return;
    scheduled = true;
    schedule(flush);
  };
  const flush = () => {
    scheduled = false;
    if (disposed || !sink || writing || pending.length === 0) return;
    const data = concatBytes(pending);
    pending = [];
    writing = true;
    writes++;
    sink.write(data, () => {
      writing = false;
      kick();
    });
  };

  return {
    /** Queues output. */
    push(bytes: Uint8Array) {
      if (disposed || bytes.length === 0) return;
      pending.push(bytes);
      kick();
    },
    /** The screen starts over (a replay follows): queued output is dropped. */
    reset() {
      pending = [RESET];
      kick();
    },
    /** The terminal is ready: queued output goes to it. */
    attach(s: WriteSink) {
      sink = s;
      kick();
    },
    dispose() {
      disposed = true;
      pending = [];
    },
    /** Bytes queued and not yet written (tests). */
    queued: () => pending.reduce((n, c) => n + c.length, 0),
    /** Writes made so far (tests). */
    writes: () => writes,
  };
}

export type TermWriter = ReturnType<typeof createTermWriter>;
