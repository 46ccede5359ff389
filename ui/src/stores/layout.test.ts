import { createRoot } from "solid-js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Client } from "../api/client";
import { FakeTransport } from "../test/fake";
import { createLayoutStore, parseLayout } from "./layout";

describe("layout store", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("saves 500 ms after the last change, once, with the latest layout", async () => {
    const t = new FakeTransport().on("PUT", "/v1/ui-state/layout", null).on("GET", "/v1/ui-state/layout", null);
    await createRoot(async (dispose) => {
      const l = createLayoutStore(new Client(t));
      await l.restore();
      l.startAutosave();
      l.setSize("left", 250);
      vi.advanceTimersByTime(300);
      l.setSize("left", 280);
      l.setTheme("light");
      l.setOpen("health", false);
      vi.advanceTimersByTime(499);
      expect(t.callsTo("PUT", "/v1/ui-state/layout")).toHaveLength(0);
      vi.advanceTimersByTime(1);
      const puts = t.callsTo("PUT", "/v1/ui-state/layout");
      expect(puts).toHaveLength(1);
      expect(puts[0]?.body).toMatchObject({ sizes: { left: 280 }, theme: "light", panels: { health: false } });
      // Nothing changed: nothing saved.
      l.setSize("left", 280);
      vi.advanceTimersByTime(1000);
      expect(t.callsTo("PUT", "/v1/ui-state/layout")).toHaveLength(1);
      dispose();
    });
  });

  it("does not save before the restore finished", async () => {
    const t = new FakeTransport().on("PUT", "/v1/ui-state/layout", null);
    createRoot((dispose) => {
      const l = createLayoutStore(new Client(t));
      l.setSize("left", 999);
      vi.advanceTimersByTime(2000);
      expect(t.callsTo("PUT", "/v1/ui-state/layout")).toHaveLength(0);
      dispose();
    });
  });

  it("restores the stored layout, tolerating junk", async () => {
    const stored = {
      version: 1,
      sizes: { left: 222, bottom: "x", right: -5 },
      panels: { health: false, files: 1 },
      active: { left: "search", middle: "nope" },
      collapsed: { bottom: true },
      theme: "light",
      workspace: 3,
      tabs: [{ workspace: 3, path: "src/lib.rs" }, { path: 7 }],
      activeTab: { workspace: 3, path: "src/lib.rs" },
    };
    const t = new FakeTransport().on("GET", "/v1/ui-state/layout", stored);
    await createRoot(async (dispose) => {
      const l = createLayoutStore(new Client(t));
      const snap = await l.restore();
      expect(snap).toEqual({
        version: 1,
        sizes: { left: 222 },
        panels: { health: false },
        active: { left: "search" },
        collapsed: { bottom: true },
        theme: "light",
        workspace: 3,
        tabs: [{ workspace: 3, path: "src/lib.rs" }],
        activeTab: { workspace: 3, path: "src/lib.rs" },
      });
      expect(l.size("left", 300)).toBe(222);
      expect(l.size("bottom", 240)).toBe(240);
      expect(l.isOpen("health", true)).toBe(false);
      expect(l.isCollapsed("bottom")).toBe(true);
      dispose();
    });
  });

  it("falls back to defaults when nothing is stored", () => {
    expect(parseLayout(null).theme).toBe("system");
    expect(parseLayout("garbage").tabs).toEqual([]);
  });
});
