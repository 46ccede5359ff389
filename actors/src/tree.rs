//! The root supervision tree of a Weft process, as `weft serve` and the desktop shell run it.
//!
//! ```text
//! root (rest_for_one)
//! ├── storage   StorageActor: health of the SQLite writer and readers, periodic WAL checkpoints
//! ├── pools     the Python worker pools (embed, ner, llm), see [`crate::pool`]
//! └── api       ApiActor: the local API on the profile's Unix socket and on loopback HTTP
//! ```
//!
//! [`start`] works from any binary that links this library (the `weft` daemon, the desktop
//! shell): it depends only on the configuration and the folder it is given.
//!
//! `rest_for_one` because later children depend on earlier ones: when storage is restarted,
//! everything started after it is restarted too, so nobody keeps using a handle from before
//! the failure. Later issues add `pools`, `workspace` and `agents` between `storage` and
//! `api` with [`root_children`]; nothing in the supervision module changes for that.
//! `docs/architecture.md` explains each policy.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::api::{ApiActor, ApiArgs, ApiContext, DaemonInfo, HttpError, HttpOptions};
use crate::config::{ConfigError, Loaded};
use crate::index::{IndexService, IndexerActor};
use crate::storage::{EventRow, Storage, StorageError, StorageOptions};
use crate::supervision::events::unix_ms;
use crate::supervision::{
    start_supervisor, Backoff, ChildSpec, Restart, Shutdown, Strategy, SupervisorFlags,
    SupervisorHandle, TreeEvent, TreeView,
};

/// Why the core could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Configuration or directories.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Opening or migrating the database.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Another process serves this profile.
    #[error("another `weft serve` is already running for profile `{profile}` (lock {}); stop it first, or use another profile with --profile", lock.display())]
    AlreadyRunning {
        /// The profile.
        profile: String,
        /// Its lock file.
        lock: PathBuf,
    },
    /// The lock file could not be opened.
    #[error("cannot open lock file {}: {source}; check that the data directory is writable", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The folder to serve.
    #[error("workspace folder {}: {reason}; pass an existing folder to `weft serve`", path.display())]
    Workspace {
        /// The folder.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The loopback HTTP listener cannot be prepared (its token file).
    #[error(transparent)]
    Api(#[from] HttpError),
    /// The tree did not start.
    #[error("the supervision tree failed to start: {0}")]
    Start(String),
}

/// An exclusive `flock` on the profile's lock file, held for the life of the daemon. The
/// kernel drops it when the process dies, however it dies, so a crash never leaves a stale
/// lock behind.
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    /// Takes the lock or says who holds it.
    pub fn acquire(path: &Path, profile: &str) -> Result<Self, CoreError> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|source| CoreError::Lock {
                path: path.to_path_buf(),
                source,
            })?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(CoreError::AlreadyRunning {
                profile: profile.to_string(),
                lock: path.to_path_buf(),
            });
        }
        Ok(Self { _file: file })
    }
}

/// A running core: the tree, its live view and its storage.
pub struct Core {
    /// The live view of the tree.
    pub view: TreeView,
    /// The database.
    pub storage: Storage,
    /// The root supervisor.
    pub root: SupervisorHandle,
    /// The daemon's facts (pid, boot id, ...).
    pub info: DaemonInfo,
    /// The API socket.
    pub socket: PathBuf,
    /// The worker pools (embed, ner, llm).
    pub pools: crate::pool::Pools,
    /// The indexing service.
    pub index: IndexService,
    /// The terminals.
    pub terms: crate::term::Terminals,
    ctx: ApiContext,
    http: Option<HttpOptions>,
    root_join: JoinHandle<()>,
    events: EventLog,
    _lock: InstanceLock,
}

/// How long an orderly [`Core::shutdown`] may take: workers get their SIGTERM grace before
/// SIGKILL, so the budget covers it, or a worker still loading its model would turn a clean
/// stop into a failure.
pub fn shutdown_budget(loaded: &Loaded) -> Duration {
    let mut budget = Duration::from_millis(1500);
    if loaded.config.workers.enabled {
        budget = budget.max(Duration::from_millis(
            loaded.config.workers.stop_grace_ms.saturating_add(1000),
        ));
    }
    budget
}

