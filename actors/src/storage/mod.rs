//! Embedded storage for the Weft daemon: one SQLite file in the data directory holds what must
//! survive a restart (the supervision event log first of all).
//!
//! SQLite is synchronous, so it is kept off the async runtime: all writes go through one
//! dedicated writer thread (SQLite has a single writer anyway, and one thread means our own
//! writes never fight over the lock), and reads run on a small pool of read-only connections
//! in `spawn_blocking`. WAL mode lets those readers see the last committed snapshot while a
//! write is in progress. The schema comes from the numbered files in `migrations/`, embedded at
//! build time and applied at start-up (see [`embedded_migrations`]).

mod error;
mod events;
mod migrate;
mod readers;
mod writer;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

pub use error::StorageError;
pub use events::EventRow;
pub use migrate::{embedded_migrations, supported_schema_version, Migration};

use error::{panic_message, sql_context};
use readers::ReaderPool;
use writer::Writer;

/// How to open the database; the defaults suit the daemon, tests shrink or tweak them.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// The database file; its parent directory is created if missing.
    pub path: PathBuf,
    /// Number of read-only connections (at least one is always opened).
    pub readers: usize,
    /// How long a connection waits for a lock held by another process before giving up.
    pub busy_timeout: Duration,
}

impl StorageOptions {
    /// Options for the database at `path` with 4 readers and a 5 s busy timeout.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StorageOptions {
            path: path.into(),
            readers: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Handle to the open database, shared by every part of the daemon that persists something.
/// Cheap to clone; all clones talk to the same writer thread and reader pool.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

/// State shared by all clones of a [`Storage`].
struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: Arc<ReaderPool>,
    /// Serialises `close` calls; `true` once closed.
    closed: tokio::sync::Mutex<bool>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens (creating if needed) the database, applies the embedded migrations, and starts
    /// the writer thread and the reader pool.
    pub async fn open(opts: StorageOptions) -> Result<Storage, StorageError> {
        Storage::open_with(opts, embedded_migrations()).await
    }

    /// Like [`Storage::open`] with an explicit migration list (tests inject broken or edited
    /// migrations with it).
    pub async fn open_with(
        opts: StorageOptions,
        migrations: Vec<Migration>,
    ) -> Result<Storage, StorageError> {
        let migrations = migrate::validate(migrations)?;
        let opened = tokio::task::spawn_blocking(move || open_blocking(opts, &migrations)).await;
        match opened {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(StorageError::Panicked(panic_message(&*e.into_panic()))),
            Err(_) => Err(StorageError::Closed),
        }
    }

