//! Terminals: one supervised actor per shell Weft starts, the shell integration that turns
//! each command into a record, and the command history.
//!
//! ```text
//! terms (one_for_one, under root)
//! ├── term-embed   embeds recorded commands into the LanceDB table `terminal_<model>`
//! ├── term-1       TermActor: input, resize, and the pump of terminal 1's output
//! └── term-2       ... one dynamic child per open terminal
//! ```
//!
//! What belongs to a terminal and what to its actor: the shell, its PTY, the reader and
//! writer threads, the output log and the shell-integration state live in a [`TermCore`]
//! held by [`Terminals`], not in the actor. The actor is the machinery around them (its
//! mailbox serialises input and resizes, its pump task moves output from the reader thread
//! to the log and records commands). So when the actor crashes, or `weft kill` kills it,
//! the supervisor starts a new one on the same core and the user's shell never notices;
//! when the shell exits, the actor stops normally (`transient`: not restarted) and the exit
//! is reported. A user's shell is never restarted behind their back.
//!
//! Shells end with Weft: [`Terminals::close_all`] hangs them up at shutdown; if the daemon
//! is killed, the kernel closes the PTY masters and the shells get SIGHUP. See
//! [`output`] for the output path and its backpressure, [`marks`] for the parser,
//! [`shell`] for the integration snippets, [`redact`] for secrets and [`history`] for the
//! tables.

pub mod embed;
pub mod history;
pub mod marks;
pub mod output;
pub mod redact;
pub mod shell;
pub mod when;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portable_pty::{ChildKiller, CommandBuilder, MasterPty, PtySize};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch, Notify};

pub use history::{HistoryDetail, HistoryEntry, HistoryQuery};
pub use marks::{CommandRecord, Found, Recorder};
pub use output::{OutputLog, Read};

use crate::config::TerminalConfig;
use crate::index::IndexService;
use crate::pool::Pools;
use crate::storage::{Storage, StorageError};
use crate::supervision::events::unix_ms;
use crate::supervision::{
    ChildKind, ChildSpec, Restart, Shutdown, StartCtx, Supervisor, SupervisorArgs, SupervisorFlags,
    SupervisorHandle,
};

/// Why a terminal request failed. Each message names the terminal or the thing, and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TermError {
    /// No such terminal.
    #[error("terminal {0} does not exist (list them with GET /v1/terms)")]
    NotFound(u64),
    /// The terminal's shell has ended.
    #[error("terminal {0} has exited; open a new one")]
    Exited(u64),
    /// A request the caller can fix.
    #[error("{0}")]
    BadRequest(String),
    /// The terminals supervisor is not running right now.
    #[error("terminals are not available right now ({0}); try again in a moment")]
    Unavailable(String),
    /// The PTY or the shell could not be started.
    #[error("cannot start the shell {shell}: {reason}")]
    Spawn {
        /// The shell.
        shell: String,
        /// Why.
        reason: String,
    },
    /// The database.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// How a shell ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitInfo {
    /// Its exit status (none when a signal ended it).
    pub code: Option<i32>,
    /// `exited` (it ended by itself), `killed` (a signal), `closed` (Weft closed it).
    pub reason: String,
}

/// A terminal as the API lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TermInfo {
    /// Its id (unique for the daemon's life).
    pub id: u64,
    /// The shell's process id.
    pub pid: Option<u32>,
    /// The shell program.
    pub shell: String,
    /// The shell's current folder (from OSC 7; the start folder until it reports one).
    pub cwd: String,
    /// Width in columns.
    pub cols: u16,
    /// Height in rows.
    pub rows: u16,
    /// When it started (Unix ms).
    pub started_ms: i64,
    /// Its row in `terminal_sessions`.
    pub session_id: i64,
    /// Whether the shell still runs.
    pub alive: bool,
    /// The shell's exit status, once it ended.
    pub exit_code: Option<i32>,
    /// How it ended, once it ended.
    pub end_reason: Option<String>,
    /// The title the shell set (OSC 0/2).
    pub title: String,
    /// Whether the shell integration runs (commands are recorded).
    pub integrated: bool,
}

/// What to open.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpenTerm {
    /// Start folder; the daemon's workspace when absent.
    pub cwd: Option<String>,
    /// Width (default 80).
    pub cols: Option<u16>,
    /// Height (default 24).
    pub rows: Option<u16>,
    /// The shell; `[terminal] shell`, `$SHELL`, the login shell or `/bin/sh` when absent.
    pub shell: Option<String>,
}

