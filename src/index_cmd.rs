//! `weft index` and `weft search`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use weft_actors::api::SearchAnswer;
use weft_actors::api::{self, ClientError};
use weft_actors::config::Loaded;
use weft_actors::index::{IndexStatus, SearchRequest, WorkspaceStatus};
use weft_actors::tree;

/// How `weft index` waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Until keyword search covers the workspace.
    Keyword,
    /// Until every chunk has its vector too.
    Embedded,
}

/// `weft index PATH`: registers the folder with the running daemon (or runs a core in this
/// process when there is none) and shows progress.
pub async fn index(
    loaded: &Loaded,
    path: PathBuf,
    wait: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let root = std::fs::canonicalize(&path).with_context(|| {
        format!(
            "cannot index {}: no such folder; pass the root of the tree to index",
            path.display()
        )
    })?;
    anyhow::ensure!(
        root.is_dir(),
        "cannot index {}: not a folder; pass the root of the tree to index",
        root.display()
    );
    let socket = loaded.paths.socket_path();
    let body = serde_json::json!({ "path": root.display().to_string() });
    match api::request(&socket, "POST", "/v1/index", Some(body)).await {
        Ok(answer) => {
            let v: serde_json::Value = serde_json::from_slice(&answer)?;
            let id = v["workspace"].as_i64().unwrap_or(0);
            let until = if wait { Wait::Embedded } else { Wait::Keyword };
            let started = Instant::now();
            let mut bar = Bar::new(json);
            // The scan this request started must be seen finishing, not a previous one.
            let mut seen_busy = false;
            loop {
                let status: IndexStatus =
                    match api::request(&socket, "GET", "/v1/index", None).await {
                        Ok(b) => serde_json::from_slice(&b)?,
                        Err(e) => return Err(e.into()),
                    };
                let Some(ws) = status.workspaces.iter().find(|w| w.id == id) else {
                    anyhow::bail!("the daemon did not register {}", root.display());
                };
                bar.draw(ws, &status);
                seen_busy |= ws.phase != "idle" || ws.scans > 0;
                if seen_busy && done(ws, &status, until) {
                    bar.finish(ws, &status, started.elapsed(), until);
                    return Ok(ExitCode::SUCCESS);
                }
                if ws.phase == "missing" || ws.phase == "failed" {
                    bar.clear();
                    anyhow::bail!(
                        "indexing {} stopped: {}",
                        root.display(),
                        ws.last_error.clone().unwrap_or_else(|| ws.phase.clone())
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Err(ClientError::NotRunning { .. }) => run_here(loaded, &root, json).await,
        Err(e) => Err(e.into()),
    }
}

/// No daemon: run the core for this folder in this process until the index (vectors too) is
/// complete, then stop it.
async fn run_here(loaded: &Loaded, root: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if !json {
        eprintln!(
            "weft: no daemon running; indexing {} in this process",
            root.display()
        );
    }
    let core = tree::start(loaded, root).await?;
    let started = Instant::now();
    let mut bar = Bar::new(json);
    let result = loop {
        let status = match core.index.status().await {
            Ok(s) => s,
            Err(e) => break Err(anyhow::anyhow!(e)),
        };
        let Some(ws) = status
            .workspaces
            .iter()
            .find(|w| Path::new(&w.root) == root)
        else {
            break Err(anyhow::anyhow!("{} was not registered", root.display()));
        };
        bar.draw(ws, &status);
        if ws.scans > 0 && done(ws, &status, Wait::Embedded) {
            bar.finish(ws, &status, started.elapsed(), Wait::Embedded);
            break Ok(ExitCode::SUCCESS);
        }
        if ws.phase == "missing" || ws.phase == "failed" {
            bar.clear();
            break Err(anyhow::anyhow!(
                "indexing {} stopped: {}",
                root.display(),
                ws.last_error.clone().unwrap_or_else(|| ws.phase.clone())
            ));
        }
        if core.root_ended() {
            break Err(anyhow::anyhow!(
                "the supervision tree gave up; see the log above"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    core.shutdown(Duration::from_secs(2)).await?;
    result
}

fn done(ws: &WorkspaceStatus, status: &IndexStatus, until: Wait) -> bool {
    // "refining": keyword search covers every file; text-first files still wait for their
    // syntax chunks (and so for symbols and vectors).
    let keyword = (ws.phase == "idle" || ws.phase == "refining") && ws.scans > 0;
    match until {
        Wait::Keyword => keyword,
        // Done when nothing is pending, or when vectors cannot be made (no embed pool):
        // waiting would never end.
        Wait::Embedded => {
            keyword
                && ws.phase == "idle"
                && (ws.counts.pending == 0
                    || (status.vectors.blocked.is_some() && status.vectors.rate == 0.0))
        }
    }
}

/// The live progress line.
struct Bar {
    json: bool,
    tty: bool,
    last: Option<Instant>,
    width: usize,
}

impl Bar {
    fn new(json: bool) -> Self {
        Bar {
            json,
            tty: std::io::stderr().is_terminal(),
            last: None,
            width: 0,
        }
    }

    fn draw(&mut self, ws: &WorkspaceStatus, status: &IndexStatus) {
        if self.json {
            return;
        }
        // Without a terminal, a line every 2 s is enough for a log.
        if !self.tty
            && self
                .last
                .is_some_and(|l| l.elapsed() < Duration::from_secs(2))
        {
            return;
        }
        self.last = Some(Instant::now());
        let line = progress_line(ws, status);
        let mut err = std::io::stderr();
        if self.tty {
            let pad = self.width.saturating_sub(line.chars().count());
            let _ = write!(err, "\r{line}{}", " ".repeat(pad));
            self.width = line.chars().count();
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.tty && !self.json {
            let _ = write!(std::io::stderr(), "\r{}\r", " ".repeat(self.width));
        }
    }

    fn finish(&mut self, ws: &WorkspaceStatus, status: &IndexStatus, took: Duration, until: Wait) {
        self.clear();
        if self.json {
            println!(
                "{}",
                serde_json::json!({ "workspace": ws, "vectors": status.vectors, "seconds": took.as_secs_f64() })
            );
            return;
        }
        let c = &ws.counts;
        println!(
            "indexed {}: {} files ({} skipped), {} chunks, {} embedded, {:.1} MB in {:.1}s",
            ws.root,
            c.files,
            c.skipped,
            c.chunks,
            c.chunks - c.pending,
            c.bytes as f64 / 1e6,
            took.as_secs_f64()
        );
        if let Some(scan) = &ws.last_scan {
            for (path, reason) in scan.skipped.iter().take(10) {
                println!("  skipped {path}: {reason}");
            }
            if scan.skipped_total > 10 {
                println!(
                    "  ... and {} more skipped (see `weft status --json`)",
                    scan.skipped_total - 10
                );
            }
        }
        if until == Wait::Keyword && c.pending > 0 {
            println!(
                "keyword and symbol search are ready; {} chunks are being embedded in the background (`weft index --wait` waits for them)",
                c.pending
            );
        }
        if let Some(b) = &status.vectors.blocked {
            println!("vectors: {b}");
        }
    }
}

/// `files 1,234 (56 MB)  chunks 7,890  embedded 3,000/7,890  41.0 MB/s  ETA 0:12`.
fn progress_line(ws: &WorkspaceStatus, status: &IndexStatus) -> String {
    let p = &ws.progress;
    let c = &ws.counts;
    let embedded = c.chunks.saturating_sub(c.pending);
    let mut parts = vec![format!("{:<8}", ws.phase)];
    if p.scanning {
        let rate = if p.elapsed_s > 0.0 {
            p.bytes as f64 / 1e6 / p.elapsed_s
        } else {
            0.0
        };
        parts.push(format!(
            "walked {}  read {} ({:.0} MB, {:.1} MB/s)  chunks {}",
            p.seen,
            p.indexed,
            p.bytes as f64 / 1e6,
            rate,
            c.chunks
        ));
    } else if ws.phase == "refining" {
        parts.push(format!(
            "files {}  chunks {}  by syntax {}/{}",
            c.files,
            c.chunks,
            c.chunked,
            c.files.saturating_sub(c.skipped)
        ));
    } else {
        parts.push(format!("files {}  chunks {}", c.files, c.chunks));
    }
    let pct = if c.chunks > 0 {
        embedded as f64 * 100.0 / c.chunks as f64
    } else {
        100.0
    };
    let filled = (pct / 5.0).round() as usize;
    parts.push(format!(
        "[{}{}] embedded {}/{} ({:.0}%)",
        "#".repeat(filled.min(20)),
        ".".repeat(20 - filled.min(20)),
        embedded,
        c.chunks,
        pct
    ));
    let rate = status.vectors.rate;
    if rate > 0.0 {
        let eta = (c.pending as f64 / rate) as u64;
        parts.push(format!(
            "{rate:.0} chunks/s  ETA {}:{:02}",
            eta / 60,
            eta % 60
        ));
    } else if let Some(b) = &status.vectors.blocked {
        parts.push(format!("({b})"));
    }
    parts.join("  ")
}

/// Options of `weft search`.
pub struct SearchArgs {
    /// The query.
    pub query: String,
    /// Hits.
    pub k: usize,
    /// JSON output.
    pub json: bool,
    /// Path glob.
    pub path: Option<String>,
    /// Language.
    pub lang: Option<String>,
    /// Chunk kind.
    pub kind: Option<String>,
    /// Keyword and symbol only.
    pub no_vector: bool,
}

/// `weft search`: hybrid search through the daemon; keyword and symbol search straight from
/// the database when no daemon runs.
pub async fn search(loaded: &Loaded, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let req = SearchRequest {
        query: args.query.clone(),
        k: Some(args.k),
        workspace: None,
        path: args.path.clone(),
        lang: args.lang.clone(),
        kind: args.kind.clone(),
        no_vector: args.no_vector,
        vector_only: false,
    };
    let socket = loaded.paths.socket_path();
    let answer: SearchAnswer = match api::request(
        &socket,
        "POST",
        "/v1/search",
        Some(serde_json::to_value(&req)?),
    )
    .await
    {
        Ok(b) => serde_json::from_slice(&b).context("reading the search answer")?,
        Err(ClientError::NotRunning { .. }) => {
            let db = loaded.paths.db_path();
            anyhow::ensure!(
                db.exists(),
                "nothing is indexed yet for profile `{}`; run `weft index PATH` first",
                loaded.paths.profile
            );
            let storage =
                weft_actors::storage::Storage::open(weft_actors::storage::StorageOptions::new(db))
                    .await?;
            let result = weft_actors::index::search_lexical(&storage, &req).await;
            storage.close().await.ok();
            let mut r = result.map_err(|e| anyhow::anyhow!("{e}"))?;
            r.notes.push(
                    "no daemon running: keyword and symbol search only; start `weft serve` for semantic search"
                        .to_owned(),
                );
            SearchAnswer {
                code: r,
                terminal: Vec::new(),
            }
        }
        Err(ClientError::Status {
            status: 400,
            message,
        }) => anyhow::bail!("{message}"),
        Err(e) => return Err(e.into()),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ExitCode::SUCCESS);
    }
    let SearchAnswer {
        code: response,
        terminal,
    } = answer;
    for note in &response.notes {
        eprintln!("note: {note}");
    }
    if response.hits.is_empty() && terminal.is_empty() {
        println!("no results for {:?}", args.query);
        return Ok(ExitCode::SUCCESS);
    }
    if !terminal.is_empty() {
        println!("from your terminals:");
        for e in &terminal {
            let status = e.exit_code.map_or("?".to_owned(), |c| c.to_string());
            println!(
                "  [{status}] {}  ({})",
                e.command,
                e.cwd.as_deref().unwrap_or("?")
            );
        }
    }
    for (i, h) in response.hits.iter().enumerate() {
        let s = &h.scores;
        let mut signals = Vec::new();
        if let Some(r) = s.fts_rank {
            signals.push(format!("kw#{r}"));
        }
        if let Some(v) = s.vector {
            signals.push(format!("vec {v:.2}"));
        }
        if let Some(r) = s.symbol_rank {
            signals.push(format!("sym#{r}"));
        }
        println!(
            "{:>2}. {}:{}-{}{}  {}{}  [{}]",
            i + 1,
            h.path,
            h.start_line,
            h.end_line,
            if h.stale { "  (stale)" } else { "" },
            h.kind,
            h.symbol
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default(),
            signals.join(", ")
        );
        for (j, line) in h.snippet.lines().enumerate() {
            println!("    {:>5} | {line}", h.snippet_line as usize + j);
        }
    }
    eprintln!(
        "{} hits in {:.1} ms (keyword {}, vector {}, symbol {} candidates)",
        response.hits.len(),
        response.took_ms,
        response.fts_candidates,
        response.vector_candidates,
        response.symbol_candidates
    );
    Ok(ExitCode::SUCCESS)
}
