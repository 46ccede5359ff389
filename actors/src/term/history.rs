//! The command history in SQLite: terminal sessions, the commands the shell integration
//! recorded (redacted before they get here), their FTS index and the pieces of their text
//! that are embedded for search by meaning.

use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::marks::CommandRecord;
use crate::storage::{Storage, StorageError};

/// One recorded command, as the API and the CLI show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistoryEntry {
    /// Row id.
    pub id: i64,
    /// The terminal session (one per shell) it ran in.
    pub session_id: i64,
    /// Its number within the session (1, 2, ...).
    pub seq: i64,
    /// The command line (redacted).
    pub command: String,
    /// The cwd it ran in, when the shell reported one.
    pub cwd: Option<String>,
    /// When it started (Unix ms).
    pub started_ms: i64,
    /// When it finished (Unix ms).
    pub ended_ms: Option<i64>,
    /// How long it ran.
    pub duration_ms: Option<i64>,
    /// Its exit status, when known.
    pub exit_code: Option<i32>,
    /// Bytes it printed.
    pub output_bytes: i64,
    /// Whether the kept output was cut.
    pub truncated: bool,
    /// A line or two of its output: the matching part for a keyword search, else the end.
    pub snippet: String,
    /// Its rank score in a search (higher is better).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score: Option<f64>,
}

/// A recorded command with its kept output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistoryDetail {
    /// The entry.
    #[serde(flatten)]
    pub entry: HistoryEntry,
    /// The kept output (redacted).
    pub output: String,
}

/// Filters of a history listing.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HistoryQuery {
    /// Words to find in the command, its output or its cwd.
    pub q: Option<String>,
    /// Only commands that failed (exit status other than 0).
    #[serde(default)]
    pub failed: bool,
    /// Only this exit status.
    pub exit: Option<i32>,
    /// Only commands run in this folder or below it.
    pub cwd: Option<String>,
    /// Only this terminal session.
    pub session: Option<i64>,
    /// Only this terminal (of the running daemon).
    pub term: Option<u64>,
    /// Only commands started at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only commands started before this time (Unix ms).
    pub until_ms: Option<i64>,
    /// Most entries returned (default 50, at most 500).
    pub limit: Option<usize>,
    /// Rank `q` by meaning too (embeddings of the commands and their output).
    #[serde(default)]
    pub semantic: bool,
}

impl HistoryQuery {
    /// The limit, bounded.
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(50).clamp(1, 500)
    }
}

const ENTRY_COLS: &str = "c.id, c.session_id, c.seq, c.command, c.cwd, c.started_ms, c.ended_ms, \
     c.duration_ms, c.exit_code, c.output_bytes, c.truncated, c.output";

fn entry_from(row: &Row<'_>) -> rusqlite::Result<(HistoryEntry, String)> {
    let output: String = row.get(11)?;
    Ok((
        HistoryEntry {
            id: row.get(0)?,
            session_id: row.get(1)?,
            seq: row.get(2)?,
            command: row.get(3)?,
            cwd: row.get(4)?,
            started_ms: row.get(5)?,
            ended_ms: row.get(6)?,
            duration_ms: row.get(7)?,
            exit_code: row.get(8)?,
            output_bytes: row.get(9)?,
            truncated: row.get::<_, i64>(10)? != 0,
            snippet: tail_snippet(&output),
            score: None,
        },
        output,
    ))
}

/// The last few non-empty lines of `output`, at most 240 characters.
fn tail_snippet(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .collect();
    let text = lines.into_iter().rev().collect::<Vec<_>>().join("\n");
    let count = text.chars().count();
    if count > 240 {
        text.chars().skip(count - 240).collect()
    } else {
        text
    }
}

/// Records a new shell; returns its session id.
pub async fn insert_session(
    storage: &Storage,
    workspace_id: Option<i64>,
    shell: String,
    cwd: String,
    boot_id: String,
    started_ms: i64,
) -> Result<i64, StorageError> {
    storage
        .write(move |tx| {
            tx.execute(
                "INSERT INTO terminal_sessions (workspace_id, shell, cwd, boot_id, started_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![workspace_id, shell, cwd, boot_id, started_ms],
            )?;
            Ok(tx.last_insert_rowid())
        })
        .await
}

