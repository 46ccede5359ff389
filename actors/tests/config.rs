//! Tests for `weft_actors::config`: defaults, file and environment precedence, error messages
//! that name the line, key and fix, and directory preparation.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use weft_actors::config::{
    load_from_env, Config, ConfigError, Loaded, Origin, PoolKind, PoolSettings,
    MAX_SOCKET_PATH_BYTES, MAX_WORKER_SOCKET_NAME_BYTES,
};

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

    let w = &l.config.workers;
    assert!(w.enabled);
    assert_eq!(w.python, "");
    assert_eq!(w.models_dir, "");
    assert_eq!(w.start_timeout_ms, 120_000);
    assert_eq!(w.health_interval_ms, 2000);
    assert_eq!(w.health_timeout_ms, 2000);
    assert_eq!(w.call_timeout_ms, 60_000);
    assert_eq!(w.stop_grace_ms, 3000);
    assert_eq!(w.admission_wait_ms, 5000);
    let e = &l.config.embed;
    assert!(e.enabled);
    assert_eq!(
        (e.min_workers, e.max_workers, e.queue, e.inflight),
        (1, 2, 1024, 2)
    );
    assert_eq!(e.model, "");
    assert_eq!(e.backend, "auto");
    assert_eq!(e.precision, "fp32");
    assert_eq!((e.threads, e.batch_size), (0, 32));
    let n = &l.config.ner;
    assert!(n.enabled);
    assert_eq!(
        (n.min_workers, n.max_workers, n.queue, n.inflight),
        (1, 1, 1024, 2)
    );
    let m = &l.config.llm;
    assert!(m.enabled && m.local_only);
    assert_eq!(
        (m.min_workers, m.max_workers, m.queue, m.inflight),
        (1, 1, 64, 1)
    );
    assert_eq!(m.model, "");

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
    assert_eq!(
        p.workers_runtime_dir(),
        f.root.join("data/profiles/default/run/workers")
    );
    assert_eq!(
        p.worker_socket_path("embed-12-3.sock"),
        f.root
            .join("data/profiles/default/run/workers/embed-12-3.sock")
    );
    // Shared by every profile, not under WEFT_HOME.
    assert_eq!(p.venv, f.root.join("home/.local/share/weft/venv"));
    assert_eq!(p.models, f.root.join("home/.local/share/weft/models"));
    assert_eq!(
        p.python(&l.config),
        f.root.join("home/.local/share/weft/venv/bin/python")
    );
    assert_eq!(p.models_dir(&l.config), p.models);
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
fn venv_and_models_resolution() {
    let mut env = HashMap::from([
        ("HOME".to_owned(), "/h".to_owned()),
        ("WEFT_HOME".to_owned(), "/tmp/some-test-home".to_owned()),
    ]);
    let l = load_from_env(&env).expect("load");
    assert_eq!(l.paths.home, PathBuf::from("/tmp/some-test-home"));
    assert_eq!(l.paths.venv, PathBuf::from("/h/.local/share/weft/venv"));
    assert_eq!(l.paths.models, PathBuf::from("/h/.local/share/weft/models"));

    env.insert("XDG_DATA_HOME".to_owned(), "/xd".to_owned());
    let l = load_from_env(&env).expect("load");
    assert_eq!(l.paths.venv, PathBuf::from("/xd/weft/venv"));
    assert_eq!(l.paths.models, PathBuf::from("/xd/weft/models"));
    assert_eq!(
        l.paths.python(&l.config),
        PathBuf::from("/xd/weft/venv/bin/python")
    );

    // WEFT_VENV / WEFT_MODELS win, are made absolute, and are not unknown WEFT_* variables.
    env.insert("WEFT_VENV".to_owned(), "/opt/weft-venv".to_owned());
    env.insert("WEFT_MODELS".to_owned(), "rel/models".to_owned());
    let l = load_from_env(&env).expect("load");
    assert_eq!(l.paths.venv, PathBuf::from("/opt/weft-venv"));
    let cwd = std::env::current_dir().expect("cwd");
    assert_eq!(l.paths.models, cwd.join("rel/models"));
    assert_eq!(
        l.paths.python(&l.config),
        PathBuf::from("/opt/weft-venv/bin/python")
    );
    assert_eq!(l.paths.models_dir(&l.config), cwd.join("rel/models"));

    // Empty means unset.
    env.insert("WEFT_VENV".to_owned(), String::new());
    let l = load_from_env(&env).expect("load");
    assert_eq!(l.paths.venv, PathBuf::from("/xd/weft/venv"));

    // workers.python and workers.models_dir override the venv and models paths.
    env.insert(
        "WEFT_WORKERS__PYTHON".to_owned(),
        "/usr/bin/python3".to_owned(),
    );
    env.insert(
        "WEFT_WORKERS__MODELS_DIR".to_owned(),
        "/srv/models".to_owned(),
    );
    let l = load_from_env(&env).expect("load");
    assert_eq!(l.config.workers.python, "/usr/bin/python3");
    assert_eq!(l.paths.python(&l.config), PathBuf::from("/usr/bin/python3"));
    assert_eq!(l.paths.models_dir(&l.config), PathBuf::from("/srv/models"));

    // With no HOME or XDG_DATA_HOME at all, they sit beside the profiles in WEFT_HOME.
    let env = HashMap::from([
        ("WEFT_HOME".to_owned(), "/wh".to_owned()),
        (
            "WEFT_CONFIG".to_owned(),
            "/wh/no-such-config.toml".to_owned(),
        ),
    ]);
    let l = load_from_env(&env).expect("load");
    assert_eq!(l.paths.venv, PathBuf::from("/wh/venv"));
    assert_eq!(l.paths.models, PathBuf::from("/wh/models"));
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
fn worker_settings_from_file() {
    let f = Fixture::new();
    f.write(
        r#"
[workers]
enabled = false
python = "/opt/py/bin/python"
models_dir = "/opt/models"
start_timeout_ms = 30_000
health_interval_ms = 500
health_timeout_ms = 250
call_timeout_ms = 10_000
stop_grace_ms = 0
admission_wait_ms = 0

[embed]
enabled = false
min_workers = 0
max_workers = 4
queue = 10
inflight = 3
model = "BAAI/bge-small-en-v1.5"
backend = "onnx"
precision = "int8"
threads = 2
batch_size = 64

[ner]
enabled = true
min_workers = 2
max_workers = 3
queue = 5
inflight = 1

[llm]
enabled = false
min_workers = 0
max_workers = 2
queue = 8
inflight = 2
model = "/models/x.gguf"
local_only = false
"#,
    );
    let l = f.load();
    let c = &l.config;
    let w = &c.workers;
    assert!(!w.enabled);
    assert_eq!(w.python, "/opt/py/bin/python");
    assert_eq!(w.models_dir, "/opt/models");
    assert_eq!(w.start_timeout_ms, 30_000);
    assert_eq!(w.health_interval_ms, 500);
    assert_eq!(w.health_timeout_ms, 250);
    assert_eq!(w.call_timeout_ms, 10_000);
    assert_eq!(w.stop_grace_ms, 0);
    assert_eq!(w.admission_wait_ms, 0);
    let e = &c.embed;
    assert!(!e.enabled);
    assert_eq!(
        (e.min_workers, e.max_workers, e.queue, e.inflight),
        (0, 4, 10, 3)
    );
    assert_eq!(e.model, "BAAI/bge-small-en-v1.5");
    assert_eq!(e.backend, "onnx");
    assert_eq!(e.precision, "int8");
    assert_eq!((e.threads, e.batch_size), (2, 64));
    let n = &c.ner;
    assert!(n.enabled);
    assert_eq!(
        (n.min_workers, n.max_workers, n.queue, n.inflight),
        (2, 3, 5, 1)
    );
    let m = &c.llm;
    assert!(!m.enabled && !m.local_only);
    assert_eq!(
        (m.min_workers, m.max_workers, m.queue, m.inflight),
        (0, 2, 8, 2)
    );
    assert_eq!(m.model, "/models/x.gguf");
    assert_eq!(l.paths.python(c), PathBuf::from("/opt/py/bin/python"));
    assert_eq!(l.paths.models_dir(c), PathBuf::from("/opt/models"));
}

#[test]
fn bools_from_env_beat_the_file() {
    let mut f = Fixture::new();
    f.write("[embed]\nenabled = false\n[llm]\nlocal_only = true\n");
    f.set("WEFT_EMBED__ENABLED", "1")
        .set("WEFT_LLM__LOCAL_ONLY", "No")
        .set("WEFT_WORKERS__ENABLED", "OFF")
        .set("WEFT_NER__ENABLED", " yes ");
    let c = f.load().config;
    assert!(c.embed.enabled);
    assert!(!c.llm.local_only);
    assert!(!c.workers.enabled);
    assert!(c.ner.enabled);

    for (raw, want) in [
        ("true", true),
        ("TRUE", true),
        ("on", true),
        ("false", false),
        ("0", false),
        ("off", false),
    ] {
        f.set("WEFT_WORKERS__ENABLED", raw);
        assert_eq!(f.load().config.workers.enabled, want, "{raw}");
    }
}

#[test]
fn bad_bool_names_line_or_var() {
    let f = Fixture::new();
    f.write("[workers]\npython = \"\"\n\n[ner]\nenabled = \"yes\"\n");
    let (e, msg) = f.err();
    assert!(
        matches!(&e, ConfigError::Value { origin: Origin::File { line: 5, .. }, key, .. } if key == "ner.enabled"),
        "{e:?}"
    );
    assert_eq!(
        msg,
        format!(
            "{} line 5: key ner.enabled: expected true or false, found \"yes\"",
            f.config_path().display()
        )
    );

    f.write("[llm]\nlocal_only = 1\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 2: key llm.local_only: expected true or false, found 1"),
        "{msg}"
    );

    let mut f = Fixture::new();
    f.set("WEFT_WORKERS__ENABLED", "maybe");
    let (e, msg) = f.err();
    assert!(
        matches!(&e, ConfigError::Value { origin: Origin::Env { var }, .. } if var == "WEFT_WORKERS__ENABLED"),
        "{e:?}"
    );
    assert_eq!(
        msg,
        "environment variable WEFT_WORKERS__ENABLED: key workers.enabled: expected true or false, found \"maybe\""
    );
}

