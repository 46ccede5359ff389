//! The workspace watcher: turns filesystem notifications into debounced batches of changed
//! paths, under the same ignore rules as the [walker](mod@super::walk), so the index can stay up
//! to date without rescanning the whole workspace.
//!
//! Natively (inotify on Linux) it watches every *non-ignored* directory on its own,
//! non-recursively: `target/`, `node_modules/` and `.git/` never cost a watch, so a heavy
//! repository does not exhaust the per-user inotify limit on trees nobody indexes. A
//! directory created later gets its watches when its creation is seen, and its files are
//! reported then (they may have been written before the watch existed).
//!
//! When the native limit is reached (or [`WatchOptions::max_native_watches`] would be
//! exceeded) it warns once, with the `sysctl` fix, and falls back to polling the same
//! directories; [`WatchOptions::force_polling`] starts there (network filesystems). Whenever
//! events may have been lost (queue overflow, watcher error, switch to polling, an ignore
//! file changed) the consumer gets [`WatchEvent::Rescan`] and must rescan everything.
//!
//! Everything runs on one dedicated thread (`weft-watch`) that owns the notify backend and
//! sends to the consumer with `try_send`, so it never blocks a tokio worker and a slow
//! consumer only makes batches larger (or, past a bound, turns them into a `Rescan`).

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RemoveKind};
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::error::TrySendError;

use super::walk::{walk, WalkOptions, WalkOutcome, WEFTIGNORE};

/// Default quiet period before a batch is sent.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(50);
/// Default longest wait for a batch under continuous churn.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_millis(500);
/// Default polling interval in polling mode.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Past this many pending paths (a consumer that stopped reading, a `git checkout` of a huge
/// tree) a batch is replaced by a [`WatchEvent::Rescan`]: cheaper than holding them all.
const MAX_PENDING: usize = 65_536;
/// How often an idle watcher thread checks whether the consumer went away.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// The inotify watch limit the warning recommends (the same as `weft doctor`).
const RECOMMENDED_WATCHES: u64 = 524_288;
/// The ignore files whose change changes what is ignored.
const IGNORE_FILES: [&str; 3] = [".gitignore", ".ignore", WEFTIGNORE];

/// What the watcher tells its consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Absolute paths created, modified, removed or renamed (both the old and the new path),
    /// deduplicated and sorted, after the debounce. Directories are included: a created,
    /// removed or renamed directory is reported as the directory's path (and the files of a
    /// created one as well).
    Paths(Vec<PathBuf>),
    /// Events may have been lost (kernel queue overflow, watcher error, watches added late,
    /// the switch to polling, an ignore file changed): the consumer must rescan the whole
    /// workspace.
    Rescan {
        /// Why, for logs.
        reason: String,
    },
}

/// How the watcher learns about changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchMode {
    /// Kernel notifications (inotify on Linux), one watch per non-ignored directory.
    Native,
    /// Polling the non-ignored directories every [`WatchOptions::poll_interval`].
    Polling {
        /// Why native watching is not used (forced, the watch limit, no inotify).
        reason: String,
    },
}

/// What to watch and how; [`WatchOptions::new`] gives the defaults the daemon uses.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The workspace root; reported paths are absolute paths under it.
    pub root: PathBuf,
    /// A batch is sent once no new event arrived for this long.
    pub debounce: Duration,
    /// Under continuous churn a batch is sent at least this often.
    pub max_delay: Duration,
    /// How often polling mode looks at the watched directories.
    pub poll_interval: Duration,
    /// Start in polling mode (for network filesystems, where inotify sees nothing).
    pub force_polling: bool,
    /// Behave as if the native limit allowed this many watched directories (configuration,
    /// and a test hook for the fallback); `None`: only the kernel's limit applies.
    pub max_native_watches: Option<usize>,
}

