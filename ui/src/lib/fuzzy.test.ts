import { describe, expect, it } from "vitest";
import { fuzzyFilter, fuzzyPositions, fuzzyScore, NO_MATCH, normalizeQuery } from "./fuzzy";

const rank = (q: string, paths: string[]) => fuzzyFilter(q, paths).map((h) => paths[h.index]);

describe("fuzzy scorer", () => {
  it("needs the query as a subsequence, case-insensitively", () => {
    expect(fuzzyScore("xyz", "src/lib.rs")).toBe(NO_MATCH);
    expect(fuzzyScore("slr", "src/lib.rs")).not.toBe(NO_MATCH);
    expect(fuzzyScore(normalizeQuery("LIB"), "src/Lib.rs")).not.toBe(NO_MATCH);
    expect(fuzzyScore("librs", "src/lib")).toBe(NO_MATCH);
  });

  it("puts the exact file name first, then name prefixes, then scattered path matches", () => {
    const paths = ["docs/collibrary.md", "src/library/mod.rs", "src/lib.rs", "src/a/l/i/b.rs"];
    expect(rank("lib", paths)).toEqual(["src/lib.rs", "src/library/mod.rs", "docs/collibrary.md", "src/a/l/i/b.rs"]);
  });

  it("prefers the basename's start over a match inside a word", () => {
    const paths = ["src/remainder.rs", "src/domain/main_test.rs", "src/main.rs"];
    expect(rank("main", paths)).toEqual(["src/main.rs", "src/domain/main_test.rs", "src/remainder.rs"]);
  });

  it("rewards word starts and camelCase humps", () => {
    expect(rank("fb", ["src/fabric.rs", "src/foo_bar.rs"])[0]).toBe("src/foo_bar.rs");
    expect(rank("fc", ["ui/foocontrol.ts", "ui/FooController.ts"])[0]).toBe("ui/FooController.ts");
  });

  it("ranks shorter, shallower paths first among equal matches", () => {
    expect(rank("x.rs", ["a/b/c/d/x.rs", "a/x.rs", "a/b/x.rs"])).toEqual(["a/x.rs", "a/b/x.rs", "a/b/c/d/x.rs"]);
  });

  it("matches across folders (typing the path)", () => {
    const paths = ["tests/search.rs", "actors/src/index/search.rs", "actors/src/api.rs"];
    expect(rank("indexsearch", paths)[0]).toBe("actors/src/index/search.rs");
    expect(rank("act/api", paths)[0]).toBe("actors/src/api.rs");
  });

  it("ignores spaces in the query and keeps the first N for an empty one", () => {
    expect(rank("lib rs", ["src/lib.rs"])).toEqual(["src/lib.rs"]);
    expect(fuzzyFilter("", ["a", "b", "c"], undefined, 2).map((h) => h.index)).toEqual([0, 1]);
  });

  it("reports the matched positions for highlighting", () => {
    expect(fuzzyPositions("lib", "src/lib.rs")).toEqual([4, 5, 6]);
    expect(fuzzyPositions("zz", "src/lib.rs")).toEqual([]);
  });

  it("returns at most `limit` hits, best first", () => {
    const paths = Array.from({ length: 500 }, (_, i) => `dir${i % 7}/file${i}.rs`);
    const hits = fuzzyFilter("file", paths, undefined, 25);
    expect(hits).toHaveLength(25);
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
  });

  it("scores 300k paths quickly", () => {
    const dirs = ["src", "crates/core/src", "tests/fixtures", "docs/guide", "ui/src/components", "vendor/lib/deep/nested"];
    const names = ["main", "lib", "parser", "config_loader", "SearchPanel", "index", "mod", "utils", "http_client", "readme"];
    const exts = [".rs", ".ts", ".tsx", ".md", ".py", ".json"];
    const paths: string[] = [];
    for (let i = 0; paths.length < 300_000; i++) {
      const d = dirs[i % dirs.length]!;
      const n = names[(i * 7) % names.length]!;
      const e = exts[(i * 3) % exts.length]!;
      paths.push(`${d}/m${i % 997}/${n}${i}${e}`);
    }
    const lowers = paths.map((p) => p.toLowerCase());
    const timings: Record<string, number> = {};
    for (const q of ["s", "lib", "cfgload", "src/main.rs", "SearchPanel", "zzzq"]) {
      const t0 = performance.now();
      const hits = fuzzyFilter(q, paths, lowers, 100);
      timings[q] = performance.now() - t0;
      if (q !== "zzzq") expect(hits.length).toBeGreaterThan(0);
    }
    console.info("fuzzy 300k paths (ms):", Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])));
    // The target is well under 100 ms; this machine is shared with benchmarks, so the bound
    // is generous and catches only a change of complexity.
    for (const ms of Object.values(timings)) expect(ms).toBeLessThan(500);
  });
});
