//! `weft`: the CLI and headless daemon. Glue over `weft-actors`; every capability lives in
//! the library so the desktop shell can start the same tree.

mod git_cmd;
mod index_cmd;
mod term_cmd;

/// mimalloc for the whole process (tree-sitter's C allocations use it too, see
/// `weft_chunk`): with many threads (chunkers, tokio, LanceDB) glibc's per-thread arenas
/// kept freed memory resident and cost measurable time in the chunkers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use weft_actors::api::{self, ClientError, KillRequest, StatusReport};
use weft_actors::config::{self, Loaded};
use weft_actors::doctor::{self, CheckStatus};
use weft_actors::supervision::{NodeState, NodeStatus};
use weft_actors::tree;

/// Weft: a local-first workspace where code, terminals, notes and chat share one memory.
#[derive(Parser)]
#[command(name = "weft", version, about)]
struct Cli {
    /// Profile to use (each profile has its own data directory); overrides WEFT_PROFILE.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// Data root; overrides WEFT_HOME.
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the core (supervision tree, storage, local API) until SIGINT or SIGTERM.
    Serve {
        /// The folder to serve.
        #[arg(default_value = ".")]
        path: PathBuf,
    },
    /// Show the live supervision tree of the running `weft serve`.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check the machine and the profile; one line per check, with the fix when one fails.
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Kill one actor of the running daemon, as if it crashed (fault injection).
    Kill {
        /// Its path as `weft status` shows it, e.g. `root/storage`.
        path: String,
    },
    /// Print the one-time URL that opens the running daemon's UI in a browser.
    UiUrl,
    /// Print the effective configuration and where things live.
    Config,
    /// Index a folder: registers it with the running daemon (or indexes it in this process
    /// when none runs) and shows live progress until keyword search covers it.
    Index {
        /// The folder.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Also wait until every chunk has its vector.
        #[arg(long)]
        wait: bool,
        /// Print one JSON summary instead of the progress line.
        #[arg(long)]
        json: bool,
    },
    /// Search the index: keyword, symbol and semantic signals fused.
    Search {
        /// Words, an identifier, or a description of what the code does.
        query: Vec<String>,
        /// Number of results.
        #[arg(long, short = 'k', default_value_t = 10)]
        k: usize,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Only paths matching this glob, e.g. `src/**/*.rs` or `*.py`.
        #[arg(long)]
        path: Option<String>,
        /// Only this language (rust, python, typescript, tsx, javascript, go, java, c, cpp,
        /// markdown, toml, json, yaml, shell, text).
        #[arg(long)]
        lang: Option<String>,
        /// Only this chunk kind (function, method, class, impl, section, ...).
        #[arg(long)]
        kind: Option<String>,
        /// Keyword and symbol signals only.
        #[arg(long)]
        no_vector: bool,
    },
    /// Open a terminal in the running daemon, in this folder, and attach to it until its
    /// shell exits (the shell's commands are recorded like those of the UI's terminals).
    Term,
    /// The commands run in Weft's terminals: newest first, or those matching QUERY.
    History {
        /// Words to find in the command, its output or its folder.
        query: Vec<String>,
        /// Only commands that failed.
        #[arg(long)]
        failed: bool,
        /// Rank by meaning too ("the test command that failed"); needs the embed pool.
        #[arg(long)]
        semantic: bool,
        /// Most entries shown.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show the git history the daemon recorded for its workspace, newest first.
    GitLog {
        /// Machine-readable output (the `GET /v1/git/log` answer).
        #[arg(long)]
        json: bool,
        /// Most events.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Another registered workspace (its id, as `GET /v1/workspaces` lists it).
        #[arg(long)]
        workspace: Option<i64>,
    },
    /// Embed texts with the daemon's embed pool (args, or one text per stdin line).
    Embed {
        /// Texts; read from stdin (one per line) when none are given.
        texts: Vec<String>,
        /// Embed as search queries instead of documents.
        #[arg(long)]
        query: bool,
        /// Print the vectors as JSON (default: a summary per text).
        #[arg(long)]
        json: bool,
    },
    /// Extract entities (paths, URLs, issue refs, TODOs, ...) with the ner pool.
    Entities {
        /// Texts; stdin (whole) when none are given.
        texts: Vec<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Ask the llm pool; tokens stream as they are generated.
    Ask {
        /// The question; stdin when none is given.
        prompt: Vec<String>,
        /// A litellm provider string (e.g. `ollama/llama3`); default: the local model.
        #[arg(long, default_value = "")]
        model: String,
        /// OpenAI-compatible base URL for `openai/...` models served locally.
        #[arg(long, default_value = "")]
        api_base: String,
        /// Token budget.
        #[arg(long, default_value_t = 256)]
        max_tokens: u32,
        /// Print each chunk as a JSON line.
        #[arg(long)]
        json: bool,
    },
}

/// Exit code when the daemon is not running (for `status`, `kill`).
const EXIT_NOT_RUNNING: u8 = 3;
/// Exit code when the supervision tree gave up.
const EXIT_TREE_FAILED: u8 = 2;

fn main() -> ExitCode {
    weft_chunk::configure_memory();
    let cli = Cli::parse();
    let loaded = match load_config(&cli) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("weft: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&loaded.config.log.filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("weft: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command, loaded));
    // Don't let a stuck blocking task hold the process open after an orderly shutdown.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("weft: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> Result<Loaded, config::ConfigError> {
    config::load_with(cli.profile.as_deref(), cli.home.as_deref())
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("weft: log filter `{filter}` is invalid ({e}); using `info`");
        tracing_subscriber::EnvFilter::new("info")
    });
    // Colour only for a person at a terminal; logs captured to files stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

