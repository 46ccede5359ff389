import { createRoot } from "solid-js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Client } from "../api/client";
import type { SearchRequest } from "../api/types";
import { FakeTransport, hit } from "../test/fake";
import { createSearchStore, SEARCH_DEBOUNCE_MS } from "./search";

describe("search store", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(delays: number[] = []) {
    let n = 0;
    const t = new FakeTransport().on("POST", "/v1/search", async (c) => {
      const q = (c.body as SearchRequest).query;
      const d = delays[n++] ?? 0;
      if (d) await new Promise((r) => setTimeout(r, d));
      return { hits: [hit(`${q}.rs`, 1)], fts_candidates: 1, vector_candidates: 0, symbol_candidates: 0, notes: [], took_ms: 1 };
    });
    return { t, s: createRoot(() => createSearchStore(new Client(t), () => 1)) };
  }

  it("debounces typing into one search", async () => {
    const { t, s } = setup();
    s.setQuery("a");
    s.setQuery("ab");
    s.setQuery("abc");
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS - 1);
    expect(t.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.calls.map((c) => (c.body as SearchRequest).query)).toEqual(["abc"]);
  });

  it("drops answers to older queries", async () => {
    const { s } = setup([500, 0]);
    s.setQuery("slow");
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS);
    s.setQuery("fast");
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS + 600);
    expect(s.hits().map((h) => h.path)).toEqual(["fast.rs"]);
  });

  it("searches again while the index keeps changing, at most every 400 ms", async () => {
    const { t, s } = setup();
    s.setQuery("q");
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS);
    expect(t.calls).toHaveLength(1);
    for (let i = 0; i < 8; i++) {
      s.onIndexChanged();
      await vi.advanceTimersByTimeAsync(250);
    }
    await vi.advanceTimersByTimeAsync(1000);
    // 2 s of changes every 250 ms: about one re-search per 400 ms, plus the last.
    expect(t.calls.length - 1).toBeGreaterThanOrEqual(4);
    expect(t.calls.length - 1).toBeLessThanOrEqual(6);
  });

  it("clears the hits for an empty query without asking", async () => {
    const { t, s } = setup();
    s.setQuery("   ");
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS);
    expect(t.calls).toHaveLength(0);
    expect(s.response()).toBeNull();
  });
});
