//! The daemon's local API: one command surface (the `/v1` routes of [`router`]) on two
//! listeners.
//!
//! * A Unix socket in the profile's 0700 runtime directory: `weft status`, `weft kill` and
//!   the other CLI commands are its clients. The directory's permissions are its access
//!   control: only the user who runs `weft serve` can reach it.
//! * A loopback HTTP listener (`[api] listen`, default 127.0.0.1:7878) for the browser UI:
//!   the same routes behind a bearer token and Host/Origin checks, the WebSocket stream, and
//!   the built UI's files ([`http`]).
//!
//! The desktop shell calls the same routes in process ([`router`], no listener) and follows
//! [`stream::subscribe`]. Modules: [`fs`] (workspaces, folders, reading and saving files),
//! [`ui_state`] (the UI's stored values), [`stream`] (the live stream), [`http`] (the
//! loopback listener, its token and its checks).
//!
//! [`ApiActor`] owns the listeners. It binds both in `pre_start` (so a bind failure is a
//! start failure its supervisor sees), serves on tasks it owns, and those tasks are aborted
//! when the actor's state is dropped — which happens on a kill too, when `post_stop` is
//! skipped.

pub mod fs;
pub mod git;
pub mod http;
pub mod session;
pub mod stream;
pub mod term;
pub mod ui_state;

pub use fs::{
    DirEntry, FileContent, FileList, FsError, WorkspaceInfo, WriteFileRequest, WriteFileResponse,
};
pub use http::{ApiToken, HttpError, HttpOptions};
pub use stream::StreamMessage;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use serde::{Deserialize, Serialize};
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::PoolKind;
use crate::pool::{EmbedMode, PoolError, PoolStats, Pools};
use crate::storage::Storage;
use crate::supervision::{ChildKind, NodeStatus, SupervisorHandle, TreeEvent, TreeView};

/// Facts about the running daemon that status reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonInfo {
    /// Weft's version.
    pub version: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Unique per `weft serve` run; tags its rows in the `events` table.
    pub boot_id: String,
    /// When it started (Unix ms).
    pub started_ms: i64,
    /// The profile it serves.
    pub profile: String,
    /// The profile's data directory.
    pub data_dir: PathBuf,
    /// The folder `weft serve` was started on.
    pub workspace: PathBuf,
}

/// The answer to `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    /// The daemon.
    pub daemon: DaemonInfo,
    /// True when any node is restarting or failed.
    pub degraded: bool,
    /// Every node of the supervision tree, sorted by path.
    pub tree: Vec<NodeStatus>,
    /// The latest supervision events, oldest first.
    pub recent_events: Vec<TreeEvent>,
    /// Counters of each enabled worker pool.
    #[serde(default)]
    pub pools: std::collections::BTreeMap<String, PoolStats>,
    /// Index state per workspace, and the vectors.
    #[serde(default)]
    pub index: Option<crate::index::IndexStatus>,
}

/// Everything the handlers need.
#[derive(Clone)]
pub struct ApiContext {
    /// The live tree.
    pub view: TreeView,
    /// Storage, for persisted events.
    pub storage: Storage,
    /// The root supervisor, set once the tree is up (the API starts inside it).
    pub root: Arc<OnceLock<SupervisorHandle>>,
    /// The daemon's facts.
    pub info: DaemonInfo,
    /// The worker pools.
    pub pools: Pools,
    /// The indexing service.
    pub index: crate::index::IndexService,
    /// The terminals.
    pub terms: crate::term::Terminals,
    /// The session (what the user has open).
    pub session: crate::session::Session,
}

/// The router of every `/v1` route, without any access checks: the Unix socket serves it
/// as is, and the desktop shell calls it in process. Unknown paths answer a JSON 404.
pub fn router(ctx: ApiContext) -> Router {
    routes()
        .fallback(
            |method: axum::http::Method, uri: axum::http::Uri| async move {
                error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    &format!("no API endpoint {method} {}", uri.path()),
                )
            },
        )
        .with_state(ctx)
}

