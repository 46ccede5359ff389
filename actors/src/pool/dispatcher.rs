//! The dispatcher of one pool: a bounded queue, the job ledger, routing to ready workers
//! under a per-worker in-flight cap, retries after a worker dies, and scaling.
//!
//! Every accepted job sits either in the queue or in the ledger (in flight on one worker)
//! until it completes exactly once: its reply port is consumed by the first result. A job
//! whose worker dies mid-request (transport error) goes back to the front of the queue:
//! embed and NER jobs up to [`MAX_ATTEMPTS`] times (they are pure), LLM jobs once and only
//! if no token was delivered yet.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::Channel;
use weft_proto::worker::embedder_client::EmbedderClient;
use weft_proto::worker::entity_extractor_client::EntityExtractorClient;
use weft_proto::worker::language_model_client::LanguageModelClient;
use weft_proto::worker::{
    CompleteChunk, CompleteRequest, EmbedRequest, ExtractReply, ExtractRequest, InfoReply,
};

use super::rpc::authed;
use super::{EmbedOutput, PoolError, PoolShared};
use crate::config::PoolKind;
use crate::supervision::EventSink;

/// Attempts for a pure (embed / NER) job before its error is returned.
pub const MAX_ATTEMPTS: u32 = 5;

/// What a job asks.
#[derive(Clone)]
pub enum Payload {
    /// Embed texts.
    Embed {
        /// The texts.
        texts: Arc<Vec<String>>,
        /// 0 document, 1 query (the proto enum).
        mode: i32,
        /// Documents someone waits for (a file just edited): queued like a query.
        urgent: bool,
    },
    /// Extract entities.
    Extract {
        /// The texts.
        texts: Arc<Vec<String>>,
    },
    /// Stream a completion.
    Complete {
        /// The request.
        request: Arc<CompleteRequest>,
        /// Where chunks go as they arrive.
        chunks: mpsc::Sender<CompleteChunk>,
        /// Set once any chunk was delivered: the job may then not be retried.
        delivered: Arc<AtomicBool>,
    },
}

impl Payload {
    /// Whether a person is waiting on this job (query embeddings, a just-edited file's
    /// chunks): it is queued first and may use the slot kept free for such work.
    pub fn is_interactive(&self) -> bool {
        matches!(
            self,
            Payload::Embed { mode: 1, .. } | Payload::Embed { urgent: true, .. }
        )
    }
}

/// A finished job's result.
pub enum Output {
    /// Vectors.
    Embed(EmbedOutput),
    /// Entities.
    Extract(ExtractReply),
    /// The stream ended (the chunks went to the caller directly).
    Complete,
}

/// One accepted request.
pub struct Job {
    pub(crate) id: u64,
    pub(crate) payload: Payload,
    pub(crate) attempts: u32,
    pub(crate) reply: oneshot::Sender<Result<Output, PoolError>>,
    pub(crate) enqueued: Instant,
    /// Holds one queue slot until the job completes.
    pub(crate) _permit: OwnedSemaphorePermit,
}

/// How one call on a worker ended.
pub enum CallError {
    /// The worker went away or timed out: the job may run elsewhere.
    Transport(String),
    /// The worker was at its in-flight cap: try again, it is not the job's fault.
    Busy(String),
    /// The worker refused the request; retrying will not help.
    Rejected {
        /// `weft-error-code`, e.g. `ERROR_CODE_EMPTY_BATCH`.
        code: String,
        /// Its message.
        message: String,
    },
}

/// Messages of [`Dispatcher`].
pub enum DispatchMsg {
    /// A new job from a [`super::PoolHandle`].
    Submit(Job),
    /// A worker passed its handshake and health check.
    WorkerUp {
        /// Its id in the pool.
        worker: String,
        /// Its channel.
        channel: Channel,
        /// What it said about itself.
        info: Box<InfoReply>,
        /// Which process incarnation this is.
        incarnation: u64,
        /// Its node path, for per-worker counters in status.
        path: String,
        /// Where those counters go.
        events: Arc<dyn EventSink>,
        /// Bearer token for a remote worker.
        token: Option<String>,
    },
    /// A worker is gone (or going).
    WorkerDown {
        /// Its id.
        worker: String,
        /// The incarnation that is gone (a newer one may already have joined).
        incarnation: u64,
        /// Why.
        reason: String,
    },
    /// A call finished.
    Done {
        /// The job.
        job: u64,
        /// The worker it ran on.
        worker: String,
        /// Which registration of that worker (a restarted worker re-registers).
        epoch: u64,
        /// How it ended.
        result: Result<Output, CallError>,
    },
    /// Periodic: expire stale queued jobs, scale.
    Tick,
}

