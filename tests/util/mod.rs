//! Test harness: a private WEFT_HOME per test, the real `weft` binary, and a daemon handle
//! that kills its process if a test fails half-way (no stray daemons after a failure).
#![allow(dead_code)] // shared by several test binaries; each uses part of it

pub mod api;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// What `weft serve` prints on stderr once the tree is up.
pub const SERVE_READY: &str = "weft serve: profile";

/// A private Weft environment.
pub struct Weft {
    tmp: tempfile::TempDir,
    workers: bool,
}

impl Weft {
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("wt")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("ws")).expect("workspace dir");
        Self {
            tmp,
            workers: false,
        }
    }

    /// An environment whose daemon starts the Python worker pools.
    pub fn with_workers() -> Self {
        let mut w = Self::new();
        w.workers = true;
        w
    }

    /// The folder `weft serve .` serves (the commands' working directory).
    pub fn workspace(&self) -> PathBuf {
        self.tmp.path().join("ws")
    }

    /// `weft status --json`, parsed (panics when the daemon does not answer).
    pub fn status_json(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]);
        assert!(out.status.success(), "status: {}", out.stderr_text());
        serde_json::from_slice(&out.0.stdout).expect("status json")
    }

    /// Polls `weft status --json` until `pred` holds, for up to `limit`.
    pub fn wait_status_for(
        &self,
        limit: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.run(&["status", "--json"]);
            if out.status.success() {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.0.stdout) {
                    if pred(&v) {
                        return v;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "status never matched; last: {v:#}"
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "status never answered: {}",
                out.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    pub fn db_path(&self) -> PathBuf {
        self.home().join("profiles/default/weft.db")
    }

    pub fn socket_path(&self) -> PathBuf {
        self.home().join("profiles/default/run/weft.sock")
    }

    pub fn write_config(&self, text: &str) {
        let dir = self.tmp.path().join("config/weft");
        std::fs::create_dir_all(&dir).expect("config dir");
        std::fs::write(dir.join("config.toml"), text).expect("write config");
    }

    fn command(&self) -> Command {
        // WEFT_TEST_BIN: another build of `weft` (worktrees sharing one target dir overwrite
        // each other's target/debug/weft; their deps/weft-HASH binaries stay apart).
        let bin = std::env::var_os("WEFT_TEST_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_weft")));
        let mut cmd = Command::new(bin);
        for (k, _) in std::env::vars() {
            // Keep where the workers' venv and models live; drop everything else.
            let keep = k == "WEFT_VENV" || k == "WEFT_MODELS";
            if !keep && (k.starts_with("WEFT_") || k.starts_with("XDG_")) {
                cmd.env_remove(k);
            }
        }
        if std::env::var_os("WEFT_VENV").is_none() || std::env::var_os("WEFT_MODELS").is_none() {
            // The tests point XDG dirs elsewhere; resolve the real venv and models first.
            if let Ok(loaded) = weft_actors::config::load() {
                cmd.env("WEFT_VENV", &loaded.paths.venv);
                cmd.env("WEFT_MODELS", &loaded.paths.models);
            }
        }
        cmd.env("WEFT_HOME", self.home())
            .env("XDG_CONFIG_HOME", self.tmp.path().join("config"))
            .env("WEFT_LOG", "info")
            // Any free port: tests run in parallel and must never collide on 7878.
            .env("WEFT_API__LISTEN", "127.0.0.1:0")
            .env(
                "WEFT_WORKERS__ENABLED",
                if self.workers { "true" } else { "false" },
            )
            .env("NO_COLOR", "1")
            .current_dir(self.tmp.path().join("ws"))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a command to completion.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = self.command();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("run weft");
        Out(output)
    }

    /// Starts `weft serve .` in the background.
    pub fn serve(&self) -> Daemon<'_> {
        self.serve_args(&["serve", "."])
    }

    pub fn serve_args(&self, args: &[&str]) -> Daemon<'_> {
        self.serve_args_env(args, &[])
    }

    /// Starts `weft serve .` with extra environment variables.
    pub fn serve_env(&self, env: &[(&str, &str)]) -> Daemon<'_> {
        self.serve_args_env(&["serve", "."], env)
    }

    pub fn serve_args_env(&self, args: &[&str], env: &[(&str, &str)]) -> Daemon<'_> {
        let log = self.tmp.path().join(format!("serve-{}.log", rand_suffix()));
        let file = File::create(&log).expect("log file");
        let mut cmd = self.command();
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .args(args)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn weft serve");
        Daemon {
            child: Some(child),
            log,
            weft: self,
        }
    }

    /// Waits (300 s) until the index is idle with nothing pending and vectors stored, and
    /// `extra` holds too; returns that status.
    pub fn wait_embedded(&self, extra: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        self.wait_status_for(Duration::from_secs(300), |v| {
            let ws = &v["index"]["workspaces"][0];
            let vectors = &v["index"]["vectors"];
            ws["phase"] == "idle"
                && ws["scans"].as_u64() >= Some(1)
                && ws["counts"]["pending"] == 0
                && vectors["building"].is_null()
                && vectors["rows"].as_u64().is_some_and(|r| r > 0)
                && extra(v)
        })
    }

    /// Polls `weft status --json` until `pred` holds (10 s).
    pub fn wait_status(&self, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        self.wait_status_for(Duration::from_secs(10), pred)
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A finished command.
pub struct Out(pub Output);

impl std::ops::Deref for Out {
    type Target = Output;
    fn deref(&self) -> &Output {
        &self.0
    }
}

impl Out {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}

/// A running `weft serve`.
pub struct Daemon<'a> {
    child: Option<Child>,
    log: PathBuf,
    weft: &'a Weft,
}

impl Daemon<'_> {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    pub fn stderr(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until the daemon says it is up and its API answers.
    pub fn wait_ready(&mut self) {
        self.wait_ready_profile("default");
    }

    pub fn wait_ready_profile(&mut self, profile: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let socket = self
            .weft
            .home()
            .join(format!("profiles/{profile}/run/weft.sock"));
        loop {
            if self.stderr().contains(SERVE_READY) && socket_answers(&socket) {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("weft serve exited early with {status}:\n{}", self.stderr());
                }
            }
            assert!(
                Instant::now() < deadline,
                "weft serve never got ready:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.pid()).expect("pid fits");
        // SAFETY: sending a signal to our own child process.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig})");
    }

    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut().expect("child");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "weft serve did not exit:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM and wait; asserts a clean exit.
    pub fn stop(&mut self) {
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(Duration::from_secs(10));
        assert_eq!(
            status.code(),
            Some(0),
            "weft serve exit:\n{}",
            self.stderr()
        );
    }
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn socket_answers(socket: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(socket).is_ok()
}

/// Runs a future to completion on a small runtime (tests are synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}
