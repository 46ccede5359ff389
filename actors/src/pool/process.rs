//! One Python worker process, owned by one actor.
//!
//! `pre_start` only spawns the process (its own process group, `PR_SET_PDEATHSIG` so it dies
//! with the core even on SIGKILL, `kill_on_drop` as a backstop). `post_start` waits for the
//! `READY` line with a deadline, connects the gRPC channel over the worker's Unix socket,
//! requires a SERVING health check and reads `Worker.Info`; only then is the worker
//! registered with its pool's dispatcher. A lifecycle task owns the child process: it
//! watches for exit and runs periodic health checks (a worker alive but not answering is a
//! hung worker: its group is killed). Either way the actor fails, and its supervisor restarts
//! it with backoff. Dropping the actor's state kills the process group, so no path — stop,
//! kill, panic — leaves an orphan.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use weft_proto::health::health_check_response::ServingStatus;
use weft_proto::worker::worker_client::WorkerClient;
use weft_proto::worker::InfoRequest;

use super::dispatcher::DispatchMsg;
use super::rpc::{authed, health_check};
use super::PoolShared;
use crate::supervision::EventSink;

/// How many of the worker's last stderr lines are kept for error messages.
const STDERR_TAIL: usize = 12;

/// Everything needed to start one worker process.
#[derive(Clone)]
pub struct WorkerSpec {
    /// Python interpreter of the workers' venv.
    pub python: PathBuf,
    /// Extra arguments after `-m weft_workers <kind> --listen ADDR`.
    pub args: Vec<String>,
    /// Extra environment (fault knobs in tests, thread settings).
    pub env: Vec<(String, String)>,
    /// Folder for the worker sockets (0700).
    pub socket_dir: PathBuf,
    /// Deadline for READY + first SERVING health check.
    pub start_timeout: Duration,
    /// Period of health checks.
    pub health_interval: Duration,
    /// Deadline of one health check.
    pub health_timeout: Duration,
    /// SIGTERM → SIGKILL grace at shutdown.
    pub stop_grace: Duration,
    /// CPU priority (`nice`, 0..=19) the worker runs at.
    pub nice: i32,
}

/// Start-up arguments of [`WorkerProcess`].
pub type WorkerArgs = super::MemberArgs<WorkerSpec>;

/// Messages of [`WorkerProcess`].
pub enum WorkerMsg {
    /// The process exited or stopped answering: fail so the supervisor restarts it.
    Died(String),
}

/// The actor owning one worker process.
pub struct WorkerProcess;

/// [`WorkerProcess`]'s state. Dropping it kills the process group.
pub struct WorkerState {
    id: String,
    incarnation: u64,
    pid: Option<i32>,
    shared: Arc<PoolShared>,
    handshake: Option<oneshot::Receiver<Result<(), String>>>,
    stop: Option<oneshot::Sender<()>>,
    lifecycle: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    socket: PathBuf,
    spec: WorkerSpec,
    path: String,
    events: Arc<dyn EventSink>,
    registered: bool,
    /// Set when the process could not even be spawned; reported from `post_start`.
    spawn_error: Option<String>,
}

