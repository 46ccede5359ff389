//! The live stream the UI follows: status when the tree changes, index progress while it
//! moves, each supervision event, and file changes. Served as JSON text frames on the
//! WebSocket `GET /v1/stream`; the desktop shell forwards [`subscribe`]'s messages as Tauri
//! events instead.
//!
//! One task per subscriber checks every [`TICK`] (so at most 4 status and 4 progress
//! messages a second) and sends what changed. Its queue is bounded: when the subscriber
//! falls behind, status and progress are sent again later with their latest values, file
//! changes are merged per workspace (into "rescan everything", `""`, past a bound), and
//! events beyond a bound are dropped (the next status carries the recent ones). Memory stays
//! bounded however slow the reader is.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::{status_report, ApiContext, StatusReport};
use crate::index::{IndexStatus, ProgressSnapshot, VectorStatus};
use crate::supervision::TreeEvent;

/// One message of the stream.
// Unboxed on purpose: the shape is the shell's interface, and a queue of 32 messages of a few
// hundred bytes is nothing next to the reports they carry.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamMessage {
    /// Sent first, then whenever node states, restarts, degraded or pool readiness change.
    Status {
        /// The same report as `GET /v1/status`.
        report: StatusReport,
    },
    /// Index progress, while the index generation or a workspace's progress moves.
    Progress {
        /// The same status as `GET /v1/index`.
        index: IndexStatus,
    },
    /// Files (relative paths) created, changed or deleted; `""` means "everything may have
    /// changed" (a rescan).
    Fs {
        /// The workspace id.
        workspace: i64,
        /// The paths.
        paths: Vec<String>,
    },
    /// One supervision event, as it happens.
    Event {
        /// The event.
        event: TreeEvent,
    },
    /// A terminal opened, ended, changed folder or recorded a command.
    Term {
        /// What happened (`event` is `opened`, `exited`, `cwd` or `command`).
        #[serde(flatten)]
        event: crate::term::TermEvent,
    },
    /// Git events just recorded for a workspace, oldest first.
    Git {
        /// The workspace id.
        workspace: i64,
        /// The events, as `GET /v1/git/log` returns them.
        events: Vec<crate::git::GitEvent>,
    },
}

/// How often the subscriber's task looks for changes.
pub const TICK: Duration = Duration::from_millis(250);
/// Messages waiting for a slow subscriber before the task holds back (and coalesces).
const QUEUE: usize = 32;
/// Paths remembered per workspace before they are merged into "everything" (`""`).
const MAX_PENDING_PATHS: usize = 1000;
/// Events remembered for a slow subscriber; older ones are dropped.
const MAX_PENDING_EVENTS: usize = 256;

/// Follows the core: returns a receiver of [`StreamMessage`]s, the first of which is a
/// `Status`. The task behind it ends when the receiver is dropped.
pub fn subscribe(ctx: ApiContext) -> mpsc::Receiver<StreamMessage> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(run(ctx, tx));
    rx
}

/// What the status message depends on: node states, restarts, degraded, pool readiness.
fn status_mark(ctx: &ApiContext) -> String {
    let mut mark = String::new();
    for n in ctx.view.nodes() {
        mark.push_str(&format!(
            "{}|{:?}|{}|{}|{};",
            n.path, n.state, n.generation, n.restarts, n.gave_up
        ));
    }
    for (name, p) in ctx.pools.stats() {
        mark.push_str(&format!("{name}={};", p.ready));
    }
    mark
}

/// What the progress message depends on, read without touching the database.
type ProgressMark = (u64, Vec<(i64, String, ProgressSnapshot)>, VectorStatus);

fn progress_mark(ctx: &ApiContext) -> ProgressMark {
    let (generation, workspaces) = ctx.index.activity();
    (generation, workspaces, ctx.index.vectors())
}

/// File changes not yet sent, per workspace.
#[derive(Default)]
struct PendingFs(BTreeMap<i64, BTreeSet<String>>);

impl PendingFs {
    fn add(&mut self, workspace: i64, paths: Vec<String>) {
        let set = self.0.entry(workspace).or_default();
        if set.contains("") {
            return;
        }
        set.extend(paths);
        if set.contains("") || set.len() > MAX_PENDING_PATHS {
            set.clear();
            set.insert(String::new());
        }
    }

    /// The receiver lagged: some changes are lost, so every workspace may have changed.
    fn everything(&mut self, ctx: &ApiContext) {
        let (_, workspaces) = ctx.index.activity();
        for (id, _, _) in workspaces {
            self.add(id, vec![String::new()]);
        }
    }
}

/// Whether the subscriber is gone.
struct Gone;

/// Sends `make()` if the queue has room; `Ok(false)` when it is full (try again later).
async fn offer<F, Fut>(tx: &mpsc::Sender<StreamMessage>, make: F) -> Result<bool, Gone>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = StreamMessage>,
{
    match tx.try_reserve() {
        Ok(permit) => {
            permit.send(make().await);
            Ok(true)
        }
        Err(mpsc::error::TrySendError::Full(())) => Ok(false),
        Err(mpsc::error::TrySendError::Closed(())) => Err(Gone),
    }
}