#[test]
fn bad_choice_lists_the_choices() {
    let f = Fixture::new();
    f.write("[embed]\nbackend = \"cuda\"\n");
    let (e, msg) = f.err();
    assert!(
        matches!(&e, ConfigError::Value { origin: Origin::File { line: 2, .. }, key, .. } if key == "embed.backend"),
        "{e:?}"
    );
    assert!(
        msg.contains(
            "line 2: key embed.backend: expected one of auto, torch, onnx, openvino, found \"cuda\""
        ),
        "{msg}"
    );

    f.write("[embed]\nprecision = 16\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("key embed.precision: expected one of fp32, int8, found 16"),
        "{msg}"
    );

    let mut f = Fixture::new();
    f.set("WEFT_EMBED__PRECISION", "fp16");
    let (_, msg) = f.err();
    assert_eq!(
        msg,
        "environment variable WEFT_EMBED__PRECISION: key embed.precision: expected one of fp32, int8, found \"fp16\""
    );

    // Case does not matter; the stored value is the listed spelling.
    let mut f = Fixture::new();
    f.write("[embed]\nprecision = \"INT8\"\n");
    f.set("WEFT_EMBED__BACKEND", "OpenVINO");
    let c = f.load().config;
    assert_eq!(c.embed.backend, "openvino");
    assert_eq!(c.embed.precision, "int8");
}