/// The `/v1` routes, before a fallback and the state are added.
pub(crate) fn routes() -> Router<ApiContext> {
    Router::new()
        .route("/v1/health", get(|| async { "ok" }))
        .route("/v1/status", get(status))
        .route("/v1/events", get(events))
        .route("/v1/kill", post(kill))
        .route("/v1/embed", post(embed))
        .route("/v1/entities", post(entities))
        .route("/v1/ask", post(ask))
        .route("/v1/index", get(index_status).post(index_open))
        .route("/v1/index/rescan", post(index_rescan))
        .route("/v1/search", post(search))
        .route("/v1/workspaces", get(fs::workspaces))
        .route("/v1/fs/list", get(fs::list))
        .route("/v1/fs/files", get(fs::files))
        .route(
            "/v1/fs/file",
            get(fs::read)
                .put(fs::write)
                .layer(DefaultBodyLimit::max(fs::WRITE_BODY_LIMIT)),
        )
        .route(
            "/v1/ui-state/{key}",
            get(ui_state::get)
                .put(ui_state::put)
                .layer(DefaultBodyLimit::max(ui_state::BODY_LIMIT)),
        )
        .route("/v1/stream", get(stream::websocket))
        .merge(git::routes())
        .merge(term::routes())
        .merge(session::routes())
}

/// How many recent events `status` includes.
const STATUS_EVENTS: usize = 50;

async fn status(State(ctx): State<ApiContext>) -> Json<StatusReport> {
    Json(status_report(&ctx).await)
}

/// What `GET /v1/status` answers: the daemon, the live tree, pools and index.
pub async fn status_report(ctx: &ApiContext) -> StatusReport {
    let index = match ctx.index.status().await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "index status unavailable");
            None
        }
    };
    let tree = ctx.view.nodes();
    let mut recent_events = ctx.view.recent_events();
    let skip = recent_events.len().saturating_sub(STATUS_EVENTS);
    recent_events.drain(..skip);
    StatusReport {
        daemon: ctx.info.clone(),
        degraded: !ctx.view.degraded().is_empty(),
        tree,
        recent_events,
        pools: ctx.pools.stats(),
        index,
    }
}

async fn index_status(State(ctx): State<ApiContext>) -> Response {
    match ctx.index.status().await {
        Ok(s) => Json(s).into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            &e.to_string(),
        ),
    }
}

/// Body of `POST /v1/index`.
#[derive(Debug, Serialize, Deserialize)]
pub struct IndexRequest {
    /// The folder to index (absolute, or relative to the daemon's working directory).
    pub path: String,
}

async fn index_open(State(ctx): State<ApiContext>, Json(req): Json<IndexRequest>) -> Response {
    let path = std::path::PathBuf::from(&req.path);
    if !path.is_dir() {
        return error(
            StatusCode::BAD_REQUEST,
            "not_a_folder",
            &format!(
                "{} is not an existing folder; pass the root of the tree to index",
                path.display()
            ),
        );
    }
    match ctx.index.open(&path).await {
        Ok(id) => {
            if let Err(e) = fs::mark_opened(&ctx.storage, id).await {
                tracing::warn!(workspace = id.0, error = %e, "cannot record when the workspace was opened");
            }
            Json(serde_json::json!({ "workspace": id.0 })).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "index_failed", &e.to_string()),
    }
}

/// Body of `POST /v1/index/rescan`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RescanRequest {
    /// Only this workspace; all when absent.
    #[serde(default)]
    pub workspace: Option<i64>,
}

async fn index_rescan(State(ctx): State<ApiContext>, Json(req): Json<RescanRequest>) -> Response {
    match ctx
        .index
        .rescan(req.workspace.map(crate::index::WorkspaceId))
    {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "rescan": true })),
        )
            .into_response(),
        Err(msg) => error(StatusCode::SERVICE_UNAVAILABLE, "indexer_unavailable", &msg),
    }
}

/// What `POST /v1/search` answers: the code hits and the terminal commands that match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchAnswer {
    /// The code search.
    #[serde(flatten)]
    pub code: crate::index::SearchResponse,
    /// Commands of Weft's terminals matching the same query (at most 5).
    #[serde(default)]
    pub terminal: Vec<crate::term::HistoryEntry>,
}

