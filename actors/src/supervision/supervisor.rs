//! The supervisor actor: starts children from their specs, watches them through ractor's
//! supervision events, and applies the policy of [`super::policy`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr,
    SupervisionEvent,
};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use super::events::{join_path, EventKind, EventSink, NodeKind, TreeEvent};
use super::policy::{
    decide, Backoff, ChildPhase, ChildView, Decision, ExitKind, Intensity, Restart, Strategy,
};

/// How a supervisor stops a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shutdown {
    /// Kill at once: the child's running handler is cancelled and `post_stop` is skipped.
    BrutalKill,
    /// Ask the child to stop, and kill it if it has not stopped within the duration.
    Timeout(Duration),
}

/// How long a kill may take before the supervisor stops waiting for it.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// What a start function receives.
#[derive(Clone)]
pub struct StartCtx {
    /// The supervisor to link the child to (pass it to `spawn_linked`).
    pub supervisor: ActorCell,
    /// The child's full path in the tree, e.g. `root/storage`.
    pub path: String,
    /// Where the child (if it is a supervisor itself) reports its own events.
    pub events: Arc<dyn EventSink>,
}

/// The future a start function returns: the linked child's cell once its `pre_start` is done.
pub type StartFuture = BoxFuture<'static, Result<ActorCell, SpawnErr>>;

type StartFn = Arc<dyn Fn(StartCtx) -> StartFuture + Send + Sync>;

/// Whether a child is a plain worker actor or a supervisor of its own children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChildKind {
    /// A plain actor.
    Worker,
    /// A nested [`Supervisor`].
    Supervisor,
}

impl From<ChildKind> for NodeKind {
    fn from(kind: ChildKind) -> Self {
        match kind {
            ChildKind::Worker => NodeKind::Actor,
            ChildKind::Supervisor => NodeKind::Supervisor,
        }
    }
}

