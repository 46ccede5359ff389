//! `weft-desktop`: Weft's desktop shell. A Tauri v2 window over the same core library that
//! `weft serve` runs; nothing here is a capability of its own.
//!
//! Start-up: parse `weft-desktop [WORKSPACE]`, check for a display, load the configuration
//! exactly like `weft` (file, then `WEFT_*` environment, then `--profile`/`--home`; the
//! loopback HTTP listener for browsers stays off unless `--http`), start the
//! supervision tree with [`tree::start`] on our tokio runtime (handed to Tauri with
//! [`tauri::async_runtime::set`], so the core and the shell share one runtime), then open the
//! window. The page talks to the core through one command, [`api`] (see [`bridge`]), and
//! follows the core's stream through the `weft://stream` event.
//!
//! Shutdown: closing the window, SIGINT, SIGTERM or SIGHUP ends the event loop
//! ([`tauri::App::run_return`] returns instead of exiting the process), then the core is
//! stopped like `weft serve` stops it, so no worker process is left behind. A start-up
//! failure (bad configuration, another instance on the profile, no display) prints one clear
//! message, shows it in a native dialog when there is a display, and exits non-zero.

mod bridge;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::Parser;
use serde_json::Value;
use tauri::{AppHandle, Emitter};
use tokio::signal::unix::{signal, Signal, SignalKind};
use weft_actors::api::{self, ApiContext};
use weft_actors::config::{self, Loaded};
use weft_actors::tree::{self, Core};

use crate::bridge::ApiFailure;

/// The Tauri event that carries the core's stream messages (`ui/src/api/tauri.ts`).
const STREAM_EVENT: &str = "weft://stream";
/// Exit code when the supervision tree gave up (as `weft serve`).
const EXIT_TREE_FAILED: u8 = 2;

/// Weft's desktop window: the workspace, search and health panels over the local core.
#[derive(Parser)]
#[command(name = "weft-desktop", version, about)]
struct Cli {
    /// The folder to open.
    #[arg(default_value = ".")]
    workspace: PathBuf,
    /// Profile to use (each profile has its own data directory); overrides WEFT_PROFILE.
    #[arg(long)]
    profile: Option<String>,
    /// Data root; overrides WEFT_HOME.
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Report a failed start on stderr only, without the error dialog (scripts, CI).
    #[arg(long)]
    no_dialog: bool,
    /// Also serve the browser UI on `[api] listen`, as `weft serve` does (off by default: the
    /// window needs no network listener, and a `weft serve` of another profile may hold the
    /// port).
    #[arg(long)]
    http: bool,
}

/// What the window's commands reach: the core (taken out at shutdown) and its router.
struct Shell {
    core: Mutex<Option<Core>>,
    ctx: ApiContext,
    router: axum::Router,
    /// Set once the page's first `GET /v1/status` succeeded (logged once: the smoke test and
    /// a person reading the log both learn that the front end is up).
    front_end_up: AtomicBool,
    /// Terminal viewers the page attached (`term_attach`), by attachment id.
    attachments: Mutex<std::collections::HashMap<u32, tokio::task::AbortHandle>>,
    next_attachment: std::sync::atomic::AtomicU32,
}

impl Shell {
    fn core(&self) -> MutexGuard<'_, Option<Core>> {
        // A panic while holding the lock cannot leave `Option<Core>` half-written.
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn root_ended(&self) -> bool {
        self.core().as_ref().is_some_and(Core::root_ended)
    }
}