impl WatchOptions {
    /// Options for `root`: 50 ms debounce, 500 ms maximum delay, 2 s polling interval,
    /// native mode when available, no extra watch limit.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WatchOptions {
            root: root.into(),
            debounce: DEFAULT_DEBOUNCE,
            max_delay: DEFAULT_MAX_DELAY,
            poll_interval: DEFAULT_POLL_INTERVAL,
            force_polling: false,
            max_native_watches: None,
        }
    }
}

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The root is missing, unreadable or not a directory.
    #[error(
        "cannot watch workspace root {}: {reason}; check that the directory exists and is readable",
        path.display()
    )]
    Root {
        /// The root given in [`WatchOptions`].
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Neither native watching nor polling could watch the root.
    #[error(
        "cannot watch workspace root {}: {source}; check its permissions, or set \
         force_polling for network filesystems",
        path.display()
    )]
    Backend {
        /// The root given in [`WatchOptions`].
        path: PathBuf,
        /// The notify error.
        #[source]
        source: notify::Error,
    },
    /// The watcher thread could not be started.
    #[error(
        "cannot start the watcher thread for {}: {source}; the system may be out of threads",
        path.display()
    )]
    Thread {
        /// The root given in [`WatchOptions`].
        path: PathBuf,
        /// Why the thread did not start.
        #[source]
        source: std::io::Error,
    },
}

/// State shared between the [`Watcher`] handle and its thread.
#[derive(Debug)]
struct Shared {
    mode: Mutex<WatchMode>,
    dirs: AtomicUsize,
    stop: AtomicBool,
}

impl Shared {
    fn set_mode(&self, mode: WatchMode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }
}

/// What the watcher thread receives: notify's events, or the order to stop.
enum Msg {
    Fs(notify::Result<notify::Event>),
    Stop,
}