/// `POST /v1/search`: the code index, and the commands of Weft's terminals that match the
/// same words or meaning (`terminal`, at most 5; none when the request filters by path,
/// language or kind, which only code has). Both run at once.
async fn search(
    State(ctx): State<ApiContext>,
    Json(req): Json<crate::index::SearchRequest>,
) -> Response {
    let pool = ctx.pools.get(PoolKind::Embed).ok();
    let code_only = req.path.is_some() || req.lang.is_some() || req.kind.is_some();
    let terminal = async {
        if code_only || req.vector_only || !ctx.terms.has_history().await {
            return Vec::new();
        }
        let q = crate::term::HistoryQuery {
            q: Some(req.query.clone()),
            semantic: !req.no_vector,
            limit: Some(5),
            ..Default::default()
        };
        match ctx.terms.history(q).await {
            Ok(answer) => answer.entries,
            Err(e) => {
                tracing::debug!(error = %e, "terminal history left out of a search");
                Vec::new()
            }
        }
    };
    let (code, terminal) = tokio::join!(crate::index::search(&ctx.index, pool, &req), terminal);
    match code {
        Ok(code) => Json(SearchAnswer { code, terminal }).into_response(),
        Err(crate::index::SearchError::BadRequest(msg)) => {
            error(StatusCode::BAD_REQUEST, "bad_query", &msg)
        }
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "index_unavailable",
            &e.to_string(),
        ),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    limit: Option<usize>,
}

async fn events(State(ctx): State<ApiContext>, Query(q): Query<EventsQuery>) -> Response {
    let limit = q.limit.unwrap_or(100).min(10_000);
    match ctx.storage.recent_events(limit).await {
        Ok(rows) => Json(
            rows.into_iter()
                .map(|r| {
                    serde_json::json!({
                        "ts_ms": r.ts_ms, "boot_id": r.boot_id, "supervisor": r.supervisor,
                        "child": r.child, "kind": r.kind, "generation": r.generation,
                        "reason": r.reason, "detail": r.detail,
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            &e.to_string(),
        ),
    }
}

/// Body of `POST /v1/kill`.
#[derive(Debug, Serialize, Deserialize)]
pub struct KillRequest {
    /// Path of the node to kill, e.g. `root/storage`.
    pub path: String,
}

/// Fault injection for people who test restarts: kills the actor at `path` as if it had
/// crashed; its supervisor's policy decides what happens next.
async fn kill(State(ctx): State<ApiContext>, Json(req): Json<KillRequest>) -> Response {
    let Some(root) = ctx.root.get() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "the tree is still starting; try again",
        );
    };
    match find_actor(root, &req.path).await {
        Ok(cell) => {
            tracing::warn!(path = %req.path, "killing actor on request");
            cell.kill();
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "killed": req.path })),
            )
                .into_response()
        }
        Err(msg) => error(StatusCode::NOT_FOUND, "no_such_actor", &msg),
    }
}

/// Walks the tree from the root to the running actor at `path` (`root` itself included).
pub async fn find_actor(root: &SupervisorHandle, path: &str) -> Result<ActorCell, String> {
    let mut parts = path.split('/');
    if parts.next() != Some("root") {
        return Err(format!(
            "{path}: paths start with `root/` (see `weft status`)"
        ));
    }
    let mut sup = root.clone();
    let mut cell = root.actor().get_cell();
    let mut walked = String::from("root");
    for part in parts {
        let children = sup
            .which_children()
            .await
            .map_err(|e| format!("{walked}: {e}"))?;
        let child = children
            .into_iter()
            .find(|c| c.id == part)
            .ok_or_else(|| format!("{walked} has no child `{part}` (see `weft status`)"))?;
        walked = format!("{walked}/{part}");
        cell = child
            .cell
            .ok_or_else(|| format!("{walked} is not running right now"))?;
        if child.kind == ChildKind::Supervisor {
            sup = SupervisorHandle::from_cell(cell.clone());
        }
    }
    Ok(cell)
}

/// Body of `POST /v1/embed`.
#[derive(Debug, Serialize, Deserialize)]
pub struct EmbedBody {
    /// Texts to embed.
    pub texts: Vec<String>,
    /// Embed as search queries instead of documents.
    #[serde(default)]
    pub query: bool,
}

