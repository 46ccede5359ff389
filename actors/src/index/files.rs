//! The file index in SQLite: which files of a workspace exist, what their contents hash to,
//! how far indexing got for each, and the durable `chunk` jobs still to do.
//!
//! A scan compares the walk against the `files` table: a file whose size and mtime match its
//! row is not even opened (the fast path that makes rescans of a big tree cheap); a changed or
//! new one is read with [`read_stable`] and hashed, and only a new hash queues work. Rows of
//! files that are gone (deleted, renamed, newly ignored) are removed with their jobs, so
//! nothing derived outlives its source. Rows and jobs are written in the same transactions, in
//! batches, so a crash leaves every file either fully recorded or untouched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, OptionalExtension};
use tokio::sync::mpsc;

use super::read::{read_stable, ReadSkip};
use super::walk::{walk, WalkError, WalkOptions, WalkOutcome};
use crate::storage::{Storage, StorageError};

/// How many file changes go into one write transaction: big enough to amortise the commit,
/// small enough that other writers do not wait long behind a scan.
const BATCH: usize = 500;

/// Job kind queued for a file whose contents are new: split it into chunks.
pub const CHUNK_JOB: &str = "chunk";

/// `files.skip_reason` for a file over the size cap (metadata only).
const OVERSIZED: &str = "oversized";
/// `files.skip_reason` for a binary file.
const BINARY: &str = "binary";

/// Row id of a registered workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkspaceId(pub i64);

/// What one [`FileIndex::scan`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Paths the walk yielded (files, plus paths it skipped).
    pub seen: usize,
    /// Files whose size and mtime matched their row: not read, row untouched.
    pub unchanged: usize,
    /// Files whose size or mtime moved but whose hash did not: row metadata refreshed, state
    /// kept, no new job.
    pub touched: usize,
    /// Files with no row before this scan, now `discovered` with a chunk job.
    pub new: usize,
    /// Files whose contents hash changed (or that were skipped before and are readable now):
    /// back to `discovered` with a chunk job.
    pub changed: usize,
    /// Rows (and their jobs) removed because the file is gone or now ignored.
    pub removed: usize,
    /// Chunk jobs actually added (an already queued job is not added twice).
    pub enqueued: usize,
    /// Paths newly found unusable in this scan, with the reason (binary, oversized,
    /// unreadable, symlink loop, ...). A file skipped before and unchanged since is counted in
    /// `unchanged` instead.
    pub skipped: Vec<(PathBuf, String)>,
    /// Files that changed or vanished while being read; their rows were left as they were and
    /// the next scan tries again.
    pub retry_later: Vec<PathBuf>,
}

/// Everything that can stop a scan or a registration.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The database refused a read or write.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The walk could not start.
    #[error(transparent)]
    Walk(#[from] WalkError),
    /// The workspace root cannot be resolved to an absolute UTF-8 path.
    #[error("cannot use {} as a workspace root: {reason}; pass an existing directory with a UTF-8 path", path.display())]
    Root {
        /// The root as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No workspace with this id is registered (removed meanwhile, or from another database).
    #[error("workspace {0} is not registered; register its root first")]
    UnknownWorkspace(i64),
    /// The walk options name another root than the workspace being scanned; scanning would
    /// delete every row of the workspace.
    #[error(
        "walk root {} is not the root {} of workspace {id}; scan with WalkOptions for that root",
        given.display(), registered.display()
    )]
    RootMismatch {
        /// The workspace.
        id: i64,
        /// Its registered root.
        registered: PathBuf,
        /// The root in the walk options.
        given: PathBuf,
    },
    /// The blocking scan task panicked or was cancelled (a bug; the next scan starts over).
    #[error("the file scan task failed: {0}; run the scan again")]
    Task(String),
}

/// The typed layer over [`Storage`] for workspaces, files and jobs.
#[derive(Debug, Clone)]
pub struct FileIndex {
    storage: Storage,
}

/// A file's row as the fast path needs it.
#[derive(Debug)]
struct Known {
    size: u64,
    mtime_ns: i64,
    blake3: Option<String>,
    state: String,
    skip_reason: Option<String>,
}