#[test]
fn min_workers_above_max_workers_is_rejected() {
    let mut f = Fixture::new();
    f.write("[embed]\nmin_workers = 3\nmax_workers = 2\n");
    let (e, msg) = f.err();
    assert!(
        matches!(&e, ConfigError::Value { origin: Origin::File { line: 2, .. }, key, .. } if key == "embed.min_workers"),
        "{e:?}"
    );
    assert!(
        msg.contains(
            "line 2: key embed.min_workers: expected a value no larger than embed.max_workers (2), found 3"
        ),
        "{msg}"
    );

    // From the environment: ner.max_workers defaults to 1.
    f.write("");
    f.set("WEFT_NER__MIN_WORKERS", "2");
    let (_, msg) = f.err();
    assert!(
        msg.contains("WEFT_NER__MIN_WORKERS")
            && msg.contains("ner.min_workers")
            && msg.contains("ner.max_workers (1)"),
        "{msg}"
    );

    // Equal is fine, and raising max_workers fixes it.
    f.set("WEFT_NER__MAX_WORKERS", "2");
    let c = f.load().config;
    assert_eq!((c.ner.min_workers, c.ner.max_workers), (2, 2));

    // Ranges still apply first.
    let f = Fixture::new();
    f.write("[llm]\nmax_workers = 0\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("key llm.max_workers: expected an integer 1..=64, found 0"),
        "{msg}"
    );
}

