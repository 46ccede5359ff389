// Relative-path helpers (`/`-separated, "" is the workspace root).

export function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The last component of an absolute path (a workspace's display name). */
export function folderName(root: string): string {
  const trimmed = root.replace(/[\\/]+$/, "");
  const i = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  return i < 0 ? trimmed : trimmed.slice(i + 1) || trimmed;
}

/** True when `path` is `dir` or inside it ("" contains everything). */
export function isWithin(path: string, dir: string): boolean {
  return dir === "" || path === dir || path.startsWith(dir + "/");
}

/** Resolves `.` and `..` in a `/`-separated path (a leading `/` is kept; `..` above the top is dropped). */
export function normalizePath(path: string): string {
  const abs = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return (abs ? "/" : "") + out.join("/");
}

/** `abs` relative to `root` (both absolute), or null when it is outside. */
export function relativeTo(abs: string, root: string): string | null {
  const a = normalizePath(abs);
  const r = normalizePath(root);
  if (a === r) return "";
  const prefix = r === "/" ? "/" : `${r}/`;
  return a.startsWith(prefix) ? a.slice(prefix.length) : null;
}