/// Start-up arguments of [`Dispatcher`].
pub struct DispatcherArgs {
    /// The pool.
    pub shared: Arc<PoolShared>,
}

struct Slot {
    channel: Channel,
    token: Option<Arc<str>>,
    epoch: u64,
    incarnation: u64,
    in_flight: u32,
    /// How many of `in_flight` are bulk (not interactive) jobs.
    bulk: u32,
    /// After a transport failure the worker gets no work for a moment: it is most likely
    /// dead, and its supervisor will say so (WorkerDown) or bring it back (WorkerUp).
    quarantined_until: Option<Instant>,
    served: u64,
    path: String,
    events: Arc<dyn EventSink>,
}

/// The dispatcher actor.
pub struct Dispatcher;

/// [`Dispatcher`]'s state.
pub struct DispatcherState {
    shared: Arc<PoolShared>,
    queue: VecDeque<Job>,
    ledger: HashMap<u64, Job>,
    workers: BTreeMap<String, Slot>,
    ticker: Option<JoinHandle<()>>,
    /// Registration counter for worker slots.
    next_epoch: u64,
    /// Consecutive ticks with a backlog (scale up) or with nothing to do (scale down).
    busy_ticks: u32,
    idle_ticks: u32,
}

impl Drop for DispatcherState {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        self.shared.clear_dispatcher();
    }
}

/// How long a worker gets no work after a transport failure.
const QUARANTINE: Duration = Duration::from_secs(1);
/// How often the dispatcher ticks.
const TICK: Duration = Duration::from_millis(500);

impl Actor for Dispatcher {
    type Msg = DispatchMsg;
    type State = DispatcherState;
    type Arguments = DispatcherArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<DispatchMsg>,
        args: DispatcherArgs,
    ) -> Result<DispatcherState, ActorProcessingErr> {
        args.shared.set_dispatcher(myself.clone());
        let ticker = myself.send_interval(TICK, || DispatchMsg::Tick);
        Ok(DispatcherState {
            shared: args.shared,
            queue: VecDeque::new(),
            ledger: HashMap::new(),
            workers: BTreeMap::new(),
            ticker: Some(ticker),
            next_epoch: 0,
            busy_ticks: 0,
            idle_ticks: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<DispatchMsg>,
        msg: DispatchMsg,
        state: &mut DispatcherState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            // Interactive work (a search query's embedding) goes ahead of bulk work (the
            // indexer's backlog), so a search never waits behind thousands of chunks.
            DispatchMsg::Submit(job) if job.payload.is_interactive() => {
                state.queue.push_front(job);
            }
            DispatchMsg::Submit(job) => state.queue.push_back(job),
            DispatchMsg::WorkerUp {
                worker,
                channel,
                info,
                incarnation,
                path,
                events,
                token,
            } => {
                tracing::info!(pool = state.shared.kind.as_str(), %worker, model = %info.model_id, pid = info.pid, "worker joined the pool");
                state.next_epoch += 1;
                state.workers.insert(
                    worker,
                    Slot {
                        channel,
                        token: token.map(Arc::from),
                        epoch: state.next_epoch,
                        incarnation,
                        in_flight: 0,
                        bulk: 0,
                        quarantined_until: None,
                        served: 0,
                        path,
                        events,
                    },
                );
                state.shared.set_ready(state.workers.len());
            }
            DispatchMsg::WorkerDown {
                worker,
                incarnation,
                reason,
            } => {
                let current = state.workers.get(&worker).map(|s| s.incarnation);
                if current == Some(incarnation) && state.workers.remove(&worker).is_some() {
                    tracing::info!(pool = state.shared.kind.as_str(), %worker, %reason, "worker left the pool");
                }
                state.shared.set_ready(state.workers.len());
            }
            DispatchMsg::Done {
                job,
                worker,
                epoch,
                result,
            } => {
                let bulk = state
                    .ledger
                    .get(&job)
                    .is_some_and(|j| !j.payload.is_interactive());
                // Results from a previous registration of this worker do not touch the new one.
                if let Some(slot) = state.workers.get_mut(&worker).filter(|s| s.epoch == epoch) {
                    slot.in_flight = slot.in_flight.saturating_sub(1);
                    if bulk {
                        slot.bulk = slot.bulk.saturating_sub(1);
                    }
                    if matches!(result, Err(CallError::Transport(_))) {
                        slot.quarantined_until = Some(Instant::now() + QUARANTINE);
                    }
                    if result.is_ok() {
                        slot.served += 1;
                        slot.events
                            .set_info(&slot.path, "served", serde_json::json!(slot.served));
                    }
                }
                state.finish(job, &worker, result);
            }
            DispatchMsg::Tick => state.tick(),
        }
        state.pump(&myself);
        Ok(())
    }
}

