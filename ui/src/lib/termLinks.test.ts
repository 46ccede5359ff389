import { describe, expect, it } from "vitest";
import { findPathLinks, linkCandidates } from "./termLinks";

describe("path:line links in terminal output", () => {
  it("finds compiler, test and grep locations", () => {
    expect(findPathLinks("  --> src/main.rs:3:5").map((l) => [l.path, l.line, l.col, l.text])).toEqual([["src/main.rs", 3, 5, "src/main.rs:3:5"]]);
    expect(findPathLinks("FAIL ./tests/a.test.ts:12 expected").map((l) => [l.path, l.line, l.col])).toEqual([["./tests/a.test.ts", 12, undefined]]);
    expect(findPathLinks("/repo1/ui/App.tsx:40:1: error").map((l) => l.path)).toEqual(["/repo1/ui/App.tsx"]);
    expect(findPathLinks("a.py:1 and b/c.go:22:7")).toHaveLength(2);
    const l = findPathLinks("x src/lib.rs:10")[0];
    expect(l).toMatchObject({ start: 2, end: 15 });
  });

  it("leaves times, ports and URLs alone", () => {
    expect(findPathLinks("at 12:30:45 on localhost:8080")).toEqual([]);
    expect(findPathLinks("see http://example.com/index.html:80")).toEqual([]);
    expect(findPathLinks("version 1.2:3")).toEqual([]);
  });

  it("resolves against the terminal's cwd, then the workspace root", () => {
    expect(linkCandidates("lib.rs", "/repo/src", "/repo")).toEqual(["src/lib.rs", "lib.rs"]);
    expect(linkCandidates("../ui/a.ts", "/repo/src", "/repo")).toEqual(["ui/a.ts"]);
    expect(linkCandidates("src/lib.rs", "/repo", "/repo")).toEqual(["src/lib.rs"]);
    expect(linkCandidates("/repo/src/x.rs", "/tmp", "/repo")).toEqual(["src/x.rs"]);
    expect(linkCandidates("/etc/passwd.conf", "/repo", "/repo")).toEqual([]);
    expect(linkCandidates("x.rs", "/elsewhere", "/repo")).toEqual(["x.rs"]);
    expect(linkCandidates("x.rs", "/repo", null)).toEqual([]);
  });
});