/// The page's one command: `invoke("api", {method, path, body})`, answered like the HTTP API.
#[tauri::command]
async fn api(
    shell: tauri::State<'_, Arc<Shell>>,
    method: String,
    path: String,
    body: Option<Value>,
) -> Result<Value, ApiFailure> {
    let started = std::time::Instant::now();
    let result = bridge::call(&shell.router, &method, &path, body).await;
    let status = match &result {
        Ok(_) => 200,
        Err(f) => f.status,
    };
    tracing::debug!(%method, %path, status, elapsed_ms = started.elapsed().as_millis() as u64, "api");
    if result.is_ok()
        && path == "/v1/status"
        && method.eq_ignore_ascii_case("GET")
        && !shell.front_end_up.swap(true, Ordering::Relaxed)
    {
        tracing::info!("front end connected: GET /v1/status answered");
    }
    result
}

/// `invoke("term_attach", {id, onFrame})`: follows a terminal (scrollback, then live output)
/// on a Tauri channel, as the browser does on `/v1/terms/{id}/io`. Frames are
/// `{"data": base64 bytes}` or `{"control": TermControl}`; returns the attachment id for
/// `term_detach`. Input and resizes go through `api` (`POST /v1/terms/{id}/input|resize`).
#[tauri::command]
async fn term_attach(
    shell: tauri::State<'_, Arc<Shell>>,
    id: u64,
    on_frame: tauri::ipc::Channel<Value>,
) -> Result<u32, ApiFailure> {
    use base64::Engine as _;
    let mut attachment = shell.ctx.terms.attach(id).map_err(|e| ApiFailure {
        status: 404,
        code: "no_such_terminal".into(),
        message: e.to_string(),
    })?;
    let key = shell.next_attachment.fetch_add(1, Ordering::Relaxed);
    let owner = Arc::clone(&shell);
    let task = tokio::spawn(async move {
        while let Some(frame) = attachment.next().await {
            let value = match frame {
                weft_actors::term::TermFrame::Output(bytes) => serde_json::json!({
                    "data": base64::engine::general_purpose::STANDARD.encode(bytes)
                }),
                weft_actors::term::TermFrame::Control(c) => serde_json::json!({ "control": c }),
            };
            if on_frame.send(value).is_err() {
                break;
            }
        }
        lock(&owner.attachments).remove(&key);
    });
    lock(&shell.attachments).insert(key, task.abort_handle());
    Ok(key)
}