impl Drop for WorkerState {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            kill_group(pid, libc::SIGKILL);
        }
        if let Some(task) = self.lifecycle.take() {
            task.abort();
        }
        if self.registered {
            self.shared.cast(DispatchMsg::WorkerDown {
                worker: self.id.clone(),
                incarnation: self.incarnation,
                reason: "worker stopped".into(),
            });
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn kill_group(pid: i32, sig: i32) {
    // SAFETY: signalling a process group we created; no memory is involved.
    unsafe {
        libc::killpg(pid, sig);
    }
}

fn tail(lines: &Mutex<VecDeque<String>>) -> String {
    let lines = lines.lock().unwrap_or_else(|e| e.into_inner());
    lines.iter().cloned().collect::<Vec<_>>().join(" | ")
}

fn with_tail(msg: String, lines: &Mutex<VecDeque<String>>) -> String {
    let t = tail(lines);
    if t.is_empty() {
        msg
    } else {
        format!("{msg}; worker said: {t}")
    }
}

impl Actor for WorkerProcess {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = WorkerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<WorkerMsg>,
        args: WorkerArgs,
    ) -> Result<WorkerState, ActorProcessingErr> {
        let kind = args.shared.kind.as_str();
        let incarnation = args.shared.next_incarnation();
        let socket = args
            .spec
            .socket_dir
            .join(format!("{kind}-{incarnation}.sock"));
        let _ = std::fs::remove_file(&socket);
        let mut cmd = Command::new(&args.spec.python);
        cmd.arg("-m")
            .arg("weft_workers")
            .arg(kind)
            .arg("--listen")
            .arg(format!("unix:{}", socket.display()))
            .args(&args.spec.args)
            .env("HF_HUB_OFFLINE", "1")
            .env("TRANSFORMERS_OFFLINE", "1")
            .env("PYTHONUNBUFFERED", "1")
            // WEFT_LOG is a Rust tracing filter; the worker takes its level from flags.
            .env_remove("WEFT_LOG")
            .envs(args.spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let nice = args.spec.nice.clamp(0, 19);
        // SAFETY: prctl and setpriority are async-signal-safe; they only set attributes of
        // the child process.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Bulk work yields the CPU to the core's interactive threads. A failure only
                // leaves the default priority.
                if nice > 0 {
                    libc::setpriority(libc::PRIO_PROCESS, 0, nice);
                }
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                // Failing pre_start would fail every supervisor above this one while the
                // tree boots; failing in post_start instead lets the pool back off, give up
                // and report it while the rest of Weft runs.
                let error = format!(
                    "cannot start the {kind} worker with {}: {e}; run scripts/setup-python.sh or set [workers] python",
                    args.spec.python.display()
                );
                return Ok(WorkerState {
                    id: args.id,
                    incarnation,
                    pid: None,
                    shared: args.shared,
                    handshake: None,
                    stop: None,
                    lifecycle: None,
                    stderr: Arc::default(),
                    socket,
                    spec: args.spec,
                    path: args.path,
                    events: args.events,
                    registered: false,
                    spawn_error: Some(error),
                });
            }
        };
        let pid = child.id().and_then(|p| i32::try_from(p).ok());
        let stderr_lines = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(err) = child.stderr.take() {
            let lines = Arc::clone(&stderr_lines);
            let id = args.path.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(err).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    tracing::debug!(worker = %id, "{line}");
                    let mut l = lines.lock().unwrap_or_else(|e| e.into_inner());
                    if l.len() == STDERR_TAIL {
                        l.pop_front();
                    }
                    l.push_back(line);
                }
            });
        }
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let lifecycle = tokio::spawn(lifecycle(
            child,
            socket.clone(),
            args.spec.clone(),
            ready_tx,
            stop_rx,
            myself.clone(),
            Arc::clone(&stderr_lines),
        ));
        if let Some(pid) = pid {
            args.events
                .set_info(&args.path, "pid", serde_json::json!(pid));
        }
        Ok(WorkerState {
            id: args.id,
            incarnation,
            pid,
            shared: args.shared,
            handshake: Some(ready_rx),
            stop: Some(stop_tx),
            lifecycle: Some(lifecycle),
            stderr: stderr_lines,
            socket,
            spec: args.spec,
            path: args.path,
            events: args.events,
            registered: false,
            spawn_error: None,
        })
    }

    async fn post_start(
        &self,
        _myself: ActorRef<WorkerMsg>,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        handshake(state).await.map_err(|e| state.shared.fail(e))
    }

    async fn handle(
        &self,
        _myself: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMsg::Died(reason) => {
                state.pid = None;
                Err(state.shared.fail(with_tail(reason, &state.stderr)))
            }
        }
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<WorkerMsg>,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        if state.registered {
            state.shared.cast(DispatchMsg::WorkerDown {
                worker: state.id.clone(),
                incarnation: state.incarnation,
                reason: "stopping".into(),
            });
            state.registered = false;
        }
        // Graceful: the lifecycle task sends SIGTERM, waits the grace period, then SIGKILLs.
        if let Some(stop) = state.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = state.lifecycle.take() {
            let limit = state.spec.stop_grace + Duration::from_secs(1);
            if tokio::time::timeout(limit, &mut task).await.is_err() {
                task.abort();
            } else {
                state.pid = None;
            }
        }
        Ok(())
    }
}

