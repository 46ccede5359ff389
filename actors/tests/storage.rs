//! Integration tests for the embedded storage layer: real SQLite files in temporary
//! directories, real threads, and a real child process killed with SIGKILL, because the
//! guarantees that matter (migrations, snapshot isolation, crash safety) only show up there.
#![allow(
    clippy::unwrap_used,
    reason = "tests unwrap freely: a failed unwrap is a failed assertion"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use weft_actors::storage::{
    embedded_migrations, supported_schema_version, EventRow, Migration, Storage, StorageError,
    StorageOptions,
};

/// Env var that turns `sigkill_child_writer` from a no-op into the child process's body.
const CHILD_DB_ENV: &str = "WEFT_STORAGE_CHILD_DB";
/// Name of the child test, as libtest/nextest address it.
const CHILD_TEST: &str = "sigkill_child_writer";

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data").join("weft.db")
}

async fn open(path: &Path) -> Storage {
    Storage::open(StorageOptions::new(path))
        .await
        .expect("open storage")
}

fn count_sql(conn: &Connection, sql: &str) -> Result<i64, StorageError> {
    Ok(conn.query_row(sql, [], |r| r.get(0))?)
}

fn schema_rows(path: &Path) -> Vec<(u32, String, String, i64)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT version, name, checksum, applied_at_ms FROM schema_version ORDER BY version",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

fn table_exists(path: &Path, table: &str) -> bool {
    let conn = Connection::open(path).unwrap();
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [table],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn storage_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Storage>();
    fn check_err<T: std::error::Error + Send + Sync + 'static>() {}
    check_err::<StorageError>();
}

#[test]
fn embedded_migrations_are_sorted_and_include_events() {
    let migrations = embedded_migrations();
    assert!(!migrations.is_empty());
    assert_eq!(migrations[0].version, 1);
    assert_eq!(migrations[0].name, "0001_events.sql");
    assert!(migrations[0].sql.contains("CREATE TABLE events"));
    assert!(migrations.windows(2).all(|w| w[0].version < w[1].version));
    assert_eq!(
        supported_schema_version(),
        migrations.last().unwrap().version
    );
}

#[tokio::test]
async fn fresh_database_migrates_with_pragmas_and_reopen_is_noop() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir); // parent `data/` does not exist yet
    let storage = open(&path).await;
    assert_eq!(storage.path(), path);
    assert_eq!(
        storage.schema_version().await.unwrap(),
        supported_schema_version()
    );
    storage.health().await.unwrap();

    let events_table = storage
        .read(|c| {
            count_sql(
                c,
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'events'",
            )
        })
        .await
        .unwrap();
    assert_eq!(events_table, 1);

    let pragmas = |c: &Connection| -> Result<(String, i64, i64), StorageError> {
        Ok((
            c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
            c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
            c.query_row("PRAGMA query_only", [], |r| r.get(0))?,
        ))
    };
    let (mode, fk, _) = storage.write(move |tx| pragmas(tx)).await.unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(fk, 1);
    let (writer_sync, writer_busy): (i64, i64) = storage
        .write(|tx| {
            Ok((
                tx.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
                tx.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(writer_sync, 1, "synchronous=NORMAL on the writer");
    assert_eq!(writer_busy, 5000);
    let (mode, fk, _) = storage.read(move |c| pragmas(c)).await.unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(fk, 1);
    // Readers are read-only connections.
    let err = storage
        .read(|c| Ok(c.execute("CREATE TABLE nope(x)", [])?))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("readonly"), "{err}");
    storage.close().await.unwrap();

    let before = schema_rows(&path);
    assert_eq!(before.len(), embedded_migrations().len());
    assert_eq!(before[0].1, "0001_events.sql");
    assert_eq!(before[0].2.len(), 64, "blake3 hex checksum");

    let again = open(&path).await;
    assert_eq!(
        again.schema_version().await.unwrap(),
        supported_schema_version()
    );
    again.close().await.unwrap();
    assert_eq!(
        schema_rows(&path),
        before,
        "second open must not re-apply anything"
    );
}

#[tokio::test]
async fn newer_schema_is_refused_and_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    open(&path).await.close().await.unwrap();
    {
        // Back to a rollback journal, so that anything that switched it to WAL before refusing
        // would change the file header.
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        conn.execute(
            "INSERT INTO schema_version (version, name, checksum, applied_at_ms) \
             VALUES (999, '0999_future.sql', 'x', 0)",
            [],
        )
        .unwrap();
    }
    let bytes_before = std::fs::read(&path).unwrap();

    let err = Storage::open(StorageOptions::new(&path)).await.unwrap_err();
    match &err {
        StorageError::NewerSchema {
            path: p,
            found,
            supported,
        } => {
            assert_eq!(p, &path);
            assert_eq!(*found, 999);
            assert_eq!(*supported, supported_schema_version());
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("999"), "{msg}");
    assert!(
        msg.contains(&format!("supports up to {}", supported_schema_version())),
        "{msg}"
    );
    assert!(msg.contains("newer Weft"), "{msg}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes_before,
        "refused file must be unchanged"
    );
}

#[tokio::test]
async fn broken_migration_rolls_back_and_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    open(&path).await.close().await.unwrap();
    let rows_before = schema_rows(&path);

    let mut migrations = embedded_migrations();
    migrations.push(Migration {
        version: supported_schema_version() + 1,
        name: "0099_broken.sql".to_owned(),
        sql: "CREATE TABLE ok_part(x); CREATE TABLE broken(;".to_owned(),
    });
    let err = Storage::open_with(StorageOptions::new(&path), migrations)
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Migration { ref file, .. } if file == "0099_broken.sql"));
    let msg = err.to_string();
    assert!(msg.contains("0099_broken.sql"), "{msg}");
    assert!(msg.contains("rolled back"), "{msg}");

    assert!(
        !table_exists(&path, "ok_part"),
        "partial migration must be rolled back"
    );
    assert_eq!(schema_rows(&path), rows_before, "schema version unchanged");

    let storage = open(&path).await;
    assert_eq!(
        storage.schema_version().await.unwrap(),
        supported_schema_version()
    );
    storage.close().await.unwrap();
}

