//! Integration tests for the first increment of workspace indexing: real fixture trees in
//! temporary directories (ignore files, binaries, symlink loops) and a real SQLite database,
//! because what matters (which files are walked, which are read, which rows and chunks survive
//! a rescan) only shows up against a real file system and schema.
#![allow(
    clippy::unwrap_used,
    reason = "tests unwrap freely: a failed unwrap is a failed assertion"
)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use weft_actors::index::{
    read_stable, walk, FileIndex, IndexOptions, Progress, ReadSkip, ScanReport, SkipReason,
    WalkOptions, WalkOutcome, WorkspaceId,
};
use weft_actors::storage::{Storage, StorageOptions};

/// Writes `contents` at `root/rel`, creating parent directories.
fn put(root: &Path, rel: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// Relative paths of the walk's candidates.
fn candidates(opts: &WalkOptions) -> BTreeSet<String> {
    walk(opts)
        .unwrap()
        .filter(|e| e.outcome == WalkOutcome::Candidate)
        .map(|e| e.rel.to_str().unwrap().to_owned())
        .collect()
}

#[test]
fn nested_ignore_files_are_honoured_outside_git() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, ".gitignore", "target/\n*.log\n");
    put(root, ".weftignore", "!keep.log\n");
    put(root, "a.rs", "fn a() {}\n");
    put(root, "debug.log", "noise\n");
    put(root, "keep.log", "wanted\n");
    put(root, "target/out.rs", "generated\n");
    put(root, ".hidden.txt", "hidden\n");
    put(root, ".git/config", "[core]\n");
    put(root, "sub/.ignore", "secret.txt\n");
    put(root, "sub/b.rs", "fn b() {}\n");
    put(root, "sub/secret.txt", "token\n");
    put(root, "sub/deeper/.weftignore", "*.gen.rs\n");
    put(root, "sub/deeper/c.rs", "fn c() {}\n");
    put(root, "sub/deeper/d.gen.rs", "fn d() {}\n");
    put(root, "other/secret.txt", "not covered by sub/.ignore\n");

    let found = candidates(&WalkOptions::new(root));
    let expected: BTreeSet<String> = [
        "a.rs",
        "keep.log",
        "sub/b.rs",
        "sub/deeper/c.rs",
        "other/secret.txt",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn size_cap_is_configurable_and_reported_as_oversized() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "big.txt", vec![b'a'; 3_000_000]);
    put(dir.path(), "small.txt", "x\n");
    let outcome = |opts: &WalkOptions| {
        walk(opts)
            .unwrap()
            .find(|e| e.rel == Path::new("big.txt"))
            .unwrap()
    };
    let big = outcome(&WalkOptions::new(dir.path()));
    assert_eq!(big.outcome, WalkOutcome::Oversized);
    assert_eq!(big.size, 3_000_000);
    assert!(big.mtime_ns > 0);
    let mut opts = WalkOptions::new(dir.path());
    opts.max_file_bytes = 4 * 1024 * 1024;
    assert_eq!(outcome(&opts).outcome, WalkOutcome::Candidate);
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_reported_and_walk_terminates() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "a.txt", "a\n");
    std::os::unix::fs::symlink(".", dir.path().join("loop")).unwrap();
    let entries: Vec<_> = walk(&WalkOptions::new(dir.path())).unwrap().collect();
    let looped = entries
        .iter()
        .find(|e| {
            matches!(
                e.outcome,
                WalkOutcome::Skipped(SkipReason::SymlinkLoop { .. })
            )
        })
        .unwrap_or_else(|| panic!("no loop reported in {entries:?}"));
    assert_eq!(looped.rel, Path::new("loop"));
    assert!(entries
        .iter()
        .any(|e| e.rel == Path::new("a.txt") && e.outcome == WalkOutcome::Candidate));
}

#[test]
fn read_stable_hashes_text_and_flags_binary_and_bad_utf8() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "text.txt", "hello\n");
    put(dir.path(), "latin1.txt", b"caf\xe9\n");
    put(dir.path(), "bin.dat", b"abc\0def");

    let text = read_stable(&dir.path().join("text.txt"), 1024).unwrap();
    assert_eq!(text.bytes, b"hello\n");
    assert_eq!(text.blake3, blake3::hash(b"hello\n").to_hex().to_string());
    assert!(text.is_utf8);

    let latin1 = read_stable(&dir.path().join("latin1.txt"), 1024).unwrap();
    assert!(!latin1.is_utf8);

    let bin = read_stable(&dir.path().join("bin.dat"), 1024).unwrap_err();
    assert!(matches!(bin, ReadSkip::Binary { .. }), "{bin:?}");
    assert_eq!(bin.reason(), "binary");

    let over = read_stable(&dir.path().join("text.txt"), 3).unwrap_err();
    assert!(
        matches!(over, ReadSkip::Oversized { size: 6, .. }),
        "{over:?}"
    );

    let gone = read_stable(&dir.path().join("missing.txt"), 1024).unwrap_err();
    assert!(matches!(gone, ReadSkip::Changed { .. }), "{gone:?}");
}

