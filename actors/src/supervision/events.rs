//! Supervision events and the live view of the tree built from them.
//!
//! Supervisors report every start, exit, restart, give-up and escalation to an
//! [`EventSink`]. [`TreeView`] is the sink the daemon uses: it keeps the current state of
//! every node (for `weft status` and the health panel), a bounded ring of recent events,
//! and forwards each event to a channel that persists it in the `events` table.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// What happened to a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// First start of this child.
    Started,
    /// A later start, after an exit.
    Restarted,
    /// The child ended on its own (normally or not); `reason` says how.
    Exited,
    /// The supervisor stopped the child (shutdown, a sibling's failure, a terminate request).
    Stopped,
    /// A restart is scheduled after a backoff; `detail` has `delay_ms` and `attempt`.
    RestartScheduled,
    /// A start or restart failed in the child's `pre_start`.
    StartFailed,
    /// The child is not coming back (its restart type says so) and left the tree.
    Removed,
    /// Restart intensity was exceeded by this child's failure: the supervisor gives up.
    GaveUp,
    /// A supervisor fails upward to its parent (recorded under the parent, as its child).
    Escalated,
}

impl EventKind {
    /// Every kind, for parsing stored names back.
    pub const ALL: [EventKind; 9] = [
        EventKind::Started,
        EventKind::Restarted,
        EventKind::Exited,
        EventKind::Stopped,
        EventKind::RestartScheduled,
        EventKind::StartFailed,
        EventKind::Removed,
        EventKind::GaveUp,
        EventKind::Escalated,
    ];

    /// The stable name stored in the `events` table.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Started => "started",
            EventKind::Restarted => "restarted",
            EventKind::Exited => "exited",
            EventKind::Stopped => "stopped",
            EventKind::RestartScheduled => "restart_scheduled",
            EventKind::StartFailed => "start_failed",
            EventKind::Removed => "removed",
            EventKind::GaveUp => "gave_up",
            EventKind::Escalated => "escalated",
        }
    }
}

/// One supervision event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TreeEvent {
    /// Wall-clock time, Unix milliseconds.
    pub ts_ms: i64,
    /// Path of the supervisor that owns the child, e.g. `root` or `root/pools`.
    pub supervisor: String,
    /// The child's id within that supervisor.
    pub child: String,
    /// What happened.
    pub kind: EventKind,
    /// Which incarnation of the child (1 for the first start).
    pub generation: u64,
    /// Exit reason or error text, when there is one.
    pub reason: Option<String>,
    /// Extra structured facts (backoff delay, attempt, abnormal flag).
    pub detail: Option<serde_json::Value>,
}

impl TreeEvent {
    /// A new event stamped with the current time.
    pub fn now(supervisor: &str, child: &str, kind: EventKind, generation: u64) -> Self {
        Self {
            ts_ms: unix_ms(),
            supervisor: supervisor.to_string(),
            child: child.to_string(),
            kind,
            generation,
            reason: None,
            detail: None,
        }
    }

    /// Adds a reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds structured detail.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The full path of the node this event is about.
    pub fn node_path(&self) -> String {
        join_path(&self.supervisor, &self.child)
    }
}

/// Joins a supervisor path and a child id into the child's path.
pub fn join_path(supervisor: &str, child: &str) -> String {
    if supervisor.is_empty() {
        child.to_string()
    } else {
        format!("{supervisor}/{child}")
    }
}

/// Current Unix time in milliseconds (0 if the clock is before 1970).
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Receives supervision events. Called from inside supervisor handlers, so it must not
/// block: record in memory or hand off to a channel.
pub trait EventSink: Send + Sync + 'static {
    /// Takes one event.
    fn record(&self, event: TreeEvent);

    /// Lets a child publish a fact about itself (a worker's pid, its model) for status.
    fn set_info(&self, _path: &str, _key: &str, _value: serde_json::Value) {}

    /// Says what the node at `path` is: a supervisor calls it for each child it (re)starts,
    /// and [`crate::supervision::start_supervisor`] for a top-level supervisor.
    fn set_kind(&self, _path: &str, _kind: NodeKind) {}
}

/// What a node of the tree is, for status and the UI's health panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A supervisor of other nodes.
    Supervisor,
    /// A plain actor.
    Actor,
    /// An actor fronting a worker process (local, it publishes a `pid`) or a remote worker
    /// (it publishes `remote`).
    Worker,
}

/// Facts whose publication marks a node as a [`NodeKind::Worker`].
const WORKER_FACTS: [&str; 2] = ["pid", "remote"];