/// `invoke("term_detach", {attachment})`: stops following a terminal.
#[tauri::command]
async fn term_detach(
    shell: tauri::State<'_, Arc<Shell>>,
    attachment: u32,
) -> Result<(), ApiFailure> {
    if let Some(task) = lock(&shell.attachments).remove(&attachment) {
        task.abort();
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn main() -> ExitCode {
    // tree-sitter allocates through mimalloc here too: the same policy as the daemon.
    weft_chunk::configure_memory();
    let cli = Cli::parse();
    let dialog = !cli.no_dialog;

    // Before anything holds the profile: without a display there is no window to open.
    if let Err(e) = display::check() {
        return fail(false, &e);
    }
    let mut loaded = match load_config(&cli) {
        Ok(l) => l,
        Err(e) => return fail(dialog, &e.to_string()),
    };
    loaded.config.api.http &= cli.http;
    init_logging(&loaded.config.log.filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(dialog, &format!("cannot start the async runtime: {e}")),
    };
    // Tauri spawns its tasks (commands, our forwarders) on this runtime too.
    tauri::async_runtime::set(runtime.handle().clone());

    // Installed before the core starts, so a signal during start-up is not lost.
    let signals = match runtime.block_on(async { Signals::install() }) {
        Ok(s) => s,
        Err(e) => return fail(dialog, &format!("installing signal handlers: {e}")),
    };
    let core = match runtime.block_on(tree::start(&loaded, &cli.workspace)) {
        Ok(core) => core,
        Err(e) => return fail(dialog, &start_failure(&e)),
    };
    eprintln!(
        "weft-desktop: profile `{}`, workspace {}, data {}, api {} (pid {})",
        core.info.profile,
        core.info.workspace.display(),
        core.info.data_dir.display(),
        core.socket.display(),
        core.info.pid
    );
    if let Some(url) = core.ui_url() {
        eprintln!("weft-desktop: browser UI at {url}");
    }
    let ctx = core.api_context();
    let shell = Arc::new(Shell {
        router: api::router(ctx.clone()),
        ctx,
        core: Mutex::new(Some(core)),
        front_end_up: AtomicBool::new(false),
        attachments: Mutex::new(std::collections::HashMap::new()),
        next_attachment: std::sync::atomic::AtomicU32::new(1),
    });

    let setup_shell = Arc::clone(&shell);
    let built = tauri::Builder::default()
        .manage(Arc::clone(&shell))
        .invoke_handler(tauri::generate_handler![api, term_attach, term_detach])
        .setup(move |app| {
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(forward_stream(handle.clone(), setup_shell.ctx.clone()));
            tauri::async_runtime::spawn(exit_on_signal(handle.clone(), signals));
            tauri::async_runtime::spawn(exit_when_tree_gives_up(handle, setup_shell));
            Ok(())
        })
        .build(tauri::generate_context!());
    let (code, window_error) = match built {
        Ok(app) => (app.run_return(|_, _| {}), None),
        Err(e) => (1, Some(format!("cannot open the window: {e}"))),
    };

    let tree_failed = shell.root_ended();
    let stopped = stop_core(&runtime, &shell, &loaded);
    // Don't let a stuck blocking task hold the process open after an orderly shutdown.
    runtime.shutdown_timeout(Duration::from_millis(200));

    if let Some(message) = window_error {
        return fail(dialog, &message);
    }
    if tree_failed {
        return ExitCode::from(EXIT_TREE_FAILED);
    }
    if let Err(e) = stopped {
        eprintln!("weft-desktop: stopping the core: {e}");
        return ExitCode::FAILURE;
    }
    match u8::try_from(code) {
        Ok(c) => ExitCode::from(c),
        Err(_) => ExitCode::FAILURE,
    }
}

/// Stops the core as `weft serve` does: the tree in reverse start order, with a budget that
/// covers the workers' SIGTERM grace (a worker still loading its model must not turn a clean
/// stop into a SIGKILL).
fn stop_core(
    runtime: &tokio::runtime::Runtime,
    shell: &Shell,
    loaded: &Loaded,
) -> Result<(), tree::CoreError> {
    let Some(core) = shell.core().take() else {
        return Ok(());
    };
    if core.root_ended() {
        let last = core
            .view
            .node("root")
            .and_then(|n| n.last_error)
            .unwrap_or_else(|| "the root supervisor stopped".into());
        eprintln!("weft-desktop: the supervision tree gave up: {last}");
        return runtime.block_on(core.shutdown(Duration::from_secs(1)));
    }
    let budget = tree::shutdown_budget(loaded);
    tracing::info!(budget_ms = budget.as_millis() as u64, "shutting down");
    runtime.block_on(core.shutdown(budget))
}

/// Forwards every stream message of the core to the page.
async fn forward_stream(app: AppHandle, ctx: ApiContext) {
    let mut messages = api::stream::subscribe(ctx);
    while let Some(message) = messages.recv().await {
        if let Err(e) = app.emit(STREAM_EVENT, &message) {
            tracing::warn!(error = %e, "cannot emit a stream message to the window");
        }
    }
    tracing::debug!("the core's stream ended");
}

/// SIGINT, SIGTERM and SIGHUP close the window, which stops the core.
struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    /// Must run inside the runtime (tokio's signal driver).
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

async fn exit_on_signal(app: AppHandle, mut s: Signals) {
    let name = tokio::select! {
        _ = s.int.recv() => "SIGINT",
        _ = s.term.recv() => "SIGTERM",
        _ = s.hup.recv() => "SIGHUP",
    };
    tracing::info!(signal = name, "closing the window");
    app.exit(0);
}

/// The root supervisor gave up (its restart intensity was exceeded): nothing behind the
/// window works any more, so close it and exit like `weft serve` does.
async fn exit_when_tree_gives_up(app: AppHandle, shell: Arc<Shell>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if shell.root_ended() {
            tracing::error!("the supervision tree gave up; closing the window");
            app.exit(i32::from(EXIT_TREE_FAILED));
            return;
        }
        if shell.core().is_none() {
            return;
        }
    }
}

/// The configuration, resolved like `weft`'s: `--profile`/`--home` beat the environment.
fn load_config(cli: &Cli) -> Result<Loaded, config::ConfigError> {
    config::load_with(cli.profile.as_deref(), cli.home.as_deref())
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("weft-desktop: log filter `{filter}` is invalid ({e}); using `info`");
        tracing_subscriber::EnvFilter::new("info")
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

/// Why the core did not start, in the desktop's words where the core's speak of `weft serve`.
fn start_failure(e: &tree::CoreError) -> String {
    match e {
        tree::CoreError::AlreadyRunning { profile, lock } => format!(
            "Weft is already running for profile `{profile}` (a weft-desktop window or `weft \
             serve`; lock {}): switch to it or stop it, or open this one with another \
             --profile",
            lock.display()
        ),
        tree::CoreError::Workspace { path, reason } => format!(
            "workspace folder {}: {reason}; pass an existing folder: `weft-desktop FOLDER`",
            path.display()
        ),
        other => other.to_string(),
    }
}

/// Reports a failed start: stderr always, a native dialog too when asked and possible.
fn fail(dialog: bool, message: &str) -> ExitCode {
    eprintln!("weft-desktop: {message}");
    if dialog {
        display::error_dialog(message);
    }
    ExitCode::FAILURE
}

#[cfg(target_os = "linux")]
mod display {
    //! GTK, which tao already links: a display check that fails with a message instead of
    //! tao's panic, and a modal error dialog for a failed start.

    use gtk::prelude::*;

    /// Title of the error dialog (the smoke test looks for this window).
    pub const ERROR_TITLE: &str = "Weft: cannot start";

    pub fn check() -> Result<(), String> {
        gtk::init().map_err(|e| {
            format!(
                "cannot open a display ({e}); run weft-desktop in a graphical session \
                 (DISPLAY or WAYLAND_DISPLAY set) or under xvfb-run, or use `weft serve` \
                 without a window"
            )
        })
    }

    pub fn error_dialog(message: &str) {
        if !gtk::is_initialized_main_thread() {
            return;
        }
        let dialog = gtk::MessageDialog::new(
            None::<&gtk::Window>,
            gtk::DialogFlags::MODAL,
            gtk::MessageType::Error,
            gtk::ButtonsType::Close,
            "Weft could not start",
        );
        dialog.set_title(ERROR_TITLE);
        dialog.set_secondary_text(Some(message));
        // The core's signal handlers are installed by now and act only on a running window:
        // let a signal close the dialog instead (glib takes the signals over from here on).
        for signum in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            let d = dialog.clone();
            gtk::glib::unix_signal_add_local(signum, move || {
                d.response(gtk::ResponseType::Close);
                gtk::glib::ControlFlow::Break
            });
        }
        let _response = dialog.run();
        dialog.close();
    }
}

#[cfg(not(target_os = "linux"))]
mod display {
    //! Elsewhere the window toolkit checks the display itself; failures go to stderr.

    pub fn check() -> Result<(), String> {
        Ok(())
    }

    pub fn error_dialog(_message: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
        let cli = Cli::parse_from(["weft-desktop"]);
        assert_eq!(cli.workspace, PathBuf::from("."));
        let cli = Cli::parse_from(["weft-desktop", "--no-dialog", "--profile", "p", "/tmp/w"]);
        assert!(cli.no_dialog);
        assert_eq!(cli.profile.as_deref(), Some("p"));
        assert_eq!(cli.workspace, PathBuf::from("/tmp/w"));
    }
}