/// One change to write, decided by the blocking side of a scan.
#[derive(Debug)]
enum Op {
    /// New contents: full row as `discovered`, plus a chunk job.
    Discovered {
        path: String,
        size: u64,
        mtime_ns: i64,
        blake3: String,
    },
    /// Same contents, moved metadata: keep state and hash.
    Touched {
        path: String,
        size: u64,
        mtime_ns: i64,
    },
    /// Unusable file: `skipped` row with a reason, no hash, no job.
    Skipped {
        path: String,
        size: u64,
        mtime_ns: i64,
        reason: String,
    },
    /// File gone: row and jobs removed.
    Removed { path: String },
}

impl FileIndex {
    /// Wraps an open storage (with migration `0002_files` applied).
    pub fn new(storage: Storage) -> Self {
        FileIndex { storage }
    }

    /// Records `root` (canonicalised) as a workspace, or returns its id if it is already
    /// registered, so calling it at every start-up is harmless.
    pub async fn register_workspace(&self, root: &Path) -> Result<WorkspaceId, IndexError> {
        let root_str = canonical_root(root)?;
        let now = now_ms();
        let id = self
            .storage
            .write(move |tx| {
                tx.execute(
                    "INSERT OR IGNORE INTO workspaces (root, added_ms) VALUES (?1, ?2)",
                    params![root_str, now],
                )?;
                Ok(tx.query_row(
                    "SELECT id FROM workspaces WHERE root = ?1",
                    params![root_str],
                    |r| r.get(0),
                )?)
            })
            .await?;
        Ok(WorkspaceId(id))
    }

    /// Walks the workspace and brings its `files` rows and `chunk` jobs up to date (see the
    /// module docs). `opts.root` must be the workspace's registered root.
    pub async fn scan(
        &self,
        workspace: WorkspaceId,
        opts: &WalkOptions,
    ) -> Result<ScanReport, IndexError> {
        let registered = self.workspace_root(workspace).await?;
        let given = canonical_root(&opts.root)?;
        if given != registered {
            return Err(IndexError::RootMismatch {
                id: workspace.0,
                registered: registered.into(),
                given: opts.root.clone(),
            });
        }
        let known = self.load_known(workspace).await?;
        let mut opts = opts.clone();
        opts.root = PathBuf::from(given);

        let (tx, mut rx) = mpsc::channel::<Vec<Op>>(4);
        let blocking = tokio::task::spawn_blocking(move || scan_blocking(&opts, known, &tx));
        let mut enqueued = 0;
        while let Some(batch) = rx.recv().await {
            enqueued += self.apply(workspace, batch).await?;
        }
        let mut report = match blocking.await {
            Ok(result) => result?,
            Err(e) => return Err(IndexError::Task(e.to_string())),
        };
        report.enqueued = enqueued;
        tracing::info!(
            workspace = workspace.0,
            seen = report.seen,
            unchanged = report.unchanged,
            new = report.new,
            changed = report.changed,
            removed = report.removed,
            skipped = report.skipped.len(),
            retry_later = report.retry_later.len(),
            "workspace scan finished"
        );
        Ok(report)
    }