#[test]
fn file_growing_while_read_is_changed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing.log");
    put(dir.path(), "growing.log", "start\n");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            while !stop.load(Ordering::Relaxed) {
                f.write_all(b"0123456789abcdef").unwrap();
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut saw_changed = false;
    while Instant::now() < deadline {
        if let Err(ReadSkip::Changed { .. }) = read_stable(&path, 512 * 1024 * 1024) {
            saw_changed = true;
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(
        saw_changed,
        "a file appended to in a loop was never reported as Changed"
    );
}

/// A workspace directory and a database outside it (so the database is not walked).
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    db: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    std::fs::create_dir_all(&root).unwrap();
    let db = dir.path().join("data").join("weft.db");
    Fixture {
        _dir: dir,
        root,
        db,
    }
}

/// (path, state, blake3, skip_reason, updated_ms) of every file row, sorted by path.
type Row = (String, String, Option<String>, Option<String>, i64);

async fn rows(storage: &Storage) -> Vec<Row> {
    storage
        .read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT path, state, blake3, skip_reason, updated_ms FROM files ORDER BY path",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<Vec<Row>, _>>()?;
            Ok(rows)
        })
        .await
        .unwrap()
}

/// (path, chunk count, FTS rows of those chunks) per indexed file, sorted by path.
async fn chunk_counts(storage: &Storage) -> Vec<(String, i64, i64)> {
    storage
        .read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT c.path, count(*), \
                   (SELECT count(*) FROM chunks_fts f JOIN chunks c2 ON c2.id = f.rowid \
                    WHERE c2.path = c.path) \
                 FROM chunks c GROUP BY c.path ORDER BY c.path",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
        .unwrap()
}

/// Paths whose chunks hold an FTS match for `query`.
async fn fts(storage: &Storage, query: &'static str) -> Vec<String> {
    storage
        .read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT DISTINCT c.path FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid \
                 WHERE chunks_fts MATCH ?1 ORDER BY c.path",
            )?;
            let rows = stmt
                .query_map([query], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
        .unwrap()
}

async fn exec(storage: &Storage, sql: &'static str) {
    storage
        .write(move |tx| Ok(tx.execute_batch(sql)?))
        .await
        .unwrap();
}

fn row<'a>(rows: &'a [Row], path: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.0 == path)
        .unwrap_or_else(|| panic!("no row for {path} in {rows:?}"))
}

async fn scan(index: &FileIndex, ws: WorkspaceId, root: &Path) -> ScanReport {
    scan_with(index, ws, &IndexOptions::new(root)).await
}

async fn scan_with(index: &FileIndex, ws: WorkspaceId, opts: &IndexOptions) -> ScanReport {
    index
        .scan(ws, opts, &Arc::new(Progress::default()))
        .await
        .unwrap()
}

