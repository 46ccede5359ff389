//! The workspace walker: streams every file the index should consider, with the ignore rules
//! already applied, so later stages never see `target/`, `node_modules/` or a user's secrets.
//!
//! It runs the `ignore` crate's parallel walker on its own threads and hands entries over a
//! bounded channel: a huge tree is never held in memory, and a slow consumer slows the walk
//! down instead of queueing the whole tree. Problems with one path (a symlink loop, an
//! unreadable directory) become [`SkipReason`]s on that path and never stop the walk.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::UNIX_EPOCH;

use ignore::{WalkBuilder, WalkState};

/// Name of Weft's own ignore file, read in every directory like `.gitignore` and taking
/// precedence over it, for paths a user wants out of Weft's index but still in git.
pub const WEFTIGNORE: &str = ".weftignore";

/// Default size cap: larger files are usually generated or data, and recording their metadata
/// is enough to notice them without paying to read, chunk and embed them.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// Entries a walker thread collects before handing them over: one channel send (and one
/// wake-up of the consumer) per batch instead of per file. Per-file sends cost a futex
/// wake-up each, a large part of a no-op re-index of a big tree.
const BATCH: usize = 128;

/// How many batches may wait for the consumer before the walker threads block (a few
/// thousand entries, a few hundred KB: enough for the walk to run ahead while a scan loads
/// the known rows).
const CHANNEL_CAPACITY: usize = 32;

/// What to walk and how; [`WalkOptions::new`] gives the defaults the daemon uses.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// The workspace root; yielded paths are relative to it.
    pub root: PathBuf,
    /// Files larger than this are reported as [`WalkOutcome::Oversized`] (metadata only).
    pub max_file_bytes: u64,
    /// Whether symbolic links are followed; loops are detected and reported, never followed
    /// forever.
    pub follow_symlinks: bool,
    /// Walker threads; 0 lets the `ignore` crate pick from the number of CPUs.
    pub threads: usize,
    /// Walk only this directory under the root (relative to it), with the ignore files of its
    /// parents still applied; yielded paths stay relative to the root. `None`: the whole root.
    pub start: Option<PathBuf>,
    /// Descend at most this many levels below the start (1: its direct entries only).
    pub max_depth: Option<usize>,
    /// Also yield directories (as [`WalkOutcome::Directory`]), for callers that must tell an
    /// ignored directory from a walked one.
    pub yield_dirs: bool,
}

impl WalkOptions {
    /// Options for `root` with a 2 MiB cap, symlinks followed and automatic threads.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WalkOptions {
            root: root.into(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            follow_symlinks: true,
            threads: 0,
            start: None,
            max_depth: None,
            yield_dirs: false,
        }
    }
}

/// Why the walker passed over a path without offering it for reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Following this symbolic link would re-enter `ancestor`, so the walk stops there.
    SymlinkLoop {
        /// The directory the link leads back into.
        ancestor: PathBuf,
    },
    /// The OS refused to list or stat the path; `error` is its message.
    Unreadable {
        /// The OS error, as text (kept so the report can be cloned and stored).
        error: String,
    },
    /// A FIFO, socket, device or similar: reading it could block or never end.
    NotRegularFile,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::SymlinkLoop { ancestor } => {
                write!(f, "symlink loop back into {}", ancestor.display())
            }
            SkipReason::Unreadable { error } => write!(f, "unreadable: {error}"),
            SkipReason::NotRegularFile => f.write_str("not a regular file"),
        }
    }
}

/// What the walker concluded about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkOutcome {
    /// A regular file within the size cap: read it.
    Candidate,
    /// A regular file over the size cap: record its metadata, do not read it.
    Oversized,
    /// Not offered for reading, for the given reason.
    Skipped(SkipReason),
    /// A directory the walk entered (only with [`WalkOptions::yield_dirs`]).
    Directory,
}

