//! `weft-loadtest pty`: terminal output from the PTY to a UI channel, end to end.
//!
//! A release `weft serve` (workers off, private `WEFT_HOME` and `HOME`) opens a bash
//! terminal; this process attaches to it over the terminal WebSocket (on the daemon's Unix
//! socket: the same route, handler and frames the browser gets) and measures:
//! * throughput: a command prints N MB (`yes`: 2-byte lines, `seq`: short varied lines,
//!   base64 in 100-byte lines: log-like); MB/s is the bytes received by the viewer from the
//!   first output to the command's end mark. The same command through `script` (a plain
//!   native PTY copy loop) in the same run gives the kernel's own ceiling on this machine;
//!   the ratio is what Weft's path costs on top of it;
//! * memory: the daemon's RSS sampled every 20 ms while streaming (peak and growth);
//! * keystroke echo: one character sent on the WebSocket until its echo arrives back on
//!   it (readline echoes it), p50/p95 over many keystrokes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use weft_actors::config::Loaded;

use crate::index_bench::{mem_mb, r2, Serve};

/// Options of `weft-loadtest pty`.
#[derive(clap::Args)]
pub struct Opts {
    /// The `weft` binary (default `$CARGO_TARGET_DIR/release/weft`).
    #[arg(long)]
    pub weft: Option<PathBuf>,
    /// Megabytes each throughput command prints.
    #[arg(long, default_value_t = 200)]
    pub mb: u64,
    /// Keystrokes timed for the echo latency.
    #[arg(long, default_value_t = 300)]
    pub keys: usize,
    /// Also write the JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::UnixStream>;

async fn attach(socket: &Path, id: u64) -> anyhow::Result<Ws> {
    let stream = tokio::net::UnixStream::connect(socket).await?;
    let url = format!("ws://localhost/v1/terms/{id}/io");
    let (ws, _) = tokio_tungstenite::client_async(url.as_str(), stream)
        .await
        .context("attaching to the terminal")?;
    Ok(ws)
}

async fn send_text(ws: &mut Ws, data: &str) -> anyhow::Result<()> {
    let msg = json!({ "type": "input", "data": data }).to_string();
    ws.send(Message::Text(msg.into())).await?;
    Ok(())
}

/// Reads until a `command` control arrives; returns (bytes received, seconds, entry).
async fn until_command(ws: &mut Ws, limit: Duration) -> anyhow::Result<(u64, f64, Value)> {
    let t = Instant::now();
    let mut bytes = 0u64;
    let mut first: Option<Instant> = None;
    loop {
        let msg = tokio::time::timeout(limit, ws.next())
            .await
            .context("no output for too long")?;
        match msg {
            Some(Ok(Message::Binary(b))) => {
                first.get_or_insert_with(Instant::now);
                bytes += b.len() as u64;
            }
            Some(Ok(Message::Text(t2))) => {
                let v: Value = serde_json::from_str(&t2)?;
                if v["type"] == "command" {
                    let secs = first.unwrap_or(t).elapsed().as_secs_f64();
                    return Ok((bytes, secs, v["entry"].clone()));
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => bail!("terminal socket: {e}"),
            None => bail!("terminal socket closed"),
        }
        if t.elapsed() > Duration::from_secs(600) {
            bail!("the command did not finish in 10 minutes");
        }
    }
}

/// The same command through a plain native PTY copy loop (`script`, output to a pipe this
/// process drains): the floor any terminal pays on this kernel. (bytes, seconds).
async fn native_pty(cmd: &str) -> anyhow::Result<(u64, f64)> {
    use tokio::io::AsyncReadExt;
    let t = Instant::now();
    let mut child = tokio::process::Command::new("script")
        .args(["-qc", cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("running `script` (util-linux) for the native PTY baseline")?;
    let mut out = child.stdout.take().context("script's stdout")?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = out.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
    }
    child.wait().await?;
    Ok((bytes, t.elapsed().as_secs_f64()))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the benchmark.
pub async fn run(loaded: &Loaded, opts: Opts) -> anyhow::Result<Value> {
    let weft = match &opts.weft {
        Some(p) => p.clone(),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
            .join("release")
            .join("weft"),
    };
    if !weft.is_file() {
        bail!(
            "{} not found: build it (cargo build --release -p weft) or pass --weft",
            weft.display()
        );
    }
    let dir = std::env::temp_dir().join(format!("weft-pty-bench-{}", std::process::id()));
    let (home, xdg, user) = (dir.join("home"), dir.join("xdg"), dir.join("user"));
    for d in [&home, &xdg, &user] {
        std::fs::create_dir_all(d)?;
    }
    // The shell's own HOME: no dotfiles of the machine's user in the figures.
    std::env::set_var("HOME", &user);
    let result = bench(loaded, &weft, &home, &xdg, &user, &opts).await;
    let _ = std::fs::remove_dir_all(&dir);
    let result = result?;
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&result)?)?;
    }
    Ok(result)
}

async fn bench(
    loaded: &Loaded,
    weft: &Path,
    home: &Path,
    xdg: &Path,
    user: &Path,
    opts: &Opts,
) -> anyhow::Result<Value> {
    let mut serve = Serve::spawn(weft, home, xdg, loaded, user, false)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let info = loop {
        serve.check_alive()?;
        match serve
            .post(
                "/v1/terms",
                json!({ "shell": "bash", "cols": 120, "rows": 40 }),
            )
            .await
        {
            Ok(v) if v["id"].is_u64() => break v,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok(v) => bail!("opening a terminal answered {v}"),
            Err(e) => return Err(e),
        }
    };
    let id = info["id"].as_u64().unwrap_or(0);
    let mut ws = attach(&serve.socket, id).await?;
    send_text(&mut ws, "true\r").await?;
    until_command(&mut ws, Duration::from_secs(20)).await?;
    let pid = serve.pid();
    let (_, rss_before) = mem_mb(pid);

    // Throughput, with RSS sampled alongside.
    let mut runs = Vec::new();
    for (name, cmd) in [
        ("yes", format!("yes | head -c {}M", opts.mb)),
        ("seq", format!("seq 1 100000000 | head -c {}M", opts.mb)),
        (
            "lines100",
            format!(
                "head -c {}M /dev/zero | base64 -w 100 | head -c {}M",
                opts.mb, opts.mb
            ),
        ),
    ] {
        let native = native_pty(&cmd).await?;
        let sampler = {
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stop2 = std::sync::Arc::clone(&stop);
            let h = tokio::spawn(async move {
                let mut peak: f64 = 0.0;
                while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                    if let (_, Some(rss)) = mem_mb(pid) {
                        peak = peak.max(rss);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                peak
            });
            (stop, h)
        };
        send_text(&mut ws, &format!("{cmd}\r")).await?;
        let (bytes, secs, entry) = until_command(&mut ws, Duration::from_secs(60)).await?;
        sampler.0.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.1.await.unwrap_or(0.0);
        let mb = bytes as f64 / 1e6;
        let native_mbs = native.0 as f64 / 1e6 / native.1.max(1e-9);
        eprintln!(
            "pty bench: {name}: {mb:.0} MB in {secs:.2} s = {:.1} MB/s (native PTY copy: {native_mbs:.1} MB/s), daemon RSS peak {peak:.1} MB",
            mb / secs.max(1e-9)
        );
        runs.push(json!({
            "workload": name,
            "command": cmd,
            "native_pty_bytes": native.0,
            "native_pty_seconds": r2(native.1),
            "native_pty_mb_per_s": r2(native_mbs),
            "weft_vs_native": r2(mb / secs.max(1e-9) / native_mbs.max(1e-9)),
            "bytes_received": bytes,
            "seconds": r2(secs),
            "mb_per_s": r2(mb / secs.max(1e-9)),
            "daemon_rss_peak_mb": r2(peak),
            "recorded_output_bytes": entry["output_bytes"],
            "recorded_truncated": entry["truncated"],
        }));
    }
    let (hwm, rss_after) = mem_mb(pid);

    // Keystroke to echo: one printable key, then a backspace, each timed to the frame that
    // carries its echo (readline echoes "x", and "\b \b" or "\b\x1b[K" for the backspace).
    // First let the prompt and anything still queued arrive.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), ws.next()).await {}
    let mut lat = Vec::with_capacity(opts.keys);
    for i in 0..opts.keys {
        let (key, echo): (&str, u8) = if i % 2 == 0 {
            ("x", b'x')
        } else {
            ("\u{7f}", 0x08)
        };
        let t = Instant::now();
        ws.send(Message::Binary(key.as_bytes().to_vec().into()))
            .await?;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .context("no echo within 5 s")?;
            match msg {
                Some(Ok(Message::Binary(b))) if b.contains(&echo) => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("terminal socket: {e}"),
                None => bail!("terminal socket closed"),
            }
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let echo = json!({
        "keys": lat.len(),
        "p50_ms": r2(percentile(&lat, 0.5)),
        "p95_ms": r2(percentile(&lat, 0.95)),
        "max_ms": r2(lat.last().copied().unwrap_or(0.0)),
    });
    eprintln!("pty bench: keystroke echo {echo}");
    drop(ws);
    serve.stop().await?;
    Ok(json!({
        "bench": "pty",
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "throughput": runs,
        "daemon_rss_mb": { "before": rss_before, "after": rss_after, "vm_hwm": hwm },
        "keystroke_echo": echo,
    }))
}