/// The state of one node of the tree as `weft status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Running.
    Running,
    /// Down, waiting out its backoff before a restart.
    Restarting,
    /// Ended normally and not coming back (or stopped by its supervisor).
    Stopped,
    /// Down for good after a failure (removed, or its supervisor gave up).
    Failed,
}

/// One node of the live tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Full path, e.g. `root/storage`.
    pub path: String,
    /// Current state.
    pub state: NodeState,
    /// Current incarnation.
    pub generation: u64,
    /// Restarts since the daemon started.
    pub restarts: u64,
    /// The last abnormal exit reason or start error, if any.
    pub last_error: Option<String>,
    /// When the node entered its current state (Unix ms).
    pub since_ms: i64,
    /// Facts a child publishes about itself (a worker's pid, model, ...).
    pub info: BTreeMap<String, serde_json::Value>,
    /// This node is a supervisor that exceeded its restart intensity and escalated.
    #[serde(default)]
    pub gave_up: bool,
    /// What the node is, once its supervisor has said (absent from older daemons' answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<NodeKind>,
}

/// How many recent events the in-memory ring keeps.
const RECENT_EVENTS: usize = 512;

#[derive(Default)]
struct ViewInner {
    nodes: BTreeMap<String, NodeStatus>,
    recent: VecDeque<TreeEvent>,
    /// Events recorded so far; the last one in `recent` has this number.
    seq: u64,
}

/// The live view of the tree: node states plus a ring of recent events, optionally
/// forwarding each event to a persistence channel.
#[derive(Clone, Default)]
pub struct TreeView {
    inner: Arc<Mutex<ViewInner>>,
    persist: Option<mpsc::UnboundedSender<TreeEvent>>,
}

impl TreeView {
    /// A view that keeps events in memory only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A view that also sends every event to `persist` (drained by a storage task).
    pub fn with_persistence(persist: mpsc::UnboundedSender<TreeEvent>) -> Self {
        Self {
            inner: Arc::default(),
            persist: Some(persist),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ViewInner> {
        // A panic while holding this lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every node, sorted by path.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        self.lock().nodes.values().cloned().collect()
    }

    /// One node.
    pub fn node(&self, path: &str) -> Option<NodeStatus> {
        self.lock().nodes.get(path).cloned()
    }

    /// The most recent events, oldest first.
    pub fn recent_events(&self) -> Vec<TreeEvent> {
        self.lock().recent.iter().cloned().collect()
    }

    /// How many events were recorded so far (a cursor for [`TreeView::events_since`]).
    pub fn event_seq(&self) -> u64 {
        self.lock().seq
    }

    /// The events recorded after cursor `seen` that the ring still holds, oldest first, and
    /// the new cursor.
    pub fn events_since(&self, seen: u64) -> (u64, Vec<TreeEvent>) {
        let inner = self.lock();
        let newer = usize::try_from(inner.seq.saturating_sub(seen)).unwrap_or(usize::MAX);
        let skip = inner.recent.len().saturating_sub(newer);
        (inner.seq, inner.recent.iter().skip(skip).cloned().collect())
    }

    /// Events about one node, oldest first (from the in-memory ring).
    pub fn events_for(&self, path: &str) -> Vec<TreeEvent> {
        self.lock()
            .recent
            .iter()
            .filter(|e| e.node_path() == path)
            .cloned()
            .collect()
    }

    /// Nodes that are not running, for degraded-mode reporting.
    pub fn degraded(&self) -> Vec<NodeStatus> {
        self.lock()
            .nodes
            .values()
            .filter(|n| matches!(n.state, NodeState::Restarting | NodeState::Failed))
            .cloned()
            .collect()
    }
}

/// The node at `path`, created (running, generation 0) when the view has not seen it yet.
fn node_entry<'a>(nodes: &'a mut BTreeMap<String, NodeStatus>, path: &str) -> &'a mut NodeStatus {
    nodes.entry(path.to_string()).or_insert_with(|| NodeStatus {
        path: path.to_string(),
        state: NodeState::Running,
        generation: 0,
        restarts: 0,
        last_error: None,
        since_ms: unix_ms(),
        info: BTreeMap::new(),
        gave_up: false,
        kind: None,
    })
}

impl EventSink for TreeView {
    fn set_info(&self, path: &str, key: &str, value: serde_json::Value) {
        let mut inner = self.lock();
        let node = node_entry(&mut inner.nodes, path);
        if WORKER_FACTS.contains(&key) {
            node.kind = Some(NodeKind::Worker);
        }
        node.info.insert(key.to_string(), value);
    }

