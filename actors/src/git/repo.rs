//! Blocking git2 work: finding a workspace's repository, reading its reflogs, status and
//! diffs. Every function here blocks; callers run them in `spawn_blocking`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use git2::{
    Delta, DiffFormat, DiffOptions, ErrorCode, Oid, Repository, RepositoryState, Status,
    StatusOptions,
};
use serde_json::json;

use super::classify::{classify, timestamps, Kind, RawEntry};
use super::{GitDiff, GitError, GitEvent, GitFileDiff, GitFileStatus, GitStatus};

/// Most entries `GET /v1/git/status` lists.
pub const MAX_STATUS_FILES: usize = 5000;
/// Most files a diff lists with their line counts.
pub const MAX_DIFF_FILES: usize = 2000;

/// Where a workspace's repository is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The git directory (`.git`, or the repository itself when bare).
    pub gitdir: PathBuf,
    /// The common directory (differs from `gitdir` in linked worktrees).
    pub commondir: PathBuf,
    /// The working tree, canonical; `None` when bare.
    pub workdir: Option<PathBuf>,
}

fn git_err(root: &Path) -> impl FnOnce(git2::Error) -> GitError + '_ {
    move |source| GitError::Git {
        root: root.to_path_buf(),
        source,
    }
}

/// The repository holding `root` (itself or a parent folder), or `None` when there is none.
pub fn locate(root: &Path) -> Result<Option<Located>, GitError> {
    match Repository::discover(root) {
        Ok(repo) => Ok(Some(located(&repo))),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(git_err(root)(e)),
    }
}

fn located(repo: &Repository) -> Located {
    Located {
        gitdir: repo.path().to_path_buf(),
        commondir: repo.commondir().to_path_buf(),
        workdir: repo
            .workdir()
            .map(|w| std::fs::canonicalize(w).unwrap_or_else(|_| w.to_path_buf())),
    }
}

fn open(root: &Path) -> Result<Option<Repository>, GitError> {
    match Repository::discover(root) {
        Ok(repo) => Ok(Some(repo)),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(git_err(root)(e)),
    }
}

/// Whether git is in the middle of writing refs or the index (a lock file exists): the
/// reflogs may be half-written, so reading waits for the lock to go.
pub fn busy(located: &Located) -> bool {
    let dirs = [&located.gitdir, &located.commondir];
    for dir in dirs {
        for name in ["HEAD.lock", "index.lock", "packed-refs.lock"] {
            if dir.join(name).exists() {
                return true;
            }
        }
    }
    has_lock(&located.commondir.join("refs"), 0)
}

fn has_lock(dir: &Path, depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            has_lock(&path, depth + 1)
        } else {
            path.extension().is_some_and(|x| x == "lock")
        }
    })
}

/// The newest entry already recorded per reference, so a pass only handles what is new.
pub type Seen = HashMap<String, (i64, String, String, String)>;

/// What one pass over a repository found.
#[derive(Debug, Default)]
pub struct Scan {
    /// New events, oldest first (id 0: not stored yet).
    pub events: Vec<GitEvent>,
    /// The newest entry per reference after this pass.
    pub seen: Seen,
    /// The tree HEAD points at (`None`: unborn, bare without HEAD, or unreadable).
    pub head_tree: Option<Oid>,
    /// Paths (relative to the workspace root) that differ between the previous HEAD tree and
    /// this one, when both are known and differ.
    pub changed: Vec<PathBuf>,
    /// Whether HEAD's tree moved since the previous pass.
    pub tree_moved: bool,
}

fn reflog_entries(repo: &Repository, name: &str) -> Vec<RawEntry> {
    let Ok(log) = repo.reflog(name) else {
        return Vec::new();
    };
    // Entry 0 is the newest; oldest first here.
    let mut out: Vec<RawEntry> = log
        .iter()
        .map(|e| {
            let committer = e.committer();
            RawEntry {
                ref_name: name.to_owned(),
                old_oid: e.id_old().to_string(),
                new_oid: e.id_new().to_string(),
                secs: committer.when().seconds(),
                message: e
                    .message()
                    .map(|m| m.lines().next().unwrap_or("").trim().to_owned())
                    .unwrap_or_default(),
                who: committer.name().map(str::to_owned),
            }
        })
        .collect();
    out.reverse();
    out
}

