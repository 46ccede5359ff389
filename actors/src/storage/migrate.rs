//! Schema migrations: the numbered SQL files of `migrations/` are compiled into the binary and
//! applied at start-up, so every Weft build knows exactly which schema it reads and writes, and
//! a database from a newer build (or with an edited history) is refused before it is touched.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::error::{sql_context, StorageError};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// One embedded migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Its number (the `NNNN` of the file name); applied in ascending order.
    pub version: u32,
    /// The file name, e.g. `0001_events.sql`; named in errors and recorded in the database.
    pub name: String,
    /// The SQL, run as one batch inside one transaction.
    pub sql: String,
}

impl Migration {
    /// Checksum recorded for an applied migration, to detect later edits. Line endings are
    /// normalised so a checkout with CRLF conversion does not look like an edit.
    pub(crate) fn checksum(&self) -> String {
        let normalised = self.sql.replace("\r\n", "\n");
        blake3::hash(normalised.as_bytes()).to_hex().to_string()
    }
}

/// The migrations compiled into this binary, sorted by version.
pub fn embedded_migrations() -> Vec<Migration> {
    EMBEDDED_MIGRATIONS
        .iter()
        .map(|&(version, name, sql)| Migration {
            version,
            name: name.to_owned(),
            sql: sql.to_owned(),
        })
        .collect()
}

/// Highest schema version this build knows.
pub fn supported_schema_version() -> u32 {
    EMBEDDED_MIGRATIONS
        .iter()
        .map(|&(version, _, _)| version)
        .max()
        .unwrap_or(0)
}

/// Sorts a migration list and rejects duplicate or zero versions.
pub(crate) fn validate(mut migrations: Vec<Migration>) -> Result<Vec<Migration>, StorageError> {
    migrations.sort_by_key(|m| m.version);
    for pair in migrations.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(StorageError::InvalidMigrations(format!(
                "{} and {} share version {}",
                pair[0].name, pair[1].name, pair[0].version
            )));
        }
    }
    if let Some(m) = migrations.iter().find(|m| m.version == 0) {
        return Err(StorageError::InvalidMigrations(format!(
            "{} has version 0; versions start at 1",
            m.name
        )));
    }
    Ok(migrations)
}

/// Highest version a (sorted) migration list knows.
pub(crate) fn highest(migrations: &[Migration]) -> u32 {
    migrations.last().map_or(0, |m| m.version)
}

/// Refuses a database written by a newer Weft. Only reads, so a refused database is left
/// byte-for-byte as it was.
pub(crate) fn check_not_newer(
    conn: &Connection,
    path: &Path,
    supported: u32,
) -> Result<(), StorageError> {
    let ctx = || format!("reading schema version of {}", path.display());
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
            [],
            |r| r.get(0),
        )
        .map_err(sql_context(ctx()))?;
    if !has_table {
        return Ok(());
    }
    let found: u32 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(sql_context(ctx()))?;
    if found > supported {
        return Err(StorageError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    Ok(())
}

/// Brings the database up to the newest of `migrations` (sorted, validated): creates the
/// version table, verifies what was applied, then applies each pending migration in its own
/// transaction together with its `schema_version` row.
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    migrations: &[Migration],
) -> Result<(), StorageError> {
    let supported = highest(migrations);
    check_not_newer(conn, path, supported)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at_ms INTEGER NOT NULL
        );",
    )
    .map_err(sql_context(format!(
        "creating the schema_version table in {}",
        path.display()
    )))?;

    let applied = applied_migrations(conn, path)?;
    for (&version, (name, checksum)) in &applied {
        match migrations.iter().find(|m| m.version == version) {
            None if version > supported => {
                // Another (newer) process migrated between our check and now.
                return Err(StorageError::NewerSchema {
                    path: path.to_path_buf(),
                    found: version,
                    supported,
                });
            }
            None => {
                return Err(StorageError::MigrationMissing {
                    version,
                    file: name.clone(),
                })
            }
            Some(m) if &m.checksum() != checksum => {
                return Err(StorageError::MigrationChanged {
                    file: m.name.clone(),
                })
            }
            Some(_) => {}
        }
    }

    for m in migrations
        .iter()
        .filter(|m| !applied.contains_key(&m.version))
    {
        apply(conn, path, m)?;
    }
    Ok(())
}

/// Reads `schema_version` as version -> (file name, checksum).
fn applied_migrations(
    conn: &Connection,
    path: &Path,
) -> Result<BTreeMap<u32, (String, String)>, StorageError> {
    let ctx = || format!("reading applied migrations of {}", path.display());
    let mut stmt = conn
        .prepare("SELECT version, name, checksum FROM schema_version ORDER BY version")
        .map_err(sql_context(ctx()))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, u32>(0)?, (r.get(1)?, r.get(2)?))))
        .map_err(sql_context(ctx()))?;
    rows.collect::<Result<BTreeMap<_, _>, _>>()
        .map_err(sql_context(ctx()))
}

/// Applies one migration and records it, atomically. Skips it if another process applied it
/// first (the IMMEDIATE transaction serialises concurrent start-ups).
fn apply(conn: &mut Connection, path: &Path, m: &Migration) -> Result<(), StorageError> {
    let failed = |source| StorageError::Migration {
        file: m.name.clone(),
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_context(format!(
            "starting migration {} on {}",
            m.name,
            path.display()
        )))?;
    let already = tx
        .query_row(
            "SELECT 1 FROM schema_version WHERE version = ?1",
            [m.version],
            |_| Ok(()),
        )
        .optional()
        .map_err(failed)?
        .is_some();
    if already {
        tracing::debug!(file = %m.name, "migration already applied by another process");
        return Ok(());
    }
    tx.execute_batch(&m.sql).map_err(failed)?;
    tx.execute(
        "INSERT INTO schema_version (version, name, checksum, applied_at_ms) VALUES (?1, ?2, ?3, ?4)",
        params![m.version, m.name, m.checksum(), now_ms()],
    )
    .map_err(failed)?;
    tx.commit().map_err(failed)?;
    tracing::info!(file = %m.name, version = m.version, db = %path.display(), "applied migration");
    Ok(())
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
