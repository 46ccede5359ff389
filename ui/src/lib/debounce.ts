// Trailing-edge debounce with flush and cancel.

export interface Debounced<A extends unknown[]> {
  (...args: A): void;
  /** Runs the pending call now, if any. */
  flush(): void;
  /** Drops the pending call. */
  cancel(): void;
  /** Whether a call is pending. */
  pending(): boolean;
}

export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): Debounced<A> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last: A | null = null;
  const run = () => {
    timer = null;
    const args = last;
    last = null;
    if (args) fn(...args);
  };
  const d = ((...args: A) => {
    last = args;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(run, ms);
  }) as Debounced<A>;
  d.flush = () => {
    if (timer !== null) {
      clearTimeout(timer);
      run();
    }
  };
  d.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    last = null;
  };
  d.pending = () => timer !== null;
  return d;
}