#[tokio::test]
async fn broken_migration_on_fresh_database_keeps_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut migrations = embedded_migrations();
    migrations.push(Migration {
        version: supported_schema_version() + 1,
        name: "0099_broken.sql".to_owned(),
        sql: "CREATE TABLE ok_part(x); CREATE TABLE broken(;".to_owned(),
    });
    let err = Storage::open_with(StorageOptions::new(&path), migrations)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("0099_broken.sql"), "{err}");
    assert!(
        table_exists(&path, "events"),
        "earlier migrations stay applied"
    );
    assert!(!table_exists(&path, "ok_part"));
    assert_eq!(
        schema_rows(&path).last().map(|r| r.0),
        Some(supported_schema_version())
    );
}

#[tokio::test]
async fn changed_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    open(&path).await.close().await.unwrap();

    let mut migrations = embedded_migrations();
    migrations[0]
        .sql
        .push_str("\n-- an innocent-looking edit\n");
    let err = Storage::open_with(StorageOptions::new(&path), migrations)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::MigrationChanged { ref file } if file == "0001_events.sql"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("0001_events.sql"), "{msg}");
    assert!(msg.contains("append-only"), "{msg}");

    // Same text with CRLF line endings is not an edit.
    let mut crlf = embedded_migrations();
    crlf[0].sql = crlf[0].sql.replace('\n', "\r\n");
    Storage::open_with(StorageOptions::new(&path), crlf)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
}

#[tokio::test]
async fn removed_migration_and_duplicate_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut migrations = embedded_migrations();
    migrations.push(Migration {
        version: supported_schema_version() + 1,
        name: "0002_extra.sql".to_owned(),
        sql: "CREATE TABLE extra(x);".to_owned(),
    });
    migrations.push(Migration {
        version: supported_schema_version() + 2,
        name: "0003_more.sql".to_owned(),
        sql: "CREATE TABLE more(x);".to_owned(),
    });
    Storage::open_with(StorageOptions::new(&path), migrations.clone())
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    let mut without_middle = migrations.clone();
    without_middle.remove(without_middle.len() - 2);
    let err = Storage::open_with(StorageOptions::new(&path), without_middle)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::MigrationMissing { ref file, .. } if file == "0002_extra.sql"),
        "{err:?}"
    );

    let mut dup = migrations;
    let copy = dup[0].clone();
    dup.push(copy);
    let err = Storage::open_with(StorageOptions::new(&path), dup)
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidMigrations(_)), "{err:?}");
}