/// READY line, channel, SERVING health check, Info; then the worker joins its pool.
async fn handshake(state: &mut WorkerState) -> Result<(), String> {
    if let Some(e) = state.spawn_error.take() {
        return Err(e);
    }
    let kind = state.shared.kind.as_str();
    let deadline = tokio::time::Instant::now() + state.spec.start_timeout;
    let handshake = state
        .handshake
        .take()
        .ok_or_else(|| "handshake already taken".to_string())?;
    match tokio::time::timeout_at(deadline, handshake).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(with_tail(e, &state.stderr)),
            Ok(Err(_)) => {
                return Err(with_tail(
                    format!("{kind} worker exited during start-up"),
                    &state.stderr,
                ))
            }
            Err(_) => {
                return Err(with_tail(
                    format!(
                        "{kind} worker printed no READY line within {:?} (raise [workers] start_timeout_ms if the model is slow to load)",
                        state.spec.start_timeout
                    ),
                    &state.stderr,
                ))
            }
        }
    let channel = connect(&state.socket).await.map_err(|e| {
        with_tail(
            format!(
                "{kind} worker: cannot connect to {}: {e}",
                state.socket.display()
            ),
            &state.stderr,
        )
    })?;
    wait_serving(&channel, deadline, state.spec.health_timeout)
        .await
        .map_err(|e| with_tail(format!("{kind} worker: {e}"), &state.stderr))?;
    let info = WorkerClient::new(channel.clone())
        .info(authed(InfoRequest {}, state.spec.health_timeout, None))
        .await
        .map_err(|e| format!("{kind} worker: Info failed: {}", e.message()))?
        .into_inner();
    state
        .events
        .set_info(&state.path, "model", serde_json::json!(info.model_id));
    state
        .events
        .set_info(&state.path, "device", serde_json::json!(info.device));
    tracing::info!(worker = %state.path, pid = info.pid, model = %info.model_id, "worker ready");
    state.shared.cast(DispatchMsg::WorkerUp {
        worker: state.id.clone(),
        channel,
        info: Box::new(info),
        incarnation: state.incarnation,
        path: state.path.clone(),
        events: Arc::clone(&state.events),
        token: None,
    });
    state.registered = true;
    Ok(())
}

async fn connect(socket: &std::path::Path) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("unix:{}", socket.display()))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