/// A control message to a viewer, next to the output bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TermControl {
    /// The shell ended; no more output follows.
    Exit {
        /// Its exit status.
        code: Option<i32>,
        /// `exited`, `killed` or `closed`.
        reason: String,
    },
    /// The shell changed folder.
    Cwd {
        /// The folder.
        cwd: String,
    },
    /// A command finished and was recorded.
    Command {
        /// Its entry.
        entry: HistoryEntry,
    },
    /// This viewer fell behind and skipped this many bytes.
    Dropped {
        /// Bytes skipped.
        bytes: u64,
    },
    /// The shell set the title.
    Title {
        /// The title.
        title: String,
    },
}

/// The answer to a history search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistoryAnswer {
    /// The commands, best first (newest first without words).
    pub entries: Vec<HistoryEntry>,
    /// Whether meaning took part in the ranking.
    pub semantic: bool,
    /// The window of start times a time phrase of the query asked for.
    pub window: Option<when::Window>,
}

/// What a viewer receives.
#[derive(Debug, Clone, PartialEq)]
pub enum TermFrame {
    /// Output bytes, in order.
    Output(Vec<u8>),
    /// A control message.
    Control(TermControl),
}

/// Terminal events for the live stream (`{"type":"term","event":...}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TermEvent {
    /// A terminal was opened.
    Opened {
        /// Its id.
        term: u64,
        /// It.
        info: TermInfo,
    },
    /// A terminal's shell ended.
    Exited {
        /// Its id.
        term: u64,
        /// Its exit status.
        code: Option<i32>,
        /// `exited`, `killed` or `closed`.
        reason: String,
    },
    /// A command finished and was recorded.
    Command {
        /// The terminal.
        term: u64,
        /// The entry.
        entry: HistoryEntry,
    },
    /// A terminal's shell changed folder.
    Cwd {
        /// The terminal.
        term: u64,
        /// The folder.
        cwd: String,
    },
}

#[derive(Debug)]
struct TermState {
    cols: u16,
    rows: u16,
    cwd: String,
    title: String,
    seq: i64,
    integrated: bool,
    exit: Option<ExitInfo>,
}

/// One terminal's shell and machinery (see the module docs: it outlives its actor).
pub struct TermCore {
    id: u64,
    session_id: i64,
    shell: String,
    pid: Option<u32>,
    started_ms: i64,
    state: Mutex<TermState>,
    master: Mutex<Box<dyn MasterPty + Send>>,
    input: mpsc::Sender<Vec<u8>>,
    raw: tokio::sync::Mutex<mpsc::Receiver<Vec<u8>>>,
    log: OutputLog,
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    recorder: Mutex<Recorder>,
    killer: Mutex<Box<dyn ChildKiller + Send + Sync>>,
    controls: broadcast::Sender<TermControl>,
    closing: AtomicBool,
    actor: Mutex<Option<ActorRef<TermMsg>>>,
}