    /// Runs `f` on the writer thread inside one IMMEDIATE transaction: committed if `f`
    /// returns `Ok`, rolled back if it returns `Err` or panics (a panic becomes
    /// [`StorageError::Panicked`] and the writer keeps serving). Keep `f` short: every other
    /// write waits behind it. Dropping the future does not cancel a write already queued.
    pub async fn write<F, R>(&self, f: F) -> Result<R, StorageError>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<R, StorageError> + Send + 'static,
        R: Send + 'static,
    {
        self.inner
            .writer
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(sql_context("starting write transaction"))?;
                match catch_unwind(AssertUnwindSafe(|| f(&tx))) {
                    Ok(Ok(value)) => {
                        tx.commit()
                            .map_err(sql_context("committing write transaction"))?;
                        Ok(value)
                    }
                    Ok(Err(e)) => {
                        rollback(tx);
                        Err(e)
                    }
                    Err(payload) => {
                        rollback(tx);
                        let msg = panic_message(&*payload);
                        tracing::warn!(panic = %msg, "storage write closure panicked; rolled back");
                        Err(StorageError::Panicked(msg))
                    }
                }
            })
            .await
    }

    /// Runs `f` on a pooled read-only connection (in `spawn_blocking`) inside one read
    /// transaction, so everything it reads comes from one consistent snapshot.
    pub async fn read<F, R>(&self, f: F) -> Result<R, StorageError>
    where
        F: FnOnce(&Connection) -> Result<R, StorageError> + Send + 'static,
        R: Send + 'static,
    {
        self.inner.readers.read(f).await
    }

    /// Current schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<u32, StorageError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(sql_context("reading schema version"))
        })
        .await
    }

    /// Cheap liveness check (for `weft doctor` and the API): `SELECT 1` on the writer thread
    /// and on one reader.
    pub async fn health(&self) -> Result<(), StorageError> {
        self.inner
            .writer
            .call(|conn| select_one(conn, "writer"))
            .await?;
        self.read(|conn| select_one(conn, "reader")).await
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)` on the writer, so the WAL file does not grow without
    /// bound between restarts.
    pub async fn checkpoint(&self) -> Result<(), StorageError> {
        let path = self.inner.path.clone();
        self.inner
            .writer
            .call(move |conn| writer::checkpoint(conn, &path))
            .await
    }

    /// Stops accepting work, lets queued writes finish, closes the readers, checkpoints, and
    /// joins the writer thread. Afterwards every call on any clone returns
    /// [`StorageError::Closed`]; calling `close` again returns `Ok(())`.
    pub async fn close(&self) -> Result<(), StorageError> {
        let mut closed = self.inner.closed.lock().await;
        if *closed {
            return Ok(());
        }
        *closed = true;
        let shutdown = self.inner.writer.begin_shutdown();
        // Readers go first so the writer, as the last connection, can truncate the WAL.
        self.inner.readers.close().await;
        let joined = tokio::task::spawn_blocking(move || shutdown.finish()).await;
        let result = match joined {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(StorageError::Panicked(panic_message(&*e.into_panic()))),
            Err(_) => Err(StorageError::Closed),
        };
        tracing::info!(db = %self.inner.path.display(), ok = result.is_ok(), "storage closed");
        result
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

/// Rolls back a failed write, logging (not returning) a failure: the caller's error matters
/// more, and SQLite rolls back anyway when the transaction ends.
fn rollback(tx: rusqlite::Transaction<'_>) {
    if let Err(e) = tx.rollback() {
        tracing::warn!(error = %e, "rolling back write transaction failed");
    }
}

/// `SELECT 1`, for [`Storage::health`].
fn select_one(conn: &Connection, which: &str) -> Result<(), StorageError> {
    conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
        .map(drop)
        .map_err(sql_context(format!(
            "health check on the {which} connection"
        )))
}

/// The blocking part of [`Storage::open_with`]: directory, writer connection, migrations,
/// readers, writer thread.
fn open_blocking(opts: StorageOptions, migrations: &[Migration]) -> Result<Storage, StorageError> {
    let path = opts.path;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| StorageError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut conn = open_writer(&path, opts.busy_timeout, migrate::highest(migrations))?;
    migrate::migrate(&mut conn, &path, migrations)?;
    let readers = ReaderPool::open(&path, opts.readers, opts.busy_timeout)?;
    let writer = Writer::spawn(conn, path.clone())?;
    tracing::debug!(db = %path.display(), readers = opts.readers.max(1), "storage opened");
    Ok(Storage {
        inner: Arc::new(Inner {
            path,
            writer,
            readers: Arc::new(readers),
            closed: tokio::sync::Mutex::new(false),
        }),
    })
}

/// Opens the read-write connection. The newer-schema check runs before anything that could
/// write (switching to WAL rewrites the header), so a refused database is left untouched.
fn open_writer(
    path: &Path,
    busy_timeout: Duration,
    supported: u32,
) -> Result<Connection, StorageError> {
    let ctx = || format!("opening database {}", path.display());
    let conn = Connection::open(path).map_err(sql_context(ctx()))?;
    conn.busy_timeout(busy_timeout)
        .map_err(sql_context(ctx()))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql_context(ctx()))?;
    migrate::check_not_newer(&conn, path, supported)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sql_context(ctx()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            db = %path.display(),
            journal_mode = %mode,
            "could not switch the database to WAL mode (unsupported file system?); readers may block behind writes"
        );
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql_context(ctx()))?;
    // The writer's page cache (the default is 2 MB). Bulk indexing inserts into indexes
    // keyed by hashes (chunk keys, symbol names), which touch pages all over the file: with
    // the default cache most of those pages were re-read from the OS on every batch.
    conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)
        .map_err(sql_context(ctx()))?;
    // Checkpoint every ~40 MB of WAL instead of ~4 MB: a page that a bulk scan changes in
    // many batches is copied into the database file once per checkpoint, not once per batch.
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)
        .map_err(sql_context(ctx()))?;
    Ok(conn)
}

/// The writer's page cache, in KiB (`PRAGMA cache_size` takes a negative number for KiB).
const WRITER_CACHE_KIB: i64 = -64 * 1024;
