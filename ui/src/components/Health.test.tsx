import { fireEvent, screen, waitFor, within } from "@solidjs/testing-library";
import { createEffect, createRoot, on } from "solid-js";
import { describe, expect, it } from "vitest";
import type { TreeEvent } from "../api/types";
import { node, statusReport } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";

const down = () =>
  statusReport({
    degraded: true,
    tree: [
      node("root"),
      node("root/storage"),
      node("root/pools"),
      node("root/pools/embed"),
      node("root/pools/embed/workers"),
      node("root/pools/embed/workers/w1", "restarting", { restarts: 2, last_error: "killed by signal 9" }),
      node("root/index", "failed", { last_error: "database is locked", gave_up: true }),
      node("root/api", "stopped"),
    ],
  });

const ev = (child: string, kind: TreeEvent["kind"], ts: number, reason: string | null = null): TreeEvent => ({
  ts_ms: ts,
  supervisor: "root/pools/embed/workers",
  child,
  kind,
  generation: 2,
  reason,
  detail: null,
});

describe("degraded banner", () => {
  it("appears when a status says degraded, naming the down nodes, and clears when it recovers", async () => {
    const { app } = await renderApp(workspaceTransport());
    expect(screen.queryByTestId("degraded-banner")).toBeNull();
    app.receive({ type: "status", report: down() });
    const banner = await screen.findByTestId("degraded-banner");
    expect(banner.textContent).toContain("root/pools/embed/workers/w1 (restarting)");
    expect(banner.textContent).toContain("root/index (failed)");
    expect(banner.textContent).not.toContain("root/api");
    expect(screen.getByTestId("degraded-indicator")).toBeTruthy();
    app.receive({ type: "status", report: statusReport() });
    await waitFor(() => expect(screen.queryByTestId("degraded-banner")).toBeNull());
    expect(screen.queryByTestId("degraded-indicator")).toBeNull();
  });

  it("coalesces a burst of stream messages into one update per frame", async () => {
    const frames: Array<() => void> = [];
    const t = workspaceTransport();
    const { app } = await renderApp(t, { schedule: (run) => frames.push(run) });
    let reports = 0;
    createRoot(() => createEffect(on(app.health.report, () => reports++, { defer: true })));
    const listsBefore = t.callsTo("GET", "/v1/fs/list").length;
    app.receive({ type: "status", report: down() });
    app.receive({ type: "fs", workspace: 1, paths: ["a.rs"] });
    app.receive({ type: "status", report: statusReport() });
    app.receive({ type: "fs", workspace: 1, paths: ["b.rs"] });
    app.receive({ type: "status", report: down() });
    expect(frames).toHaveLength(1);
    expect(screen.queryByTestId("degraded-banner")).toBeNull();
    frames[0]?.();
    expect(reports).toBe(1);
    expect(screen.getByTestId("degraded-banner").textContent).toContain("w1");
    // Both fs messages re-list the root once.
    await waitFor(() => expect(t.callsTo("GET", "/v1/fs/list").length).toBe(listsBefore + 1));
  });

  it("the banner's button shows the health panel", async () => {
    const { app } = await renderApp(workspaceTransport({ panels: { health: false } }));
    expect(screen.queryByTestId("health-panel")).toBeNull();
    app.receive({ type: "status", report: down() });
    fireEvent.click(within(await screen.findByTestId("degraded-banner")).getByRole("button", { name: "Show health" }));
    expect(screen.getByTestId("health-panel")).toBeTruthy();
  });
});

describe("health panel", () => {
  it("renders the tree indented, with kinds, state badges, restarts and last errors", async () => {
    const { app } = await renderApp(workspaceTransport());
    app.receive({ type: "status", report: down() });
    const panel = await screen.findByTestId("health-panel");
    const rows = within(panel).getAllByTestId("health-node");
    expect(rows.map((r) => r.dataset.path)).toEqual([
      "root",
      "root/storage",
      "root/pools",
      "root/pools/embed",
      "root/pools/embed/workers",
      "root/pools/embed/workers/w1",
      "root/index",
      "root/api",
    ]);
    const w1 = rows[5]!;
    expect(w1.querySelector(".badge")?.className).toContain("state-restarting");
    expect(w1.querySelector(".badge")?.textContent).toBe("restarting");
    expect(w1.querySelector(".node-kind")?.textContent).toBe("worker");
    expect(w1.textContent).toContain("2↻");
    expect(w1.textContent).toContain("killed by signal 9");
    expect((w1.querySelector(".node-name") as HTMLElement).style.paddingLeft).toBe("64px");
    expect(rows[0]?.querySelector(".node-kind")?.textContent).toBe("supervisor");
    expect(rows[1]?.querySelector(".node-kind")?.textContent).toBe("actor");
    expect(rows[6]?.querySelector(".badge")?.textContent).toBe("failed (gave up)");
    expect(rows[6]?.querySelector(".badge")?.className).toContain("state-failed");
    expect(rows[7]?.querySelector(".badge")?.className).toContain("state-stopped");
    expect(within(panel).getAllByTestId("pool-row")[0]?.textContent).toContain("embed");
  });

  it("lists recent events newest first, from reports and the stream", async () => {
    const { app } = await renderApp(workspaceTransport());
    app.receive({ type: "status", report: statusReport({ recent_events: [ev("w1", "started", 1000)] }) });
    app.receive({ type: "event", event: ev("w1", "exited", 2000, "killed") });
    app.receive({ type: "event", event: ev("w1", "restart_scheduled", 3000) });
    // The same event again (in the next report) is not listed twice.
    app.receive({ type: "status", report: statusReport({ recent_events: [ev("w1", "started", 1000), ev("w1", "exited", 2000, "killed")] }) });
    await waitFor(() => expect(screen.getAllByTestId("health-event")).toHaveLength(3));
    const texts = screen.getAllByTestId("health-event").map((e) => e.querySelector(".event-kind")?.textContent);
    expect(texts).toEqual(["restart scheduled", "exited", "started"]);
    expect(screen.getAllByTestId("health-event")[1]?.textContent).toContain("killed");
  });
});