async fn run(command: Command, loaded: Loaded) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { path } => serve(loaded, path).await,
        Command::Status { json } => status(&loaded, json).await,
        Command::Doctor { json } => doctor(loaded, json).await,
        Command::Kill { path } => kill(&loaded, path).await,
        Command::UiUrl => ui_url(&loaded).await,
        Command::GitLog {
            json,
            limit,
            workspace,
        } => git_cmd::git_log(&loaded, json, limit, workspace).await,
        Command::Embed { texts, query, json } => embed(&loaded, texts, query, json).await,
        Command::Entities { texts, json } => entities(&loaded, texts, json).await,
        Command::Ask {
            prompt,
            model,
            api_base,
            max_tokens,
            json,
        } => ask(&loaded, prompt, model, api_base, max_tokens, json).await,
        Command::Index { path, wait, json } => index_cmd::index(&loaded, path, wait, json).await,
        Command::Search {
            query,
            k,
            json,
            path,
            lang,
            kind,
            no_vector,
        } => {
            let query = query.join(" ");
            anyhow::ensure!(
                !query.trim().is_empty(),
                "give a query: words, an identifier or a description, e.g. `weft search \"parse config file\"`"
            );
            index_cmd::search(
                &loaded,
                index_cmd::SearchArgs {
                    query,
                    k,
                    json,
                    path,
                    lang,
                    kind,
                    no_vector,
                },
            )
            .await
        }
        Command::Term => term_cmd::term(&loaded).await,
        Command::History {
            query,
            failed,
            semantic,
            limit,
            json,
        } => {
            term_cmd::history(
                &loaded,
                term_cmd::HistoryArgs {
                    query: query.join(" "),
                    failed,
                    semantic,
                    limit,
                    json,
                },
            )
            .await
        }
        Command::Config => {
            print!("# config file: {}", loaded.paths.config_file.display());
            println!(
                "{}",
                if loaded.file_found {
                    ""
                } else {
                    " (not found: defaults in use)"
                }
            );
            println!("# data dir:    {}", loaded.paths.data_dir().display());
            println!("# database:    {}", loaded.paths.db_path().display());
            println!("# api socket:  {}", loaded.paths.socket_path().display());
            println!("# api token:   {}", loaded.paths.api_token_path().display());
            print!("{}", loaded.config.to_toml());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(loaded: Loaded, path: PathBuf) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{signal, SignalKind};
    // Install handlers before starting, so a signal during start-up is not lost.
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;

    let mut core = tree::start(&loaded, &path).await?;
    eprintln!(
        "weft serve: profile `{}`, workspace {}, data {}, api {} (pid {})",
        core.info.profile,
        core.info.workspace.display(),
        core.info.data_dir.display(),
        core.socket.display(),
        core.info.pid
    );
    if let Some(url) = core.ui_url() {
        eprintln!("weft serve: open {url}");
    }
    let signalled = tokio::select! {
        _ = sigterm.recv() => Some("SIGTERM"),
        _ = sigint.recv() => Some("SIGINT"),
        _ = core.wait_root() => None,
    };
    match signalled {
        Some(sig) => {
            tracing::info!(signal = sig, "shutting down");
            core.shutdown(tree::shutdown_budget(&loaded)).await?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let last = core
                .view
                .node("root")
                .and_then(|n| n.last_error)
                .unwrap_or_else(|| "the root supervisor stopped".into());
            eprintln!("weft serve: the supervision tree gave up: {last}");
            core.shutdown(Duration::from_secs(1)).await.ok();
            Ok(ExitCode::from(EXIT_TREE_FAILED))
        }
    }
}