#[tokio::test]
async fn unusable_data_directory_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"file in the way").unwrap();
    let path = blocker.join("sub").join("weft.db");
    let err = Storage::open(StorageOptions::new(&path)).await.unwrap_err();
    assert!(matches!(err, StorageError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[tokio::test]
async fn non_database_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weft.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = Storage::open(StorageOptions::new(&path)).await.unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn readers_see_a_consistent_snapshot_during_a_long_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let storage = open(&path).await;
    storage
        .write(|tx| Ok(tx.execute_batch("CREATE TABLE t(n INTEGER NOT NULL)")?))
        .await
        .unwrap();

    let (half_tx, half_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let writer = tokio::spawn({
        let storage = storage.clone();
        async move {
            storage
                .write(move |tx| {
                    let mut half_tx = Some(half_tx);
                    let mut stmt = tx.prepare("INSERT INTO t(n) VALUES (?1)")?;
                    for batch in 0..10 {
                        for i in 0..1_000 {
                            stmt.execute([batch * 1_000 + i])?;
                        }
                        if batch == 4 {
                            half_tx.take().unwrap().send(()).unwrap();
                            go_rx
                                .recv_timeout(Duration::from_secs(60))
                                .map_err(|e| StorageError::Query(format!("no go signal: {e}")))?;
                        }
                    }
                    Ok(())
                })
                .await
        }
    });

    // On a current-thread runtime this only resolves if `write` did not block the runtime.
    half_rx.await.unwrap();
    let ticker = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        42
    });
    assert_eq!(
        ticker.await.unwrap(),
        42,
        "runtime keeps running while the writer is busy"
    );

    // Several concurrent reads while the write transaction is open: all see the old snapshot.
    let count = || storage.read(|c| count_sql(c, "SELECT COUNT(*) FROM t"));
    let (a, b, c) = tokio::join!(count(), count(), count());
    assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (0, 0, 0));

    // One read transaction spanning the commit: it keeps its snapshot while a fresh connection
    // sees the committed rows.
    let probe_path = path.clone();
    let (first, second, fresh) = storage
        .read(move |c| {
            let first = count_sql(c, "SELECT COUNT(*) FROM t")?;
            go_tx.send(()).unwrap();
            let probe = Connection::open(&probe_path)?;
            let deadline = Instant::now() + Duration::from_secs(60);
            let fresh = loop {
                let n = count_sql(&probe, "SELECT COUNT(*) FROM t")?;
                if n == 10_000 || Instant::now() > deadline {
                    break n;
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            let second = count_sql(c, "SELECT COUNT(*) FROM t")?;
            Ok((first, second, fresh))
        })
        .await
        .unwrap();
    assert_eq!(fresh, 10_000, "the write committed meanwhile");
    assert_eq!(first, 0);
    assert_eq!(first, second, "one read closure sees one snapshot");

    writer.await.unwrap().unwrap();
    assert_eq!(
        count().await.unwrap(),
        10_000,
        "after commit readers see all rows"
    );
    storage.close().await.unwrap();
}

#[tokio::test]
async fn panicking_write_rolls_back_and_writer_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&db_path(&dir)).await;
    storage
        .write(|tx| Ok(tx.execute_batch("CREATE TABLE t(n INTEGER)")?))
        .await
        .unwrap();

    let err = storage
        .write(|tx| -> Result<(), StorageError> {
            tx.execute("INSERT INTO t(n) VALUES (1)", [])?;
            panic!("boom in closure");
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::Panicked(ref m) if m.contains("boom in closure")),
        "{err:?}"
    );
    let n = storage
        .read(|c| count_sql(c, "SELECT COUNT(*) FROM t"))
        .await
        .unwrap();
    assert_eq!(n, 0, "panicked write rolled back");

    storage
        .write(|tx| Ok(tx.execute("INSERT INTO t(n) VALUES (2)", []).map(drop)?))
        .await
        .unwrap();
    let n = storage
        .read(|c| count_sql(c, "SELECT COUNT(*) FROM t"))
        .await
        .unwrap();
    assert_eq!(n, 1);

    // A panicking read is reported too, and its connection goes back to the pool.
    let err = storage
        .read(|_| -> Result<(), StorageError> { panic!("boom in read") })
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Panicked(ref m) if m.contains("boom in read")));
    for _ in 0..8 {
        storage.health().await.unwrap();
    }
    storage.close().await.unwrap();
}

