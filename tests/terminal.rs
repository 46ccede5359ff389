//! Terminals end to end: a real `weft serve`, real PTYs, real bash/zsh/fish with Weft's shell
//! integration, the loopback API and the terminal WebSocket. Commands recorded with their
//! exit codes and cwd, output searchable, 50 MB streamed with bounded memory, a killed shell
//! reported, a killed actor restarted under a live shell, no orphan shells after SIGKILL of
//! the daemon, secrets redacted before anything is stored.

mod util;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use util::api::Api;
use util::Weft;

/// The shells' HOME: private to the test, outside Weft's data (the shell's own history file
/// lives there, and it is no business of Weft's).
fn user_home(weft: &Weft) -> PathBuf {
    let ws = weft.workspace();
    ws.parent().map(|p| p.join("user-home")).unwrap_or(ws)
}

/// A daemon whose shells run with a private HOME (no dotfiles of the machine's user).
fn serve_with_home(weft: &Weft) -> (util::Daemon<'_>, PathBuf) {
    let home = user_home(weft);
    std::fs::create_dir_all(&home).expect("home");
    let home_s = home.to_string_lossy().into_owned();
    let mut daemon = weft.serve_env(&[("HOME", home_s.as_str()), ("SHELL", "/bin/bash")]);
    daemon.wait_ready();
    (daemon, home)
}

/// Output received so far by a viewer.
#[derive(Default)]
struct Seen {
    total: u64,
    tail: Vec<u8>,
}

/// A viewer on a terminal's WebSocket, driven from a thread with its own runtime.
struct Viewer {
    seen: Arc<Mutex<Seen>>,
    controls: mpsc::Receiver<serde_json::Value>,
    send: tokio::sync::mpsc::UnboundedSender<Message>,
    frames: Arc<AtomicU64>,
}

const TAIL: usize = 1 << 20;

impl Viewer {
    fn attach(api: &Api, id: u64) -> Viewer {
        let url = format!(
            "ws://127.0.0.1:{}/v1/terms/{id}/io?token={}",
            api.port, api.token
        );
        let seen = Arc::new(Mutex::new(Seen::default()));
        let frames = Arc::new(AtomicU64::new(0));
        let (ctl_tx, controls) = mpsc::channel();
        let (send, mut send_rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
        let (ready_tx, ready_rx) = mpsc::channel();
        {
            let seen = Arc::clone(&seen);
            let frames = Arc::clone(&frames);
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
                        .await
                        .expect("terminal websocket");
                    let _ = ready_tx.send(());
                    loop {
                        tokio::select! {
                            msg = socket.next() => match msg {
                                Some(Ok(Message::Binary(b))) => {
                                    frames.fetch_add(1, Ordering::SeqCst);
                                    let mut s = seen.lock().expect("seen");
                                    s.total += b.len() as u64;
                                    s.tail.extend_from_slice(&b);
                                    if s.tail.len() > 2 * TAIL {
                                        let cut = s.tail.len() - TAIL;
                                        s.tail.drain(..cut);
                                    }
                                }
                                Some(Ok(Message::Text(t))) => {
                                    let v: serde_json::Value =
                                        serde_json::from_str(&t).expect("control JSON");
                                    let _ = ctl_tx.send(v);
                                }
                                Some(Ok(_)) => {}
                                Some(Err(_)) | None => return,
                            },
                            out = send_rx.recv() => match out {
                                Some(m) => { let _ = socket.send(m).await; }
                                None => return,
                            },
                        }
                    }
                });
            });
        }
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("websocket connected");
        Viewer {
            seen,
            controls,
            send,
            frames,
        }
    }

    fn type_line(&self, line: &str) {
        let msg = serde_json::json!({ "type": "input", "data": format!("{line}\r") });
        self.send
            .send(Message::Text(msg.to_string().into()))
            .expect("viewer thread alive");
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().expect("seen").tail).into_owned()
    }

    fn total(&self) -> u64 {
        self.seen.lock().expect("seen").total
    }

    fn wait_text(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{needle:?} never appeared; the terminal shows:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The next control message matching `pred` (others are skipped).
    fn wait_control(
        &self,
        limit: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.controls.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!(
                    "no matching control message in {limit:?}; the terminal shows:\n{}",
                    self.text()
                ),
            }
        }
    }

    /// Waits for the next recorded command and returns its entry.
    fn next_command(&self) -> serde_json::Value {
        self.wait_control(Duration::from_secs(20), |v| v["type"] == "command")["entry"].clone()
    }
}