async fn status(loaded: &Loaded, json: bool) -> anyhow::Result<ExitCode> {
    let report = match api::fetch_status(&loaded.paths.socket_path()).await {
        Ok(r) => r,
        Err(e @ ClientError::NotRunning { .. }) => {
            eprintln!("weft: {e}");
            return Ok(ExitCode::from(EXIT_NOT_RUNNING));
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_status(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_status(report: &StatusReport) -> String {
    let d = &report.daemon;
    let up = Duration::from_millis(
        u64::try_from(weft_actors::supervision::events::unix_ms() - d.started_ms).unwrap_or(0),
    );
    let mut out = format!(
        "weft serve {} — pid {}, profile `{}`, up {}s, {}\nworkspace {}\n\n",
        d.version,
        d.pid,
        d.profile,
        up.as_secs(),
        if report.degraded {
            "DEGRADED"
        } else {
            "healthy"
        },
        d.workspace.display()
    );
    let width = report
        .tree
        .iter()
        .map(|n| node_label(n).chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    out.push_str(&format!(
        "{:<width$}  {:<10}  {:>8}  DETAIL\n",
        "NODE", "STATE", "RESTARTS"
    ));
    for n in &report.tree {
        let state = match n.state {
            NodeState::Running => "running",
            NodeState::Restarting => "restarting",
            NodeState::Stopped => "stopped",
            NodeState::Failed => "FAILED",
        };
        let mut detail: Vec<String> = n
            .info
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) => format!("{k}={s}"),
                None => format!("{k}={v}"),
            })
            .collect();
        if let Some(e) = &n.last_error {
            detail.push(format!("last error: {e}"));
        }
        out.push_str(&format!(
            "{:<width$}  {:<10}  {:>8}  {}\n",
            node_label(n),
            state,
            n.restarts,
            if detail.is_empty() {
                "-".to_string()
            } else {
                detail.join("  ")
            }
        ));
    }
    if !report.pools.is_empty() {
        out.push_str("\nPOOL    READY  QUEUED  IN-FLIGHT  SERVED  RETRIED\n");
        for (name, p) in &report.pools {
            out.push_str(&format!(
                "{name:<6}  {:>5}  {:>6}  {:>9}  {:>6}  {:>7}\n",
                p.ready, p.queued, p.in_flight, p.served, p.retried
            ));
        }
    }
    if let Some(index) = &report.index {
        out.push_str("\nWORKSPACE  PHASE     FILES  SKIPPED  CHUNKS  EMBEDDED  WATCH  ROOT\n");
        for w in &index.workspaces {
            let c = &w.counts;
            out.push_str(&format!(
                "{:>9}  {:<8}  {:>5}  {:>7}  {:>6}  {:>8}  {}  {}\n",
                w.id,
                w.phase,
                c.files,
                c.skipped,
                c.chunks,
                c.chunks.saturating_sub(c.pending),
                w.watch,
                w.root
            ));
            if let Some(e) = &w.last_error {
                out.push_str(&format!("           last error: {e}\n"));
            }
        }
        let v = &index.vectors;
        out.push_str(&format!(
            "vectors: {} ({} rows{}){}{}\n",
            v.model.as_deref().unwrap_or("none yet"),
            v.rows,
            if v.indexed { ", ANN index" } else { "" },
            v.building
                .as_deref()
                .map(|b| format!("; rebuilding into {b}"))
                .unwrap_or_default(),
            v.blocked
                .as_deref()
                .map(|b| format!("; {b}"))
                .unwrap_or_default()
        ));
    }
    out
}

/// `root/pools/embed` shows as `    embed`, indented by depth under its parent.
fn node_label(n: &NodeStatus) -> String {
    let depth = n.path.matches('/').count();
    let name = n.path.rsplit('/').next().unwrap_or(&n.path);
    format!("{}{}", "  ".repeat(depth), name)
}

async fn doctor(loaded: Loaded, json: bool) -> anyhow::Result<ExitCode> {
    let socket = loaded.paths.socket_path();
    let mut checks = tokio::task::spawn_blocking(move || doctor::run_checks(&loaded))
        .await
        .context("running checks")?;
    let daemon = match api::fetch_status(&socket).await {
        Ok(r) => {
            // What the running daemon cannot do right now (a worker whose model does not
            // load, a pool that gave up), each with the error that says why.
            for n in r
                .tree
                .iter()
                .filter(|n| n.state == NodeState::Failed || n.state == NodeState::Restarting)
            {
                checks.push(doctor::Check {
                    name: "daemon node".into(),
                    status: CheckStatus::Fail,
                    detail: format!(
                        "{} is {}: {}",
                        n.path,
                        if n.state == NodeState::Failed { "down" } else { "restarting" },
                        n.last_error.as_deref().unwrap_or("no error recorded")
                    ),
                    fix: Some("fix what the error names (config key, model path, venv), then restart `weft serve`".into()),
                });
            }
            format!(
                "running (pid {}, {})",
                r.daemon.pid,
                if r.degraded { "degraded" } else { "healthy" }
            )
        }
        Err(ClientError::NotRunning { .. }) => "not running (start it with `weft serve`)".into(),
        Err(e) => format!("not answering: {e}"),
    };
    let failed = checks.iter().any(|c| c.status == CheckStatus::Fail);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "checks": checks, "daemon": daemon })
            )?
        );
    } else {
        print!("{}", doctor::render(&checks));
        println!("daemon: {daemon}");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn ui_url(loaded: &Loaded) -> anyhow::Result<ExitCode> {
    // The file outlives a crashed daemon: ask the daemon first, as `weft status` does.
    if let Err(e) = api::fetch_status(&loaded.paths.socket_path()).await {
        return client_failure(e);
    }
    let file = loaded.paths.api_url_path();
    match tokio::fs::read_to_string(&file).await {
        Ok(url) => {
            println!("{}", url.trim());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(anyhow::anyhow!(
            "the running `weft serve` has no browser listener ([api] http = false, or it is \
             restarting); set [api] http = true (or WEFT_API__HTTP=true) and restart it"
        )),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", file.display())),
    }
}

async fn kill(loaded: &Loaded, path: String) -> anyhow::Result<ExitCode> {
    let body = serde_json::to_value(KillRequest { path: path.clone() })?;
    match api::request(&loaded.paths.socket_path(), "POST", "/v1/kill", Some(body)).await {
        Ok(_) => {
            println!("killed {path}; its supervisor decides what happens next (see `weft status`)");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ ClientError::NotRunning { .. }) => {
            eprintln!("weft: {e}");
            Ok(ExitCode::from(EXIT_NOT_RUNNING))
        }
        // Killing the API itself may cut its own answer short.
        Err(ClientError::Transport { .. }) if path == "root/api" => {
            println!("killed {path}; its supervisor decides what happens next (see `weft status`)");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads stdin as UTF-8; invalid bytes are a clear error, not mangled text.
fn read_stdin() -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("reading stdin")?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "stdin is not valid UTF-8 (first bad byte at offset {}); convert it first, e.g. `iconv -f latin1 -t utf-8`",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Maps a client error to an exit code (3: no daemon) or an error.
fn client_failure(e: ClientError) -> anyhow::Result<ExitCode> {
    match e {
        e @ ClientError::NotRunning { .. } => {
            eprintln!("weft: {e}");
            Ok(ExitCode::from(EXIT_NOT_RUNNING))
        }
        e => Err(e.into()),
    }
}

async fn embed(
    loaded: &Loaded,
    texts: Vec<String>,
    query: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let texts = if texts.is_empty() {
        read_stdin()?.lines().map(String::from).collect()
    } else {
        texts
    };
    let body = serde_json::to_value(api::EmbedBody { texts, query })?;
    let answer =
        match api::request(&loaded.paths.socket_path(), "POST", "/v1/embed", Some(body)).await {
            Ok(b) => b,
            Err(e) => return client_failure(e),
        };
    let answer: api::EmbedAnswer =
        serde_json::from_slice(&answer).context("reading the embed answer")?;
    if json {
        println!("{}", serde_json::to_string(&answer)?);
    } else {
        println!(
            "{} vectors, dim {}, model {}",
            answer.vectors.len(),
            answer.dim,
            answer.model_id
        );
        for (i, v) in answer.vectors.iter().enumerate() {
            let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:.4}")).collect();
            println!("{i:>4}: [{}, ...]", head.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn entities(loaded: &Loaded, texts: Vec<String>, json: bool) -> anyhow::Result<ExitCode> {
    let texts = if texts.is_empty() {
        vec![read_stdin()?]
    } else {
        texts
    };
    let body = serde_json::to_value(api::EntitiesBody { texts })?;
    let answer = match api::request(
        &loaded.paths.socket_path(),
        "POST",
        "/v1/entities",
        Some(body),
    )
    .await
    {
        Ok(b) => b,
        Err(e) => return client_failure(e),
    };
    let v: serde_json::Value =
        serde_json::from_slice(&answer).context("reading the entities answer")?;
    if json {
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    for (i, list) in v["results"].as_array().into_iter().flatten().enumerate() {
        for e in list.as_array().into_iter().flatten() {
            println!(
                "{i}\t{}\t{}..{}\t{}{}",
                e["label"].as_str().unwrap_or(""),
                e["start"],
                e["end"],
                e["text"].as_str().unwrap_or(""),
                e["detail"]
                    .as_str()
                    .filter(|d| !d.is_empty())
                    .map(|d| format!("\t{d}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn ask(
    loaded: &Loaded,
    prompt: Vec<String>,
    model: String,
    api_base: String,
    max_tokens: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let prompt = if prompt.is_empty() {
        read_stdin()?
    } else {
        prompt.join(" ")
    };
    let body = serde_json::to_value(api::AskBody {
        prompt,
        model,
        max_tokens,
        api_base,
    })?;
    let mut failed: Option<String> = None;
    let result = api::request_lines(&loaded.paths.socket_path(), "/v1/ask", body, |line| {
        if json {
            println!("{line}");
        } else if let Some(msg) = line.get("message").and_then(|m| m.as_str()) {
            failed = Some(msg.to_string());
        } else if let Some(t) = line.get("text").and_then(|t| t.as_str()) {
            print!("{t}");
            let _ = std::io::stdout().flush();
        }
        if json && line.get("code").is_some() {
            failed = line
                .get("message")
                .and_then(|m| m.as_str())
                .map(String::from);
        }
    })
    .await;
    if !json {
        println!();
    }
    if let Err(e) = result {
        return client_failure(e);
    }
    match failed {
        Some(msg) => Err(anyhow::anyhow!(msg)),
        None => Ok(ExitCode::SUCCESS),
    }
}