#[test]
fn pool_settings_honour_the_master_switch() {
    let mut f = Fixture::new();
    f.write("[embed]\nmax_workers = 4\nqueue = 7\n[ner]\nenabled = false\n");
    let c = f.load().config;
    assert_eq!(
        c.pool(PoolKind::Embed),
        PoolSettings {
            enabled: true,
            min_workers: 1,
            max_workers: 4,
            queue: 7,
            inflight: 2,
        }
    );
    assert!(!c.pool(PoolKind::Ner).enabled);
    assert_eq!(
        c.pool(PoolKind::Llm),
        PoolSettings {
            enabled: true,
            min_workers: 1,
            max_workers: 1,
            queue: 64,
            inflight: 1,
        }
    );

    f.set("WEFT_WORKERS__ENABLED", "false");
    let c = f.load().config;
    assert!(c.embed.enabled, "the pool's own switch is untouched");
    for kind in PoolKind::ALL {
        assert!(!c.pool(kind).enabled, "{kind}");
    }
    assert_eq!(c.pool(PoolKind::Embed).max_workers, 4);

    assert_eq!(PoolKind::ALL.map(PoolKind::as_str), ["embed", "ner", "llm"]);
    assert_eq!(PoolKind::Ner.to_string(), "ner");
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
fn unknown_key_in_a_pool_section_lists_its_keys() {
    let f = Fixture::new();
    f.write("[embed]\nmin_workers = 1\nworkers = 2\n");
    let (e, msg) = f.err();
    assert!(
        matches!(&e, ConfigError::UnknownKey { line: 3, key, .. } if key == "embed.workers"),
        "{e:?}"
    );
    assert!(
        msg.ends_with(
            "line 3: unknown key embed.workers; valid keys in [embed] are: enabled, \
             min_workers, max_workers, queue, inflight, remote, model, backend, precision, \
             threads, batch_size"
        ),
        "{msg}"
    );

    f.write("[ner]\nmodel = \"x\"\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("valid keys in [ner] are: enabled, min_workers, max_workers, queue, inflight"),
        "{msg}"
    );

    f.write("\nvenv = \"/x\"\n");
    let (_, msg) = f.err();
    assert!(
        msg.contains("line 2: unknown key venv")
            && msg.contains("profile, log, storage, supervision, workers, embed, ner, llm"),
        "{msg}"
    );
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

    let mut f = Fixture::new();
    f.set("WEFT_EMBED__MODLE", "x");
    let (_, msg) = f.err();
    assert!(
        msg.contains("WEFT_EMBED__MODLE")
            && msg.contains("WEFT_EMBED__MODEL")
            && msg.contains("WEFT_WORKERS__ENABLED")
            && msg.contains("WEFT_LLM__LOCAL_ONLY"),
        "{msg}"
    );
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
    c.workers.enabled = false;
    c.embed.backend = "torch".to_owned();
    c.llm.model = "/m.gguf".to_owned();
    let text = c.to_toml();
    for section in ["[workers]", "[embed]", "[ner]", "[llm]"] {
        assert!(text.contains(section), "{text}");
    }
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

    // The workers' socket directory likewise.
    assert_eq!(mode(&paths.workers_runtime_dir()), 0o700);
    fs::set_permissions(
        paths.workers_runtime_dir(),
        fs::Permissions::from_mode(0o777),
    )
    .expect("chmod");
    paths.ensure_dirs().expect("ensure_dirs again");
    assert_eq!(mode(&paths.workers_runtime_dir()), 0o700);
    // The venv and models are not created (setup does that).
    assert!(!paths.venv.exists() && !paths.models.exists());
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

#[test]
fn long_worker_socket_path_is_rejected() {
    // A WEFT_HOME where weft.sock fits but a worker socket name of the longest length doesn't.
    let mut f = Fixture::new();
    let suffix = "/profiles/default/run".len();
    let target_run = MAX_SOCKET_PATH_BYTES - "/weft.sock".len() - 5;
    let pad = target_run - suffix - s(&f.root).len() - 1;
    let home = f.root.join("h".repeat(pad));
    f.set("WEFT_HOME", &s(&home));
    let paths = f.load().paths;
    assert!(paths.socket_path().as_os_str().len() <= MAX_SOCKET_PATH_BYTES);
    let worker = paths.worker_socket_path(&"w".repeat(MAX_WORKER_SOCKET_NAME_BYTES));
    assert!(worker.as_os_str().len() > MAX_SOCKET_PATH_BYTES);

    let err = paths.ensure_dirs().expect_err("worker socket too long");
    assert!(
        matches!(err, ConfigError::SocketPathTooLong { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&s(&paths.workers_runtime_dir())), "{msg}");
    assert!(msg.contains("WEFT_HOME"), "{msg}");
    assert!(!home.exists());

    // Shorten WEFT_HOME until the longest worker socket path is exactly at the limit: it fits.
    let over = worker.as_os_str().len() - MAX_SOCKET_PATH_BYTES;
    let shorter = f.root.join("h".repeat(pad - over));
    f.set("WEFT_HOME", &s(&shorter));
    let paths = f.load().paths;
    let worker = paths.worker_socket_path(&"w".repeat(MAX_WORKER_SOCKET_NAME_BYTES));
    assert_eq!(worker.as_os_str().len(), MAX_SOCKET_PATH_BYTES);
    paths.ensure_dirs().expect("fits");
    assert!(paths.workers_runtime_dir().is_dir());
}