impl std::fmt::Debug for TermCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TermCore")
            .field("id", &self.id)
            .field("shell", &self.shell)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TermCore {
    /// Its id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The shell's process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// How it looks now.
    pub fn info(&self) -> TermInfo {
        let s = lock(&self.state);
        TermInfo {
            id: self.id,
            pid: self.pid,
            shell: self.shell.clone(),
            cwd: s.cwd.clone(),
            cols: s.cols,
            rows: s.rows,
            started_ms: self.started_ms,
            session_id: self.session_id,
            alive: s.exit.is_none(),
            exit_code: s.exit.as_ref().and_then(|e| e.code),
            end_reason: s.exit.as_ref().map(|e| e.reason.clone()),
            title: s.title.clone(),
            integrated: s.integrated,
        }
    }

    fn exited(&self) -> bool {
        lock(&self.state).exit.is_some()
    }

    /// SIGHUP to the shell (what closing a terminal window sends).
    fn hang_up(&self) {
        if let Err(e) = lock(&self.killer).kill() {
            tracing::debug!(term = self.id, error = %e, "SIGHUP to the shell failed");
        }
    }

    /// SIGKILL to the shell's whole process group (it leads its own session).
    fn kill_group(&self) {
        if let Some(pid) = self.pid.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) with a negative pid signals the process group; no memory.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for TermCore {
    fn drop(&mut self) {
        // The last handle is gone: a shell still running would be orphaned.
        if !self.exited() {
            self.kill_group();
        }
    }
}

/// A viewer of one terminal: the scrollback first, then live output, and control messages.
pub struct Attachment {
    core: Arc<TermCore>,
    cursor: Arc<output::Cursor>,
    end_rx: watch::Receiver<u64>,
    controls: broadcast::Receiver<TermControl>,
    exit_sent: bool,
}

impl Attachment {
    /// The terminal's id.
    pub fn id(&self) -> u64 {
        self.core.id
    }

    /// The next frame; `None` after the exit message.
    pub async fn next(&mut self) -> Option<TermFrame> {
        loop {
            match self.controls.try_recv() {
                Ok(c) => return Some(TermFrame::Control(c)),
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => {}
            }
            match self.core.log.read(&self.cursor, output::MAX_FRAME) {
                Read::Data(bytes) => return Some(TermFrame::Output(bytes)),
                Read::Dropped(bytes) => {
                    return Some(TermFrame::Control(TermControl::Dropped { bytes }))
                }
                Read::Empty => {}
            }
            if self.core.log.is_closed() {
                if self.exit_sent {
                    return None;
                }
                self.exit_sent = true;
                let exit = lock(&self.core.state).exit.clone().unwrap_or(ExitInfo {
                    code: None,
                    reason: "exited".into(),
                });
                return Some(TermFrame::Control(TermControl::Exit {
                    code: exit.code,
                    reason: exit.reason,
                }));
            }
            tokio::select! {
                changed = self.end_rx.changed() => {
                    if changed.is_err() && !self.core.log.is_closed() {
                        return None;
                    }
                }
                c = self.controls.recv() => match c {
                    Ok(c) => return Some(TermFrame::Control(c)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {}
                },
            }
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // The pump may be waiting for this viewer.
        self.core.log.viewer_left();
    }
}

/// What terminals need from the rest of the core.
#[derive(Clone)]
pub struct TermDeps {
    /// The database.
    pub storage: Storage,
    /// `[terminal]`.
    pub config: TerminalConfig,
    /// This run's boot id (tags sessions).
    pub boot_id: String,
    /// Where the shell-integration snippets are written.
    pub integration_dir: PathBuf,
    /// The daemon's workspace: id and root (the default cwd).
    pub workspace: Option<(i64, PathBuf)>,
    /// The worker pools (embeddings).
    pub pools: Pools,
    /// The index (its vector store).
    pub index: IndexService,
}

struct Inner {
    deps: TermDeps,
    next_id: AtomicU64,
    terms: Mutex<BTreeMap<u64, Arc<TermCore>>>,
    sup: Mutex<Option<SupervisorHandle>>,
    events: broadcast::Sender<TermEvent>,
    embed_wake: Notify,
}

/// The handle on every terminal of the daemon; cheap to clone.
#[derive(Clone)]
pub struct Terminals {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Terminals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminals").finish_non_exhaustive()
    }
}

/// Lines kept for a terminal that ended, so the UI can show how it ended.
const KEEP_EXITED: Duration = Duration::from_secs(60);

impl Terminals {
    /// No terminals yet; they open once the `terms` supervisor runs.
    pub fn new(deps: TermDeps) -> Self {
        let (events, _) = broadcast::channel(256);
        Self {
            inner: Arc::new(Inner {
                deps,
                next_id: AtomicU64::new(1),
                terms: Mutex::new(BTreeMap::new()),
                sup: Mutex::new(None),
                events,
                embed_wake: Notify::new(),
            }),
        }
    }

    /// The dependencies.
    pub fn deps(&self) -> &TermDeps {
        &self.inner.deps
    }

    /// Follows terminal events.
    pub fn subscribe(&self) -> broadcast::Receiver<TermEvent> {
        self.inner.events.subscribe()
    }

    fn emit(&self, e: TermEvent) {
        let _ = self.inner.events.send(e);
    }

    fn core(&self, id: u64) -> Result<Arc<TermCore>, TermError> {
        lock(&self.inner.terms)
            .get(&id)
            .cloned()
            .ok_or(TermError::NotFound(id))
    }

    fn live(&self) -> Vec<Arc<TermCore>> {
        lock(&self.inner.terms)
            .values()
            .filter(|c| !c.exited())
            .cloned()
            .collect()
    }

    /// Every terminal (live ones, and ones that ended in the last minute), by id.
    pub fn list(&self) -> Vec<TermInfo> {
        lock(&self.inner.terms).values().map(|c| c.info()).collect()
    }

    /// One terminal.
    pub fn info(&self, id: u64) -> Result<TermInfo, TermError> {
        Ok(self.core(id)?.info())
    }

    fn supervisor(&self) -> Result<SupervisorHandle, TermError> {
        lock(&self.inner.sup)
            .clone()
            .ok_or_else(|| TermError::Unavailable("the terms supervisor is restarting".into()))
    }

    /// Opens a terminal: starts the shell on a new PTY and its actor under `terms`.
    pub async fn open(&self, req: OpenTerm) -> Result<TermInfo, TermError> {
        let sup = self.supervisor()?;
        let deps = &self.inner.deps;
        let cwd = match req.cwd.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => PathBuf::from(c),
            None => match &deps.workspace {
                Some((_, root)) => root.clone(),
                None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            },
        };
        if !cwd.is_dir() {
            return Err(TermError::BadRequest(format!(
                "cwd {} is not an existing folder; pass one that exists",
                cwd.display()
            )));
        }
        let program = match req.shell.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => s.trim().to_owned(),
            None => shell::resolve(&deps.config.shell),
        };
        let Some(program_path) = which(&program) else {
            return Err(TermError::BadRequest(format!(
                "shell {program:?} was not found or is not executable; install it, or set \
                 [terminal] shell (or pass \"shell\") to one that is, e.g. /bin/bash"
            )));
        };
        let cols = req.cols.unwrap_or(80).clamp(2, 1000);
        let rows = req.rows.unwrap_or(24).clamp(1, 500);
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        let dir = deps.integration_dir.clone();
        let spawn_cwd = cwd.clone();
        let spawn_program = program_path.clone();
        let spawned = tokio::task::spawn_blocking(move || {
            spawn_pty(id, &spawn_program, &spawn_cwd, &dir, cols, rows)
        })
        .await
        .map_err(|e| TermError::Spawn {
            shell: program.clone(),
            reason: e.to_string(),
        })??;
        let started_ms = unix_ms();
        let session_id = history::insert_session(
            &deps.storage,
            deps.workspace.as_ref().map(|(id, _)| *id),
            program_path.to_string_lossy().into_owned(),
            cwd.to_string_lossy().into_owned(),
            deps.boot_id.clone(),
            started_ms,
        )
        .await;
        let session_id = match session_id {
            Ok(s) => s,
            Err(e) => {
                spawned.hang_up_and_kill();
                return Err(e.into());
            }
        };
        let (controls, _) = broadcast::channel(64);
        let core = Arc::new(TermCore {
            id,
            session_id,
            shell: program_path.to_string_lossy().into_owned(),
            pid: spawned.pid,
            started_ms,
            state: Mutex::new(TermState {
                cols,
                rows,
                cwd: cwd.to_string_lossy().into_owned(),
                title: String::new(),
                seq: 0,
                integrated: false,
                exit: None,
            }),
            master: Mutex::new(spawned.master),
            input: spawned.input,
            raw: tokio::sync::Mutex::new(spawned.raw),
            log: OutputLog::new(usize::try_from(deps.config.scrollback_bytes).unwrap_or(2 << 20)),
            exit_rx: spawned.exit_rx,
            recorder: Mutex::new(Recorder::new(
                usize::try_from(deps.config.max_output_bytes).unwrap_or(64 * 1024),
                unix_ms,
            )),
            killer: Mutex::new(spawned.killer),
            controls,
            closing: AtomicBool::new(false),
            actor: Mutex::new(None),
        });
        lock(&self.inner.terms).insert(id, Arc::clone(&core));
        if let Err(e) = sup.start_child(self.term_spec(Arc::clone(&core))).await {
            lock(&self.inner.terms).remove(&id);
            core.hang_up();
            core.kill_group();
            let _ =
                history::end_session(&deps.storage, session_id, unix_ms(), None, "failed").await;
            return Err(TermError::Unavailable(e.to_string()));
        }
        let info = core.info();
        tracing::info!(term = id, shell = %info.shell, cwd = %info.cwd, pid = ?info.pid, "terminal opened");
        self.emit(TermEvent::Opened {
            term: id,
            info: info.clone(),
        });
        Ok(info)
    }

    fn actor(&self, id: u64) -> Result<(Arc<TermCore>, ActorRef<TermMsg>), TermError> {
        let core = self.core(id)?;
        if core.exited() {
            return Err(TermError::Exited(id));
        }
        let actor = lock(&core.actor).clone().ok_or_else(|| {
            TermError::Unavailable(format!("terminal {id}'s actor is restarting"))
        })?;
        Ok((core, actor))
    }

    /// Sends input (keystrokes, a paste) to the shell.
    pub fn write(&self, id: u64, data: Vec<u8>) -> Result<(), TermError> {
        let (_, actor) = self.actor(id)?;
        actor
            .cast(TermMsg::Input(data))
            .map_err(|e| TermError::Unavailable(e.to_string()))
    }

    /// Resizes the terminal.
    pub fn resize(&self, id: u64, cols: u16, rows: u16) -> Result<(), TermError> {
        if !(2..=1000).contains(&cols) || !(1..=500).contains(&rows) {
            return Err(TermError::BadRequest(format!(
                "size {cols}x{rows} is out of range: cols 2..=1000, rows 1..=500"
            )));
        }
        let (_, actor) = self.actor(id)?;
        actor
            .cast(TermMsg::Resize(cols, rows))
            .map_err(|e| TermError::Unavailable(e.to_string()))
    }

    /// Attaches a viewer.
    pub fn attach(&self, id: u64) -> Result<Attachment, TermError> {
        let core = self.core(id)?;
        let controls = core.controls.subscribe();
        let (cursor, end_rx) = core.log.cursor();
        Ok(Attachment {
            core,
            cursor,
            end_rx,
            controls,
            exit_sent: false,
        })
    }

    /// Closes a terminal: SIGHUP to the shell, SIGKILL to its process group after 2 s.
    pub fn close(&self, id: u64) -> Result<(), TermError> {
        let core = self.core(id)?;
        if core.exited() {
            return Ok(());
        }
        core.closing.store(true, Ordering::SeqCst);
        core.hang_up();
        tokio::spawn(async move {
            let mut rx = core.exit_rx.clone();
            let exited =
                tokio::time::timeout(Duration::from_secs(2), rx.wait_for(Option::is_some)).await;
            if exited.is_err() {
                core.kill_group();
            }
        });
        Ok(())
    }

    /// Ends every shell (at shutdown): SIGHUP, then SIGKILL to what is left after `grace`;
    /// waits until each exit is recorded or `grace` passes again.
    pub async fn close_all(&self, grace: Duration) {
        let live = self.live();
        if live.is_empty() {
            return;
        }
        for core in &live {
            core.closing.store(true, Ordering::SeqCst);
            core.hang_up();
        }
        let wait_all = |cores: Vec<Arc<TermCore>>| async move {
            for core in cores {
                let mut rx = core.exit_rx.clone();
                let _ = rx.wait_for(Option::is_some).await;
            }
        };
        if tokio::time::timeout(grace, wait_all(live.clone()))
            .await
            .is_err()
        {
            for core in &live {
                if core.exit_rx.borrow().is_none() {
                    core.kill_group();
                }
            }
        }
        // Let the pumps record the exits.
        let recorded = |cores: Vec<Arc<TermCore>>| async move {
            while cores.iter().any(|c| !c.exited()) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let _ = tokio::time::timeout(grace, recorded(live)).await;
    }

    fn term_spec(&self, core: Arc<TermCore>) -> ChildSpec {
        let terms = self.clone();
        ChildSpec::actor(format!("term-{}", core.id), move || {
            (
                TermActor,
                TermActorArgs {
                    core: Arc::clone(&core),
                    terms: terms.clone(),
                },
            )
        })
        .restart(Restart::Transient)
        .shutdown(Shutdown::Timeout(Duration::from_secs(2)))
    }

    /// The shell ended: drop its actor's spec now and the terminal after a minute.
    fn forget_later(&self, id: u64) {
        let terms = self.clone();
        tokio::spawn(async move {
            if let Ok(sup) = terms.supervisor() {
                let _ = sup.terminate_child(&format!("term-{id}")).await;
            }
            tokio::time::sleep(KEEP_EXITED).await;
            lock(&terms.inner.terms).remove(&id);
        });
    }

    async fn on_found(&self, core: &TermCore, found: Found) {
        match found {
            Found::Started(_) => {}
            Found::Integrated => lock(&core.state).integrated = true,
            Found::Title(title) => {
                lock(&core.state).title = title.clone();
                let _ = core.controls.send(TermControl::Title { title });
            }
            Found::Cwd(cwd) => {
                lock(&core.state).cwd = cwd.clone();
                let _ = core.controls.send(TermControl::Cwd { cwd: cwd.clone() });
                self.emit(TermEvent::Cwd { term: core.id, cwd });
            }
            Found::Finished(mut rec) => {
                if !self.inner.deps.config.record {
                    return;
                }
                rec.command = redact::redact(&rec.command).into_owned();
                rec.output = redact::redact(&rec.output).into_owned();
                let seq = {
                    let mut s = lock(&core.state);
                    s.seq += 1;
                    s.seq
                };
                let stored = history::insert_command(
                    &self.inner.deps.storage,
                    core.session_id,
                    seq,
                    rec,
                    true,
                )
                .await;
                match stored {
                    Ok(entry) => {
                        let _ = core.controls.send(TermControl::Command {
                            entry: entry.clone(),
                        });
                        self.emit(TermEvent::Command {
                            term: core.id,
                            entry,
                        });
                        self.inner.embed_wake.notify_one();
                    }
                    Err(e) => {
                        tracing::warn!(term = core.id, error = %e, "could not record a command")
                    }
                }
            }
        }
    }

    async fn on_exit(&self, core: &TermCore) {
        let mut rx = core.exit_rx.clone();
        let status = tokio::time::timeout(Duration::from_secs(3), rx.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|v| v.clone()));
        let mut exit = status.unwrap_or(ExitInfo {
            code: None,
            reason: "exited".into(),
        });
        if core.closing.load(Ordering::SeqCst) {
            exit.reason = "closed".into();
        }
        let mut found = Vec::new();
        lock(&core.recorder).end(&mut found);
        for f in found {
            self.on_found(core, f).await;
        }
        if let Err(e) = history::end_session(
            &self.inner.deps.storage,
            core.session_id,
            unix_ms(),
            exit.code,
            &exit.reason,
        )
        .await
        {
            tracing::warn!(term = core.id, error = %e, "could not record the end of a terminal session");
        }
        lock(&core.state).exit = Some(exit.clone());
        core.log.close();
        tracing::info!(term = core.id, code = ?exit.code, reason = %exit.reason, "terminal ended");
        self.emit(TermEvent::Exited {
            term: core.id,
            code: exit.code,
            reason: exit.reason,
        });
    }

    /// Wakes the embedder (a command was recorded).
    pub fn embed_wake(&self) -> &Notify {
        &self.inner.embed_wake
    }

    /// Search the history: keyword (FTS) and, with `semantic`, meaning (the terminal vectors),
    /// fused by reciprocal rank. A time phrase in the query ("yesterday", "in the last 2
    /// hours") becomes a window of start times; the answer says which.
    pub async fn history(&self, mut q: HistoryQuery) -> Result<HistoryAnswer, TermError> {
        if let Some(term) = q.term {
            // A terminal that is gone has no commands to match.
            q.session = Some(self.core(term).map(|c| c.session_id).unwrap_or(-1));
        }
        let mut window = None;
        if let Some(text) = q.q.clone() {
            let now = unix_ms();
            let (rest, found) = when::split(&text, now, when::local_offset_ms(now));
            if let Some(w) = found {
                q.q = Some(rest);
                q.since_ms = Some(q.since_ms.map_or(w.since_ms, |s| s.max(w.since_ms)));
                q.until_ms = Some(q.until_ms.map_or(w.until_ms, |u| u.min(w.until_ms)));
                window = Some(w);
            }
        }
        let words = q.q.as_deref().map(str::trim).unwrap_or("").to_owned();
        let answer = |entries, semantic| HistoryAnswer {
            entries,
            semantic,
            window,
        };
        if !q.semantic || words.is_empty() {
            return Ok(answer(
                history::list(&self.inner.deps.storage, q).await?,
                false,
            ));
        }
        let mut wide = q.clone();
        wide.limit = Some(100);
        let keyword = history::list(&self.inner.deps.storage, wide.clone()).await?;
        let semantic = match embed::nearest(&self.inner.deps, &words, 100).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::debug!(error = %e, "semantic history search unavailable");
                return Ok(answer(truncate(keyword, q.limit()), false));
            }
        };
        let ids: Vec<i64> = semantic.iter().map(|(id, _)| *id).collect();
        let found = history::by_ids(&self.inner.deps.storage, ids, wide).await?;
        let mut by_id: BTreeMap<i64, HistoryEntry> = found.into_iter().map(|e| (e.id, e)).collect();
        let mut scores: BTreeMap<i64, f64> = BTreeMap::new();
        const K: f64 = 60.0;
        for (rank, e) in keyword.iter().enumerate() {
            *scores.entry(e.id).or_default() += 1.0 / (K + rank as f64 + 1.0);
        }
        let mut rank = 0;
        for (id, _) in &semantic {
            if by_id.contains_key(id) {
                *scores.entry(*id).or_default() += 1.0 / (K + rank as f64 + 1.0);
                rank += 1;
            }
        }
        for e in keyword {
            by_id.entry(e.id).or_insert(e);
        }
        let mut fused: Vec<HistoryEntry> = scores
            .into_iter()
            .filter_map(|(id, s)| {
                by_id.remove(&id).map(|mut e| {
                    e.score = Some(s);
                    e
                })
            })
            .collect();
        fused.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(b.id.cmp(&a.id))
        });
        Ok(answer(truncate(fused, q.limit()), true))
    }

    /// Whether any command has been recorded (a cheap check before a search asks).
    pub async fn has_history(&self) -> bool {
        self.inner
            .deps
            .storage
            .read(|conn| {
                Ok(
                    conn.query_row("SELECT EXISTS (SELECT 1 FROM terminal_commands)", [], |r| {
                        r.get::<_, bool>(0)
                    })?,
                )
            })
            .await
            .unwrap_or(false)
    }

    /// One recorded command with its output.
    pub async fn history_entry(&self, id: i64) -> Result<Option<HistoryDetail>, TermError> {
        Ok(history::get(&self.inner.deps.storage, id).await?)
    }

    /// The `terms` supervisor: the embedder, and one child per terminal. A restarted
    /// supervisor starts actors again for every shell still running.
    pub fn child(&self, flags: SupervisorFlags) -> ChildSpec {
        let terms = self.clone();
        let mut spec = ChildSpec::new("terms", move |ctx: StartCtx| {
            let terms = terms.clone();
            let flags = flags.clone();
            async move {
                let mut children = vec![embed::child(&terms)];
                children.extend(terms.live().into_iter().map(|c| terms.term_spec(c)));
                let args = SupervisorArgs {
                    path: ctx.path,
                    flags,
                    children,
                    events: ctx.events,
                };
                let (sup, _) = Actor::spawn_linked(None, Supervisor, args, ctx.supervisor).await?;
                *lock(&terms.inner.sup) = Some(SupervisorHandle::new(sup.clone()));
                Ok(sup.get_cell())
            }
        });
        spec.kind = ChildKind::Supervisor;
        spec.shutdown = Shutdown::Timeout(Duration::from_secs(10));
        spec
    }
}