fn open_term(api: &Api, body: serde_json::Value) -> serde_json::Value {
    let r = api.call("POST", "/v1/terms", Some(&body.to_string()));
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

/// A bash terminal and a viewer on it.
fn bash_viewer(api: &Api) -> (u64, Viewer) {
    let id = open_term(api, serde_json::json!({ "shell": "bash" }))["id"]
        .as_u64()
        .expect("id");
    (id, Viewer::attach(api, id))
}

fn canonical(p: &Path) -> String {
    std::fs::canonicalize(p)
        .expect("canonicalize")
        .to_string_lossy()
        .into_owned()
}

fn pid_alive(pid: i64) -> bool {
    // A zombie has exited: only a process that still runs counts.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

fn children_of(pid: i64) -> Vec<i64> {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    text.split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[test]
fn bash_records_commands_with_exit_codes_and_cwd_and_their_output_is_searchable() {
    let weft = Weft::new();
    let (mut daemon, _) = serve_with_home(&weft);
    let api = Api::of(&weft);
    let ws = canonical(&weft.workspace());
    let info = open_term(
        &api,
        serde_json::json!({ "shell": "bash", "cols": 100, "rows": 30 }),
    );
    assert_eq!(info["cwd"], ws.as_str(), "{info}");
    assert_eq!(info["alive"], true);
    let id = info["id"].as_u64().expect("id");
    let viewer = Viewer::attach(&api, id);

    viewer.type_line("echo hi");
    let echo = viewer.next_command();
    viewer.type_line("false");
    let fail = viewer.next_command();
    viewer.type_line("cd /tmp");
    let cd = viewer.next_command();

    assert_eq!(echo["command"], "echo hi");
    assert_eq!(echo["exit_code"], 0);
    assert_eq!(echo["cwd"], ws.as_str());
    assert_eq!(fail["command"], "false");
    assert_eq!(fail["exit_code"], 1);
    assert_eq!(fail["cwd"], ws.as_str());
    assert_eq!(cd["command"], "cd /tmp");
    assert_eq!(cd["exit_code"], 0);
    assert_eq!(cd["cwd"], ws.as_str());
    for e in [&echo, &fail, &cd] {
        assert!(e["started_ms"].as_i64() <= e["ended_ms"].as_i64(), "{e}");
        assert!(e["duration_ms"].as_i64().is_some(), "{e}");
    }
    // The shell reported its new folder.
    viewer.wait_control(Duration::from_secs(10), |v| {
        v["type"] == "cwd" && v["cwd"] == "/tmp"
    });
    let info = api.get(&format!("/v1/terms/{id}")).json();
    assert_eq!(info["cwd"], "/tmp", "{info}");
    assert_eq!(info["integrated"], true, "{info}");

    // In order, newest first, from the history API.
    let listed = api.get("/v1/history?limit=10").json();
    let commands: Vec<&str> = listed["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["command"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(commands, ["cd /tmp", "false", "echo hi"]);
    // Keyword search finds the output of `echo hi`.
    let found = api.get("/v1/history?q=hi").json();
    let first = &found["entries"][0];
    assert_eq!(first["command"], "echo hi", "{found}");
    let detail = api
        .get(&format!(
            "/v1/history/{}",
            first["id"].as_i64().expect("id")
        ))
        .json();
    assert_eq!(detail["output"], "hi\n", "{detail}");
    // Filters: failed only, by exit code, by folder.
    let failed = api.get("/v1/history?failed=true").json();
    assert_eq!(
        failed["entries"].as_array().map(Vec::len),
        Some(1),
        "{failed}"
    );
    assert_eq!(failed["entries"][0]["command"], "false");
    let exit0 = api.get("/v1/history?exit=0").json();
    assert_eq!(
        exit0["entries"].as_array().map(Vec::len),
        Some(2),
        "{exit0}"
    );
    let elsewhere = api.get("/v1/history?cwd=/nowhere").json();
    assert_eq!(elsewhere["entries"].as_array().map(Vec::len), Some(0));
    // The same search finds code and terminal commands; a code-only filter leaves the
    // terminal out.
    let both = api
        .call("POST", "/v1/search", Some(r#"{"query": "echo hi"}"#))
        .json();
    assert_eq!(both["terminal"][0]["command"], "echo hi", "{both}");
    let code_only = api
        .call(
            "POST",
            "/v1/search",
            Some(r#"{"query": "echo hi", "lang": "rust"}"#),
        )
        .json();
    assert_eq!(
        code_only["terminal"].as_array().map(Vec::len),
        Some(0),
        "{code_only}"
    );
    let cli = weft.run(&["search", "echo", "hi"]);
    assert!(
        cli.stdout_text().contains("from your terminals:"),
        "{}",
        cli.stdout_text()
    );
    // A time phrase is a window, not words to match.
    let today = api.get("/v1/history?q=echo%20today").json();
    assert_eq!(today["entries"][0]["command"], "echo hi", "{today}");
    assert!(today["window"]["since_ms"].as_i64().is_some(), "{today}");
    let yesterday = api.get("/v1/history?q=yesterday").json();
    assert_eq!(
        yesterday["entries"].as_array().map(Vec::len),
        Some(0),
        "{yesterday}"
    );
    let this_term = api.get(&format!("/v1/history?term={id}")).json();
    assert_eq!(
        this_term["entries"].as_array().map(Vec::len),
        Some(3),
        "{this_term}"
    );
    let other_term = api.get("/v1/history?term=9999").json();
    assert_eq!(
        other_term["entries"].as_array().map(Vec::len),
        Some(0),
        "{other_term}"
    );

    // The CLI shows the same history.
    let out = weft.run(&["history", "--failed", "--json"]);
    assert!(out.0.status.success(), "{}", out.stderr_text());
    let cli: serde_json::Value = serde_json::from_str(&out.stdout_text()).expect("history JSON");
    assert_eq!(cli["entries"][0]["command"], "false", "{cli}");
    let plain = weft.run(&["history", "hi"]);
    assert!(
        plain.stdout_text().contains("echo hi"),
        "{}",
        plain.stdout_text()
    );

    // Bad requests get one clear error each.
    api.call("POST", "/v1/terms", Some(r#"{"cwd": "/no/such/dir"}"#))
        .expect_error(400, "bad_request");
    let msg = api
        .call("POST", "/v1/terms", Some(r#"{"shell": "no-such-shell"}"#))
        .expect_error(400, "bad_request");
    assert!(msg.contains("no-such-shell"), "{msg}");
    api.call("POST", "/v1/terms", Some("{not json"))
        .expect_error(400, "bad_request");
    api.get("/v1/terms/999")
        .expect_error(404, "no_such_terminal");
    api.call(
        "POST",
        &format!("/v1/terms/{id}/resize"),
        Some(r#"{"cols": 0, "rows": 5}"#),
    )
    .expect_error(400, "bad_request");
    daemon.stop();
}

#[test]
fn bash_privacy_settings_and_the_users_prompt_command_are_respected() {
    let weft = Weft::new();
    let home = user_home(&weft);
    std::fs::create_dir_all(&home).expect("home");
    // A typical Debian .bashrc: ignoreboth, and a PROMPT_COMMAND of the user's own that
    // ends with `;`, as pyenv's hook leaves it.
    std::fs::write(
        home.join(".bashrc"),
        "HISTCONTROL=ignoreboth\nPROMPT_COMMAND='echo -n; '\nPS1='user$ '\n",
    )
    .expect(".bashrc");
    let home_s = home.to_string_lossy().into_owned();
    let mut daemon = weft.serve_env(&[("HOME", home_s.as_str())]);
    daemon.wait_ready();
    let api = Api::of(&weft);
    let id = open_term(&api, serde_json::json!({ "shell": "/bin/bash" }))["id"]
        .as_u64()
        .expect("id");
    let viewer = Viewer::attach(&api, id);
    viewer.wait_text("user$ ", Duration::from_secs(10));
    assert!(!viewer.text().contains("syntax error"), "{}", viewer.text());
    viewer.type_line("echo one");
    assert_eq!(viewer.next_command()["command"], "echo one");
    // ignoredups: the shell does not add the repeat to its history, Weft still records it.
    viewer.type_line("echo one");
    assert_eq!(viewer.next_command()["command"], "echo one");
    // ignorespace: kept out of the shell's history, so out of Weft's too.
    viewer.type_line(" echo hidden-from-history");
    viewer.type_line("echo two");
    assert_eq!(viewer.next_command()["command"], "echo two");
    let all = api.get("/v1/history?limit=50").json();
    let commands: Vec<&str> = all["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["command"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(commands, ["echo two", "echo one", "echo one"], "{all}");
    daemon.stop();
}

#[test]
fn zsh_and_fish_record_commands_too() {
    let weft = Weft::new();
    let (mut daemon, _) = serve_with_home(&weft);
    let api = Api::of(&weft);
    for shell in ["zsh", "fish"] {
        let info = open_term(&api, serde_json::json!({ "shell": shell, "cwd": "/tmp" }));
        let viewer = Viewer::attach(&api, info["id"].as_u64().expect("id"));
        viewer.type_line(&format!("echo from-{shell}"));
        let ok = viewer.next_command();
        assert_eq!(ok["command"], format!("echo from-{shell}"), "{shell}: {ok}");
        assert_eq!(ok["exit_code"], 0, "{shell}: {ok}");
        assert_eq!(ok["cwd"], "/tmp", "{shell}: {ok}");
        viewer.type_line("false");
        let bad = viewer.next_command();
        assert_eq!(bad["command"], "false", "{shell}: {bad}");
        assert_eq!(bad["exit_code"], 1, "{shell}: {bad}");
        let detail = api
            .get(&format!("/v1/history/{}", ok["id"].as_i64().expect("id")))
            .json();
        assert_eq!(
            detail["output"],
            format!("from-{shell}\n"),
            "{shell}: {detail}"
        );
    }
    daemon.stop();
}

fn daemon_rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn fifty_megabytes_stream_to_a_viewer_with_bounded_memory() {
    let weft = Weft::new();
    let (mut daemon, _) = serve_with_home(&weft);
    let api = Api::of(&weft);
    let (_, viewer) = bash_viewer(&api);
    viewer.type_line("true");
    viewer.next_command();
    let before = daemon_rss_kib(daemon.pid(), "VmRSS:");
    let start_total = viewer.total();
    viewer.type_line("yes | head -c 50M");
    let cmd = viewer.next_command();
    assert_eq!(cmd["command"], "yes | head -c 50M");
    assert_eq!(cmd["exit_code"], 0);
    // Every byte reached the viewer (the PTY turns "\n" into "\r\n": more bytes arrive).
    let deadline = Instant::now() + Duration::from_secs(60);
    while viewer.total() - start_total < 50 * 1024 * 1024 {
        assert!(
            Instant::now() < deadline,
            "only {} bytes arrived",
            viewer.total() - start_total
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        viewer.frames.load(Ordering::SeqCst) < 50 * 1024 * 1024 / 1024,
        "frames are coalesced"
    );
    let after = daemon_rss_kib(daemon.pid(), "VmHWM:");
    // The ring (2 MiB), the channel and the per-command capture bound the growth; 50 MB
    // of output must not show up in the daemon's memory.
    assert!(
        after < before + 48 * 1024,
        "daemon peak RSS grew from {before} KiB to {after} KiB while streaming 50 MB"
    );
    // The stored output is bounded and marked as cut.
    assert_eq!(cmd["truncated"], true, "{cmd}");
    assert!(
        cmd["output_bytes"].as_i64().unwrap_or(0) >= 50 * 1024 * 1024,
        "{cmd}"
    );
    let detail = api
        .get(&format!("/v1/history/{}", cmd["id"].as_i64().expect("id")))
        .json();
    let kept = detail["output"].as_str().unwrap_or("").len();
    assert!(kept <= 64 * 1024 + 200, "kept {kept} bytes");
    assert!(detail["output"]
        .as_str()
        .unwrap_or("")
        .contains("bytes of output not kept"));
    daemon.stop();
}

#[test]
fn a_killed_shell_is_reported_and_a_killed_actor_is_restarted_under_a_live_shell() {
    let weft = Weft::new();
    let (mut daemon, _) = serve_with_home(&weft);
    let api = Api::of(&weft);
    let info = open_term(&api, serde_json::json!({ "shell": "bash" }));
    let id = info["id"].as_u64().expect("id");
    let pid = info["pid"].as_i64().expect("pid");
    let viewer = Viewer::attach(&api, id);
    viewer.type_line("echo before");
    viewer.next_command();

    // Fault injection on the machinery: the actor dies, the shell does not.
    let out = weft.run(&["kill", &format!("root/terms/term-{id}")]);
    assert!(out.0.status.success(), "{}", out.stderr_text());
    weft.wait_status(|s| {
        s["tree"].as_array().is_some_and(|nodes| {
            nodes.iter().any(|n| {
                n["path"] == format!("root/terms/term-{id}")
                    && n["state"] == "running"
                    && n["restarts"].as_u64().unwrap_or(0) >= 1
            })
        })
    });
    assert!(pid_alive(pid), "the shell died with its actor");
    viewer.type_line("echo after-restart");
    let after = viewer.next_command();
    assert_eq!(after["command"], "echo after-restart");
    assert_eq!(after["seq"], 2, "numbering goes on: {after}");

    // The user's shell dies: reported, not restarted.
    // SAFETY: signals a process this test's daemon started.
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
    let exit = viewer.wait_control(Duration::from_secs(10), |v| v["type"] == "exit");
    assert_eq!(exit["reason"], "killed", "{exit}");
    let info = api.get(&format!("/v1/terms/{id}")).json();
    assert_eq!(info["alive"], false, "{info}");
    assert_eq!(info["end_reason"], "killed", "{info}");
    weft.wait_status(|s| {
        s["tree"].as_array().is_some_and(|nodes| {
            !nodes
                .iter()
                .any(|n| n["path"] == format!("root/terms/term-{id}"))
        })
    });
    api.call(
        "POST",
        &format!("/v1/terms/{id}/input"),
        Some(r#"{"data": "x"}"#),
    )
    .expect_error(409, "terminal_exited");
    // Closing a terminal ends its shell and says so.
    let second = open_term(&api, serde_json::json!({}));
    let id2 = second["id"].as_u64().expect("id");
    let pid2 = second["pid"].as_i64().expect("pid");
    let v2 = Viewer::attach(&api, id2);
    let r = api.call("DELETE", &format!("/v1/terms/{id2}"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let exit = v2.wait_control(Duration::from_secs(10), |v| v["type"] == "exit");
    assert_eq!(exit["reason"], "closed", "{exit}");
    assert!(!pid_alive(pid2));
    daemon.stop();
}

#[test]
fn shells_end_with_the_daemon_whether_it_stops_or_is_killed() {
    let weft = Weft::new();
    for kill in [false, true] {
        let (mut daemon, _) = serve_with_home(&weft);
        let api = Api::of(&weft);
        let mut pids = Vec::new();
        for _ in 0..2 {
            let info = open_term(&api, serde_json::json!({ "shell": "bash" }));
            let viewer = Viewer::attach(&api, info["id"].as_u64().expect("id"));
            // A foreground job too: it must not outlive the shell.
            viewer.type_line("sleep 1000");
            let pid = info["pid"].as_i64().expect("pid");
            let deadline = Instant::now() + Duration::from_secs(10);
            while children_of(pid).is_empty() {
                assert!(
                    Instant::now() < deadline,
                    "sleep did not start:\n{}",
                    viewer.text()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            pids.push(pid);
            pids.extend(children_of(pid));
        }
        assert!(pids.len() >= 4, "shells and their sleeps: {pids:?}");
        if kill {
            daemon.signal(libc::SIGKILL);
            daemon.wait_exit(Duration::from_secs(10));
        } else {
            daemon.stop();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while pids.iter().any(|p| pid_alive(*p)) {
            assert!(
                Instant::now() < deadline,
                "orphans after {}: {:?}",
                if kill { "SIGKILL" } else { "stop" },
                pids.iter().filter(|p| pid_alive(**p)).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // The sessions of the stopped run were closed; the killed run's (its two, and the two
    // restored from the stopped run's session) are marked lost at the next start.
    let (mut daemon, _) = serve_with_home(&weft);
    let conn = rusqlite::Connection::open(weft.db_path()).expect("db");
    let reasons: Vec<String> = conn
        .prepare("SELECT coalesce(end_reason, 'open') FROM terminal_sessions ORDER BY id LIMIT 6")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        reasons,
        ["closed", "closed", "lost", "lost", "lost", "lost"]
    );
    daemon.stop();
}

#[test]
fn secrets_are_redacted_before_anything_is_stored() {
    let weft = Weft::new();
    let (mut daemon, _) = serve_with_home(&weft);
    let api = Api::of(&weft);
    let (_, viewer) = bash_viewer(&api);
    let aws = "AKIAQWERTYUIOPASDFGH";
    let gh = "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngOnly0123";
    let pw = "correct-horse-battery";
    // The secrets are assembled by the shell, so they appear only in the output…
    viewer.type_line("A=AKIAQWERTY; B=UIOPASDFGH; echo \"key=$A$B\"");
    viewer.next_command();
    viewer.type_line("T=ghp_R4nd0mT0k3nV4lu3; echo \"token: ${T}F0rT3st1ngOnly0123\"");
    viewer.next_command();
    // …and here in the command line too.
    viewer.type_line(&format!("echo password={pw}"));
    let last = viewer.next_command();
    assert!(
        last["command"].as_str().unwrap_or("").contains("[REDACTED"),
        "{last}"
    );
    // The viewer saw them (the screen is the user's); the store did not.
    assert!(viewer.text().contains(aws));
    daemon.stop();
    let mut stored = Vec::new();
    for entry in walk(&weft.home()) {
        if entry.extension().is_some_and(|e| e == "log") {
            continue;
        }
        stored.extend(std::fs::read(&entry).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored);
    for secret in [aws, gh, pw] {
        assert!(!stored.contains(secret), "{secret} was stored");
    }
    assert!(stored.contains("[REDACTED:aws_key_id]"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_session_survives_a_sigkill_with_its_layout_files_and_terminals() {
    let weft = Weft::new();
    let (mut daemon, _) = serve_with_home(&weft);
    let api = Api::of(&weft);
    assert_eq!(
        api.get("/v1/session").json()["snapshot"],
        serde_json::Value::Null
    );
    let ui = serde_json::json!({
        "layout": { "left": 240, "bottom": 300, "panels": ["files", "terminal"] },
        "open_files": [{ "path": "src/lib.rs", "line": 12, "col": 4 }, { "path": "README.md", "line": 1, "col": 1 }],
        "active_file": "src/lib.rs",
        "active_panel": "terminal"
    });
    let r = api.call(
        "PUT",
        "/v1/session",
        Some(&serde_json::json!({ "ui": ui }).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let info = open_term(&api, serde_json::json!({ "shell": "bash" }));
    let viewer = Viewer::attach(&api, info["id"].as_u64().expect("id"));
    viewer.type_line("cd /tmp");
    viewer.next_command();
    viewer.wait_control(Duration::from_secs(10), |v| {
        v["type"] == "cwd" && v["cwd"] == "/tmp"
    });
    // Bad input is refused and changes nothing.
    api.call("PUT", "/v1/session", Some("[1,2]"))
        .expect_error(400, "bad_request");
    api.call("PUT", "/v1/session", Some("{oops"))
        .expect_error(400, "bad_request");
    // Past the debounce window (and its cap), the snapshot is on disk: kill without warning.
    std::thread::sleep(Duration::from_millis(2600));
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));

    let (mut daemon, _) = serve_with_home(&weft);
    let api = Api::of(&weft);
    let deadline = Instant::now() + Duration::from_secs(15);
    let terms = loop {
        let t = api.get("/v1/terms").json();
        if t["terms"].as_array().is_some_and(|a| !a.is_empty()) {
            break t;
        }
        assert!(Instant::now() < deadline, "no terminal was restored: {t}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let restored = &terms["terms"][0];
    assert_eq!(restored["cwd"], "/tmp", "{terms}");
    assert_eq!(restored["alive"], true);
    assert!(
        restored["shell"].as_str().unwrap_or("").ends_with("bash"),
        "{terms}"
    );
    let session = api.get("/v1/session").json();
    assert_eq!(session["snapshot"]["state"]["ui"], ui, "{session}");
    assert_eq!(session["snapshot"]["state"]["profile"], "default");
    // An orderly stop saves the session with its terminals, then ends the shells.
    daemon.stop();
    let (mut daemon, _) = serve_with_home(&weft);
    let api = Api::of(&weft);
    let deadline = Instant::now() + Duration::from_secs(15);
    while api.get("/v1/terms").json()["terms"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        assert!(
            Instant::now() < deadline,
            "the terminal was not restored after a clean stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        api.get("/v1/terms").json()["terms"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    daemon.stop();
}

#[test]
fn history_is_searchable_by_meaning_with_the_embed_pool() {
    let weft = Weft::with_workers();
    let (mut daemon, _) = serve_with_home(&weft);
    let api = Api::of(&weft);
    let (_, viewer) = bash_viewer(&api);
    for line in [
        "printf 'total 8\\ndrwxr-xr-x 2 root root 4096 bin\\n'",
        "printf 'running 12 tests\\ntest parser::roundtrip ... FAILED\\ntest result: FAILED. 11 passed; 1 failed\\n'; (exit 101)",
        "printf 'Fri Nov 27 05:40:00 UTC 2026\\n'",
    ] {
        viewer.type_line(line);
        viewer.next_command();
    }
    // No keyword of the question is in any command or output: only meaning can find it.
    let query = "/v1/history?semantic=true&q=which%20unit%20checks%20broke";
    let deadline = Instant::now() + Duration::from_secs(120);
    let found = loop {
        let r = api.get(query).json();
        if r["semantic"] == true && r["entries"].as_array().is_some_and(|e| e.len() == 3) {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "history never became searchable by meaning: {r}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let first = found["entries"][0]["command"].as_str().unwrap_or("");
    assert!(first.contains("running 12 tests"), "{found}");
    assert_eq!(found["entries"][0]["exit_code"], 101);
    // Filters still apply to semantic results.
    let failed = api.get(&format!("{query}&failed=true")).json();
    assert_eq!(
        failed["entries"].as_array().map(Vec::len),
        Some(1),
        "{failed}"
    );
    daemon.stop();
}