/// How to start one child and what to do when it ends.
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique among its siblings; no `/`.
    pub id: String,
    /// When it is restarted.
    pub restart: Restart,
    /// How it is stopped.
    pub shutdown: Shutdown,
    /// Worker or supervisor (for status and shutdown defaults).
    pub kind: ChildKind,
    start: StartFn,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl ChildSpec {
    /// A permanent child stopped with a 5 s timeout, started by `start`, which must spawn the
    /// actor linked to `ctx.supervisor`. The same function starts every incarnation, so the
    /// child rebuilds its state in `pre_start`.
    pub fn new<F, Fut>(id: impl Into<String>, start: F) -> Self
    where
        F: Fn(StartCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorCell, SpawnErr>> + Send + 'static,
    {
        Self {
            id: id.into().replace('/', "_"),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind: ChildKind::Worker,
            start: Arc::new(move |ctx| Box::pin(start(ctx))),
        }
    }

    /// A child actor made fresh by `make` for each incarnation.
    pub fn actor<A, M>(id: impl Into<String>, make: M) -> Self
    where
        A: Actor,
        M: Fn() -> (A, A::Arguments) + Send + Sync + 'static,
    {
        Self::actor_with(id, move |_| make())
    }

    /// Like [`ChildSpec::actor`], for a child that needs its start context (its path in the
    /// tree, the event sink) in its arguments.
    pub fn actor_with<A, M>(id: impl Into<String>, make: M) -> Self
    where
        A: Actor,
        M: Fn(&StartCtx) -> (A, A::Arguments) + Send + Sync + 'static,
    {
        let make = Arc::new(make);
        Self::new(id, move |ctx: StartCtx| {
            let make = Arc::clone(&make);
            async move {
                let (actor, args) = make(&ctx);
                let (actor_ref, _) = Actor::spawn_linked(None, actor, args, ctx.supervisor).await?;
                Ok(actor_ref.get_cell())
            }
        })
    }

    /// A nested supervisor with its own flags and children. It is given as long to stop as
    /// its children need together, plus a second.
    pub fn supervisor(
        id: impl Into<String>,
        flags: SupervisorFlags,
        children: Vec<ChildSpec>,
    ) -> Self {
        let budget = children
            .iter()
            .map(|c| match c.shutdown {
                Shutdown::BrutalKill => KILL_WAIT,
                Shutdown::Timeout(d) => d + KILL_WAIT,
            })
            .sum::<Duration>()
            + Duration::from_secs(1);
        let mut spec = Self::new(id, move |ctx: StartCtx| {
            let args = SupervisorArgs {
                path: ctx.path,
                flags: flags.clone(),
                children: children.clone(),
                events: ctx.events,
            };
            async move {
                let (sup, _) = Actor::spawn_linked(None, Supervisor, args, ctx.supervisor).await?;
                Ok(sup.get_cell())
            }
        });
        spec.kind = ChildKind::Supervisor;
        spec.shutdown = Shutdown::Timeout(budget);
        spec
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets the shutdown policy.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }
}

/// A supervisor's strategy, restart intensity and backoff.
#[derive(Debug, Clone, Serialize)]
pub struct SupervisorFlags {
    /// Which siblings restart together.
    pub strategy: Strategy,
    /// At most this many restarts within `period`; one more and the supervisor gives up.
    pub max_restarts: u32,
    /// The intensity window.
    pub period: Duration,
    /// Delay between restarts of one child.
    pub backoff: Backoff,
}

impl Default for SupervisorFlags {
    fn default() -> Self {
        Self {
            strategy: Strategy::OneForOne,
            max_restarts: 3,
            period: Duration::from_secs(5),
            backoff: Backoff::default(),
        }
    }
}

impl SupervisorFlags {
    /// Default flags with this strategy.
    pub fn with_strategy(strategy: Strategy) -> Self {
        Self {
            strategy,
            ..Self::default()
        }
    }
}

/// Errors a supervisor reports to callers and, on escalation, to its own parent.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// Restart intensity exceeded: the supervisor stopped its children and failed upward.
    #[error("supervisor {supervisor} gave up: child {child} needed more than {max_restarts} restarts within {period:?} (last exit: {reason})")]
    IntensityExceeded {
        /// The supervisor's path.
        supervisor: String,
        /// The child whose failure tipped it over.
        child: String,
        /// The configured limit.
        max_restarts: u32,
        /// The configured window.
        period: Duration,
        /// The child's last exit reason.
        reason: String,
    },
    /// A child's `pre_start` failed.
    #[error("supervisor {supervisor}: child {child} failed to start: {reason}")]
    StartFailed {
        /// The supervisor's path.
        supervisor: String,
        /// The child.
        child: String,
        /// Why.
        reason: String,
    },
    /// `start_child` with an id already in use.
    #[error("supervisor {supervisor} already has a child named {child}")]
    DuplicateChild {
        /// The supervisor's path.
        supervisor: String,
        /// The id.
        child: String,
    },
    /// `terminate_child` with an unknown id.
    #[error("supervisor {supervisor} has no child named {child}")]
    NoSuchChild {
        /// The supervisor's path.
        supervisor: String,
        /// The id.
        child: String,
    },
    /// The supervisor itself is gone or did not answer.
    #[error("supervisor is not answering: {0}")]
    Unavailable(String),
}

/// One child as [`SupervisorMsg::WhichChildren`] reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ChildInfo {
    /// Its id.
    pub id: String,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its restart type.
    pub restart: Restart,
    /// `running`, `pending` (waiting to restart) or `finished`.
    pub phase: &'static str,
    /// Current incarnation (1 = first start).
    pub generation: u64,
    /// Restarts so far.
    pub restarts: u64,
    /// The live actor, when running.
    #[serde(skip)]
    pub cell: Option<ActorCell>,
}

/// Messages a supervisor takes.
pub enum SupervisorMsg {
    /// Adds and starts a dynamic child (e.g. one terminal per user request). A start failure
    /// is returned, not retried.
    StartChild(ChildSpec, RpcReplyPort<Result<ActorCell, SupervisorError>>),
    /// Stops a child by its shutdown policy and forgets its spec.
    TerminateChild(String, RpcReplyPort<Result<(), SupervisorError>>),
    /// Lists the children in start order.
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    /// Internal: a scheduled restart of these children, valid only while `token` is theirs.
    Restart {
        /// Children to start, in start order.
        ids: Vec<String>,
        /// Which scheduling this is; a newer decision supersedes it.
        token: u64,
    },
}

