//! `weft-loadtest index`: indexing benchmark of the real `weft serve` binary on a corpus, side
//! by side with the DIY baseline (`loadtest/baseline.sh`) in the same invocation.
//!
//! Every `weft serve` runs as a subprocess with a private, fresh `WEFT_HOME` (and
//! `XDG_CONFIG_HOME`) under a temp folder; it and its workers are killed when the guard
//! drops (error, Ctrl-C, SIGTERM). Files edited for the edit→searchable probe are restored
//! (content and times) by a guard as well, so the corpus is unchanged at the end.
//!
//! Phases: 1. keyword index with workers off (time until keyword search covers the corpus:
//! phase `refining` or `idle`, and MB/s from it; time until every file is chunked by syntax:
//! phase `idle`; core VmHWM at idle, DB size);
//! 2. no-op re-index (restart, the first scan finds nothing changed); raw model in one
//! process on the newest chunks' texts (what the embedder does first); 3. workers on:
//! embedding throughput through the daemon; 4. edit→searchable latency (keyword and
//! vector); 5. search latency (keyword, vector, hybrid; client-side over the socket).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use weft_actors::config::Loaded;

/// The baseline's query list (`shared/baseline/diy_index.py`, `QUERIES`).
const QUERIES: [&str; 20] = [
    "parse configuration file",
    "retry with exponential backoff",
    "read file into string",
    "spawn thread and join",
    "serialize struct to json",
    "parse command line arguments",
    "hash map insert",
    "utf8 decode error",
    "async tcp connection",
    "mutex lock poisoned",
    "convert string to integer",
    "iterator over bytes",
    "write buffer to stdout",
    "compile regular expression",
    "random number generator seed",
    "base64 encode",
    "timeout elapsed duration",
    "unsafe raw pointer cast",
    "allocate vector with capacity",
    "environment variable lookup",
];

/// Distinctive sentences appended by the edit probe (far from any code in the corpus).
const SENTENCES: [&str; 20] = [
    "The lighthouse keeper counted migrating whales from the cliff every autumn morning.",
    "Our grandmother baked cinnamon bread for the village harvest festival each October.",
    "A violin maker in Cremona carved spruce tops by candlelight during the long winter.",
    "The mountain goats climbed the steep glacier to graze on alpine flowers in July.",
    "Sailors on the old clipper ship sang sea shanties while hoisting the heavy canvas.",
    "The beekeeper harvested lavender honey from forty hives on the sunny hillside.",
    "An astronomer photographed the comet tail glowing above the desert observatory.",
    "The chess grandmaster sacrificed her queen and won the championship in Reykjavik.",
    "Fishermen mended their nets on the harbour wall while seagulls circled overhead.",
    "The botanist catalogued rare orchids deep in the misty cloud forest of Ecuador.",
    "Children built a snowman with a carrot nose and coal buttons after the blizzard.",
    "The jazz trumpeter improvised a mournful solo in a smoky basement club in Harlem.",
    "A potter shaped blue porcelain vases on a spinning wheel beside the riverbank.",
    "The marathon runners crossed the finish line exhausted under a summer thunderstorm.",
    "Volcanologists measured sulfur gases rising from the crater of the erupting volcano.",
    "The librarian restored medieval manuscripts with gold leaf and careful brushwork.",
    "Penguins huddled together against the freezing Antarctic wind during the polar night.",
    "A blacksmith hammered glowing horseshoes on his anvil while the forge roared.",
    "The opera soprano sang the final aria as roses rained down onto the stage.",
    "Farmers gathered ripe pumpkins from the muddy fields before the first frost.",
];

/// Options of `weft-loadtest index`.
#[derive(clap::Args)]
pub struct Opts {
    /// The folder to index (`loadtest/corpus.sh` prints it).
    #[arg(long)]
    pub corpus: PathBuf,
    /// The `weft` binary (default `$CARGO_TARGET_DIR/release/weft`).
    #[arg(long)]
    pub weft: Option<PathBuf>,
    /// Also run `loadtest/baseline.sh` (full and `--rewalk-only`) in this run.
    #[arg(long)]
    pub baseline: bool,
    /// Files edited for the edit→searchable probe.
    #[arg(long, default_value_t = 20)]
    pub edits: usize,
    /// Queries per search mode (at most 20).
    #[arg(long, default_value_t = 20)]
    pub queries: usize,
    /// Chunks embedded by the daemon for the throughput figure.
    #[arg(long, default_value_t = 5000)]
    pub sample: u64,
    /// Chunks embedded by the raw model in one process.
    #[arg(long, default_value_t = 1536)]
    pub raw: usize,
    /// Also write the JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Keep the temp folder (WEFT_HOME, logs).
    #[arg(long)]
    pub keep: bool,
}

