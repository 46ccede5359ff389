//! The one error type of the storage layer, so callers (the tree, the API, `weft doctor`) can
//! tell a user-fixable situation (newer database, edited migration, unwritable directory) from
//! a bug, and always get a message that names the file and the fix.

use std::path::PathBuf;

/// Everything that can go wrong opening, migrating or using the database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// SQLite refused an operation; `context` says which one (and usually which file).
    #[error("{context}: {source}")]
    Sqlite {
        /// What the storage layer was doing, e.g. "opening database /x/weft.db".
        context: String,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// The data directory or database file could not be created or accessed.
    #[error(
        "cannot access {path}: {source}; check that it is writable, or point WEFT_HOME / \
         --profile at another data directory"
    )]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },

    /// The database records a schema version this build does not know; it was written by a
    /// newer Weft, and touching it could corrupt that Weft's data.
    #[error(
        "database {} was written by a newer Weft (schema version {found}; this build supports \
         up to {supported}): upgrade Weft, or point WEFT_HOME / --profile at another data \
         directory",
        path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Highest schema version recorded in the database.
        found: u32,
        /// Highest schema version this build knows.
        supported: u32,
    },

    /// A migration's SQL failed; its transaction was rolled back, so the database is as it was
    /// before that migration.
    #[error("migration {file} failed and was rolled back: {source}")]
    Migration {
        /// The migration's file name, e.g. `0003_x.sql`.
        file: String,
        /// The SQLite error the migration hit.
        #[source]
        source: rusqlite::Error,
    },

    /// An already-applied migration's text differs from what was applied.
    #[error(
        "migration {file} was already applied to this database but its text has changed since; \
         migrations are append-only: revert the edit and add a new numbered file to migrations/ \
         instead"
    )]
    MigrationChanged {
        /// The migration's file name.
        file: String,
    },

    /// The database records a migration that this build does not contain (removed or
    /// renumbered file).
    #[error(
        "migration {file} (version {version}) is recorded in this database but missing from \
         this build; migrations are append-only: restore the file instead of removing or \
         renumbering it"
    )]
    MigrationMissing {
        /// Version recorded in the database.
        version: u32,
        /// File name recorded in the database.
        file: String,
    },

    /// The migration list handed to [`Storage::open_with`](super::Storage::open_with) is not
    /// usable (duplicate or zero version); a programming error, not a user one.
    #[error("invalid migration list: {0}")]
    InvalidMigrations(String),

    /// The storage was closed; no further work is accepted.
    #[error("storage is closed")]
    Closed,

    /// The writer thread is gone without a close (it should never happen; restart Weft).
    #[error("the storage writer thread stopped unexpectedly; restart Weft")]
    WriterStopped,

    /// The writer thread could not be started.
    #[error("cannot start the storage writer thread: {0}")]
    Thread(#[source] std::io::Error),

    /// A read or write closure panicked; its transaction was rolled back and the storage keeps
    /// serving.
    #[error("storage closure panicked (its transaction was rolled back): {0}")]
    Panicked(String),

    /// An error raised by the caller's own closure (validation, decoding, ...).
    #[error("{0}")]
    Query(String),
}

impl From<rusqlite::Error> for StorageError {
    /// Lets closures use `?` on rusqlite calls.
    fn from(source: rusqlite::Error) -> Self {
        StorageError::Sqlite {
            context: "database query".to_owned(),
            source,
        }
    }
}

/// Builds a `map_err` adapter that wraps a rusqlite error with what we were doing.
pub(crate) fn sql_context(
    context: impl Into<String>,
) -> impl FnOnce(rusqlite::Error) -> StorageError {
    let context = context.into();
    move |source| StorageError::Sqlite { context, source }
}

/// Turns a panic payload into a readable message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
