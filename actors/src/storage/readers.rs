//! The reader pool: a few read-only connections so status queries and event listings run in
//! parallel with the writer (WAL lets readers see the last committed snapshot while a write is
//! in progress). Each read runs on tokio's blocking pool, never on an async worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{panic_message, sql_context, StorageError};

/// N read-only connections; the semaphore hands out one permit per idle connection.
pub(crate) struct ReaderPool {
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Connection>>,
    size: usize,
    path: PathBuf,
}

/// A borrowed connection; returns it to the pool when dropped (even if the blocking task never
/// ran), before releasing its permit.
struct Lease {
    conn: Option<Connection>,
    pool: Arc<ReaderPool>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
    }
}

impl ReaderPool {
    /// Opens `size` read-only connections to a database the writer has already created and
    /// migrated.
    pub(crate) fn open(
        path: &Path,
        size: usize,
        busy_timeout: Duration,
    ) -> Result<ReaderPool, StorageError> {
        let size = size.max(1);
        let mut idle = Vec::with_capacity(size);
        for _ in 0..size {
            idle.push(open_reader(path, busy_timeout)?);
        }
        Ok(ReaderPool {
            permits: Arc::new(Semaphore::new(size)),
            idle: Mutex::new(idle),
            size,
            path: path.to_path_buf(),
        })
    }

    /// Runs `f` inside a read transaction on an idle connection, in `spawn_blocking`.
    pub(crate) async fn read<F, R>(self: &Arc<Self>, f: F) -> Result<R, StorageError>
    where
        F: FnOnce(&Connection) -> Result<R, StorageError> + Send + 'static,
        R: Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StorageError::Closed)?;
        let conn = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .ok_or(StorageError::Closed)?;
        let mut lease = Lease {
            conn: Some(conn),
            pool: Arc::clone(self),
            _permit: permit,
        };
        let path = self.path.clone();
        let joined = tokio::task::spawn_blocking(move || match lease.conn.as_mut() {
            Some(conn) => run_read(conn, &path, f),
            None => Err(StorageError::Closed),
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(StorageError::Panicked(panic_message(&*e.into_panic()))),
            // The runtime is shutting down.
            Err(_) => Err(StorageError::Closed),
        }
    }

    /// Waits for in-flight reads, then closes every connection; later reads get
    /// [`StorageError::Closed`].
    pub(crate) async fn close(&self) {
        let permits = u32::try_from(self.size).unwrap_or(u32::MAX);
        let Ok(all) = self.permits.acquire_many(permits).await else {
            return; // already closed
        };
        let conns = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        self.permits.close();
        drop(all);
        for conn in conns {
            if let Err((_, e)) = conn.close() {
                tracing::warn!(db = %self.path.display(), error = %e, "closing reader connection failed");
            }
        }
    }
}

/// One read: a deferred transaction gives the closure a single consistent snapshot from its
/// first query on; it is always rolled back (nothing to commit on a read-only connection).
fn run_read<F, R>(conn: &mut Connection, path: &Path, f: F) -> Result<R, StorageError>
where
    F: FnOnce(&Connection) -> Result<R, StorageError>,
{
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Deferred)
        .map_err(sql_context(format!(
            "starting read transaction on {}",
            path.display()
        )))?;
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&tx)));
    if let Err(e) = tx.rollback() {
        tracing::warn!(db = %path.display(), error = %e, "ending read transaction failed");
    }
    if !conn.is_autocommit() {
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(db = %path.display(), error = %e, "rolling back reader failed");
        }
    }
    outcome.unwrap_or_else(|payload| Err(StorageError::Panicked(panic_message(&*payload))))
}

/// Opens one read-only connection with the same per-connection settings as the writer.
fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, StorageError> {
    let ctx = || format!("opening read-only connection to {}", path.display());
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_context(ctx()))?;
    conn.busy_timeout(busy_timeout)
        .map_err(sql_context(ctx()))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql_context(ctx()))?;
    Ok(conn)
}
