// CodeMirror language support per language name, each loaded on first use (its own chunk),
// so opening a Rust file does not download the YAML grammar.

import type { Extension } from "@codemirror/state";
import type { LangName } from "../lib/lang";

type Loader = () => Promise<Extension>;

const LOADERS: Partial<Record<LangName, Loader>> = {
  rust: async () => (await import("@codemirror/lang-rust")).rust(),
  python: async () => (await import("@codemirror/lang-python")).python(),
  typescript: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true }),
  tsx: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true, jsx: true }),
  javascript: async () => (await import("@codemirror/lang-javascript")).javascript({ jsx: true }),
  go: async () => (await import("@codemirror/lang-go")).go(),
  java: async () => (await import("@codemirror/lang-java")).java(),
  c: async () => (await import("@codemirror/lang-cpp")).cpp(),
  cpp: async () => (await import("@codemirror/lang-cpp")).cpp(),
  markdown: async () => (await import("@codemirror/lang-markdown")).markdown(),
  json: async () => (await import("@codemirror/lang-json")).json(),
  yaml: async () => (await import("@codemirror/lang-yaml")).yaml(),
  toml: async () => {
    const [{ StreamLanguage }, { toml }] = await Promise.all([
      import("@codemirror/language"),
      import("@codemirror/legacy-modes/mode/toml"),
    ]);
    return StreamLanguage.define(toml);
  },
  shell: async () => {
    const [{ StreamLanguage }, { shell }] = await Promise.all([
      import("@codemirror/language"),
      import("@codemirror/legacy-modes/mode/shell"),
    ]);
    return StreamLanguage.define(shell);
  },
};

const cache = new Map<LangName, Promise<Extension>>();

/** The language extension for `lang` ([] for plain text or when loading fails). */
export function loadLanguage(lang: LangName): Promise<Extension> {
  const loader = LOADERS[lang];
  if (!loader) return Promise.resolve([]);
  let p = cache.get(lang);
  if (!p) {
    p = loader().catch(() => {
      cache.delete(lang);
      return [];
    });
    cache.set(lang, p);
  }
  return p;
}