fn truncate(mut v: Vec<HistoryEntry>, n: usize) -> Vec<HistoryEntry> {
    v.truncate(n);
    v
}

/// `program` as an executable path: itself when it has a `/`, else found on `PATH`.
fn which(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
}

/// What [`spawn_pty`] made.
struct Spawned {
    pid: Option<u32>,
    master: Box<dyn MasterPty + Send>,
    input: mpsc::Sender<Vec<u8>>,
    raw: mpsc::Receiver<Vec<u8>>,
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    killer: Box<dyn ChildKiller + Send + Sync>,
}

impl Spawned {
    fn hang_up_and_kill(mut self) {
        let _ = self.killer.kill();
        if let Some(pid) = self.pid.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: signals the shell's process group; no memory is involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// Reads per PTY read; the pump coalesces several.
const READ_BUF: usize = 64 * 1024;

/// Opens a PTY and starts the shell with Weft's integration, plus its reader, writer and
/// waiter threads. Blocking: run it on a blocking thread.
fn spawn_pty(
    id: u64,
    program: &Path,
    cwd: &Path,
    dir: &Path,
    cols: u16,
    rows: u16,
) -> Result<Spawned, TermError> {
    let shell_name = program.display().to_string();
    let fail = |reason: String| TermError::Spawn {
        shell: shell_name.clone(),
        reason,
    };
    if let Err(e) = shell::install(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot write the shell integration; commands will not be recorded");
    }
    let pty = portable_pty::native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|e| fail(format!("opening a PTY failed: {e}")))?;
    let program_str = program.to_string_lossy().into_owned();
    let (_kind, args, env) = shell::launch(&program_str, dir);
    let mut cmd = CommandBuilder::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env("TERM", "xterm-256color");
    cmd.env("COLORTERM", "truecolor");
    cmd.env("TERM_PROGRAM", "weft");
    cmd.env("TERM_PROGRAM_VERSION", env!("CARGO_PKG_VERSION"));
    cmd.env("WEFT_TERM_ID", id.to_string());
    cmd.env_remove("__weft_loaded");
    cmd.cwd(cwd);
    let mut child = pair
        .slave
        .spawn_command(cmd)
        .map_err(|e| fail(e.to_string()))?;
    drop(pair.slave);
    let pid = child.process_id();
    let killer = child.clone_killer();
    let mut reader = pair
        .master
        .try_clone_reader()
        .map_err(|e| fail(format!("PTY reader: {e}")))?;
    let mut writer = pair
        .master
        .take_writer()
        .map_err(|e| fail(format!("PTY writer: {e}")))?;

    let (raw_tx, raw) = mpsc::channel::<Vec<u8>>(16);
    let (input, mut input_rx) = mpsc::channel::<Vec<u8>>(256);
    let (exit_tx, exit_rx) = watch::channel(None);
    let spawn_thread = |name: String, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name)
            .spawn(f)
            .map(|_| ())
            .map_err(|e| fail(format!("starting a thread: {e}")))
    };
    spawn_thread(
        format!("term-{id}-read"),
        Box::new(move || {
            let mut buf = vec![0u8; READ_BUF];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if raw_tx.blocking_send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    // EIO once the shell and everything holding the PTY's other side ended.
                    Err(_) => break,
                }
            }
        }),
    )?;
    spawn_thread(
        format!("term-{id}-write"),
        Box::new(move || {
            while let Some(data) = input_rx.blocking_recv() {
                if writer
                    .write_all(&data)
                    .and_then(|()| writer.flush())
                    .is_err()
                {
                    break;
                }
            }
        }),
    )?;
    spawn_thread(
        format!("term-{id}-wait"),
        Box::new(move || {
            let info = match child.wait() {
                Ok(status) => match status.signal() {
                    Some(_) => ExitInfo {
                        code: None,
                        reason: "killed".into(),
                    },
                    None => ExitInfo {
                        code: i32::try_from(status.exit_code()).ok(),
                        reason: "exited".into(),
                    },
                },
                Err(_) => ExitInfo {
                    code: None,
                    reason: "exited".into(),
                },
            };
            exit_tx.send_replace(Some(info));
        }),
    )?;
    Ok(Spawned {
        pid,
        master: pair.master,
        input,
        raw,
        exit_rx,
        killer,
    })
}

