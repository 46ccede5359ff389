//! Integration tests for the workspace watcher: real files in temporary directories and real
//! inotify (or polling), because what matters (which changes arrive, which ignored trees stay
//! silent, what happens at the watch limit) only shows up against a real kernel. Timeouts are
//! generous and no test asserts tight timings: an expected event is waited for up to
//! [`WAIT`], an absence is asserted only after a later change has been seen.
#![allow(
    clippy::unwrap_used,
    reason = "tests unwrap freely: a failed unwrap is a failed assertion"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{channel, Receiver};
use weft_actors::index::{WatchError, WatchEvent, WatchMode, WatchOptions, Watcher};

/// How long an expected event may take.
const WAIT: Duration = Duration::from_secs(5);

/// Writes `contents` at `root/rel`, creating parent directories.
fn put(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// A temporary workspace (its own name is not hidden, unlike tempfile's default `.tmp…`).
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("weft-watch-")
        .tempdir()
        .unwrap();
    let root = dir.path().to_path_buf();
    (dir, root)
}

/// Starts a watcher on `root` with short test timings, after `tweak`.
async fn start(
    root: &Path,
    tweak: impl FnOnce(&mut WatchOptions),
) -> (Watcher, Receiver<WatchEvent>) {
    let mut opts = WatchOptions::new(root);
    opts.poll_interval = Duration::from_millis(200);
    tweak(&mut opts);
    let (tx, rx) = channel(64);
    let watcher = Watcher::start_async(opts, tx).await.unwrap();
    (watcher, rx)
}

/// Every path the events name.
fn paths(events: &[WatchEvent]) -> BTreeSet<PathBuf> {
    events
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Paths(p) => Some(p.iter().cloned()),
            WatchEvent::Rescan { .. } => None,
        })
        .flatten()
        .collect()
}

/// Receives events until `done` holds for all received so far; panics after [`WAIT`].
async fn until(
    rx: &mut Receiver<WatchEvent>,
    what: &str,
    mut done: impl FnMut(&[WatchEvent]) -> bool,
) -> Vec<WatchEvent> {
    let deadline = Instant::now() + WAIT;
    let mut events = Vec::new();
    while !done(&events) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(event)) => events.push(event),
            Ok(None) => panic!("watcher stopped while waiting for {what}; got {events:?}"),
            Err(_) => panic!("timed out waiting for {what}; got {events:?}"),
        }
    }
    events
}

/// Receives events until every path in `want` was reported.
async fn expect_paths(rx: &mut Receiver<WatchEvent>, want: &[PathBuf]) -> Vec<WatchEvent> {
    let what = format!("{want:?}");
    until(rx, &what, |events| {
        let seen = paths(events);
        want.iter().all(|p| seen.contains(p))
    })
    .await
}

/// Receives events until a `Rescan` arrives; returns its reason.
async fn expect_rescan(rx: &mut Receiver<WatchEvent>) -> String {
    let events = until(rx, "a rescan", |events| {
        events
            .iter()
            .any(|e| matches!(e, WatchEvent::Rescan { .. }))
    })
    .await;
    events
        .into_iter()
        .find_map(|e| match e {
            WatchEvent::Rescan { reason } => Some(reason),
            WatchEvent::Paths(_) => None,
        })
        .unwrap()
}

/// Waits until `cond` holds, polling; panics after [`WAIT`].
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn create_modify_and_delete_are_reported() {
    let (_dir, root) = workspace();
    let (watcher, mut rx) = start(&root, |_| {}).await;
    assert_eq!(watcher.mode(), WatchMode::Native);
    assert_eq!(watcher.watched_dirs(), 1);
    let file = root.join("a.rs");

    put(&root, "a.rs", "fn a() {}");
    expect_paths(&mut rx, std::slice::from_ref(&file)).await;

    put(&root, "a.rs", "fn a() { 1 }");
    expect_paths(&mut rx, std::slice::from_ref(&file)).await;

    std::fs::remove_file(&file).unwrap();
    expect_paths(&mut rx, &[file]).await;
}

#[tokio::test]
async fn rename_reports_both_paths() {
    let (_dir, root) = workspace();
    put(&root, "src/old.rs", "x");
    let (_watcher, mut rx) = start(&root, |_| {}).await;

    std::fs::rename(root.join("src/old.rs"), root.join("src/new.rs")).unwrap();
    expect_paths(&mut rx, &[root.join("src/old.rs"), root.join("src/new.rs")]).await;
}