    /// The registered root of `workspace`.
    async fn workspace_root(&self, workspace: WorkspaceId) -> Result<String, IndexError> {
        let id = workspace.0;
        self.storage
            .read(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT root FROM workspaces WHERE id = ?1",
                        params![id],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()?)
            })
            .await?
            .ok_or(IndexError::UnknownWorkspace(id))
    }

    /// Every file row of `workspace`, keyed by path, for the fast path and to find deletions.
    async fn load_known(
        &self,
        workspace: WorkspaceId,
    ) -> Result<HashMap<String, Known>, IndexError> {
        let id = workspace.0;
        Ok(self
            .storage
            .read(move |conn| {
                let mut stmt = conn.prepare(
                    "SELECT path, size, mtime_ns, blake3, state, skip_reason \
                     FROM files WHERE workspace_id = ?1",
                )?;
                let rows = stmt.query_map(params![id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Known {
                            size: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                            mtime_ns: r.get(2)?,
                            blake3: r.get(3)?,
                            state: r.get(4)?,
                            skip_reason: r.get(5)?,
                        },
                    ))
                })?;
                let mut known = HashMap::new();
                for row in rows {
                    let (path, k) = row?;
                    known.insert(path, k);
                }
                Ok(known)
            })
            .await?)
    }

    /// Writes one batch in one transaction; returns how many jobs it added.
    async fn apply(&self, workspace: WorkspaceId, batch: Vec<Op>) -> Result<usize, IndexError> {
        let id = workspace.0;
        let now = now_ms();
        Ok(self
            .storage
            .write(move |tx| {
                let mut enqueued = 0;
                for op in batch {
                    match op {
                        Op::Discovered {
                            path,
                            size,
                            mtime_ns,
                            blake3,
                        } => {
                            upsert(
                                tx,
                                id,
                                &path,
                                size,
                                mtime_ns,
                                Some(&blake3),
                                "discovered",
                                None,
                                now,
                            )?;
                            enqueued += tx.execute(
                                "INSERT OR IGNORE INTO jobs (workspace_id, kind, path, created_ms) \
                                 VALUES (?1, ?2, ?3, ?4)",
                                params![id, CHUNK_JOB, path, now],
                            )?;
                        }
                        Op::Touched {
                            path,
                            size,
                            mtime_ns,
                        } => {
                            tx.execute(
                                "UPDATE files SET size = ?3, mtime_ns = ?4, updated_ms = ?5 \
                                 WHERE workspace_id = ?1 AND path = ?2",
                                params![id, path, to_i64(size), mtime_ns, now],
                            )?;
                        }
                        Op::Skipped {
                            path,
                            size,
                            mtime_ns,
                            reason,
                        } => {
                            upsert(
                                tx,
                                id,
                                &path,
                                size,
                                mtime_ns,
                                None,
                                "skipped",
                                Some(&reason),
                                now,
                            )?;
                            delete_jobs(tx, id, &path)?;
                        }
                        Op::Removed { path } => {
                            tx.execute(
                                "DELETE FROM files WHERE workspace_id = ?1 AND path = ?2",
                                params![id, path],
                            )?;
                            delete_jobs(tx, id, &path)?;
                        }
                    }
                }
                Ok(enqueued)
            })
            .await?)
    }
}

/// Inserts or replaces a file row with the given state.
#[allow(
    clippy::too_many_arguments,
    reason = "one column per argument reads best here"
)]
fn upsert(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    path: &str,
    size: u64,
    mtime_ns: i64,
    blake3: Option<&str>,
    state: &str,
    skip_reason: Option<&str>,
    now: i64,
) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO files (workspace_id, path, size, mtime_ns, blake3, state, skip_reason, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (workspace_id, path) DO UPDATE SET size = excluded.size, \
         mtime_ns = excluded.mtime_ns, blake3 = excluded.blake3, state = excluded.state, \
         skip_reason = excluded.skip_reason, updated_ms = excluded.updated_ms",
        params![id, path, to_i64(size), mtime_ns, blake3, state, skip_reason, now],
    )?;
    Ok(())
}

/// Removes every job about one file (all kinds: nothing derived outlives its source).
fn delete_jobs(tx: &rusqlite::Transaction<'_>, id: i64, path: &str) -> Result<(), StorageError> {
    tx.execute(
        "DELETE FROM jobs WHERE workspace_id = ?1 AND path = ?2",
        params![id, path],
    )?;
    Ok(())
}

