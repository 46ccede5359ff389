// `path:line[:col]` in terminal output (compiler errors, test failures, grep -n): found per
// line, and resolved to workspace-relative candidates (relative to the terminal's cwd first,
// then to the workspace root).

import { normalizePath, relativeTo } from "./paths";

export interface PathLink {
  /** Index of the first character in the line. */
  start: number;
  /** Index after the last character. */
  end: number;
  text: string;
  path: string;
  line: number;
  col?: number;
}

// A path with a file extension (so `12:30:45` and `host:8080` do not match), then :line and
// an optional :col. Paths may start with `/`, `./`, `../` or `~/`.
const PATH_LINE = /(?:^|(?<=[\s"'`(\[<,=:]))((?:~\/|\.{1,2}\/|\/)?(?:[\w.@+-]+\/)*[\w@+-][\w.@+-]*\.[A-Za-z][A-Za-z0-9]{0,9}):(\d+)(?::(\d+))?/g;

/** Every `path:line[:col]` in one line of output. */
export function findPathLinks(text: string): PathLink[] {
  const out: PathLink[] = [];
  for (const m of text.matchAll(PATH_LINE)) {
    const path = m[1];
    const line = Number(m[2]);
    if (!path || !Number.isFinite(line) || line < 1) continue;
    // `http://host/x.html:80` is the web-links addon's.
    const before = text.slice(Math.max(0, (m.index ?? 0) - 3), m.index ?? 0);
    if (before.endsWith(":") && /\w:$/.test(before)) continue;
    const start = m.index ?? 0;
    const link: PathLink = { start, end: start + m[0].length, text: m[0], path, line };
    if (m[3] !== undefined) link.col = Number(m[3]);
    out.push(link);
  }
  return out;
}

/**
 * Workspace-relative paths `raw` may mean, most likely first: relative to the terminal's cwd,
 * then to the workspace root. An absolute path counts only inside the root.
 */
export function linkCandidates(raw: string, cwd: string | null, root: string | null, home?: string | null): string[] {
  if (root === null) return [];
  let p = raw;
  if (p.startsWith("~/")) {
    if (!home) return [];
    p = `${home}/${p.slice(2)}`;
  }
  if (p.startsWith("/")) {
    const rel = relativeTo(p, root);
    return rel === null || rel === "" ? [] : [rel];
  }
  const out: string[] = [];
  if (cwd !== null) {
    const rel = relativeTo(normalizePath(`${cwd}/${p}`), root);
    if (rel !== null && rel !== "") out.push(rel);
  }
  const fromRoot = normalizePath(p);
  if (fromRoot !== "" && !out.includes(fromRoot)) out.push(fromRoot);
  return out;
}