/// Runs the benchmark; on Ctrl-C or SIGTERM the work is dropped, which stops every
/// subprocess and restores edited files.
pub async fn run(loaded: &Loaded, opts: Opts) -> anyhow::Result<Value> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let result = tokio::select! {
        r = bench(loaded, &opts) => r?,
        _ = term.recv() => bail!("interrupted (SIGTERM); weft serve stopped, files restored"),
        _ = int.recv() => bail!("interrupted (SIGINT); weft serve stopped, files restored"),
    };
    eprintln!("{}", table(&result));
    if let Some(out) = &opts.json {
        std::fs::write(out, serde_json::to_vec_pretty(&result)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(result)
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    r3(sorted[i])
}

fn p50_p95(v: &[f64]) -> Value {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    json!({ "p50": pct(&s, 0.5), "p95": pct(&s, 0.95), "max": pct(&s, 1.0), "n": s.len() })
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Fields of `/proc/PID/status` given in kB (`VmHWM:`, `RssAnon:`, ...), in MB (10^6
/// bytes); all `None` when the process is gone.
fn status_mb<const N: usize>(pid: u32, names: [&str; N]) -> [Option<f64>; N] {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    names.map(|name| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| r2(kb * 1024.0 / 1e6))
    })
}

/// `VmHWM` (peak RSS) and `VmRSS` of a process, in MB (10^6 bytes).
pub(crate) fn mem_mb(pid: u32) -> (Option<f64>, Option<f64>) {
    let [hwm, rss] = status_mb(pid, ["VmHWM:", "VmRSS:"]);
    (hwm, rss)
}

/// The parts of a process's resident memory in MB: anonymous (heap, stacks), file-backed
/// (the binary's and libraries' pages) and shared.
fn mem_parts(pid: u32) -> Value {
    let [anon, file, shmem] = status_mb(pid, ["RssAnon:", "RssFile:", "RssShmem:"]);
    json!({ "anon_mb": anon, "file_mb": file, "shmem_mb": shmem })
}

/// Direct children of `pid`: (pid, command line).
fn children(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            let cmd = std::fs::read(format!("/proc/{child}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            out.push((child, cmd.trim().to_string()));
        }
    }
    out
}

/// The workers of a serve process with their memory.
fn worker_mem(pid: u32) -> Value {
    let mut v = Vec::new();
    for (child, cmd) in children(pid) {
        let kind = cmd
            .split_whitespace()
            .skip_while(|a| *a != "weft_workers")
            .nth(1)
            .unwrap_or("?")
            .to_string();
        let (hwm, rss) = mem_mb(child);
        v.push(json!({ "pid": child, "kind": kind, "vm_hwm_mb": hwm, "vm_rss_mb": rss }));
    }
    Value::Array(v)
}

fn dir_size(p: &Path) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !md.is_dir() {
        return md.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// A private temp folder, removed on drop unless `keep`.
struct Scratch {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("index bench: kept {}", self.dir.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("index bench: could not remove {}: {e}", self.dir.display());
        }
    }
}

/// A `weft serve` subprocess (own process group); killed with its workers on drop.
pub(crate) struct Serve {
    child: Child,
    pub(crate) socket: PathBuf,
    log: PathBuf,
    started: Instant,
    done: bool,
}

impl Serve {
    pub(crate) fn spawn(
        weft: &Path,
        home: &Path,
        xdg: &Path,
        loaded: &Loaded,
        corpus: &Path,
        workers: bool,
    ) -> anyhow::Result<Serve> {
        let log = home.join(format!(
            "serve-{}.log",
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        ));
        let logf =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(weft);
        cmd.arg("serve").arg(corpus);
        // Only our settings: no inherited overrides, config file or profile.
        for (k, _) in std::env::vars_os() {
            if let Some(k) = k.to_str() {
                if k.starts_with("WEFT_")
                    && (k.contains("__")
                        || matches!(k, "WEFT_CONFIG" | "WEFT_PROFILE" | "WEFT_HOME"))
                {
                    cmd.env_remove(k);
                }
            }
        }
        cmd.env("WEFT_HOME", home)
            .env("XDG_CONFIG_HOME", xdg)
            .env("WEFT_LOG", "warn")
            .env("WEFT_VENV", &loaded.paths.venv)
            .env("WEFT_MODELS", loaded.paths.models_dir(&loaded.config))
            .env(
                "WEFT_WORKERS__ENABLED",
                if workers { "true" } else { "false" },
            )
            .stdin(Stdio::null())
            .stdout(logf.try_clone()?)
            .stderr(logf);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} serve", weft.display()))?;
        Ok(Serve {
            child,
            socket: home
                .join("profiles")
                .join("default")
                .join("run")
                .join("weft.sock"),
            log,
            started,
            done: false,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Errors when the process has exited.
    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(st) = self.child.try_wait()? {
            self.done = true;
            bail!("weft serve exited ({st}); its log:\n{}", self.log_tail());
        }
        Ok(())
    }

    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let body = weft_actors::api::request(&self.socket, "GET", path, None).await?;
        Ok(serde_json::from_slice(&body)?)
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let body = weft_actors::api::request(&self.socket, "POST", path, Some(body)).await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// SIGTERM, wait (30 s), then SIGKILL the group.
    pub(crate) async fn stop(mut self) -> anyhow::Result<f64> {
        let t = Instant::now();
        // SAFETY: signalling the process this benchmark started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        while self.child.try_wait()?.is_none() {
            if t.elapsed() > Duration::from_secs(30) {
                eprintln!("index bench: weft serve ignored SIGTERM for 30 s; killing it");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let secs = t.elapsed().as_secs_f64();
        self.kill_all();
        Ok(secs)
    }

    fn kill_all(&mut self) {
        if self.done {
            return;
        }
        let pid = self.child.id();
        let kids = children(pid);
        // SAFETY: killing the process group and the workers this benchmark started.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
            for (k, _) in &kids {
                libc::kill(*k as i32, libc::SIGKILL);
            }
        }
        self.child.kill().ok();
        self.child.wait().ok();
        self.done = true;
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill_all();
    }
}

fn ws(v: &Value) -> &Value {
    &v["workspaces"][0]
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// What [`wait_scanned`] saw when the first scan was done.
struct Scanned {
    /// `GET /v1/index`.
    status: Value,
    /// Seconds since spawn until keyword search covered the workspace (phase `refining`,
    /// text-first files still waiting for syntax chunks, or `idle`).
    keyword_secs: f64,
    /// Seconds since spawn until every file was chunked by syntax (phase `idle`).
    secs: f64,
    /// The core's VmHWM and VmRSS at that moment (MB).
    mem: (Option<f64>, Option<f64>),
    /// Latencies of the status polls (ms).
    polls: Vec<f64>,
}

/// Polls `GET /v1/index` every `every` until the first scan is done.
async fn wait_scanned(s: &mut Serve, every: Duration, limit: Duration) -> anyhow::Result<Scanned> {
    let mut polls = Vec::new();
    let mut last_err = String::new();
    let mut keyword_secs = None;
    loop {
        s.check_alive()?;
        if s.started.elapsed() > limit {
            bail!(
                "the first scan did not finish within {limit:?} (last: {last_err}); log:\n{}",
                s.log_tail()
            );
        }
        let t = Instant::now();
        match s.get("/v1/index").await {
            Ok(v) => {
                polls.push(t.elapsed().as_secs_f64() * 1000.0);
                let w = ws(&v);
                let phase = w["phase"].as_str().unwrap_or("");
                if phase == "failed" {
                    bail!("the scan failed: {}", w["last_error"]);
                }
                let scanned = u(&w["scans"]) >= 1;
                if scanned && (phase == "idle" || phase == "refining") && keyword_secs.is_none() {
                    keyword_secs = Some(s.started.elapsed().as_secs_f64());
                }
                if phase == "idle" && scanned {
                    let mem = mem_mb(s.pid());
                    let secs = s.started.elapsed().as_secs_f64();
                    return Ok(Scanned {
                        status: v,
                        keyword_secs: keyword_secs.unwrap_or(secs),
                        secs,
                        mem,
                        polls,
                    });
                }
            }
            Err(e) => last_err = e.to_string(),
        }
        tokio::time::sleep(every).await;
    }
}

fn data_size(home: &Path) -> Value {
    let dir = home.join("profiles").join("default");
    let db: u64 = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("weft.db"))
                .map(|e| dir_size(&e.path()))
                .sum()
        })
        .unwrap_or(0);
    let total = dir_size(&dir);
    json!({ "sqlite_mb": r2(db as f64 / 1e6), "profile_dir_mb": r2(total as f64 / 1e6) })
}