async fn wait_serving(
    channel: &Channel,
    deadline: tokio::time::Instant,
    limit: Duration,
) -> Result<(), String> {
    loop {
        let last = match health_check(channel, limit, None).await {
            Ok(ServingStatus::Serving) => return Ok(()),
            Ok(other) => format!("health is {other:?}"),
            Err(e) => e,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("not SERVING before the start deadline ({last})"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Owns the child process for its whole life: handshake, then exit watch + health checks,
/// then the graceful stop.
async fn lifecycle(
    mut child: Child,
    socket: PathBuf,
    spec: WorkerSpec,
    ready: oneshot::Sender<Result<(), String>>,
    mut stop: oneshot::Receiver<()>,
    actor: ActorRef<WorkerMsg>,
    stderr: Arc<Mutex<VecDeque<String>>>,
) {
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let Some(stdout) = child.stdout.take() else {
        let _ = ready.send(Err("worker stdout unavailable".into()));
        return;
    };
    let mut lines = BufReader::new(stdout).lines();
    // 1. Handshake: the first line must be READY {json}.
    let handshake = tokio::select! {
        line = lines.next_line() => match line {
            Ok(Some(l)) => parse_ready(&l),
            // Usually the process is exiting: report how, which says more than EOF.
            Ok(None) => match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
                Ok(status) => Err(format!("{} before READY", exit_text(status))),
                Err(_) => Err("worker closed stdout before READY".to_string()),
            },
            Err(e) => Err(format!("reading worker stdout: {e}")),
        },
        status = child.wait() => Err(format!("{} before READY", exit_text(status))),
        _ = &mut stop => {
            terminate(&mut child, pid, spec.stop_grace).await;
            return;
        }
    };
    let ok = handshake.is_ok();
    let _ = ready.send(handshake);
    if !ok {
        // The actor fails on the handshake error; make sure the process is gone.
        if let Some(pid) = pid {
            kill_group(pid, libc::SIGKILL);
        }
        let _ = child.wait().await;
        return;
    }
    // Drain further stdout so the worker never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    // 2. Watch: exit, or health checks failing twice in a row.
    let channel = match connect(&socket).await {
        Ok(c) => c,
        Err(e) => {
            let _ = actor.cast(WorkerMsg::Died(format!(
                "cannot connect for health checks: {e}"
            )));
            if let Some(pid) = pid {
                kill_group(pid, libc::SIGKILL);
            }
            let _ = child.wait().await;
            return;
        }
    };
    let mut ticker = tokio::time::interval(spec.health_interval);
    ticker.tick().await;
    let mut misses = 0u32;
    loop {
        tokio::select! {
            status = child.wait() => {
                if let Some(pid) = pid { kill_group(pid, libc::SIGKILL); }
                let _ = actor.cast(WorkerMsg::Died(exit_text(status)));
                return;
            }
            _ = &mut stop => {
                terminate(&mut child, pid, spec.stop_grace).await;
                return;
            }
            _ = ticker.tick() => {
                match health_check(&channel, spec.health_timeout, None).await {
                    Ok(ServingStatus::Serving) => misses = 0,
                    Ok(_) | Err(_) => {
                        misses += 1;
                        if misses >= 2 {
                            let why = format!("worker stopped answering health checks ({} missed); killed as hung", misses);
                            tracing::warn!(pid = ?pid, "{why}");
                            if let Some(pid) = pid { kill_group(pid, libc::SIGKILL); }
                            let _ = child.wait().await;
                            let _ = stderr.lock().map(|mut l| l.push_back("(killed: hung)".into()));
                            let _ = actor.cast(WorkerMsg::Died(why));
                            return;
                        }
                    }
                }
            }
        }
    }
}

async fn terminate(child: &mut Child, pid: Option<i32>, grace: Duration) {
    if let Some(pid) = pid {
        kill_group(pid, libc::SIGTERM);
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        if let Some(pid) = pid {
            kill_group(pid, libc::SIGKILL);
        }
        let _ = child.wait().await;
    }
}

fn exit_text(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("worker exited with code {code}"),
            (None, Some(sig)) => format!("worker killed by signal {sig}"),
            _ => "worker exited".into(),
        },
        Err(e) => format!("waiting for the worker failed: {e}"),
    }
}

/// `READY {"pid": ..., ...}`: the JSON must parse and name the worker's pid.
fn parse_ready(line: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "bad handshake: expected `READY {{json}}`, got {:?}",
            truncate(line, 200)
        )
    };
    let json = line.strip_prefix("READY ").ok_or_else(bad)?;
    let v: serde_json::Value = serde_json::from_str(json).map_err(|_| bad())?;
    if v.get("pid").and_then(serde_json::Value::as_u64).is_none() {
        return Err(bad());
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}