/// Answer of `POST /v1/embed`.
#[derive(Debug, Serialize, Deserialize)]
pub struct EmbedAnswer {
    /// Model, backend and precision.
    pub model_id: String,
    /// Dimension.
    pub dim: usize,
    /// One vector per text.
    pub vectors: Vec<Vec<f32>>,
}

async fn embed(State(ctx): State<ApiContext>, Json(body): Json<EmbedBody>) -> Response {
    let pool = match ctx.pools.get(PoolKind::Embed) {
        Ok(p) => p.clone(),
        Err(e) => return pool_error(&e),
    };
    let mode = if body.query {
        EmbedMode::Query
    } else {
        EmbedMode::Document
    };
    match pool.embed(body.texts, mode).await {
        Ok(out) => Json(EmbedAnswer {
            vectors: (0..out.count).map(|i| out.row(i).to_vec()).collect(),
            model_id: out.model_id,
            dim: out.dim,
        })
        .into_response(),
        Err(e) => pool_error(&e),
    }
}

/// Body of `POST /v1/entities`.
#[derive(Debug, Serialize, Deserialize)]
pub struct EntitiesBody {
    /// Texts to scan.
    pub texts: Vec<String>,
}

async fn entities(State(ctx): State<ApiContext>, Json(body): Json<EntitiesBody>) -> Response {
    let pool = match ctx.pools.get(PoolKind::Ner) {
        Ok(p) => p.clone(),
        Err(e) => return pool_error(&e),
    };
    match pool.extract(body.texts).await {
        Ok(reply) => Json(serde_json::json!({
            "model_id": reply.model_id,
            "results": reply.results.iter().map(|list| list.entities.iter().map(|e| serde_json::json!({
                "label": e.label, "start": e.start, "end": e.end, "text": e.text,
                "source": e.source, "detail": e.detail,
            })).collect::<Vec<_>>()).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => pool_error(&e),
    }
}

/// Body of `POST /v1/ask`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AskBody {
    /// The question (a single user message).
    pub prompt: String,
    /// A litellm provider string; empty for the local default.
    #[serde(default)]
    pub model: String,
    /// Token budget (0 = worker default).
    #[serde(default)]
    pub max_tokens: u32,
    /// OpenAI-compatible base URL, for `openai/...` models on a local server.
    #[serde(default)]
    pub api_base: String,
}

/// Streams the answer as newline-delimited JSON chunks; an error mid-stream is a last line
/// with `code` and `message`.
async fn ask(State(ctx): State<ApiContext>, Json(body): Json<AskBody>) -> Response {
    let pool = match ctx.pools.get(PoolKind::Llm) {
        Ok(p) => p.clone(),
        Err(e) => return pool_error(&e),
    };
    let request = weft_proto::worker::CompleteRequest {
        model: body.model,
        messages: vec![weft_proto::worker::ChatMessage {
            role: "user".into(),
            content: body.prompt,
        }],
        max_tokens: body.max_tokens,
        temperature: 0.0,
        job_id: String::new(),
        stop: Vec::new(),
        api_base: body.api_base,
    };
    let mut completion = match pool.complete(request).await {
        Ok(c) => c,
        Err(e) => return pool_error(&e),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        while let Some(next) = completion.next().await {
            let line = match next {
                Ok(c) => serde_json::json!({
                    "text": c.text, "done": c.done, "finish_reason": c.finish_reason,
                    "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
                    "model": c.model,
                }),
                Err(e) => serde_json::json!({ "code": e.code(), "message": e.to_string() }),
            };
            // The client hung up: dropping `completion` cancels generation.
            if tx.send(Ok(Bytes::from(format!("{line}\n")))).await.is_err() {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_else(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &e.to_string(),
            )
        })
}

fn pool_error(e: &PoolError) -> Response {
    let status = match e {
        PoolError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        PoolError::Overloaded { .. } => StatusCode::TOO_MANY_REQUESTS,
        PoolError::Disabled { .. }
        | PoolError::Down { .. }
        | PoolError::NoWorker { .. }
        | PoolError::Restarted { .. } => StatusCode::SERVICE_UNAVAILABLE,
        PoolError::WorkerFailed { .. } => StatusCode::BAD_GATEWAY,
    };
    error(status, &e.code(), &e.to_string())
}

/// Every error answer: `{"code", "message"}` with a stable code the UI branches on.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
}

/// The actor that owns the API listeners.
pub struct ApiActor;

/// Start-up arguments of [`ApiActor`].
pub struct ApiArgs {
    /// Where to bind the Unix socket.
    pub socket: PathBuf,
    /// Handler context.
    pub ctx: ApiContext,
    /// The loopback HTTP listener; `None` when `[api] http = false`.
    pub http: Option<HttpOptions>,
}

/// Messages of [`ApiActor`].
pub enum ApiMsg {
    /// A server task ended on its own: fail so the supervisor restarts the API.
    ServerEnded(String),
}

/// [`ApiActor`]'s state: the server tasks, aborted on drop.
pub struct ApiState {
    socket: PathBuf,
    url_file: Option<PathBuf>,
    shutdown: Option<watch::Sender<bool>>,
    servers: Vec<JoinHandle<()>>,
}

impl Drop for ApiState {
    fn drop(&mut self) {
        for server in self.servers.drain(..) {
            server.abort();
        }
    }
}

/// How long in-flight requests get at shutdown.
const DRAIN: Duration = Duration::from_millis(500);

/// Serves `app` on `listener` until `stop` turns true; tells `me` if it ends on its own.
fn spawn_server<L>(
    listener: L,
    app: Router,
    mut stop: watch::Receiver<bool>,
    me: ActorRef<ApiMsg>,
    what: &'static str,
) -> JoinHandle<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        let why = match result {
            Ok(()) => format!("{what} server stopped"),
            Err(e) => format!("{what} server failed: {e}"),
        };
        let _ = me.cast(ApiMsg::ServerEnded(why));
    })
}