impl DispatcherState {
    fn finish(&mut self, job_id: u64, worker: &str, result: Result<Output, CallError>) {
        let Some(job) = self.ledger.remove(&job_id) else {
            return;
        };
        match result {
            Ok(out) => {
                self.shared.count_served();
                let _ = job.reply.send(Ok(out));
            }
            Err(CallError::Rejected { code, message }) => {
                let _ = job.reply.send(Err(PoolError::Rejected { code, message }));
            }
            Err(CallError::Busy(why)) => {
                // Not an attempt: the worker refused before doing anything.
                tracing::debug!(pool = self.shared.kind.as_str(), job = job_id, %worker, %why, "worker busy; requeueing");
                let mut job = job;
                job.attempts = job.attempts.saturating_sub(1);
                self.queue.push_front(job);
            }
            Err(CallError::Transport(why)) => {
                let retry = match &job.payload {
                    Payload::Complete { delivered, .. } => {
                        !delivered.load(Ordering::SeqCst) && job.attempts < 2
                    }
                    _ => job.attempts < MAX_ATTEMPTS,
                };
                if retry {
                    tracing::debug!(pool = self.shared.kind.as_str(), job = job_id, %worker, %why, "requeueing a job from a failed worker");
                    self.shared.count_retry();
                    self.queue.push_front(job);
                } else {
                    let _ = job.reply.send(Err(PoolError::WorkerFailed {
                        kind: self.shared.kind,
                        attempts: job.attempts,
                        reason: why,
                    }));
                }
            }
        }
    }

    /// In-flight jobs per worker that bulk work may take. The embed pool keeps one slot of
    /// each worker for interactive work (query embeddings, a just-edited file), so a search
    /// waits for at most the one bulk batch the worker is computing, never for a queue of
    /// them; other pools have no interactive work and use every slot.
    fn bulk_cap(&self) -> u32 {
        let cap = self.shared.settings.inflight.max(1);
        if self.shared.kind == PoolKind::Embed && cap >= 2 {
            cap - 1
        } else {
            cap
        }
    }

    /// Starts as many queued jobs as the ready workers' in-flight caps allow.
    fn pump(&mut self, myself: &ActorRef<DispatchMsg>) {
        let cap = self.shared.settings.inflight.max(1);
        let bulk_cap = self.bulk_cap();
        let now = Instant::now();
        while let Some(front) = self.queue.front() {
            let interactive = front.payload.is_interactive();
            let Some((worker, slot)) = self
                .workers
                .iter_mut()
                .filter(|(_, s)| {
                    s.in_flight < cap
                        && (interactive || s.bulk < bulk_cap)
                        && s.quarantined_until.is_none_or(|t| now >= t)
                })
                .min_by_key(|(_, s)| s.in_flight)
            else {
                break;
            };
            let Some(mut job) = self.queue.pop_front() else {
                break;
            };
            // A caller that gave up needs no answer.
            if job.reply.is_closed() {
                continue;
            }
            job.attempts += 1;
            slot.in_flight += 1;
            if !interactive {
                slot.bulk += 1;
            }
            let channel = slot.channel.clone();
            let token = slot.token.clone();
            let epoch = slot.epoch;
            let payload = job.payload.clone();
            let worker = worker.clone();
            let me = myself.clone();
            let id = job.id;
            let limit = self.shared.call_timeout;
            self.ledger.insert(id, job);
            tokio::spawn(async move {
                let result = call(channel, payload, limit, token.as_deref()).await;
                let _ = me.cast(DispatchMsg::Done {
                    job: id,
                    worker,
                    epoch,
                    result,
                });
            });
        }
        self.shared.set_depth(self.queue.len(), self.ledger.len());
    }

