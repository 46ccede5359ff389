//! Tests for `weft_actors::config`: defaults, file and environment precedence, error messages
//! that name the line, key and fix, and directory preparation.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use weft_actors::config::{load_from_env, Config, ConfigError, Loaded, Origin};

/// A temp dir with a config file location and a data home, and an env pointing at them.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    env: HashMap<String, String>,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_owned();
        let env = HashMap::from([
            ("HOME".to_owned(), s(&root.join("home"))),
            ("WEFT_CONFIG".to_owned(), s(&root.join("config.toml"))),
            ("WEFT_HOME".to_owned(), s(&root.join("data"))),
        ]);
        Self {
            _tmp: tmp,
            root,
            env,
        }
    }

    fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    fn write(&self, text: &str) -> &Self {
        fs::write(self.config_path(), text).expect("write config");
        self
    }

    fn set(&mut self, k: &str, v: &str) -> &mut Self {
        self.env.insert(k.to_owned(), v.to_owned());
        self
    }

    fn load(&self) -> Loaded {
        match load_from_env(&self.env) {
            Ok(l) => l,
            Err(e) => panic!("load failed: {e}"),
        }
    }

    fn err(&self) -> (ConfigError, String) {
        match load_from_env(&self.env) {
            Ok(l) => panic!("expected an error, got {:?}", l.config),
            Err(e) => {
                let msg = e.to_string();
                (e, msg)
            }
        }
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn defaults_without_a_file() {
    let f = Fixture::new();
    let l = f.load();
    assert!(!l.file_found);
    assert_eq!(l.config, Config::default());
    assert_eq!(l.config.profile, "default");
    assert_eq!(l.config.log.filter, "info");
    assert_eq!(l.config.storage.readers, 4);
    assert_eq!(l.config.storage.busy_timeout_ms, 5000);
    let sup = &l.config.supervision;
    assert_eq!(sup.max_restarts, 3);
    assert_eq!(sup.period_ms, 5000);
    assert_eq!(sup.backoff_min_ms, 100);
    assert_eq!(sup.backoff_max_ms, 30_000);
    assert_eq!(sup.backoff_jitter, 0.2);
    assert_eq!(sup.reset_after_ms, 60_000);

    let p = &l.paths;
    assert_eq!(p.profile, "default");
    assert_eq!(p.config_file, f.config_path());
    assert_eq!(p.home, f.root.join("data"));
    assert_eq!(p.data_dir(), f.root.join("data/profiles/default"));
    assert_eq!(p.db_path(), f.root.join("data/profiles/default/weft.db"));
    assert_eq!(p.runtime_dir(), f.root.join("data/profiles/default/run"));
    assert_eq!(
        p.socket_path(),
        f.root.join("data/profiles/default/run/weft.sock")
    );
}

#[test]
fn xdg_and_home_defaults() {
    let mut env = HashMap::from([("HOME".to_owned(), "/h".to_owned())]);
    let l = load_from_env(&env).expect("load");
    assert_eq!(
        l.paths.config_file,
        PathBuf::from("/h/.config/weft/config.toml")
    );
    assert_eq!(l.paths.home, PathBuf::from("/h/.local/share/weft"));

    env.insert("XDG_CONFIG_HOME".to_owned(), "/xc".to_owned());
    env.insert("XDG_DATA_HOME".to_owned(), "/xd".to_owned());
    let l = load_from_env(&env).expect("load");
    assert_eq!(l.paths.config_file, PathBuf::from("/xc/weft/config.toml"));
    assert_eq!(l.paths.home, PathBuf::from("/xd/weft"));

    // Relative XDG values are ignored, per the XDG spec.
    env.insert("XDG_DATA_HOME".to_owned(), "rel".to_owned());
    let l = load_from_env(&env).expect("load");
    assert_eq!(l.paths.home, PathBuf::from("/h/.local/share/weft"));

    let err = load_from_env(&HashMap::new()).expect_err("no HOME");
    assert!(err.to_string().contains("HOME"), "{err}");
}

#[test]
fn file_values() {
    let f = Fixture::new();
    f.write(
        r#"
profile = "work"

[log]
filter = "weft_actors=debug"

[storage]
readers = 8
busy_timeout_ms = 250

[supervision]
max_restarts = 10
period_ms = 1_000
backoff_min_ms = 0x10
backoff_max_ms = 2000
backoff_jitter = 0
reset_after_ms = 5
"#,
    );
    let l = f.load();
    assert!(l.file_found);
    let c = &l.config;
    assert_eq!(c.profile, "work");
    assert_eq!(c.log.filter, "weft_actors=debug");
    assert_eq!(c.storage.readers, 8);
    assert_eq!(c.storage.busy_timeout_ms, 250);
    assert_eq!(c.supervision.max_restarts, 10);
    assert_eq!(c.supervision.period_ms, 1000);
    assert_eq!(c.supervision.backoff_min_ms, 16);
    assert_eq!(c.supervision.backoff_max_ms, 2000);
    assert_eq!(c.supervision.backoff_jitter, 0.0);
    assert_eq!(c.supervision.reset_after_ms, 5);
    assert_eq!(l.paths.profile, "work");
    assert_eq!(l.paths.data_dir(), f.root.join("data/profiles/work"));
}

#[test]
fn dotted_and_inline_tables() {
    let f = Fixture::new();
    f.write("storage.readers = 2\nsupervision = { backoff_jitter = 0.5 }\n");
    let l = f.load();
    assert_eq!(l.config.storage.readers, 2);
    assert_eq!(l.config.supervision.backoff_jitter, 0.5);
}

#[test]
fn env_beats_file() {
    let mut f = Fixture::new();
    f.write("profile = \"filep\"\n[storage]\nreaders = 8\n[log]\nfilter = \"warn\"\n");
    f.set("WEFT_STORAGE__READERS", "16")
        .set("WEFT_SUPERVISION__BACKOFF_MAX_MS", "1000")
        .set("WEFT_SUPERVISION__BACKOFF_JITTER", "0.75")
        .set("WEFT_PROFILE", "envp")
        .set("WEFT_LOG", "debug");
    let l = f.load();
    assert_eq!(l.config.storage.readers, 16);
    assert_eq!(l.config.supervision.backoff_max_ms, 1000);
    assert_eq!(l.config.supervision.backoff_jitter, 0.75);
    assert_eq!(l.config.profile, "envp");
    assert_eq!(l.config.log.filter, "debug");
    assert_eq!(l.paths.profile, "envp");
    assert_eq!(l.paths.data_dir(), f.root.join("data/profiles/envp"));

    // The generic form works for log.filter too; WEFT_LOG wins over it.
    f.set("WEFT_LOG__FILTER", "trace");
    assert_eq!(f.load().config.log.filter, "debug");
    f.env.remove("WEFT_LOG");
    assert_eq!(f.load().config.log.filter, "trace");
}

#[test]
fn unrelated_weft_vars_and_empty_values_are_ignored() {
    let mut f = Fixture::new();
    f.set("WEFT_SOMETHING_ELSE", "x")
        .set("WEFT_STORAGE__READERS", "")
        .set("WEFT_LOG", "")
        .set("WEFT_PROFILE", "");
    assert_eq!(f.load().config, Config::default());
}

#[test]
fn bad_toml_syntax_names_line() {
    let f = Fixture::new();
    f.write("[storage]\nreaders = 4\nbusy_timeout_ms = = 3\n");
    let (e, msg) = f.err();
    assert!(matches!(e, ConfigError::Syntax { line: 3, .. }), "{e:?}");
    assert!(msg.contains(&s(&f.config_path())), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    let f = Fixture::new();
    f.write("[storage]\nreaders = 4\nreaders = 5\n");
    let (e, msg) = f.err();
    assert!(matches!(e, ConfigError::Syntax { line: 3, .. }), "{msg}");
    assert!(
        msg.contains("duplicate key") && msg.contains("`readers`"),
        "{msg}"
    );
}

#[test]
fn unknown_key_names_line_key_and_valid_keys() {
    let f = Fixture::new();
    f.write("[storage]\nreaders = 4\nreader_count = 5\n");
    let (e, msg) = f.err();
    assert!(
        matches!(e, ConfigError::UnknownKey { line: 3, .. }),
        "{e:?}"
    );
    assert!(msg.contains(&s(&f.config_path())), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");
    assert!(msg.contains("storage.reader_count"), "{msg}");
    assert!(msg.contains("readers, busy_timeout_ms"), "{msg}");

    f.write("\n\nprofle = \"x\"\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 3") && msg.contains("unknown key profle"),
        "{msg}"
    );
    assert!(msg.contains("profile, log, storage, supervision"), "{msg}");

    f.write("[storge]\nreaders = 1\n");
    let (_, msg) = f.err();
    assert!(msg.contains("line 1") && msg.contains("storge"), "{msg}");
}

#[test]
fn first_error_in_file_order_is_reported() {
    let f = Fixture::new();
    // `zzz` sorts after `aaa` but comes first in the file.
    f.write("[storage]\nzzz = 1\naaa = 2\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 2") && msg.contains("storage.zzz"),
        "{msg}"
    );
}

#[test]
fn wrong_type_names_line_and_key() {
    let f = Fixture::new();
    f.write("[log]\nfilter = \"info\"\n[storage]\nreaders = \"many\"\n");
    let (e, msg) = f.err();
    assert!(
        matches!(&e, ConfigError::Value { origin: Origin::File { line: 4, .. }, key, .. } if key == "storage.readers"),
        "{e:?}"
    );
    assert_eq!(
        msg,
        format!(
            "{} line 4: key storage.readers: expected an integer 1..=64, found \"many\"",
            f.config_path().display()
        )
    );

    f.write("storage = 3\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 1: key storage: expected a table"),
        "{msg}"
    );

    f.write("[log]\nfilter = 3\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 2: key log.filter: expected a string, found 3"),
        "{msg}"
    );
}