/// Records how a shell ended.
pub async fn end_session(
    storage: &Storage,
    id: i64,
    ended_ms: i64,
    exit_code: Option<i32>,
    reason: &str,
) -> Result<(), StorageError> {
    let reason = reason.to_owned();
    storage
        .write(move |tx| {
            tx.execute(
                "UPDATE terminal_sessions SET ended_ms = ?2, exit_code = ?3, end_reason = ?4 \
                 WHERE id = ?1 AND ended_ms IS NULL",
                params![id, ended_ms, exit_code, reason],
            )?;
            Ok(())
        })
        .await
}

/// Sessions of earlier runs still open (the daemon was killed): marked `lost`.
pub async fn mark_lost(
    storage: &Storage,
    boot_id: String,
    now_ms: i64,
) -> Result<usize, StorageError> {
    storage
        .write(move |tx| {
            Ok(tx.execute(
                "UPDATE terminal_sessions SET ended_ms = ?2, end_reason = 'lost' \
                 WHERE ended_ms IS NULL AND boot_id <> ?1",
                params![boot_id, now_ms],
            )?)
        })
        .await
}

/// Characters per embedded piece (the embedding model reads about 256 tokens).
const PIECE_CHARS: usize = 800;
/// Pieces embedded per command: its first and last ones when there are more.
const MAX_PIECES: usize = 8;

/// The text of a command cut into pieces for embedding, each led by the command line.
pub fn pieces(command: &str, cwd: Option<&str>, output: &str) -> Vec<String> {
    let head = match cwd {
        Some(cwd) => format!("$ {command}\n# in {cwd}\n"),
        None => format!("$ {command}\n"),
    };
    let mut windows: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in output.lines() {
        let line: String = line.chars().take(PIECE_CHARS).collect();
        if !current.is_empty() && current.len() + line.len() + 1 > PIECE_CHARS {
            windows.push(std::mem::take(&mut current));
        }
        current.push_str(&line);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        windows.push(current);
    }
    if windows.len() > MAX_PIECES {
        let tail = windows.split_off(windows.len() - MAX_PIECES / 2);
        windows.truncate(MAX_PIECES / 2);
        windows.extend(tail);
    }
    if windows.is_empty() {
        return vec![head];
    }
    windows.into_iter().map(|w| format!("{head}{w}")).collect()
}