/// A running watcher. Dropping it stops watching: the thread ends, releases its watches and
/// drops its sender, so the consumer's receiver then returns `None`.
pub struct Watcher {
    shared: Arc<Shared>,
    wake: Sender<Msg>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("mode", &self.mode())
            .field("watched_dirs", &self.watched_dirs())
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Starts watching `opts.root`, sending batches to `tx`.
    ///
    /// Blocking: it walks the workspace to place one watch per non-ignored directory before
    /// it returns (so no change made after it returns is missed). From async code call
    /// [`Watcher::start_async`], or this inside `spawn_blocking`.
    pub fn start(
        opts: WatchOptions,
        tx: tokio::sync::mpsc::Sender<WatchEvent>,
    ) -> Result<Self, WatchError> {
        let root = check_root(&opts.root)?;
        let shared = Arc::new(Shared {
            mode: Mutex::new(WatchMode::Native),
            dirs: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let (fs_tx, fs_rx) = channel();
        let mut state = State::new(root, opts, Arc::clone(&shared), fs_tx.clone(), tx)?;
        let root = state.root.clone();
        state.add_tree(&root, false);
        if !state.dirs.contains(&state.root) {
            return Err(WatchError::Root {
                path: state.opts.root.clone(),
                reason: "it could not be watched (see the warnings logged above)".to_owned(),
            });
        }
        let path = state.opts.root.clone();
        let handle = std::thread::Builder::new()
            .name("weft-watch".to_owned())
            .spawn(move || state.run(&fs_rx))
            .map_err(|source| WatchError::Thread { path, source })?;
        Ok(Watcher {
            shared,
            wake: fs_tx,
            handle: Some(handle),
        })
    }

    /// [`Watcher::start`] on a blocking thread, for async callers.
    pub async fn start_async(
        opts: WatchOptions,
        tx: tokio::sync::mpsc::Sender<WatchEvent>,
    ) -> Result<Self, WatchError> {
        let path = opts.root.clone();
        match tokio::task::spawn_blocking(move || Watcher::start(opts, tx)).await {
            Ok(result) => result,
            Err(e) => Err(WatchError::Thread {
                path,
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }

    /// The current mode; it changes from native to polling once the watch limit is hit.
    pub fn mode(&self) -> WatchMode {
        self.shared
            .mode
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many directories are watched now (the root included).
    pub fn watched_dirs(&self) -> usize {
        self.shared.dirs.load(Ordering::Relaxed)
    }
}

impl Drop for Watcher {
    /// Flags the thread to stop (it checks between directory entries when walking) and wakes
    /// it, then waits for it, so no watch or thread outlives the handle.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // The thread may already have ended (consumer gone): then there is nobody to wake.
        let _ = self.wake.send(Msg::Stop);
        if let Some(handle) = self.handle.take() {
            if handle.join().is_err() {
                tracing::warn!("workspace watcher thread panicked");
            }
        }
    }
}

/// The root as an absolute path, checked to be a directory.
fn check_root(root: &Path) -> Result<PathBuf, WatchError> {
    let err = |reason: String| WatchError::Root {
        path: root.to_path_buf(),
        reason,
    };
    let abs = std::path::absolute(root).map_err(|e| err(e.to_string()))?;
    match std::fs::metadata(&abs) {
        Ok(meta) if meta.is_dir() => Ok(abs),
        Ok(_) => Err(err("not a directory".to_owned())),
        Err(e) => Err(err(e.to_string())),
    }
}

/// The notify backend in use.
enum Backend {
    Native(RecommendedWatcher),
    Polling(PollWatcher),
}

impl Backend {
    fn watch(&mut self, dir: &Path) -> notify::Result<()> {
        match self {
            Backend::Native(w) => w.watch(dir, RecursiveMode::NonRecursive),
            Backend::Polling(w) => w.watch(dir, RecursiveMode::NonRecursive),
        }
    }

    fn unwatch(&mut self, dir: &Path) {
        let result = match self {
            Backend::Native(w) => w.unwatch(dir),
            Backend::Polling(w) => w.unwatch(dir),
        };
        // The kernel drops the watch of a deleted directory by itself.
        if let Err(e) = result {
            tracing::debug!(path = %dir.display(), error = %e, "unwatching a directory failed");
        }
    }

    fn is_native(&self) -> bool {
        matches!(self, Backend::Native(_))
    }
}

/// A notify event handler feeding the watcher thread.
fn handler(tx: Sender<Msg>) -> impl notify::EventHandler {
    move |res: notify::Result<notify::Event>| {
        // Fails only once the watcher thread is gone, when nobody wants events any more.
        let _ = tx.send(Msg::Fs(res));
    }
}

/// A polling backend for `opts`.
fn poller(opts: &WatchOptions, tx: Sender<Msg>) -> notify::Result<PollWatcher> {
    let config = notify::Config::default()
        .with_poll_interval(opts.poll_interval)
        .with_compare_contents(false);
    PollWatcher::new(handler(tx), config)
}

/// Whether `err` is the kernel refusing another watch (inotify's `ENOSPC`).
fn is_limit_error(err: &notify::Error) -> bool {
    match &err.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => io.raw_os_error() == Some(libc::ENOSPC),
        _ => false,
    }
}

/// The kernel's inotify watch limit, for messages.
fn kernel_watch_limit() -> String {
    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The watcher thread's state.
struct State {
    root: PathBuf,
    opts: WatchOptions,
    backend: Backend,
    /// Watched directories: exactly the non-ignored directories known to exist.
    dirs: BTreeSet<PathBuf>,
    rules: IgnoreRules,
    shared: Arc<Shared>,
    fs_tx: Sender<Msg>,
    tx: tokio::sync::mpsc::Sender<WatchEvent>,
    pending: BTreeSet<PathBuf>,
    rescan: Option<String>,
    /// An ignore file changed: re-read the rules and re-place the watches before the next send.
    reload: Option<PathBuf>,
    first_pending: Option<Instant>,
    last_event: Instant,
    /// The consumer's channel was full: do not retry before this.
    retry_at: Option<Instant>,
}

impl State {
    fn new(
        root: PathBuf,
        opts: WatchOptions,
        shared: Arc<Shared>,
        fs_tx: Sender<Msg>,
        tx: tokio::sync::mpsc::Sender<WatchEvent>,
    ) -> Result<Self, WatchError> {
        let mut rescan = None;
        let backend = if opts.force_polling {
            let reason = "polling was requested (force_polling)".to_owned();
            tracing::info!(root = %root.display(), interval = ?opts.poll_interval, "watching the workspace by polling");
            shared.set_mode(WatchMode::Polling { reason });
            Backend::Polling(poller(&opts, fs_tx.clone()).map_err(|source| {
                WatchError::Backend {
                    path: opts.root.clone(),
                    source,
                }
            })?)
        } else {
            match RecommendedWatcher::new(handler(fs_tx.clone()), notify::Config::default()) {
                Ok(w) => Backend::Native(w),
                Err(e) => {
                    let reason = format!(
                        "native file watching is unavailable ({e}); if inotify instances are \
                         exhausted, raise fs.inotify.max_user_instances"
                    );
                    tracing::warn!(root = %root.display(), "{reason}; polling instead");
                    shared.set_mode(WatchMode::Polling {
                        reason: reason.clone(),
                    });
                    rescan = Some(reason);
                    Backend::Polling(poller(&opts, fs_tx.clone()).map_err(|source| {
                        WatchError::Backend {
                            path: opts.root.clone(),
                            source,
                        }
                    })?)
                }
            }
        };
        Ok(State {
            rules: IgnoreRules::new(&root),
            root,
            opts,
            backend,
            dirs: BTreeSet::new(),
            shared,
            fs_tx,
            tx,
            pending: BTreeSet::new(),
            first_pending: rescan.as_ref().map(|_| Instant::now()),
            rescan,
            reload: None,
            last_event: Instant::now(),
            retry_at: None,
        })
    }

    /// The thread's loop: gathers events, sends batches when they are due, ends when told to
    /// or when the consumer is gone.
    fn run(mut self, rx: &Receiver<Msg>) {
        loop {
            if self.stopping() || self.tx.is_closed() {
                break;
            }
            let now = Instant::now();
            if self.due().is_some_and(|due| due <= now) {
                self.flush();
                continue;
            }
            let wait = self
                .due()
                .map_or(IDLE_CHECK, |due| due.saturating_duration_since(now))
                .min(IDLE_CHECK);
            match rx.recv_timeout(wait) {
                Ok(Msg::Fs(res)) => {
                    let had = self.has_pending();
                    self.on_notify(res);
                    if self.has_pending() {
                        let now = Instant::now();
                        self.last_event = now;
                        if !had {
                            self.first_pending = Some(now);
                        }
                    }
                }
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        tracing::debug!(root = %self.root.display(), "workspace watcher stopped");
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    fn has_pending(&self) -> bool {
        !self.pending.is_empty() || self.rescan.is_some() || self.reload.is_some()
    }

    /// When the pending batch should be sent, if there is one.
    fn due(&self) -> Option<Instant> {
        let first = self.first_pending?;
        if !self.has_pending() {
            return None;
        }
        let due = (self.last_event + self.opts.debounce).min(first + self.opts.max_delay);
        Some(match self.retry_at {
            Some(retry) => due.max(retry),
            None => due,
        })
    }

    /// Sends the pending batch (a `Rescan` replaces any paths), keeping it for later when the
    /// consumer's channel is full.
    fn flush(&mut self) {
        if let Some(changed) = self.reload.take() {
            self.reload_rules();
            self.rescan.get_or_insert_with(|| {
                format!(
                    "ignore file {} changed, so the set of ignored paths changed",
                    changed.display()
                )
            });
        }
        if self.pending.len() > MAX_PENDING && self.rescan.is_none() {
            self.rescan = Some(format!("more than {MAX_PENDING} paths changed at once"));
        }
        let event = if let Some(reason) = self.rescan.take() {
            self.pending.clear();
            WatchEvent::Rescan { reason }
        } else if !self.pending.is_empty() {
            WatchEvent::Paths(std::mem::take(&mut self.pending).into_iter().collect())
        } else {
            self.first_pending = None;
            return;
        };
        match self.tx.try_send(event) {
            Ok(()) => {
                self.first_pending = None;
                self.retry_at = None;
            }
            Err(TrySendError::Full(event)) => {
                // Put it back; new events merge into it until the consumer catches up.
                match event {
                    WatchEvent::Rescan { reason } => self.rescan = Some(reason),
                    WatchEvent::Paths(paths) => self.pending.extend(paths),
                }
                self.retry_at =
                    Some(Instant::now() + self.opts.debounce.max(Duration::from_millis(10)));
            }
            Err(TrySendError::Closed(_)) => {
                // The loop sees the closed channel and ends.
            }
        }
    }

    fn request_rescan(&mut self, reason: String) {
        self.rescan.get_or_insert(reason);
    }

    fn on_notify(&mut self, res: notify::Result<notify::Event>) {
        match res {
            Ok(event) => self.on_event(event),
            Err(err) => self.on_error(err),
        }
    }

    fn on_error(&mut self, err: notify::Error) {
        // The poller reports a directory that vanished between two polls as an I/O error on
        // it: that is a removal, not a lost event.
        let not_found = match &err.kind {
            notify::ErrorKind::PathNotFound => true,
            notify::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        };
        if not_found && !err.paths.is_empty() && err.paths.iter().all(|p| !p.exists()) {
            for path in err.paths {
                self.on_path(path, EventKind::Remove(RemoveKind::Any));
            }
            return;
        }
        if is_limit_error(&err) {
            self.fall_back(format!(
                "the inotify watch limit (fs.inotify.max_user_watches = {}) was reached",
                kernel_watch_limit()
            ));
            return;
        }
        tracing::warn!(root = %self.root.display(), error = %err, "file watcher error; asking for a full rescan");
        self.request_rescan(format!("file watcher error: {err}"));
    }

    fn on_event(&mut self, event: notify::Event) {
        if event.need_rescan() {
            tracing::warn!(root = %self.root.display(), "file watcher lost events (kernel queue overflow); asking for a full rescan");
            self.request_rescan(
                "the kernel's event queue overflowed, so events were lost".to_owned(),
            );
        }
        match event.kind {
            // Reads (the indexer's own included) are not changes.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) => return,
            _ => {}
        }
        for path in event.paths {
            self.on_path(path, event.kind);
        }
    }

    /// Handles one changed path: drops it when ignored, follows directories appearing and
    /// disappearing, queues it otherwise.
    fn on_path(&mut self, path: PathBuf, kind: EventKind) {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return;
        };
        if rel.as_os_str().is_empty() {
            if !self.root.is_dir() {
                tracing::warn!(root = %self.root.display(), "the workspace root was removed or moved");
                self.request_rescan("the workspace root was removed or moved".to_owned());
            }
            return;
        }
        if rel
            .components()
            .any(|c| c == Component::Normal(OsStr::new(".git")))
        {
            return;
        }
        let is_ignore_file = path
            .file_name()
            .is_some_and(|n| IGNORE_FILES.iter().any(|f| n == OsStr::new(f)));
        if is_ignore_file {
            if path.parent().is_some_and(|p| self.dirs.contains(p)) {
                self.reload.get_or_insert(path);
            }
            return;
        }
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                if self.dirs.contains(&path) {
                    // A watched directory's own metadata (mtime as entries come and go) is
                    // noise; its creation or renaming is not.
                    if matches!(
                        kind,
                        EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_))
                    ) {
                        self.pending.insert(path);
                    }
                    return;
                }
                if self.is_ignored(&path, true) {
                    return;
                }
                self.add_tree(&path, true);
                self.pending.insert(path);
            }
            Ok(_) => {
                if !self.is_ignored(&path, false) {
                    self.pending.insert(path);
                }
            }
            Err(_) => {
                if self.dirs.contains(&path) {
                    self.remove_tree(&path);
                    self.pending.insert(path);
                    return;
                }
                let ignored = match kind {
                    EventKind::Create(CreateKind::Folder)
                    | EventKind::Remove(RemoveKind::Folder) => self.is_ignored(&path, true),
                    EventKind::Create(CreateKind::File) | EventKind::Remove(RemoveKind::File) => {
                        self.is_ignored(&path, false)
                    }
                    // Gone, kind unknown: drop it if it would be ignored as either.
                    _ => self.is_ignored(&path, false) || self.is_ignored(&path, true),
                };
                if !ignored {
                    self.pending.insert(path);
                }
            }
        }
    }

    /// Whether the walker would skip `path`: under `.git/`, or it or a directory between it
    /// and the root is ignored. Watched directories are known not to be.
    fn is_ignored(&mut self, path: &Path, is_dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return true;
        };
        let mut prefix = self.root.clone();
        let mut components = rel.components().peekable();
        while let Some(c) = components.next() {
            if c == Component::Normal(OsStr::new(".git")) {
                return true;
            }
            prefix.push(c);
            let last = components.peek().is_none();
            if !last && self.dirs.contains(&prefix) {
                continue;
            }
            if self.rules.is_ignored(&prefix, !last || is_dir) {
                return true;
            }
        }
        false
    }

    /// Watches `dir` and every non-ignored directory under it (`dir` itself is known not to
    /// be ignored), queueing their files when `report_files` (a directory that appeared).
    fn add_tree(&mut self, dir: &Path, report_files: bool) {
        // Ignore files inside it may have been read before they were complete.
        self.rules.forget_under(dir);
        self.add_dir(dir);
        let Ok(rel) = dir.strip_prefix(&self.root) else {
            return;
        };
        let mut opts = WalkOptions::new(self.root.clone());
        opts.start = (!rel.as_os_str().is_empty()).then(|| rel.to_path_buf());
        opts.yield_dirs = true;
        // A new directory is usually small; the whole workspace gets every core.
        opts.threads = usize::from(opts.start.is_some());
        let entries = match walk(&opts) {
            Ok(entries) => entries,
            Err(e) => {
                // Usually the directory vanished again; its removal will be seen.
                tracing::debug!(path = %dir.display(), error = %e, "cannot walk a new directory");
                return;
            }
        };
        for entry in entries {
            if self.stopping() {
                return;
            }
            let path = self.root.join(&entry.rel);
            match entry.outcome {
                WalkOutcome::Directory => self.add_dir(&path),
                WalkOutcome::Skipped(super::walk::SkipReason::SymlinkLoop { .. }) => {}
                _ if report_files => {
                    self.pending.insert(path);
                }
                _ => {}
            }
        }
    }

    /// Watches one directory, falling back to polling when the native limit is reached.
    fn add_dir(&mut self, dir: &Path) {
        if self.dirs.contains(dir) {
            return;
        }
        if self.backend.is_native() {
            if let Some(max) = self.opts.max_native_watches {
                if self.dirs.len() >= max {
                    self.fall_back(format!(
                        "the native watch limit of {max} directories (max_native_watches) was reached"
                    ));
                }
            }
        }
        match self.backend.watch(dir) {
            Ok(()) => {}
            Err(e) if is_limit_error(&e) && self.backend.is_native() => {
                self.fall_back(format!(
                    "the inotify watch limit (fs.inotify.max_user_watches = {}) was reached",
                    kernel_watch_limit()
                ));
                if let Err(e) = self.backend.watch(dir) {
                    tracing::warn!(path = %dir.display(), error = %e, "cannot poll a directory; changes in it will be missed");
                    return;
                }
            }
            Err(e) => {
                if dir.exists() {
                    tracing::warn!(path = %dir.display(), error = %e, "cannot watch a directory; changes in it will be missed");
                }
                return;
            }
        }
        self.dirs.insert(dir.to_path_buf());
        self.shared.dirs.store(self.dirs.len(), Ordering::Relaxed);
    }

    /// Stops watching `dir` and every watched directory under it.
    fn remove_tree(&mut self, dir: &Path) {
        let gone: Vec<PathBuf> = self
            .dirs
            .range(dir.to_path_buf()..)
            .take_while(|d| d.starts_with(dir))
            .cloned()
            .collect();
        for d in gone {
            self.backend.unwatch(&d);
            self.dirs.remove(&d);
        }
        self.rules.forget_under(dir);
        self.shared.dirs.store(self.dirs.len(), Ordering::Relaxed);
    }

    /// Replaces native watching by polling the same directories, once, warning with the fix.
    fn fall_back(&mut self, why: String) {
        if !self.backend.is_native() {
            return;
        }
        let reason = format!(
            "{why}; polling every {:?} instead. To watch natively, run `sudo sysctl \
             fs.inotify.max_user_watches={RECOMMENDED_WATCHES}` and make it permanent with \
             `echo fs.inotify.max_user_watches={RECOMMENDED_WATCHES} | sudo tee \
             /etc/sysctl.d/90-weft-inotify.conf`",
            self.opts.poll_interval
        );
        tracing::warn!(root = %self.root.display(), "{reason}");
        let mut poll = match poller(&self.opts, self.fs_tx.clone()) {
            Ok(poll) => poll,
            Err(e) => {
                tracing::error!(root = %self.root.display(), error = %e, "cannot start polling either; changes beyond the current watches will be missed");
                self.request_rescan(format!("{why}, and polling could not start: {e}"));
                return;
            }
        };
        let mut kept = BTreeSet::new();
        for dir in std::mem::take(&mut self.dirs) {
            match poll.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    kept.insert(dir);
                }
                Err(e) => {
                    tracing::warn!(path = %dir.display(), error = %e, "cannot poll a directory")
                }
            }
        }
        self.dirs = kept;
        self.shared.dirs.store(self.dirs.len(), Ordering::Relaxed);
        // Dropping the native watcher releases every inotify watch.
        self.backend = Backend::Polling(poll);
        self.shared.set_mode(WatchMode::Polling {
            reason: reason.clone(),
        });
        self.request_rescan(format!("switched to polling: {reason}"));
        self.first_pending.get_or_insert_with(Instant::now);
    }