/// Start-up arguments of a [`Supervisor`].
pub struct SupervisorArgs {
    /// This supervisor's path in the tree (`root`, `root/pools`, ...).
    pub path: String,
    /// Strategy, intensity, backoff.
    pub flags: SupervisorFlags,
    /// Static children, in start order.
    pub children: Vec<ChildSpec>,
    /// Where events go.
    pub events: Arc<dyn EventSink>,
}

/// The OTP-style supervisor actor.
pub struct Supervisor;

struct Child {
    spec: ChildSpec,
    cell: Option<ActorCell>,
    phase: ChildPhase,
    generation: u64,
    restarts: u64,
    /// Consecutive restarts without a stable run, for the backoff.
    streak: u32,
    started_at: Instant,
    pending_token: Option<u64>,
}

/// A supervisor's state.
pub struct SupervisorState {
    path: String,
    flags: SupervisorFlags,
    events: Arc<dyn EventSink>,
    children: Vec<Child>,
    /// Live children by actor id, with the generation the id belongs to. An exit whose actor
    /// is not here is one this supervisor caused itself, or from an old generation: ignored.
    by_actor: HashMap<ActorId, (String, u64)>,
    intensity: Intensity,
    next_token: u64,
}

impl SupervisorState {
    fn index_of(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id == id)
    }

    fn emit(&self, event: TreeEvent) {
        self.events.record(event);
    }

    fn event(&self, child: &str, kind: EventKind, generation: u64) -> TreeEvent {
        TreeEvent::now(&self.path, child, kind, generation)
    }

    /// Starts child `idx` (a first start or a restart). On failure nothing is registered.
    async fn start_child(&mut self, myself: &ActorCell, idx: usize) -> Result<(), String> {
        let child = &self.children[idx];
        let ctx = StartCtx {
            supervisor: myself.clone(),
            path: join_path(&self.path, &child.spec.id),
            events: Arc::clone(&self.events),
        };
        let generation = child.generation + 1;
        let id = child.spec.id.clone();
        let path = ctx.path.clone();
        let node_kind = NodeKind::from(child.spec.kind);
        let started = (child.spec.start)(ctx).await;
        self.events.set_kind(&path, node_kind);
        match started {
            Ok(cell) => {
                self.by_actor
                    .insert(cell.get_id(), (id.clone(), generation));
                let child = &mut self.children[idx];
                let kind = if child.generation == 0 {
                    EventKind::Started
                } else {
                    child.restarts += 1;
                    EventKind::Restarted
                };
                child.generation = generation;
                child.cell = Some(cell);
                child.phase = ChildPhase::Running;
                child.pending_token = None;
                child.started_at = Instant::now();
                self.emit(self.event(&id, kind, generation));
                Ok(())
            }
            Err(err) => {
                let reason = spawn_error_text(&err);
                tracing::warn!(supervisor = %self.path, child = %id, %reason, "child failed to start");
                self.emit(
                    self.event(&id, EventKind::StartFailed, generation)
                        .with_reason(reason.clone()),
                );
                let child = &mut self.children[idx];
                child.phase = ChildPhase::Finished;
                child.pending_token = None;
                Err(reason)
            }
        }
    }

    /// Stops child `idx` by its shutdown policy, if it runs. Its exit is then expected.
    async fn stop_child(&mut self, idx: usize, reason: &str) {
        let child = &mut self.children[idx];
        let Some(cell) = child.cell.take() else {
            child.pending_token = None;
            return;
        };
        self.by_actor.remove(&cell.get_id());
        let generation = child.generation;
        let id = child.spec.id.clone();
        let killed = shutdown_actor(&cell, child.spec.shutdown, reason).await;
        self.emit(
            self.event(&id, EventKind::Stopped, generation)
                .with_reason(reason.to_string())
                .with_detail(json!({ "killed": killed })),
        );
    }

    /// Stops every running child, last started first.
    async fn stop_all(&mut self, reason: &str) {
        for idx in (0..self.children.len()).rev() {
            self.stop_child(idx, reason).await;
            self.children[idx].phase = ChildPhase::Finished;
        }
    }

    fn views(&self) -> Vec<ChildView> {
        self.children
            .iter()
            .map(|c| ChildView {
                restart: c.spec.restart,
                phase: c.phase,
            })
            .collect()
    }

    /// Applies the strategy after child `idx` ended (or failed to start). Returns an error
    /// when the restart intensity is exceeded; the caller fails the supervisor with it.
    async fn on_child_down(
        &mut self,
        myself: &ActorCell,
        idx: usize,
        exit: ExitKind,
        reason: &str,
    ) -> Result<(), SupervisorError> {
        self.children[idx].cell = None;
        self.children[idx].phase = ChildPhase::Finished;
        self.children[idx].pending_token = None;
        let decision = decide(self.flags.strategy, &self.views(), idx, exit);
        let id = self.children[idx].spec.id.clone();
        let generation = self.children[idx].generation;

        if decision.is_final() {
            self.remove_children(&decision);
            return Ok(());
        }

        if !self.intensity.allow(Instant::now()) {
            let err = SupervisorError::IntensityExceeded {
                supervisor: self.path.clone(),
                child: id.clone(),
                max_restarts: self.flags.max_restarts,
                period: self.flags.period,
                reason: reason.to_string(),
            };
            tracing::error!(supervisor = %self.path, child = %id, "restart intensity exceeded; escalating");
            self.emit(
                self.event(&id, EventKind::GaveUp, generation)
                    .with_reason(err.to_string()),
            );
            self.stop_all("shutdown: supervisor gave up").await;
            let (parent, own) = split_path(&self.path);
            self.emit(
                TreeEvent::now(parent, own, EventKind::Escalated, 0).with_reason(err.to_string()),
            );
            return Err(err);
        }

        // Ids, not indexes: removing temporary bystanders below shifts indexes.
        let ids: Vec<String> = decision
            .restart
            .iter()
            .map(|&i| self.children[i].spec.id.clone())
            .collect();
        let stop_reason = format!(
            "shutdown: {} restart after {id} exited",
            strategy_name(self.flags.strategy)
        );
        for &i in &decision.stop {
            self.stop_child(i, &stop_reason).await;
        }
        self.remove_children(&decision);

        let token = self.next_token;
        self.next_token += 1;
        for rid in &ids {
            if let Some(i) = self.index_of(rid) {
                self.children[i].phase = ChildPhase::Pending;
                self.children[i].pending_token = Some(token);
            }
        }
        let Some(i) = self.index_of(&id) else {
            return Ok(());
        };
        let child = &mut self.children[i];
        let ran = Instant::now().saturating_duration_since(child.started_at);
        let attempt = if ran >= self.flags.backoff.reset_after {
            0
        } else {
            child.streak
        };
        child.streak = attempt.saturating_add(1);
        let delay = self.flags.backoff.delay(attempt, rand::random::<f64>());
        self.emit(
            self.event(&id, EventKind::RestartScheduled, generation)
                .with_detail(json!({
                    "delay_ms": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "attempt": attempt,
                    "with": ids,
                })),
        );
        let send_ids = ids;
        ractor::time::send_after::<SupervisorMsg, _>(delay, myself.clone(), move || {
            SupervisorMsg::Restart {
                ids: send_ids,
                token,
            }
        });
        Ok(())
    }

    fn remove_children(&mut self, decision: &Decision) {
        let mut remove = decision.remove.clone();
        remove.sort_unstable_by(|a, b| b.cmp(a));
        for i in remove {
            let child = self.children.remove(i);
            if let Some(cell) = &child.cell {
                self.by_actor.remove(&cell.get_id());
            }
            self.emit(self.event(&child.spec.id, EventKind::Removed, child.generation));
        }
    }

    fn info(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|c| ChildInfo {
                id: c.spec.id.clone(),
                kind: c.spec.kind,
                restart: c.spec.restart,
                phase: match c.phase {
                    ChildPhase::Running => "running",
                    ChildPhase::Pending => "pending",
                    ChildPhase::Finished => "finished",
                },
                generation: c.generation,
                restarts: c.restarts,
                cell: c.cell.clone(),
            })
            .collect()
    }
}