    fn tick(&mut self) {
        // Queued jobs that waited past the call deadline (no worker came up) get an answer.
        let limit = self.shared.call_timeout;
        let now = Instant::now();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for job in self.queue.drain(..) {
            if now.saturating_duration_since(job.enqueued) > limit {
                let _ = job.reply.send(Err(PoolError::NoWorker {
                    kind: self.shared.kind,
                    waited: limit,
                    last_error: self.shared.last_error(),
                }));
            } else {
                kept.push_back(job);
            }
        }
        self.queue = kept;

        // Scaling with hysteresis: a backlog beyond what the ready workers can take, or every
        // slot busy, for `scale_up_after` adds a worker; `idle_retire` without work retires
        // one.
        let capacity = self.workers.len() as u32 * self.bulk_cap();
        let backlog = self.queue.len() as u32;
        // Every bulk slot taken counts as pressure too: a caller that keeps exactly
        // `capacity` requests in flight (the indexer's embedder) never builds a queue, yet
        // one worker is all it gets without this.
        let bulk: u32 = self.workers.values().map(|s| s.bulk).sum();
        let saturated = !self.workers.is_empty() && bulk >= capacity;
        if (backlog > 0 && (self.workers.is_empty() || backlog > capacity)) || saturated {
            self.busy_ticks += 1;
            self.idle_ticks = 0;
        } else if self.queue.is_empty() && self.ledger.is_empty() {
            self.idle_ticks += 1;
            self.busy_ticks = 0;
        } else {
            self.busy_ticks = 0;
            self.idle_ticks = 0;
        }
        if TICK * self.busy_ticks >= self.shared.scale_up_after {
            self.busy_ticks = 0;
            self.shared.scale(1);
        } else if TICK * self.idle_ticks >= self.shared.idle_retire {
            self.idle_ticks = 0;
            self.shared.scale(-1);
        }
    }
}

/// Largest gRPC message either way (a big batch of long texts, or its vectors).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Runs one job on one worker.
async fn call(
    channel: Channel,
    payload: Payload,
    limit: Duration,
    token: Option<&str>,
) -> Result<Output, CallError> {
    match payload {
        Payload::Embed { texts, mode, .. } => {
            let req = EmbedRequest {
                texts: texts.as_ref().clone(),
                mode,
                job_id: String::new(),
            };
            let mut client = EmbedderClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE);
            let fut = client.embed(authed(req, limit, token));
            let reply = deadline(limit, fut).await?.into_inner();
            EmbedOutput::from_reply(reply)
                .map(Output::Embed)
                .map_err(|message| CallError::Rejected {
                    code: "ERROR_CODE_MODEL_ERROR".into(),
                    message,
                })
        }
        Payload::Extract { texts } => {
            let req = ExtractRequest {
                texts: texts.as_ref().clone(),
                job_id: String::new(),
            };
            let mut client = EntityExtractorClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE);
            let fut = client.extract(authed(req, limit, token));
            Ok(Output::Extract(deadline(limit, fut).await?.into_inner()))
        }
        Payload::Complete {
            request,
            chunks,
            delivered,
        } => {
            let mut client = LanguageModelClient::new(channel);
            let fut = client.complete(authed(request.as_ref().clone(), limit, token));
            let mut stream = deadline(limit, fut).await?.into_inner();
            loop {
                let next = tokio::time::timeout(limit, stream.message()).await;
                match next {
                    Ok(Ok(Some(chunk))) => {
                        let done = chunk.done;
                        if chunks.send(chunk).await.is_err() {
                            // The caller went away: dropping the stream cancels generation.
                            return Ok(Output::Complete);
                        }
                        delivered.store(true, Ordering::SeqCst);
                        if done {
                            return Ok(Output::Complete);
                        }
                    }
                    Ok(Ok(None)) => return Ok(Output::Complete),
                    Ok(Err(status)) => return Err(classify(status)),
                    Err(_) => {
                        return Err(CallError::Transport(format!("no token within {limit:?}")))
                    }
                }
            }
        }
    }
}

async fn deadline<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, CallError> {
    match tokio::time::timeout(limit + Duration::from_millis(500), fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(status)) => Err(classify(status)),
        Err(_) => Err(CallError::Transport(format!("no answer within {limit:?}"))),
    }
}

fn classify(status: tonic::Status) -> CallError {
    use tonic::Code;
    let code = status
        .metadata()
        .get("weft-error-code")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    match (status.code(), code) {
        (
            Code::InvalidArgument | Code::NotFound | Code::FailedPrecondition | Code::OutOfRange,
            code,
        ) => CallError::Rejected {
            code: code.unwrap_or_else(|| format!("{:?}", status.code())),
            message: status.message().to_string(),
        },
        (Code::ResourceExhausted, _) => {
            CallError::Busy(format!("worker busy: {}", status.message()))
        }
        (_, Some(code)) if code == "ERROR_CODE_MODEL_ERROR" => CallError::Rejected {
            code,
            message: status.message().to_string(),
        },
        (c, _) => CallError::Transport(format!("{c:?}: {}", status.message())),
    }
}