impl Actor for ApiActor {
    type Msg = ApiMsg;
    type State = ApiState;
    type Arguments = ApiArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ApiMsg>,
        args: ApiArgs,
    ) -> Result<ApiState, ActorProcessingErr> {
        // The daemon holds the profile's instance lock, so a socket file here is stale (left
        // by a crash or by a killed incarnation of this actor).
        match std::fs::remove_file(&args.socket) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(
                    format!("cannot remove stale socket {}: {e}", args.socket.display()).into(),
                )
            }
        }
        let listener = UnixListener::bind(&args.socket)
            .map_err(|e| format!("cannot listen on {}: {e}", args.socket.display()))?;
        // Bind both before serving either, so a failure leaves nothing half-started.
        let tcp = match &args.http {
            Some(opts) => Some(http::bind(opts).await?),
            None => None,
        };
        let (stop, stop_rx) = watch::channel(false);
        let mut servers = vec![spawn_server(
            listener,
            router(args.ctx.clone()),
            stop_rx.clone(),
            myself.clone(),
            "unix socket",
        )];
        let mut url_file = None;
        if let (Some(opts), Some((tcp, addr))) = (&args.http, tcp) {
            let app = http::app(args.ctx.clone(), opts, addr);
            servers.push(spawn_server(tcp, app, stop_rx, myself.clone(), "http"));
            let opts2 = opts.clone();
            let published = tokio::task::spawn_blocking(move || http::publish(&opts2, addr))
                .await
                .map_err(|e| format!("writing the UI URL failed: {e}"))?;
            if let Err(e) = published {
                // Nothing serves without its URL being known; stop what started.
                for s in &servers {
                    s.abort();
                }
                return Err(e.into());
            }
            url_file = Some(opts.url_file.clone());
            tracing::info!(address = %addr, "api listening on loopback http");
        }
        tracing::info!(socket = %args.socket.display(), "api listening");
        Ok(ApiState {
            socket: args.socket,
            url_file,
            shutdown: Some(stop),
            servers,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<ApiMsg>,
        msg: ApiMsg,
        state: &mut ApiState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ApiMsg::ServerEnded(why) if state.shutdown.is_some() => Err(why.into()),
            ApiMsg::ServerEnded(_) => Ok(()),
        }
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ApiMsg>,
        state: &mut ApiState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(stop) = state.shutdown.take() {
            let _ = stop.send(true);
        }
        let deadline = tokio::time::Instant::now() + DRAIN;
        for mut server in state.servers.drain(..) {
            if tokio::time::timeout_at(deadline, &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
        let _ = std::fs::remove_file(&state.socket);
        if let Some(url_file) = &state.url_file {
            let _ = std::fs::remove_file(url_file);
        }
        Ok(())
    }
}

/// Errors of the API client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error("no `weft serve` is running for this profile (nothing at {}): start one with `weft serve`", socket.display())]
    NotRunning {
        /// The socket tried.
        socket: PathBuf,
    },
    /// Transport trouble.
    #[error("talking to `weft serve` at {}: {message}", socket.display())]
    Transport {
        /// The socket.
        socket: PathBuf,
        /// What failed.
        message: String,
    },
    /// The daemon answered with an error.
    #[error("`weft serve` answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters), for
/// the clients that build `/v1/...?q=...` paths.
pub fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How long a client call may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the daemon's socket, sends one request and returns the answer's head (the
/// body streams). Used by [`request`] and [`request_lines`].
async fn send(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
    let transport = |message: String| ClientError::Transport {
        socket: socket.to_path_buf(),
        message,
    };
    let call = async {
        let stream = match tokio::net::UnixStream::connect(socket).await {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ClientError::NotRunning {
                    socket: socket.to_path_buf(),
                })
            }
            Err(e) => return Err(transport(e.to_string())),
        };
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| transport(e.to_string()))?;
        tokio::spawn(conn);
        let bytes = body.map(|v| Bytes::from(v.to_string())).unwrap_or_default();
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes))
            .map_err(|e| transport(e.to_string()))?;
        sender
            .send_request(req)
            .await
            .map_err(|e| transport(e.to_string()))
    };
    tokio::time::timeout(CLIENT_TIMEOUT, call)
        .await
        .map_err(|_| transport(format!("no answer within {CLIENT_TIMEOUT:?}")))?
}