#[tokio::test]
async fn files_in_a_new_nested_directory_are_reported_and_watched() {
    let (_dir, root) = workspace();
    let (watcher, mut rx) = start(&root, |_| {}).await;

    // Written at once: the file may exist before the new directories' watches do.
    put(&root, "a/b/c/first.rs", "1");
    expect_paths(&mut rx, &[root.join("a"), root.join("a/b/c/first.rs")]).await;
    assert_eq!(watcher.watched_dirs(), 4);

    // And later changes inside it come from its own watch.
    put(&root, "a/b/c/second.rs", "2");
    expect_paths(&mut rx, &[root.join("a/b/c/second.rs")]).await;
}

#[tokio::test]
async fn removed_directory_is_reported_and_unwatched() {
    let (_dir, root) = workspace();
    put(&root, "d/e/f.rs", "x");
    let (watcher, mut rx) = start(&root, |_| {}).await;
    assert_eq!(watcher.watched_dirs(), 3);

    std::fs::remove_dir_all(root.join("d")).unwrap();
    expect_paths(&mut rx, &[root.join("d")]).await;
    eventually("the watches to go", || watcher.watched_dirs() == 1).await;
}

/// Writes into every kind of ignored place, then a normal file; only the normal file arrives.
async fn assert_ignored_changes_are_dropped(root: &Path, rx: &mut Receiver<WatchEvent>) {
    let ignored = [
        "target/debug/out.rs",
        "target/new-dir/x.rs",
        "generated/x.rs",
        "private/secret.rs",
        "sub/local/x.rs",
        "sub/local-new/y.rs",
        "build.log",
        ".env",
        ".git/HEAD",
        ".git/objects/ab/cdef",
        "node_modules/pkg/index.js",
    ];
    for rel in ignored {
        put(root, rel, "changed");
    }
    // Give the ignored changes every chance to arrive before the one we wait for.
    tokio::time::sleep(Duration::from_millis(700)).await;
    put(root, "ok.rs", "fine");
    let events = expect_paths(rx, &[root.join("ok.rs")]).await;
    let seen = paths(&events);
    for rel in ignored {
        let path = root.join(rel);
        assert!(
            !seen
                .iter()
                .any(|p| path.starts_with(p) && p != root && !p.ends_with("sub")),
            "{rel} (or a parent) was reported: {events:?}"
        );
    }
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, WatchEvent::Rescan { .. })),
        "unexpected rescan: {events:?}"
    );
}

/// A tree with ignored directories of every kind.
fn ignored_tree(root: &Path) {
    put(
        root,
        ".gitignore",
        "target/\ngenerated/\n*.log\nnode_modules/\n",
    );
    put(root, ".weftignore", "private/\n");
    put(root, "sub/.gitignore", "local*/\n");
    put(root, "sub/kept.rs", "x");
    put(root, "target/debug/out.rs", "x");
    put(root, "generated/x.rs", "x");
    put(root, "private/secret.rs", "x");
    put(root, "sub/local/x.rs", "x");
    put(root, ".git/HEAD", "ref: refs/heads/main");
}

#[tokio::test]
async fn ignored_paths_are_neither_watched_nor_reported() {
    let (_dir, root) = workspace();
    ignored_tree(&root);
    let (watcher, mut rx) = start(&root, |_| {}).await;
    // The root and sub/ only: target/, generated/, private/, sub/local/ and .git/ cost nothing.
    assert_eq!(watcher.watched_dirs(), 2);

    assert_ignored_changes_are_dropped(&root, &mut rx).await;
    assert_eq!(watcher.watched_dirs(), 2);
}