/// Reads the reflogs of HEAD, every local branch and the stash; returns the entries newer
/// than `seen`, classified, and whether HEAD's tree moved since `prev_tree` (with the paths
/// that differ, relative to `root`).
pub fn scan(root: &Path, prev_tree: Option<Oid>, seen: &Seen) -> Result<Scan, GitError> {
    let Some(repo) = open(root)? else {
        return Ok(Scan::default());
    };
    let mut names = vec!["HEAD".to_owned()];
    if let Ok(branches) = repo.branches(Some(git2::BranchType::Local)) {
        for (branch, _) in branches.flatten() {
            if let Some(name) = branch.get().name() {
                names.push(name.to_owned());
            }
        }
    }
    names.push("refs/stash".to_owned());

    let head = reflog_entries(&repo, "HEAD");
    let head_ts = timestamps(&head.iter().map(|e| e.secs).collect::<Vec<_>>());
    let in_head: HashSet<(String, String, i64, String)> = head
        .iter()
        .map(|e| {
            (
                e.old_oid.clone(),
                e.new_oid.clone(),
                e.secs,
                e.message.clone(),
            )
        })
        .collect();

    // (sort key, event): other refs' entries sort before HEAD's at the same millisecond
    // (`checkout -b` creates the branch, then moves HEAD; `stash` writes the stash, then
    // resets HEAD).
    let mut fresh: Vec<((i64, u8), GitEvent)> = Vec::new();
    let mut new_seen = Seen::new();
    for name in &names {
        let entries = if name == "HEAD" {
            head.clone()
        } else {
            reflog_entries(&repo, name)
        };
        let ts = timestamps(&entries.iter().map(|e| e.secs).collect::<Vec<_>>());
        let keyed: Vec<(i64, RawEntry)> = ts.into_iter().zip(entries).collect();
        let Some((last_ts, last)) = keyed.last() else {
            continue;
        };
        new_seen.insert(
            name.clone(),
            (
                *last_ts,
                last.old_oid.clone(),
                last.new_oid.clone(),
                last.message.clone(),
            ),
        );
        let start = seen
            .get(name)
            .and_then(|(t, o, n, m)| {
                keyed.iter().rposition(|(ts, e)| {
                    ts == t && &e.old_oid == o && &e.new_oid == n && &e.message == m
                })
            })
            .map_or(0, |i| i + 1);
        let order = match name.as_str() {
            "HEAD" => 1,
            _ => 0,
        };
        for (ts_ms, e) in keyed.into_iter().skip(start) {
            if name != "HEAD"
                && in_head.contains(&(
                    e.old_oid.clone(),
                    e.new_oid.clone(),
                    e.secs,
                    e.message.clone(),
                ))
            {
                // The same move as one of HEAD's entries (a commit on the current branch).
                continue;
            }
            // Another ref's move in the same second as HEAD's move to the same commit (the
            // branch `checkout -b` creates) sorts just before that move.
            let ts_ms = if name == "HEAD" {
                ts_ms
            } else {
                head.iter()
                    .zip(&head_ts)
                    .rev()
                    .find(|(h, _)| h.secs == e.secs && h.new_oid == e.new_oid)
                    .map_or(ts_ms, |(_, t)| *t)
            };
            fresh.push(((ts_ms, order), event(&repo, e, ts_ms)));
        }
    }
    fresh.sort_by_key(|(k, _)| *k);

    let head_tree = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_tree().ok())
        .map(|t| t.id());
    let tree_moved = prev_tree.is_some() && head_tree.is_some() && prev_tree != head_tree;
    let mut changed = Vec::new();
    if let (true, Some(old), Some(new), Some(workdir)) =
        (tree_moved, prev_tree, head_tree, repo.workdir())
    {
        let workdir = std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf());
        changed = changed_paths(&repo, old, new, &workdir, root)?;
    }
    Ok(Scan {
        events: fresh.into_iter().map(|(_, e)| e).collect(),
        seen: new_seen,
        head_tree,
        changed,
        tree_moved,
    })
}

fn event(repo: &Repository, e: RawEntry, ts_ms: i64) -> GitEvent {
    let c = classify(&e.ref_name, &e.message);
    let mut detail = c.detail;
    let mut author = e.who.clone();
    if matches!(
        c.kind,
        Kind::Commit | Kind::Amend | Kind::Merge | Kind::CherryPick
    ) {
        if let Some(commit) = Oid::from_str(&e.new_oid)
            .ok()
            .and_then(|oid| repo.find_commit(oid).ok())
        {
            if let Some(name) = commit.author().name() {
                author = Some(name.to_owned());
            }
            detail.insert("parents".into(), json!(commit.parent_count()));
        }
    }
    GitEvent {
        id: 0,
        kind: c.kind.as_str().to_owned(),
        ref_name: e.ref_name,
        old_oid: e.old_oid,
        new_oid: e.new_oid,
        summary: e.message,
        author,
        ts_ms,
        detail: (!detail.is_empty()).then(|| serde_json::Value::Object(detail)),
    }
}