    fn set_kind(&self, path: &str, kind: NodeKind) {
        let mut inner = self.lock();
        let node = node_entry(&mut inner.nodes, path);
        // A worker's supervisor sees a plain actor; the worker's own facts say more, and a
        // restart must not undo that.
        if !(node.kind == Some(NodeKind::Worker) && kind == NodeKind::Actor) {
            node.kind = Some(kind);
        }
    }

    fn record(&self, event: TreeEvent) {
        tracing::debug!(
            node = %event.node_path(),
            kind = event.kind.as_str(),
            generation = event.generation,
            reason = event.reason.as_deref().unwrap_or(""),
            "supervision event"
        );
        {
            let mut inner = self.lock();
            apply(&mut inner.nodes, &event);
            if inner.recent.len() == RECENT_EVENTS {
                inner.recent.pop_front();
            }
            inner.recent.push_back(event.clone());
            inner.seq += 1;
        }
        if let Some(tx) = &self.persist {
            // A closed channel means storage is shutting down; the in-memory view still has it.
            let _ = tx.send(event);
        }
    }
}

fn apply(nodes: &mut BTreeMap<String, NodeStatus>, event: &TreeEvent) {
    let path = event.node_path();
    if event.kind == EventKind::Removed {
        // Dynamic children (one per terminal, say) come and go; keep the view bounded.
        // A supervisor that gave up stays visible: it is why the tree is degraded. A crashed
        // temporary worker (a terminal, say) just leaves.
        if nodes.get(&path).is_some_and(|n| !n.gave_up) {
            nodes.remove(&path);
        }
        return;
    }
    let node = nodes.entry(path.clone()).or_insert_with(|| NodeStatus {
        path,
        state: NodeState::Running,
        generation: event.generation,
        restarts: 0,
        last_error: None,
        since_ms: event.ts_ms,
        info: BTreeMap::new(),
        gave_up: false,
        kind: None,
    });
    let abnormal = event
        .detail
        .as_ref()
        .and_then(|d| d.get("abnormal"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let new_state = match event.kind {
        // A child publishes its facts (pid, model) from `pre_start`, before its start is
        // recorded; they are dropped when it goes down, so they never describe a dead one.
        EventKind::Started => {
            node.gave_up = false;
            NodeState::Running
        }
        EventKind::Restarted => {
            node.restarts += 1;
            node.gave_up = false;
            NodeState::Running
        }
        EventKind::Exited if abnormal => {
            node.info.clear();
            node.last_error = event.reason.clone();
            NodeState::Failed
        }
        EventKind::Exited | EventKind::Stopped => {
            node.info.clear();
            NodeState::Stopped
        }
        EventKind::RestartScheduled => NodeState::Restarting,
        EventKind::StartFailed => {
            node.last_error = event.reason.clone();
            NodeState::Failed
        }
        EventKind::Escalated => {
            node.gave_up = true;
            if event.reason.is_some() {
                node.last_error = event.reason.clone();
            }
            NodeState::Failed
        }
        EventKind::GaveUp => {
            if event.reason.is_some() {
                node.last_error = event.reason.clone();
            }
            NodeState::Failed
        }
        EventKind::Removed => return,
    };
    if node.state != new_state {
        node.since_ms = event.ts_ms;
    }
    node.state = new_state;
    node.generation = event.generation;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_kinds_and_the_event_cursor() {
        let view = TreeView::new();
        view.set_kind("root", NodeKind::Supervisor);
        // A worker process publishes its pid before its supervisor says "actor"; a restart
        // says "actor" again. It stays a worker.
        view.set_info("root/pools/embed/workers/w1", "pid", serde_json::json!(7));
        view.set_kind("root/pools/embed/workers/w1", NodeKind::Actor);
        view.set_kind("root/storage", NodeKind::Actor);
        let kind = |p: &str| view.node(p).and_then(|n| n.kind);
        assert_eq!(kind("root"), Some(NodeKind::Supervisor));
        assert_eq!(kind("root/pools/embed/workers/w1"), Some(NodeKind::Worker));
        assert_eq!(kind("root/storage"), Some(NodeKind::Actor));
        let json = serde_json::to_value(view.node("root/storage")).unwrap_or_default();
        assert_eq!(json["kind"], "actor");

        let start = view.event_seq();
        assert_eq!(start, 0);
        for gen in 1..=3 {
            view.record(TreeEvent::now("root", "storage", EventKind::Started, gen));
        }
        let (seq, events) = view.events_since(start);
        assert_eq!((seq, events.len()), (3, 3));
        let (seq, events) = view.events_since(2);
        assert_eq!((seq, events.len()), (3, 1));
        assert_eq!(events[0].generation, 3);
        assert!(view.events_since(seq).1.is_empty());
    }
}