#[tokio::test]
async fn changing_gitignore_asks_for_a_rescan_and_applies_the_new_rules() {
    let (_dir, root) = workspace();
    put(&root, "later/x.rs", "x");
    let (watcher, mut rx) = start(&root, |_| {}).await;
    assert_eq!(watcher.watched_dirs(), 2);

    put(&root, ".gitignore", "later/\n");
    let reason = expect_rescan(&mut rx).await;
    assert!(reason.contains(".gitignore"), "{reason}");
    eventually("later/ to be unwatched", || watcher.watched_dirs() == 1).await;

    put(&root, "later/x.rs", "changed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    put(&root, "ok.rs", "fine");
    let events = expect_paths(&mut rx, &[root.join("ok.rs")]).await;
    assert!(
        !paths(&events).contains(&root.join("later/x.rs")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_burst_of_writes_coalesces_into_few_batches() {
    let (_dir, root) = workspace();
    let (_watcher, mut rx) = start(&root, |_| {}).await;

    let want: Vec<PathBuf> = (0..200).map(|i| root.join(format!("f{i:03}.rs"))).collect();
    for path in &want {
        std::fs::write(path, "x").unwrap();
    }
    let events = expect_paths(&mut rx, &want).await;
    assert!(
        events.len() <= 20,
        "200 writes arrived in {} batches",
        events.len()
    );
    for event in &events {
        let WatchEvent::Paths(p) = event else {
            panic!("unexpected {event:?}");
        };
        let unique: BTreeSet<_> = p.iter().collect();
        assert_eq!(unique.len(), p.len(), "duplicates in one batch");
    }
}

#[tokio::test]
async fn reaching_the_watch_limit_falls_back_to_polling() {
    let (_dir, root) = workspace();
    put(&root, "a/x.rs", "x");
    put(&root, "b/y.rs", "y");
    put(&root, "c/z.rs", "z");
    let (watcher, mut rx) = start(&root, |o| o.max_native_watches = Some(2)).await;

    let WatchMode::Polling { reason } = watcher.mode() else {
        panic!("expected polling, got {:?}", watcher.mode());
    };
    assert!(reason.contains("limit"), "{reason}");
    assert!(reason.contains("max_user_watches"), "{reason}");
    let rescan = expect_rescan(&mut rx).await;
    assert!(rescan.contains("limit"), "{rescan}");
    assert_eq!(watcher.watched_dirs(), 4);

    put(&root, "b/new.rs", "new");
    expect_paths(&mut rx, &[root.join("b/new.rs")]).await;
    put(&root, "d/e/deep.rs", "deep");
    expect_paths(&mut rx, &[root.join("d"), root.join("d/e/deep.rs")]).await;
    std::fs::remove_file(root.join("a/x.rs")).unwrap();
    expect_paths(&mut rx, &[root.join("a/x.rs")]).await;
}

#[tokio::test]
async fn forced_polling_reports_changes_under_the_same_rules() {
    let (_dir, root) = workspace();
    ignored_tree(&root);
    put(&root, "src/lib.rs", "x");
    let (watcher, mut rx) = start(&root, |o| o.force_polling = true).await;
    let WatchMode::Polling { reason } = watcher.mode() else {
        panic!("expected polling, got {:?}", watcher.mode());
    };
    assert!(reason.contains("force_polling"), "{reason}");
    assert_eq!(watcher.watched_dirs(), 3);

    // notify's poller compares modification times in whole seconds.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    put(&root, "src/lib.rs", "changed, and longer");
    expect_paths(&mut rx, &[root.join("src/lib.rs")]).await;
    put(&root, "new/dir/file.rs", "x");
    expect_paths(&mut rx, &[root.join("new"), root.join("new/dir/file.rs")]).await;
    std::fs::rename(root.join("src/lib.rs"), root.join("src/main.rs")).unwrap();
    expect_paths(
        &mut rx,
        &[root.join("src/lib.rs"), root.join("src/main.rs")],
    )
    .await;
    std::fs::remove_dir_all(root.join("new")).unwrap();
    expect_paths(&mut rx, &[root.join("new")]).await;

    assert_ignored_changes_are_dropped(&root, &mut rx).await;
}

#[tokio::test]
async fn dropping_the_watcher_stops_it() {
    let (_dir, root) = workspace();
    put(&root, "a/b.rs", "x");
    let (watcher, mut rx) = start(&root, |_| {}).await;
    put(&root, "a/c.rs", "x");
    drop(watcher);
    put(&root, "a/d.rs", "x");
    // Whatever was already sent may still be read; then the thread's sender is gone.
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => panic!("the watcher thread still holds its sender"),
        }
    }
}

#[tokio::test]
async fn dropping_a_polling_watcher_stops_it() {
    let (_dir, root) = workspace();
    let (watcher, mut rx) = start(&root, |o| o.force_polling = true).await;
    drop(watcher);
    let got = tokio::time::timeout(WAIT, rx.recv()).await;
    assert!(matches!(got, Ok(None)), "{got:?}");
}

#[tokio::test]
async fn a_missing_root_is_an_error_naming_it() {
    let (_dir, root) = workspace();
    let missing = root.join("nope");
    let (tx, _rx) = channel(1);
    let err = Watcher::start_async(WatchOptions::new(&missing), tx)
        .await
        .unwrap_err();
    assert!(matches!(err, WatchError::Root { .. }), "{err:?}");
    assert!(err.to_string().contains("nope"), "{err}");
}