/// Stops one actor by policy; true when it had to be killed.
async fn shutdown_actor(cell: &ActorCell, shutdown: Shutdown, reason: &str) -> bool {
    match shutdown {
        Shutdown::BrutalKill => {
            if cell.kill_and_wait(Some(KILL_WAIT)).await.is_err() {
                tracing::warn!(actor = ?cell.get_id(), "actor did not exit within {KILL_WAIT:?} of a kill");
            }
            true
        }
        Shutdown::Timeout(limit) => {
            match cell
                .stop_and_wait(Some(reason.to_string()), Some(limit))
                .await
            {
                Ok(()) => false,
                Err(ractor::RactorErr::Timeout) => {
                    tracing::warn!(actor = ?cell.get_id(), ?limit, "actor ignored stop; killing it");
                    if cell.kill_and_wait(Some(KILL_WAIT)).await.is_err() {
                        tracing::warn!(actor = ?cell.get_id(), "actor did not exit within {KILL_WAIT:?} of a kill");
                    }
                    true
                }
                // The actor was already gone.
                Err(_) => false,
            }
        }
    }
}

fn split_path(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((parent, own)) => (parent, own),
        None => ("", path),
    }
}

fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::OneForOne => "one_for_one",
        Strategy::RestForOne => "rest_for_one",
        Strategy::OneForAll => "one_for_all",
    }
}

