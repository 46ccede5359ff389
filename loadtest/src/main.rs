//! `weft-loadtest`: benchmarks of the worker pools, each run side by side with its baseline
//! in the same invocation so the ratios hold on a noisy machine. Prints JSON; the figures
//! go to `docs/benchmarks.md` with the command that produced them.
//!
//! * `embed`    — chunks/s through the pool (1 and 2 workers) vs the same texts embedded in
//!   one Python process: torch fp32 and the backend setup chose.
//! * `recovery` — SIGKILL the worker, time until a request succeeds again (p50/p95).
//! * `grpc`     — per-call overhead: `Worker.Info` round trips on the Unix socket, and a
//!   one-text embed through the pool vs in-process.
//! * `index`    — the real `weft serve` on a corpus: keyword indexing, no-op re-index,
//!   embedding throughput, edit→searchable and search latency, vs the DIY baseline.

mod index_bench;
mod pty_bench;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::json;
use weft_actors::config::{self, Loaded, PoolKind, PoolSettings};
use weft_actors::pool::process::WorkerSpec;
use weft_actors::pool::{standalone_pool, EmbedMode, PoolHandle, PoolPolicy};
use weft_actors::supervision::{
    start_supervisor, Backoff, EventKind, NodeState, Strategy, SupervisorFlags, SupervisorHandle,
    TreeView,
};

#[derive(Parser)]
#[command(
    name = "weft-loadtest",
    about = "Weft benchmarks (figures for docs/benchmarks.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Embedding throughput: pool (1 and 2 workers) vs in-process baselines.
    Embed {
        /// Number of code chunks.
        #[arg(long, default_value_t = 512)]
        n: usize,
        /// Batch size for every run.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Timed passes per configuration (median reported).
        #[arg(long, default_value_t = 3)]
        passes: usize,
        /// Skip the slow torch fp32 baseline.
        #[arg(long)]
        no_torch: bool,
    },
    /// Recovery: SIGKILL the worker, time until the pool serves again.
    Recovery {
        /// How many kills.
        #[arg(long, default_value_t = 20)]
        kills: usize,
    },
    /// Per-call gRPC overhead on the Unix socket.
    Grpc {
        /// Calls per measurement.
        #[arg(long, default_value_t = 2000)]
        calls: usize,
    },
    /// Indexing: the release `weft serve` on a corpus, vs the DIY baseline.
    Index(index_bench::Opts),
    /// Terminals: PTY to UI-channel throughput, memory while streaming, keystroke echo.
    Pty(pty_bench::Opts),
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let loaded = config::load()?;
    let result = match cli.command {
        Cmd::Embed {
            n,
            batch,
            passes,
            no_torch,
        } => embed(&loaded, n, batch, passes, no_torch).await?,
        Cmd::Recovery { kills } => recovery(&loaded, kills).await?,
        Cmd::Grpc { calls } => grpc(&loaded, calls).await?,
        Cmd::Index(opts) => index_bench::run(&loaded, opts).await?,
        Cmd::Pty(opts) => pty_bench::run(&loaded, opts).await?,
    };
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    json!({ "cores": cores(), "cpu": cpu })
}

/// Code chunks (~1,000 characters, cut at line ends) from the Python sources of the workers'
/// venv, in a fixed order, so every run embeds the same texts.
fn corpus(loaded: &Loaded, n: usize) -> anyhow::Result<Vec<String>> {
    let root = loaded.paths.venv.join("lib");
    let mut files = Vec::new();
    collect_py(&root, &mut files)?;
    files.sort();
    let mut chunks = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let mut cur = String::new();
        for line in text.lines() {
            cur.push_str(line);
            cur.push('\n');
            if cur.len() >= 1000 {
                chunks.push(std::mem::take(&mut cur));
                if chunks.len() == n {
                    return Ok(chunks);
                }
            }
        }
    }
    if chunks.len() < n {
        bail!(
            "only {} chunks found under {}",
            chunks.len(),
            root.display()
        );
    }
    Ok(chunks)
}

fn collect_py(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            collect_py(&p, out)?;
        } else if ft.is_file() && p.extension().is_some_and(|x| x == "py") {
            out.push(p);
        }
        if out.len() > 20_000 {
            break;
        }
    }
    Ok(())
}

