//! The `git` actor: one task per workspace that finds its repository, watches the git
//! directory and records new reflog entries (see the [module docs](super)).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::Oid;
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::repo::{self, Located, Scan, Seen};
use super::{blocking, classify::classify, store};
use crate::index::{IndexService, WorkspaceId};
use crate::storage::Storage;

/// How often a workspace that is not (yet) a repository is looked at again (`git init`).
const NOT_A_REPO_POLL: Duration = Duration::from_secs(5);
/// How often a repository is read when nothing was noticed (a safety net for missed
/// notifications), and how often without a watcher.
const SAFETY_POLL: Duration = Duration::from_secs(30);
const POLL_WITHOUT_WATCHER: Duration = Duration::from_secs(2);
/// How soon to look again while git holds a lock, or after a failed pass.
const BUSY_RETRY: Duration = Duration::from_millis(300);
const FAILED_RETRY: Duration = Duration::from_secs(5);
/// The longest a burst of notifications may delay a read.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// Start-up arguments of [`GitActor`].
#[derive(Clone)]
pub struct GitArgs {
    /// The database (`git_events`).
    pub storage: Storage,
    /// The index: which workspaces exist, and where changed paths go.
    pub index: IndexService,
    /// Quiet period before the git directory is read.
    pub debounce: Duration,
}

/// Messages of [`GitActor`].
pub enum GitMsg {
    /// The index may know a workspace this actor does not follow yet.
    Check,
}

/// The `git` actor.
pub struct GitActor;

/// [`GitActor`]'s state: its tasks, aborted on drop (a kill skips `post_stop`).
pub struct GitState {
    args: GitArgs,
    tasks: BTreeMap<i64, JoinHandle<()>>,
    follower: Option<JoinHandle<()>>,
}

impl Drop for GitState {
    fn drop(&mut self) {
        for t in self.tasks.values() {
            t.abort();
        }
        if let Some(f) = &self.follower {
            f.abort();
        }
    }
}

impl GitState {
    async fn start_missing(&mut self) -> Result<(), ActorProcessingErr> {
        let workspaces = self.args.index.files().workspaces().await?;
        for ws in workspaces {
            if self.tasks.contains_key(&ws.id.0) {
                continue;
            }
            let args = self.args.clone();
            let task = tokio::spawn(follow(args, ws.id, ws.root));
            self.tasks.insert(ws.id.0, task);
        }
        Ok(())
    }
}