#[tokio::test]
async fn err_from_write_closure_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&db_path(&dir)).await;
    storage
        .write(|tx| Ok(tx.execute_batch("CREATE TABLE t(n INTEGER)")?))
        .await
        .unwrap();
    let err = storage
        .write(|tx| -> Result<(), StorageError> {
            tx.execute("INSERT INTO t(n) VALUES (1)", [])?;
            tx.execute("INSERT INTO t(n) VALUES (2)", [])?;
            Err(StorageError::Query("validation failed".to_owned()))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Query(ref m) if m == "validation failed"));
    let n = storage
        .read(|c| count_sql(c, "SELECT COUNT(*) FROM t"))
        .await
        .unwrap();
    assert_eq!(n, 0);
    storage.close().await.unwrap();
}

#[tokio::test]
async fn close_checkpoints_and_refuses_later_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let storage = open(&path).await;
    let clone = storage.clone();
    storage
        .write(|tx| {
            tx.execute_batch("CREATE TABLE t(n INTEGER)")?;
            for i in 0..500 {
                tx.execute("INSERT INTO t(n) VALUES (?1)", [i])?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0,
        "WAL holds the write before close"
    );
    storage.checkpoint().await.unwrap();
    assert_eq!(
        std::fs::metadata(&wal).unwrap().len(),
        0,
        "checkpoint truncates the WAL"
    );

    // A queued write is finished by close.
    let queued = tokio::spawn({
        let s = storage.clone();
        async move {
            s.write(|tx| Ok(tx.execute("INSERT INTO t(n) VALUES (-1)", [])?))
                .await
        }
    });
    tokio::task::yield_now().await;
    storage.close().await.unwrap();
    // The queued write either ran before close or was refused; never half-done.
    let queued = queued.await.unwrap();

    assert!(matches!(
        clone.write(|_| Ok(())).await,
        Err(StorageError::Closed)
    ));
    assert!(matches!(
        clone.read(|_| Ok(())).await,
        Err(StorageError::Closed)
    ));
    assert!(matches!(
        clone.schema_version().await,
        Err(StorageError::Closed)
    ));
    assert!(matches!(clone.health().await, Err(StorageError::Closed)));
    assert!(matches!(
        clone.checkpoint().await,
        Err(StorageError::Closed)
    ));
    clone.close().await.unwrap(); // idempotent

    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "WAL is empty or gone after close");
    let conn = Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
        .unwrap();
    match queued {
        Ok(_) => assert_eq!(n, 501),
        Err(StorageError::Closed) => assert_eq!(n, 500),
        Err(e) => panic!("unexpected error from queued write: {e}"),
    }
}

#[tokio::test]
async fn close_finishes_writes_already_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let storage = Storage::open(StorageOptions {
        readers: 1,
        ..StorageOptions::new(&path)
    })
    .await
    .unwrap();
    storage
        .write(|tx| Ok(tx.execute_batch("CREATE TABLE t(n INTEGER)")?))
        .await
        .unwrap();
    // Hold the writer so the next writes are queued when close starts.
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = tokio::spawn({
        let s = storage.clone();
        async move {
            s.write(move |tx| {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok(tx.execute("INSERT INTO t(n) VALUES (0)", [])?)
            })
            .await
        }
    });
    started_rx.await.unwrap();
    let mut queued = Vec::new();
    for i in 1..=5 {
        let s = storage.clone();
        queued.push(tokio::spawn(async move {
            s.write(move |tx| Ok(tx.execute("INSERT INTO t(n) VALUES (?1)", [i])?))
                .await
        }));
    }
    // Let every spawned write reach the queue before closing.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    let closer = tokio::spawn({
        let s = storage.clone();
        async move { s.close().await }
    });
    release_tx.send(()).unwrap();
    closer.await.unwrap().unwrap();
    blocker.await.unwrap().unwrap();
    let mut done = 0;
    for q in queued {
        match q.await.unwrap() {
            Ok(_) => done += 1,
            Err(StorageError::Closed) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let n: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        n,
        1 + done,
        "every accepted write was committed before close returned"
    );
}

