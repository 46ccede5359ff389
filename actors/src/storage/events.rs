//! The supervision event log (`events` table): every start, exit, restart, give-up and
//! escalation of the tree is recorded so `weft status` and post-mortems can explain what the
//! daemon did, across restarts.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::error::{sql_context, StorageError};
use super::Storage;

/// One row of the `events` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    /// When it happened, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// Which daemon run recorded it (events of different boots interleave in one file).
    pub boot_id: String,
    /// The supervisor that observed it.
    pub supervisor: String,
    /// The child it concerns.
    pub child: String,
    /// What happened: start, exit, restart, give-up, escalation, ...
    pub kind: String,
    /// The child's restart generation at the time.
    pub generation: i64,
    /// Why (exit reason, panic message), when known.
    pub reason: Option<String>,
    /// Anything else worth keeping (free-form, often JSON).
    pub detail: Option<String>,
}

impl Storage {
    /// Appends `rows` to the event log in one transaction (all or nothing).
    pub async fn insert_events(&self, rows: Vec<EventRow>) -> Result<(), StorageError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO events \
                     (ts_ms, boot_id, supervisor, child, kind, generation, reason, detail) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(sql_context("preparing event insert"))?;
            for row in &rows {
                stmt.execute(params![
                    row.ts_ms,
                    row.boot_id,
                    row.supervisor,
                    row.child,
                    row.kind,
                    row.generation,
                    row.reason,
                    row.detail,
                ])
                .map_err(sql_context("inserting event"))?;
            }
            Ok(())
        })
        .await
    }

    /// The last `limit` events, oldest first (ascending id).
    pub async fn recent_events(&self, limit: usize) -> Result<Vec<EventRow>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT ts_ms, boot_id, supervisor, child, kind, generation, reason, detail \
                     FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?1) ORDER BY id ASC",
                )
                .map_err(sql_context("preparing event query"))?;
            let rows = stmt
                .query_map([limit], |r| {
                    Ok(EventRow {
                        ts_ms: r.get(0)?,
                        boot_id: r.get(1)?,
                        supervisor: r.get(2)?,
                        child: r.get(3)?,
                        kind: r.get(4)?,
                        generation: r.get(5)?,
                        reason: r.get(6)?,
                        detail: r.get(7)?,
                    })
                })
                .map_err(sql_context("reading events"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(sql_context("reading events"))
        })
        .await
    }
}