/// Stores a finished command (already redacted) and the pieces to embed; returns its entry.
pub async fn insert_command(
    storage: &Storage,
    session_id: i64,
    seq: i64,
    rec: CommandRecord,
    embed: bool,
) -> Result<HistoryEntry, StorageError> {
    storage
        .write(move |tx| {
            let duration = rec.ended_ms.saturating_sub(rec.started_ms).max(0);
            tx.execute(
                "INSERT INTO terminal_commands (session_id, seq, command, cwd, started_ms, ended_ms, \
                 duration_ms, exit_code, output, output_bytes, truncated) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (session_id, seq) DO NOTHING",
                params![
                    session_id,
                    seq,
                    rec.command,
                    rec.cwd,
                    rec.started_ms,
                    rec.ended_ms,
                    duration,
                    rec.exit_code,
                    rec.output,
                    i64::try_from(rec.output_bytes).unwrap_or(i64::MAX),
                    rec.truncated
                ],
            )?;
            let id: i64 = tx.query_row(
                "SELECT id FROM terminal_commands WHERE session_id = ?1 AND seq = ?2",
                params![session_id, seq],
                |r| r.get(0),
            )?;
            if embed {
                let mut stmt = tx.prepare(
                    "INSERT OR IGNORE INTO terminal_chunks (command_id, ord, text, content_hash) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (ord, text) in pieces(&rec.command, rec.cwd.as_deref(), &rec.output)
                    .into_iter()
                    .enumerate()
                {
                    let hash = blake3::hash(text.as_bytes()).to_hex().to_string();
                    stmt.execute(params![id, ord as i64, text, hash])?;
                }
            }
            let sql = format!("SELECT {ENTRY_COLS} FROM terminal_commands c WHERE c.id = ?1");
            let (entry, _) = tx.query_row(&sql, params![id], entry_from)?;
            Ok(entry)
        })
        .await
}

/// The words of a keyword query as an FTS5 expression (each word a quoted prefix term, all
/// required); `None` when there is no word.
pub fn fts_expr(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

fn filters(q: &HistoryQuery, clauses: &mut Vec<String>, values: &mut Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    if q.failed {
        clauses.push("c.exit_code IS NOT NULL AND c.exit_code <> 0".into());
    }
    if let Some(code) = q.exit {
        values.push(Value::Integer(i64::from(code)));
        clauses.push(format!("c.exit_code = ?{}", values.len()));
    }
    if let Some(cwd) = q.cwd.as_deref().filter(|c| !c.is_empty()) {
        let dir = cwd.trim_end_matches('/').to_owned();
        values.push(Value::Text(dir.clone()));
        let n = values.len();
        values.push(Value::Text(format!("{dir}/")));
        clauses.push(format!(
            "(c.cwd = ?{n} OR substr(c.cwd, 1, length(?{m})) = ?{m})",
            m = n + 1
        ));
    }
    if let Some(s) = q.session {
        values.push(Value::Integer(s));
        clauses.push(format!("c.session_id = ?{}", values.len()));
    }
    if let Some(t) = q.since_ms {
        values.push(Value::Integer(t));
        clauses.push(format!("c.started_ms >= ?{}", values.len()));
    }
    if let Some(t) = q.until_ms {
        values.push(Value::Integer(t));
        clauses.push(format!("c.started_ms < ?{}", values.len()));
    }
}

/// Commands matching `q`: by keyword rank when it has words, else newest first.
pub async fn list(storage: &Storage, q: HistoryQuery) -> Result<Vec<HistoryEntry>, StorageError> {
    storage
        .read(move |conn| {
            let mut clauses = Vec::new();
            let mut values = Vec::new();
            let expr = q.q.as_deref().and_then(fts_expr);
            let sql = match &expr {
                Some(expr) => {
                    values.push(rusqlite::types::Value::Text(expr.clone()));
                    clauses.push("terminal_commands_fts MATCH ?1".into());
                    filters(&q, &mut clauses, &mut values);
                    format!(
                        "SELECT {ENTRY_COLS}, bm25(terminal_commands_fts, 4.0, 1.0, 0.5) AS rank, \
                         snippet(terminal_commands_fts, 1, '', '', '…', 16) \
                         FROM terminal_commands_fts JOIN terminal_commands c ON c.id = terminal_commands_fts.rowid \
                         WHERE {} ORDER BY rank, c.id DESC LIMIT {}",
                        clauses.join(" AND "),
                        q.limit()
                    )
                }
                None => {
                    filters(&q, &mut clauses, &mut values);
                    if clauses.is_empty() {
                        clauses.push("1".into());
                    }
                    format!(
                        "SELECT {ENTRY_COLS}, 0.0, '' FROM terminal_commands c WHERE {} \
                         ORDER BY c.started_ms DESC, c.id DESC LIMIT {}",
                        clauses.join(" AND "),
                        q.limit()
                    )
                }
            };
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values), |row| {
                let (mut entry, _) = entry_from(row)?;
                if expr.is_some() {
                    let rank: f64 = row.get(12)?;
                    entry.score = Some(-rank);
                    let snippet: String = row.get(13)?;
                    if !snippet.trim().is_empty() {
                        entry.snippet = snippet;
                    }
                }
                Ok(entry)
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
}

/// These commands (in no particular order), with the same filters applied.
pub async fn by_ids(
    storage: &Storage,
    ids: Vec<i64>,
    q: HistoryQuery,
) -> Result<Vec<HistoryEntry>, StorageError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    storage
        .read(move |conn| {
            let mut clauses = Vec::new();
            let mut values = Vec::new();
            filters(&q, &mut clauses, &mut values);
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            clauses.push(format!("c.id IN ({list})"));
            let sql = format!(
                "SELECT {ENTRY_COLS} FROM terminal_commands c WHERE {}",
                clauses.join(" AND ")
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values), |row| {
                Ok(entry_from(row)?.0)
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
}

/// One command with its output.
pub async fn get(storage: &Storage, id: i64) -> Result<Option<HistoryDetail>, StorageError> {
    storage
        .read(move |conn| {
            let sql = format!("SELECT {ENTRY_COLS} FROM terminal_commands c WHERE c.id = ?1");
            Ok(conn
                .query_row(&sql, params![id], entry_from)
                .optional()?
                .map(|(entry, output)| HistoryDetail { entry, output }))
        })
        .await
}

/// A piece waiting for its vector.
#[derive(Debug, Clone)]
pub struct PendingPiece {
    /// `terminal_chunks.id`.
    pub id: i64,
    /// The command it belongs to.
    pub command_id: i64,
    /// Its number within the command.
    pub ord: i64,
    /// The text.
    pub text: String,
    /// Its hash.
    pub content_hash: String,
    /// The command's cwd.
    pub cwd: Option<String>,
    /// The command's workspace, when its session had one.
    pub workspace_id: Option<i64>,
}

/// Up to `limit` pieces without a vector, oldest first.
pub async fn pending_pieces(
    storage: &Storage,
    limit: usize,
) -> Result<Vec<PendingPiece>, StorageError> {
    storage
        .read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT k.id, k.command_id, k.ord, k.text, k.content_hash, c.cwd, s.workspace_id \
                 FROM terminal_chunks k JOIN terminal_commands c ON c.id = k.command_id \
                 JOIN terminal_sessions s ON s.id = c.session_id \
                 WHERE k.embedded = 0 ORDER BY k.id LIMIT ?1",
            )?;
            let rows = stmt.query_map(params![limit as i64], |r| {
                Ok(PendingPiece {
                    id: r.get(0)?,
                    command_id: r.get(1)?,
                    ord: r.get(2)?,
                    text: r.get(3)?,
                    content_hash: r.get(4)?,
                    cwd: r.get(5)?,
                    workspace_id: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
}

/// Marks pieces as embedded.
pub async fn mark_embedded(storage: &Storage, ids: Vec<i64>) -> Result<(), StorageError> {
    storage
        .write(move |tx| {
            let mut stmt = tx.prepare("UPDATE terminal_chunks SET embedded = 1 WHERE id = ?1")?;
            for id in ids {
                stmt.execute(params![id])?;
            }
            Ok(())
        })
        .await
}

/// Pieces still waiting for a vector.
pub async fn pending_count(storage: &Storage) -> Result<i64, StorageError> {
    storage
        .read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM terminal_chunks WHERE embedded = 0",
                [],
                |r| r.get(0),
            )?)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_lead_with_the_command_and_keep_head_and_tail() {
        let out: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let p = pieces("cargo test", Some("/w"), &out);
        assert_eq!(p.len(), MAX_PIECES);
        assert!(p.iter().all(|t| t.starts_with("$ cargo test\n# in /w\n")));
        assert!(p[0].contains("line 0\n"));
        assert!(p[MAX_PIECES - 1].contains("line 1999\n"));
        assert_eq!(pieces("true", None, ""), vec!["$ true\n".to_owned()]);
    }

    #[test]
    fn keyword_queries_become_prefix_terms() {
        assert_eq!(
            fts_expr("cargo test").as_deref(),
            Some("\"cargo\"* \"test\"*")
        );
        assert_eq!(fts_expr("\"; DROP --").as_deref(), Some("\"DROP\"*"));
        assert_eq!(fts_expr(" ;; "), None);
    }
}