/// The `message` of an error answer, or its raw text.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// One request to the daemon; returns the body of a 2xx answer.
pub async fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<Vec<u8>, ClientError> {
    let resp = send(socket, method, path, body).await?;
    let status = resp.status();
    let collect = resp.into_body().collect();
    let body = tokio::time::timeout(CLIENT_TIMEOUT, collect)
        .await
        .map_err(|_| ClientError::Transport {
            socket: socket.to_path_buf(),
            message: format!("no complete answer within {CLIENT_TIMEOUT:?}"),
        })?
        .map_err(|e| ClientError::Transport {
            socket: socket.to_path_buf(),
            message: e.to_string(),
        })?
        .to_bytes()
        .to_vec();
    if status.is_success() {
        Ok(body)
    } else {
        Err(ClientError::Status {
            status: status.as_u16(),
            message: error_message(&body),
        })
    }
}

/// `POST` with a JSON body whose answer is newline-delimited JSON; calls `on_line` for each
/// line as it arrives (used by `weft ask` to print tokens while they stream).
pub async fn request_lines(
    socket: &Path,
    path: &str,
    body: serde_json::Value,
    mut on_line: impl FnMut(serde_json::Value),
) -> Result<(), ClientError> {
    let resp = send(socket, "POST", path, Some(body)).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ClientError::Transport {
            socket: socket.to_path_buf(),
            message: e.to_string(),
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        if !status.is_success() {
            continue;
        }
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) {
                on_line(v);
            }
        }
    }
    if !status.is_success() {
        return Err(ClientError::Status {
            status: status.as_u16(),
            message: error_message(&buf),
        });
    }
    Ok(())
}

/// `GET /v1/status`.
pub async fn fetch_status(socket: &Path) -> Result<StatusReport, ClientError> {
    let body = request(socket, "GET", "/v1/status", None).await?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Transport {
        socket: socket.to_path_buf(),
        message: format!("unreadable status: {e}"),
    })
}
