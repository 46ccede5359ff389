//! Worker pools with real Python worker processes, real models and real gRPC over Unix
//! sockets: chaos (SIGKILL while embedding), hung workers, a model that cannot load,
//! malformed requests, streaming completions, backpressure.
//!
//! Needs the workers' venv and exported models (`scripts/setup-python.sh`; `WEFT_VENV` and
//! `WEFT_MODELS` pick non-default places).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use weft_actors::config::{self, PoolKind, PoolSettings};
use weft_actors::pool::process::WorkerSpec;
use weft_actors::pool::remote::RemoteSpec;
use weft_actors::pool::{standalone_pool, EmbedMode, PoolError, PoolHandle, PoolPolicy};
use weft_actors::supervision::{
    start_supervisor, Backoff, NodeState, Strategy, SupervisorFlags, SupervisorHandle, TreeView,
};
use weft_proto::worker::{ChatMessage, CompleteRequest};

struct Env {
    python: std::path::PathBuf,
    models: std::path::PathBuf,
    sockets: tempfile::TempDir,
}

fn env() -> Env {
    let loaded = config::load().expect("config");
    let python = loaded.paths.python(&loaded.config);
    assert!(
        python.exists(),
        "{} missing: run scripts/setup-python.sh (or set WEFT_VENV)",
        python.display()
    );
    let sockets = tempfile::Builder::new()
        .prefix("wp")
        .tempdir()
        .expect("socket dir");
    Env {
        python,
        models: loaded.paths.models_dir(&loaded.config),
        sockets,
    }
}

fn spec(env: &Env, kind: PoolKind, extra_env: &[(&str, &str)]) -> WorkerSpec {
    let mut args: Vec<String> = vec![
        "--threads".into(),
        "1".into(),
        "--max-inflight".into(),
        "2".into(),
    ];
    if kind == PoolKind::Embed {
        args.extend([
            "--backend".into(),
            "auto".into(),
            "--models-dir".into(),
            env.models.to_string_lossy().into_owned(),
        ]);
    }
    WorkerSpec {
        python: env.python.clone(),
        args,
        env: extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        socket_dir: env.sockets.path().to_path_buf(),
        start_timeout: Duration::from_secs(120),
        health_interval: Duration::from_millis(500),
        health_timeout: Duration::from_millis(1000),
        stop_grace: Duration::from_secs(2),
        nice: 0,
    }
}

fn settings(min: u32, max: u32, queue: u32, inflight: u32) -> PoolSettings {
    PoolSettings {
        enabled: true,
        min_workers: min,
        max_workers: max,
        queue,
        inflight,
    }
}

fn lenient() -> PoolPolicy {
    let backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_secs(1),
        jitter: 0.2,
        reset_after: Duration::from_secs(60),
    };
    PoolPolicy {
        workers: SupervisorFlags {
            strategy: Strategy::OneForOne,
            max_restarts: 1000,
            period: Duration::from_secs(60),
            backoff,
        },
        pool: SupervisorFlags {
            strategy: Strategy::RestForOne,
            max_restarts: 1,
            period: Duration::from_secs(60),
            backoff,
        },
        scale_up_after: Duration::from_secs(2),
        idle_retire: Duration::from_secs(3),
    }
}

async fn start(
    kind: PoolKind,
    settings: PoolSettings,
    spec: WorkerSpec,
    policy: PoolPolicy,
    admission_wait: Duration,
) -> (SupervisorHandle, PoolHandle, TreeView) {
    start_with(kind, settings, spec, vec![], policy, admission_wait).await
}

async fn start_with(
    kind: PoolKind,
    settings: PoolSettings,
    spec: WorkerSpec,
    remotes: Vec<RemoteSpec>,
    policy: PoolPolicy,
    admission_wait: Duration,
) -> (SupervisorHandle, PoolHandle, TreeView) {
    let view = TreeView::new();
    let (child, pool) = standalone_pool(
        kind,
        settings,
        spec,
        remotes,
        policy,
        Duration::from_secs(60),
        admission_wait,
    );
    let flags = SupervisorFlags::with_strategy(Strategy::OneForOne);
    let (sup, _) = start_supervisor("t", flags, vec![child], Arc::new(view.clone()))
        .await
        .expect("start pool");
    (sup, pool, view)
}