impl Actor for GitActor {
    type Msg = GitMsg;
    type State = GitState;
    type Arguments = GitArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<GitMsg>,
        args: GitArgs,
    ) -> Result<GitState, ActorProcessingErr> {
        let mut state = GitState {
            args,
            tasks: BTreeMap::new(),
            follower: None,
        };
        state.start_missing().await?;
        // Workspaces opened later show up as index changes of an id not followed yet.
        let known: BTreeSet<i64> = state.tasks.keys().copied().collect();
        let mut changes = state.args.index.subscribe_fs();
        state.follower = Some(tokio::spawn(async move {
            let mut known = known;
            loop {
                match changes.recv().await {
                    Ok((ws, _)) if known.contains(&ws) => {}
                    Ok((ws, _)) => {
                        known.insert(ws);
                        if myself.cast(GitMsg::Check).is_err() {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        if myself.cast(GitMsg::Check).is_err() {
                            return;
                        }
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }));
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<GitMsg>,
        msg: GitMsg,
        state: &mut GitState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            GitMsg::Check => {
                if let Err(e) = state.start_missing().await {
                    tracing::warn!(error = %e, "cannot list workspaces for git; will retry on the next change");
                }
            }
        }
        Ok(())
    }
}

/// Logs an error once until it changes (no log flood from a repository that stays broken).
#[derive(Default)]
struct Quiet(Option<String>);

impl Quiet {
    fn warn(&mut self, workspace: i64, what: &str, e: &dyn std::fmt::Display) {
        let text = format!("{what}: {e}");
        if self.0.as_deref() != Some(text.as_str()) {
            tracing::warn!(workspace, "{text}");
            self.0 = Some(text);
        }
    }

    fn clear(&mut self) {
        self.0 = None;
    }
}

/// What a workspace's task remembers between passes.
struct Follow {
    args: GitArgs,
    workspace: WorkspaceId,
    root: PathBuf,
    seen: Seen,
    head_tree: Option<Oid>,
    quiet: Quiet,
}

/// One workspace, for the life of the actor: find the repository, follow it while it
/// exists, and look again when it goes away or is not there yet.
async fn follow(args: GitArgs, workspace: WorkspaceId, root: PathBuf) {
    let mut f = Follow {
        args,
        workspace,
        root,
        seen: Seen::new(),
        head_tree: None,
        quiet: Quiet::default(),
    };
    let mut said_not_a_repo = false;
    loop {
        let root = f.root.clone();
        match blocking(move || repo::locate(&root)).await {
            Ok(Some(located)) => {
                said_not_a_repo = false;
                f.quiet.clear();
                tracing::info!(workspace = workspace.0, gitdir = %located.gitdir.display(), "following the git repository");
                follow_repo(&mut f, &located).await;
            }
            Ok(None) => {
                if !said_not_a_repo {
                    tracing::info!(
                        workspace = workspace.0,
                        root = %f.root.display(),
                        "not a git repository; git history starts once it is one (`git init`)"
                    );
                    said_not_a_repo = true;
                }
                tokio::time::sleep(NOT_A_REPO_POLL).await;
            }
            Err(e) => {
                f.quiet
                    .warn(workspace.0, "cannot open the git repository", &e);
                tokio::time::sleep(NOT_A_REPO_POLL).await;
            }
        }
    }
}

/// Watches the git directory; the receiver gets a unit per notification.
fn watch(located: &Located) -> Result<(RecommendedWatcher, mpsc::UnboundedReceiver<()>), String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let interesting = match &res {
            Ok(ev) => ev.paths.iter().any(|p| !under_objects(p)),
            Err(_) => true,
        };
        if interesting {
            let _ = tx.send(());
        }
    })
    .map_err(|e| e.to_string())?;
    let mut dirs: Vec<(PathBuf, RecursiveMode)> =
        vec![(located.gitdir.clone(), RecursiveMode::NonRecursive)];
    if located.commondir != located.gitdir {
        dirs.push((located.commondir.clone(), RecursiveMode::NonRecursive));
    }
    for sub in ["refs", "logs"] {
        dirs.push((located.commondir.join(sub), RecursiveMode::Recursive));
    }
    if located.commondir != located.gitdir {
        dirs.push((located.gitdir.join("logs"), RecursiveMode::Recursive));
    }
    for (dir, mode) in dirs {
        if dir.is_dir() {
            watcher
                .watch(&dir, mode)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    Ok((watcher, rx))
}

fn under_objects(p: &Path) -> bool {
    p.components().any(|c| c.as_os_str() == "objects")
}

/// Follows one repository until its git directory disappears.
async fn follow_repo(f: &mut Follow, located: &Located) {
    let loc = located.clone();
    let watched = tokio::task::spawn_blocking(move || watch(&loc)).await;
    let (_watcher, mut rx) = match watched {
        Ok(Ok((w, rx))) => (Some(w), Some(rx)),
        Ok(Err(e)) => {
            tracing::warn!(workspace = f.workspace.0, error = %e, "cannot watch the git directory; polling it every 2 s instead");
            (None, None)
        }
        Err(e) => {
            tracing::warn!(workspace = f.workspace.0, error = %e, "cannot watch the git directory; polling it every 2 s instead");
            (None, None)
        }
    };
    let mut next = Duration::ZERO; // read at once
    loop {
        let woke = match rx.as_mut() {
            Some(r) => tokio::select! {
                got = r.recv() => {
                    if got.is_none() {
                        // The watcher is gone: poll from now on.
                        rx = None;
                    }
                    got.is_some()
                }
                () = tokio::time::sleep(next) => false,
            },
            None => {
                tokio::time::sleep(next).await;
                false
            }
        };
        if woke {
            // Debounce: wait until the burst of notifications is over (bounded).
            if let Some(rx) = rx.as_mut() {
                let start = tokio::time::Instant::now();
                while start.elapsed() < MAX_DELAY {
                    match tokio::time::timeout(f.args.debounce, rx.recv()).await {
                        Ok(Some(())) => {}
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        if !located.gitdir.exists() {
            tracing::info!(
                workspace = f.workspace.0,
                "the git directory is gone; looking for a repository again"
            );
            f.seen.clear();
            f.head_tree = None;
            return;
        }
        next = match pass(f, located).await {
            Pass::Done if rx.is_some() => SAFETY_POLL,
            Pass::Done => POLL_WITHOUT_WATCHER,
            Pass::Busy => BUSY_RETRY,
            Pass::Failed => FAILED_RETRY,
        };
    }
}

enum Pass {
    Done,
    Busy,
    Failed,
}

/// Reads the reflogs, records what is new, and has the index follow a moved HEAD.
async fn pass(f: &mut Follow, located: &Located) -> Pass {
    let root = f.root.clone();
    let loc = located.clone();
    let seen = f.seen.clone();
    let prev = f.head_tree;
    let scanned = blocking(move || {
        if repo::busy(&loc) {
            return Ok(None);
        }
        repo::scan(&root, prev, &seen).map(Some)
    })
    .await;
    let scan: Scan = match scanned {
        Ok(Some(s)) => s,
        Ok(None) => return Pass::Busy,
        Err(e) => {
            f.quiet
                .warn(f.workspace.0, "cannot read the git history", &e);
            return Pass::Failed;
        }
    };
    let ws = f.workspace.0;
    // Follow the working tree unless only commits moved HEAD (they record what is there).
    let head_kinds: Vec<_> = scan
        .events
        .iter()
        .filter(|e| e.ref_name == "HEAD")
        .map(|e| classify(&e.ref_name, &e.summary).kind)
        .collect();
    let follow_tree = scan.tree_moved
        && (head_kinds.is_empty() || head_kinds.iter().any(|k| !k.keeps_worktree()));
    match store::record(&f.args.storage, ws, scan.events).await {
        Ok(added) => {
            if !added.is_empty() {
                tracing::debug!(workspace = ws, events = added.len(), "recorded git events");
                super::publish(&f.args.storage, ws, added);
            }
        }
        Err(e) => {
            f.quiet.warn(ws, "cannot record git events", &e);
            return Pass::Failed;
        }
    }
    f.seen = scan.seen;
    f.head_tree = scan.head_tree;
    f.quiet.clear();
    if follow_tree && !scan.changed.is_empty() {
        tracing::info!(
            workspace = ws,
            paths = scan.changed.len(),
            "HEAD moved; bringing the changed paths up to date in the index"
        );
        if let Err(e) = f.args.index.update_paths_now(f.workspace, scan.changed) {
            // The indexer's own rescan or watcher picks the change up.
            tracing::info!(workspace = ws, "{e}");
        }
    }
    Pass::Done
}