    /// Re-reads the ignore rules and re-places the watches to match them.
    fn reload_rules(&mut self) {
        self.rules = IgnoreRules::new(&self.root);
        let mut opts = WalkOptions::new(self.root.clone());
        opts.yield_dirs = true;
        let mut wanted = BTreeSet::new();
        wanted.insert(self.root.clone());
        match walk(&opts) {
            Ok(entries) => {
                for entry in entries {
                    if self.stopping() {
                        return;
                    }
                    if entry.outcome == WalkOutcome::Directory {
                        wanted.insert(self.root.join(entry.rel));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(root = %self.root.display(), error = %e, "cannot walk the workspace to update watches");
                return;
            }
        }
        let stale: Vec<PathBuf> = self.dirs.difference(&wanted).cloned().collect();
        for dir in stale {
            self.backend.unwatch(&dir);
            self.dirs.remove(&dir);
        }
        for dir in wanted {
            self.add_dir(&dir);
        }
        self.shared.dirs.store(self.dirs.len(), Ordering::Relaxed);
    }
}

/// The ignore files of one directory, as the `ignore` crate reads them.
struct DirRules {
    custom: Gitignore,
    ignore: Gitignore,
    git: Gitignore,
    exclude: Gitignore,
}

/// The walker's ignore rules, answerable for one path at a time (including paths that no
/// longer exist). Mirrors the `ignore` crate's precedence with `require_git(false)`:
/// `.weftignore` over `.ignore` over `.gitignore` over `.git/info/exclude` over the global
/// excludes, the nearest directory first within each, and hidden names ignored unless
/// whitelisted. Directories' files are read once and cached until an ignore file changes.
struct IgnoreRules {
    global: Gitignore,
    dirs: HashMap<PathBuf, DirRules>,
}

impl IgnoreRules {
    fn new(root: &Path) -> Self {
        let (global, err) = GitignoreBuilder::new(root).build_global();
        if let Some(err) = err {
            tracing::debug!(error = %err, "problem reading the global git excludes");
        }
        IgnoreRules {
            global,
            dirs: HashMap::new(),
        }
    }

    /// Forgets the cached rules of `dir` and below (their files may have changed).
    fn forget_under(&mut self, dir: &Path) {
        self.dirs.retain(|d, _| !d.starts_with(dir));
    }

    fn load(dir: &Path) -> DirRules {
        let read = |file: PathBuf| -> Gitignore {
            if !file.is_file() {
                return Gitignore::empty();
            }
            let mut builder = GitignoreBuilder::new(dir);
            if let Some(err) = builder.add(&file) {
                tracing::warn!(path = %file.display(), error = %err, "problem with an ignore file; the rest of it still applies");
            }
            builder.build().unwrap_or_else(|err| {
                tracing::warn!(path = %file.display(), error = %err, "cannot use an ignore file");
                Gitignore::empty()
            })
        };
        let exclude = if dir.join(".git").is_dir() {
            read(dir.join(".git").join("info").join("exclude"))
        } else {
            Gitignore::empty()
        };
        DirRules {
            custom: read(dir.join(WEFTIGNORE)),
            ignore: read(dir.join(".ignore")),
            git: read(dir.join(".gitignore")),
            exclude,
        }
    }

    /// Whether `path` itself (its parents aside) is ignored.
    fn is_ignored(&mut self, path: &Path, is_dir: bool) -> bool {
        let mut found: [Option<bool>; 4] = [None; 4];
        for dir in path.ancestors().skip(1) {
            if found.iter().all(Option::is_some) {
                break;
            }
            let rules = self
                .dirs
                .entry(dir.to_path_buf())
                .or_insert_with(|| Self::load(dir));
            let matchers = [&rules.custom, &rules.ignore, &rules.git, &rules.exclude];
            for (slot, matcher) in found.iter_mut().zip(matchers) {
                if slot.is_none() {
                    *slot = verdict(matcher.matched(path, is_dir));
                }
            }
        }
        let verdict = found
            .into_iter()
            .flatten()
            .next()
            .or_else(|| verdict(self.global.matched(path, is_dir)));
        match verdict {
            Some(ignored) => ignored,
            None => path
                .file_name()
                .is_some_and(|n| n.as_encoded_bytes().starts_with(b".")),
        }
    }
}

/// `Some(true)` for an ignore match, `Some(false)` for a whitelist one, `None` for none.
fn verdict<T>(m: Match<T>) -> Option<bool> {
    match m {
        Match::None => None,
        Match::Ignore(_) => Some(true),
        Match::Whitelist(_) => Some(false),
    }
}
