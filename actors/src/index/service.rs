//! The indexing service in the tree: the `indexer` actor keeps every registered workspace
//! indexed (a full scan at start, then the watcher's changes), and [`IndexService`] is the
//! handle the API and the embedder share.
//!
//! Each workspace runs as one task owned by the actor: it starts the watcher, scans, then
//! applies the watcher's batches of changed paths, and rescans when the watcher says events
//! were lost. A task that fails (the database refused a write) fails the actor, and its
//! supervisor restarts it; a restart always begins with a full scan, so nothing that changed
//! while it was down is missed. Scans are cheap when nothing changed (size+mtime fast path).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, Notify};
use tokio::task::JoinHandle;
use weft_chunk::ChunkOptions;
use weft_vectors::{VectorError, VectorStore, VectorTable};

use super::files::{FileIndex, IndexCounts, IndexError, IndexOptions, WorkspaceId};
use super::progress::{Progress, ProgressSnapshot};
use super::watch::{WatchEvent, WatchMode, WatchOptions, Watcher};
use crate::config::IndexConfig;
use crate::storage::Storage;

/// Shared state of the indexing service; cheap to clone.
#[derive(Clone)]
pub struct IndexService {
    inner: Arc<Inner>,
}

struct Inner {
    files: FileIndex,
    config: IndexConfig,
    workspaces: Mutex<BTreeMap<WorkspaceId, Arc<WsState>>>,
    actor: Mutex<Option<ActorRef<IndexerMsg>>>,
    /// Wakes the embedder when new chunks are written.
    chunks_written: Arc<Notify>,
    /// Files the watcher just reported changed, for the embedder to take first.
    fresh: Mutex<Vec<(i64, String)>>,
    /// Notified when `fresh` gets paths.
    fresh_notify: Arc<Notify>,
    /// Bumped after every committed scan or update, so waiters can tell "written".
    generation: AtomicU64,
    /// Paths (relative) of a workspace just brought up to date; `[""]` after a full scan.
    fs_changes: broadcast::Sender<(i64, Vec<String>)>,
    vectors: Mutex<VectorStatus>,
    vector_dir: PathBuf,
    store: tokio::sync::OnceCell<VectorStore>,
    tables: Mutex<HashMap<String, VectorTable>>,
    model: Mutex<Option<String>>,
}

/// What the embedder reports about vectors, for status.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct VectorStatus {
    /// The model whose vectors are searched.
    pub model: Option<String>,
    /// The LanceDB table searched.
    pub table: Option<String>,
    /// Rows in it.
    pub rows: u64,
    /// Whether it has an ANN index.
    pub indexed: bool,
    /// Chunks embedded per second over the last batches.
    pub rate: f64,
    /// A table being filled for a new model, if any.
    pub building: Option<String>,
    /// Why vectors are not being made right now (pool down, ...).
    pub blocked: Option<String>,
    /// Chunks the embed pool computed since start.
    #[serde(default)]
    pub computed: u64,
    /// Chunks whose vector came from the embedding cache since start (identical text
    /// embedded before: vendored copies, branch switches, a rebuilt table).
    #[serde(default)]
    pub from_cache: u64,
}

/// One workspace's live state.
pub struct WsState {
    /// Its id.
    pub id: WorkspaceId,
    /// Its canonical root.
    pub root: PathBuf,
    /// Counters of the scan in progress or the last one.
    pub progress: Arc<Progress>,
    phase: Mutex<&'static str>,
    watch: Mutex<String>,
    last_error: Mutex<Option<String>>,
    last_scan: Mutex<Option<ScanSummary>>,
    scans: AtomicU64,
    updates: AtomicU64,
    /// Row counts, recomputed at most once per [`COUNTS_TTL`] and whenever the index
    /// generation moved (a scan or an update wrote): counting a big index costs tens of
    /// milliseconds, and the UI polls status several times a second.
    counts: Mutex<Option<(Instant, u64, IndexCounts)>>,
}

/// How long row counts in status may be reused.
const COUNTS_TTL: Duration = Duration::from_millis(1000);

/// Change batches a [`IndexService::subscribe_fs`] receiver may fall behind before it is told
/// it lagged (and must treat everything as changed).
const FS_CHANGES: usize = 256;

