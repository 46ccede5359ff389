//! Pools of Python worker processes (embed, ner, llm) behind gRPC, supervised by Rust.
//!
//! ```text
//! pools                    one_for_one; each pool is temporary: a pool that gives up stays
//! │                        down (reported, degraded) while the rest of Weft runs
//! └── embed                rest_for_one: when the dispatcher restarts, its workers re-register
//!     ├── dispatcher       queue, job ledger, routing, retries, scaling   (permanent)
//!     └── workers          one_for_one, backoff 0.5 s → 30 s             (permanent)
//!         ├── w1           WorkerProcess: one Python process              (permanent)
//!         └── w2 ...       added and retired by the dispatcher's scaling
//! ```
//!
//! Callers use a [`PoolHandle`]: a request waits for a queue slot (at most
//! `[workers] admission_wait_ms`, then [`PoolError::Overloaded`]), goes to the least-busy
//! ready worker under the per-worker in-flight cap, and completes exactly once (see
//! [`dispatcher`]). Workers are stateless and never write storage, so killing one at any
//! instant costs latency, never data.

pub mod dispatcher;
pub mod process;
pub mod remote;
mod rpc;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use ractor::ActorRef;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Semaphore};
use weft_proto::worker::{CompleteChunk, CompleteRequest, EmbedReply, ExtractReply};

use crate::config::{Loaded, PoolKind, PoolSettings};
use crate::supervision::{
    Backoff, ChildKind, ChildSpec, Restart, Shutdown, StartCtx, Strategy, Supervisor,
    SupervisorArgs, SupervisorFlags, SupervisorHandle,
};
use dispatcher::{DispatchMsg, Dispatcher, DispatcherArgs, Job, Output, Payload};
use process::{WorkerProcess, WorkerSpec};
use remote::{RemoteSpec, RemoteWorker};

/// Vectors from the embed pool.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedOutput {
    /// Model, backend and precision, e.g. `all-MiniLM-L6-v2/openvino/bf16`.
    pub model_id: String,
    /// Vector dimension.
    pub dim: usize,
    /// `count * dim` values, row-major, each row L2-normalised.
    pub vectors: Vec<f32>,
    /// Number of rows.
    pub count: usize,
}

impl EmbedOutput {
    fn from_reply(reply: EmbedReply) -> Result<Self, String> {
        let dim = reply.dim as usize;
        let count = reply.count as usize;
        if reply.vectors.len() != dim * count * 4 {
            return Err(format!(
                "worker sent {} bytes of vectors for {count} x {dim}",
                reply.vectors.len()
            ));
        }
        let vectors = reply
            .vectors
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(Self {
            model_id: reply.model_id,
            dim,
            vectors,
            count,
        })
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }
}

/// Query or document embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedMode {
    /// Passages / chunks.
    Document,
    /// Search queries.
    Query,
}

/// Why a pool request failed. Each message names the pool and the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// The pool is switched off.
    #[error("the {} pool is disabled: set [workers] enabled = true and [{}] enabled = true", .kind.as_str(), .kind.as_str())]
    Disabled {
        /// Which pool.
        kind: PoolKind,
    },
    /// The pool gave up (or is restarting its dispatcher).
    #[error("the {} pool is down{}; see `weft status` and `weft doctor`", .kind.as_str(), fmt_last(.last_error))]
    Down {
        /// Which pool.
        kind: PoolKind,
        /// The last worker error.
        last_error: Option<String>,
    },
    /// The queue is full.
    #[error("the {} pool is overloaded: {queue} requests already pending; retry later or raise [{}] queue", .kind.as_str(), .kind.as_str())]
    Overloaded {
        /// Which pool.
        kind: PoolKind,
        /// Its bound.
        queue: u32,
    },
    /// No worker became ready in time.
    #[error("no {} worker became ready within {waited:?}{}", .kind.as_str(), fmt_last(.last_error))]
    NoWorker {
        /// Which pool.
        kind: PoolKind,
        /// How long the request waited.
        waited: Duration,
        /// The last worker error.
        last_error: Option<String>,
    },
    /// Workers kept dying under this request.
    #[error("the {} request failed on {attempts} workers; last: {reason}", .kind.as_str())]
    WorkerFailed {
        /// Which pool.
        kind: PoolKind,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The worker refused the request (bad input, policy).
    #[error("{message} ({code})")]
    Rejected {
        /// Stable code, e.g. `ERROR_CODE_EMPTY_BATCH`.
        code: String,
        /// The worker's message.
        message: String,
    },
    /// The pool restarted while the request was pending.
    #[error("the {} pool restarted while the request was pending; retry", .kind.as_str())]
    Restarted {
        /// Which pool.
        kind: PoolKind,
    },
}

