//! Git: each workspace's repository history as an event log, its status and diffs.
//!
//! The `git` actor (a child of the root, [`git_child`]) follows every workspace the index
//! keeps: it watches the repository's git directory (HEAD, refs, logs, index, packed-refs,
//! `MERGE_HEAD`, `rebase-merge/`, ...), and on start and after each change (debounced) reads
//! the reflogs of HEAD, every local branch and `refs/stash`, classifies each new entry by its
//! reflog message ([`classify`]) and records it in `git_events` ([`store`]). When HEAD's tree
//! moved for anything but a commit (checkout, reset, merge, pull, rebase, ...), the paths
//! that differ between the old and new tree go to the index at once
//! ([`IndexService::update_paths_now`]), so it follows a branch switch without waiting for
//! (or needing) the file watcher; the embedding cache means unchanged text is never
//! re-embedded. Status and diffs are read live by the API ([`repo::status`],
//! [`repo::diff`]). All git2 work runs in `spawn_blocking`.
//!
//! A workspace that is not a repository, a bare repository, an unborn branch, a detached
//! HEAD, or a repository mid-rebase/merge each have a clear state; none is an error, and the
//! actor never fails because of what a repository looks like. `docs/git.md` has the details.

pub mod actor;
pub mod classify;
pub mod repo;
pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub use actor::{GitActor, GitArgs, GitMsg};

use crate::config::Loaded;
use crate::index::{IndexError, IndexService};
use crate::storage::{Storage, StorageError};
use crate::supervision::{ChildSpec, Restart, Shutdown};

/// One recorded event of `git_events` (`GET /v1/git/log`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitEvent {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// `commit`, `amend`, `checkout`, `merge`, `rebase`, `pull`, `stash`, `reset`,
    /// `cherry-pick`, `branch`, `clone` or `other`.
    pub kind: String,
    /// The reflog it came from: `HEAD`, `refs/heads/NAME` or `refs/stash`.
    pub ref_name: String,
    /// The reference before (hex; 40 zeros when it did not exist).
    pub old_oid: String,
    /// The reference after (hex).
    pub new_oid: String,
    /// git's reflog message, e.g. `checkout: moving from main to feature`.
    pub summary: String,
    /// The commit's author for commits, otherwise who did it.
    pub author: Option<String>,
    /// When, Unix ms: the reflog's second × 1000 plus the entry's rank within that second.
    pub ts_ms: i64,
    /// What the message says, as fields (`from`/`to`, `branch`, `step`, `subject`, ...).
    pub detail: Option<serde_json::Value>,
}

/// One changed path of [`GitStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitFileStatus {
    /// Relative to the workspace root.
    pub path: String,
    /// Staged change: `new`, `modified`, `deleted`, `renamed`, `typechange`, `conflicted`.
    pub index: Option<String>,
    /// Unstaged change, same names.
    pub worktree: Option<String>,
}

/// `GET /v1/git/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitStatus {
    /// Workspace id.
    pub workspace: i64,
    /// `ok`, `not_a_repo`, `bare`, `rebasing`, `merging`, `cherry_picking`, `reverting`,
    /// `bisecting`.
    pub state: String,
    /// The current branch (also when unborn); `None` when detached.
    pub branch: Option<String>,
    /// HEAD's commit (hex); `None` when unborn.
    pub head: Option<String>,
    /// Whether HEAD is detached.
    pub detached: bool,
    /// Commits ahead of the upstream.
    pub ahead: Option<u64>,
    /// Commits behind the upstream.
    pub behind: Option<u64>,
    /// The upstream branch, e.g. `origin/main`.
    pub upstream: Option<String>,
    /// Changed, staged and untracked files (at most [`repo::MAX_STATUS_FILES`]).
    pub files: Vec<GitFileStatus>,
    /// Whether `files` was cut.
    #[serde(default)]
    pub truncated: bool,
    /// A sentence for any state but `ok`: what it means and what to do.
    pub message: Option<String>,
}

/// One file of [`GitDiff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitFileDiff {
    /// Relative to the workspace root.
    pub path: String,
    /// Lines added.
    pub additions: u64,
    /// Lines deleted.
    pub deletions: u64,
}

/// `GET /v1/git/diff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitDiff {
    /// The unified diff.
    pub diff: String,
    /// Per file line counts.
    pub files: Vec<GitFileDiff>,
    /// Whether the diff (or the file list) was cut at its limit.
    pub truncated: bool,
}

/// What can go wrong with git requests.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// libgit2 refused.
    #[error("git repository at {}: {source}", root.display())]
    Git {
        /// The workspace root.
        root: PathBuf,
        /// The libgit2 error.
        #[source]
        source: git2::Error,
    },
    /// The workspace is not in a repository (the message has the fix).
    #[error("{0}")]
    NotARepo(String),
    /// The repository is bare (the message says what to do).
    #[error("{0}")]
    Bare(String),
    /// A path leaves the workspace.
    #[error("{path:?} {why}: paths must be relative to the workspace root and stay inside it")]
    Outside {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// No workspace has this id.
    #[error("workspace {0} is not registered; open its folder first (`POST /v1/index` or `weft index PATH`)")]
    UnknownWorkspace(i64),
    /// The database.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The workspace list.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A blocking task failed (a bug).
    #[error("the git task failed: {0}")]
    Task(String),
}

/// How long the git directory must be quiet before it is read.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// The `git` child of the root: follows every workspace the index keeps. Permanent: it
/// never fails because of a repository, only if its own start fails.
pub fn git_child(storage: &Storage, index: &IndexService, _loaded: &Loaded) -> Option<ChildSpec> {
    let args = GitArgs {
        storage: storage.clone(),
        index: index.clone(),
        debounce: DEBOUNCE,
    };
    Some(
        ChildSpec::actor("git", move || (GitActor, args.clone()))
            .restart(Restart::Permanent)
            .shutdown(Shutdown::Timeout(Duration::from_secs(1))),
    )
}

/// New events of one workspace, as the stream sends them.
pub type GitBatch = (i64, Vec<GitEvent>);

type Feeds = Mutex<HashMap<PathBuf, broadcast::Sender<GitBatch>>>;

/// One feed per database (a process may run more than one core, e.g. in tests).
fn feeds() -> &'static Feeds {
    static FEEDS: OnceLock<Feeds> = OnceLock::new();
    FEEDS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn feed(storage: &Storage) -> Option<broadcast::Sender<GitBatch>> {
    let mut map = feeds().lock().ok()?;
    Some(
        map.entry(storage.path().to_path_buf())
            .or_insert_with(|| broadcast::channel(64).0)
            .clone(),
    )
}

/// Follows newly recorded events of every workspace of this database.
pub fn subscribe(storage: &Storage) -> Option<broadcast::Receiver<GitBatch>> {
    feed(storage).map(|tx| tx.subscribe())
}

/// Tells subscribers about newly recorded events.
fn publish(storage: &Storage, workspace: i64, events: Vec<GitEvent>) {
    if let Some(tx) = feed(storage) {
        // No receiver is not an error: nobody follows the stream right now.
        let _ = tx.send((workspace, events));
    }
}

/// Runs git2 work on a blocking thread (git2 calls do file I/O and may take a while).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| GitError::Task(e.to_string()))?
}
