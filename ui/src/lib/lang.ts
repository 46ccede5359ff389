// Language names (as the core's `Lang::name` writes them) from file names, for the editor's
// highlighting and the search panel's filter.

export const LANGS = [
  "rust",
  "python",
  "typescript",
  "tsx",
  "javascript",
  "go",
  "java",
  "c",
  "cpp",
  "markdown",
  "toml",
  "json",
  "yaml",
  "shell",
  "text",
] as const;

export type LangName = (typeof LANGS)[number];

const BY_EXT: Record<string, LangName> = {
  rs: "rust",
  py: "python",
  pyi: "python",
  ts: "typescript",
  mts: "typescript",
  cts: "typescript",
  tsx: "tsx",
  js: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  jsx: "javascript",
  go: "go",
  java: "java",
  c: "c",
  h: "c",
  cc: "cpp",
  cpp: "cpp",
  cxx: "cpp",
  hpp: "cpp",
  hh: "cpp",
  hxx: "cpp",
  md: "markdown",
  markdown: "markdown",
  toml: "toml",
  json: "json",
  yaml: "yaml",
  yml: "yaml",
  sh: "shell",
  bash: "shell",
  zsh: "shell",
};

const ALIASES: Record<string, LangName> = {
  rs: "rust",
  py: "python",
  ts: "typescript",
  js: "javascript",
  "c++": "cpp",
  md: "markdown",
  yml: "yaml",
  sh: "shell",
  bash: "shell",
};

/** The language of a file from its name (Cargo.lock is TOML, like the core decides). */
export function langOfPath(path: string): LangName {
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (name === "Cargo.lock") return "toml";
  const dot = name.lastIndexOf(".");
  if (dot <= 0 && !name.startsWith(".")) return "text";
  const ext = name.slice(dot + 1).toLowerCase();
  return BY_EXT[ext] ?? "text";
}

/** A language name or alias, normalized; null when unknown. */
export function normalizeLang(name: string | null | undefined): LangName | null {
  if (!name) return null;
  const l = name.trim().toLowerCase();
  if ((LANGS as readonly string[]).includes(l)) return l as LangName;
  return ALIASES[l] ?? null;
}