fn spec(loaded: &Loaded, sockets: &Path, threads: usize, inflight: u32) -> WorkerSpec {
    WorkerSpec {
        python: loaded.paths.python(&loaded.config),
        args: vec![
            "--backend".into(),
            "auto".into(),
            "--models-dir".into(),
            loaded
                .paths
                .models_dir(&loaded.config)
                .to_string_lossy()
                .into_owned(),
            "--threads".into(),
            threads.to_string(),
            "--max-inflight".into(),
            inflight.to_string(),
        ],
        env: vec![],
        socket_dir: sockets.to_path_buf(),
        start_timeout: Duration::from_secs(180),
        health_interval: Duration::from_millis(1000),
        health_timeout: Duration::from_millis(2000),
        stop_grace: Duration::from_secs(3),
        nice: 0,
    }
}

fn policy() -> PoolPolicy {
    let mut p = PoolPolicy::default();
    p.workers.max_restarts = 1000;
    p.workers.backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_secs(2),
        jitter: 0.2,
        reset_after: Duration::from_secs(30),
    };
    p
}

struct Running {
    sup: SupervisorHandle,
    pool: PoolHandle,
    view: TreeView,
    sockets: PathBuf,
}

async fn start_pool(
    loaded: &Loaded,
    workers: u32,
    threads: usize,
    inflight: u32,
) -> anyhow::Result<Running> {
    start_pool_with(loaded, workers, threads, inflight, policy()).await
}

