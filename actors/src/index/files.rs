//! The file index in SQLite: which files of a workspace exist, what their contents hash to,
//! their chunks, keyword (FTS5) rows and symbols.
//!
//! A scan compares the walk against the `files` table: a file whose size and mtime match its
//! row is not even opened (the fast path that makes rescans of a big tree cheap); a changed or
//! new one is read with [`read_stable`], hashed, and only a new hash is chunked. Reading,
//! hashing and chunking run on several threads; one writer applies their results in batched
//! transactions, each file's row, chunks, FTS rows and symbols together, so a crash leaves
//! every file either fully indexed or untouched, and keyword search works as soon as a batch
//! commits. Rows of files that are gone (deleted, renamed, newly ignored) are removed, and
//! their chunks, FTS rows and symbols with them (cascade plus trigger, see migration 0003),
//! so nothing derived outlives its source.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, OptionalExtension};
use tokio::sync::mpsc;
use weft_chunk::{chunk_text, split_terms, ChunkOptions, Lang};

use super::progress::Progress;
use super::read::{read_stable, ReadSkip};
use super::walk::{walk, Walk, WalkError, WalkOptions, WalkOutcome};
use crate::storage::{Storage, StorageError};

/// A batch is written once it holds this many files...
const BATCH_FILES: usize = 400;
/// ...or this many bytes of text: big enough to amortise the commit, small enough that memory
/// stays bounded and other writers do not wait long behind a scan.
const BATCH_BYTES: usize = 4 << 20;

/// `files.skip_reason` for a file over the size cap (metadata only).
const OVERSIZED: &str = "oversized";
/// `files.skip_reason` for a binary file.
const BINARY: &str = "binary";
/// Text-first windows: larger than syntax chunks, because the syntax pass deletes every one
/// and an FTS5 delete costs per row (the pass took 42 s longer with the 1,536-byte windows
/// of plain text files on the vendor corpus).
const TEXT_FIRST_WINDOWS: ChunkOptions = ChunkOptions {
    max_bytes: 16 * 1024,
    max_lines: 400,
    min_bytes: 256,
};
/// `chunks.pending` of a text-first line window: never embedded, and deleting it leaves no
/// vector tombstone (migration 0008).
const PENDING_TEXT_FIRST: i64 = 2;

/// Row id of a registered workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkspaceId(pub i64);

/// What one [`FileIndex::scan`] (or [`FileIndex::update_paths`]) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Paths the walk yielded (files, plus paths it skipped).
    pub seen: usize,
    /// Files whose size and mtime matched their row: not read, row untouched.
    pub unchanged: usize,
    /// Files whose size or mtime moved but whose hash did not: row metadata refreshed, chunks
    /// kept.
    pub touched: usize,
    /// Files with no row before, now chunked.
    pub new: usize,
    /// Files whose contents hash changed (or that were skipped before and are readable now):
    /// chunked again.
    pub changed: usize,
    /// Rows removed (with everything derived) because the file is gone or now ignored.
    pub removed: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Bytes of the files chunked.
    pub bytes: u64,
    /// Paths newly found unusable, with the reason (binary, oversized, unreadable, symlink
    /// loop, ...). A file skipped before and unchanged since is counted in `unchanged`.
    pub skipped: Vec<(PathBuf, String)>,
    /// Files that changed or vanished while being read; their rows were left as they were and
    /// the next scan tries again.
    pub retry_later: Vec<PathBuf>,
    /// Files written as plain line windows only ("text first", see
    /// [`IndexOptions::text_first_after`]): keyword-searchable, waiting for
    /// [`FileIndex::refine`] to chunk them by syntax.
    pub windowed: Vec<PathBuf>,
}

impl ScanReport {
    fn merge(&mut self, other: ScanReport) {
        self.seen += other.seen;
        self.unchanged += other.unchanged;
        self.touched += other.touched;
        self.new += other.new;
        self.changed += other.changed;
        self.removed += other.removed;
        self.chunks += other.chunks;
        self.bytes += other.bytes;
        self.skipped.extend(other.skipped);
        self.retry_later.extend(other.retry_later);
        self.windowed.extend(other.windowed);
    }
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

/// How to index: what to walk, how to chunk, how many threads read and chunk.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Walk settings; `root` must be the workspace's registered root.
    pub walk: WalkOptions,
    /// Chunk size limits.
    pub chunk: ChunkOptions,
    /// Threads reading, hashing and chunking files (0: one per CPU).
    pub threads: usize,
    /// Text first: once a full scan has chunked this many bytes of new files by syntax, it
    /// writes the rest of the new files as plain line windows (FTS rows, no symbols, not
    /// embedded) and lists them in [`ScanReport::windowed`] for [`FileIndex::refine`].
    /// Parsing is about half of a scan's CPU time, so on a big tree keyword search covers
    /// every file several times sooner (vendor corpus: 5.8 s instead of 27 s).
    /// `None`: every file is chunked by syntax at once.
    pub text_first_after: Option<u64>,
}

