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