/// Paths that differ between two trees, relative to the workspace `root` (paths outside it,
/// when the workspace is a sub-folder of the repository, are left out).
fn changed_paths(
    repo: &Repository,
    old: Oid,
    new: Oid,
    workdir: &Path,
    root: &Path,
) -> Result<Vec<PathBuf>, GitError> {
    let err = git_err(root);
    let (old, new) = match (repo.find_tree(old), repo.find_tree(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => return Err(err(e)),
    };
    let diff = repo
        .diff_tree_to_tree(Some(&old), Some(&new), None)
        .map_err(git_err(root))?;
    let mut out = Vec::new();
    for delta in diff.deltas() {
        for p in [delta.old_file().path(), delta.new_file().path()]
            .into_iter()
            .flatten()
        {
            if let Ok(rel) = workdir.join(p).strip_prefix(root) {
                let rel = rel.to_path_buf();
                if !rel.as_os_str().is_empty() && !out.contains(&rel) {
                    out.push(rel);
                }
            }
        }
    }
    Ok(out)
}

/// The repository's state name and, for anything but `ok`, a sentence saying what it means
/// and what to do.
fn state_of(repo: &Repository) -> (&'static str, Option<String>) {
    match repo.state() {
        RepositoryState::Clean => ("ok", None),
        RepositoryState::Merge => (
            "merging",
            Some("a merge is in progress: resolve the conflicts and commit, or run `git merge --abort`".into()),
        ),
        RepositoryState::Revert | RepositoryState::RevertSequence => (
            "reverting",
            Some("a revert is in progress: resolve the conflicts and run `git revert --continue`, or `git revert --abort`".into()),
        ),
        RepositoryState::CherryPick | RepositoryState::CherryPickSequence => (
            "cherry_picking",
            Some("a cherry-pick is in progress: resolve the conflicts and run `git cherry-pick --continue`, or `git cherry-pick --abort`".into()),
        ),
        RepositoryState::Bisect => (
            "bisecting",
            Some("a bisect is in progress: mark commits with `git bisect good`/`bad`, and end it with `git bisect reset`".into()),
        ),
        RepositoryState::Rebase
        | RepositoryState::RebaseInteractive
        | RepositoryState::RebaseMerge => (
            "rebasing",
            Some("a rebase is in progress: resolve any conflicts and run `git rebase --continue`, or undo it with `git rebase --abort`".into()),
        ),
        RepositoryState::ApplyMailbox | RepositoryState::ApplyMailboxOrRebase => (
            "rebasing",
            Some("`git am` (or a rebase) is in progress: run `git am --continue` / `git rebase --continue`, or `--abort`".into()),
        ),
    }
}

/// A status that is not about a working tree (`not_a_repo`, `bare`).
fn empty_status(workspace: i64, state: &str, message: String) -> GitStatus {
    GitStatus {
        workspace,
        state: state.to_owned(),
        branch: None,
        head: None,
        detached: false,
        ahead: None,
        behind: None,
        upstream: None,
        files: Vec::new(),
        truncated: false,
        message: Some(message),
    }
}

fn index_change(s: Status) -> Option<&'static str> {
    if s.is_conflicted() {
        Some("conflicted")
    } else if s.is_index_new() {
        Some("new")
    } else if s.is_index_modified() {
        Some("modified")
    } else if s.is_index_deleted() {
        Some("deleted")
    } else if s.is_index_renamed() {
        Some("renamed")
    } else if s.is_index_typechange() {
        Some("typechange")
    } else {
        None
    }
}

fn worktree_change(s: Status) -> Option<&'static str> {
    if s.is_conflicted() {
        Some("conflicted")
    } else if s.is_wt_new() {
        Some("new")
    } else if s.is_wt_modified() {
        Some("modified")
    } else if s.is_wt_deleted() {
        Some("deleted")
    } else if s.is_wt_renamed() {
        Some("renamed")
    } else if s.is_wt_typechange() {
        Some("typechange")
    } else {
        None
    }
}

/// The pathspec that limits git to the workspace when it is a sub-folder of the repository
/// (`None`: the workspace is the whole working tree).
fn workspace_prefix(workdir: &Path, root: &Path) -> Option<String> {
    let rel = root.strip_prefix(workdir).ok()?;
    (!rel.as_os_str().is_empty()).then(|| rel.to_string_lossy().into_owned())
}