/// Flags of the root supervisor, from the `[supervision]` config section.
pub fn root_flags(loaded: &Loaded) -> SupervisorFlags {
    let s = &loaded.config.supervision;
    SupervisorFlags {
        strategy: Strategy::RestForOne,
        max_restarts: s.max_restarts,
        period: Duration::from_millis(s.period_ms),
        backoff: Backoff {
            min: Duration::from_millis(s.backoff_min_ms),
            max: Duration::from_millis(s.backoff_max_ms),
            jitter: s.backoff_jitter,
            reset_after: Duration::from_millis(s.reset_after_ms),
        },
    }
}

/// The root's children, in start order.
pub fn root_children(
    storage: &Storage,
    pools: Option<ChildSpec>,
    index: Option<ChildSpec>,
    workspace: Vec<ChildSpec>,
    api: ApiArgsFactory,
) -> Vec<ChildSpec> {
    let st = storage.clone();
    let mut children = vec![ChildSpec::actor("storage", move || {
        (
            StorageActor,
            StorageActorArgs {
                storage: st.clone(),
                health_every: Duration::from_secs(15),
                checkpoint_every: Duration::from_secs(300),
            },
        )
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(Duration::from_secs(2)))];
    children.extend(pools);
    children.extend(index);
    children.extend(workspace);
    children.push(
        ChildSpec::actor("api", move || (ApiActor, api()))
            .restart(Restart::Permanent)
            .shutdown(Shutdown::Timeout(Duration::from_secs(1))),
    );
    children
}

/// The `index` supervisor (one_for_one): the `indexer` (workspaces, watcher, keyword index)
/// and the `embedder` (vectors), independent of each other.
pub fn index_child(index: &IndexService, pools: &crate::pool::Pools, loaded: &Loaded) -> ChildSpec {
    let mut flags = root_flags(loaded);
    flags.strategy = Strategy::OneForOne;
    let svc = index.clone();
    let mut children = vec![
        ChildSpec::actor("indexer", move || (IndexerActor, svc.clone()))
            .restart(Restart::Permanent)
            .shutdown(Shutdown::Timeout(Duration::from_secs(2))),
    ];
    children.extend(crate::index::embedder_child(index, pools, loaded));
    ChildSpec::supervisor("index", flags, children)
}

/// Makes fresh [`ApiArgs`] for each incarnation of the API actor.
pub type ApiArgsFactory = Arc<dyn Fn() -> ApiArgs + Send + Sync>;

/// Starts the core for a profile: directories, instance lock, storage (with migrations), the
/// event log, and the root tree.
pub async fn start(loaded: &Loaded, workspace: &Path) -> Result<Core, CoreError> {
    let workspace = std::fs::canonicalize(workspace).map_err(|e| CoreError::Workspace {
        path: workspace.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !workspace.is_dir() {
        return Err(CoreError::Workspace {
            path: workspace,
            reason: "not a folder".into(),
        });
    }
    let paths = &loaded.paths;
    paths.ensure_dirs()?;
    let lock = InstanceLock::acquire(&paths.data_dir().join("weft.lock"), &paths.profile)?;
    // The token is read (or made) before anything starts: a token file others can read is a
    // start-up error with its fix, not a restart loop of the API.
    let http = {
        let loaded = loaded.clone();
        tokio::task::spawn_blocking(move || HttpOptions::from_config(&loaded))
            .await
            .map_err(|e| CoreError::Start(format!("preparing the API token failed: {e}")))??
    };
    if http.is_none() {
        // A URL left by a daemon that was killed would name a listener that is not there.
        let _ = std::fs::remove_file(paths.api_url_path());
    }

    let mut opts = StorageOptions::new(paths.db_path());
    opts.readers = loaded.config.storage.readers;
    opts.busy_timeout = Duration::from_millis(loaded.config.storage.busy_timeout_ms);
    let storage = Storage::open(opts).await?;

    let info = DaemonInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        boot_id: boot_id(),
        started_ms: unix_ms(),
        profile: paths.profile.clone(),
        data_dir: paths.data_dir(),
        workspace,
    };
    let (view, events) = EventLog::start(storage.clone(), info.boot_id.clone());

    let root_cell = Arc::new(OnceLock::new());
    let socket = paths.socket_path();
    let (pools_spec, pools) = crate::pool::pools_child(loaded);
    let index = IndexService::new(
        storage.clone(),
        loaded.config.index.clone(),
        paths.data_dir().join("vectors"),
    );
    let registered = match index.files().register_workspace(&info.workspace).await {
        Ok(id) => crate::api::fs::mark_opened(&storage, id)
            .await
            .map(|()| id)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let workspace_id = registered.as_ref().ok().copied();
    if let Err(e) = registered {
        events.finish().await;
        let _ = storage.close().await;
        return Err(CoreError::Start(format!("cannot register workspace: {e}")));
    }
    let index_spec = index_child(&index, &pools, loaded);
    let terms = crate::term::Terminals::new(crate::term::TermDeps {
        storage: storage.clone(),
        config: loaded.config.terminal.clone(),
        boot_id: info.boot_id.clone(),
        integration_dir: paths.runtime_dir().join("shell"),
        workspace: workspace_id.map(|id| (id.0, info.workspace.clone())),
        pools: pools.clone(),
        index: index.clone(),
    });
    if let Err(e) = crate::term::history::mark_lost(&storage, info.boot_id.clone(), unix_ms()).await
    {
        tracing::warn!(error = %e, "could not close the terminal sessions of an earlier run");
    }
    let session = crate::session::Session::new(
        storage.clone(),
        terms.clone(),
        info.profile.clone(),
        workspace_id.map(|id| id.0),
        info.workspace.to_string_lossy().into_owned(),
    );
    let ctx = ApiContext {
        view: view.clone(),
        storage: storage.clone(),
        root: Arc::clone(&root_cell),
        info: info.clone(),
        pools: pools.clone(),
        index: index.clone(),
        terms: terms.clone(),
        session: session.clone(),
    };
    let api_socket = socket.clone();
    let api_ctx = ctx.clone();
    let api_http = http.clone();
    let api: ApiArgsFactory = Arc::new(move || ApiArgs {
        socket: api_socket.clone(),
        ctx: api_ctx.clone(),
        http: api_http.clone(),
    });
    let mut terms_flags = root_flags(loaded);
    terms_flags.strategy = Strategy::OneForOne;
    let mut workspace_children: Vec<ChildSpec> = crate::git::git_child(&storage, &index, loaded)
        .into_iter()
        .collect();
    workspace_children.push(terms.child(terms_flags));
    workspace_children.push(session.child());
    let children = root_children(
        &storage,
        pools_spec,
        Some(index_spec),
        workspace_children,
        api,
    );
    let started =
        start_supervisor("root", root_flags(loaded), children, Arc::new(view.clone())).await;
    let (root, root_join) = match started {
        Ok(pair) => pair,
        Err(e) => {
            events.finish().await;
            let _ = storage.close().await;
            return Err(CoreError::Start(spawn_err_text(&e)));
        }
    };
    let _ = root_cell.set(root.clone());
    tracing::info!(profile = %info.profile, pid = info.pid, socket = %socket.display(), "weft core started");
    Ok(Core {
        view,
        storage,
        root,
        info,
        socket,
        pools,
        index,
        terms,
        ctx,
        http,
        root_join,
        events,
        _lock: lock,
    })
}

impl Core {
    /// The API's handler context, for calling the `/v1` routes in process
    /// ([`crate::api::router`]) and following the stream ([`crate::api::stream::subscribe`]).
    pub fn api_context(&self) -> ApiContext {
        self.ctx.clone()
    }

    /// The one-time URL that opens the UI in a browser (`http://127.0.0.1:PORT/#token=...`);
    /// `None` when `[api] http = false`.
    pub fn ui_url(&self) -> Option<String> {
        self.http.as_ref().and_then(HttpOptions::url)
    }

    /// Resolves when the root supervisor ends on its own (it gave up and escalated).
    pub async fn wait_root(&mut self) {
        let _ = (&mut self.root_join).await;
    }

    /// True once the root supervisor has ended.
    pub fn root_ended(&self) -> bool {
        self.root_join.is_finished()
    }

    /// Ordered shutdown: the tree in reverse start order, then the event log, then storage.
    pub async fn shutdown(self, timeout: Duration) -> Result<(), CoreError> {
        // The session first (with its terminals), then the shells: each gets SIGHUP (as when a terminal window closes) and its exit is
        // recorded while storage still runs.
        self.ctx.session.freeze().await;
        self.terms.close_all(Duration::from_millis(1000)).await;
        let tree = self.root.shutdown(timeout).await;
        let _ = self.root_join.await;
        self.events.finish().await;
        self.storage.close().await?;
        tracing::info!("weft core stopped");
        tree.map_err(|e| CoreError::Start(e.to_string()))
    }
}

/// The persistent event log: a [`TreeView`] whose events a background task writes to the
/// `events` table in batches, tagged with the run's boot id.
pub struct EventLog {
    done: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl EventLog {
    /// Starts the writer task; returns the view to hand to supervisors.
    pub fn start(storage: Storage, boot_id: String) -> (TreeView, EventLog) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (done, done_rx) = oneshot::channel();
        let task = tokio::spawn(persist_events(rx, done_rx, storage, boot_id));
        (TreeView::with_persistence(tx), EventLog { done, task })
    }

    /// Writes what is queued and stops the task.
    pub async fn finish(self) {
        let _ = self.done.send(());
        let _ = self.task.await;
    }
}

/// Drains supervision events into the `events` table in batches until told to finish, then
/// writes what is left.
async fn persist_events(
    mut rx: mpsc::UnboundedReceiver<TreeEvent>,
    mut done: oneshot::Receiver<()>,
    storage: Storage,
    boot_id: String,
) {
    let to_row = |e: TreeEvent| EventRow {
        ts_ms: e.ts_ms,
        boot_id: boot_id.clone(),
        supervisor: e.supervisor,
        child: e.child,
        kind: e.kind.as_str().to_string(),
        generation: i64::try_from(e.generation).unwrap_or(i64::MAX),
        reason: e.reason,
        detail: e.detail.map(|d| d.to_string()),
    };
    loop {
        let first = tokio::select! {
            biased;
            e = rx.recv() => match e { Some(e) => e, None => break },
            _ = &mut done => break,
        };
        let mut batch = vec![to_row(first)];
        while let Ok(e) = rx.try_recv() {
            batch.push(to_row(e));
        }
        if let Err(e) = storage.insert_events(batch).await {
            tracing::error!(error = %e, "could not persist supervision events");
        }
    }
    let mut rest = Vec::new();
    while let Ok(e) = rx.try_recv() {
        rest.push(to_row(e));
    }
    if !rest.is_empty() {
        if let Err(e) = storage.insert_events(rest).await {
            tracing::error!(error = %e, "could not persist the last supervision events");
        }
    }
}

fn boot_id() -> String {
    format!("{:016x}{:08x}", rand::random::<u64>(), std::process::id())
}

fn spawn_err_text(e: &ractor::SpawnErr) -> String {
    match e {
        ractor::SpawnErr::StartupFailed(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// Watches the database: a failed health check fails this actor, so the tree (and `weft
/// status`) sees storage trouble; WAL checkpoints keep the `-wal` file from growing.
pub struct StorageActor;

/// Start-up arguments of [`StorageActor`].
pub struct StorageActorArgs {
    /// The database.
    pub storage: Storage,
    /// How often to check health.
    pub health_every: Duration,
    /// How often to checkpoint the WAL.
    pub checkpoint_every: Duration,
}

/// Messages of [`StorageActor`].
pub enum StorageMsg {
    /// Time for a health check.
    HealthTick,
    /// Time for a checkpoint.
    CheckpointTick,
}

/// [`StorageActor`]'s state: its timers, aborted on drop (a kill skips `post_stop`).
pub struct StorageActorState {
    storage: Storage,
    timers: Vec<JoinHandle<()>>,
}

impl Drop for StorageActorState {
    fn drop(&mut self) {
        for t in &self.timers {
            t.abort();
        }
    }
}

impl Actor for StorageActor {
    type Msg = StorageMsg;
    type State = StorageActorState;
    type Arguments = StorageActorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<StorageMsg>,
        args: StorageActorArgs,
    ) -> Result<StorageActorState, ActorProcessingErr> {
        args.storage.health().await?;
        let timers = vec![
            myself.send_interval(args.health_every, || StorageMsg::HealthTick),
            myself.send_interval(args.checkpoint_every, || StorageMsg::CheckpointTick),
        ];
        Ok(StorageActorState {
            storage: args.storage,
            timers,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<StorageMsg>,
        msg: StorageMsg,
        state: &mut StorageActorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StorageMsg::HealthTick => state.storage.health().await?,
            StorageMsg::CheckpointTick => {
                if let Err(e) = state.storage.checkpoint().await {
                    tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                }
            }
        }
        Ok(())
    }
}