/// One walked path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEntry {
    /// Path relative to [`WalkOptions::root`].
    pub rel: PathBuf,
    /// Size in bytes (0 when the path could not be stat'ed).
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch (0 when unknown).
    pub mtime_ns: i64,
    /// What to do with it.
    pub outcome: WalkOutcome,
}

/// Why a walk could not start at all.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The root is missing, unreadable or not a directory.
    #[error(
        "cannot walk workspace root {}: {reason}; check that the directory exists and is readable",
        path.display()
    )]
    Root {
        /// The root given in [`WalkOptions`].
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The walker thread could not be started.
    #[error("cannot start the workspace walker thread: {0}; the system may be out of threads")]
    Thread(#[source] std::io::Error),
}

/// A running walk: an iterator over [`WalkEntry`]s, in no particular order. Dropping it stops
/// the walker threads early.
pub struct Walk {
    rx: Option<Receiver<Vec<WalkEntry>>>,
    current: std::vec::IntoIter<WalkEntry>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Walk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk").finish_non_exhaustive()
    }
}

impl Iterator for Walk {
    type Item = WalkEntry;

    fn next(&mut self) -> Option<WalkEntry> {
        loop {
            if let Some(entry) = self.current.next() {
                return Some(entry);
            }
            self.current = self.rx.as_ref()?.recv().ok()?.into_iter();
        }
    }
}

impl Drop for Walk {
    /// Closing the channel first makes every walker thread quit at its next entry, so the join
    /// below is short even when the consumer stopped early.
    fn drop(&mut self) {
        drop(self.rx.take());
        if let Some(handle) = self.handle.take() {
            if handle.join().is_err() {
                tracing::warn!("workspace walker thread panicked; the walk ended early");
            }
        }
    }
}

/// Starts walking `opts.root` on background threads. Blocking: call it, and iterate the
/// result, off the async runtime.
pub fn walk(opts: &WalkOptions) -> Result<Walk, WalkError> {
    let root = match &opts.start {
        Some(start) => opts.root.join(start),
        None => opts.root.clone(),
    };
    match std::fs::metadata(&root) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(WalkError::Root {
                path: root,
                reason: "not a directory".to_owned(),
            })
        }
        Err(e) => {
            return Err(WalkError::Root {
                path: root,
                reason: e.to_string(),
            })
        }
    }
    let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
    let opts = opts.clone();
    let handle = std::thread::Builder::new()
        .name("weft-walk".to_owned())
        .spawn(move || run_walk(&opts, &tx))
        .map_err(WalkError::Thread)?;
    Ok(Walk {
        rx: Some(rx),
        current: Vec::new().into_iter(),
        handle: Some(handle),
    })
}

/// The walker thread's body: builds the `ignore` walker and feeds the channel until the walk
/// ends or the consumer goes away.
fn run_walk(opts: &WalkOptions, tx: &SyncSender<Vec<WalkEntry>>) {
    let start = match &opts.start {
        Some(start) => opts.root.join(start),
        None => opts.root.clone(),
    };
    let mut builder = WalkBuilder::new(start);
    builder
        .hidden(true)
        .ignore(true)
        .git_ignore(true)
        .git_global(true)
        .git_exclude(true)
        // A workspace that is not (yet) a git repository still means its .gitignore.
        .require_git(false)
        .follow_links(opts.follow_symlinks)
        .threads(opts.threads)
        .max_depth(opts.max_depth)
        .add_custom_ignore_filename(WEFTIGNORE)
        // `.git/` is never workspace content, even when hidden files are walked.
        .filter_entry(|e| e.file_name() != ".git");
    let root = opts.root.clone();
    let max = opts.max_file_bytes;
    let dirs = opts.yield_dirs;
    builder.build_parallel().run(|| {
        // Dropped when this walker thread finishes, which sends what is left.
        let mut out = Batcher {
            tx: tx.clone(),
            batch: Vec::with_capacity(BATCH),
        };
        let root = root.clone();
        Box::new(move |result| {
            let Some(entry) = classify(&root, max, dirs, result) else {
                return WalkState::Continue;
            };
            out.batch.push(entry);
            if out.batch.len() >= BATCH && !out.flush() {
                return WalkState::Quit;
            }
            WalkState::Continue
        })
    });
}

