import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { indexStatus, wsStatus } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";
import { summarize } from "../stores/indexProgress";

const progress = () => screen.getByTestId("index-progress");

describe("status bar", () => {
  it("shows scanning, then embedding with rate and ETA, then indexed", async () => {
    const { app } = await renderApp(workspaceTransport());
    app.receive({
      type: "progress",
      index: indexStatus([
        wsStatus(1, {
          phase: "scanning",
          last_scan: null,
          progress: { scanning: true, seen: 1200, indexed: 900, bytes: 1, chunks: 4500, skipped: 0, unchanged: 100, elapsed_s: 2 },
        }),
      ]),
    });
    await waitFor(() => expect(progress().textContent).toBe("scanning 1,200 files · 4,500 chunks · 500/s"));
    expect(progress().textContent).not.toContain("indexed");

    const embedding = indexStatus([wsStatus(1, { counts: { files: 1200, chunked: 1200, embedded: 300, skipped: 2, chunks: 5000, pending: 4000, bytes: 1 } })], 2);
    embedding.vectors.rate = 200;
    app.receive({ type: "progress", index: embedding });
    await waitFor(() => expect(progress().textContent).toBe("embedding 1,000/5,000 chunks · 200/s · ETA 20s"));
    expect(progress().textContent).not.toContain("indexed");

    app.receive({ type: "progress", index: indexStatus([wsStatus(1, { counts: { files: 1200, chunked: 1200, embedded: 1200, skipped: 2, chunks: 5000, pending: 0, bytes: 1 } })], 3) });
    await waitFor(() => expect(progress().textContent).toBe("indexed · 1,200 files · 5,000 chunks"));
    expect(progress().dataset.state).toBe("indexed");
  });

  it("says why vectors wait when the embedder is blocked, without claiming indexed", () => {
    const ix = indexStatus([wsStatus(1, { counts: { files: 5, chunked: 5, embedded: 0, skipped: 0, chunks: 20, pending: 20, bytes: 1 } })]);
    ix.vectors.blocked = "embed pool is down";
    const s = summarize(ix.workspaces[0]!, ix.vectors);
    expect(s.state).toBe("blocked");
    expect(s.text).toContain("embed pool is down");
    expect(s.text).not.toContain("indexed");
    expect(summarize(wsStatus(1, { phase: "updating" }), ix.vectors).text).not.toContain("indexed");
    // A rescan estimates its end from the last scan's size.
    const rescan = summarize(
      wsStatus(1, { phase: "scanning", progress: { scanning: true, seen: 500, indexed: 0, bytes: 0, chunks: 0, skipped: 0, unchanged: 500, elapsed_s: 1 } }),
      ix.vectors,
    );
    expect(rescan.text).toBe("scanning 500 files · 0 chunks · 500/s");
    const big = wsStatus(1, { phase: "scanning", progress: { scanning: true, seen: 500, indexed: 0, bytes: 0, chunks: 0, skipped: 0, unchanged: 500, elapsed_s: 1 } });
    big.last_scan = { ...big.last_scan!, seen: 2000 };
    expect(summarize(big, ix.vectors)).toMatchObject({ text: "scanning 500 files · 0 chunks · 500/s · ETA 3s", fraction: 0.25 });
    expect(summarize(wsStatus(1, { phase: "failed", last_error: "disk full" }), ix.vectors).text).toContain("disk full");
  });

  it("says keyword search is ready while text-first files get their syntax chunks", () => {
    const ix = indexStatus([]);
    const refining = wsStatus(1, {
      phase: "refining",
      counts: { files: 1002, chunked: 250, embedded: 0, skipped: 2, chunks: 9000, pending: 800, bytes: 1 },
    });
    const s = summarize(refining, ix.vectors);
    expect(s).toMatchObject({ state: "refining", text: "keyword search ready · chunking by syntax 250/1,000 files", fraction: 0.25 });
    expect(s.text).not.toContain("indexed");
  });

  it("opens the details popover with a row per workspace, and Escape closes it", async () => {
    const { app } = await renderApp(workspaceTransport());
    app.receive({ type: "progress", index: indexStatus([wsStatus(1), wsStatus(2, { root: "/other", counts: { files: 3, chunked: 3, embedded: 1, skipped: 1, chunks: 9, pending: 4, bytes: 1 }, watch: "polling: too many dirs" })]) });
    fireEvent.click(progress());
    const details = await screen.findByTestId("index-details");
    const rows = details.querySelectorAll("tbody tr");
    expect(rows).toHaveLength(2);
    expect(rows[0]?.classList.contains("current")).toBe(true);
    expect(rows[1]?.textContent).toContain("other");
    expect(rows[1]?.textContent).toContain("polling: too many dirs");
    expect(details.textContent).toContain("all-MiniLM-L6-v2");
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("index-details")).toBeNull());
  });

  it("shows the connection state", async () => {
    const { transport } = await renderApp(workspaceTransport());
    expect(screen.getByTestId("connection").textContent).toBe("connected");
    transport.setConnected(false);
    await waitFor(() => expect(screen.getByTestId("connection").textContent).toBe("reconnecting…"));
    transport.setConnected(true);
    await waitFor(() => expect(screen.getByTestId("connection").textContent).toBe("connected"));
    // Back after a gap: status is read again.
    expect(transport.callsTo("GET", "/v1/status").length).toBeGreaterThanOrEqual(2);
  });
});