impl IndexOptions {
    /// Defaults for `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        IndexOptions {
            walk: WalkOptions::new(root),
            chunk: ChunkOptions::default(),
            threads: 0,
            text_first_after: None,
        }
    }

    fn thread_count(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        }
    }
}

/// A registered workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Its id.
    pub id: WorkspaceId,
    /// Its canonical root.
    pub root: PathBuf,
}

/// Row counts of one workspace, for progress and status.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexCounts {
    /// File rows (indexed or skipped).
    pub files: u64,
    /// Files whose chunks are written.
    pub chunked: u64,
    /// Files whose chunks all have vectors.
    pub embedded: u64,
    /// Files skipped (binary, oversized, unreadable).
    pub skipped: u64,
    /// Chunks.
    pub chunks: u64,
    /// Chunks still waiting for a vector.
    pub pending: u64,
    /// Bytes of the indexed files.
    pub bytes: u64,
}

/// The typed layer over [`Storage`] for workspaces, files, chunks and symbols.
#[derive(Debug, Clone)]
pub struct FileIndex {
    storage: Storage,
}

/// A file's row as the fast path needs it.
#[derive(Debug, Clone)]
struct Known {
    size: u64,
    mtime_ns: i64,
    blake3: Option<String>,
    state: String,
    skip_reason: Option<String>,
}

/// Which file rows [`FileIndex::load_known`] reads.
enum Rows {
    /// Every row of the workspace.
    All,
    /// The rows at or under these paths (a scan of the path range each).
    Under(Vec<String>),
    /// The rows at exactly these paths (one index lookup each).
    Exact(Vec<String>),
}

/// File rows at or under `?2` (every row when it is NULL).
const ROWS_UNDER: &str = "SELECT path, size, mtime_ns, blake3, state, skip_reason FROM files \
     WHERE workspace_id = ?1 AND (?2 IS NULL OR path = ?2 \
       OR (path > ?2 || '/' AND path < ?2 || '0'))";

impl Known {
    /// Reads `size, mtime_ns, blake3, state, skip_reason` from column `first` on.
    fn from_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Known> {
        Ok(Known {
            size: u64::try_from(r.get::<_, i64>(first)?).unwrap_or(0),
            mtime_ns: r.get(first + 1)?,
            blake3: r.get(first + 2)?,
            state: r.get(first + 3)?,
            skip_reason: r.get(first + 4)?,
        })
    }
}

/// One chunk ready to write.
#[derive(Debug)]
struct ChunkRow {
    key: String,
    start_line: u32,
    end_line: u32,
    start_byte: usize,
    end_byte: usize,
    kind: &'static str,
    symbol: Option<String>,
    header: Option<String>,
    content_hash: String,
    terms: String,
    blank: bool,
}

/// One symbol ready to write.
#[derive(Debug)]
struct SymbolRow {
    /// Index into the file's chunks of the chunk holding the symbol's first line.
    chunk: usize,
    name: String,
    kind: &'static str,
    container: Option<String>,
    start_line: u32,
    end_line: u32,
}

/// One change to write, decided by the blocking side of a scan.
#[derive(Debug)]
enum Op {
    /// New contents, chunked: the full row as `chunked`, its chunks, FTS rows and symbols.
    Indexed {
        path: String,
        size: u64,
        mtime_ns: i64,
        blake3: String,
        lang: &'static str,
        /// Whether rows of an earlier version may exist and must be replaced.
        replace: bool,
        /// Plain line windows written ahead of the syntax chunks: the row stays
        /// `discovered` and the chunks are not queued for embedding (`pending = 2`).
        text_first: bool,
        text: String,
        chunks: Vec<ChunkRow>,
        symbols: Vec<SymbolRow>,
    },
    /// Same contents, moved metadata: keep state, hash and chunks.
    Touched {
        path: String,
        size: u64,
        mtime_ns: i64,
    },
    /// Unusable file: `skipped` row with a reason, no hash, no chunks.
    Skipped {
        path: String,
        size: u64,
        mtime_ns: i64,
        reason: String,
    },
    /// File (or directory: every file under it) gone: rows removed.
    Removed { path: String, prefix: bool },
}

impl Op {
    fn weight(&self) -> usize {
        match self {
            Op::Indexed { text, .. } => text.len() + 256,
            _ => 64,
        }
    }
}

/// One file the walker wants read, with what the index knew of it.
#[derive(Debug)]
struct Work {
    rel: PathBuf,
    path: String,
    prior: Option<Known>,
}

impl FileIndex {
    /// Wraps an open storage (with migrations up to `0003_chunks` applied).
    pub fn new(storage: Storage) -> Self {
        FileIndex { storage }
    }