fn spawn_error_text(err: &SpawnErr) -> String {
    match err {
        SpawnErr::StartupFailed(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// Exit reasons OTP calls normal: none, `normal`, and `shutdown...`. Anything else (a
/// failure, `killed`, `actor_task_cancelled`, or any other stop reason) is abnormal.
pub fn classify_exit(reason: Option<&str>) -> ExitKind {
    match reason {
        None => ExitKind::Normal,
        Some(r) if r == "normal" || r.starts_with("shutdown") => ExitKind::Normal,
        Some(_) => ExitKind::Abnormal,
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let now = Instant::now();
        let mut state = SupervisorState {
            intensity: Intensity::new(args.flags.max_restarts, args.flags.period),
            path: args.path,
            flags: args.flags,
            events: args.events,
            children: args
                .children
                .into_iter()
                .map(|spec| Child {
                    spec,
                    cell: None,
                    phase: ChildPhase::Finished,
                    generation: 0,
                    restarts: 0,
                    streak: 0,
                    started_at: now,
                    pending_token: None,
                })
                .collect(),
            by_actor: HashMap::new(),
            next_token: 0,
        };
        let me = myself.get_cell();
        for idx in 0..state.children.len() {
            if let Err(reason) = state.start_child(&me, idx).await {
                let child = state.children[idx].spec.id.clone();
                state.stop_all("shutdown: a sibling failed to start").await;
                return Err(Box::new(SupervisorError::StartFailed {
                    supervisor: state.path.clone(),
                    child,
                    reason,
                }));
            }
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Ordered shutdown: reverse start order, each child by its own policy. ractor would
        // otherwise kill all children at once and skip their post_stop.
        state.stop_all("shutdown").await;
        if !state.path.contains('/') {
            // A top-level supervisor has no parent to record its stop.
            state.emit(
                TreeEvent::now("", &state.path, EventKind::Stopped, 1).with_reason("shutdown"),
            );
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let me = myself.get_cell();
        match message {
            SupervisorMsg::StartChild(spec, reply) => {
                let result = if state.index_of(&spec.id).is_some() {
                    Err(SupervisorError::DuplicateChild {
                        supervisor: state.path.clone(),
                        child: spec.id.clone(),
                    })
                } else {
                    let id = spec.id.clone();
                    state.children.push(Child {
                        spec,
                        cell: None,
                        phase: ChildPhase::Finished,
                        generation: 0,
                        restarts: 0,
                        streak: 0,
                        started_at: Instant::now(),
                        pending_token: None,
                    });
                    let idx = state.children.len() - 1;
                    match state.start_child(&me, idx).await {
                        Ok(()) => state.children[idx]
                            .cell
                            .clone()
                            .ok_or_else(|| SupervisorError::Unavailable("child vanished".into())),
                        Err(reason) => {
                            state.children.remove(idx);
                            Err(SupervisorError::StartFailed {
                                supervisor: state.path.clone(),
                                child: id,
                                reason,
                            })
                        }
                    }
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::TerminateChild(id, reply) => {
                let result = match state.index_of(&id) {
                    Some(idx) => {
                        state.stop_child(idx, "shutdown: terminated").await;
                        let child = state.children.remove(idx);
                        state.emit(state.event(&id, EventKind::Removed, child.generation));
                        Ok(())
                    }
                    None => Err(SupervisorError::NoSuchChild {
                        supervisor: state.path.clone(),
                        child: id,
                    }),
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::WhichChildren(reply) => {
                let _ = reply.send(state.info());
            }
            SupervisorMsg::Restart { ids, token } => {
                for id in ids {
                    let Some(idx) = state.index_of(&id) else {
                        continue;
                    };
                    if state.children[idx].pending_token != Some(token) {
                        continue;
                    }
                    if let Err(reason) = state.start_child(&me, idx).await {
                        // A failed start counts as a failure of that child; the decision for
                        // it reschedules the rest of this group under a new token.
                        state
                            .on_child_down(&me, idx, ExitKind::Abnormal, &reason)
                            .await?;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, exit, reason) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let exit = classify_exit(reason.as_deref());
                (cell, exit, reason.unwrap_or_else(|| "normal".to_string()))
            }
            SupervisionEvent::ActorFailed(cell, err) => (cell, ExitKind::Abnormal, err.to_string()),
            _ => return Ok(()),
        };
        let Some((id, generation)) = state.by_actor.remove(&cell.get_id()) else {
            tracing::debug!(supervisor = %state.path, actor = ?cell.get_id(), "ignoring exit of an actor this supervisor stopped or replaced");
            return Ok(());
        };
        let Some(idx) = state.index_of(&id) else {
            return Ok(());
        };
        if state.children[idx].generation != generation {
            return Ok(());
        }
        let abnormal = exit == ExitKind::Abnormal;
        if abnormal {
            tracing::warn!(supervisor = %state.path, child = %id, %reason, "child failed");
        } else {
            tracing::info!(supervisor = %state.path, child = %id, %reason, "child exited");
        }
        state.emit(
            state
                .event(&id, EventKind::Exited, generation)
                .with_reason(reason.clone())
                .with_detail(json!({ "abnormal": abnormal })),
        );
        state
            .on_child_down(&myself.get_cell(), idx, exit, &reason)
            .await?;
        Ok(())
    }
}

/// A handle on a running supervisor, for the calls other actors and tests make.
#[derive(Clone)]
pub struct SupervisorHandle {
    actor: ActorRef<SupervisorMsg>,
}

/// How long a handle waits for its supervisor to answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl SupervisorHandle {
    /// Wraps a supervisor's actor ref.
    pub fn new(actor: ActorRef<SupervisorMsg>) -> Self {
        Self { actor }
    }

    /// Wraps a supervisor's cell (e.g. one found through [`ChildInfo::cell`]).
    pub fn from_cell(cell: ActorCell) -> Self {
        Self {
            actor: ActorRef::from(cell),
        }
    }

    /// The supervisor's actor ref.
    pub fn actor(&self) -> &ActorRef<SupervisorMsg> {
        &self.actor
    }

    /// Adds and starts a dynamic child.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<ActorCell, SupervisorError> {
        self.call(|reply| SupervisorMsg::StartChild(spec, reply))
            .await?
    }

    /// Stops a child and forgets it.
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        let id = id.to_string();
        self.call(|reply| SupervisorMsg::TerminateChild(id, reply))
            .await?
    }

    /// The children in start order.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.call(SupervisorMsg::WhichChildren).await
    }

    async fn call<T, F>(&self, msg: F) -> Result<T, SupervisorError>
    where
        T: Send + 'static,
        F: FnOnce(RpcReplyPort<T>) -> SupervisorMsg,
    {
        match self.actor.call(msg, Some(CALL_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
            Ok(ractor::rpc::CallResult::Timeout) => {
                Err(SupervisorError::Unavailable("timed out".into()))
            }
            Ok(ractor::rpc::CallResult::SenderError) => {
                Err(SupervisorError::Unavailable("supervisor stopped".into()))
            }
            Err(e) => Err(SupervisorError::Unavailable(e.to_string())),
        }
    }

    /// Ordered shutdown of the supervisor and everything under it.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), SupervisorError> {
        match self
            .actor
            .stop_and_wait(Some("shutdown".to_string()), Some(timeout))
            .await
        {
            Ok(()) => Ok(()),
            Err(ractor::RactorErr::Timeout) => {
                self.actor.kill_and_wait(Some(KILL_WAIT)).await.ok();
                Err(SupervisorError::Unavailable(format!(
                    "shutdown took longer than {timeout:?}; killed"
                )))
            }
            Err(_) => Ok(()),
        }
    }
}