/// What the last full scan of a workspace found.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ScanSummary {
    /// Paths walked.
    pub seen: usize,
    /// Files not read (size and mtime unchanged).
    pub unchanged: usize,
    /// Files chunked (new or changed).
    pub indexed: usize,
    /// Rows removed.
    pub removed: usize,
    /// Files skipped, with reasons (first 50).
    pub skipped: Vec<(String, String)>,
    /// How many files were skipped in all.
    pub skipped_total: usize,
    /// Files to retry (changed while read).
    pub retry_later: usize,
    /// Seconds the scan took.
    pub seconds: f64,
}

/// A workspace as `weft status` and the UI show it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct WorkspaceStatus {
    /// Id.
    pub id: i64,
    /// Root.
    pub root: String,
    /// `scanning`, `updating`, `idle` or `failed`.
    pub phase: String,
    /// How changes are noticed: `native (N dirs)`, `polling: reason`, `off`.
    pub watch: String,
    /// Rows in the index.
    pub counts: IndexCounts,
    /// The scan in progress or the last one.
    pub progress: ProgressSnapshot,
    /// The last full scan's summary.
    pub last_scan: Option<ScanSummary>,
    /// Full scans done since start.
    pub scans: u64,
    /// Watcher batches applied since start.
    pub updates: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// Status of the whole index.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct IndexStatus {
    /// Per workspace.
    pub workspaces: Vec<WorkspaceStatus>,
    /// Vectors.
    pub vectors: VectorStatus,
    /// Committed writes so far (grows with every scan batch and update).
    pub generation: u64,
}

impl WsState {
    fn new(id: WorkspaceId, root: PathBuf) -> Self {
        WsState {
            id,
            root,
            progress: Arc::new(Progress::default()),
            phase: Mutex::new("idle"),
            watch: Mutex::new("off".to_owned()),
            last_error: Mutex::new(None),
            last_scan: Mutex::new(None),
            scans: AtomicU64::new(0),
            updates: AtomicU64::new(0),
            counts: Mutex::new(None),
        }
    }

    fn set_phase(&self, phase: &'static str) {
        if let Ok(mut p) = self.phase.lock() {
            *p = phase;
        }
    }

    fn set_watch(&self, watch: String) {
        if let Ok(mut w) = self.watch.lock() {
            *w = watch;
        }
    }

    fn set_error(&self, error: Option<String>) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = error;
        }
    }
}

impl IndexService {
    /// A service over `storage` with the `[index]` settings; vectors live in `vector_dir`.
    pub fn new(storage: Storage, config: IndexConfig, vector_dir: PathBuf) -> Self {
        IndexService {
            inner: Arc::new(Inner {
                files: FileIndex::new(storage),
                config,
                workspaces: Mutex::new(BTreeMap::new()),
                actor: Mutex::new(None),
                chunks_written: Arc::new(Notify::new()),
                fresh: Mutex::new(Vec::new()),
                fresh_notify: Arc::new(Notify::new()),
                generation: AtomicU64::new(0),
                fs_changes: broadcast::channel(FS_CHANGES).0,
                vectors: Mutex::new(VectorStatus::default()),
                vector_dir,
                store: tokio::sync::OnceCell::new(),
                tables: Mutex::new(HashMap::new()),
                model: Mutex::new(None),
            }),
        }
    }

    /// The vector store (opened on first use).
    pub async fn vector_store(&self) -> Result<VectorStore, VectorError> {
        self.inner
            .store
            .get_or_try_init(|| VectorStore::open(&self.inner.vector_dir))
            .await
            .cloned()
    }

    /// Remembers an open table handle, for search.
    pub fn cache_table(&self, name: &str, table: VectorTable) {
        if let Ok(mut t) = self.inner.tables.lock() {
            t.insert(name.to_owned(), table);
        }
    }

    /// Forgets a table handle (dropped or replaced).
    pub fn uncache_table(&self, name: &str) {
        if let Ok(mut t) = self.inner.tables.lock() {
            t.remove(name);
        }
    }

    /// An open handle of a table, opening it when needed.
    pub async fn table(&self, name: &str, dim: usize) -> Result<VectorTable, VectorError> {
        if let Some(t) = self
            .inner
            .tables
            .lock()
            .ok()
            .and_then(|t| t.get(name).cloned())
        {
            return Ok(t);
        }
        let t = self.vector_store().await?.table(name, dim).await?;
        self.cache_table(name, t.clone());
        Ok(t)
    }