async fn start_pool_with(
    loaded: &Loaded,
    workers: u32,
    threads: usize,
    inflight: u32,
    policy: PoolPolicy,
) -> anyhow::Result<Running> {
    let sockets = loaded
        .paths
        .runtime_dir()
        .join(format!("lt-{}", std::process::id()));
    std::fs::create_dir_all(&sockets)?;
    let settings = PoolSettings {
        enabled: true,
        min_workers: workers,
        max_workers: workers,
        queue: 100_000,
        inflight,
    };
    let view = TreeView::new();
    let (child, pool) = standalone_pool(
        PoolKind::Embed,
        settings,
        spec(loaded, &sockets, threads, inflight),
        vec![],
        policy,
        Duration::from_secs(120),
        Duration::from_secs(120),
    );
    let (sup, _) = start_supervisor(
        "bench",
        SupervisorFlags::with_strategy(Strategy::OneForOne),
        vec![child],
        Arc::new(view.clone()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let t = Instant::now();
    while pool.stats().ready < u64::from(workers) {
        if t.elapsed() > Duration::from_secs(180) {
            bail!("workers not ready: {:?}", pool.stats().last_error);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Running {
        sup,
        pool,
        view,
        sockets,
    })
}

async fn embed_pass(
    pool: &PoolHandle,
    texts: &[String],
    batch: usize,
    concurrency: usize,
) -> anyhow::Result<f64> {
    use futures::StreamExt;
    let t = Instant::now();
    let batches: Vec<Vec<String>> = texts.chunks(batch).map(|c| c.to_vec()).collect();
    let results: Vec<_> = futures::stream::iter(batches)
        .map(|b| {
            let p = pool.clone();
            async move { p.embed(b, EmbedMode::Document).await }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(texts.len() as f64 / t.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn python_baseline(
    loaded: &Loaded,
    texts_file: &Path,
    mode: &str,
    batch: usize,
    passes: usize,
    single: usize,
) -> anyhow::Result<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("inprocess_embed.py");
    let out = std::process::Command::new(loaded.paths.python(&loaded.config))
        .arg(&script)
        .args(["--texts", &texts_file.to_string_lossy()])
        .args(["--mode", mode])
        .args(["--batch", &batch.to_string()])
        .args(["--passes", &passes.to_string()])
        .args(["--threads", &cores().to_string()])
        .args(["--single", &single.to_string()])
        .args([
            "--models-dir",
            &loaded.paths.models_dir(&loaded.config).to_string_lossy(),
        ])
        .output()
        .context("running the in-process baseline")?;
    if !out.status.success() {
        bail!("baseline failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let last = line.lines().last().unwrap_or("{}");
    Ok(serde_json::from_str(last)?)
}

async fn embed(
    loaded: &Loaded,
    n: usize,
    batch: usize,
    passes: usize,
    no_torch: bool,
) -> anyhow::Result<serde_json::Value> {
    let texts = corpus(loaded, n)?;
    let dir = std::env::temp_dir().join(format!("weft-lt-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let texts_file = dir.join("texts.json");
    std::fs::write(&texts_file, serde_json::to_vec(&texts)?)?;

    let default_inproc = python_baseline(loaded, &texts_file, "default", batch, passes, 0)?;
    eprintln!("in-process default backend: {default_inproc}");
    let torch = if no_torch {
        serde_json::Value::Null
    } else {
        let t = python_baseline(loaded, &texts_file, "torch", batch, 1, 0)?;
        eprintln!("in-process torch fp32: {t}");
        t
    };

    let mut pool_runs = Vec::new();
    for (workers, threads) in [(1u32, cores()), (2u32, (cores() / 2).max(1))] {
        let r = start_pool(loaded, workers, threads, 1).await?;
        embed_pass(
            &r.pool,
            &texts[..batch.min(texts.len())],
            batch,
            workers as usize,
        )
        .await?;
        let mut rates = Vec::new();
        for _ in 0..passes {
            rates.push(embed_pass(&r.pool, &texts, batch, workers as usize).await?);
        }
        let model = r
            .view
            .nodes()
            .into_iter()
            .find_map(|n| {
                n.info
                    .get("model")
                    .and_then(|m| m.as_str())
                    .map(String::from)
            })
            .unwrap_or_default();
        let rate = median(rates.clone());
        eprintln!("pool {workers} worker(s) x {threads} thread(s): {rate:.1} chunks/s");
        pool_runs.push(json!({
            "workers": workers, "threads_per_worker": threads, "model": model,
            "chunks_per_s": (rate * 100.0).round() / 100.0, "passes": rates,
        }));
        r.sup.shutdown(Duration::from_secs(20)).await.ok();
    }
    let base = default_inproc["chunks_per_s"].as_f64().unwrap_or(f64::NAN);
    let torch_rate = torch["chunks_per_s"].as_f64();
    let one = pool_runs[0]["chunks_per_s"].as_f64().unwrap_or(f64::NAN);
    let best = pool_runs
        .iter()
        .filter_map(|r| r["chunks_per_s"].as_f64())
        .fold(0.0, f64::max);
    let models_file = loaded
        .paths
        .models_dir(&loaded.config)
        .join("backends.json");
    let backends: serde_json::Value = std::fs::read(&models_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok(json!({
        "bench": "embed", "machine": machine(), "texts": texts.len(), "batch": batch,
        "in_process_default": default_inproc,
        "in_process_torch_fp32": torch,
        "pool": pool_runs,
        "pool_1_worker_vs_in_process_same_backend": (one / base * 1000.0).round() / 1000.0,
        "pool_overhead_pct": ((1.0 - one / base) * 1000.0).round() / 10.0,
        "best_pool_vs_torch_fp32": torch_rate.map(|t| (best / t * 100.0).round() / 100.0),
        "setup_backends": backends,
    }))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    (sorted[i] * 1000.0).round() / 1000.0
}

async fn recovery(loaded: &Loaded, kills: usize) -> anyhow::Result<serde_json::Value> {
    // The daemon's own worker backoff (0.5 s first restart), with a reset window short
    // enough that each kill is measured as an isolated crash.
    let mut p = PoolPolicy::default();
    p.workers.max_restarts = 1000;
    p.workers.backoff.reset_after = Duration::from_secs(3);
    let r = start_pool_with(loaded, 1, cores(), 1, p).await?;
    r.pool
        .embed(vec!["warm up".into()], EmbedMode::Document)
        .await?;
    let mut totals = Vec::new();
    let mut backoffs = Vec::new();
    for i in 0..kills {
        let pid = r
            .view
            .nodes()
            .into_iter()
            .find(|n| n.path.contains("/workers/w") && n.state == NodeState::Running)
            .and_then(|n| n.info.get("pid").and_then(|p| p.as_i64()))
            .context("no running worker")?;
        let events_before = r.view.recent_events().len();
        let t = Instant::now();
        // SAFETY: killing the worker this benchmark started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        // Wait until the pool has noticed, so the request below cannot hit the dead worker's
        // still-registered slot and be retried (that would measure the same thing, later).
        while r.pool.stats().ready > 0 && t.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        r.pool
            .embed(vec![format!("probe {i}")], EmbedMode::Document)
            .await?;
        let total = t.elapsed().as_secs_f64();
        let delay = r.view.recent_events()[events_before..]
            .iter()
            .find(|e| e.kind == EventKind::RestartScheduled)
            .and_then(|e| e.detail.as_ref().and_then(|d| d["delay_ms"].as_f64()))
            .unwrap_or(0.0)
            / 1000.0;
        eprintln!("kill {i}: serving again after {total:.3} s (backoff {delay:.3} s)");
        totals.push(total);
        backoffs.push(delay);
        // Past the backoff's reset window the next kill starts from the minimum again,
        // as a single crash in real use would.
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    r.sup.shutdown(Duration::from_secs(20)).await.ok();

    // Where the time goes: the interpreter, the imports, and the rest (model load, bind,
    // handshake, health check), measured on their own.
    let python = loaded.paths.python(&loaded.config);
    let time_cmd = |code: &str| -> anyhow::Result<f64> {
        let t = Instant::now();
        let s = std::process::Command::new(&python)
            .args(["-c", code])
            .status()?;
        if !s.success() {
            bail!("{code} failed");
        }
        Ok(t.elapsed().as_secs_f64())
    };
    let interp = time_cmd("pass")?;
    // What the embed worker imports before it loads its model, and for comparison the
    // sentence-transformers stack the torch path needs.
    let imports = time_cmd("import weft_workers.server, weft_workers.embed")?;
    let torch_stack = time_cmd("import sentence_transformers, torch")?;
    let mut sorted = totals.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mut b = backoffs.clone();
    b.sort_by(|a, c| a.total_cmp(c));
    Ok(json!({
        "bench": "recovery", "machine": machine(), "kills": kills,
        "kill_to_serving_s": { "p50": pct(&sorted, 0.5), "p95": pct(&sorted, 0.95), "max": pct(&sorted, 1.0) },
        "backoff_s": { "p50": pct(&b, 0.5), "max": pct(&b, 1.0) },
        "breakdown_s": {
            "interpreter_start": (interp * 1000.0).round() / 1000.0,
            "worker_imports_incl_interpreter": (imports * 1000.0).round() / 1000.0,
            "torch_stack_imports_incl_interpreter": (torch_stack * 1000.0).round() / 1000.0,
        },
        "all_s": totals,
    }))
}

async fn grpc(loaded: &Loaded, calls: usize) -> anyhow::Result<serde_json::Value> {
    use weft_proto::worker::worker_client::WorkerClient;
    use weft_proto::worker::InfoRequest;
    let r = start_pool(loaded, 1, cores(), 1).await?;
    let sock = std::fs::read_dir(&r.sockets)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "sock"))
        .context("no worker socket")?;
    let channel = tonic::transport::Endpoint::from_shared(format!("unix:{}", sock.display()))?
        .connect()
        .await?;
    let mut client = WorkerClient::new(channel);
    for _ in 0..50 {
        client.info(InfoRequest {}).await?;
    }
    let mut info_ms = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        client.info(InfoRequest {}).await?;
        info_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    info_ms.sort_by(|a, b| a.total_cmp(b));

    let texts = corpus(loaded, 64)?;
    let mut pool_ms = Vec::new();
    for i in 0..calls.min(500) {
        let text = texts[i % texts.len()].chars().take(200).collect::<String>();
        let t = Instant::now();
        r.pool.embed(vec![text], EmbedMode::Document).await?;
        pool_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    pool_ms.sort_by(|a, b| a.total_cmp(b));
    r.sup.shutdown(Duration::from_secs(20)).await.ok();

    let dir = std::env::temp_dir().join(format!("weft-lt-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let texts_file = dir.join("texts.json");
    std::fs::write(&texts_file, serde_json::to_vec(&texts)?)?;
    let inproc = python_baseline(loaded, &texts_file, "default", 32, 1, calls.min(500))?;
    let inproc_p50 = inproc["single_p50_ms"].as_f64().unwrap_or(f64::NAN);
    Ok(json!({
        "bench": "grpc", "machine": machine(), "calls": calls,
        "info_rpc_ms": { "p50": pct(&info_ms, 0.5), "p99": pct(&info_ms, 0.99) },
        "embed_1_text_via_pool_ms": { "p50": pct(&pool_ms, 0.5), "p99": pct(&pool_ms, 0.99) },
        "embed_1_text_in_process_ms": { "p50": inproc["single_p50_ms"], "p99": inproc["single_p99_ms"] },
        "pool_overhead_p50_ms": ((pct(&pool_ms, 0.5) - inproc_p50) * 1000.0).round() / 1000.0,
    }))
}