#[tokio::test]
async fn events_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(&db_path(&dir)).await;
    assert!(storage.recent_events(10).await.unwrap().is_empty());
    let rows: Vec<EventRow> = (0..5)
        .map(|i| EventRow {
            ts_ms: 1_700_000_000_000 + i,
            boot_id: "boot-1".to_owned(),
            supervisor: "root".to_owned(),
            child: format!("child-{i}"),
            kind: if i % 2 == 0 { "start" } else { "exit" }.to_owned(),
            generation: i,
            reason: (i % 2 == 1).then(|| format!("reason {i}")),
            detail: (i == 4).then(|| r#"{"k":"v"}"#.to_owned()),
        })
        .collect();
    storage.insert_events(rows.clone()).await.unwrap();
    storage.insert_events(Vec::new()).await.unwrap();

    assert_eq!(storage.recent_events(100).await.unwrap(), rows);
    assert_eq!(storage.recent_events(3).await.unwrap(), rows[2..].to_vec());
    assert!(storage.recent_events(0).await.unwrap().is_empty());
    storage.close().await.unwrap();
}

/// Kills the child process if the test fails before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[test]
fn sigkill_mid_transaction_keeps_committed_rows_only() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_DB_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);

    let stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let (line_tx, line_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match line_rx.recv_timeout(left) {
            // libtest prints "test <name> ... " without a newline before the test runs.
            Ok(line) if line.trim_end().ends_with("WRITING") => break,
            Ok(line) => seen.push(line),
            Err(e) => {
                drop(child);
                panic!(
                    "child never printed WRITING ({e}); stdout: {seen:?}; stderr: {}",
                    stderr_reader.join().unwrap_or_default()
                );
            }
        }
    }

    let pid = libc::pid_t::try_from(child.0.id()).unwrap();
    // SAFETY: plain syscall on the pid of a child we spawned and have not yet reaped.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(rc, 0, "kill failed: {}", std::io::Error::last_os_error());
    let status = child.0.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "child died of SIGKILL"
    );

    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        wal_len > 1 << 20,
        "uncommitted pages should have spilled into the WAL ({wal_len} bytes)"
    );

    let conn = Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let (committed, partial): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*) FILTER (WHERE phase = 'committed'), \
                    COUNT(*) FILTER (WHERE phase = 'partial') FROM marks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(committed, 100);
    assert_eq!(partial, 0, "no row of the killed transaction survives");
    drop(conn);

    // And Weft itself reopens it normally.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let storage = open(&path).await;
        assert_eq!(
            storage.schema_version().await.unwrap(),
            supported_schema_version()
        );
        let n = storage
            .read(|c| count_sql(c, "SELECT COUNT(*) FROM marks"))
            .await
            .unwrap();
        assert_eq!(n, 100);
        storage.close().await.unwrap();
    });
}

/// Body of the child process for `sigkill_mid_transaction_keeps_committed_rows_only`; a no-op
/// unless `WEFT_STORAGE_CHILD_DB` is set.
#[test]
fn sigkill_child_writer() {
    let Some(path) = std::env::var_os(CHILD_DB_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let storage = open(&path).await;
        storage
            .write(|tx| {
                tx.execute_batch(
                    "CREATE TABLE marks(id INTEGER PRIMARY KEY, phase TEXT NOT NULL, pad BLOB)",
                )?;
                for _ in 0..100 {
                    tx.execute("INSERT INTO marks(phase) VALUES ('committed')", [])?;
                }
                Ok(())
            })
            .await
            .unwrap();
        storage
            .write(|tx| -> Result<(), StorageError> {
                // 4 KiB per row: 24,000 rows (~94 MiB) overflow the writer's 64 MiB page
                // cache, so uncommitted pages spill into the WAL before the kill and recovery
                // must ignore them.
                let mut stmt =
                    tx.prepare("INSERT INTO marks(phase, pad) VALUES ('partial', zeroblob(4096))")?;
                let mut inserted = 0u64;
                loop {
                    stmt.execute([])?;
                    inserted += 1;
                    if inserted == 24_000 {
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "WRITING").unwrap();
                        out.flush().unwrap();
                    }
                    if inserted > 24_000 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
            .await
            .unwrap();
    });
    unreachable!("the parent kills this process mid-write");
}