#[test]
fn out_of_range_names_line_and_key() {
    let f = Fixture::new();
    f.write("[storage]\n\nreaders = 65\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 3: key storage.readers: expected an integer 1..=64, found 65"),
        "{msg}"
    );

    f.write("[storage]\nreaders = -1\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 2: key storage.readers") && msg.contains("found -1"),
        "{msg}"
    );

    f.write("[supervision]\nbackoff_jitter = 1.5\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains(
            "line 2: key supervision.backoff_jitter: expected a number 0.0..=1.0, found 1.5"
        ),
        "{msg}"
    );

    f.write("[supervision]\nbackoff_jitter = nan\n");
    let (_, msg) = f.err();
    assert!(msg.contains("supervision.backoff_jitter"), "{msg}");

    f.write("[supervision]\nmax_restarts = 4294967296\n");
    let (_, msg) = f.err();
    assert!(msg.contains("supervision.max_restarts"), "{msg}");
}

#[test]
fn nested_table_key_line_is_correct() {
    let f = Fixture::new();
    // `readers` appears in two tables; the error must point at the one in [supervision].
    f.write(
        "# weft\n\
         [storage]\n\
         readers = 4\n\
         \n\
         [supervision]\n\
         max_restarts = 5\n\
         backoff_jitter = 0.5\n\
         readers = 4\n",
    );
    let (e, msg) = f.err();
    assert!(
        matches!(&e, ConfigError::UnknownKey { line: 8, key, .. } if key == "supervision.readers"),
        "{msg}"
    );

    f.write(
        "# weft\n\
         [storage]\n\
         readers = 4\n\
         \n\
         [supervision]\n\
         max_restarts = 5\n\
         backoff_jitter = 7\n",
    );
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 7: key supervision.backoff_jitter"),
        "{msg}"
    );
}

