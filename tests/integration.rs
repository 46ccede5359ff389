//! End-to-end tests of the `weft` binary: real processes, real signals, real SQLite files,
//! the real API socket. Each test gets its own WEFT_HOME and config dir.

mod util;

use std::time::{Duration, Instant};

use util::{Weft, SERVE_READY};
use weft_actors::storage::{Storage, StorageOptions};

/// Supervision rows of one database, oldest first, as (supervisor, child, kind).
fn event_rows(weft: &Weft) -> Vec<(String, String, String)> {
    util::block_on(async {
        let storage = Storage::open(StorageOptions::new(weft.db_path()))
            .await
            .expect("open db");
        let rows = storage.recent_events(10_000).await.expect("events");
        storage.close().await.expect("close");
        rows.into_iter()
            .map(|r| (r.supervisor, r.child, r.kind))
            .collect()
    })
}

fn has_event(rows: &[(String, String, String)], sup: &str, child: &str, kind: &str) -> bool {
    rows.iter()
        .any(|r| r.0 == sup && r.1 == child && r.2 == kind)
}

#[test]
fn serve_exits_zero_within_two_seconds_of_sigterm_after_an_ordered_shutdown() {
    let weft = Weft::new();
    let mut serve = weft.serve();
    serve.wait_ready();

    let started = Instant::now();
    serve.signal(libc::SIGTERM);
    let status = serve.wait_exit(Duration::from_secs(10));
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", serve.stderr());
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");

    let rows = event_rows(&weft);
    let stops: Vec<&str> = rows
        .iter()
        .filter(|r| r.2 == "stopped")
        .map(|r| r.1.as_str())
        .collect();
    assert_eq!(
        stops,
        vec![
            "api",
            "session",
            "term-embed",
            "terms",
            "git",
            "indexer",
            "index",
            "storage",
            "root"
        ],
        "reverse start order"
    );
    let starts: Vec<&str> = rows
        .iter()
        .filter(|r| r.2 == "started")
        .map(|r| r.1.as_str())
        .collect();
    assert_eq!(
        starts,
        vec![
            "storage",
            "indexer",
            "index",
            "git",
            "term-embed",
            "terms",
            "session",
            "api",
            "root"
        ]
    );
    assert!(
        !weft.socket_path().exists(),
        "the API socket is removed at shutdown"
    );
}