    /// The model the embed pool runs, once a reply has told.
    pub fn embed_model(&self) -> Option<String> {
        self.inner.model.lock().ok().and_then(|m| m.clone())
    }

    /// Records the embed pool's model id.
    pub fn set_embed_model(&self, model: &str) {
        if let Ok(mut m) = self.inner.model.lock() {
            if m.as_deref() != Some(model) {
                *m = Some(model.to_owned());
            }
        }
    }

    /// The file index.
    pub fn files(&self) -> &FileIndex {
        &self.inner.files
    }

    /// The `[index]` settings.
    pub fn config(&self) -> &IndexConfig {
        &self.inner.config
    }

    /// Notified whenever chunks are written.
    pub fn chunks_written(&self) -> Arc<Notify> {
        Arc::clone(&self.inner.chunks_written)
    }

    /// Records files (relative paths of `workspace`) that just changed: the embedder embeds
    /// their chunks ahead of any backlog.
    pub fn mark_fresh(&self, workspace: i64, paths: Vec<String>) {
        if paths.is_empty() {
            return;
        }
        if let Ok(mut f) = self.inner.fresh.lock() {
            for p in paths {
                if !f.iter().any(|(w, q)| *w == workspace && *q == p) {
                    f.push((workspace, p));
                }
            }
        }
        self.inner.fresh_notify.notify_one();
    }

    /// Takes the files [`IndexService::mark_fresh`] recorded.
    pub fn take_fresh(&self) -> Vec<(i64, String)> {
        self.inner
            .fresh
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default()
    }

    /// Notified when [`IndexService::mark_fresh`] records files.
    pub fn fresh_notify(&self) -> Arc<Notify> {
        Arc::clone(&self.inner.fresh_notify)
    }

    /// Indexing options for a root, from the settings.
    pub fn options(&self, root: &Path) -> IndexOptions {
        let c = &self.inner.config;
        let mut opts = IndexOptions::new(root);
        opts.walk.max_file_bytes = c.max_file_bytes;
        opts.threads = c.threads as usize;
        opts.chunk = ChunkOptions {
            max_bytes: c.chunk_max_bytes as usize,
            max_lines: c.chunk_max_lines as usize,
            ..ChunkOptions::default()
        };
        opts.text_first_after =
            (c.text_first_mb < TEXT_FIRST_OFF_MB).then(|| c.text_first_mb * 1_000_000);
        opts
    }

    /// Registers `root` (if new) and has the indexer start keeping it indexed.
    pub async fn open(&self, root: &Path) -> Result<WorkspaceId, IndexError> {
        let id = self.inner.files.register_workspace(root).await?;
        let actor = self.inner.actor.lock().ok().and_then(|a| a.clone());
        match actor {
            Some(actor) => {
                if actor.cast(IndexerMsg::Open(id)).is_err() {
                    tracing::warn!(
                        workspace = id.0,
                        "indexer is restarting; it will pick the workspace up when it is back"
                    );
                }
            }
            None => tracing::info!(
                workspace = id.0,
                "indexer not running yet; the workspace is indexed when it starts"
            ),
        }
        Ok(id)
    }

    /// Brings these paths (relative to the workspace root) up to date now, through the same
    /// per-workspace update the watcher's changes take (for saves made through the API, which
    /// must not wait for, or depend on, the watcher).
    pub fn update_paths_now(
        &self,
        workspace: WorkspaceId,
        paths: Vec<PathBuf>,
    ) -> Result<(), String> {
        let actor = self.inner.actor.lock().ok().and_then(|a| a.clone());
        match actor {
            Some(actor) => actor
                .cast(IndexerMsg::Paths(workspace, paths))
                .map_err(|_| {
                    "the indexer is restarting; its rescan picks the change up".to_owned()
                }),
            None => Err("the indexer is not running; check `weft status`".to_owned()),
        }
    }

    /// Follows file changes as the index applies them: `(workspace, relative paths)`, and
    /// `(workspace, [""])` after a full scan. A receiver that falls behind gets `Lagged`.
    pub fn subscribe_fs(&self) -> broadcast::Receiver<(i64, Vec<String>)> {
        self.inner.fs_changes.subscribe()
    }