#[tokio::test]
async fn scan_tracks_new_unchanged_changed_deleted_and_renamed_files() {
    let fx = fixture();
    let root = fx.root.as_path();
    put(root, "a.txt", "alpha\n");
    put(root, "b.txt", "beta\n");
    put(root, "src/c.rs", "fn c() {}\n");
    put(root, "latin1.txt", b"caf\xe9\n");
    put(root, "bin.dat", b"\x7fELF\0\0\0");
    put(root, "big.txt", vec![b'z'; 3_000_000]);

    let storage = Storage::open(StorageOptions::new(&fx.db)).await.unwrap();
    let index = FileIndex::new(storage.clone());
    let ws = index.register_workspace(root).await.unwrap();
    assert_eq!(index.register_workspace(root).await.unwrap(), ws);

    // First scan: everything new; binary and oversized recorded as skipped metadata.
    let first = scan(&index, ws, root).await;
    assert_eq!(
        (first.seen, first.new, first.chunks),
        (6, 4, 4),
        "{first:?}"
    );
    let skipped: BTreeSet<_> = first
        .skipped
        .iter()
        .map(|(p, r)| (p.to_str().unwrap().to_owned(), r.clone()))
        .collect();
    assert_eq!(
        skipped,
        BTreeSet::from([
            ("big.txt".to_owned(), "oversized".to_owned()),
            ("bin.dat".to_owned(), "binary".to_owned()),
        ])
    );
    let r = rows(&storage).await;
    assert_eq!(r.len(), 6);
    let big = row(&r, "big.txt");
    assert_eq!((big.1.as_str(), big.2.as_deref()), ("skipped", None));
    assert_eq!(row(&r, "bin.dat").3.as_deref(), Some("binary"));
    let a = row(&r, "a.txt");
    assert_eq!(a.1, "chunked");
    assert_eq!(a.2, Some(blake3::hash(b"alpha\n").to_hex().to_string()));
    assert_eq!(row(&r, "latin1.txt").1, "chunked");
    // One chunk and one FTS row per small text file; keyword search works at once.
    assert_eq!(
        chunk_counts(&storage).await,
        vec![
            ("a.txt".to_owned(), 1, 1),
            ("b.txt".to_owned(), 1, 1),
            ("latin1.txt".to_owned(), 1, 1),
            ("src/c.rs".to_owned(), 1, 1),
        ]
    );
    assert_eq!(fts(&storage, "alpha").await, vec!["a.txt".to_owned()]);

    // Second scan, nothing changed: all unchanged, no row rewritten.
    exec(&storage, "UPDATE files SET updated_ms = 0").await;
    let second = scan(&index, ws, root).await;
    assert_eq!(
        second,
        ScanReport {
            seen: 6,
            unchanged: 6,
            ..ScanReport::default()
        }
    );
    assert!(rows(&storage).await.iter().all(|r| r.4 == 0));

    // Editing a.txt re-chunks exactly that file; the old text is no longer found.
    put(root, "a.txt", "gamma, edited\n");
    let third = scan(&index, ws, root).await;
    assert_eq!(
        (third.changed, third.unchanged, third.new, third.chunks),
        (1, 5, 0, 1),
        "{third:?}"
    );
    let r = rows(&storage).await;
    assert_eq!(row(&r, "a.txt").1, "chunked");
    assert_ne!(row(&r, "a.txt").4, 0);
    assert!(fts(&storage, "alpha").await.is_empty());
    assert_eq!(fts(&storage, "gamma").await, vec!["a.txt".to_owned()]);
    assert_eq!(chunk_counts(&storage).await[0], ("a.txt".to_owned(), 1, 1));

    // Touching without changing contents keeps the state and queues nothing.
    exec(
        &storage,
        "UPDATE files SET state = 'embedded' WHERE path = 'b.txt'",
    )
    .await;
    let file = std::fs::File::options()
        .write(true)
        .open(root.join("b.txt"))
        .unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(file);
    let touched = scan(&index, ws, root).await;
    assert_eq!(
        (touched.touched, touched.changed, touched.chunks),
        (1, 0, 0)
    );
    assert_eq!(row(&rows(&storage).await, "b.txt").1, "embedded");

    // Deleting a file removes its row, chunks and FTS rows.
    std::fs::remove_file(root.join("latin1.txt")).unwrap();
    let deleted = scan(&index, ws, root).await;
    assert_eq!((deleted.removed, deleted.seen), (1, 5));
    assert!(rows(&storage).await.iter().all(|r| r.0 != "latin1.txt"));
    assert!(chunk_counts(&storage)
        .await
        .iter()
        .all(|c| c.0 != "latin1.txt"));
    assert!(fts(&storage, "caf").await.is_empty());

    // A rename is a delete plus a new file.
    std::fs::rename(root.join("src/c.rs"), root.join("src/d.rs")).unwrap();
    let renamed = scan(&index, ws, root).await;
    assert_eq!((renamed.removed, renamed.new, renamed.chunks), (1, 1, 1));
    let r = rows(&storage).await;
    assert!(r.iter().all(|r| r.0 != "src/c.rs"));
    assert_eq!(row(&r, "src/d.rs").1, "chunked");
    assert_eq!(fts(&storage, "c").await, vec!["src/d.rs".to_owned()]);

    // A bigger cap turns the oversized file into a readable one.
    let mut opts = IndexOptions::new(root);
    opts.walk.max_file_bytes = 4 * 1024 * 1024;
    let raised = scan_with(&index, ws, &opts).await;
    assert_eq!(raised.changed, 1, "{raised:?}");
    assert_eq!(raised.chunks, 1, "one 3 MB line is one chunk: {raised:?}");
    assert!(row(&rows(&storage).await, "big.txt").2.is_some());

    // Restart: the same workspace id, rows and chunks survive, nothing is redone.
    let chunks_before = chunk_counts(&storage).await;
    storage.close().await.unwrap();
    let storage = Storage::open(StorageOptions::new(&fx.db)).await.unwrap();
    let index = FileIndex::new(storage.clone());
    assert_eq!(index.register_workspace(root).await.unwrap(), ws);
    assert_eq!(chunk_counts(&storage).await, chunks_before);
    let after_restart = scan_with(&index, ws, &opts).await;
    assert_eq!(after_restart.unchanged, after_restart.seen);
    storage.close().await.unwrap();
}

#[tokio::test]
async fn scan_with_another_root_is_refused() {
    let fx = fixture();
    let other = tempfile::tempdir().unwrap();
    let storage = Storage::open(StorageOptions::new(&fx.db)).await.unwrap();
    let index = FileIndex::new(storage.clone());
    let ws = index.register_workspace(&fx.root).await.unwrap();
    let err = index
        .scan(
            ws,
            &IndexOptions::new(other.path()),
            &Arc::new(Progress::default()),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("scan with WalkOptions"), "{err}");
    storage.close().await.unwrap();
}
