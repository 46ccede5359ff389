//! The `git_events` table: recording new events (idempotently) and reading the log.

use rusqlite::{params, OptionalExtension};

use super::GitEvent;
use crate::storage::{Storage, StorageError};

/// Records events (oldest first) of a workspace; returns the ones that were not already
/// there, with their ids. The table's unique key makes re-reading a reflog harmless.
pub async fn record(
    storage: &Storage,
    workspace: i64,
    events: Vec<GitEvent>,
) -> Result<Vec<GitEvent>, StorageError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let now = crate::supervision::events::unix_ms();
    storage
        .write(move |tx| {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO git_events (workspace_id, kind, ref_name, old_oid, \
                 new_oid, summary, author, ts_ms, detail, recorded_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut added = Vec::new();
            for mut e in events {
                let detail = e.detail.as_ref().map(|d| d.to_string());
                let n = insert.execute(params![
                    workspace, e.kind, e.ref_name, e.old_oid, e.new_oid, e.summary, e.author,
                    e.ts_ms, detail, now
                ])?;
                if n == 1 {
                    e.id = tx.last_insert_rowid();
                    added.push(e);
                }
            }
            Ok(added)
        })
        .await
}

/// Events of a workspace, newest first (by time, then by id: git's order within a second),
/// at most `limit`, older than the event `before` when given.
pub async fn list(
    storage: &Storage,
    workspace: i64,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<GitEvent>, StorageError> {
    storage
        .read(move |conn| {
            let cursor: Option<(i64, i64)> = match before {
                Some(id) => conn
                    .query_row(
                        "SELECT ts_ms, id FROM git_events WHERE id = ?1 AND workspace_id = ?2",
                        params![id, workspace],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?,
                None => None,
            };
            if before.is_some() && cursor.is_none() {
                return Ok(Vec::new());
            }
            let (ts, id) = cursor.unwrap_or((i64::MAX, i64::MAX));
            let mut stmt = conn.prepare_cached(
                "SELECT id, kind, ref_name, old_oid, new_oid, summary, author, ts_ms, detail \
                 FROM git_events WHERE workspace_id = ?1 AND (ts_ms < ?2 OR (ts_ms = ?2 AND id < ?3)) \
                 ORDER BY ts_ms DESC, id DESC LIMIT ?4",
            )?;
            let rows = stmt.query_map(params![workspace, ts, id, limit], |r| {
                let detail: Option<String> = r.get(8)?;
                Ok(GitEvent {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    ref_name: r.get(2)?,
                    old_oid: r.get(3)?,
                    new_oid: r.get(4)?,
                    summary: r.get(5)?,
                    author: r.get(6)?,
                    ts_ms: r.get(7)?,
                    detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
}