    /// A cheap marker of indexing activity (no database reads): the generation and each live
    /// workspace's phase and scan counters. The UI stream sends progress when it moves.
    pub fn activity(&self) -> (u64, Vec<(i64, String, ProgressSnapshot)>) {
        let live: Vec<Arc<WsState>> = self
            .inner
            .workspaces
            .lock()
            .map(|w| w.values().cloned().collect())
            .unwrap_or_default();
        let list = live
            .iter()
            .map(|ws| {
                let phase = ws.phase.lock().map(|p| (*p).to_owned()).unwrap_or_default();
                (ws.id.0, phase, ws.progress.snapshot())
            })
            .collect();
        (self.inner.generation.load(Ordering::Relaxed), list)
    }

    /// Asks for a full rescan of one workspace (or all).
    pub fn rescan(&self, workspace: Option<WorkspaceId>) -> Result<(), String> {
        let actor = self.inner.actor.lock().ok().and_then(|a| a.clone());
        match actor {
            Some(actor) => actor
                .cast(IndexerMsg::Rescan(workspace))
                .map_err(|_| "the indexer is restarting; try again in a moment".to_owned()),
            None => Err("the indexer is not running; check `weft status`".to_owned()),
        }
    }

    /// Records the embedder's view of the vectors.
    pub fn set_vectors(&self, status: VectorStatus) {
        if let Ok(mut v) = self.inner.vectors.lock() {
            *v = status;
        }
    }

    /// Updates the embedder's view of the vectors in place.
    pub fn update_vectors(&self, f: impl FnOnce(&mut VectorStatus)) {
        if let Ok(mut v) = self.inner.vectors.lock() {
            f(&mut v);
        }
    }

    /// The embedder's view of the vectors.
    pub fn vectors(&self) -> VectorStatus {
        self.inner
            .vectors
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Status of every registered workspace.
    pub async fn status(&self) -> Result<IndexStatus, IndexError> {
        let registered = self.inner.files.workspaces().await?;
        let live: BTreeMap<WorkspaceId, Arc<WsState>> = self
            .inner
            .workspaces
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default();
        let mut out = Vec::new();
        for ws in registered {
            let state = live.get(&ws.id);
            let read = |f: &dyn Fn(&WsState) -> Option<String>| state.and_then(|s| f(s));
            // The phase before the generation: a phase that says idle was set after the
            // generation moved for the last write, so the counts below are not older than it.
            let phase = read(&|s| s.phase.lock().ok().map(|p| (*p).to_owned()))
                .unwrap_or_else(|| "stopped".to_owned());
            let generation = self.inner.generation.load(Ordering::Relaxed);
            let cached = state.and_then(|s| {
                s.counts
                    .lock()
                    .ok()
                    .and_then(|c| c.clone())
                    .filter(|(at, g, _)| at.elapsed() < COUNTS_TTL && *g == generation)
                    .map(|(_, _, c)| c)
            });
            let counts = match cached {
                Some(c) => c,
                None => {
                    let c = self.inner.files.counts(ws.id).await?;
                    if let Some(s) = state {
                        if let Ok(mut slot) = s.counts.lock() {
                            *slot = Some((Instant::now(), generation, c.clone()));
                        }
                    }
                    c
                }
            };
            out.push(WorkspaceStatus {
                id: ws.id.0,
                root: ws.root.display().to_string(),
                phase,
                watch: read(&|s| s.watch.lock().ok().map(|w| w.clone()))
                    .unwrap_or_else(|| "off".to_owned()),
                counts,
                progress: state.map(|s| s.progress.snapshot()).unwrap_or_default(),
                last_scan: state.and_then(|s| s.last_scan.lock().ok().and_then(|l| l.clone())),
                scans: state.map_or(0, |s| s.scans.load(Ordering::Relaxed)),
                updates: state.map_or(0, |s| s.updates.load(Ordering::Relaxed)),
                last_error: read(&|s| s.last_error.lock().ok().and_then(|e| e.clone())),
            });
        }
        Ok(IndexStatus {
            workspaces: out,
            vectors: self.vectors(),
            generation: self.inner.generation.load(Ordering::Relaxed),
        })
    }

    fn wrote(&self) {
        self.inner.generation.fetch_add(1, Ordering::Relaxed);
        self.inner.chunks_written.notify_one();
    }
}

/// Messages of [`IndexerActor`].
pub enum IndexerMsg {
    /// Keep this (registered) workspace indexed.
    Open(WorkspaceId),
    /// Rescan one workspace, or all.
    Rescan(Option<WorkspaceId>),
    /// Bring these paths (relative to the root) of a workspace up to date now.
    Paths(WorkspaceId, Vec<PathBuf>),
    /// A workspace task ended; with an error, the actor fails (and is restarted).
    Ended(WorkspaceId, Option<String>),
}

/// The `indexer` actor: one task per workspace (see the module docs).
pub struct IndexerActor;

/// [`IndexerActor`]'s state: its workspace tasks, aborted on drop (a kill skips `post_stop`).
pub struct IndexerState {
    service: IndexService,
    tasks: BTreeMap<WorkspaceId, (JoinHandle<()>, mpsc::UnboundedSender<WsCmd>)>,
}

impl Drop for IndexerState {
    fn drop(&mut self) {
        for (task, _) in self.tasks.values() {
            task.abort();
        }
        if let Ok(mut w) = self.service.inner.workspaces.lock() {
            for ws in w.values() {
                ws.set_phase("stopped");
                ws.set_watch("off".to_owned());
            }
            w.clear();
        }
    }
}

/// Commands to a workspace task.
enum WsCmd {
    Rescan,
    Paths(Vec<PathBuf>),
}

impl Actor for IndexerActor {
    type Msg = IndexerMsg;
    type State = IndexerState;
    type Arguments = IndexService;

