// Git: the branch and repository state, the changed files (a click shows the diff), and the
// recorded git events (commits, checkouts, rebases...) as they happen.

import { createEffect, For, Show } from "solid-js";
import type { GitChange, GitFileStatus, GitStatus } from "../api/types";
import { useApp } from "../context";
import { ago } from "../lib/format";
import { usePanelVisible } from "./TerminalPanel";

const LETTER: Record<GitChange, string> = {
  new: "A",
  modified: "M",
  deleted: "D",
  renamed: "R",
  typechange: "T",
  conflicted: "U",
};

/** The sentence for a repository that is not in its plain state (null when it is). */
export function stateMessage(s: GitStatus): string | null {
  if (s.state === "ok") return null;
  if (s.message) return s.message;
  switch (s.state) {
    case "not_a_repo":
      return "This workspace is not a git repository.";
    case "bare":
      return "This is a bare repository: there is no working tree.";
    case "rebasing":
      return "A rebase is in progress.";
    case "merging":
      return "A merge is in progress.";
    case "cherry_picking":
      return "A cherry-pick is in progress.";
    case "reverting":
      return "A revert is in progress.";
    case "bisecting":
      return "A bisect is in progress.";
    default:
      return `Repository state: ${s.state}.`;
  }
}

/** "main ↑1 ↓2 · origin/main", or "HEAD detached at 0123abc". */
export function branchLine(s: GitStatus): string {
  const head = s.head ? s.head.slice(0, 7) : "no commits";
  if (s.detached || s.branch === null) return `HEAD detached at ${head}`;
  const parts = [s.branch];
  if (s.ahead) parts.push(`↑${s.ahead}`);
  if (s.behind) parts.push(`↓${s.behind}`);
  return parts.join(" ") + (s.upstream ? ` · ${s.upstream}` : "");
}

function fileCode(f: GitFileStatus): string {
  return `${f.index ? LETTER[f.index as GitChange] ?? "?" : " "}${f.worktree ? LETTER[f.worktree as GitChange] ?? "?" : " "}`;
}

/** The class of a unified diff line. */
export function diffLineClass(line: string): string {
  if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ")) return "diff-meta";
  if (line.startsWith("@@")) return "diff-hunk";
  if (line.startsWith("+")) return "diff-add";
  if (line.startsWith("-")) return "diff-del";
  return "diff-ctx";
}

export function GitPanel() {
  const app = useApp();
  const g = app.git;
  const visible = usePanelVisible("git", "left");
  let root: HTMLDivElement | undefined;

  createEffect(() => {
    if (visible() && app.workspace.id() !== null) void g.ensureLoaded();
  });
  createEffect(() => {
    if (app.ui.focus()?.target === "git") root?.focus();
  });

  return (
    <div class="git-panel" data-testid="git-panel" tabIndex={-1} ref={root}>
      <Show when={app.workspace.id() !== null} fallback={<p class="empty">Open a workspace to see its repository.</p>}>
        <div class="git-head">
          <Show when={g.status()} fallback={<span class="empty">{g.statusError() ? "" : "Reading the repository…"}</span>}>
            {(s) => (
              <>
                <Show when={s().state !== "not_a_repo" && s().state !== "bare"}>
                  <span class="git-branch" data-testid="git-branch" title={s().head ?? ""}>
                    ⎇ {branchLine(s())}
                  </span>
                </Show>
                <Show when={stateMessage(s())}>
                  <span class={`git-state state-${s().state}`} role="status" data-testid="git-state">
                    {stateMessage(s())}
                  </span>
                </Show>
              </>
            )}
          </Show>
          <span class="sb-spacer" />
          <button type="button" aria-label="Refresh git status" title="Refresh" onClick={() => void g.load()}>
            ⟳
          </button>
        </div>
        <Show when={g.statusError()}>
          <p class="error" role="alert" data-testid="git-error">{g.statusError()}</p>
        </Show>
        <Show
          when={g.diff()}
          fallback={
            <>
              <Show when={g.status() && g.status()?.state !== "not_a_repo" && g.status()?.state !== "bare"}>
                <section aria-label="Changes">
                  <h3>Changes</h3>
                  <Show when={(g.status()?.files.length ?? 0) > 0} fallback={<p class="empty">No changes.</p>}>
                    <ul class="git-files">
                      <For each={g.status()?.files ?? []}>
                        {(f) => (
                          <li>
                            <button
                              type="button"
                              class="git-file"
                              data-testid="git-file"
                              data-path={f.path}
                              title={`index: ${f.index ?? "—"}, worktree: ${f.worktree ?? "—"}`}
                              onClick={() => void g.showDiff(f.path, f.worktree === null && f.index !== null)}
                            >
                              <code class={`git-code ${f.worktree === "conflicted" || f.index === "conflicted" ? "conflicted" : ""}`}>{fileCode(f)}</code>
                              <span class="git-path">{f.path}</span>
                            </button>
                          </li>
                        )}
                      </For>
                    </ul>
                  </Show>
                </section>
              </Show>
              <section aria-label="Git events">
                <h3>Events</h3>
                <Show when={g.logError()}>
                  <p class="error">{g.logError()}</p>
                </Show>
                <Show when={g.events().length > 0} fallback={<p class="empty">{g.loaded() ? "No git events recorded yet." : ""}</p>}>
                  <ol class="git-events">
                    <For each={g.events()}>
                      {(e) => (
                        <li class={`git-event kind-${e.kind}`} data-testid="git-event">
                          <span class="git-kind">{e.kind}</span>
                          <span class="git-summary" title={e.summary}>{e.summary}</span>
                          <span class="git-when" title={new Date(e.ts_ms).toLocaleString()}>
                            {e.new_oid ? `${e.new_oid.slice(0, 7)} · ` : ""}
                            {ago(e.ts_ms)}
                          </span>
                        </li>
                      )}
                    </For>
                  </ol>
                </Show>
              </section>
            </>
          }
        >
          {(d) => (
            <div class="git-diff" data-testid="git-diff">
              <div class="git-head">
                <button type="button" aria-label="Back to the changes" title="Back (Esc)" onClick={() => g.closeDiff()}>
                  ←
                </button>
                <code>{d().path}</code>
                <Show when={d().staged}>
                  <span class="badge">staged</span>
                </Show>
                <Show when={d().diff}>
                  {(df) => (
                    <span class="git-counts">
                      <span class="diff-add">+{df().files.reduce((n, f) => n + f.additions, 0)}</span>{" "}
                      <span class="diff-del">−{df().files.reduce((n, f) => n + f.deletions, 0)}</span>
                    </span>
                  )}
                </Show>
              </div>
              <Show when={d().error}>
                <p class="error" role="alert">{d().error}</p>
              </Show>
              <pre
                class="diff-view"
                tabIndex={0}
                aria-label={`Diff of ${d().path}`}
                onKeyDown={(e) => {
                  if (e.key === "Escape") {
                    e.preventDefault();
                    g.closeDiff();
                    root?.focus();
                  }
                }}
              >
                <For each={(d().diff?.diff ?? "").split("\n")}>{(line) => <div class={diffLineClass(line)}>{line || " "}</div>}</For>
              </pre>
              <Show when={d().diff?.truncated}>
                <p class="note">The diff is truncated.</p>
              </Show>
              <Show when={d().diff && d().diff?.diff === ""}>
                <p class="empty">No textual difference.</p>
              </Show>
            </div>
          )}
        </Show>
      </Show>
    </div>
  );
}
