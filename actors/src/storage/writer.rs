//! The single writer: one dedicated OS thread owns the read-write connection and runs queued
//! jobs one at a time. SQLite allows one writer anyway; funnelling writes through one thread
//! avoids `SQLITE_BUSY` between our own writers and keeps blocking I/O off the async runtime
//! (callers only await a oneshot).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::error::{panic_message, sql_context, StorageError};

/// A unit of work for the writer thread; it reports its own result.
type Job = Box<dyn FnOnce(&mut Connection) + Send + 'static>;

/// Handle to the writer thread.
pub(crate) struct Writer {
    /// `None` once closing started: new work is refused with [`StorageError::Closed`].
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    /// Taken by `close` to join the thread; the thread returns the final checkpoint's result.
    thread: Mutex<Option<JoinHandle<Result<(), StorageError>>>>,
}

/// What `close` needs to finish the writer: dropping the sender lets the thread drain the
/// queue and exit; joining waits for it.
pub(crate) struct Shutdown {
    sender: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<Result<(), StorageError>>>,
}

impl Writer {
    /// Starts the writer thread on an already opened and migrated connection.
    pub(crate) fn spawn(conn: Connection, path: PathBuf) -> Result<Writer, StorageError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("weft-storage-writer".to_owned())
            .spawn(move || run(conn, rx, path))
            .map_err(StorageError::Thread)?;
        Ok(Writer {
            sender: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `f` on the writer thread (no transaction is opened for it) and awaits its result.
    /// A panic in `f` is caught and returned as [`StorageError::Panicked`]. Dropping the
    /// returned future does not cancel a job that is already queued.
    pub(crate) async fn call<F, R>(&self, f: F) -> Result<R, StorageError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StorageError> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move |conn: &mut Connection| {
            let outcome = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|payload| Err(StorageError::Panicked(panic_message(&*payload))));
            // The caller may have gone away; the work is done either way.
            let _ = reply.send(outcome);
        });
        {
            let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
            match sender.as_ref() {
                Some(s) => s.send(job).map_err(|_| StorageError::WriterStopped)?,
                None => return Err(StorageError::Closed),
            }
        }
        result.await.map_err(|_| StorageError::WriterStopped)?
    }

    /// Stops accepting new work; queued jobs still run until the returned [`Shutdown`] is
    /// finished.
    pub(crate) fn begin_shutdown(&self) -> Shutdown {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Shutdown { sender, thread }
    }
}

impl Shutdown {
    /// Lets the thread drain its queue, checkpoint and close the connection, and waits for it
    /// (blocking: call from `spawn_blocking`).
    pub(crate) fn finish(self) -> Result<(), StorageError> {
        drop(self.sender);
        match self.thread {
            None => Ok(()),
            Some(handle) => handle.join().unwrap_or_else(|payload| {
                Err(StorageError::Panicked(format!(
                    "storage writer thread: {}",
                    panic_message(&*payload)
                )))
            }),
        }
    }
}

/// The writer thread's loop: run jobs until every sender is gone, then checkpoint and close.
fn run(mut conn: Connection, jobs: mpsc::Receiver<Job>, path: PathBuf) -> Result<(), StorageError> {
    tracing::debug!(db = %path.display(), "storage writer started");
    while let Ok(job) = jobs.recv() {
        // Jobs catch their closure's panic themselves; this guards the rest (commit, reply).
        if catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
            tracing::error!(db = %path.display(), "storage writer job panicked outside its closure");
        }
        if !conn.is_autocommit() {
            tracing::warn!(db = %path.display(), "write job left a transaction open; rolling back");
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::error!(db = %path.display(), error = %e, "rollback after write job failed");
            }
        }
    }
    let checkpointed = checkpoint(&conn, &path);
    let closed = conn.close().map_err(|(_, source)| StorageError::Sqlite {
        context: format!("closing database {}", path.display()),
        source,
    });
    tracing::debug!(db = %path.display(), "storage writer stopped");
    checkpointed.and(closed)
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`: copies the WAL into the database and empties it. If
/// readers pin old frames the checkpoint is partial; that is logged, not an error.
pub(crate) fn checkpoint(conn: &Connection, path: &std::path::Path) -> Result<(), StorageError> {
    let (busy, log_frames, checkpointed): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(sql_context(format!("checkpointing {}", path.display())))?;
    if busy != 0 {
        tracing::debug!(
            db = %path.display(),
            log_frames,
            checkpointed,
            "WAL checkpoint incomplete: readers still active"
        );
    }
    Ok(())
}
