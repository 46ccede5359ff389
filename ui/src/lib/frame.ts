// Coalesces bursts of updates into one per animation frame, so a chatty stream costs at most
// one render per frame.

export type Schedule = (run: () => void) => void;

/** requestAnimationFrame where there is one (and the page is visible), else a 16 ms timer. */
export const nextFrame: Schedule = (run) => {
  if (typeof requestAnimationFrame === "function" && typeof document !== "undefined" && !document.hidden) {
    requestAnimationFrame(() => run());
  } else {
    setTimeout(run, 16);
  }
};

/**
 * Queues items and hands them, in order, to `flush` once per frame. `schedule` is injectable
 * (tests pass a synchronous one).
 */
export function frameQueue<T>(flush: (items: T[]) => void, schedule: Schedule = nextFrame) {
  let queue: T[] = [];
  let scheduled = false;
  const run = () => {
    scheduled = false;
    const items = queue;
    queue = [];
    if (items.length) flush(items);
  };
  return {
    push(item: T) {
      queue.push(item);
      if (!scheduled) {
        scheduled = true;
        schedule(run);
      }
    },
    /** Flushes now (tests, teardown). */
    drain: run,
  };
}