/// One walker thread's entries on their way to the consumer.
struct Batcher {
    tx: SyncSender<Vec<WalkEntry>>,
    batch: Vec<WalkEntry>,
}

impl Batcher {
    /// Sends the batch; false when the consumer went away.
    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.tx.send(batch).is_ok()
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Turns one result of the `ignore` walker into a [`WalkEntry`], or `None` for directories
/// (they are walked, not indexed) and for errors that name no path under the root.
fn classify(
    root: &Path,
    max: u64,
    yield_dirs: bool,
    result: Result<ignore::DirEntry, ignore::Error>,
) -> Option<WalkEntry> {
    let entry = match result {
        Ok(entry) => entry,
        Err(err) => return classify_error(root, &err),
    };
    if entry.depth() == 0 {
        return None;
    }
    let rel = relative(root, entry.path());
    let meta = match entry.metadata() {
        Ok(meta) => meta,
        Err(err) => {
            tracing::warn!(path = %entry.path().display(), error = %err, "cannot stat path; skipping it");
            return Some(skipped(
                rel,
                SkipReason::Unreadable {
                    error: err.to_string(),
                },
            ));
        }
    };
    if meta.is_dir() {
        return yield_dirs.then_some(WalkEntry {
            rel,
            size: 0,
            mtime_ns: 0,
            outcome: WalkOutcome::Directory,
        });
    }
    let size = meta.len();
    let mtime_ns = mtime_ns(&meta);
    let outcome = if !meta.is_file() {
        tracing::debug!(path = %entry.path().display(), "not a regular file; skipping it");
        WalkOutcome::Skipped(SkipReason::NotRegularFile)
    } else if size > max {
        WalkOutcome::Oversized
    } else {
        WalkOutcome::Candidate
    };
    Some(WalkEntry {
        rel,
        size,
        mtime_ns,
        outcome,
    })
}

/// Maps a walker error to a skipped entry when it concerns a path (loop, I/O), logging it
/// with the reason either way.
fn classify_error(root: &Path, err: &ignore::Error) -> Option<WalkEntry> {
    let mut path = None;
    let mut cur = err;
    loop {
        match cur {
            ignore::Error::WithPath { path: p, err } => {
                path.get_or_insert(p.clone());
                cur = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                cur = err;
            }
            ignore::Error::Loop { ancestor, child } => {
                tracing::warn!(
                    path = %child.display(),
                    ancestor = %ancestor.display(),
                    "symlink loop; not following it"
                );
                return Some(skipped(
                    relative(root, child),
                    SkipReason::SymlinkLoop {
                        ancestor: ancestor.clone(),
                    },
                ));
            }
            ignore::Error::Io(io) => {
                let Some(p) = path else {
                    tracing::warn!(error = %io, "workspace walk error; continuing");
                    return None;
                };
                tracing::warn!(path = %p.display(), error = %io, "unreadable path; skipping it");
                return Some(skipped(
                    relative(root, &p),
                    SkipReason::Unreadable {
                        error: io.to_string(),
                    },
                ));
            }
            other => {
                // Bad globs in an ignore file and similar: the rest of the file still applies.
                tracing::warn!(error = %other, "problem with an ignore file; continuing the walk");
                return None;
            }
        }
    }
}

/// A skipped entry with unknown size and time.
fn skipped(rel: PathBuf, reason: SkipReason) -> WalkEntry {
    WalkEntry {
        rel,
        size: 0,
        mtime_ns: 0,
        outcome: WalkOutcome::Skipped(reason),
    }
}

/// `path` relative to `root`; paths outside the root (not expected) are kept whole.
fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// Modification time in nanoseconds since the Unix epoch, negative before it, 0 where the
/// platform does not record one.
pub(crate) fn mtime_ns(meta: &Metadata) -> i64 {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
        },
        Err(_) => 0,
    }
}