/// A path git printed (relative to the working tree), relative to the workspace root.
fn to_workspace(workdir: &Path, root: &Path, git_path: &str) -> String {
    workdir
        .join(git_path)
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| git_path.to_owned())
}

fn not_a_repo_message(root: &Path) -> String {
    format!(
        "{} is not a git repository; run `git init` there to track it (history, status and diffs appear once it is one)",
        root.display()
    )
}

fn bare_message(root: &Path) -> String {
    format!(
        "{} is a bare repository: it has no working tree, so there is no status or diff; open a clone of it instead",
        root.display()
    )
}

/// The status of the repository holding `root` (see `GET /v1/git/status`).
pub fn status(workspace: i64, root: &Path) -> Result<GitStatus, GitError> {
    let Some(repo) = open(root)? else {
        return Ok(empty_status(
            workspace,
            "not_a_repo",
            not_a_repo_message(root),
        ));
    };
    let (state, message) = if repo.is_bare() {
        ("bare", Some(bare_message(root)))
    } else {
        state_of(&repo)
    };
    let detached = repo.head_detached().unwrap_or(false);
    let (branch, head, upstream, ahead, behind) = head_info(&repo, detached);
    let mut out = GitStatus {
        workspace,
        state: state.to_owned(),
        branch,
        head,
        detached,
        ahead,
        behind,
        upstream,
        files: Vec::new(),
        truncated: false,
        message,
    };
    let Some(workdir) = repo.workdir() else {
        return Ok(out);
    };
    let workdir = std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .renames_head_to_index(true)
        .exclude_submodules(false);
    if let Some(prefix) = workspace_prefix(&workdir, root) {
        opts.pathspec(prefix);
    }
    let statuses = repo.statuses(Some(&mut opts)).map_err(git_err(root))?;
    for entry in statuses.iter() {
        let s = entry.status();
        if s.is_ignored() {
            continue;
        }
        if out.files.len() >= MAX_STATUS_FILES {
            out.truncated = true;
            break;
        }
        let Some(path) = entry.path() else { continue };
        out.files.push(GitFileStatus {
            path: to_workspace(&workdir, root, path),
            index: index_change(s).map(str::to_owned),
            worktree: worktree_change(s).map(str::to_owned),
        });
    }
    Ok(out)
}

type HeadInfo = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u64>,
    Option<u64>,
);

/// Branch, head oid, upstream and ahead/behind; an unborn branch has a name and no head.
fn head_info(repo: &Repository, detached: bool) -> HeadInfo {
    let head = match repo.head() {
        Ok(h) => h,
        Err(_) => {
            // Unborn: HEAD names a branch that has no commit yet.
            let branch = repo.find_reference("HEAD").ok().and_then(|r| {
                r.symbolic_target()
                    .map(|t| t.strip_prefix("refs/heads/").unwrap_or(t).to_owned())
            });
            return (branch, None, None, None, None);
        }
    };
    let oid = head.target();
    let head_hex = oid.map(|o| o.to_string());
    if detached || !head.is_branch() {
        return (None, head_hex, None, None, None);
    }
    let branch = head.shorthand().map(str::to_owned);
    let local = git2::Branch::wrap(head);
    let Ok(up) = local.upstream() else {
        return (branch, head_hex, None, None, None);
    };
    let up_name = up.name().ok().flatten().map(str::to_owned);
    let counts = match (oid, up.get().target()) {
        (Some(l), Some(u)) => repo.graph_ahead_behind(l, u).ok(),
        _ => None,
    };
    (
        branch,
        head_hex,
        up_name,
        counts.map(|c| c.0 as u64),
        counts.map(|c| c.1 as u64),
    )
}

/// Checks a path from a request: relative, no `..`, no NUL; `""` is the whole workspace.
pub fn relative(raw: &str) -> Result<PathBuf, GitError> {
    crate::api::fs::relative_path(raw).map_err(|why| GitError::Outside {
        path: raw.to_owned(),
        why: why.to_owned(),
    })
}