#[test]
fn inconsistent_backoff_is_rejected() {
    let mut f = Fixture::new();
    f.write("[supervision]\nbackoff_min_ms = 5000\nbackoff_max_ms = 1000\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 2: key supervision.backoff_min_ms"),
        "{msg}"
    );
    f.write("");
    f.set("WEFT_SUPERVISION__BACKOFF_MAX_MS", "10");
    let (_, msg) = f.err();
    assert!(msg.contains("WEFT_SUPERVISION__BACKOFF_MAX_MS"), "{msg}");
}

#[test]
fn bad_env_value_names_the_var() {
    let mut f = Fixture::new();
    f.set("WEFT_STORAGE__READERS", "many");
    let (e, msg) = f.err();
    assert!(
        matches!(&e, ConfigError::Value { origin: Origin::Env { var }, .. } if var == "WEFT_STORAGE__READERS"),
        "{e:?}"
    );
    assert_eq!(
        msg,
        "environment variable WEFT_STORAGE__READERS: key storage.readers: expected an integer 1..=64, found \"many\""
    );

    let mut f = Fixture::new();
    f.set("WEFT_SUPERVISION__BACKOFF_JITTER", "lots");
    let (_, msg) = f.err();
    assert!(
        msg.contains("WEFT_SUPERVISION__BACKOFF_JITTER") && msg.contains("a number"),
        "{msg}"
    );
}