/// Files edited by the probe; restores content and times on drop.
struct Restore {
    files: Vec<Original>,
}

struct Original {
    path: PathBuf,
    bytes: Vec<u8>,
    modified: SystemTime,
    accessed: SystemTime,
    restored: bool,
}

impl Original {
    fn restore(&mut self) -> anyhow::Result<()> {
        if self.restored {
            return Ok(());
        }
        std::fs::write(&self.path, &self.bytes)
            .with_context(|| format!("restoring {}", self.path.display()))?;
        let f = std::fs::File::options().write(true).open(&self.path)?;
        f.set_times(
            std::fs::FileTimes::new()
                .set_modified(self.modified)
                .set_accessed(self.accessed),
        )?;
        self.restored = true;
        Ok(())
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        for o in &mut self.files {
            if let Err(e) = o.restore() {
                eprintln!("index bench: ERROR: {e:#}; the corpus is NOT unchanged");
            }
        }
    }
}

async fn run_logged(
    mut cmd: tokio::process::Command,
    log: &Path,
    what: &str,
) -> anyhow::Result<(String, f64)> {
    let logf = std::fs::File::create(log)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(logf)
        .kill_on_drop(true)
        .process_group(0);
    let t = Instant::now();
    let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
    let pgid = child.id().map(|p| p as i32);
    // Kills the group (bash and python) if this future is dropped.
    struct Group(Option<i32>);
    impl Drop for Group {
        fn drop(&mut self) {
            if let Some(p) = self.0 {
                // SAFETY: killing the process group this benchmark started.
                unsafe { libc::kill(-p, libc::SIGKILL) };
            }
        }
    }
    let mut guard = Group(pgid);
    let out = child.wait_with_output().await?;
    guard.0 = None;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        let s = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = s.lines().collect();
        bail!(
            "{what} failed ({}):\n{}",
            out.status,
            tail[tail.len().saturating_sub(20)..].join("\n")
        );
    }
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), secs))
}

fn last_json(stdout: &str) -> anyhow::Result<Value> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("no JSON line on stdout")?;
    Ok(serde_json::from_str(line)?)
}

async fn baseline(corpus: &Path, scratch: &Path) -> anyhow::Result<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline.sh");
    let data = scratch.join("baseline-data");
    eprintln!("index bench: baseline full run (load {})", load_avg());
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(&script).arg(corpus).arg(&data);
    let (out, wall) =
        run_logged(cmd, &scratch.join("baseline.log"), "loadtest/baseline.sh").await?;
    let full = last_json(&out)?;
    eprintln!("index bench: baseline: {full}");
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(&script).arg(corpus).arg(&data).arg("--rewalk-only");
    let (out, rewalk_wall) = run_logged(
        cmd,
        &scratch.join("baseline-rewalk.log"),
        "loadtest/baseline.sh --rewalk-only",
    )
    .await?;
    let rewalk = last_json(&out)?;
    eprintln!("index bench: baseline rewalk: {rewalk}");
    std::fs::remove_dir_all(&data).ok();
    Ok(
        json!({ "full": full, "wall_s": r2(wall), "rewalk": rewalk, "rewalk_wall_s": r2(rewalk_wall) }),
    )
}

/// The newest chunks' texts (the embedder's order: `id DESC`), as the embedder builds them.
fn newest_texts(db: &Path, n: usize) -> anyhow::Result<Vec<String>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", db.display()))?;
    let mut stmt = conn.prepare(
        "SELECT w.root, c.path, c.start_byte, c.end_byte, c.header FROM chunks c \
         JOIN workspaces w ON w.id = c.workspace_id ORDER BY c.id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([n as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    let mut out = Vec::with_capacity(n);
    let mut cache: Option<(String, String)> = None;
    for row in rows {
        let (root, path, start, end, header) = row?;
        let full = Path::new(&root).join(&path);
        let key = full.to_string_lossy().into_owned();
        if cache.as_ref().map(|c| &c.0) != Some(&key) {
            let bytes =
                std::fs::read(&full).with_context(|| format!("reading {}", full.display()))?;
            cache = Some((key, String::from_utf8_lossy(&bytes).into_owned()));
        }
        let text = cache.as_ref().map(|c| c.1.as_str()).unwrap_or("");
        let body = text
            .get(start.max(0) as usize..end.max(0) as usize)
            .unwrap_or("");
        out.push(match header {
            Some(h) => format!("{h}\n{body}"),
            None => body.to_string(),
        });
    }
    if out.is_empty() {
        bail!("no chunks in {}", db.display());
    }
    Ok(out)
}