/// The blocking half of a scan: walks, reads and hashes, and sends batches of changes.
/// `known` shrinks as files are seen; what is left at the end is gone from disk.
fn scan_blocking(
    opts: &WalkOptions,
    mut known: HashMap<String, Known>,
    tx: &mpsc::Sender<Vec<Op>>,
) -> Result<ScanReport, IndexError> {
    let mut report = ScanReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    let send = |batch: &mut Vec<Op>, force: bool| -> Result<(), IndexError> {
        if batch.len() >= BATCH || (force && !batch.is_empty()) {
            tx.blocking_send(std::mem::take(batch))
                .map_err(|_| IndexError::Task("the scan writer stopped".to_owned()))?;
        }
        Ok(())
    };
    for entry in walk(opts)? {
        report.seen += 1;
        let Some(path) = entry.rel.to_str().map(str::to_owned) else {
            tracing::warn!(path = %entry.rel.display(), "path is not valid UTF-8; not indexed");
            report
                .skipped
                .push((entry.rel, "path is not valid UTF-8".to_owned()));
            continue;
        };
        let prior = known.remove(&path);
        let same_meta = prior
            .as_ref()
            .is_some_and(|k| k.size == entry.size && k.mtime_ns == entry.mtime_ns);
        match entry.outcome {
            WalkOutcome::Skipped(reason) => {
                report.skipped.push((entry.rel, reason.to_string()));
            }
            WalkOutcome::Oversized => {
                let was_oversized = prior
                    .as_ref()
                    .is_some_and(|k| k.skip_reason.as_deref() == Some(OVERSIZED));
                if same_meta && was_oversized {
                    report.unchanged += 1;
                } else {
                    report.skipped.push((entry.rel, OVERSIZED.to_owned()));
                    batch.push(Op::Skipped {
                        path,
                        size: entry.size,
                        mtime_ns: entry.mtime_ns,
                        reason: OVERSIZED.to_owned(),
                    });
                }
            }
            WalkOutcome::Candidate => {
                // A skip other than "binary" may not hold any more (cap raised, permissions
                // fixed), so only readable rows and binaries take the fast path.
                let fast = prior.as_ref().is_some_and(|k| {
                    k.skip_reason.is_none() || k.skip_reason.as_deref() == Some(BINARY)
                });
                if same_meta && fast {
                    report.unchanged += 1;
                } else {
                    let full = opts.root.join(&entry.rel);
                    match read_stable(&full, opts.max_file_bytes) {
                        Ok(bytes) => {
                            let same_hash = prior.as_ref().is_some_and(|k| {
                                k.state != "skipped" && k.blake3.as_deref() == Some(&bytes.blake3)
                            });
                            if same_hash {
                                report.touched += 1;
                                batch.push(Op::Touched {
                                    path,
                                    size: bytes.size,
                                    mtime_ns: bytes.mtime_ns,
                                });
                            } else {
                                if prior.is_some() {
                                    report.changed += 1;
                                } else {
                                    report.new += 1;
                                }
                                batch.push(Op::Discovered {
                                    path,
                                    size: bytes.size,
                                    mtime_ns: bytes.mtime_ns,
                                    blake3: bytes.blake3,
                                });
                            }
                        }
                        Err(ReadSkip::Changed { .. }) => report.retry_later.push(entry.rel),
                        Err(skip) => {
                            tracing::info!(reason = %skip, "file not indexed");
                            let reason = skip.reason();
                            report.skipped.push((entry.rel, reason.clone()));
                            batch.push(Op::Skipped {
                                path,
                                size: entry.size,
                                mtime_ns: entry.mtime_ns,
                                reason,
                            });
                        }
                    }
                }
            }
        }
        send(&mut batch, false)?;
    }
    for path in known.into_keys() {
        report.removed += 1;
        batch.push(Op::Removed { path });
        send(&mut batch, false)?;
    }
    send(&mut batch, true)?;
    Ok(report)
}

/// `root` made absolute and symlink-free, as text (workspace roots are stored as TEXT).
fn canonical_root(root: &Path) -> Result<String, IndexError> {
    let canonical = std::fs::canonicalize(root).map_err(|e| IndexError::Root {
        path: root.to_path_buf(),
        reason: e.to_string(),
    })?;
    canonical
        .into_os_string()
        .into_string()
        .map_err(|_| IndexError::Root {
            path: root.to_path_buf(),
            reason: "the path is not valid UTF-8".to_owned(),
        })
}

/// SQLite integers are signed; sizes beyond `i64::MAX` do not occur but must not wrap.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