    async fn pre_start(
        &self,
        myself: ActorRef<IndexerMsg>,
        service: IndexService,
    ) -> Result<IndexerState, ActorProcessingErr> {
        let workspaces = service.inner.files.workspaces().await?;
        if let Ok(mut a) = service.inner.actor.lock() {
            *a = Some(myself.clone());
        }
        let mut state = IndexerState {
            service,
            tasks: BTreeMap::new(),
        };
        for ws in workspaces {
            start_task(&myself, &mut state, ws.id, ws.root);
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<IndexerMsg>,
        msg: IndexerMsg,
        state: &mut IndexerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            IndexerMsg::Open(id) => {
                if !state.tasks.contains_key(&id) {
                    let all = state.service.inner.files.workspaces().await?;
                    if let Some(ws) = all.into_iter().find(|w| w.id == id) {
                        start_task(&myself, state, ws.id, ws.root);
                    }
                }
            }
            IndexerMsg::Rescan(which) => {
                for (id, (_, tx)) in &state.tasks {
                    if which.is_none_or(|w| w == *id) {
                        let _ = tx.send(WsCmd::Rescan);
                    }
                }
            }
            IndexerMsg::Paths(id, paths) => {
                if let Some((_, tx)) = state.tasks.get(&id) {
                    let _ = tx.send(WsCmd::Paths(paths));
                }
            }
            IndexerMsg::Ended(id, error) => {
                state.tasks.remove(&id);
                if let Some(error) = error {
                    return Err(format!("indexing workspace {} failed: {error}", id.0).into());
                }
            }
        }
        Ok(())
    }
}

fn start_task(
    myself: &ActorRef<IndexerMsg>,
    state: &mut IndexerState,
    id: WorkspaceId,
    root: PathBuf,
) {
    let ws = Arc::new(WsState::new(id, root));
    if let Ok(mut w) = state.service.inner.workspaces.lock() {
        w.insert(id, Arc::clone(&ws));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let service = state.service.clone();
    let me = myself.clone();
    let task = tokio::spawn(async move {
        let result = workspace_loop(&service, &ws, rx).await;
        let error = match result {
            Ok(()) => None,
            Err(e) => {
                ws.set_phase("failed");
                ws.set_error(Some(e.clone()));
                tracing::error!(workspace = id.0, error = %e, "workspace indexing failed");
                Some(e)
            }
        };
        let _ = me.cast(IndexerMsg::Ended(id, error));
    });
    state.tasks.insert(id, (task, tx));
}

/// One workspace: watcher, initial scan, then changes as they come.
async fn workspace_loop(
    service: &IndexService,
    ws: &Arc<WsState>,
    mut cmds: mpsc::UnboundedReceiver<WsCmd>,
) -> Result<(), String> {
    let config = service.inner.config.clone();
    let opts = service.options(&ws.root);
    if !ws.root.is_dir() {
        let msg = format!(
            "workspace root {} is missing; restore it, or remove the workspace",
            ws.root.display()
        );
        ws.set_phase("missing");
        ws.set_error(Some(msg.clone()));
        tracing::warn!(workspace = ws.id.0, "{msg}");
        // Not a failure of the indexer: wait for a rescan request.
        while let Some(cmd) = cmds.recv().await {
            if matches!(cmd, WsCmd::Rescan) && ws.root.is_dir() {
                break;
            }
        }
        if !ws.root.is_dir() {
            return Ok(());
        }
        ws.set_error(None);
    }
    // The watcher first, so that changes made during the scan are not missed.
    let (wtx, mut wrx) = mpsc::channel::<WatchEvent>(64);
    let watcher = if config.watch {
        let mut wopts = WatchOptions::new(ws.root.clone());
        wopts.debounce = Duration::from_millis(config.debounce_ms);
        wopts.poll_interval = Duration::from_millis(config.poll_interval_ms);
        wopts.force_polling = config.poll;
        let started = tokio::task::spawn_blocking(move || Watcher::start(wopts, wtx)).await;
        match started {
            Ok(Ok(w)) => {
                ws.set_watch(describe(&w));
                Some(w)
            }
            Ok(Err(e)) => {
                tracing::warn!(workspace = ws.id.0, error = %e, "cannot watch the workspace; changes are picked up by rescans only");
                ws.set_watch(format!("off: {e}"));
                None
            }
            Err(e) => return Err(format!("watcher start task failed: {e}")),
        }
    } else {
        drop(wtx);
        None
    };
    // Files a text-first scan wrote as line windows, waiting for their syntax chunks. They
    // are chunked a batch at a time, and file changes and commands go first between batches.
    let mut refine: VecDeque<PathBuf> = full_scan(service, ws, &opts).await?.into();
    loop {
        let phase_after = if refine.is_empty() {
            "idle"
        } else {
            "refining"
        };
        tokio::select! {
            biased;
            event = wrx.recv(), if watcher.is_some() => match event {
                Some(WatchEvent::Paths(paths)) => {
                    let mut rel: Vec<PathBuf> = paths
                        .iter()
                        .filter_map(|p| p.strip_prefix(&ws.root).ok().map(Path::to_path_buf))
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect();
                    // Coalesce whatever else is already queued.
                    while let Ok(WatchEvent::Paths(more)) = wrx.try_recv() {
                        rel.extend(more.iter().filter_map(|p| p.strip_prefix(&ws.root).ok().map(Path::to_path_buf)));
                    }
                    apply_paths(service, ws, &opts, rel, phase_after).await?;
                }
                Some(WatchEvent::Rescan { reason }) => {
                    tracing::info!(workspace = ws.id.0, %reason, "rescanning the workspace");
                    if let Some(w) = &watcher {
                        ws.set_watch(describe(w));
                    }
                    // The rescan chunks left-over windows by syntax itself (they have rows).
                    refine = full_scan(service, ws, &opts).await?.into();
                }
                None => return Err("the file watcher stopped".to_owned()),
            },
            cmd = cmds.recv() => match cmd {
                Some(WsCmd::Rescan) => refine = full_scan(service, ws, &opts).await?.into(),
                Some(WsCmd::Paths(rel)) => apply_paths(service, ws, &opts, rel, phase_after).await?,
                None => return Ok(()),
            },
            () = std::future::ready(()), if !refine.is_empty() => {
                let n = refine.len().min(REFINE_BATCH);
                let batch: Vec<PathBuf> = refine.drain(..n).collect();
                refine_batch(service, ws, &opts, batch, refine.is_empty()).await?;
            }
        }
    }
}

/// Files chunked by syntax per round of the refining phase (between two looks at the file
/// changes and commands waiting).
const REFINE_BATCH: usize = 1024;
/// `[index] text_first_mb` at or above this turns text first off.
const TEXT_FIRST_OFF_MB: u64 = 1_000_000;

/// Chunks one batch of text-first files by syntax; after the last one, the phase is idle.
async fn refine_batch(
    service: &IndexService,
    ws: &Arc<WsState>,
    opts: &IndexOptions,
    batch: Vec<PathBuf>,
    last: bool,
) -> Result<(), String> {
    let report = service
        .inner
        .files
        .refine(ws.id, opts, batch)
        .await
        .map_err(|e| e.to_string())?;
    tracing::debug!(
        workspace = ws.id.0,
        chunks = report.chunks,
        "chunked text-first files by syntax"
    );
    service.wrote();
    if last {
        ws.set_phase("idle");
        let _ = service
            .inner
            .fs_changes
            .send((ws.id.0, vec![String::new()]));
        tracing::info!(
            workspace = ws.id.0,
            "every text-first file is chunked by syntax"
        );
    }
    Ok(())
}

/// Brings changed paths (relative to the root) up to date: the watcher's batches and saves
/// made through the API take this same path.
async fn apply_paths(
    service: &IndexService,
    ws: &Arc<WsState>,
    opts: &IndexOptions,
    rel: Vec<PathBuf>,
    phase_after: &'static str,
) -> Result<(), String> {
    if rel.is_empty() {
        return Ok(());
    }
    ws.set_phase("updating");
    let t0 = Instant::now();
    let fresh: Vec<String> = rel
        .iter()
        .filter_map(|p| p.to_str().map(str::to_owned))
        .collect();
    let report = service
        .inner
        .files
        .update_paths(ws.id, opts, rel, &ws.progress)
        .await
        .map_err(|e| e.to_string())?;
    ws.updates.fetch_add(1, Ordering::Relaxed);
    service.mark_fresh(ws.id.0, fresh.clone());
    service.wrote();
    // No receiver is not an error: nobody follows the stream right now.
    let _ = service.inner.fs_changes.send((ws.id.0, fresh));
    ws.set_phase(phase_after);
    tracing::debug!(
        workspace = ws.id.0,
        new = report.new,
        changed = report.changed,
        removed = report.removed,
        ms = t0.elapsed().as_millis() as u64,
        "applied file changes"
    );
    Ok(())
}

fn describe(w: &Watcher) -> String {
    match w.mode() {
        WatchMode::Native => format!("native ({} dirs)", w.watched_dirs()),
        WatchMode::Polling { reason } => format!("polling: {reason}"),
    }
}

async fn full_scan(
    service: &IndexService,
    ws: &Arc<WsState>,
    opts: &IndexOptions,
) -> Result<Vec<PathBuf>, String> {
    ws.set_phase("scanning");
    let t0 = Instant::now();
    // Wake the embedder as batches land, not only at the end.
    let ticker = {
        let notify = service.chunks_written();
        let svc = service.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                svc.inner.generation.fetch_add(1, Ordering::Relaxed);
                notify.notify_one();
            }
        })
    };
    let result = service.inner.files.scan(ws.id, opts, &ws.progress).await;
    ticker.abort();
    let mut report = match result {
        Ok(r) => r,
        Err(IndexError::Walk(e)) => {
            // The root vanished or became unreadable: report it, do not crash-loop.
            ws.set_phase("missing");
            ws.set_error(Some(e.to_string()));
            return Ok(Vec::new());
        }
        Err(e) => return Err(e.to_string()),
    };
    let summary = ScanSummary {
        seen: report.seen,
        unchanged: report.unchanged,
        indexed: report.new + report.changed,
        removed: report.removed,
        skipped_total: report.skipped.len(),
        skipped: report
            .skipped
            .iter()
            .take(50)
            .map(|(p, r)| (p.display().to_string(), r.clone()))
            .collect(),
        retry_later: report.retry_later.len(),
        seconds: t0.elapsed().as_secs_f64(),
    };
    if let Ok(mut l) = ws.last_scan.lock() {
        *l = Some(summary);
    }
    ws.scans.fetch_add(1, Ordering::Relaxed);
    // The generation moves before the phase says idle, so a status that reads "idle" never
    // shows counts cached from before the scan ended. With text-first files left, keyword
    // search covers the tree now and their syntax chunks follow ("refining").
    service.wrote();
    if report.windowed.is_empty() {
        ws.set_phase("idle");
    } else {
        tracing::info!(
            workspace = ws.id.0,
            files = report.windowed.len(),
            "keyword search covers the workspace; chunking the text-first files by syntax"
        );
        ws.set_phase("refining");
    }
    ws.set_error(None);
    let _ = service
        .inner
        .fs_changes
        .send((ws.id.0, vec![String::new()]));
    if !report.retry_later.is_empty() {
        // Files that changed while read: try them again shortly.
        let paths = report.retry_later.clone();
        let svc = service.clone();
        let ws2 = Arc::clone(ws);
        let opts2 = opts.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(e) = svc
                .inner
                .files
                .update_paths(ws2.id, &opts2, paths, &ws2.progress)
                .await
            {
                tracing::warn!(error = %e, "retrying changed files failed; the next scan picks them up");
            }
            svc.wrote();
        });
    }
    Ok(std::mem::take(&mut report.windowed))
}