async fn raw_model(
    loaded: &Loaded,
    texts: &[String],
    scratch: &Path,
    batch: usize,
) -> anyhow::Result<Value> {
    let file = scratch.join("raw-texts.json");
    std::fs::write(&file, serde_json::to_vec(texts)?)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("inprocess_embed.py");
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut cmd = tokio::process::Command::new(loaded.paths.python(&loaded.config));
    cmd.arg(&script)
        .args(["--texts", &file.to_string_lossy()])
        .args(["--mode", "default", "--passes", "1"])
        .args(["--batch", &batch.to_string()])
        .args(["--threads", &threads.to_string()])
        .args([
            "--models-dir",
            &loaded.paths.models_dir(&loaded.config).to_string_lossy(),
        ]);
    let (out, _) = run_logged(cmd, &scratch.join("raw.log"), "loadtest/inprocess_embed.py").await?;
    let v = last_json(&out)?;
    Ok(json!({ "texts": texts.len(), "batch": batch, "result": v }))
}

/// `.rs` files from different crates, mid-sized, indexed.
fn pick_files(db: &Path, n: usize) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT w.root, f.path FROM files f JOIN workspaces w ON w.id = f.workspace_id \
         WHERE f.state IN ('chunked', 'embedded') AND f.path LIKE '%/src/%.rs' \
         AND f.size BETWEEN 3000 AND 30000 ORDER BY f.path",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut per_crate: Vec<(String, PathBuf, String)> = Vec::new();
    for row in rows {
        let (root, path) = row?;
        let krate = path.split('/').next().unwrap_or("").to_string();
        if per_crate.last().map(|c| &c.0) != Some(&krate) {
            per_crate.push((krate, Path::new(&root).join(&path), path));
        }
    }
    if per_crate.len() < n {
        bail!("only {} crates with a mid-sized .rs file", per_crate.len());
    }
    let step = per_crate.len() / n;
    Ok((0..n)
        .map(|i| (per_crate[i * step].1.clone(), per_crate[i * step].2.clone()))
        .collect())
}

fn hits(v: &Value) -> &[Value] {
    v["hits"].as_array().map(|a| a.as_slice()).unwrap_or(&[])
}

struct EditResult {
    keyword_s: Option<f64>,
    semantic_s: Option<f64>,
    semantic_unfiltered_rank: Option<usize>,
}

