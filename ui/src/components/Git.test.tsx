import { fireEvent, screen, waitFor } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import { showPanel } from "../panels/registry";
import { gitEvent, gitStatus } from "../test/fake";
import { renderApp, workspaceTransport } from "../test/render";

const DIFF = ["diff --git a/src/a.rs b/src/a.rs", "--- a/src/a.rs", "+++ b/src/a.rs", "@@ -1,2 +1,2 @@", " fn a() {", "-    old();", "+    new();", "}"].join("\n");

describe("git panel", () => {
  it("shows the branch, the changed files (a click shows the diff) and the events", async () => {
    let statusCalls = 0;
    const t = workspaceTransport()
      .on("GET", "/v1/git/status?workspace=1", () => {
        statusCalls++;
        return gitStatus({
          ahead: 2,
          files: [
            { path: "src/a.rs", index: null, worktree: "modified" },
            { path: "new.txt", index: "new", worktree: null },
          ],
        });
      })
      .on("GET", "/v1/git/log?workspace=1&limit=100", { events: [gitEvent(1, "commit", "first commit", { new_oid: "abcdef0123" })] })
      .on("GET", /^\/v1\/git\/diff\?workspace=1&path=src%2Fa\.rs&staged=false$/, { diff: DIFF, files: [{ path: "src/a.rs", additions: 1, deletions: 1 }], truncated: false });
    const { app } = await renderApp(t);
    showPanel(app, "git");
    await waitFor(() => expect(screen.getByTestId("git-branch").textContent).toBe("⎇ main ↑2 · origin/main"));
    expect(screen.queryByTestId("git-state")).toBeNull();
    expect(screen.getAllByTestId("git-file").map((e) => e.textContent)).toEqual([" Msrc/a.rs", "A new.txt"]);
    expect(screen.getAllByTestId("git-event")[0]?.textContent).toContain("first commit");
    expect(screen.getAllByTestId("git-event")[0]?.textContent).toContain("abcdef0");

    fireEvent.click(screen.getAllByTestId("git-file")[0]!);
    await waitFor(() => expect(screen.getByTestId("git-diff").textContent).toContain("new();"));
    const lines = [...screen.getByTestId("git-diff").querySelectorAll(".diff-view > div")];
    expect(lines.map((l) => l.className)).toEqual(["diff-meta", "diff-meta", "diff-meta", "diff-hunk", "diff-ctx", "diff-del", "diff-add", "diff-ctx"]);
    fireEvent.click(screen.getByLabelText("Back to the changes"));
    expect(screen.queryByTestId("git-diff")).toBeNull();

    // A git event arrives: listed first, and the status is read again.
    const before = statusCalls;
    app.receive({ type: "git", workspace: 1, events: [gitEvent(2, "checkout", "moving from main to feature")] });
    app.receive({ type: "git", workspace: 2, events: [gitEvent(3, "commit", "elsewhere")] });
    await waitFor(() => expect(screen.getAllByTestId("git-event").map((e) => e.querySelector(".git-kind")?.textContent)).toEqual(["checkout", "commit"]));
    await waitFor(() => expect(statusCalls).toBeGreaterThan(before), { timeout: 2000 });
  });

  it("explains a folder that is not a repository, a bare one and a rebase", async () => {
    const t = workspaceTransport().on("GET", "/v1/git/status?workspace=1", gitStatus({ state: "not_a_repo", branch: null, head: null })).on("GET", /^\/v1\/git\/log/, { events: [] });
    const { app } = await renderApp(t);
    showPanel(app, "git");
    await waitFor(() => expect(screen.getByTestId("git-state").textContent).toBe("This workspace is not a git repository."));
    expect(screen.queryByTestId("git-branch")).toBeNull();
    expect(screen.queryByText("Changes")).toBeNull();

    t.on("GET", "/v1/git/status?workspace=1", gitStatus({ state: "bare", branch: null }));
    await app.git.load();
    await waitFor(() => expect(screen.getByTestId("git-state").textContent).toContain("bare repository"));

    t.on("GET", "/v1/git/status?workspace=1", gitStatus({ state: "rebasing", detached: true, branch: null, message: "Rebasing feature onto main (3/5)." }));
    await app.git.load();
    await waitFor(() => expect(screen.getByTestId("git-state").textContent).toBe("Rebasing feature onto main (3/5)."));
    expect(screen.getByTestId("git-branch").textContent).toBe("⎇ HEAD detached at 0123456");
  });

  it("shows an error when the daemon has no git endpoints", async () => {
    const { app } = await renderApp(workspaceTransport());
    showPanel(app, "git");
    await waitFor(() => expect(screen.getByTestId("git-error").textContent).toContain("no route"));
  });
});
