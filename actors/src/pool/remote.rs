//! A remote worker: the same Python worker running on another machine (a GPU box, say),
//! reached over TCP with TLS and a bearer token. It owns no process, only its channel and
//! its health checks; it joins the dispatcher like a local worker once it answers SERVING,
//! and fails (so its supervisor retries with backoff) when it stops answering.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use weft_proto::health::health_check_response::ServingStatus;
use weft_proto::worker::worker_client::WorkerClient;
use weft_proto::worker::InfoRequest;

use super::dispatcher::DispatchMsg;
use super::rpc::{authed, health_check};
use super::PoolShared;
use crate::supervision::EventSink;

/// How to reach one remote worker.
#[derive(Clone)]
pub struct RemoteSpec {
    /// `https://HOST:PORT`.
    pub url: String,
    /// PEM file of the CA to trust; `None` trusts the system roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// File holding the bearer token the worker requires.
    pub token_file: Option<std::path::PathBuf>,
    /// Deadline for connecting and the first SERVING answer.
    pub start_timeout: Duration,
    /// Period of health checks.
    pub health_interval: Duration,
    /// Deadline of one health check.
    pub health_timeout: Duration,
}

/// Start-up arguments of [`RemoteWorker`].
pub type RemoteArgs = super::MemberArgs<RemoteSpec>;

/// Messages of [`RemoteWorker`].
pub enum RemoteMsg {
    /// Health checks failed: fail so the supervisor retries.
    Lost(String),
}

/// The actor standing for one remote worker.
pub struct RemoteWorker;

/// Its state; dropping it leaves the pool and stops the health checks.
pub struct RemoteState {
    id: String,
    incarnation: u64,
    shared: Arc<PoolShared>,
    spec: RemoteSpec,
    path: String,
    events: Arc<dyn EventSink>,
    registered: bool,
    monitor: Option<JoinHandle<()>>,
}

impl Drop for RemoteState {
    fn drop(&mut self) {
        if let Some(m) = self.monitor.take() {
            m.abort();
        }
        if self.registered {
            self.shared.cast(DispatchMsg::WorkerDown {
                worker: self.id.clone(),
                incarnation: self.incarnation,
                reason: "remote worker left".into(),
            });
        }
    }
}

/// Reads the token file; it must not be readable by others (it grants use of the worker).
fn read_token(path: &std::path::Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "token file {}: {e}; set [workers] remote_token_file",
            path.display()
        )
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "token file {} is readable by others; run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    let token = std::fs::read_to_string(path)
        .map_err(|e| format!("token file {}: {e}", path.display()))?
        .trim()
        .to_string();
    if token.is_empty() {
        return Err(format!("token file {} is empty", path.display()));
    }
    Ok(token)
}

async fn connect(spec: &RemoteSpec) -> Result<Channel, String> {
    let mut tls = ClientTlsConfig::new();
    tls = match &spec.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                format!("CA file {}: {e}; set [workers] remote_ca to the PEM the remote worker's certificate chains to", path.display())
            })?;
            tls.ca_certificate(Certificate::from_pem(pem))
        }
        None => tls.with_native_roots(),
    };
    let endpoint = Endpoint::from_shared(spec.url.clone())
        .map_err(|e| format!("remote worker {}: bad URL: {e}", spec.url))?
        .tls_config(tls)
        .map_err(|e| format!("remote worker {}: TLS setup: {e}", spec.url))?
        .connect_timeout(spec.start_timeout.min(Duration::from_secs(10)));
    endpoint
        .connect()
        .await
        .map_err(|e| format!("remote worker {}: cannot connect: {e:?}", spec.url))
}

async fn check(channel: &Channel, spec: &RemoteSpec, token: Option<&str>) -> Result<(), String> {
    match health_check(channel, spec.health_timeout, token).await? {
        ServingStatus::Serving => Ok(()),
        other => Err(format!("health is {other:?}")),
    }
}

impl Actor for RemoteWorker {
    type Msg = RemoteMsg;
    type State = RemoteState;
    type Arguments = RemoteArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<RemoteMsg>,
        args: RemoteArgs,
    ) -> Result<RemoteState, ActorProcessingErr> {
        args.events
            .set_info(&args.path, "remote", serde_json::json!(args.spec.url));
        // Connecting happens in post_start: a remote box that is down must not fail the
        // tree's boot, only this worker (which then retries with backoff).
        Ok(RemoteState {
            id: args.id,
            incarnation: args.shared.next_incarnation(),
            shared: args.shared,
            spec: args.spec,
            path: args.path,
            events: args.events,
            registered: false,
            monitor: None,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<RemoteMsg>,
        state: &mut RemoteState,
    ) -> Result<(), ActorProcessingErr> {
        join(myself, state).await.map_err(|e| state.shared.fail(e))
    }

    async fn handle(
        &self,
        _myself: ActorRef<RemoteMsg>,
        msg: RemoteMsg,
        state: &mut RemoteState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RemoteMsg::Lost(why) => Err(state.shared.fail(why)),
        }
    }
}

/// Connect, require SERVING within the start deadline, read Info, join the dispatcher, and
/// start the health checks.
async fn join(myself: ActorRef<RemoteMsg>, state: &mut RemoteState) -> Result<(), String> {
    let spec = state.spec.clone();
    let token = match &spec.token_file {
        Some(path) => Some(read_token(path)?),
        None => None,
    };
    let deadline = tokio::time::Instant::now() + spec.start_timeout;
    let channel = connect(&spec).await?;
    loop {
        match check(&channel, &spec, token.as_deref()).await {
            Ok(()) => break,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("remote worker {}: not SERVING: {e}", spec.url))
            }
            Err(e) if e.contains("Unauthenticated") => {
                return Err(format!(
                    "remote worker {} refused the token ({e}); check [workers] remote_token_file",
                    spec.url
                ))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let info = WorkerClient::new(channel.clone())
        .info(authed(
            InfoRequest {},
            spec.health_timeout,
            token.as_deref(),
        ))
        .await
        .map_err(|e| format!("remote worker {}: Info failed: {}", spec.url, e.message()))?
        .into_inner();
    let expected = state.shared.kind.as_str();
    if info.kind != expected {
        return Err(format!(
            "remote worker {} is a `{}` worker, listed under [{expected}] remote",
            spec.url, info.kind
        ));
    }
    state
        .events
        .set_info(&state.path, "model", serde_json::json!(info.model_id));
    state
        .events
        .set_info(&state.path, "device", serde_json::json!(info.device));
    tracing::info!(worker = %state.path, url = %spec.url, model = %info.model_id, "remote worker ready");
    state.shared.cast(DispatchMsg::WorkerUp {
        worker: state.id.clone(),
        channel: channel.clone(),
        info: Box::new(info),
        incarnation: state.incarnation,
        path: state.path.clone(),
        events: Arc::clone(&state.events),
        token: token.clone(),
    });
    state.registered = true;
    state.monitor = Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(spec.health_interval);
        ticker.tick().await;
        let mut misses = 0u32;
        loop {
            ticker.tick().await;
            match check(&channel, &spec, token.as_deref()).await {
                Ok(()) => misses = 0,
                Err(e) => {
                    misses += 1;
                    if misses >= 2 {
                        let _ = myself.cast(RemoteMsg::Lost(format!(
                            "remote worker {} stopped answering health checks: {e}",
                            spec.url
                        )));
                        return;
                    }
                }
            }
        }
    }));
    Ok(())
}