async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Worker pids by node path, from the live view.
fn worker_pids(view: &TreeView) -> Vec<(String, i32)> {
    view.nodes()
        .into_iter()
        .filter(|n| n.path.contains("/workers/w") && n.state == NodeState::Running)
        .filter_map(|n| {
            n.info
                .get("pid")
                .and_then(|p| p.as_i64())
                .map(|p| (n.path.clone(), p as i32))
        })
        .collect()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn texts(n: usize, seed: u64) -> Vec<String> {
    const WORDS: &[&str] = &[
        "parser",
        "cache",
        "vector",
        "index",
        "socket",
        "thread",
        "retry",
        "token",
        "query",
        "commit",
        "branch",
        "merge",
        "actor",
        "worker",
        "restart",
        "schema",
        "migration",
        "buffer",
        "stream",
        "latency",
        "kernel",
        "module",
        "function",
        "closure",
        "future",
        "channel",
        "error",
        "panic",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let len = rng.random_range(6..24);
            let words: Vec<&str> = (0..len)
                .map(|_| WORDS[rng.random_range(0..WORDS.len())])
                .collect();
            format!("{i}: {}", words.join(" "))
        })
        .collect()
}

/// Embeds all texts in batches of 40 with 6 concurrent callers; returns the rows in order.
async fn embed_all(pool: &PoolHandle, texts: &[String]) -> Vec<Vec<f32>> {
    let batches: Vec<Vec<String>> = texts.chunks(40).map(|c| c.to_vec()).collect();
    let mut out: Vec<Option<Vec<Vec<f32>>>> = vec![None; batches.len()];
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut next = 0;
    use futures::StreamExt;
    loop {
        while pending.len() < 6 && next < batches.len() {
            let p = pool.clone();
            let b = batches[next].clone();
            let i = next;
            pending.push(async move { (i, b.len(), p.embed(b, EmbedMode::Document).await) });
            next += 1;
        }
        let Some((i, n, result)) = pending.next().await else {
            break;
        };
        let e = result.unwrap_or_else(|e| panic!("batch {i} failed: {e}"));
        assert_eq!(e.count, n, "exactly one vector per text");
        out[i] = Some((0..e.count).map(|r| e.row(r).to_vec()).collect());
    }
    out.into_iter()
        .flat_map(|b| b.expect("every batch answered"))
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_every_text_gets_exactly_one_vector_equal_to_a_clean_run() {
    let seed: u64 = std::env::var("WEFT_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::random::<u32>() as u64);
    println!("chaos seed: {seed} (replay with WEFT_CHAOS_SEED={seed})");
    let env = env();
    let (sup, pool, view) = start(
        PoolKind::Embed,
        settings(2, 2, 100_000, 2),
        spec(&env, PoolKind::Embed, &[]),
        lenient(),
        Duration::from_secs(120),
    )
    .await;
    wait_for("2 workers ready", Duration::from_secs(120), || {
        pool.stats().ready == 2
    })
    .await;

    let corpus = texts(5000, seed);
    let clean = embed_all(&pool, &corpus).await;

    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicU32::new(0));
    let killer = {
        let (stop, kills, view) = (Arc::clone(&stop), Arc::clone(&kills), view.clone());
        tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(rng.random_range(1000..3000))).await;
                let pids = worker_pids(&view);
                if pids.is_empty() {
                    continue;
                }
                let (path, pid) = &pids[rng.random_range(0..pids.len())];
                // SAFETY: killing a worker process this test started.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
                kills.fetch_add(1, Ordering::SeqCst);
                println!("chaos: SIGKILL {path} (pid {pid})");
            }
        })
    };
    let started = Instant::now();
    let chaotic = embed_all(&pool, &corpus).await;
    stop.store(true, Ordering::SeqCst);
    killer.await.expect("killer");
    println!(
        "chaos run: {} texts in {:?} with {} kills, {} retried jobs",
        corpus.len(),
        started.elapsed(),
        kills.load(Ordering::SeqCst),
        pool.stats().retried
    );

    assert_eq!(chaotic.len(), corpus.len());
    for (i, (a, b)) in clean.iter().zip(&chaotic).enumerate() {
        let c = cosine(a, b);
        assert!(
            c > 0.9999,
            "text {i}: cosine {c} vs the clean run (seed {seed})"
        );
    }
    assert!(
        kills.load(Ordering::SeqCst) >= 2,
        "the chaos loop killed too little to mean anything"
    );
    sup.shutdown(Duration::from_secs(20))
        .await
        .expect("shutdown");
    for (_, pid) in worker_pids(&view) {
        assert!(!alive(pid), "worker {pid} outlived the pool");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_is_detected_by_health_checks_and_replaced() {
    let env = env();
    let (sup, pool, view) = start(
        PoolKind::Ner,
        settings(1, 1, 16, 2),
        spec(&env, PoolKind::Ner, &[]),
        lenient(),
        Duration::from_secs(5),
    )
    .await;
    wait_for("worker ready", Duration::from_secs(60), || {
        pool.stats().ready == 1
    })
    .await;
    let (path, pid) = worker_pids(&view).pop().expect("a worker");
    // SAFETY: freezing a worker process this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let frozen_at = Instant::now();
    wait_for("replacement", Duration::from_secs(30), || {
        worker_pids(&view)
            .iter()
            .any(|(p, new)| *p == path && *new != pid)
            && pool.stats().ready == 1
    })
    .await;
    println!("frozen worker replaced after {:?}", frozen_at.elapsed());
    let node = view.node(&path).expect("node");
    assert_eq!(node.restarts, 1);
    assert!(
        node.last_error
            .as_deref()
            .unwrap_or("")
            .contains("health checks"),
        "{node:?}"
    );
    assert!(!alive(pid), "the frozen process was killed");
    let reply = pool
        .extract(vec!["see src/main.rs".into()])
        .await
        .expect("the replacement serves");
    assert_eq!(reply.results.len(), 1);
    sup.shutdown(Duration::from_secs(20))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_cannot_load_backs_off_escalates_and_leaves_the_rest_running() {
    let env = env();
    let mut policy = lenient();
    policy.workers.max_restarts = 2;
    policy.pool.max_restarts = 0;
    let (sup, pool, view) = start(
        PoolKind::Ner,
        settings(1, 1, 16, 2),
        spec(&env, PoolKind::Ner, &[("WEFT_FAULT_FAIL_LOAD", "1")]),
        policy,
        Duration::from_secs(1),
    )
    .await;
    wait_for("the pool to give up", Duration::from_secs(60), || {
        view.node("t/ner")
            .is_some_and(|n| n.state == NodeState::Failed)
    })
    .await;
    let events = view.recent_events();
    let worker_failures: Vec<_> = events
        .iter()
        .filter(|e| e.node_path() == "t/ner/workers/w1" && e.kind.as_str() == "exited")
        .collect();
    assert_eq!(
        worker_failures.len(),
        3,
        "initial start + 2 restarts, then give up"
    );
    let reason = worker_failures[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("exited with code 2"), "{reason}");
    let delays: Vec<u64> = events
        .iter()
        .filter(|e| e.node_path() == "t/ner/workers/w1" && e.kind.as_str() == "restart_scheduled")
        .filter_map(|e| e.detail.as_ref().and_then(|d| d["delay_ms"].as_u64()))
        .collect();
    assert_eq!(delays.len(), 2);
    assert!(delays[1] > delays[0], "backoff grows: {delays:?}");
    assert!(events
        .iter()
        .any(|e| e.node_path() == "t/ner" && e.kind.as_str() == "escalated"));

    // The supervisor above is alive and the failure is visible and explained.
    assert!(sup.which_children().await.expect("still up").is_empty());
    let node = view.node("t/ner").expect("pool node kept");
    assert_eq!(node.state, NodeState::Failed);
    assert!(!view.degraded().is_empty());
    match pool.extract(vec!["x".into()]).await {
        Err(e @ PoolError::Down { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("ner pool is down") && msg.contains("weft status"),
                "{msg}"
            );
        }
        other => panic!("expected Down, got {:?}", other.map(|r| r.model_id)),
    }
    sup.shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_typed_errors_and_the_worker_keeps_serving() {
    let env = env();
    let (sup, pool, view) = start(
        PoolKind::Embed,
        settings(1, 1, 16, 2),
        spec(&env, PoolKind::Embed, &[]),
        lenient(),
        Duration::from_secs(5),
    )
    .await;
    wait_for("worker ready", Duration::from_secs(120), || {
        pool.stats().ready == 1
    })
    .await;
    let pid_before = worker_pids(&view);

    let empty = pool
        .embed(vec![], EmbedMode::Document)
        .await
        .expect_err("empty batch");
    assert_eq!(empty.code(), "ERROR_CODE_EMPTY_BATCH", "{empty}");
    let huge = pool
        .embed(vec!["x".repeat(10 * 1024 * 1024)], EmbedMode::Document)
        .await
        .expect_err("10 MB text");
    assert_eq!(huge.code(), "ERROR_CODE_TEXT_TOO_LARGE", "{huge}");
    let fine = pool
        .embed(vec!["still serving".into()], EmbedMode::Query)
        .await
        .expect("next request");
    assert_eq!((fine.count, fine.dim), (1, 384));
    let norm: f32 = fine.row(0).iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "normalised: {norm}");
    assert_eq!(
        worker_pids(&view),
        pid_before,
        "same worker process throughout"
    );
    sup.shutdown(Duration::from_secs(20))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_model_streams_through_the_pool_and_a_full_queue_is_overloaded() {
    let env = env();
    let (sup, pool, _view) = start(
        PoolKind::Llm,
        settings(1, 1, 1, 1),
        spec(&env, PoolKind::Llm, &[]),
        lenient(),
        Duration::from_millis(0),
    )
    .await;
    wait_for("worker ready", Duration::from_secs(120), || {
        pool.stats().ready == 1
    })
    .await;
    let request = |max_tokens: u32| CompleteRequest {
        model: String::new(),
        messages: vec![ChatMessage {
            role: "user".into(),
            content: "Count from one to twenty, in words.".into(),
        }],
        max_tokens,
        temperature: 0.0,
        job_id: String::new(),
        stop: vec![],
        api_base: String::new(),
    };
    let mut first = pool.complete(request(48)).await.expect("first");
    // The queue holds one request and the caller may not wait: a second one is refused.
    let second = pool.complete(request(8)).await;
    assert!(
        matches!(second, Err(PoolError::Overloaded { .. })),
        "{:?}",
        second.err()
    );

    let mut chunks = 0;
    let mut text = String::new();
    let mut done = false;
    while let Some(c) = first.next().await {
        let c = c.expect("chunk");
        chunks += 1;
        text.push_str(&c.text);
        if c.done {
            done = true;
            assert!(c.completion_tokens > 0);
        }
    }
    assert!(
        done && chunks > 3 && !text.trim().is_empty(),
        "{chunks} chunks: {text:?}"
    );

    // Cancelling: drop a stream after two chunks; the worker is free again at once. (The
    // first job's queue slot is released just after its last chunk reaches us, so wait
    // for it rather than racing it.)
    let t = Instant::now();
    let mut long = loop {
        match pool.complete(request(400)).await {
            Ok(c) => break c,
            Err(PoolError::Overloaded { .. }) if t.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("long: {e}"),
        }
    };
    for _ in 0..2 {
        long.next().await.expect("chunk").expect("ok");
    }
    drop(long);
    let t = Instant::now();
    let mut short = loop {
        match pool.complete(request(4)).await {
            Ok(c) => break c,
            Err(PoolError::Overloaded { .. }) if t.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    while let Some(c) = short.next().await {
        c.expect("chunk");
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "a cancelled generation must not hold the worker ({:?})",
        t.elapsed()
    );
    sup.shutdown(Duration::from_secs(20))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_on_a_worker_that_hangs_mid_request_complete_elsewhere_exactly_once() {
    let env = env();
    // Every worker incarnation hangs on its 4th request: health checks must notice, the
    // group is killed, and the stuck request runs again on a live worker.
    let (sup, pool, view) = start(
        PoolKind::Ner,
        settings(2, 2, 64, 1),
        spec(&env, PoolKind::Ner, &[("WEFT_FAULT_HANG_AFTER", "3")]),
        lenient(),
        Duration::from_secs(30),
    )
    .await;
    wait_for("2 workers ready", Duration::from_secs(60), || {
        pool.stats().ready == 2
    })
    .await;
    let mut answers = Vec::new();
    for i in 0..16 {
        let text = format!("request {i}: see src/file_{i}.rs");
        let reply = pool
            .extract(vec![text.clone()])
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        let paths: Vec<String> = reply.results[0]
            .entities
            .iter()
            .filter(|e| e.label == "FILE_PATH")
            .map(|e| e.text.clone())
            .collect();
        assert_eq!(
            paths,
            vec![format!("src/file_{i}.rs")],
            "request {i} got its own answer"
        );
        answers.push(paths);
    }
    assert_eq!(answers.len(), 16);
    let stats = pool.stats();
    assert!(
        stats.retried >= 1,
        "some request was stuck on a hung worker: {stats:?}"
    );
    let restarts: u64 = view
        .nodes()
        .iter()
        .filter(|n| n.path.contains("/workers/w"))
        .map(|n| n.restarts)
        .sum();
    assert!(
        restarts >= 2,
        "hung workers were replaced ({restarts} restarts)"
    );
    sup.shutdown(Duration::from_secs(20))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_scales_the_pool_up_to_its_maximum_and_idleness_back_down() {
    let env = env();
    let (sup, pool, _view) = start(
        PoolKind::Llm,
        settings(1, 2, 64, 1),
        spec(&env, PoolKind::Llm, &[]),
        lenient(),
        Duration::from_secs(30),
    )
    .await;
    wait_for("1 worker ready", Duration::from_secs(60), || {
        pool.stats().ready == 1
    })
    .await;
    let request = CompleteRequest {
        model: String::new(),
        messages: vec![ChatMessage {
            role: "user".into(),
            content: "Write a long story about a lighthouse keeper.".into(),
        }],
        max_tokens: 96,
        temperature: 0.0,
        job_id: String::new(),
        stop: vec![],
        api_base: String::new(),
    };
    let mut streams = Vec::new();
    for _ in 0..8 {
        streams.push(pool.complete(request.clone()).await.expect("accepted"));
    }
    wait_for("a second worker", Duration::from_secs(60), || {
        pool.stats().ready == 2
    })
    .await;
    for mut s in streams {
        while let Some(c) = s.next().await {
            c.expect("chunk");
        }
    }
    assert_eq!(pool.stats().ready, 2, "never above max_workers");
    // Idle past `idle_retire` (3 s here): back down to min_workers, never below.
    wait_for("an idle worker retired", Duration::from_secs(30), || {
        pool.stats().ready == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(pool.stats().ready, 1, "never below min_workers");
    sup.shutdown(Duration::from_secs(20))
        .await
        .expect("shutdown");
}

/// Starts a worker the way a remote box would: TCP, TLS, a bearer token. Returns the
/// process (killed on drop) and its port.
fn remote_ner_worker(env: &Env, dir: &std::path::Path) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // rustls refuses a certificate that is a CA as the server's own certificate; a
        // self-signed leaf (CA:FALSE) can still be the trust anchor.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(
        status.success(),
        "openssl could not make a test certificate"
    );
    let mut child = std::process::Command::new(&env.python)
        .args(["-m", "weft_workers", "ner", "--listen", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(dir.join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.join("key.pem"))
        .arg("--token-file")
        .arg(dir.join("worker-token"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn remote worker");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("READY line");
    let ready: serde_json::Value =
        serde_json::from_str(line.trim().strip_prefix("READY ").expect("READY")).expect("json");
    let addr = ready["addr"].as_str().expect("addr").to_string();
    let port = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    (child, port)
}

fn write_secret(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_worker_over_tls_with_a_token_joins_the_pool_and_a_wrong_token_is_refused() {
    let env = env();
    let dir = tempfile::tempdir().expect("tempdir");
    write_secret(&dir.path().join("worker-token"), "s3cret-token\n");
    write_secret(&dir.path().join("good-token"), "s3cret-token\n");
    write_secret(&dir.path().join("bad-token"), "not-the-token\n");
    let (mut worker, port) = remote_ner_worker(&env, dir.path());
    let remote = |token: &str| RemoteSpec {
        url: format!("https://localhost:{port}"),
        ca_file: Some(dir.path().join("cert.pem")),
        token_file: Some(dir.path().join(token)),
        start_timeout: Duration::from_secs(10),
        health_interval: Duration::from_millis(500),
        health_timeout: Duration::from_millis(1000),
    };

    // No local workers at all: the pool is the remote box.
    let (sup, pool, view) = start_with(
        PoolKind::Ner,
        settings(0, 0, 16, 2),
        spec(&env, PoolKind::Ner, &[]),
        vec![remote("good-token")],
        lenient(),
        Duration::from_secs(5),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while pool.stats().ready != 1 {
        assert!(
            Instant::now() < deadline,
            "the remote worker never joined: {:?}",
            view.node("t/ner/workers/r1")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = pool
        .extract(vec!["see docs/remote.md".into()])
        .await
        .expect("served remotely");
    assert_eq!(reply.results[0].entities[0].text, "docs/remote.md");
    let node = view.node("t/ner/workers/r1").expect("remote node");
    assert_eq!(node.info["remote"], format!("https://localhost:{port}"));
    assert!(node.info.contains_key("model"), "{node:?}");
    sup.shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");

    let (sup, pool, view) = start_with(
        PoolKind::Ner,
        settings(0, 0, 16, 2),
        spec(&env, PoolKind::Ner, &[]),
        vec![remote("bad-token")],
        lenient(),
        Duration::from_secs(5),
    )
    .await;
    wait_for("the refusal", Duration::from_secs(30), || {
        view.node("t/ner/workers/r1")
            .and_then(|n| n.last_error)
            .is_some_and(|e| e.contains("refused the token"))
    })
    .await;
    assert_eq!(pool.stats().ready, 0);
    sup.shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    let _ = worker.kill();
    let _ = worker.wait();
}