fn fmt_last(last: &Option<String>) -> String {
    match last {
        Some(e) => format!(" (last error: {e})"),
        None => String::new(),
    }
}

impl PoolError {
    /// A stable code for APIs.
    pub fn code(&self) -> String {
        match self {
            PoolError::Disabled { .. } => "pool_disabled".into(),
            PoolError::Down { .. } => "pool_down".into(),
            PoolError::Overloaded { .. } => "overloaded".into(),
            PoolError::NoWorker { .. } => "no_worker".into(),
            PoolError::WorkerFailed { .. } => "worker_failed".into(),
            PoolError::Rejected { code, .. } => code.clone(),
            PoolError::Restarted { .. } => "pool_restarted".into(),
        }
    }
}

/// Live counters of one pool, for status.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PoolStats {
    /// Ready workers.
    pub ready: u64,
    /// Jobs waiting for a worker.
    pub queued: u64,
    /// Jobs running on a worker.
    pub in_flight: u64,
    /// Jobs completed.
    pub served: u64,
    /// Jobs re-run after a worker failed.
    pub retried: u64,
    /// The last worker error.
    pub last_error: Option<String>,
}

type WorkerFactory = Arc<dyn Fn(String) -> ChildSpec + Send + Sync>;

/// State shared by a pool's handle, dispatcher and workers.
pub struct PoolShared {
    /// Which pool.
    pub kind: PoolKind,
    /// Its sizes.
    pub settings: PoolSettings,
    /// Deadline of one request on a worker.
    pub call_timeout: Duration,
    /// A backlog this long adds a worker.
    pub scale_up_after: Duration,
    /// Idle this long retires a worker above the minimum.
    pub idle_retire: Duration,
    admission: Arc<Semaphore>,
    admission_wait: Duration,
    dispatcher: RwLock<Option<ActorRef<DispatchMsg>>>,
    workers: RwLock<Option<SupervisorHandle>>,
    factory: OnceLock<WorkerFactory>,
    incarnations: AtomicU64,
    worker_ids: AtomicU64,
    jobs: AtomicU64,
    ready: AtomicU64,
    queued: AtomicU64,
    in_flight: AtomicU64,
    served: AtomicU64,
    retried: AtomicU64,
    scaling: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl PoolShared {
    fn new(
        kind: PoolKind,
        settings: PoolSettings,
        call_timeout: Duration,
        admission_wait: Duration,
        policy: &PoolPolicy,
    ) -> Self {
        Self {
            kind,
            settings,
            call_timeout,
            scale_up_after: policy.scale_up_after,
            idle_retire: policy.idle_retire,
            admission: Arc::new(Semaphore::new(settings.queue.max(1) as usize)),
            admission_wait,
            dispatcher: RwLock::new(None),
            workers: RwLock::new(None),
            factory: OnceLock::new(),
            incarnations: AtomicU64::new(0),
            worker_ids: AtomicU64::new(u64::from(settings.min_workers)),
            jobs: AtomicU64::new(0),
            ready: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            served: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            scaling: AtomicBool::new(false),
            last_error: Mutex::new(None),
        }
    }

    fn dispatcher(&self) -> Option<ActorRef<DispatchMsg>> {
        self.dispatcher
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_dispatcher(&self, d: ActorRef<DispatchMsg>) {
        *self.dispatcher.write().unwrap_or_else(|e| e.into_inner()) = Some(d);
    }

    fn clear_dispatcher(&self) {
        *self.dispatcher.write().unwrap_or_else(|e| e.into_inner()) = None;
        self.ready.store(0, Ordering::Relaxed);
    }

    fn set_workers(&self, w: SupervisorHandle) {
        *self.workers.write().unwrap_or_else(|e| e.into_inner()) = Some(w);
    }

    /// Sends to the dispatcher, if there is one.
    fn cast(&self, msg: DispatchMsg) {
        if let Some(d) = self.dispatcher() {
            let _ = d.cast(msg);
        }
    }

    fn next_incarnation(&self) -> u64 {
        self.incarnations.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn set_last_error(&self, e: &str) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
    }

    /// Records a member's failure (callers of a pool that is down are told why) and turns
    /// it into the actor error that makes its supervisor act.
    fn fail(&self, e: String) -> ractor::ActorProcessingErr {
        self.set_last_error(&e);
        e.into()
    }

    fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_ready(&self, n: usize) {
        self.ready.store(n as u64, Ordering::Relaxed);
    }

    fn set_depth(&self, queued: usize, in_flight: usize) {
        self.queued.store(queued as u64, Ordering::Relaxed);
        self.in_flight.store(in_flight as u64, Ordering::Relaxed);
    }

    fn count_served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    fn count_retry(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds (`+1`) or retires (`-1`) one worker, within min..max, in the background.
    fn scale(self: &Arc<Self>, direction: i32) {
        if self.scaling.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            let result = shared.scale_now(direction).await;
            if let Err(e) = result {
                tracing::warn!(pool = shared.kind.as_str(), error = %e, "scaling failed");
            }
            shared.scaling.store(false, Ordering::SeqCst);
        });
    }

    async fn scale_now(&self, direction: i32) -> Result<(), String> {
        let workers = self
            .workers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or("no workers supervisor")?;
        let children = workers.which_children().await.map_err(|e| e.to_string())?;
        let n = children.len() as u32;
        if direction > 0 && n < self.settings.max_workers {
            let factory = self.factory.get().ok_or("no worker factory")?;
            let id = format!("w{}", self.worker_ids.fetch_add(1, Ordering::Relaxed) + 1);
            tracing::info!(pool = self.kind.as_str(), worker = %id, "scaling up");
            workers
                .start_child(factory(id))
                .await
                .map_err(|e| e.to_string())?;
        } else if direction < 0 && n > self.settings.min_workers {
            if let Some(last) = children.last() {
                tracing::info!(pool = self.kind.as_str(), worker = %last.id, "retiring an idle worker");
                workers
                    .terminate_child(&last.id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Counters for status.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            ready: self.ready.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            served: self.served.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            last_error: self.last_error(),
        }
    }
}

/// How callers reach one pool. Cheap to clone.
#[derive(Clone)]
pub struct PoolHandle {
    shared: Arc<PoolShared>,
}

/// A streaming completion.
pub struct Completion {
    chunks: mpsc::Receiver<CompleteChunk>,
    done: Option<oneshot::Receiver<Result<Output, PoolError>>>,
    kind: PoolKind,
}

impl Completion {
    /// The next chunk; `None` after the last one.
    pub async fn next(&mut self) -> Option<Result<CompleteChunk, PoolError>> {
        let done = self.done.as_mut()?;
        let finished = tokio::select! {
            biased;
            chunk = self.chunks.recv() => match chunk {
                Some(c) => return Some(Ok(c)),
                // Every sender is gone: the job ended; its result says how.
                None => None,
            },
            result = done => Some(result),
        };
        let result = match finished {
            Some(r) => r,
            None => self.done.take()?.await,
        };
        self.done = None;
        match result {
            Ok(Ok(_)) => self.chunks.try_recv().ok().map(Ok),
            Ok(Err(e)) => Some(Err(e)),
            Err(_) => Some(Err(PoolError::Restarted { kind: self.kind })),
        }
    }
}

impl PoolHandle {
    /// Which pool.
    pub fn kind(&self) -> PoolKind {
        self.shared.kind
    }

    /// Live counters.
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    async fn submit(
        &self,
        payload: Payload,
    ) -> Result<oneshot::Receiver<Result<Output, PoolError>>, PoolError> {
        let kind = self.shared.kind;
        let down = || PoolError::Down {
            kind,
            last_error: self.shared.last_error(),
        };
        if self.shared.dispatcher().is_none() {
            return Err(down());
        }
        let permit = match tokio::time::timeout(
            self.shared.admission_wait,
            Arc::clone(&self.shared.admission).acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => p,
            _ => {
                return Err(PoolError::Overloaded {
                    kind,
                    queue: self.shared.settings.queue,
                })
            }
        };
        let dispatcher = self.shared.dispatcher().ok_or_else(down)?;
        let (tx, rx) = oneshot::channel();
        let job = Job {
            id: self.shared.jobs.fetch_add(1, Ordering::Relaxed),
            payload,
            attempts: 0,
            reply: tx,
            enqueued: tokio::time::Instant::now(),
            _permit: permit,
        };
        dispatcher
            .cast(DispatchMsg::Submit(job))
            .map_err(|_| down())?;
        Ok(rx)
    }

    async fn run(&self, payload: Payload) -> Result<Output, PoolError> {
        let rx = self.submit(payload).await?;
        rx.await.map_err(|_| PoolError::Restarted {
            kind: self.shared.kind,
        })?
    }

    /// Embeds texts (normalised float32 vectors).
    pub async fn embed(
        &self,
        texts: Vec<String>,
        mode: EmbedMode,
    ) -> Result<EmbedOutput, PoolError> {
        self.embed_with(texts, mode, false).await
    }

    /// Embeds documents someone is waiting for (a file just edited): they are queued ahead
    /// of bulk work, like queries.
    pub async fn embed_urgent(&self, texts: Vec<String>) -> Result<EmbedOutput, PoolError> {
        self.embed_with(texts, EmbedMode::Document, true).await
    }

    async fn embed_with(
        &self,
        texts: Vec<String>,
        mode: EmbedMode,
        urgent: bool,
    ) -> Result<EmbedOutput, PoolError> {
        let mode = match mode {
            EmbedMode::Document => 0,
            EmbedMode::Query => 1,
        };
        match self
            .run(Payload::Embed {
                texts: Arc::new(texts),
                mode,
                urgent,
            })
            .await?
        {
            Output::Embed(e) => Ok(e),
            _ => Err(self.wrong_kind()),
        }
    }

    /// Extracts entities, one list per text.
    pub async fn extract(&self, texts: Vec<String>) -> Result<ExtractReply, PoolError> {
        match self
            .run(Payload::Extract {
                texts: Arc::new(texts),
            })
            .await?
        {
            Output::Extract(e) => Ok(e),
            _ => Err(self.wrong_kind()),
        }
    }

    /// Starts a streaming completion. Dropping the [`Completion`] cancels generation.
    pub async fn complete(&self, request: CompleteRequest) -> Result<Completion, PoolError> {
        let (tx, rx) = mpsc::channel(64);
        let done = self
            .submit(Payload::Complete {
                request: Arc::new(request),
                chunks: tx,
                delivered: Arc::new(AtomicBool::new(false)),
            })
            .await?;
        Ok(Completion {
            chunks: rx,
            done: Some(done),
            kind: self.shared.kind,
        })
    }

    fn wrong_kind(&self) -> PoolError {
        PoolError::Rejected {
            code: "wrong_pool".into(),
            message: format!(
                "the {} pool cannot serve this request",
                self.shared.kind.as_str()
            ),
        }
    }
}

/// The pools of one daemon, by kind (absent: disabled).
#[derive(Clone, Default)]
pub struct Pools {
    handles: BTreeMap<&'static str, PoolHandle>,
}

impl Pools {
    /// The pool of this kind, or why there is none.
    pub fn get(&self, kind: PoolKind) -> Result<&PoolHandle, PoolError> {
        self.handles
            .get(kind.as_str())
            .ok_or(PoolError::Disabled { kind })
    }

    /// Counters of every enabled pool.
    pub fn stats(&self) -> BTreeMap<String, PoolStats> {
        self.handles
            .iter()
            .map(|(k, h)| ((*k).to_string(), h.stats()))
            .collect()
    }

    /// True when no pool is enabled.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

/// Builds the `pools` subtree for the enabled pools (None when none is enabled).
pub fn pools_child(loaded: &Loaded) -> (Option<ChildSpec>, Pools) {
    let cfg = &loaded.config;
    let w = &cfg.workers;
    let mut pools = Pools::default();
    let mut children = Vec::new();
    for kind in PoolKind::ALL {
        let settings = cfg.pool(kind);
        if !settings.enabled {
            continue;
        }
        let policy = PoolPolicy::default();
        let shared = Arc::new(PoolShared::new(
            kind,
            settings,
            Duration::from_millis(w.call_timeout_ms),
            Duration::from_millis(w.admission_wait_ms),
            &policy,
        ));
        let spec = WorkerSpec {
            python: loaded.paths.python(cfg),
            args: worker_args(loaded, kind),
            env: Vec::new(),
            socket_dir: loaded.paths.workers_runtime_dir(),
            start_timeout: Duration::from_millis(w.start_timeout_ms),
            health_interval: Duration::from_millis(w.health_interval_ms),
            health_timeout: Duration::from_millis(w.health_timeout_ms),
            stop_grace: Duration::from_millis(w.stop_grace_ms),
            nice: i32::try_from(w.nice).unwrap_or(10),
        };
        let non_empty = |s: &str| (!s.is_empty()).then(|| std::path::PathBuf::from(s));
        let remotes = cfg
            .remote_workers(kind)
            .into_iter()
            .map(|url| RemoteSpec {
                url,
                ca_file: non_empty(&w.remote_ca),
                token_file: non_empty(&w.remote_token_file),
                start_timeout: Duration::from_millis(w.start_timeout_ms),
                health_interval: Duration::from_millis(w.health_interval_ms),
                health_timeout: Duration::from_millis(w.health_timeout_ms),
            })
            .collect();
        children.push(pool_child(Arc::clone(&shared), spec, remotes, policy));
        pools.handles.insert(kind.as_str(), PoolHandle { shared });
    }
    if children.is_empty() {
        return (None, pools);
    }
    let flags = SupervisorFlags {
        strategy: Strategy::OneForOne,
        max_restarts: 10,
        period: Duration::from_secs(60),
        backoff: Backoff::default(),
    };
    (Some(ChildSpec::supervisor("pools", flags, children)), pools)
}

/// Builds one pool outside the daemon's config (tests, benchmarks, embedding Weft elsewhere):
/// the subtree to put under a supervisor, and the handle to call it.
pub fn standalone_pool(
    kind: PoolKind,
    settings: PoolSettings,
    spec: WorkerSpec,
    remotes: Vec<RemoteSpec>,
    policy: PoolPolicy,
    call_timeout: Duration,
    admission_wait: Duration,
) -> (ChildSpec, PoolHandle) {
    let shared = Arc::new(PoolShared::new(
        kind,
        settings,
        call_timeout,
        admission_wait,
        &policy,
    ));
    let child = pool_child(Arc::clone(&shared), spec, remotes, policy);
    (child, PoolHandle { shared })
}

/// Restart policy of one pool's workers and of the pool itself.
#[derive(Debug, Clone)]
pub struct PoolPolicy {
    /// The workers supervisor's flags (one_for_one).
    pub workers: SupervisorFlags,
    /// The pool supervisor's flags (rest_for_one).
    pub pool: SupervisorFlags,
    /// A backlog beyond the ready workers' capacity for this long adds a worker.
    pub scale_up_after: Duration,
    /// No work at all for this long retires one worker above `min_workers`.
    pub idle_retire: Duration,
}

impl Default for PoolPolicy {
    fn default() -> Self {
        let backoff = Backoff {
            min: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter: 0.2,
            reset_after: Duration::from_secs(60),
        };
        Self {
            workers: SupervisorFlags {
                strategy: Strategy::OneForOne,
                max_restarts: 5,
                period: Duration::from_secs(60),
                backoff,
            },
            pool: SupervisorFlags {
                strategy: Strategy::RestForOne,
                max_restarts: 1,
                period: Duration::from_secs(300),
                backoff,
            },
            scale_up_after: Duration::from_secs(2),
            idle_retire: Duration::from_secs(60),
        }
    }
}

/// One pool's subtree: `<kind>` (rest_for_one) → dispatcher, workers → w1..wN.
pub fn pool_child(
    shared: Arc<PoolShared>,
    spec: WorkerSpec,
    remotes: Vec<RemoteSpec>,
    policy: PoolPolicy,
) -> ChildSpec {
    let kind = shared.kind;
    let factory: WorkerFactory = {
        let shared = Arc::clone(&shared);
        let spec = spec.clone();
        Arc::new(move |id: String| worker_child(Arc::clone(&shared), spec.clone(), id))
    };
    let _ = shared.factory.set(Arc::clone(&factory));

    let d_shared = Arc::clone(&shared);
    let dispatcher = ChildSpec::actor("dispatcher", move || {
        (
            Dispatcher,
            DispatcherArgs {
                shared: Arc::clone(&d_shared),
            },
        )
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(Duration::from_secs(1)));

    let w_shared = Arc::clone(&shared);
    let mut initial: Vec<ChildSpec> = (1..=shared.settings.min_workers)
        .map(|i| factory(format!("w{i}")))
        .collect();
    initial.extend(
        remotes
            .into_iter()
            .enumerate()
            .map(|(i, r)| remote_child(Arc::clone(&shared), r, format!("r{}", i + 1))),
    );
    let per_worker = spec.stop_grace + Duration::from_secs(2);
    let budget = per_worker * shared.settings.max_workers.max(1) + Duration::from_secs(1);
    let workers_flags = policy.workers.clone();
    let mut workers = ChildSpec::new("workers", move |ctx: StartCtx| {
        let args = SupervisorArgs {
            path: ctx.path,
            flags: workers_flags.clone(),
            children: initial.clone(),
            events: ctx.events,
        };
        let shared = Arc::clone(&w_shared);
        async move {
            let (sup, _) =
                ractor::Actor::spawn_linked(None, Supervisor, args, ctx.supervisor).await?;
            shared.set_workers(SupervisorHandle::new(sup.clone()));
            Ok(sup.get_cell())
        }
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(budget));
    workers.kind = ChildKind::Supervisor;

    ChildSpec::supervisor(kind.as_str(), policy.pool, vec![dispatcher, workers])
        .restart(Restart::Temporary)
}

/// Start-up arguments shared by both kinds of pool member: a local process
/// ([`WorkerProcess`], `S` = [`WorkerSpec`]) or a remote worker ([`RemoteWorker`],
/// `S` = [`RemoteSpec`]).
pub struct MemberArgs<S> {
    /// How to start or reach it.
    pub spec: S,
    /// Its pool.
    pub shared: Arc<PoolShared>,
    /// Stable id within the pool (`w1`, `r1`, ...), also the child id.
    pub id: String,
    /// Its path in the tree, for status info.
    pub path: String,
    /// Where it publishes pid, model, and counters for `weft status`.
    pub events: Arc<dyn crate::supervision::EventSink>,
}

/// A permanent pool member whose arguments are built from its start context.
fn member_child<A, S>(
    actor: fn() -> A,
    shared: Arc<PoolShared>,
    spec: S,
    id: String,
    shutdown: Duration,
) -> ChildSpec
where
    A: ractor::Actor<Arguments = MemberArgs<S>>,
    S: Clone + Send + Sync + 'static,
{
    let child_id = id.clone();
    ChildSpec::actor_with(child_id, move |ctx: &StartCtx| {
        let args = MemberArgs {
            spec: spec.clone(),
            shared: Arc::clone(&shared),
            id: id.clone(),
            path: ctx.path.clone(),
            events: Arc::clone(&ctx.events),
        };
        (actor(), args)
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(shutdown))
}

fn remote_child(shared: Arc<PoolShared>, spec: RemoteSpec, id: String) -> ChildSpec {
    member_child(|| RemoteWorker, shared, spec, id, Duration::from_secs(1))
}

fn worker_child(shared: Arc<PoolShared>, spec: WorkerSpec, id: String) -> ChildSpec {
    let grace = spec.stop_grace + Duration::from_secs(1);
    member_child(|| WorkerProcess, shared, spec, id, grace)
}

/// Command-line arguments for a worker of this kind, from the config.
fn worker_args(loaded: &Loaded, kind: PoolKind) -> Vec<String> {
    let cfg = &loaded.config;
    let mut args = Vec::new();
    match kind {
        PoolKind::Embed => {
            let e = &cfg.embed;
            if !e.model.is_empty() {
                args.extend(["--model".into(), e.model.clone()]);
            }
            args.extend(["--backend".into(), e.backend.clone()]);
            args.extend(["--precision".into(), e.precision.clone()]);
            args.extend(["--batch-size".into(), e.batch_size.to_string()]);
            args.extend([
                "--models-dir".into(),
                loaded.paths.models_dir(cfg).to_string_lossy().into_owned(),
            ]);
            let threads = if e.threads > 0 {
                e.threads
            } else {
                let cores = std::thread::available_parallelism()
                    .map(|n| n.get() as u32)
                    .unwrap_or(1);
                (cores / e.max_workers.max(1)).max(1)
            };
            args.extend(["--threads".into(), threads.to_string()]);
        }
        PoolKind::Ner => {}
        PoolKind::Llm => {
            let l = &cfg.llm;
            if !l.model.is_empty() {
                args.extend(["--model".into(), l.model.clone()]);
            }
            if l.local_only {
                args.push("--local-only".into());
            }
        }
    }
    args.extend(["--max-inflight".into(), cfg.pool(kind).inflight.to_string()]);
    args
}