async fn one_edit(
    s: &Serve,
    restore: &mut Restore,
    n: usize,
    file: &Path,
    rel: &str,
    cap: Duration,
) -> anyhow::Result<EditResult> {
    let md = std::fs::metadata(file)?;
    let bytes = std::fs::read(file)?;
    restore.files.push(Original {
        path: file.to_path_buf(),
        bytes: bytes.clone(),
        modified: md.modified()?,
        accessed: md.accessed()?,
        restored: false,
    });
    let salt = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().rotate_left(16);
    let token = format!("weftprobe{n}q{salt:08x}");
    let sentence = SENTENCES[n % SENTENCES.len()];
    let mut new = bytes.clone();
    if !new.ends_with(b"\n") {
        new.push(b'\n');
    }
    let line_no = new.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    new.extend_from_slice(format!("// {token} {sentence}\n").as_bytes());

    let t0 = Instant::now();
    std::fs::write(file, &new).with_context(|| format!("writing {}", file.display()))?;
    let keyword = async {
        while t0.elapsed() < cap {
            if let Ok(v) = s
                .post(
                    "/v1/search",
                    json!({ "query": token, "no_vector": true, "k": 5 }),
                )
                .await
            {
                if hits(&v).iter().any(|h| h["path"].as_str() == Some(rel)) {
                    return Some(t0.elapsed().as_secs_f64());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    };
    let semantic = async {
        while t0.elapsed() < cap {
            // k 50 within the edited file: the probe asks whether the new chunk's vector is
            // searchable, not how it ranks (the appended line is one line of a chunk, so in
            // a file of many chunks it may rank below 10; the search tests cover ranking).
            let q = json!({ "query": sentence, "vector_only": true, "k": 50, "path": rel });
            if let Ok(v) = s.post("/v1/search", q).await {
                let found = hits(&v).iter().any(|h| {
                    h["path"].as_str() == Some(rel)
                        && !h["scores"]["vector_rank"].is_null()
                        && u(&h["end_line"]) >= line_no
                });
                if found {
                    return Some(t0.elapsed().as_secs_f64());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    };
    let (keyword_s, semantic_s) = tokio::join!(keyword, semantic);
    // Whether the sentence finds the new chunk among all vectors (no path filter).
    let mut semantic_unfiltered_rank = None;
    if semantic_s.is_some() {
        if let Ok(v) = s
            .post(
                "/v1/search",
                json!({ "query": sentence, "vector_only": true, "k": 10 }),
            )
            .await
        {
            semantic_unfiltered_rank = hits(&v)
                .iter()
                .position(|h| h["path"].as_str() == Some(rel))
                .map(|i| i + 1);
        }
    }
    if let Some(o) = restore.files.last_mut() {
        o.restore()?;
    }
    // Wait until the restore is indexed, so the next probe starts from a clean state.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        match s
            .post(
                "/v1/search",
                json!({ "query": token, "no_vector": true, "k": 5 }),
            )
            .await
        {
            Ok(v) if !hits(&v).iter().any(|h| h["path"].as_str() == Some(rel)) => break,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    eprintln!(
        "index bench: edit {n} {rel}: keyword {:?} s, semantic {:?} s (unfiltered rank {:?})",
        keyword_s.map(r3),
        semantic_s.map(r3),
        semantic_unfiltered_rank
    );
    Ok(EditResult {
        keyword_s,
        semantic_s,
        semantic_unfiltered_rank,
    })
}

fn embedded(v: &Value) -> u64 {
    let c = &ws(v)["counts"];
    u(&c["chunks"]).saturating_sub(u(&c["pending"]))
}

async fn bench(loaded: &Loaded, opts: &Opts) -> anyhow::Result<Value> {
    let corpus = std::fs::canonicalize(&opts.corpus)
        .with_context(|| format!("corpus {}", opts.corpus.display()))?;
    let weft = match &opts.weft {
        Some(p) => p.clone(),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
            target.join("release").join("weft")
        }
    };
    if !weft.is_file() {
        bail!(
            "{} not found: build it (cargo build --release -p weft) or pass --weft",
            weft.display()
        );
    }
    let weft_mtime = std::fs::metadata(&weft)?.modified()?;
    let scratch = Scratch {
        dir: std::env::temp_dir().join(format!("weft-index-bench-{}", std::process::id())),
        keep: opts.keep,
    };
    let home = scratch.dir.join("home");
    let xdg = scratch.dir.join("xdg");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&xdg)?;
    let started_at = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%dT%H:%M:%SZ")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut loads = vec![json!({ "at": "start", "loadavg": load_avg() })];

    // Warm the page cache for both sides.
    let t = Instant::now();
    let warm = tokio::process::Command::new("sh")
        .arg("-c")
        .arg("find \"$1\" -type f -print0 | xargs -0 cat > /dev/null")
        .arg("sh")
        .arg(&corpus)
        .kill_on_drop(true)
        .status()
        .await?;
    eprintln!(
        "index bench: page cache warmed in {:.1} s ({warm})",
        t.elapsed().as_secs_f64()
    );

    let base = if opts.baseline {
        let b = baseline(&corpus, &scratch.dir).await?;
        loads.push(json!({ "at": "after baseline", "loadavg": load_avg() }));
        Some(b)
    } else {
        None
    };

    // 1. Keyword index, workers off.
    eprintln!(
        "index bench: 1. keyword index (workers off), load {}",
        load_avg()
    );
    let mut s = Serve::spawn(&weft, &home, &xdg, loaded, &corpus, false)?;
    let Scanned {
        status: st,
        keyword_secs,
        secs,
        mem: (hwm, rss),
        polls,
    } = wait_scanned(
        &mut s,
        Duration::from_millis(100),
        Duration::from_secs(1800),
    )
    .await?;
    let w = ws(&st).clone();
    let c = &w["counts"];
    let files = u(&c["files"]).saturating_sub(u(&c["skipped"]));
    let bytes = u(&c["bytes"]);
    let scan_s = w["last_scan"]["seconds"].as_f64().unwrap_or(f64::NAN);
    let poll_mean = polls.iter().sum::<f64>() / polls.len().max(1) as f64;
    let stop1 = s.stop().await?;
    let keyword = json!({
        "files": files, "bytes": bytes, "chunks": u(&c["chunks"]), "skipped": u(&c["skipped"]),
        "file_rows": u(&c["files"]),
        "seconds_spawn_to_keyword_searchable": r3(keyword_secs),
        "seconds_spawn_to_idle": r3(secs), "scan_seconds": r3(scan_s),
        "MB_per_s": r2(bytes as f64 / 1e6 / keyword_secs), "MB_per_s_scan_only": r2(bytes as f64 / 1e6 / scan_s),
        "MB_per_s_all_chunked_by_syntax": r2(bytes as f64 / 1e6 / secs),
        "core_vm_hwm_mb_at_idle": hwm, "core_vm_rss_mb_at_idle": rss,
        "last_scan": w["last_scan"], "data": data_size(&home),
        "status_polls": { "n": polls.len(), "mean_ms": r2(poll_mean), "p95_ms": p50_p95(&polls)["p95"] },
        "stop_s": r2(stop1),
    });
    eprintln!("index bench: keyword: {keyword}");
    loads.push(json!({ "at": "after keyword", "loadavg": load_avg() }));

    // 2. No-op re-index.
    eprintln!("index bench: 2. no-op re-index");
    let mut s = Serve::spawn(&weft, &home, &xdg, loaded, &corpus, false)?;
    let Scanned {
        status: st,
        secs,
        mem: (hwm2, _),
        ..
    } = wait_scanned(&mut s, Duration::from_millis(100), Duration::from_secs(600)).await?;
    let w = ws(&st);
    let noop = json!({
        "scan_seconds": w["last_scan"]["seconds"], "unchanged": w["last_scan"]["unchanged"],
        "indexed": w["last_scan"]["indexed"], "seen": w["last_scan"]["seen"],
        "seconds_spawn_to_idle": r3(secs), "core_vm_hwm_mb": hwm2,
    });
    s.stop().await?;
    eprintln!("index bench: no-op: {noop}");

    // Raw model, same backend, one process, on the texts the embedder starts with.
    let db = home.join("profiles").join("default").join("weft.db");
    let texts = newest_texts(&db, opts.raw)?;
    eprintln!(
        "index bench: raw model on {} newest chunks (batch 64), load {}",
        texts.len(),
        load_avg()
    );
    let raw = raw_model(loaded, &texts, &scratch.dir, 64).await?;
    eprintln!("index bench: raw: {raw}");
    let edit_files = pick_files(&db, opts.edits)?;

    // 3. Workers on: embedding throughput.
    eprintln!("index bench: 3. workers on, load {}", load_avg());
    loads.push(json!({ "at": "before embed", "loadavg": load_avg() }));
    let mut s = Serve::spawn(&weft, &home, &xdg, loaded, &corpus, true)?;
    wait_scanned(&mut s, Duration::from_millis(100), Duration::from_secs(600)).await?;
    let ready_t = Instant::now();
    let status = loop {
        s.check_alive()?;
        let st = s.get("/v1/status").await?;
        if u(&st["pools"]["embed"]["ready"]) >= 1 {
            break st;
        }
        if ready_t.elapsed() > Duration::from_secs(240) {
            bail!(
                "the embed pool is not ready after 240 s: {}",
                st["pools"]["embed"]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ready_after_spawn = s.started.elapsed().as_secs_f64();
    let first = s.get("/v1/index").await?;
    let e0 = embedded(&first);
    let c0 = first["vectors"]["computed"].as_u64().unwrap_or(0);
    let h0 = first["vectors"]["from_cache"].as_u64().unwrap_or(0);
    let t0 = Instant::now();
    let mut samples = vec![(0.0, e0)];
    let mut last;
    let cap = Duration::from_secs(900);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.check_alive()?;
        last = s.get("/v1/index").await?;
        let e = embedded(&last);
        samples.push((t0.elapsed().as_secs_f64(), e));
        if e.saturating_sub(e0) >= opts.sample || t0.elapsed() > cap {
            break;
        }
        if let Some(b) = last["vectors"]["blocked"].as_str() {
            eprintln!("index bench: vectors blocked: {b}");
        }
    }
    let (te, ee) = samples.last().copied().unwrap_or((0.0, e0));
    let rate = (ee - e0) as f64 / te.max(1e-9);
    // Chunks the model computed (cache hits excluded): the figure to compare with the raw
    // model, which has no cache.
    let computed = last["vectors"]["computed"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(c0);
    let from_cache = last["vectors"]["from_cache"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(h0);
    let model_rate = computed as f64 / te.max(1e-9);
    let st_now = s.get("/v1/status").await?;
    let raw_rate = raw["result"]["chunks_per_s"].as_f64().unwrap_or(f64::NAN);
    let embed = json!({
        "embedded_at_start": e0, "embedded": ee - e0, "seconds": r3(te),
        "chunks_per_s": r2(model_rate), "chunks_per_s_with_cache_hits": r2(rate),
        "computed": computed, "from_cache": from_cache,
        "vectors_rate_status": last["vectors"]["rate"],
        "vs_raw_model": r3(model_rate / raw_rate), "complete": ee - e0 >= opts.sample,
        "embed_ready_s_after_spawn": r2(ready_after_spawn),
        "pool": st_now["pools"]["embed"], "pool_at_ready": status["pools"]["embed"],
        "core_vm_hwm_mb": mem_mb(s.pid()).0, "core_rss_parts": mem_parts(s.pid()),
        "workers": worker_mem(s.pid()),
        "samples_every_0_5s": samples.iter().step_by(4).map(|(t, e)| json!([r2(*t), e])).collect::<Vec<_>>(),
    });
    eprintln!("index bench: embed: {embed}");

    // 4. Edit → searchable.
    eprintln!("index bench: 4. {} edits", edit_files.len());
    let mut restore = Restore { files: Vec::new() };
    let mut kw = Vec::new();
    let mut sem = Vec::new();
    let mut per = Vec::new();
    let (mut kw_to, mut sem_to) = (0, 0);
    for (n, (file, rel)) in edit_files.iter().enumerate() {
        s.check_alive()?;
        let r = one_edit(&s, &mut restore, n, file, rel, Duration::from_secs(30)).await?;
        match r.keyword_s {
            Some(x) => kw.push(x * 1000.0),
            None => kw_to += 1,
        }
        match r.semantic_s {
            Some(x) => sem.push(x * 1000.0),
            None => sem_to += 1,
        }
        per.push(json!({ "path": rel, "keyword_ms": r.keyword_s.map(|x| r2(x * 1000.0)), "semantic_ms": r.semantic_s.map(|x| r2(x * 1000.0)), "semantic_unfiltered_rank": r.semantic_unfiltered_rank, "core_vm_hwm_mb": mem_mb(s.pid()).0 }));
    }
    // Verify the corpus is back as it was.
    let mut unchanged = true;
    for o in &mut restore.files {
        o.restore()?;
        if std::fs::read(&o.path)? != o.bytes
            || std::fs::metadata(&o.path)?.modified()? != o.modified
        {
            unchanged = false;
            eprintln!(
                "index bench: ERROR: {} differs from its original",
                o.path.display()
            );
        }
    }
    let edits = json!({
        "n": edit_files.len(), "keyword_ms": p50_p95(&kw), "keyword_timeouts": kw_to,
        "semantic_ms": p50_p95(&sem), "semantic_timeouts": sem_to,
        "semantic_query": "vector_only, k 50, path filter = the edited file, hit must cover the appended line",
        "corpus_restored": unchanged, "per_edit": per,
        "core_vm_hwm_mb_after": mem_mb(s.pid()).0, "core_rss_parts_after": mem_parts(s.pid()),
    });
    eprintln!("index bench: edits: {edits}");

    // 5. Search latency.
    loads.push(json!({ "at": "before search", "loadavg": load_avg() }));
    let rows_before = s.get("/v1/index").await?["vectors"]["rows"].clone();
    let mut search = serde_json::Map::new();
    for (mode, extra) in [
        ("keyword", json!({ "no_vector": true })),
        ("vector", json!({ "vector_only": true })),
        ("hybrid", json!({})),
    ] {
        let mut body = extra.clone();
        body["query"] = json!("warm up query");
        body["k"] = json!(10);
        s.post("/v1/search", body).await?;
        let (mut lat, mut took, mut with_hits) = (Vec::new(), Vec::new(), 0);
        let mut stages: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut notes = Vec::new();
        for q in QUERIES.iter().take(opts.queries) {
            let mut body = extra.clone();
            body["query"] = json!(q);
            body["k"] = json!(10);
            let t = Instant::now();
            let v = s.post("/v1/search", body).await?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            took.push(v["took_ms"].as_f64().unwrap_or(f64::NAN));
            if let Some(m) = v["signal_ms"].as_object() {
                for (stage, ms) in m {
                    if let Some(ms) = ms.as_f64() {
                        stages.entry(stage.clone()).or_default().push(ms);
                    }
                }
            }
            with_hits += usize::from(!hits(&v).is_empty());
            if let Some(a) = v["notes"].as_array() {
                for n in a {
                    if !notes.contains(n) {
                        notes.push(n.clone());
                    }
                }
            }
        }
        let stages: serde_json::Map<String, Value> = stages
            .iter()
            .map(|(k, v)| (k.clone(), p50_p95(v)))
            .collect();
        search.insert(mode.into(), json!({ "client_ms": p50_p95(&lat), "server_took_ms": p50_p95(&took), "server_stages_ms": stages, "queries_with_hits": with_hits, "notes": notes, "core_vm_hwm_mb_after": mem_mb(s.pid()).0 }));
    }
    let idx = s.get("/v1/index").await?;
    let search = json!({
        "modes": search, "vector_rows_before": rows_before, "vector_rows_after": idx["vectors"]["rows"],
        "vector_indexed": idx["vectors"]["indexed"], "chunks": ws(&idx)["counts"]["chunks"],
        "pending": ws(&idx)["counts"]["pending"],
        "note": "measured while the embedder keeps working through the backlog (the full corpus is not embedded)",
    });
    eprintln!("index bench: search: {search}");
    let workers_end = worker_mem(s.pid());
    let core_end = mem_mb(s.pid());
    let core_parts_end = mem_parts(s.pid());
    let stop3 = s.stop().await?;
    loads.push(json!({ "at": "end", "loadavg": load_avg() }));

    let mut out = json!({
        "bench": "index", "date": started_at, "machine": crate::machine(),
        "corpus": corpus, "weft": weft,
        "weft_built_s_ago": SystemTime::now().duration_since(weft_mtime).map(|d| d.as_secs()).unwrap_or(0),
        "load": loads,
        "weft_keyword": keyword, "weft_noop": noop, "raw_model": raw, "weft_embed": embed,
        "weft_edits": edits, "weft_search": search,
        "weft_end": { "core_vm_hwm_mb": core_end.0, "core_vm_rss_mb": core_end.1, "core_rss_parts": core_parts_end, "workers": workers_end, "stop_s": r2(stop3), "data": data_size(&home) },
    });
    if let Some(b) = base {
        let f = &b["full"];
        let ratio = |a: Option<f64>, z: Option<f64>| match (a, z) {
            (Some(a), Some(z)) if z != 0.0 => json!(r3(a / z)),
            _ => Value::Null,
        };
        let sm = &out["weft_search"]["modes"];
        let ratios = json!({
            "keyword_MB_per_s (higher better)": ratio(out["weft_keyword"]["MB_per_s"].as_f64(), f["MB_per_s_keyword"].as_f64()),
            "noop_rewalk_s (lower better)": ratio(out["weft_noop"]["scan_seconds"].as_f64(), b["rewalk"]["seconds_rewalk_stat"].as_f64()),
            "embed_chunks_per_s (higher better)": ratio(out["weft_embed"]["chunks_per_s"].as_f64(), f["embed_chunks_per_s"].as_f64()),
            "fts_p50 (lower better)": ratio(sm["keyword"]["client_ms"]["p50"].as_f64(), f["fts_p50_ms"].as_f64()),
            "fts_p95 (lower better)": ratio(sm["keyword"]["client_ms"]["p95"].as_f64(), f["fts_p95_ms"].as_f64()),
            "vector_p50 (lower better)": ratio(sm["vector"]["client_ms"]["p50"].as_f64(), f["vec_p50_ms"].as_f64()),
            "vector_p95 (lower better)": ratio(sm["vector"]["client_ms"]["p95"].as_f64(), f["vec_p95_ms"].as_f64()),
            "peak_rss_at_keyword_searchable (lower better)": ratio(out["weft_keyword"]["core_vm_hwm_mb_at_idle"].as_f64(), f["peak_rss_MB_at_keyword_searchable"].as_f64()),
        });
        out["baseline"] = b;
        out["ratios_weft_over_baseline"] = ratios;
    }
    out["goals"] = goals(&out);
    Ok(out)
}

fn goals(o: &Value) -> Value {
    let r = &o["ratios_weft_over_baseline"];
    let check = |v: Option<f64>, ok: fn(f64) -> bool| match v {
        Some(x) if x.is_finite() => json!({ "value": x, "met": ok(x) }),
        _ => json!({ "value": null, "met": null }),
    };
    let sm = &o["weft_search"]["modes"];
    json!({
        "keyword_MB_per_s >= 2x baseline": check(r["keyword_MB_per_s (higher better)"].as_f64(), |x| x >= 2.0),
        "embedding >= 0.9x raw model": check(o["weft_embed"]["vs_raw_model"].as_f64(), |x| x >= 0.9),
        "noop reindex <= 0.5x baseline rewalk": check(r["noop_rewalk_s (lower better)"].as_f64(), |x| x <= 0.5),
        "edit->keyword p95 <= 200 ms": check(o["weft_edits"]["keyword_ms"]["p95"].as_f64(), |x| x <= 200.0),
        "edit->semantic p95 <= 1000 ms": check(o["weft_edits"]["semantic_ms"]["p95"].as_f64(), |x| x <= 1000.0),
        "hybrid p95 <= 50 ms": check(sm["hybrid"]["client_ms"]["p95"].as_f64(), |x| x <= 50.0),
        "core peak RSS <= 300 MB": check(
            [o["weft_keyword"]["core_vm_hwm_mb_at_idle"].as_f64(), o["weft_end"]["core_vm_hwm_mb"].as_f64()].into_iter().flatten().reduce(f64::max),
            |x| x <= 300.0
        ),
    })
}

fn table(o: &Value) -> String {
    let f = &o["baseline"]["full"];
    let r = &o["ratios_weft_over_baseline"];
    let sm = &o["weft_search"]["modes"];
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(x) => x.clone(),
        x => x.to_string(),
    };
    let rows: Vec<(&str, Value, Value, Value)> = vec![
        (
            "files indexed",
            o["weft_keyword"]["files"].clone(),
            f["files"].clone(),
            Value::Null,
        ),
        (
            "bytes indexed",
            o["weft_keyword"]["bytes"].clone(),
            f["bytes"].clone(),
            Value::Null,
        ),
        (
            "chunks",
            o["weft_keyword"]["chunks"].clone(),
            f["chunks"].clone(),
            Value::Null,
        ),
        (
            "s to keyword-searchable",
            o["weft_keyword"]["seconds_spawn_to_keyword_searchable"].clone(),
            f["seconds_to_keyword_searchable"].clone(),
            Value::Null,
        ),
        (
            "s until every file is chunked by syntax",
            o["weft_keyword"]["seconds_spawn_to_idle"].clone(),
            f["seconds_to_keyword_searchable"].clone(),
            Value::Null,
        ),
        (
            "keyword MB/s",
            o["weft_keyword"]["MB_per_s"].clone(),
            f["MB_per_s_keyword"].clone(),
            r["keyword_MB_per_s (higher better)"].clone(),
        ),
        (
            "no-op re-index s",
            o["weft_noop"]["scan_seconds"].clone(),
            o["baseline"]["rewalk"]["seconds_rewalk_stat"].clone(),
            r["noop_rewalk_s (lower better)"].clone(),
        ),
        (
            "embed chunks/s",
            o["weft_embed"]["chunks_per_s"].clone(),
            f["embed_chunks_per_s"].clone(),
            r["embed_chunks_per_s (higher better)"].clone(),
        ),
        (
            "raw model chunks/s (same backend)",
            o["raw_model"]["result"]["chunks_per_s"].clone(),
            Value::Null,
            o["weft_embed"]["vs_raw_model"].clone(),
        ),
        (
            "keyword query p50 ms",
            sm["keyword"]["client_ms"]["p50"].clone(),
            f["fts_p50_ms"].clone(),
            r["fts_p50 (lower better)"].clone(),
        ),
        (
            "keyword query p95 ms",
            sm["keyword"]["client_ms"]["p95"].clone(),
            f["fts_p95_ms"].clone(),
            r["fts_p95 (lower better)"].clone(),
        ),
        (
            "vector query p50 ms",
            sm["vector"]["client_ms"]["p50"].clone(),
            f["vec_p50_ms"].clone(),
            r["vector_p50 (lower better)"].clone(),
        ),
        (
            "vector query p95 ms",
            sm["vector"]["client_ms"]["p95"].clone(),
            f["vec_p95_ms"].clone(),
            r["vector_p95 (lower better)"].clone(),
        ),
        (
            "hybrid query p50 / p95 ms",
            json!(format!(
                "{} / {}",
                s(&sm["hybrid"]["client_ms"]["p50"]),
                s(&sm["hybrid"]["client_ms"]["p95"])
            )),
            Value::Null,
            Value::Null,
        ),
        (
            "edit->keyword p50 / p95 ms",
            json!(format!(
                "{} / {}",
                s(&o["weft_edits"]["keyword_ms"]["p50"]),
                s(&o["weft_edits"]["keyword_ms"]["p95"])
            )),
            Value::Null,
            Value::Null,
        ),
        (
            "edit->semantic p50 / p95 ms",
            json!(format!(
                "{} / {} ({} timeouts)",
                s(&o["weft_edits"]["semantic_ms"]["p50"]),
                s(&o["weft_edits"]["semantic_ms"]["p95"]),
                s(&o["weft_edits"]["semantic_timeouts"])
            )),
            Value::Null,
            Value::Null,
        ),
        (
            "peak RSS MB at keyword-searchable",
            o["weft_keyword"]["core_vm_hwm_mb_at_idle"].clone(),
            f["peak_rss_MB_at_keyword_searchable"].clone(),
            r["peak_rss_at_keyword_searchable (lower better)"].clone(),
        ),
        (
            "core peak RSS MB at end",
            o["weft_end"]["core_vm_hwm_mb"].clone(),
            f["peak_rss_MB"].clone(),
            Value::Null,
        ),
        (
            "vectors in table at search",
            o["weft_search"]["vector_rows_before"].clone(),
            f["embed_sample"].clone(),
            Value::Null,
        ),
    ];
    let mut t =
        String::from("| figure | Weft | baseline | Weft/baseline |\n|---|---:|---:|---:|\n");
    for (name, a, b, c) in rows {
        t.push_str(&format!("| {name} | {} | {} | {} |\n", s(&a), s(&b), s(&c)));
    }
    t.push_str("\nworkers (VmHWM MB): ");
    if let Some(ws) = o["weft_end"]["workers"].as_array() {
        for w in ws {
            t.push_str(&format!("{}={} ", s(&w["kind"]), s(&w["vm_hwm_mb"])));
        }
    }
    t.push_str("\ngoals:\n");
    if let Some(g) = o["goals"].as_object() {
        for (k, v) in g {
            t.push_str(&format!(
                "  {k}: {} (met: {})\n",
                s(&v["value"]),
                s(&v["met"])
            ));
        }
    }
    t
}
