// A fast fuzzy scorer for quick open: the query must be a subsequence of the path
// (case-insensitive); matches score higher in the basename, at word starts (after `/ _ - .`,
// or a camelCase hump), in consecutive runs, and in shorter paths. An exact basename (or its
// stem) wins outright.
//
// Speed matters more than optimal alignment: 300k paths must score in a few tens of ms. So
// instead of an O(n·m) dynamic program per path, a native `indexOf` subsequence test rejects
// most paths, and three greedy alignments (forward and backward in the basename, the
// tightest window in the whole path) are scored for the rest; the best one counts.

export const NO_MATCH = -Infinity;

const MAX_QUERY = 64;
// Scratch buffers reused across calls (scoring allocates nothing per path).
const scratch = new Int32Array(MAX_QUERY);
const best = new Int32Array(MAX_QUERY);

function isSeparator(code: number): boolean {
  // / _ - . space :
  return code === 47 || code === 95 || code === 45 || code === 46 || code === 32 || code === 58;
}

function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}

function isLowerOrDigit(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 48 && code <= 57);
}

/** Lowercases and drops spaces (a query "lib rs" means "librs"). */
export function normalizeQuery(query: string): string {
  return query.replace(/\s+/g, "").toLowerCase().slice(0, MAX_QUERY);
}

/** Scores the alignment in `scratch[0..m)`. */
function scoreAlignment(path: string, lower: string, m: number, base: number): number {
  let score = 0;
  let prev = -2;
  for (let i = 0; i < m; i++) {
    const p = scratch[i] ?? 0;
    let s = 16;
    if (p === prev + 1) {
      s += 26;
    } else if (i > 0) {
      s -= Math.min(p - prev + 1, 14);
    }
    if (p === base) {
      s += 26;
    } else if (p === 0) {
      s += 20;
    } else {
      const before = lower.charCodeAt(p - 1);
      if (isSeparator(before)) {
        s += 18;
      } else if (isUpper(path.charCodeAt(p)) && isLowerOrDigit(path.charCodeAt(p - 1))) {
        s += 14;
      }
    }
    if (p >= base) s += 4;
    score += s;
    prev = p;
  }
  return score;
}

/** Forward greedy alignment of q in lower[from..); false when q does not fit. */
function alignForward(q: string, lower: string, from: number): boolean {
  let pos = from - 1;
  for (let i = 0; i < q.length; i++) {
    pos = lower.indexOf(q.charAt(i), pos + 1);
    if (pos < 0) return false;
    scratch[i] = pos;
  }
  return true;
}

/** Backward greedy alignment of q ending at or before `end`, not before `floor`. */
function alignBackward(q: string, lower: string, end: number, floor: number): boolean {
  let pos = end + 1;
  for (let i = q.length - 1; i >= 0; i--) {
    if (pos - 1 < floor) return false;
    pos = lower.lastIndexOf(q.charAt(i), pos - 1);
    if (pos < floor) return false;
    scratch[i] = pos;
  }
  return true;
}

function keep(m: number, score: number, bestScore: number, wantPositions: boolean): number {
  if (score > bestScore) {
    if (wantPositions) best.set(scratch.subarray(0, m));
    return score;
  }
  return bestScore;
}

function scoreImpl(q: string, path: string, lower: string, wantPositions: boolean): number {
  const m = q.length;
  const n = lower.length;
  if (m === 0) return 0;
  if (m > n) return NO_MATCH;
  // Subsequence test over the whole path; its end is where the tightest window ends.
  if (!alignForward(q, lower, 0)) return NO_MATCH;
  const end = scratch[m - 1] ?? 0;
  const base = lower.lastIndexOf("/") + 1;
  let bestScore = NO_MATCH;

  if (n - base >= m && alignForward(q, lower, base)) {
    bestScore = keep(m, scoreAlignment(path, lower, m, base), bestScore, wantPositions);
    if (alignBackward(q, lower, n - 1, base)) {
      bestScore = keep(m, scoreAlignment(path, lower, m, base), bestScore, wantPositions);
    }
  }
  if (alignBackward(q, lower, end, 0)) {
    bestScore = keep(m, scoreAlignment(path, lower, m, base), bestScore, wantPositions);
  }
  if (bestScore === NO_MATCH) return NO_MATCH;

  // Exact basename or stem: what the user typed is the file's name.
  const baseLen = n - base;
  if (baseLen === m && lower.startsWith(q, base)) {
    bestScore += 80;
  } else if (lower.startsWith(q, base)) {
    const next = lower.charCodeAt(base + m);
    if (next === 46) bestScore += 60; // q + "."
  }
  // Shorter and shallower paths first among equals.
  let depth = 0;
  for (let i = lower.indexOf("/"); i >= 0; i = lower.indexOf("/", i + 1)) depth++;
  return bestScore - n * 0.25 - depth * 1.5;
}

/**
 * The score of `path` for a normalized query (see `normalizeQuery`), or NO_MATCH.
 * `lower` is `path.toLowerCase()` (callers keep it to avoid recomputing it).
 */
export function fuzzyScore(q: string, path: string, lower: string = path.toLowerCase()): number {
  return scoreImpl(q, path, lower, false);
}

/** Positions of `path` that the best alignment matched (for highlighting). */
export function fuzzyPositions(q: string, path: string): number[] {
  const s = scoreImpl(q, path, path.toLowerCase(), true);
  if (s === NO_MATCH || q.length === 0) return [];
  return Array.from(best.subarray(0, q.length));
}

export interface FuzzyHit {
  /** Index into the candidates. */
  index: number;
  score: number;
}

/**
 * The best `limit` candidates for `query`, best first (ties keep candidate order). An empty
 * query returns the first `limit` candidates in order.
 */
export function fuzzyFilter(
  query: string,
  paths: readonly string[],
  lowers: readonly string[] = paths.map((p) => p.toLowerCase()),
  limit = 100,
): FuzzyHit[] {
  const q = normalizeQuery(query);
  if (q === "") {
    const out: FuzzyHit[] = [];
    for (let i = 0; i < paths.length && i < limit; i++) out.push({ index: i, score: 0 });
    return out;
  }
  // A bounded list kept sorted best first: an insert costs O(limit) only when it makes it.
  const top: FuzzyHit[] = [];
  let floor = NO_MATCH;
  for (let i = 0; i < paths.length; i++) {
    const lower = lowers[i];
    const path = paths[i];
    if (lower === undefined || path === undefined) continue;
    const s = scoreImpl(q, path, lower, false);
    if (s === NO_MATCH) continue;
    if (top.length >= limit && s <= floor) continue;
    let at = top.length;
    while (at > 0 && (top[at - 1]?.score ?? 0) < s) at--;
    top.splice(at, 0, { index: i, score: s });
    if (top.length > limit) top.pop();
    if (top.length >= limit) floor = top[top.length - 1]?.score ?? NO_MATCH;
  }
  return top;
}
