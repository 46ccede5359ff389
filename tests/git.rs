//! End-to-end tests of the git actor through the real `weft` binary: real repositories made
//! with the `git` CLI, a real database, and (where it says so) real embedding workers.

mod util;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use util::Weft;

/// Runs `git` in `dir` with a fixed identity and no user or system configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Tess Ter",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_EDITOR", "true")
        .env("GIT_MERGE_AUTOEDIT", "no")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Like [`git`], for commands expected to fail (a conflicting rebase).
fn git_fails(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=Tess Ter", "-c", "user.email=t@t"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_EDITOR", "true")
        .output()
        .expect("run git");
    assert!(!out.status.success(), "git {args:?} should fail");
}

fn put(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, contents).expect("write");
}

/// A GET on the daemon's socket: `Ok(json)` or `Err((status, message))`.
fn get(weft: &Weft, path: &str) -> Result<serde_json::Value, (u16, String)> {
    let socket = weft.socket_path();
    let path = path.to_owned();
    util::block_on(async move { weft_actors::api::request(&socket, "GET", &path, None).await })
        .map(|body| serde_json::from_slice(&body).expect("json answer"))
        .map_err(|e| match e {
            weft_actors::api::ClientError::Status { status, message } => (status, message),
            other => (0, other.to_string()),
        })
}

/// The same GET from inside an async block.
async fn get_async(weft: &Weft, path: &str) -> Result<serde_json::Value, (u16, String)> {
    weft_actors::api::request(&weft.socket_path(), "GET", path, None)
        .await
        .map(|body| serde_json::from_slice(&body).expect("json answer"))
        .map_err(|e| match e {
            weft_actors::api::ClientError::Status { status, message } => (status, message),
            other => (0, other.to_string()),
        })
}

/// The WebSocket URL of `/v1/stream`, from the `api-url` file the daemon writes.
fn stream_url(weft: &Weft) -> String {
    let api = util::api::Api::of(weft);
    format!("ws://127.0.0.1:{}/v1/stream?token={}", api.port, api.token)
}

/// `weft git-log --json`, oldest first.
fn git_log(weft: &Weft) -> Vec<serde_json::Value> {
    let out = weft.run(&["git-log", "--json", "--limit", "1000"]);
    assert!(out.status.success(), "git-log: {}", out.stderr_text());
    let v: serde_json::Value = serde_json::from_slice(&out.0.stdout).expect("git-log json");
    let mut events = v["events"].as_array().expect("events").clone();
    events.reverse();
    events
}