/// Messages of a [`TermActor`].
pub enum TermMsg {
    /// Bytes for the shell.
    Input(Vec<u8>),
    /// New size (cols, rows).
    Resize(u16, u16),
    /// The pump ended: `None` when the shell ended, the panic message when it crashed.
    PumpEnded(Option<String>),
}

/// The actor of one terminal (see the module docs).
pub struct TermActor;

/// Its arguments: the terminal it drives.
pub struct TermActorArgs {
    core: Arc<TermCore>,
    terms: Terminals,
}

/// Its state: the pump task, aborted when the actor goes.
pub struct TermActorState {
    core: Arc<TermCore>,
    terms: Terminals,
    pump: tokio::task::AbortHandle,
}

impl Drop for TermActorState {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// Moves output from the reader thread to the log and records commands, until the shell's
/// side of the PTY closes.
async fn pump(core: Arc<TermCore>, terms: Terminals) {
    let mut found = Vec::new();
    loop {
        let chunk = {
            let mut raw = core.raw.lock().await;
            match raw.recv().await {
                Some(mut bytes) => {
                    while bytes.len() < 4 * READ_BUF {
                        match raw.try_recv() {
                            Ok(more) => bytes.extend_from_slice(&more),
                            Err(_) => break,
                        }
                    }
                    Some(bytes)
                }
                None => None,
            }
        };
        let Some(bytes) = chunk else { break };
        lock(&core.recorder).feed(&bytes, &mut found);
        core.log.push(&bytes);
        for f in found.drain(..) {
            terms.on_found(&core, f).await;
        }
        core.log.wait_room().await;
    }
    terms.on_exit(&core).await;
}

impl Actor for TermActor {
    type Msg = TermMsg;
    type State = TermActorState;
    type Arguments = TermActorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let TermActorArgs { core, terms } = args;
        *lock(&core.actor) = Some(myself.clone());
        if core.exited() {
            // Restarted after its shell ended: nothing to drive.
            myself.stop(Some("shell already exited".into()));
            let idle = tokio::spawn(async {});
            return Ok(TermActorState {
                pump: idle.abort_handle(),
                core,
                terms,
            });
        }
        let task = tokio::spawn(pump(Arc::clone(&core), terms.clone()));
        let pump_abort = task.abort_handle();
        let me = myself.clone();
        tokio::spawn(async move {
            match task.await {
                Ok(()) => {
                    let _ = me.cast(TermMsg::PumpEnded(None));
                }
                Err(e) if e.is_panic() => {
                    let _ = me.cast(TermMsg::PumpEnded(Some(format!(
                        "output pump panicked: {e}"
                    ))));
                }
                Err(_) => {}
            }
        });
        Ok(TermActorState {
            core,
            terms,
            pump: pump_abort,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TermMsg::Input(data) => {
                // Bounded: a shell that does not read its input holds the sender back here,
                // for this terminal only.
                if state.core.input.send(data).await.is_err() {
                    tracing::debug!(
                        term = state.core.id,
                        "input for a terminal whose writer ended"
                    );
                }
            }
            TermMsg::Resize(cols, rows) => {
                let size = PtySize {
                    rows,
                    cols,
                    pixel_width: 0,
                    pixel_height: 0,
                };
                match lock(&state.core.master).resize(size) {
                    Ok(()) => {
                        let mut s = lock(&state.core.state);
                        s.cols = cols;
                        s.rows = rows;
                    }
                    Err(e) => tracing::debug!(term = state.core.id, error = %e, "resize failed"),
                }
            }
            TermMsg::PumpEnded(None) => {
                state.terms.forget_later(state.core.id);
                myself.stop(Some("shell exited".into()));
            }
            TermMsg::PumpEnded(Some(panic)) => return Err(panic.into()),
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        *lock(&state.core.actor) = None;
        Ok(())
    }
}