    /// The storage underneath.
    pub fn storage(&self) -> &Storage {
        &self.storage
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

    /// Every registered workspace, oldest first.
    pub async fn workspaces(&self) -> Result<Vec<Workspace>, IndexError> {
        Ok(self
            .storage
            .read(|conn| {
                let mut stmt = conn.prepare("SELECT id, root FROM workspaces ORDER BY id")?;
                let rows = stmt.query_map([], |r| {
                    Ok(Workspace {
                        id: WorkspaceId(r.get(0)?),
                        root: PathBuf::from(r.get::<_, String>(1)?),
                    })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?)
    }

    /// Forgets a workspace and everything indexed for it.
    pub async fn remove_workspace(&self, workspace: WorkspaceId) -> Result<(), IndexError> {
        let id = workspace.0;
        self.storage
            .write(move |tx| {
                // Chunks first, so their trigger sees each row (FTS row, tombstone).
                tx.execute("DELETE FROM chunks WHERE workspace_id = ?1", params![id])?;
                tx.execute("DELETE FROM workspaces WHERE id = ?1", params![id])?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Row counts of `workspace`.
    pub async fn counts(&self, workspace: WorkspaceId) -> Result<IndexCounts, IndexError> {
        let id = workspace.0;
        Ok(self
            .storage
            .read(move |conn| {
                let (files, chunked, embedded, skipped, bytes) = conn.query_row(
                    "SELECT count(*), \
                       coalesce(sum(state IN ('chunked', 'embedded')), 0), \
                       coalesce(sum(state = 'embedded'), 0), \
                       coalesce(sum(state = 'skipped'), 0), \
                       coalesce(sum(CASE WHEN state != 'skipped' THEN size ELSE 0 END), 0) \
                     FROM files WHERE workspace_id = ?1",
                    params![id],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, i64>(4)?,
                        ))
                    },
                )?;
                let (chunks, pending) = conn.query_row(
                    "SELECT count(*), coalesce(sum(pending = 1), 0) FROM chunks WHERE workspace_id = ?1",
                    params![id],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )?;
                let u = |n: i64| u64::try_from(n).unwrap_or(0);
                Ok(IndexCounts {
                    files: u(files),
                    chunked: u(chunked),
                    embedded: u(embedded),
                    skipped: u(skipped),
                    chunks: u(chunks),
                    pending: u(pending),
                    bytes: u(bytes),
                })
            })
            .await?)
    }

    /// Walks the workspace and brings its rows up to date (see the module docs).
    /// `opts.walk.root` must be the workspace's registered root.
    pub async fn scan(
        &self,
        workspace: WorkspaceId,
        opts: &IndexOptions,
        progress: &Arc<Progress>,
    ) -> Result<ScanReport, IndexError> {
        let opts = self.checked(workspace, opts).await?;
        // The walk starts first (on its own threads) and fills its channel while the known
        // rows load: on a no-op re-index the two together are most of the time.
        let walk_opts = opts.walk.clone();
        let walker = tokio::task::spawn_blocking(move || walk(&walk_opts))
            .await
            .map_err(|e| IndexError::Task(e.to_string()))??;
        let known = self.load_known(workspace, Rows::All).await?;
        progress.start();
        let progress2 = Arc::clone(progress);
        let report = self
            .run(workspace, move |tx| {
                scan_blocking(workspace, &opts, walker, known, &progress2, tx)
            })
            .await;
        progress.finish();
        let report = report?;
        tracing::info!(
            workspace = workspace.0,
            seen = report.seen,
            unchanged = report.unchanged,
            new = report.new,
            changed = report.changed,
            removed = report.removed,
            chunks = report.chunks,
            skipped = report.skipped.len(),
            retry_later = report.retry_later.len(),
            "workspace scan finished"
        );
        Ok(report)
    }

    /// Chunks by syntax files a text-first scan wrote as line windows
    /// ([`ScanReport::windowed`]), replacing the windows, and queues their chunks for
    /// embedding. A file whose row is no longer a text-first one (re-chunked by an update,
    /// removed) is left alone; one that changed since is chunked as it is now.
    pub async fn refine(
        &self,
        workspace: WorkspaceId,
        opts: &IndexOptions,
        paths: Vec<PathBuf>,
    ) -> Result<ScanReport, IndexError> {
        let opts = self.checked(workspace, opts).await?;
        let wanted: Vec<String> = paths
            .iter()
            .filter_map(|p| p.to_str().map(str::to_owned))
            .collect();
        let works: Vec<Work> = self
            .load_known(workspace, Rows::Exact(wanted))
            .await?
            .into_iter()
            .filter(|(_, prior)| prior.state == "discovered" && prior.skip_reason.is_none())
            .map(|(path, prior)| Work {
                rel: PathBuf::from(&path),
                path,
                prior: Some(prior),
            })
            .collect();
        if works.is_empty() {
            return Ok(ScanReport::default());
        }
        // Its own counters: the finished scan's stay as they were for status.
        let progress = Progress::default();
        self.run(workspace, move |tx| {
            let _bulk = weft_chunk::BulkChunking::begin();
            with_chunk_workers(workspace, &opts, &progress, tx, None, |work_tx| {
                for work in works {
                    if work_tx.send(work).is_err() {
                        return Err(IndexError::Task("the chunk workers stopped".to_owned()));
                    }
                }
                Ok(ScanReport::default())
            })
        })
        .await
    }

    /// Brings the rows of the given paths (relative to the root; files or directories, as a
    /// watcher reports them) up to date: a path that is gone or now ignored loses its rows
    /// (and a directory every row under it), an existing directory is walked.
    pub async fn update_paths(
        &self,
        workspace: WorkspaceId,
        opts: &IndexOptions,
        paths: Vec<PathBuf>,
        progress: &Arc<Progress>,
    ) -> Result<ScanReport, IndexError> {
        let opts = self.checked(workspace, opts).await?;
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        for p in paths {
            match p.to_str() {
                Some(s) if !s.is_empty() => {
                    wanted.insert(s.trim_end_matches('/').to_owned());
                }
                _ => {}
            }
        }
        if wanted.is_empty() {
            return Ok(ScanReport::default());
        }
        let known = self
            .load_known(workspace, Rows::Under(wanted.iter().cloned().collect()))
            .await?;
        let progress = Arc::clone(progress);
        self.run(workspace, move |tx| {
            update_blocking(workspace, &opts, &wanted, known, &progress, tx)
        })
        .await
    }

    /// Checks the root and returns the options with the canonical root.
    async fn checked(
        &self,
        workspace: WorkspaceId,
        opts: &IndexOptions,
    ) -> Result<IndexOptions, IndexError> {
        let registered = self.workspace_root(workspace).await?;
        let given = canonical_root(&opts.walk.root)?;
        if given != registered {
            return Err(IndexError::RootMismatch {
                id: workspace.0,
                registered: registered.into(),
                given: opts.walk.root.clone(),
            });
        }
        let mut opts = opts.clone();
        opts.walk.root = PathBuf::from(given);
        Ok(opts)
    }

    /// Runs `blocking` on a blocking thread, writing the batches it sends as they come.
    async fn run<F>(&self, workspace: WorkspaceId, blocking: F) -> Result<ScanReport, IndexError>
    where
        F: FnOnce(&mpsc::Sender<Vec<Op>>) -> Result<ScanReport, IndexError> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Vec<Op>>(4);
        let handle = tokio::task::spawn_blocking(move || blocking(&tx));
        let mut write_error = None;
        while let Some(batch) = rx.recv().await {
            if let Err(e) = self.apply(workspace, batch).await {
                // Stop the producers (they see the closed channel) and report the first error.
                write_error = Some(e);
                rx.close();
                break;
            }
        }
        let result = match handle.await {
            Ok(result) => result,
            Err(e) => Err(IndexError::Task(e.to_string())),
        };
        match write_error {
            Some(e) => Err(e),
            None => result,
        }
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

    /// File rows of `workspace` keyed by path (see [`Rows`]).
    async fn load_known(
        &self,
        workspace: WorkspaceId,
        which: Rows,
    ) -> Result<HashMap<String, Known>, IndexError> {
        let id = workspace.0;
        Ok(self
            .storage
            .read(move |conn| {
                let mut known = HashMap::new();
                let (sql, keys): (&str, Vec<Option<String>>) = match which {
                    Rows::All => (ROWS_UNDER, vec![None]),
                    Rows::Under(v) => (ROWS_UNDER, v.into_iter().map(Some).collect()),
                    Rows::Exact(v) => (
                        "SELECT path, size, mtime_ns, blake3, state, skip_reason FROM files \
                         WHERE workspace_id = ?1 AND path = ?2",
                        v.into_iter().map(Some).collect(),
                    ),
                };
                let mut stmt = conn.prepare_cached(sql)?;
                for key in keys {
                    let rows = stmt.query_map(params![id, key], |r| {
                        Ok((r.get::<_, String>(0)?, Known::from_row(r, 1)?))
                    })?;
                    for row in rows {
                        let (path, k) = row?;
                        known.insert(path, k);
                    }
                }
                Ok(known)
            })
            .await?)
    }

    /// Writes one batch in one transaction.
    async fn apply(&self, workspace: WorkspaceId, batch: Vec<Op>) -> Result<(), IndexError> {
        let id = workspace.0;
        let now = now_ms();
        self.storage
            .write(move |tx| {
                for op in batch {
                    apply_op(tx, id, op, now)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}

/// Writes one change (inside the batch's transaction).
fn apply_op(tx: &rusqlite::Transaction<'_>, id: i64, op: Op, now: i64) -> Result<(), StorageError> {
    match op {
        Op::Indexed {
            path,
            size,
            mtime_ns,
            blake3,
            lang,
            replace,
            text_first,
            text,
            chunks,
            symbols,
        } => {
            let state = if text_first { "discovered" } else { "chunked" };
            upsert(
                tx,
                id,
                &path,
                size,
                mtime_ns,
                Some(&blake3),
                state,
                None,
                now,
            )?;
            if replace {
                delete_derived(tx, id, &path)?;
            }
            let mut insert_chunk = tx.prepare_cached(
                "INSERT INTO chunks (workspace_id, path, chunk_key, start_line, end_line, \
                 start_byte, end_byte, lang, kind, symbol, header, content_hash, pending) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let mut insert_fts = tx.prepare_cached(
                "INSERT INTO chunks_fts (rowid, body, terms, symbol) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut untomb =
                tx.prepare_cached("DELETE FROM vector_tombstones WHERE chunk_key = ?1")?;
            let mut rowids = Vec::with_capacity(chunks.len());
            for c in chunks {
                let rowid = insert_chunk.insert(params![
                    id,
                    path,
                    c.key,
                    c.start_line,
                    c.end_line,
                    to_i64(c.start_byte as u64),
                    to_i64(c.end_byte as u64),
                    lang,
                    c.kind,
                    c.symbol,
                    c.header,
                    c.content_hash,
                    if text_first {
                        PENDING_TEXT_FIRST
                    } else {
                        i64::from(!c.blank)
                    },
                ])?;
                rowids.push(rowid);
                let body = text.get(c.start_byte..c.end_byte).unwrap_or_default();
                let symbol = match (&c.symbol, &c.header) {
                    (Some(s), Some(h)) => format!("{s} {h}"),
                    (Some(s), None) => s.clone(),
                    (None, Some(h)) => h.clone(),
                    (None, None) => String::new(),
                };
                insert_fts.execute(params![rowid, body, c.terms, symbol])?;
                if replace {
                    untomb.execute(params![c.key])?;
                }
            }
            let mut insert_symbol = tx.prepare_cached(
                "INSERT INTO symbols (chunk_id, name, kind, container, start_line, end_line) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for s in symbols {
                let Some(chunk_id) = rowids.get(s.chunk) else {
                    continue;
                };
                insert_symbol.execute(params![
                    chunk_id,
                    s.name,
                    s.kind,
                    s.container,
                    s.start_line,
                    s.end_line
                ])?;
            }
        }
        Op::Touched {
            path,
            size,
            mtime_ns,
        } => {
            tx.prepare_cached(
                "UPDATE files SET size = ?3, mtime_ns = ?4, updated_ms = ?5 \
                 WHERE workspace_id = ?1 AND path = ?2",
            )?
            .execute(params![id, path, to_i64(size), mtime_ns, now])?;
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
            delete_derived(tx, id, &path)?;
        }
        Op::Removed { path, prefix } => {
            // Chunks first (their trigger records tombstones), then the rows.
            let range = "workspace_id = ?1 AND (path = ?2 OR (?3 AND path > ?2 || '/' AND path < ?2 || '0'))";
            tx.prepare_cached(&format!("DELETE FROM chunks WHERE {range}"))?
                .execute(params![id, path, prefix])?;
            tx.prepare_cached(&format!("DELETE FROM files WHERE {range}"))?
                .execute(params![id, path, prefix])?;
            tx.prepare_cached(&format!("DELETE FROM jobs WHERE {range}"))?
                .execute(params![id, path, prefix])?;
        }
    }
    Ok(())
}

/// Removes a file's chunks (with their FTS rows, via the trigger, and their symbols, by
/// cascade) and jobs.
fn delete_derived(tx: &rusqlite::Transaction<'_>, id: i64, path: &str) -> Result<(), StorageError> {
    for sql in [
        "DELETE FROM chunks WHERE workspace_id = ?1 AND path = ?2",
        "DELETE FROM jobs WHERE workspace_id = ?1 AND path = ?2",
    ] {
        tx.prepare_cached(sql)?.execute(params![id, path])?;
    }
    Ok(())
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
    tx.prepare_cached(
        "INSERT INTO files (workspace_id, path, size, mtime_ns, blake3, state, skip_reason, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (workspace_id, path) DO UPDATE SET size = excluded.size, \
         mtime_ns = excluded.mtime_ns, blake3 = excluded.blake3, state = excluded.state, \
         skip_reason = excluded.skip_reason, updated_ms = excluded.updated_ms",
    )?
    .execute(params![id, path, to_i64(size), mtime_ns, blake3, state, skip_reason, now])?;
    Ok(())
}

/// Sends batches of ops from one thread, by count and bytes.
struct Batcher<'a> {
    tx: &'a mpsc::Sender<Vec<Op>>,
    ops: Vec<Op>,
    weight: usize,
}

impl<'a> Batcher<'a> {
    fn new(tx: &'a mpsc::Sender<Vec<Op>>) -> Self {
        Batcher {
            tx,
            ops: Vec::new(),
            weight: 0,
        }
    }

    fn push(&mut self, op: Op) -> Result<(), IndexError> {
        self.weight += op.weight();
        self.ops.push(op);
        if self.ops.len() >= BATCH_FILES || self.weight >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IndexError> {
        if self.ops.is_empty() {
            return Ok(());
        }
        self.weight = 0;
        self.tx
            .blocking_send(std::mem::take(&mut self.ops))
            .map_err(|_| IndexError::Task("the index writer stopped".to_owned()))
    }
}

/// The blocking half of a full scan: one thread walks and applies the fast path, the others
/// read, hash and chunk; `known` shrinks as files are seen, and what is left at the end is
/// gone from disk.
fn scan_blocking(
    workspace: WorkspaceId,
    opts: &IndexOptions,
    walker: Walk,
    mut known: HashMap<String, Known>,
    progress: &Progress,
    tx: &mpsc::Sender<Vec<Op>>,
) -> Result<ScanReport, IndexError> {
    let _bulk = weft_chunk::BulkChunking::begin();
    // Bytes of new files chunked by syntax in this scan (text first starts past the limit).
    let syntax_bytes = AtomicU64::new(0);
    with_chunk_workers(
        workspace,
        opts,
        progress,
        tx,
        Some(&syntax_bytes),
        |work_tx| {
            let mut report = ScanReport::default();
            let mut batch = Batcher::new(tx);
            for entry in walker {
                report.seen += 1;
                Progress::add(&progress.seen, 1);
                let Some(path) = entry.rel.to_str().map(str::to_owned) else {
                    tracing::warn!(path = %entry.rel.display(), "path is not valid UTF-8; not indexed");
                    report
                        .skipped
                        .push((entry.rel, "path is not valid UTF-8".to_owned()));
                    continue;
                };
                let prior = known.remove(&path);
                if let Some(work) = triage(
                    entry.rel,
                    path,
                    entry.size,
                    entry.mtime_ns,
                    entry.outcome,
                    prior,
                    &mut report,
                    &mut batch,
                    progress,
                )? {
                    if work_tx.send(work).is_err() {
                        return Err(IndexError::Task("the chunk workers stopped".to_owned()));
                    }
                }
            }
            for path in std::mem::take(&mut known).into_keys() {
                report.removed += 1;
                batch.push(Op::Removed {
                    path,
                    prefix: false,
                })?;
            }
            batch.flush()?;
            Ok(report)
        },
    )
}

/// Runs `feed` (which sends the files to read) beside `opts.thread_count()` chunk workers,
/// and merges the workers' reports into the one `feed` returns.
fn with_chunk_workers(
    workspace: WorkspaceId,
    opts: &IndexOptions,
    progress: &Progress,
    tx: &mpsc::Sender<Vec<Op>>,
    syntax_bytes: Option<&AtomicU64>,
    feed: impl FnOnce(&std::sync::mpsc::SyncSender<Work>) -> Result<ScanReport, IndexError>,
) -> Result<ScanReport, IndexError> {
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Work>(256);
    let work_rx = Mutex::new(work_rx);
    let threads = opts.thread_count();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| chunk_worker(workspace, opts, &work_rx, progress, tx, syntax_bytes))
            })
            .collect();
        let fed = feed(&work_tx);
        drop(work_tx);
        let mut report = fed?;
        for worker in workers {
            match worker.join() {
                Ok(partial) => report.merge(partial?),
                Err(_) => return Err(IndexError::Task("a chunk worker panicked".to_owned())),
            }
        }
        Ok(report)
    })
}

/// Decides what the walk's verdict on one path means: nothing to do (fast path), an op for
/// the writer, or a file to read (returned).
#[allow(
    clippy::too_many_arguments,
    reason = "the walk entry's fields plus the scan's accumulators"
)]
fn triage(
    rel: PathBuf,
    path: String,
    size: u64,
    mtime_ns: i64,
    outcome: WalkOutcome,
    prior: Option<Known>,
    report: &mut ScanReport,
    batch: &mut Batcher<'_>,
    progress: &Progress,
) -> Result<Option<Work>, IndexError> {
    let same_meta = prior
        .as_ref()
        .is_some_and(|k| k.size == size && k.mtime_ns == mtime_ns);
    match outcome {
        WalkOutcome::Directory => {}
        WalkOutcome::Skipped(reason) => {
            Progress::add(&progress.skipped, 1);
            report.skipped.push((rel, reason.to_string()));
        }
        WalkOutcome::Oversized => {
            let was_oversized = prior
                .as_ref()
                .is_some_and(|k| k.skip_reason.as_deref() == Some(OVERSIZED));
            if same_meta && was_oversized {
                report.unchanged += 1;
                Progress::add(&progress.unchanged, 1);
            } else {
                Progress::add(&progress.skipped, 1);
                report.skipped.push((rel, OVERSIZED.to_owned()));
                batch.push(Op::Skipped {
                    path,
                    size,
                    mtime_ns,
                    reason: OVERSIZED.to_owned(),
                })?;
            }
        }
        WalkOutcome::Candidate => {
            // A skip other than "binary" may not hold any more (cap raised, permissions
            // fixed), and a row never chunked (state `discovered`) must be, so only indexed
            // rows and binaries take the fast path.
            let fast = prior
                .as_ref()
                .is_some_and(|k| match k.skip_reason.as_deref() {
                    None => k.state == "chunked" || k.state == "embedded",
                    Some(r) => r == BINARY,
                });
            if same_meta && fast {
                report.unchanged += 1;
                Progress::add(&progress.unchanged, 1);
            } else {
                return Ok(Some(Work { rel, path, prior }));
            }
        }
    }
    Ok(None)
}

/// A chunk worker: reads, hashes and chunks the files the walker hands over, until the
/// channel closes.
fn chunk_worker(
    workspace: WorkspaceId,
    opts: &IndexOptions,
    work: &Mutex<std::sync::mpsc::Receiver<Work>>,
    progress: &Progress,
    tx: &mpsc::Sender<Vec<Op>>,
    syntax_bytes: Option<&AtomicU64>,
) -> Result<ScanReport, IndexError> {
    let mut report = ScanReport::default();
    let mut batch = Batcher::new(tx);
    loop {
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return Err(IndexError::Task("a chunk worker panicked".to_owned())),
        };
        let Ok(item) = next else { break };
        if let Some(op) = index_file(workspace, opts, item, &mut report, progress, syntax_bytes) {
            batch.push(op)?;
        }
    }
    batch.flush()?;
    Ok(report)
}

/// Reads one file and turns it into the op that records it. `syntax_bytes` (a full scan's
/// count of new bytes chunked by syntax) decides whether a new file is written text first.
fn index_file(
    workspace: WorkspaceId,
    opts: &IndexOptions,
    work: Work,
    report: &mut ScanReport,
    progress: &Progress,
    syntax_bytes: Option<&AtomicU64>,
) -> Option<Op> {
    let full = opts.walk.root.join(&work.rel);
    let bytes = match read_stable(&full, opts.walk.max_file_bytes) {
        Ok(bytes) => bytes,
        Err(ReadSkip::Changed { .. }) => {
            report.retry_later.push(work.rel);
            return None;
        }
        Err(skip) => {
            tracing::info!(reason = %skip, "file not indexed");
            let reason = skip.reason();
            Progress::add(&progress.skipped, 1);
            report.skipped.push((work.rel, reason.clone()));
            let (size, mtime_ns) = std::fs::metadata(&full)
                .map(|m| (m.len(), super::walk::mtime_ns(&m)))
                .unwrap_or((0, 0));
            return Some(Op::Skipped {
                path: work.path,
                size,
                mtime_ns,
                reason,
            });
        }
    };
    let same_hash = work.prior.as_ref().is_some_and(|k| {
        (k.state == "chunked" || k.state == "embedded")
            && k.blake3.as_deref() == Some(&bytes.blake3)
    });
    if same_hash {
        report.touched += 1;
        return Some(Op::Touched {
            path: work.path,
            size: bytes.size,
            mtime_ns: bytes.mtime_ns,
        });
    }
    if work.prior.is_some() {
        report.changed += 1;
    } else {
        report.new += 1;
    }
    let text = match String::from_utf8(bytes.bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    let lang = Lang::detect(
        &work.path,
        text.as_bytes().get(..256).unwrap_or(text.as_bytes()),
    );
    let text_first = work.prior.is_none()
        && match (opts.text_first_after, syntax_bytes) {
            (Some(limit), Some(done)) => done.load(Ordering::Relaxed) >= limit,
            _ => false,
        };
    let chunked = if text_first {
        report.windowed.push(work.rel.clone());
        chunk_text(Lang::Text, &text, &TEXT_FIRST_WINDOWS)
    } else {
        if let (None, Some(done)) = (&work.prior, syntax_bytes) {
            done.fetch_add(bytes.size, Ordering::Relaxed);
        }
        chunk_text(lang, &text, &opts.chunk)
    };
    let chunks: Vec<ChunkRow> = chunked
        .chunks
        .into_iter()
        .map(|c| {
            let body = text.get(c.start_byte..c.end_byte).unwrap_or_default();
            let content_hash = content_hash(c.header.as_deref(), body);
            ChunkRow {
                key: chunk_key(
                    workspace,
                    &work.path,
                    c.start_line,
                    c.end_line,
                    &content_hash,
                ),
                start_line: c.start_line,
                end_line: c.end_line,
                start_byte: c.start_byte,
                end_byte: c.end_byte,
                kind: c.kind,
                symbol: c.symbol,
                header: c.header,
                content_hash,
                terms: split_terms(body),
                blank: body.trim().is_empty(),
            }
        })
        .collect();
    // Chunks tile the file in order, so the chunk holding a line is found by binary search.
    let symbols = chunked
        .symbols
        .into_iter()
        .map(|s| SymbolRow {
            chunk: chunks.partition_point(|c| c.end_line < s.start_line),
            name: s.name,
            kind: s.kind,
            container: s.container,
            start_line: s.start_line,
            end_line: s.end_line,
        })
        .collect();
    report.chunks += chunks.len();
    report.bytes += bytes.size;
    Progress::add(&progress.indexed, 1);
    Progress::add(&progress.bytes, bytes.size);
    Progress::add(&progress.chunks, chunks.len() as u64);
    Some(Op::Indexed {
        path: work.path,
        size: bytes.size,
        mtime_ns: bytes.mtime_ns,
        blake3: bytes.blake3,
        lang: lang.name(),
        replace: work.prior.is_some(),
        text_first,
        text,
        chunks,
        symbols,
    })
}

/// The blocking half of [`FileIndex::update_paths`]: each path's parent is listed (depth 1,
/// under the ignore rules) to learn whether the path is still there and still wanted; a
/// directory is walked whole; the rest is removed.
fn update_blocking(
    workspace: WorkspaceId,
    opts: &IndexOptions,
    wanted: &BTreeSet<String>,
    mut known: HashMap<String, Known>,
    progress: &Progress,
    tx: &mpsc::Sender<Vec<Op>>,
) -> Result<ScanReport, IndexError> {
    let mut report = ScanReport::default();
    let mut batch = Batcher::new(tx);
    // Parent directory -> the changed names in it.
    let mut by_parent: BTreeMap<PathBuf, Vec<&String>> = BTreeMap::new();
    for path in wanted {
        let parent = Path::new(path)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        by_parent.entry(parent).or_default().push(path);
    }
    let mut work = Vec::new();
    for (parent, names) in by_parent {
        let listing = list(opts, &parent, Some(1))?;
        for path in names {
            match listing.get(path.as_str()) {
                Some((_, _, WalkOutcome::Directory)) => {
                    // A new or moved-in directory: everything under it, under the rules.
                    let under = list(opts, Path::new(path), None)?;
                    let mut present = BTreeSet::new();
                    for (rel, (size, mtime_ns, outcome)) in under {
                        present.insert(rel.clone());
                        report.seen += 1;
                        let prior = known.remove(&rel);
                        if let Some(w) = triage(
                            PathBuf::from(&rel),
                            rel,
                            size,
                            mtime_ns,
                            outcome,
                            prior,
                            &mut report,
                            &mut batch,
                            progress,
                        )? {
                            work.push(w);
                        }
                    }
                    // Rows under the directory that the walk no longer yields.
                    let prefix = format!("{path}/");
                    let gone: Vec<String> = known
                        .keys()
                        .filter(|k| k.starts_with(&prefix) && !present.contains(*k))
                        .cloned()
                        .collect();
                    for g in gone {
                        known.remove(&g);
                        report.removed += 1;
                        batch.push(Op::Removed {
                            path: g,
                            prefix: false,
                        })?;
                    }
                }
                Some((size, mtime_ns, outcome)) => {
                    report.seen += 1;
                    let prior = known.remove(path.as_str());
                    if let Some(w) = triage(
                        PathBuf::from(path.as_str()),
                        path.clone(),
                        *size,
                        *mtime_ns,
                        outcome.clone(),
                        prior,
                        &mut report,
                        &mut batch,
                        progress,
                    )? {
                        work.push(w);
                    }
                }
                None => {
                    // Gone or ignored now: the path and anything that was under it.
                    let prefix = format!("{path}/");
                    let had = known.remove(path.as_str()).is_some()
                        | known.keys().any(|k| k.starts_with(&prefix));
                    known.retain(|k, _| !k.starts_with(&prefix));
                    if had {
                        report.removed += 1;
                        batch.push(Op::Removed {
                            path: path.clone(),
                            prefix: true,
                        })?;
                    }
                }
            }
        }
    }
    for w in work {
        if let Some(op) = index_file(workspace, opts, w, &mut report, progress, None) {
            batch.push(op)?;
        }
    }
    batch.flush()?;
    Ok(report)
}

/// What the walker yields under `dir` (relative to the root), keyed by relative path.
fn list(
    opts: &IndexOptions,
    dir: &Path,
    max_depth: Option<usize>,
) -> Result<HashMap<String, (u64, i64, WalkOutcome)>, IndexError> {
    let mut walk_opts = opts.walk.clone();
    walk_opts.start = (!dir.as_os_str().is_empty()).then(|| dir.to_path_buf());
    walk_opts.max_depth = max_depth;
    walk_opts.yield_dirs = true;
    walk_opts.threads = 1;
    let mut out = HashMap::new();
    if !opts.walk.root.join(dir).is_dir() {
        return Ok(out);
    }
    for entry in walk(&walk_opts)? {
        if let Some(rel) = entry.rel.to_str() {
            out.insert(rel.to_owned(), (entry.size, entry.mtime_ns, entry.outcome));
        }
    }
    Ok(out)
}

/// BLAKE3 of the text a chunk is embedded as: its header line (if any) and its body.
pub fn content_hash(header: Option<&str>, body: &str) -> String {
    let mut h = blake3::Hasher::new();
    if let Some(header) = header {
        h.update(header.as_bytes());
        h.update(b"\n");
    }
    h.update(body.as_bytes());
    h.finalize().to_hex()[..32].to_owned()
}

/// The text a chunk is embedded as: its header line (if any), then its body.
pub fn embed_text(header: Option<&str>, body: &str) -> String {
    match header {
        Some(h) => format!("{h}\n{body}"),
        None => body.to_owned(),
    }
}

/// The chunk's id: the same workspace, file, lines and content always give the same id, so
/// a re-run after a crash writes exactly the rows an uninterrupted run would.
fn chunk_key(
    workspace: WorkspaceId,
    path: &str,
    start_line: u32,
    end_line: u32,
    content_hash: &str,
) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&workspace.0.to_le_bytes());
    h.update(path.as_bytes());
    h.update(&[0]);
    h.update(&start_line.to_le_bytes());
    h.update(&end_line.to_le_bytes());
    h.update(content_hash.as_bytes());
    h.finalize().to_hex()[..32].to_owned()
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