/// Polls until `pred` holds for the recorded events (oldest first).
fn wait_log(
    weft: &Weft,
    what: &str,
    pred: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events = git_log(weft);
        if pred(&events) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never appeared in git_events: {events:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn summaries(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["kind"].as_str().unwrap_or(""),
                e["summary"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// A Rust file with `n` distinct functions, each big enough to be a chunk of its own.
fn module(name: &str, n: usize) -> String {
    let mut s = format!("//! The {name} module.\n\n");
    for i in 0..n {
        let h = name.len() * 7919 + i;
        s.push_str(&format!(
            "/// Computes the {name} value number {i}.
pub fn {name}_value_{i}(x: u64) -> u64 {{
    let a = x.wrapping_mul({i} + 3).rotate_left({i});
    let b = a ^ 0x{h:x};
    let c = b.wrapping_add({n} * {i});
    let d = c.rotate_right(7) ^ (a >> 3);
    let e = d.wrapping_sub(b.count_ones() as u64);
    let f = e ^ c.leading_zeros() as u64;
    let g = f.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h = g ^ (g >> 29) ^ {i};
    println!(\"{name} step {i}: {{}} {{}} {{}}\", a, b, h);
    h
}}

"
        ));
    }
    s
}

fn keyword_hits(weft: &Weft, word: &str) -> Vec<String> {
    let out = weft.run(&["search", "--json", "--no-vector", word]);
    assert!(out.status.success(), "search: {}", out.stderr_text());
    let v: serde_json::Value = serde_json::from_slice(&out.0.stdout).expect("search json");
    v["hits"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|h| h["path"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until a keyword search for the feature branch's token finds exactly `paths`.
fn wait_hits(weft: &Weft, paths: &[&str], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let hits = keyword_hits(weft, "featureswitchtoken");
        if hits.iter().map(String::as_str).eq(paths.iter().copied()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never reached the index: hits {hits:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn commits_switches_and_merges_are_recorded_in_order_and_a_switch_reembeds_only_changed_chunks() {
    let weft = Weft::with_workers();
    // No file watcher: the index can only follow the branch switch through the git actor.
    weft.write_config(
        "[ner]\nenabled = false\n\n[llm]\nenabled = false\n\n[index]\nwatch = false\n",
    );
    let root = weft.workspace();
    git(&root, &["init", "-q"]);
    for name in [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    ] {
        put(&root, &format!("src/{name}.rs"), &module(name, 6));
    }
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "initial"]);
    git(&root, &["checkout", "-q", "-b", "feature"]);
    // One function of one file changes (same number of lines).
    let bravo = module("bravo", 6).replace(
        "pub fn bravo_value_2(x: u64) -> u64 {\n    let a = x.wrapping_mul(2 + 3)",
        "pub fn bravo_value_2(x: u64) -> u64 {\n    let a = featureswitchtoken(x)",
    );
    assert_ne!(bravo, module("bravo", 6));
    put(&root, "src/bravo.rs", &bravo);
    git(&root, &["commit", "-q", "-am", "feature work"]);
    git(&root, &["checkout", "-q", "main"]);

    let mut serve = weft.serve();
    serve.wait_ready();
    // History from before the start is read at start.
    wait_log(&weft, "the history made before the start", |e| {
        summaries(e)
            .iter()
            .any(|s| s == "checkout checkout: moving from feature to main")
    });
    let before = weft.wait_embedded(|_| true);
    let chunks = before["index"]["workspaces"][0]["counts"]["chunks"]
        .as_u64()
        .expect("chunk count");
    assert!(
        chunks >= 40,
        "the fixture should have many chunks: {before:#}"
    );
    let computed0 = before["index"]["vectors"]["computed"]
        .as_u64()
        .expect("computed");
    assert!(computed0 >= chunks / 2, "{before:#}");
    assert!(keyword_hits(&weft, "featureswitchtoken").is_empty());

    // Switch to the branch: only the changed file is re-indexed, only its changed chunk is
    // embedded again.
    git(&root, &["checkout", "-q", "feature"]);
    wait_hits(&weft, &["src/bravo.rs"], "the switch to feature");
    let after =
        weft.wait_embedded(|v| v["index"]["vectors"]["computed"].as_u64() > Some(computed0));
    let computed1 = after["index"]["vectors"]["computed"]
        .as_u64()
        .expect("computed");
    eprintln!(
        "chunks {chunks}; embeddings computed at start {computed0}, after the switch {computed1}"
    );
    assert!(
        computed1 - computed0 <= 3,
        "a switch that changes one function re-embedded {} chunks of {chunks}: {after:#}",
        computed1 - computed0
    );

    // Back to main and merge: every version of the file was embedded before, so nothing is
    // computed again.
    let cached1 = after["index"]["vectors"]["from_cache"]
        .as_u64()
        .expect("from_cache");
    git(&root, &["checkout", "-q", "main"]);
    wait_hits(&weft, &[], "the switch back to main");
    git(
        &root,
        &["merge", "-q", "--no-ff", "-m", "merge feature", "feature"],
    );
    let events = wait_log(&weft, "the merge", |e| {
        e.iter().any(|e| e["kind"] == "merge")
    });
    wait_hits(&weft, &["src/bravo.rs"], "the merge");
    let merged =
        weft.wait_embedded(|v| v["index"]["vectors"]["from_cache"].as_u64() > Some(cached1));
    assert_eq!(
        merged["index"]["vectors"]["computed"].as_u64(),
        Some(computed1),
        "{merged:#}"
    );

    // The order: HEAD's history as it happened.
    let head: Vec<String> = summaries(
        &events
            .iter()
            .filter(|e| e["ref_name"] == "HEAD")
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        head,
        vec![
            "commit commit (initial): initial",
            "checkout checkout: moving from main to feature",
            "commit commit: feature work",
            "checkout checkout: moving from feature to main",
            "checkout checkout: moving from main to feature",
            "checkout checkout: moving from feature to main",
            "merge merge feature: Merge made by the 'ort' strategy.",
        ],
        "{events:#?}"
    );
    let ts: Vec<i64> = events
        .iter()
        .map(|e| e["ts_ms"].as_i64().expect("ts"))
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{events:#?}");
    // The branch's creation comes from its own reflog; commits on the current branch are
    // not recorded twice.
    let branch: Vec<&serde_json::Value> = events.iter().filter(|e| e["kind"] == "branch").collect();
    assert_eq!(branch.len(), 1, "{events:#?}");
    assert_eq!(branch[0]["ref_name"], "refs/heads/feature");
    assert_eq!(events.len(), head.len() + 1, "{events:#?}");
    let commit = &events[0];
    assert_eq!(commit["author"], "Tess Ter");
    assert_eq!(commit["detail"]["initial"], true);
    let switch = &events[events.len() - 3];
    assert_eq!(switch["detail"]["from"], "main");
    assert_eq!(switch["detail"]["to"], "feature");

    // The text form, newest first.
    let out = weft.run(&["git-log", "--limit", "2"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let text = out.stdout_text();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines().next().is_some_and(|l| l.contains("merge")),
        "{text}"
    );

    // Restarting reads the same reflogs again and records nothing twice.
    serve.stop();
    let mut serve = weft.serve();
    serve.wait_ready();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(git_log(&weft).len(), events.len());
    serve.stop();
    assert!(!serve.stderr().contains("panicked"), "{}", serve.stderr());
}

#[test]
fn not_a_repo_then_a_repo_with_status_diff_and_a_rebase_in_progress() {
    let weft = Weft::new();
    let root = weft.workspace();
    put(&root, "notes.txt", "one\ntwo\nthree\n");
    let mut serve = weft.serve();
    serve.wait_ready();

    // Not a repository: a clear state, no events, no diff.
    let s = get(&weft, "/v1/git/status").expect("status");
    assert_eq!(s["state"], "not_a_repo", "{s:#}");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.contains("git init")),
        "{s:#}"
    );
    assert!(git_log(&weft).is_empty());
    let (code, message) = get(&weft, "/v1/git/diff").expect_err("no diff");
    assert_eq!(code, 409, "{message}");
    assert!(message.contains("git init"), "{message}");
    let out = weft.run(&["git-log"]);
    assert!(out.status.success());
    assert!(
        out.stdout_text().contains("no git events"),
        "{}",
        out.stdout_text()
    );

    // It becomes one while the daemon runs; the stream tells about the first commit.
    let url = stream_url(&weft);
    let streamed = util::block_on(async {
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect to the stream");
        git(&root, &["init", "-q"]);
        let s = get_async(&weft, "/v1/git/status").await.expect("status");
        assert_eq!(s["state"], "ok", "{s:#}");
        assert!(s["head"].is_null(), "unborn: {s:#}");
        assert_eq!(s["branch"], "main", "{s:#}");
        git(&root, &["add", "notes.txt"]);
        git(&root, &["commit", "-q", "-m", "notes"]);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let frame = tokio::time::timeout_at(deadline, socket.next())
                .await
                .expect("a git message on the stream")
                .expect("open")
                .expect("frame");
            let Ok(text) = frame.to_text() else { continue };
            let v: serde_json::Value = serde_json::from_str(text).expect("json");
            if v["type"] == "git" {
                break v;
            }
        }
    });
    assert_eq!(streamed["events"][0]["kind"], "commit", "{streamed:#}");
    assert_eq!(streamed["events"][0]["summary"], "commit (initial): notes");
    wait_log(&weft, "the first commit", |e| e.len() == 1);

    // Status and diff of unstaged and staged changes.
    put(&root, "notes.txt", "one\n2\nthree\n");
    put(&root, "new.txt", "fresh\n");
    put(&root, "staged.txt", "staged\n");
    git(&root, &["add", "staged.txt"]);
    let s = get(&weft, "/v1/git/status").expect("status");
    let files = s["files"].as_array().expect("files");
    let find = |p: &str| {
        files
            .iter()
            .find(|f| f["path"] == p)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(find("notes.txt")["worktree"], "modified", "{s:#}");
    assert_eq!(find("new.txt")["worktree"], "new", "{s:#}");
    assert_eq!(find("staged.txt")["index"], "new", "{s:#}");
    assert_eq!(s["detached"], false);
    let d = get(&weft, "/v1/git/diff").expect("diff");
    let text = d["diff"].as_str().expect("diff text");
    assert!(text.contains("-two\n+2\n"), "{text}");
    assert!(!text.contains("staged"), "{text}");
    assert_eq!(d["files"][0]["path"], "notes.txt");
    assert_eq!(d["files"][0]["additions"], 1);
    assert_eq!(d["files"][0]["deletions"], 1);
    assert_eq!(d["truncated"], false);
    let d = get(&weft, "/v1/git/diff?staged=true").expect("staged diff");
    assert!(
        d["diff"].as_str().is_some_and(|t| t.contains("+staged")),
        "{d:#}"
    );
    let d = get(&weft, "/v1/git/diff?path=new.txt").expect("one path");
    assert_eq!(d["files"].as_array().map(Vec::len), Some(0), "{d:#}");
    let (code, message) = get(&weft, "/v1/git/diff?path=../../etc/passwd").expect_err("outside");
    assert_eq!(code, 403, "{message}");

    // A rebase stopped by a conflict: a clear state with the way out.
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "more"]);
    git(&root, &["checkout", "-q", "-b", "other", "HEAD~1"]);
    put(&root, "notes.txt", "one\nTWO\nthree\n");
    git(&root, &["commit", "-q", "-am", "other change"]);
    git_fails(&root, &["rebase", "main"]);
    let s = get(&weft, "/v1/git/status").expect("status");
    assert_eq!(s["state"], "rebasing", "{s:#}");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.contains("git rebase --abort")),
        "{s:#}"
    );
    assert!(
        s["files"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["worktree"] == "conflicted")),
        "{s:#}"
    );
    wait_log(&weft, "the rebase start", |e| {
        e.iter().any(|e| e["kind"] == "rebase")
    });
    git(&root, &["rebase", "--abort"]);
    let s = get(&weft, "/v1/git/status").expect("status");
    assert_eq!(s["state"], "ok", "{s:#}");
    assert_eq!(s["branch"], "other", "{s:#}");

    // Detached HEAD.
    git(&root, &["checkout", "-q", "--detach"]);
    let s = get(&weft, "/v1/git/status").expect("status");
    assert_eq!(s["detached"], true, "{s:#}");
    assert!(s["branch"].is_null(), "{s:#}");

    // A stash is recorded from its own reflog.
    put(&root, "notes.txt", "stashed change\n");
    git(&root, &["stash", "-q"]);
    wait_log(&weft, "the stash", |e| {
        e.iter().any(|e| e["kind"] == "stash")
    });

    // The actor never failed.
    let v = weft.status_json();
    let node = v["tree"]
        .as_array()
        .expect("tree")
        .iter()
        .find(|n| n["path"] == "root/git")
        .cloned()
        .expect("root/git in the tree");
    assert_eq!(node["restarts"], 0, "{node:#}");
    serve.stop();
    assert!(!serve.stderr().contains("panicked"), "{}", serve.stderr());
}
