import { Text } from "@codemirror/state";
import { describe, expect, it } from "vitest";
import { targetLine } from "./CodeEditor";

const doc = Text.of(["/// Parses.", "#[inline]", "pub fn parse(x: u8) {", "}", "impl Parser {", "    fn parse_all(&self) {}", "    fn parse(&self) {}", "}"]);

describe("open-at-line target", () => {
  it("moves from a chunk's first line to the line naming its symbol", () => {
    expect(targetLine(doc, { line: 1, symbol: "parse", endLine: 4 })).toBe(3);
    expect(targetLine(doc, { line: 5, symbol: "Parser::parse", endLine: 8 })).toBe(7);
  });

  it("stays on the line without a symbol, or when the symbol is not in the range", () => {
    expect(targetLine(doc, { line: 2 })).toBe(2);
    expect(targetLine(doc, { line: 1, symbol: "nothing_here", endLine: 8 })).toBe(1);
    expect(targetLine(doc, { line: 99 })).toBe(8);
  });
});