#[test]
fn unknown_env_var_is_named() {
    let mut f = Fixture::new();
    f.set("WEFT_FOO__BAR", "1");
    let (e, msg) = f.err();
    assert!(matches!(e, ConfigError::UnknownEnv { .. }), "{e:?}");
    assert!(msg.contains("WEFT_FOO__BAR"), "{msg}");
    assert!(msg.contains("WEFT_STORAGE__READERS"), "{msg}");
    assert!(msg.contains("WEFT_SUPERVISION__BACKOFF_MAX_MS"), "{msg}");
}

#[test]
fn bad_profile_name() {
    let mut f = Fixture::new();
    f.set("WEFT_PROFILE", "../etc");
    let (_, msg) = f.err();
    assert!(
        msg.contains("WEFT_PROFILE") && msg.contains("profile name"),
        "{msg}"
    );

    let f = Fixture::new();
    f.write("profile = \"has space\"\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 1: key profile") && msg.contains("\"has space\""),
        "{msg}"
    );

    f.write(&format!("profile = \"{}\"\n", "p".repeat(65)));
    f.err();
}

#[test]
fn unreadable_config_is_an_error() {
    let f = Fixture::new();
    fs::create_dir(f.config_path()).expect("mkdir");
    let (e, msg) = f.err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
    assert!(
        msg.contains(&s(&f.config_path())) && msg.contains("WEFT_CONFIG"),
        "{msg}"
    );
}

#[test]
fn to_toml_roundtrips() {
    let mut c = Config::default();
    c.storage.readers = 9;
    c.profile = "x".to_owned();
    let text = c.to_toml();
    let back: Config = toml::from_str(&text).expect("parse");
    assert_eq!(back, c);

    let f = Fixture::new();
    f.write(&text);
    assert_eq!(f.load().config, c);
}

#[test]
fn ensure_dirs_creates_and_fixes_runtime_dir_mode() {
    let f = Fixture::new();
    let paths = f.load().paths;
    paths.ensure_dirs().expect("ensure_dirs");
    assert!(paths.data_dir().is_dir());
    let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&paths.runtime_dir()), 0o700);

    fs::set_permissions(paths.runtime_dir(), fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(mode(&paths.runtime_dir()), 0o755);
    paths.ensure_dirs().expect("ensure_dirs again");
    assert_eq!(mode(&paths.runtime_dir()), 0o700);
}

#[test]
fn ensure_dirs_error_names_path() {
    let mut f = Fixture::new();
    let file = f.root.join("plain-file");
    fs::write(&file, b"x").expect("write");
    let home = s(&file.join("h"));
    f.set("WEFT_HOME", &home);
    let err = f.load().paths.ensure_dirs().expect_err("under a file");
    let msg = err.to_string();
    assert!(msg.contains(&home) && msg.contains("WEFT_HOME"), "{msg}");

    // The runtime dir path taken by a regular file.
    let f = Fixture::new();
    let paths = f.load().paths;
    fs::create_dir_all(paths.data_dir()).expect("mkdir");
    fs::write(paths.runtime_dir(), b"x").expect("write");
    let msg = paths.ensure_dirs().expect_err("not a dir").to_string();
    assert!(
        msg.contains("not a directory") && msg.contains("fix"),
        "{msg}"
    );
}

#[test]
fn long_socket_path_is_rejected() {
    let mut f = Fixture::new();
    let long = f.root.join("a".repeat(100));
    f.set("WEFT_HOME", &s(&long));
    let paths = f.load().paths;
    let err = paths.ensure_dirs().expect_err("too long");
    assert!(
        matches!(err, ConfigError::SocketPathTooLong { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&s(&paths.socket_path())), "{msg}");
    assert!(msg.contains("WEFT_HOME"), "{msg}");
    assert!(
        !long.exists(),
        "nothing is created when the socket path is too long"
    );
}