/// The unified diff of the working tree against the index (`staged = false`, like `git
/// diff`) or of the index against HEAD (`staged = true`, like `git diff --staged`), limited
/// to `rel` (relative to the workspace root; empty: everything in the workspace) and cut at
/// `limit` bytes.
pub fn diff(root: &Path, rel: &Path, staged: bool, limit: usize) -> Result<GitDiff, GitError> {
    let Some(repo) = open(root)? else {
        return Err(GitError::NotARepo(not_a_repo_message(root)));
    };
    let Some(workdir) = repo.workdir() else {
        return Err(GitError::Bare(bare_message(root)));
    };
    let workdir = std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    let mut opts = DiffOptions::new();
    let target = root.join(rel);
    if let Ok(spec) = target.strip_prefix(&workdir) {
        if !spec.as_os_str().is_empty() {
            opts.pathspec(spec.to_string_lossy().into_owned());
        }
    }
    let diff = if staged {
        let tree = match repo.head() {
            Ok(h) => Some(h.peel_to_tree().map_err(git_err(root))?),
            Err(_) => None, // unborn: everything staged is new
        };
        repo.diff_tree_to_index(tree.as_ref(), None, Some(&mut opts))
    } else {
        repo.diff_index_to_workdir(None, Some(&mut opts))
    }
    .map_err(git_err(root))?;

    let mut files = Vec::new();
    let mut truncated = false;
    for idx in 0..diff.deltas().len() {
        if files.len() >= MAX_DIFF_FILES {
            truncated = true;
            break;
        }
        let Some(delta) = diff.get_delta(idx) else {
            continue;
        };
        if delta.status() == Delta::Unmodified {
            continue;
        }
        let path = delta
            .new_file()
            .path()
            .or_else(|| delta.old_file().path())
            .map(|p| to_workspace(&workdir, root, &p.to_string_lossy()))
            .unwrap_or_default();
        let (additions, deletions) = match git2::Patch::from_diff(&diff, idx) {
            Ok(Some(patch)) => patch
                .line_stats()
                .map(|(_, a, d)| (a as u64, d as u64))
                .unwrap_or((0, 0)),
            _ => (0, 0),
        };
        files.push(GitFileDiff {
            path,
            additions,
            deletions,
        });
    }

    let mut text: Vec<u8> = Vec::new();
    let printed = diff.print(DiffFormat::Patch, |_, _, line| {
        let origin = line.origin();
        let content = line.content();
        let extra = usize::from(matches!(origin, '+' | '-' | ' '));
        if text.len() + content.len() + extra > limit {
            return false;
        }
        if extra == 1 {
            text.push(origin as u8);
        }
        text.extend_from_slice(content);
        true
    });
    match printed {
        Ok(()) => {}
        Err(e) if e.code() == ErrorCode::User => truncated = true,
        Err(e) => return Err(git_err(root)(e)),
    }
    Ok(GitDiff {
        diff: String::from_utf8_lossy(&text).into_owned(),
        files,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_stay_inside() {
        assert!(relative("../x").is_err());
        assert!(relative("/etc/passwd").is_err());
        assert!(relative("a/../../b").is_err());
        assert!(relative("a\0b").is_err());
        assert_eq!(
            relative("./src//a.rs").ok(),
            Some(PathBuf::from("src/a.rs"))
        );
        assert_eq!(relative("").ok(), Some(PathBuf::new()));
    }

    #[test]
    fn a_folder_without_git_is_not_a_repo() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A temp dir under a repository would find that repository instead.
        if Repository::discover(dir.path()).is_ok() {
            return;
        }
        let s = status(1, dir.path()).expect("status");
        assert_eq!(s.state, "not_a_repo");
        assert!(s.message.as_deref().is_some_and(|m| m.contains("git init")));
        assert!(locate(dir.path()).expect("locate").is_none());
        assert!(matches!(
            diff(dir.path(), Path::new(""), false, 1024),
            Err(GitError::NotARepo(_))
        ));
        let scan = scan(dir.path(), None, &Seen::new()).expect("scan");
        assert!(scan.events.is_empty());
    }

    #[test]
    fn an_unborn_and_a_bare_repository_have_clear_states() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init(dir.path()).expect("init");
        drop(repo);
        let s = status(1, dir.path()).expect("status");
        assert_eq!(s.state, "ok");
        assert!(s.head.is_none());
        assert!(s.branch.is_some(), "{s:?}");
        let scan = scan(dir.path(), None, &Seen::new()).expect("scan");
        assert!(scan.events.is_empty() && scan.head_tree.is_none());

        let bare = tempfile::tempdir().expect("tempdir");
        Repository::init_bare(bare.path()).expect("init bare");
        let s = status(1, bare.path()).expect("status");
        assert_eq!(s.state, "bare");
        assert!(s.message.as_deref().is_some_and(|m| m.contains("bare")));
        assert!(matches!(
            diff(bare.path(), Path::new(""), false, 1024),
            Err(GitError::Bare(_))
        ));
    }
}