/// The next batch of git events; never resolves without a feed.
async fn next_git(
    rx: &mut Option<tokio::sync::broadcast::Receiver<crate::git::GitBatch>>,
) -> Result<crate::git::GitBatch, RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn run(ctx: ApiContext, tx: mpsc::Sender<StreamMessage>) {
    let mut fs_rx = ctx.index.subscribe_fs();
    let mut git_rx = crate::git::subscribe(&ctx.storage);
    let mut pending_git: VecDeque<crate::git::GitBatch> = VecDeque::new();
    let mut fs_open = true;
    let mut term_rx = ctx.terms.subscribe();
    let mut term_open = true;
    let mut pending_terms: VecDeque<crate::term::TermEvent> = VecDeque::new();
    let mut event_seq = ctx.view.event_seq();
    let mut sent_status = status_mark(&ctx);
    let first = StreamMessage::Status {
        report: status_report(&ctx).await,
    };
    if tx.send(first).await.is_err() {
        return;
    }
    let mut sent_progress = progress_mark(&ctx);
    let mut pending_fs = PendingFs::default();
    let mut pending_events: VecDeque<TreeEvent> = VecDeque::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = tx.closed() => return,
            change = fs_rx.recv(), if fs_open => match change {
                Ok((workspace, paths)) => pending_fs.add(workspace, paths),
                Err(RecvError::Lagged(_)) => pending_fs.everything(&ctx),
                Err(RecvError::Closed) => fs_open = false,
            },
            event = term_rx.recv(), if term_open => match event {
                Ok(event) => {
                    pending_terms.push_back(event);
                    // Sent at once when there is room (a finished command should show now);
                    // otherwise on the next tick, oldest dropped past the bound.
                    while let Some(event) = pending_terms.front().cloned() {
                        match offer(&tx, move || async move { StreamMessage::Term { event } }).await {
                            Ok(true) => { pending_terms.pop_front(); }
                            Ok(false) => break,
                            Err(Gone) => return,
                        }
                    }
                    let excess = pending_terms.len().saturating_sub(MAX_PENDING_EVENTS);
                    pending_terms.drain(..excess);
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => term_open = false,
            },
            batch = next_git(&mut git_rx) => match batch {
                Ok(batch) => {
                    pending_git.push_back(batch);
                    let excess = pending_git.len().saturating_sub(MAX_PENDING_EVENTS);
                    pending_git.drain(..excess);
                }
                // Lost batches are in `GET /v1/git/log`.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => git_rx = None,
            },
            _ = tick.tick() => {
                let (seq, events) = ctx.view.events_since(event_seq);
                event_seq = seq;
                pending_events.extend(events);
                let excess = pending_events.len().saturating_sub(MAX_PENDING_EVENTS);
                pending_events.drain(..excess);
                let flushed = flush(
                    &ctx,
                    &tx,
                    &mut pending_events,
                    &mut sent_status,
                    &mut sent_progress,
                    &mut pending_fs,
                    &mut pending_git,
                )
                .await;
                if flushed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends what changed, as far as the queue has room; the rest waits for the next tick.
async fn flush(
    ctx: &ApiContext,
    tx: &mpsc::Sender<StreamMessage>,
    events: &mut VecDeque<TreeEvent>,
    sent_status: &mut String,
    sent_progress: &mut ProgressMark,
    fs: &mut PendingFs,
    git: &mut VecDeque<crate::git::GitBatch>,
) -> Result<(), Gone> {
    while let Some((workspace, events)) = git.front().cloned() {
        if !offer(tx, move || async move {
            StreamMessage::Git { workspace, events }
        })
        .await?
        {
            return Ok(());
        }
        git.pop_front();
    }
    while let Some(event) = events.front().cloned() {
        if !offer(tx, move || async move { StreamMessage::Event { event } }).await? {
            return Ok(());
        }
        events.pop_front();
    }
    let mark = status_mark(ctx);
    if mark != *sent_status {
        let sent = offer(tx, move || async move {
            StreamMessage::Status {
                report: status_report(ctx).await,
            }
        })
        .await?;
        if !sent {
            return Ok(());
        }
        *sent_status = mark;
    }
    let mark = progress_mark(ctx);
    if mark != *sent_progress {
        match ctx.index.status().await {
            Ok(index) => {
                if !offer(tx, move || async move { StreamMessage::Progress { index } }).await? {
                    return Ok(());
                }
                *sent_progress = mark;
            }
            Err(e) => tracing::debug!(error = %e, "index status unavailable for the stream"),
        }
    }
    while let Some((workspace, paths)) = fs.0.pop_first() {
        match tx.try_reserve() {
            Ok(permit) => permit.send(StreamMessage::Fs {
                workspace,
                paths: paths.into_iter().collect(),
            }),
            Err(mpsc::error::TrySendError::Full(())) => {
                fs.0.insert(workspace, paths);
                return Ok(());
            }
            Err(mpsc::error::TrySendError::Closed(())) => return Err(Gone),
        }
    }
    Ok(())
}

/// `GET /v1/stream`: upgrades to a WebSocket and forwards [`subscribe`]'s messages as JSON
/// text frames until either side closes.
pub(crate) async fn websocket(State(ctx): State<ApiContext>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| forward(ctx, socket))
}

async fn forward(ctx: ApiContext, mut socket: WebSocket) {
    let mut rx = subscribe(ctx);
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { return };
                let text = match serde_json::to_string(&msg) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot encode a stream message");
                        continue;
                    }
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // Pings are answered by the WebSocket layer; nothing else is expected.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