#[test]
fn sigint_also_shuts_down_cleanly() {
    let weft = Weft::new();
    let mut serve = weft.serve();
    serve.wait_ready();
    serve.signal(libc::SIGINT);
    assert_eq!(serve.wait_exit(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn status_json_lists_the_live_tree() {
    let weft = Weft::new();
    let mut serve = weft.serve();
    serve.wait_ready();

    let out = weft.run(&["status", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let paths: Vec<&str> = report["tree"]
        .as_array()
        .expect("tree")
        .iter()
        .map(|n| n["path"].as_str().expect("path"))
        .collect();
    assert_eq!(
        paths,
        vec![
            "root",
            "root/api",
            "root/git",
            "root/index",
            "root/index/indexer",
            "root/session",
            "root/storage",
            "root/terms",
            "root/terms/term-embed"
        ]
    );
    for node in report["tree"].as_array().expect("tree") {
        assert_eq!(node["state"], "running", "{node}");
        assert_eq!(node["restarts"], 0, "{node}");
    }
    assert_eq!(report["degraded"], false);
    assert_eq!(report["daemon"]["pid"], serve.pid());
    assert_eq!(report["daemon"]["profile"], "default");

    let human = weft.run(&["status"]);
    let text = human.stdout_text();
    assert!(
        text.contains("healthy") && text.contains("storage") && text.contains("api"),
        "{text}"
    );
    serve.stop();
}

#[test]
fn status_without_a_daemon_says_so_and_exits_3() {
    let weft = Weft::new();
    let out = weft.run(&["status"]);
    assert_eq!(out.status.code(), Some(3));
    let err = out.stderr_text();
    assert!(
        err.contains("no `weft serve` is running") && err.contains("weft serve"),
        "{err}"
    );
}

#[test]
fn a_second_daemon_on_the_same_profile_is_refused_and_another_profile_works() {
    let weft = Weft::new();
    let mut first = weft.serve();
    first.wait_ready();

    let second = weft.run(&["serve", "."]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        second
            .stderr_text()
            .contains("already running for profile `default`"),
        "{}",
        second.stderr_text()
    );

    let mut other = weft.serve_args(&["--profile", "work", "serve", "."]);
    other.wait_ready_profile("work");
    other.stop();
    first.stop();
}

#[test]
fn a_killed_actor_is_restarted_by_policy_and_the_events_table_records_it() {
    let weft = Weft::new();
    let mut serve = weft.serve();
    serve.wait_ready();

    let out = weft.run(&["kill", "root/storage"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    // rest_for_one: storage and the api started after it both come back.
    let report = weft.wait_status(|r| {
        let node = |p: &str| r["tree"].as_array().and_then(|t| t.iter().find(|n| n["path"] == p)).cloned();
        let (s, a) = (node("root/storage"), node("root/api"));
        matches!((s, a), (Some(s), Some(a)) if s["restarts"] == 1 && a["restarts"] == 1 && s["state"] == "running" && a["state"] == "running")
    });
    let storage = report["tree"]
        .as_array()
        .expect("tree")
        .iter()
        .find(|n| n["path"] == "root/storage")
        .expect("storage")
        .clone();
    assert_eq!(storage["last_error"], "killed");

    let missing = weft.run(&["kill", "root/nope"]);
    assert!(!missing.status.success());
    assert!(
        missing.stderr_text().contains("root has no child `nope`"),
        "{}",
        missing.stderr_text()
    );
    serve.stop();

    let rows = event_rows(&weft);
    for (child, kind) in [
        ("storage", "exited"),
        ("storage", "restart_scheduled"),
        ("api", "stopped"),
        ("storage", "restarted"),
        ("api", "restarted"),
    ] {
        assert!(
            has_event(&rows, "root", child, kind),
            "missing {child} {kind} in {rows:?}"
        );
    }
}

#[test]
fn after_sigkill_the_next_serve_starts_cleanly_and_keeps_the_history() {
    let weft = Weft::new();
    let mut serve = weft.serve();
    serve.wait_ready();
    // Events are written in batches; wait until the first run's start is on disk (a SIGKILL
    // loses at most the batch in flight, by design).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !event_rows(&weft)
        .iter()
        .any(|r| r.1 == "root" && r.2 == "started")
    {
        assert!(
            Instant::now() < deadline,
            "the root's start was never persisted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    serve.signal(libc::SIGKILL);
    serve.wait_exit(Duration::from_secs(10));
    assert!(
        weft.socket_path().exists(),
        "a SIGKILL leaves the socket behind"
    );

    let mut again = weft.serve();
    again.wait_ready();
    again.stop();
    let rows = event_rows(&weft);
    let root_starts = rows
        .iter()
        .filter(|r| r.1 == "root" && r.2 == "started")
        .count();
    assert_eq!(root_starts, 2, "both runs are in the history: {rows:?}");
}

#[test]
fn a_database_from_a_newer_weft_is_refused_untouched() {
    let weft = Weft::new();
    util::block_on(async {
        let storage = Storage::open(StorageOptions::new(weft.db_path()))
            .await
            .expect("open");
        storage
            .write(|tx| {
                tx.execute(
                    "INSERT INTO schema_version (version, name, checksum, applied_at_ms) VALUES (999, '0999_future.sql', 'x', 0)",
                    [],
                )?;
                Ok(())
            })
            .await
            .expect("write");
        storage.close().await.expect("close");
    });
    let before = std::fs::read(weft.db_path()).expect("read db");
    let out = weft.run(&["serve", "."]);
    assert_eq!(out.status.code(), Some(1));
    let err = out.stderr_text();
    assert!(
        err.contains("newer Weft")
            && err.contains("999")
            && err.contains(&weft.db_path().display().to_string()),
        "{err}"
    );
    assert_eq!(
        std::fs::read(weft.db_path()).expect("read db"),
        before,
        "database unchanged"
    );
}

#[test]
fn a_bad_config_line_is_named_with_its_key() {
    let weft = Weft::new();
    weft.write_config("# weft config\n[storage]\nreaders = \"many\"\n");
    let out = weft.run(&["serve", "."]);
    assert_eq!(out.status.code(), Some(1));
    let err = out.stderr_text();
    assert!(
        err.contains("line 3") && err.contains("storage.readers"),
        "{err}"
    );

    weft.write_config("[storage]\nreaders = 2\n");
    let env_bad = weft.run_env(&["status"], &[("WEFT_STORAGE__READERS", "lots")]);
    assert_eq!(env_bad.status.code(), Some(1));
    assert!(
        env_bad.stderr_text().contains("WEFT_STORAGE__READERS"),
        "{}",
        env_bad.stderr_text()
    );
}

#[test]
fn a_missing_workspace_folder_is_a_clear_error() {
    let weft = Weft::new();
    let out = weft.run(&["serve", "/definitely/not/here"]);
    assert_eq!(out.status.code(), Some(1));
    let err = out.stderr_text();
    assert!(
        err.contains("/definitely/not/here") && err.contains("existing folder"),
        "{err}"
    );
}

#[test]
fn doctor_prints_one_line_per_check() {
    let weft = Weft::new();
    let out = weft.run(&["doctor"]);
    let text = out.stdout_text();
    for name in [
        "config",
        "data dir",
        "sqlite",
        "inotify",
        "daemon: not running",
    ] {
        assert!(text.contains(name), "missing {name} in:\n{text}");
    }
    assert!(out.status.success(), "{text}\n{}", out.stderr_text());
    let json = weft.run(&["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert!(v["checks"].as_array().is_some_and(|c| c.len() >= 5), "{v}");
}

#[test]
fn serve_waits_for_ready_line() {
    // Guard for the helper itself: the readiness line the other tests wait on is printed.
    let weft = Weft::new();
    let mut serve = weft.serve();
    serve.wait_ready();
    assert!(serve.stderr().contains(SERVE_READY));
    serve.stop();
}

#[test]
fn invalid_utf8_on_stdin_is_refused_with_the_offset_and_a_fix() {
    use std::io::Write;
    let weft = Weft::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["embed"])
        .env("WEFT_HOME", weft.home())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"caf\xe9 latin-1 text\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stdin is not valid UTF-8")
            && err.contains("offset 3")
            && err.contains("iconv"),
        "{err}"
    );
}
