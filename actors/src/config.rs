//! Weft's configuration: one TOML file plus `WEFT_*` environment overrides, and the
//! per-profile directories derived from them.
//!
//! Resolution order for every setting is: built-in default, then the config file, then the
//! environment (env beats file). The config file lives at `WEFT_CONFIG`, else
//! `$XDG_CONFIG_HOME/weft/config.toml`, else `$HOME/.config/weft/config.toml`; a missing file
//! just means "use the defaults". Every key can be overridden as `WEFT_<SECTION>__<KEY>`
//! (e.g. `WEFT_STORAGE__READERS=8`); `WEFT_PROFILE` and `WEFT_LOG` are shorthands for
//! `profile` and `log.filter`.
//!
//! Data lives in one directory per profile under `WEFT_HOME` (default
//! `$XDG_DATA_HOME/weft`, else `$HOME/.local/share/weft`): `profiles/<profile>/weft.db`, the
//! LanceDB datasets, and `run/` for the daemon's socket (with `run/workers/` for the Python
//! workers' sockets).
//!
//! The Python workers (embedding, NER and LLM pools) run from a virtual environment and load
//! exported models that are shared by every profile, so they do not live under `WEFT_HOME`:
//! the venv is `WEFT_VENV`, else `$XDG_DATA_HOME/weft/venv`, else
//! `$HOME/.local/share/weft/venv`; the models directory is `WEFT_MODELS`, else
//! `$XDG_DATA_HOME/weft/models`, else `$HOME/.local/share/weft/models`. (With neither
//! `XDG_DATA_HOME` nor `HOME` set, both fall back to `WEFT_HOME/venv` and `WEFT_HOME/models`.)
//! `workers.python` and `workers.models_dir` override them.
//!
//! Sections: `[log]`, `[storage]`, `[supervision]`, `[workers]` (shared by every worker pool),
//! one per pool, `[embed]`, `[ner]` and `[llm]`, `[index]`, and `[api]` (the loopback HTTP
//! listener of the local API); `weft config` prints every key with its effective value.
//!
//! Errors a user can cause name the file and line (or the environment variable), the dotted
//! key, and what was expected.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

/// Longest socket path, in bytes, that Weft accepts (Unix `sun_path` is 108 bytes on Linux and
/// 104 on macOS; 100 leaves headroom).
pub const MAX_SOCKET_PATH_BYTES: usize = 100;

/// Longest file name, in bytes, of a worker socket under [`Paths::workers_runtime_dir`]
/// (e.g. `embed-12-3.sock`); [`Paths::check_socket_path`] keeps room for it.
pub const MAX_WORKER_SOCKET_NAME_BYTES: usize = 20;

/// Largest value accepted for any `*_ms` duration setting: one day.
const MAX_MS: u64 = 86_400_000;

/// Largest `min_workers`, `max_workers` and `inflight` of a worker pool.
const MAX_WORKERS: u64 = 64;

/// Largest `queue` of a worker pool.
const MAX_QUEUE: u64 = 1_000_000;

/// The choices of `embed.backend`.
const EMBED_BACKENDS: &[&str] = &["auto", "torch", "onnx", "openvino"];

/// The choices of `embed.precision`.
const EMBED_PRECISIONS: &[&str] = &["fp32", "int8"];

/// The default address of the loopback HTTP listener (`api.listen`).
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:7878";

/// The whole configuration; every field has a default that works offline on a fresh machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Profile name: picks the data directory `profiles/<profile>`; `[A-Za-z0-9_-]{1,64}`.
    pub profile: String,
    /// Logging settings.
    pub log: LogConfig,
    /// Embedded database settings.
    pub storage: StorageConfig,
    /// Restart intensity and backoff of the root supervision tree.
    pub supervision: SupervisionConfig,
    /// Settings shared by every Python worker pool.
    pub workers: WorkersConfig,
    /// The embedding worker pool.
    pub embed: EmbedPoolConfig,
    /// The named-entity-recognition worker pool.
    pub ner: NerPoolConfig,
    /// The local LLM worker pool.
    pub llm: LlmPoolConfig,
    /// Workspace indexing and search.
    pub index: IndexConfig,
    /// The local API's loopback HTTP listener (the browser UI).
    pub api: ApiConfig,
    /// Terminals: the shell, scrollback and the command history.
    pub terminal: TerminalConfig,
}

/// Terminals (`[terminal]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TerminalConfig {
    /// The shell new terminals run; `""` means `$SHELL`, then the user's login shell, then
    /// `/bin/sh`. bash, zsh and fish get Weft's shell integration (commands are recorded).
    pub shell: String,
    /// Output each terminal keeps for a UI that attaches late or reconnects, in bytes.
    pub scrollback_bytes: u64,
    /// Output kept per recorded command, in bytes (its start and its end; the middle of a
    /// longer output is replaced by a marker).
    pub max_output_bytes: u64,
    /// Record commands (with their output, redacted) in the history and embed them.
    pub record: bool,
}

impl Default for TerminalConfig {
    fn default() -> Self {
        Self {
            shell: String::new(),
            scrollback_bytes: 2 * 1024 * 1024,
            max_output_bytes: 64 * 1024,
            record: true,
        }
    }
}

/// The local API's loopback HTTP listener (`[api]`). The Unix socket is always on; this adds
/// HTTP + WebSocket on 127.0.0.1 for the browser UI, behind a bearer token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Loopback address and port, e.g. `127.0.0.1:7878`; port 0 picks any free port. Other
    /// addresses are refused: remote access is not supported.
    pub listen: String,
    /// Whether the HTTP listener runs at all.
    pub http: bool,
    /// The built UI served at `/`; `""` means `ui/dist` of the source tree Weft was built from.
    pub ui_dir: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_API_LISTEN.to_owned(),
            http: true,
            ui_dir: String::new(),
        }
    }
}

impl ApiConfig {
    /// The listen address (validated when the configuration was loaded).
    pub fn listen_addr(&self) -> SocketAddr {
        parse_listen(&self.listen).unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7878))
    }
}

/// Parses `api.listen`: `IP:PORT` (or `localhost:PORT`) whose IP is a loopback address;
/// `None` for anything else.
pub fn parse_listen(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    let addr = match s.strip_prefix("localhost:") {
        Some(port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port.parse().ok()?),
        None => s.parse::<SocketAddr>().ok()?,
    };
    addr.ip().is_loopback().then_some(addr)
}

/// Workspace indexing and search (`[index]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// Files larger than this many bytes are recorded as metadata only (1024..=1073741824).
    pub max_file_bytes: u64,
    /// Threads reading and chunking files; 0 means one per core (0..=256).
    pub threads: u32,
    /// Watch workspaces for changes (otherwise only `weft index` rescans).
    pub watch: bool,
    /// Poll instead of inotify (network file systems); also the fallback when the inotify
    /// watch limit is hit.
    pub poll: bool,
    /// Quiet time, in milliseconds, before a burst of file changes is indexed (1..=10000).
    pub debounce_ms: u64,
    /// Poll interval, in milliseconds, in polling mode (100..=600000).
    pub poll_interval_ms: u64,
    /// Chunks embedded per request to the embed pool (1..=1024).
    pub embed_batch: u32,
    /// Build the approximate-nearest-neighbour index once a vector table has this many rows
    /// (256..=100000000).
    pub ann_min_rows: u64,
    /// Largest chunk, in bytes, before a definition is split (256..=65536).
    pub chunk_max_bytes: u32,
    /// Largest chunk, in lines, before a definition is split (5..=10000).
    pub chunk_max_lines: u32,
    /// Text first: once a scan has chunked this many MB of new files by syntax, it indexes
    /// the rest as plain line windows first (keyword search covers a big tree several times
    /// sooner) and chunks them by syntax right after (0..=1000000; 1000000 turns it off).
    pub text_first_mb: u64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: 2 * 1024 * 1024,
            threads: 0,
            watch: true,
            poll: false,
            debounce_ms: 50,
            poll_interval_ms: 2000,
            embed_batch: 64,
            ann_min_rows: 20_000,
            chunk_max_bytes: 1536,
            chunk_max_lines: 60,
            text_first_mb: 16,
        }
    }
}

/// Logging settings (`[log]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` `EnvFilter` directive string, e.g. `info` or `weft_actors=debug`;
    /// `WEFT_LOG` overrides it.
    pub filter: String,
}

/// Embedded database settings (`[storage]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Number of read-only SQLite connections in the reader pool (1..=64).
    pub readers: usize,
    /// SQLite busy timeout, in milliseconds.
    pub busy_timeout_ms: u64,
}

/// Restart intensity and backoff of the root supervision tree (`[supervision]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisionConfig {
    /// Most restarts allowed within `period_ms` before the supervisor gives up.
    pub max_restarts: u32,
    /// Window, in milliseconds, over which `max_restarts` is counted.
    pub period_ms: u64,
    /// First restart delay, in milliseconds.
    pub backoff_min_ms: u64,
    /// Largest restart delay, in milliseconds.
    pub backoff_max_ms: u64,
    /// Random jitter applied to each delay, as a fraction (0.0..=1.0).
    pub backoff_jitter: f64,
    /// A child that stays up this long, in milliseconds, has its backoff reset.
    pub reset_after_ms: u64,
}

/// Settings shared by every Python worker pool (`[workers]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// Master switch: `false` starts no worker pool (the rest of Weft runs without them).
    pub enabled: bool,
    /// The Python interpreter of the workers' venv; `""` means `<venv>/bin/python` (see
    /// [`Paths::python`]).
    pub python: String,
    /// Directory of the exported embedding backends; `""` means [`Paths::models`] (see
    /// [`Paths::models_dir`]).
    pub models_dir: String,
    /// Deadline, in milliseconds, for a new worker's READY line and first health check
    /// (1..=86400000).
    pub start_timeout_ms: u64,
    /// Interval, in milliseconds, between health checks of each worker (100..=86400000).
    pub health_interval_ms: u64,
    /// Deadline, in milliseconds, of one health check (50..=86400000).
    pub health_timeout_ms: u64,
    /// Deadline, in milliseconds, of one request to a worker (100..=86400000).
    pub call_timeout_ms: u64,
    /// Grace period, in milliseconds, between SIGTERM and SIGKILL when stopping a worker
    /// (0..=86400000).
    pub stop_grace_ms: u64,
    /// How long, in milliseconds, a caller waits for a queue slot before the pool answers
    /// `Overloaded` (0..=86400000).
    pub admission_wait_ms: u64,
    /// CPU priority of the worker processes, as `nice` (0..=19): above 0, the core's own
    /// threads (searches, the UI's calls, terminals) win the CPU over bulk embedding.
    pub nice: u32,
    /// PEM file of the CA (or self-signed certificate) that remote workers' TLS certificates
    /// chain to; `""` trusts the system's roots.
    pub remote_ca: String,
    /// File holding the bearer token remote workers require (mode 0600).
    pub remote_token_file: String,
}

/// The embedding worker pool (`[embed]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EmbedPoolConfig {
    /// Whether this pool runs (also needs `workers.enabled`).
    pub enabled: bool,
    /// Workers kept running even when idle (0..=64).
    pub min_workers: u32,
    /// Most workers the pool scales up to (1..=64, at least `min_workers`).
    pub max_workers: u32,
    /// Most requests waiting for a worker (1..=1000000).
    pub queue: u32,
    /// Most requests in flight on one worker (1..=64).
    pub inflight: u32,
    /// Remote workers (e.g. a GPU box running the same worker) as a comma-separated list of
    /// `https://HOST:PORT`; they join the pool like local ones.
    pub remote: String,
    /// `""` for the packaged all-MiniLM-L6-v2; else a sentence-transformers folder or model
    /// name.
    pub model: String,
    /// Inference backend: `auto`, `torch`, `onnx` or `openvino`.
    pub backend: String,
    /// Weight precision: `fp32` or `int8`.
    pub precision: String,
    /// Threads per worker; 0 means the number of cores divided by `max_workers` (0..=256).
    pub threads: u32,
    /// Texts embedded per batch (1..=4096).
    pub batch_size: u32,
}

/// The named-entity-recognition worker pool (`[ner]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NerPoolConfig {
    /// Whether this pool runs (also needs `workers.enabled`).
    pub enabled: bool,
    /// Workers kept running even when idle (0..=64).
    pub min_workers: u32,
    /// Most workers the pool scales up to (1..=64, at least `min_workers`).
    pub max_workers: u32,
    /// Most requests waiting for a worker (1..=1000000).
    pub queue: u32,
    /// Most requests in flight on one worker (1..=64).
    pub inflight: u32,
    /// Remote workers (e.g. a GPU box running the same worker) as a comma-separated list of
    /// `https://HOST:PORT`; they join the pool like local ones.
    pub remote: String,
}

/// The local LLM worker pool (`[llm]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmPoolConfig {
    /// Whether this pool runs (also needs `workers.enabled`).
    pub enabled: bool,
    /// Workers kept running even when idle (0..=64).
    pub min_workers: u32,
    /// Most workers the pool scales up to (1..=64, at least `min_workers`).
    pub max_workers: u32,
    /// Most requests waiting for a worker (1..=1000000).
    pub queue: u32,
    /// Most requests in flight on one worker (1..=64).
    pub inflight: u32,
    /// Remote workers (e.g. a GPU box running the same worker) as a comma-separated list of
    /// `https://HOST:PORT`; they join the pool like local ones.
    pub remote: String,
    /// `""` for the packaged SmolLM2-135M GGUF; else the path of a GGUF file.
    pub model: String,
    /// Refuse cloud providers: only local models are used.
    pub local_only: bool,
}

/// One of the Python worker pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    /// The embedding pool (`[embed]`).
    Embed,
    /// The named-entity-recognition pool (`[ner]`).
    Ner,
    /// The local LLM pool (`[llm]`).
    Llm,
}

impl PoolKind {
    /// Every pool kind, in the order the sections are documented.
    pub const ALL: [PoolKind; 3] = [PoolKind::Embed, PoolKind::Ner, PoolKind::Llm];

    /// The pool's config section name: `"embed"`, `"ner"` or `"llm"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::Embed => "embed",
            PoolKind::Ner => "ner",
            PoolKind::Llm => "llm",
        }
    }
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sizing settings every worker pool has, read uniformly with [`Config::pool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Whether the pool runs: `workers.enabled` and the pool's own `enabled`.
    pub enabled: bool,
    /// Workers kept running even when idle.
    pub min_workers: u32,
    /// Most workers the pool scales up to (at least `min_workers`).
    pub max_workers: u32,
    /// Most requests waiting for a worker.
    pub queue: u32,
    /// Most requests in flight on one worker.
    pub inflight: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            profile: "default".to_owned(),
            log: LogConfig::default(),
            storage: StorageConfig::default(),
            supervision: SupervisionConfig::default(),
            workers: WorkersConfig::default(),
            embed: EmbedPoolConfig::default(),
            ner: NerPoolConfig::default(),
            llm: LlmPoolConfig::default(),
            index: IndexConfig::default(),
            api: ApiConfig::default(),
            terminal: TerminalConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".to_owned(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            readers: 4,
            busy_timeout_ms: 5000,
        }
    }
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        Self {
            max_restarts: 3,
            period_ms: 5000,
            backoff_min_ms: 100,
            backoff_max_ms: 30_000,
            backoff_jitter: 0.2,
            reset_after_ms: 60_000,
        }
    }
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            python: String::new(),
            models_dir: String::new(),
            start_timeout_ms: 120_000,
            health_interval_ms: 2000,
            health_timeout_ms: 2000,
            call_timeout_ms: 60_000,
            stop_grace_ms: 3000,
            admission_wait_ms: 5000,
            nice: 10,
            remote_ca: String::new(),
            remote_token_file: String::new(),
        }
    }
}

impl Default for EmbedPoolConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_workers: 1,
            max_workers: 2,
            queue: 1024,
            inflight: 2,
            remote: String::new(),
            model: String::new(),
            backend: "auto".to_owned(),
            precision: "fp32".to_owned(),
            threads: 0,
            batch_size: 32,
        }
    }
}

impl Default for NerPoolConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_workers: 1,
            max_workers: 1,
            queue: 1024,
            inflight: 2,
            remote: String::new(),
        }
    }
}

impl Default for LlmPoolConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_workers: 1,
            max_workers: 1,
            queue: 64,
            inflight: 1,
            remote: String::new(),
            model: String::new(),
            local_only: true,
        }
    }
}

impl Config {
    /// The remote workers listed for a pool (`[KIND] remote`, comma-separated URLs).
    pub fn remote_workers(&self, kind: PoolKind) -> Vec<String> {
        let list = match kind {
            PoolKind::Embed => &self.embed.remote,
            PoolKind::Ner => &self.ner.remote,
            PoolKind::Llm => &self.llm.remote,
        };
        list.split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect()
    }

    /// Renders the configuration as TOML (what `weft config` prints).
    pub fn to_toml(&self) -> String {
        match toml::to_string(self) {
            Ok(s) => s,
            // Unreachable in practice: the config holds only strings, numbers and booleans.
            Err(e) => format!("# cannot render the configuration as TOML: {e}\n"),
        }
    }

    /// The sizing settings of one worker pool; `enabled` already includes the
    /// `workers.enabled` master switch.
    pub fn pool(&self, kind: PoolKind) -> PoolSettings {
        let (enabled, min_workers, max_workers, queue, inflight) = match kind {
            PoolKind::Embed => {
                let p = &self.embed;
                (p.enabled, p.min_workers, p.max_workers, p.queue, p.inflight)
            }
            PoolKind::Ner => {
                let p = &self.ner;
                (p.enabled, p.min_workers, p.max_workers, p.queue, p.inflight)
            }
            PoolKind::Llm => {
                let p = &self.llm;
                (p.enabled, p.min_workers, p.max_workers, p.queue, p.inflight)
            }
        };
        PoolSettings {
            enabled: self.workers.enabled && enabled,
            min_workers,
            max_workers,
            queue,
            inflight,
        }
    }
}

/// Where things live, resolved from env + config.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Root of all profiles: `WEFT_HOME`, else `$XDG_DATA_HOME/weft`, else
    /// `$HOME/.local/share/weft`.
    pub home: PathBuf,
    /// The config file: `WEFT_CONFIG`, else `$XDG_CONFIG_HOME/weft/config.toml`, else
    /// `$HOME/.config/weft/config.toml`.
    pub config_file: PathBuf,
    /// The resolved profile name.
    pub profile: String,
    /// The Python workers' virtual environment, shared by all profiles: `WEFT_VENV`, else
    /// `$XDG_DATA_HOME/weft/venv`, else `$HOME/.local/share/weft/venv` (else, with neither
    /// set, `home/venv`).
    pub venv: PathBuf,
    /// The exported models, shared by all profiles: `WEFT_MODELS`, else
    /// `$XDG_DATA_HOME/weft/models`, else `$HOME/.local/share/weft/models` (else, with neither
    /// set, `home/models`).
    pub models: PathBuf,
}

impl Paths {
    /// This profile's data directory: `home/profiles/<profile>`.
    pub fn data_dir(&self) -> PathBuf {
        self.home.join("profiles").join(&self.profile)
    }

    /// The SQLite database: `data_dir/weft.db`.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir().join("weft.db")
    }

    /// Directory for the daemon's sockets: `data_dir/run` (kept at mode 0700).
    pub fn runtime_dir(&self) -> PathBuf {
        self.data_dir().join("run")
    }

    /// The local API socket: `runtime_dir/weft.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.runtime_dir().join("weft.sock")
    }

    /// The bearer token of the loopback HTTP listener: `data_dir/api-token` (mode 0600, kept
    /// across restarts).
    pub fn api_token_path(&self) -> PathBuf {
        self.data_dir().join("api-token")
    }

    /// The one-time URL of the running daemon's UI (`http://127.0.0.1:PORT/#token=...`):
    /// `runtime_dir/api-url` (mode 0600), written once the listener is bound.
    pub fn api_url_path(&self) -> PathBuf {
        self.runtime_dir().join("api-url")
    }

    /// Directory for the Python workers' sockets: `runtime_dir/workers` (kept at mode 0700).
    pub fn workers_runtime_dir(&self) -> PathBuf {
        self.runtime_dir().join("workers")
    }

    /// A worker socket: `workers_runtime_dir/<name>`; `name` must be at most
    /// [`MAX_WORKER_SOCKET_NAME_BYTES`] long for [`Paths::check_socket_path`] to cover it.
    pub fn worker_socket_path(&self, name: &str) -> PathBuf {
        self.workers_runtime_dir().join(name)
    }

    /// The Python interpreter that runs the workers: `workers.python` if set, else
    /// `venv/bin/python`.
    pub fn python(&self, cfg: &Config) -> PathBuf {
        if cfg.workers.python.is_empty() {
            self.venv.join("bin").join("python")
        } else {
            PathBuf::from(&cfg.workers.python)
        }
    }

    /// The directory of the exported models: `workers.models_dir` if set, else
    /// [`Paths::models`].
    pub fn models_dir(&self, cfg: &Config) -> PathBuf {
        if cfg.workers.models_dir.is_empty() {
            self.models.clone()
        } else {
            PathBuf::from(&cfg.workers.models_dir)
        }
    }

    /// Errors if [`Paths::socket_path`], or a worker socket whose name is
    /// [`MAX_WORKER_SOCKET_NAME_BYTES`] long, would be longer than [`MAX_SOCKET_PATH_BYTES`].
    pub fn check_socket_path(&self) -> Result<(), ConfigError> {
        let longest_worker = self.worker_socket_path(WORKER_SOCKET_PLACEHOLDER);
        for path in [self.socket_path(), longest_worker] {
            let len = path.as_os_str().len();
            if len > MAX_SOCKET_PATH_BYTES {
                return Err(ConfigError::SocketPathTooLong {
                    path,
                    len,
                    max: MAX_SOCKET_PATH_BYTES,
                });
            }
        }
        Ok(())
    }

    /// Creates the data directory, the runtime directory and the workers' runtime directory
    /// (the last two at mode 0700, fixing the mode of existing ones); errors name the path and
    /// the fix. Also checks the socket path lengths.
    pub fn ensure_dirs(&self) -> Result<(), ConfigError> {
        self.check_socket_path()?;

        let data = self.data_dir();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&data)
            .map_err(|e| ConfigError::Directory {
                path: data.clone(),
                problem: format!("cannot create the data directory: {e}"),
                fix: "make its parent directory writable by you, or set WEFT_HOME to a \
                      writable directory"
                    .to_owned(),
            })?;

        let run = self.runtime_dir();
        ensure_private_dir(&run, "runtime directory", &data)?;
        ensure_private_dir(
            &self.workers_runtime_dir(),
            "workers' runtime directory",
            &run,
        )?;
        Ok(())
    }
}

/// Creates `dir` (whose parent is `parent`) at mode 0700 if missing; checks that an existing
/// one is a directory owned by us and fixes its mode. `what` names it in errors and logs.
fn ensure_private_dir(dir: &Path, what: &str, parent: &Path) -> Result<(), ConfigError> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => tracing::debug!(path = %dir.display(), "created {what}"),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(ConfigError::Directory {
                path: dir.to_owned(),
                problem: format!("cannot create the {what}: {e}"),
                fix: format!("make {} writable by you", parent.display()),
            })
        }
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| ConfigError::Directory {
        path: dir.to_owned(),
        problem: format!("cannot inspect the {what}: {e}"),
        fix: format!("make {} readable by you", parent.display()),
    })?;
    if !meta.is_dir() {
        return Err(ConfigError::Directory {
            path: dir.to_owned(),
            problem: "exists but is not a directory".to_owned(),
            fix: "remove it; weft recreates it as a directory".to_owned(),
        });
    }
    let me = current_uid();
    if meta.uid() != me {
        return Err(ConfigError::Directory {
            path: dir.to_owned(),
            problem: format!("is owned by uid {}, not by you (uid {me})", meta.uid()),
            fix: "remove it (weft recreates it) or chown it to yourself".to_owned(),
        });
    }
    let mode = meta.mode() & 0o777;
    if mode != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| {
            ConfigError::Directory {
                path: dir.to_owned(),
                problem: format!("has mode {mode:04o} and cannot be changed to 0700: {e}"),
                fix: format!("run `chmod 700 {}`", dir.display()),
            }
        })?;
        tracing::info!(path = %dir.display(), old_mode = format!("{mode:04o}"), "set {what} mode to 0700");
    }
    Ok(())
}

/// A stand-in worker socket name of [`MAX_WORKER_SOCKET_NAME_BYTES`] bytes, for the length
/// check (and its error message).
const WORKER_SOCKET_PLACEHOLDER: &str = "<worker-socket>.sock";

/// The effective user id of this process.
pub(crate) fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A loaded config plus where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The effective configuration (defaults, then file, then environment).
    pub config: Config,
    /// Where things live for the resolved profile.
    pub paths: Paths,
    /// Whether the config file existed (false: defaults and environment only).
    pub file_found: bool,
}

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line (1-based) of the config file.
    File {
        /// The config file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// An environment variable.
    Env {
        /// The variable's name.
        var: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{} line {line}", path.display()),
            Origin::Env { var } => write!(f, "environment variable {var}"),
        }
    }
}

/// Everything that can go wrong loading the configuration or preparing its directories.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file exists but could not be read.
    #[error(
        "cannot read config file {}: {source}; fix its permissions (it must be UTF-8 text) \
         or point WEFT_CONFIG at another file",
        path.display()
    )]
    Read {
        /// The config file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The config file is not valid TOML.
    #[error("{} line {line}: invalid TOML: {message}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// The parser's description.
        message: String,
    },
    /// The config file has a key Weft does not know.
    #[error(
        "{} line {line}: unknown key {key}; valid keys {} are: {}",
        path.display(),
        if table.is_empty() { "at the top level".to_owned() } else { format!("in [{table}]") },
        valid.join(", ")
    )]
    UnknownKey {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// The dotted key, e.g. `storage.reader`.
        key: String,
        /// The table the key is in (`""` for the top level).
        table: String,
        /// The keys that table accepts.
        valid: Vec<String>,
    },
    /// A setting has the wrong type or is out of range.
    #[error("{origin}: key {key}: expected {expected}, found {found}")]
    Value {
        /// The file line or environment variable that set it.
        origin: Origin,
        /// The dotted key, e.g. `storage.readers`.
        key: String,
        /// What is accepted.
        expected: String,
        /// What was given.
        found: String,
    },
    /// A `WEFT_<SECTION>__<KEY>` variable that matches no setting.
    #[error("unknown environment variable {var}; valid ones are: {}", valid.join(", "))]
    UnknownEnv {
        /// The variable's name.
        var: String,
        /// Every valid `WEFT_<SECTION>__<KEY>` name.
        valid: Vec<String>,
    },
    /// A path variable that Weft uses is not valid UTF-8.
    #[error("environment variable {var} is not valid UTF-8; set it to a UTF-8 path")]
    EnvNotUnicode {
        /// The variable's name.
        var: String,
    },
    /// No home directory to derive a default location from.
    #[error("cannot locate the {what}: neither {xdg} nor HOME is set; set HOME, or set {weft}")]
    NoHome {
        /// What was being located, e.g. "config file".
        what: &'static str,
        /// The XDG variable consulted.
        xdg: &'static str,
        /// The Weft variable that sets it directly.
        weft: &'static str,
    },
    /// A relative path in the environment could not be made absolute.
    #[error("{var}={value:?} is relative and the current directory is unknown ({source}); set {var} to an absolute path")]
    RelativePath {
        /// The variable's name.
        var: String,
        /// Its value.
        value: String,
        /// The OS error.
        source: io::Error,
    },
    /// A directory could not be created or has the wrong owner, type or mode.
    #[error("{}: {problem}; fix: {fix}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// What to do about it.
        fix: String,
    },
    /// The daemon's socket path, or the longest worker socket path (`path` then ends in a
    /// stand-in name of [`MAX_WORKER_SOCKET_NAME_BYTES`] bytes), would exceed the Unix socket
    /// path limit.
    #[error(
        "socket path {} is {len} bytes, over the {max}-byte Unix socket limit; set WEFT_HOME \
         to a shorter directory (e.g. ~/.weft)",
        path.display()
    )]
    SocketPathTooLong {
        /// The socket path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// The type and range of one setting.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `[A-Za-z0-9_-]{1,64}`.
    Profile,
    /// Any string.
    Str,
    /// An integer in `min..=max`.
    UInt { min: u64, max: u64 },
    /// A number in `min..=max`.
    Float { min: f64, max: f64 },
    /// A TOML boolean; in the environment also `1/0`, `yes/no`, `on/off` (any case).
    Bool,
    /// One of these strings (matched ignoring ASCII case, stored as listed).
    Choice(&'static [&'static str]),
    /// A loopback `IP:PORT` (see [`parse_listen`]).
    Loopback,
}

impl Kind {
    fn expected(self) -> String {
        match self {
            Kind::Profile => {
                "a profile name of 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'".to_owned()
            }
            Kind::Str => "a string".to_owned(),
            Kind::UInt { min, max } => format!("an integer {min}..={max}"),
            Kind::Float { min, max } => format!("a number {min:?}..={max:?}"),
            Kind::Bool => "true or false".to_owned(),
            Kind::Choice(choices) => format!("one of {}", choices.join(", ")),
            Kind::Loopback => "a loopback address and port such as \"127.0.0.1:7878\" (port 0 = \
                               any free port; other addresses are refused because remote access \
                               is not supported)"
                .to_owned(),
        }
    }
}

/// Shorthand for a `*_ms` duration of at least `min` milliseconds.
const fn ms(min: u64) -> Kind {
    Kind::UInt { min, max: MAX_MS }
}

/// Shorthand for an integer in `min..=max`.
const fn uint(min: u64, max: u64) -> Kind {
    Kind::UInt { min, max }
}

/// A typed, range-checked setting value.
#[derive(Debug, Clone)]
enum Val {
    Str(String),
    UInt(u64),
    Float(f64),
    Bool(bool),
}

/// One setting: dotted key, type, and how to store it.
struct Field {
    key: &'static str,
    kind: Kind,
    set: fn(&mut Config, Val),
}

fn as_string(v: Val) -> String {
    match v {
        Val::Str(s) => s,
        Val::UInt(n) => n.to_string(),
        Val::Float(x) => x.to_string(),
        Val::Bool(b) => b.to_string(),
    }
}

fn as_u64(v: Val) -> u64 {
    match v {
        Val::UInt(n) => n,
        // Unreachable: values are produced for their field's kind.
        Val::Str(_) | Val::Float(_) | Val::Bool(_) => 0,
    }
}

/// For fields whose range is within `u32` (saturates otherwise).
fn as_u32(v: Val) -> u32 {
    u32::try_from(as_u64(v)).unwrap_or(u32::MAX)
}

fn as_f64(v: Val) -> f64 {
    match v {
        Val::Float(x) => x,
        Val::UInt(n) => n as f64,
        Val::Str(_) | Val::Bool(_) => 0.0,
    }
}

fn as_bool(v: Val) -> bool {
    match v {
        Val::Bool(b) => b,
        // Unreachable: values are produced for their field's kind.
        Val::Str(_) | Val::UInt(_) | Val::Float(_) => false,
    }
}

/// Every setting. Kept in sync with [`Config`] by a unit test.
const FIELDS: &[Field] = &[
    Field {
        key: "profile",
        kind: Kind::Profile,
        set: |c, v| c.profile = as_string(v),
    },
    Field {
        key: "log.filter",
        kind: Kind::Str,
        set: |c, v| c.log.filter = as_string(v),
    },
    Field {
        key: "storage.readers",
        kind: Kind::UInt { min: 1, max: 64 },
        set: |c, v| c.storage.readers = usize::try_from(as_u64(v)).unwrap_or(usize::MAX),
    },
    Field {
        key: "storage.busy_timeout_ms",
        kind: Kind::UInt {
            min: 0,
            max: MAX_MS,
        },
        set: |c, v| c.storage.busy_timeout_ms = as_u64(v),
    },
    Field {
        key: "supervision.max_restarts",
        kind: Kind::UInt {
            min: 0,
            max: u32::MAX as u64,
        },
        set: |c, v| c.supervision.max_restarts = u32::try_from(as_u64(v)).unwrap_or(u32::MAX),
    },
    Field {
        key: "supervision.period_ms",
        kind: Kind::UInt {
            min: 1,
            max: MAX_MS,
        },
        set: |c, v| c.supervision.period_ms = as_u64(v),
    },
    Field {
        key: "supervision.backoff_min_ms",
        kind: Kind::UInt {
            min: 0,
            max: MAX_MS,
        },
        set: |c, v| c.supervision.backoff_min_ms = as_u64(v),
    },
    Field {
        key: "supervision.backoff_max_ms",
        kind: Kind::UInt {
            min: 0,
            max: MAX_MS,
        },
        set: |c, v| c.supervision.backoff_max_ms = as_u64(v),
    },
    Field {
        key: "supervision.backoff_jitter",
        kind: Kind::Float { min: 0.0, max: 1.0 },
        set: |c, v| c.supervision.backoff_jitter = as_f64(v),
    },
    Field {
        key: "supervision.reset_after_ms",
        kind: Kind::UInt {
            min: 0,
            max: MAX_MS,
        },
        set: |c, v| c.supervision.reset_after_ms = as_u64(v),
    },
    // [workers]
    Field {
        key: "workers.enabled",
        kind: Kind::Bool,
        set: |c, v| c.workers.enabled = as_bool(v),
    },
    Field {
        key: "workers.python",
        kind: Kind::Str,
        set: |c, v| c.workers.python = as_string(v),
    },
    Field {
        key: "workers.models_dir",
        kind: Kind::Str,
        set: |c, v| c.workers.models_dir = as_string(v),
    },
    Field {
        key: "workers.start_timeout_ms",
        kind: ms(1),
        set: |c, v| c.workers.start_timeout_ms = as_u64(v),
    },
    Field {
        key: "workers.health_interval_ms",
        kind: ms(100),
        set: |c, v| c.workers.health_interval_ms = as_u64(v),
    },
    Field {
        key: "workers.health_timeout_ms",
        kind: ms(50),
        set: |c, v| c.workers.health_timeout_ms = as_u64(v),
    },
    Field {
        key: "workers.call_timeout_ms",
        kind: ms(100),
        set: |c, v| c.workers.call_timeout_ms = as_u64(v),
    },
    Field {
        key: "workers.stop_grace_ms",
        kind: ms(0),
        set: |c, v| c.workers.stop_grace_ms = as_u64(v),
    },
    Field {
        key: "workers.admission_wait_ms",
        kind: ms(0),
        set: |c, v| c.workers.admission_wait_ms = as_u64(v),
    },
    Field {
        key: "workers.nice",
        kind: Kind::UInt { min: 0, max: 19 },
        set: |c, v| c.workers.nice = as_u32(v),
    },
    Field {
        key: "workers.remote_ca",
        kind: Kind::Str,
        set: |c, v| c.workers.remote_ca = as_string(v),
    },
    Field {
        key: "workers.remote_token_file",
        kind: Kind::Str,
        set: |c, v| c.workers.remote_token_file = as_string(v),
    },
    // [embed]
    Field {
        key: "embed.enabled",
        kind: Kind::Bool,
        set: |c, v| c.embed.enabled = as_bool(v),
    },
    Field {
        key: "embed.min_workers",
        kind: uint(0, MAX_WORKERS),
        set: |c, v| c.embed.min_workers = as_u32(v),
    },
    Field {
        key: "embed.max_workers",
        kind: uint(1, MAX_WORKERS),
        set: |c, v| c.embed.max_workers = as_u32(v),
    },
    Field {
        key: "embed.queue",
        kind: uint(1, MAX_QUEUE),
        set: |c, v| c.embed.queue = as_u32(v),
    },
    Field {
        key: "embed.inflight",
        kind: uint(1, MAX_WORKERS),
        set: |c, v| c.embed.inflight = as_u32(v),
    },
    Field {
        key: "embed.remote",
        kind: Kind::Str,
        set: |c, v| c.embed.remote = as_string(v),
    },
    Field {
        key: "embed.model",
        kind: Kind::Str,
        set: |c, v| c.embed.model = as_string(v),
    },
    Field {
        key: "embed.backend",
        kind: Kind::Choice(EMBED_BACKENDS),
        set: |c, v| c.embed.backend = as_string(v),
    },
    Field {
        key: "embed.precision",
        kind: Kind::Choice(EMBED_PRECISIONS),
        set: |c, v| c.embed.precision = as_string(v),
    },
    Field {
        key: "embed.threads",
        kind: uint(0, 256),
        set: |c, v| c.embed.threads = as_u32(v),
    },
    Field {
        key: "embed.batch_size",
        kind: uint(1, 4096),
        set: |c, v| c.embed.batch_size = as_u32(v),
    },
    // [ner]
    Field {
        key: "ner.enabled",
        kind: Kind::Bool,
        set: |c, v| c.ner.enabled = as_bool(v),
    },
    Field {
        key: "ner.min_workers",
        kind: uint(0, MAX_WORKERS),
        set: |c, v| c.ner.min_workers = as_u32(v),
    },
    Field {
        key: "ner.max_workers",
        kind: uint(1, MAX_WORKERS),
        set: |c, v| c.ner.max_workers = as_u32(v),
    },
    Field {
        key: "ner.queue",
        kind: uint(1, MAX_QUEUE),
        set: |c, v| c.ner.queue = as_u32(v),
    },
    Field {
        key: "ner.inflight",
        kind: uint(1, MAX_WORKERS),
        set: |c, v| c.ner.inflight = as_u32(v),
    },
    Field {
        key: "ner.remote",
        kind: Kind::Str,
        set: |c, v| c.ner.remote = as_string(v),
    },
    // [llm]
    Field {
        key: "llm.enabled",
        kind: Kind::Bool,
        set: |c, v| c.llm.enabled = as_bool(v),
    },
    Field {
        key: "llm.min_workers",
        kind: uint(0, MAX_WORKERS),
        set: |c, v| c.llm.min_workers = as_u32(v),
    },
    Field {
        key: "llm.max_workers",
        kind: uint(1, MAX_WORKERS),
        set: |c, v| c.llm.max_workers = as_u32(v),
    },
    Field {
        key: "llm.queue",
        kind: uint(1, MAX_QUEUE),
        set: |c, v| c.llm.queue = as_u32(v),
    },
    Field {
        key: "llm.inflight",
        kind: uint(1, MAX_WORKERS),
        set: |c, v| c.llm.inflight = as_u32(v),
    },
    Field {
        key: "llm.remote",
        kind: Kind::Str,
        set: |c, v| c.llm.remote = as_string(v),
    },
    Field {
        key: "llm.model",
        kind: Kind::Str,
        set: |c, v| c.llm.model = as_string(v),
    },
    Field {
        key: "llm.local_only",
        kind: Kind::Bool,
        set: |c, v| c.llm.local_only = as_bool(v),
    },
    Field {
        key: "index.max_file_bytes",
        kind: Kind::UInt {
            min: 1024,
            max: 1 << 30,
        },
        set: |c, v| c.index.max_file_bytes = as_u64(v),
    },
    Field {
        key: "index.threads",
        kind: Kind::UInt { min: 0, max: 256 },
        set: |c, v| c.index.threads = as_u32(v),
    },
    Field {
        key: "index.watch",
        kind: Kind::Bool,
        set: |c, v| c.index.watch = as_bool(v),
    },
    Field {
        key: "index.poll",
        kind: Kind::Bool,
        set: |c, v| c.index.poll = as_bool(v),
    },
    Field {
        key: "index.debounce_ms",
        kind: Kind::UInt {
            min: 1,
            max: 10_000,
        },
        set: |c, v| c.index.debounce_ms = as_u64(v),
    },
    Field {
        key: "index.poll_interval_ms",
        kind: Kind::UInt {
            min: 100,
            max: 600_000,
        },
        set: |c, v| c.index.poll_interval_ms = as_u64(v),
    },
    Field {
        key: "index.embed_batch",
        kind: Kind::UInt { min: 1, max: 1024 },
        set: |c, v| c.index.embed_batch = as_u32(v),
    },
    Field {
        key: "index.ann_min_rows",
        kind: Kind::UInt {
            min: 256,
            max: 100_000_000,
        },
        set: |c, v| c.index.ann_min_rows = as_u64(v),
    },
    Field {
        key: "index.chunk_max_bytes",
        kind: Kind::UInt {
            min: 256,
            max: 65_536,
        },
        set: |c, v| c.index.chunk_max_bytes = as_u32(v),
    },
    Field {
        key: "index.chunk_max_lines",
        kind: Kind::UInt {
            min: 5,
            max: 10_000,
        },
        set: |c, v| c.index.chunk_max_lines = as_u32(v),
    },
    Field {
        key: "index.text_first_mb",
        kind: Kind::UInt {
            min: 0,
            max: 1_000_000,
        },
        set: |c, v| c.index.text_first_mb = as_u64(v),
    },
    // [api]
    Field {
        key: "api.listen",
        kind: Kind::Loopback,
        set: |c, v| c.api.listen = as_string(v),
    },
    Field {
        key: "api.http",
        kind: Kind::Bool,
        set: |c, v| c.api.http = as_bool(v),
    },
    Field {
        key: "api.ui_dir",
        kind: Kind::Str,
        set: |c, v| c.api.ui_dir = as_string(v),
    },
    Field {
        key: "terminal.shell",
        kind: Kind::Str,
        set: |c, v| c.terminal.shell = as_string(v),
    },
    Field {
        key: "terminal.scrollback_bytes",
        kind: Kind::UInt {
            min: 64 * 1024,
            max: 64 << 20,
        },
        set: |c, v| c.terminal.scrollback_bytes = as_u64(v),
    },
    Field {
        key: "terminal.max_output_bytes",
        kind: Kind::UInt {
            min: 1024,
            max: 16 << 20,
        },
        set: |c, v| c.terminal.max_output_bytes = as_u64(v),
    },
    Field {
        key: "terminal.record",
        kind: Kind::Bool,
        set: |c, v| c.terminal.record = as_bool(v),
    },
];

/// The config's sections, in the order they are documented.
const SECTIONS: &[&str] = &[
    "log",
    "storage",
    "supervision",
    "workers",
    "embed",
    "ner",
    "llm",
    "index",
    "api",
    "terminal",
];

fn field(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

/// Valid keys directly inside `table` (`""` = top level).
fn valid_keys(table: &str) -> Vec<String> {
    if table.is_empty() {
        let mut keys = vec!["profile".to_owned()];
        keys.extend(SECTIONS.iter().map(|s| (*s).to_owned()));
        return keys;
    }
    FIELDS
        .iter()
        .filter_map(|f| f.key.strip_prefix(table)?.strip_prefix('.'))
        .map(str::to_owned)
        .collect()
}

/// The `WEFT_<SECTION>__<KEY>` variable for a dotted key.
fn env_var_for(key: &str) -> String {
    format!("WEFT_{}", key.replace('.', "__").to_ascii_uppercase())
}

fn is_profile_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Range-checks an already-typed value; `Err(found)` when out of range.
fn check_range(kind: Kind, v: Val, found: impl Fn() -> String) -> Result<Val, String> {
    match (kind, &v) {
        (Kind::Profile, Val::Str(s)) if !is_profile_name(s) => Err(found()),
        (Kind::Loopback, Val::Str(s)) if parse_listen(s).is_none() => Err(found()),
        (Kind::UInt { min, max }, Val::UInt(n)) if *n < min || *n > max => Err(found()),
        (Kind::Float { min, max }, Val::Float(x)) if !(min..=max).contains(x) => Err(found()),
        (Kind::Choice(choices), Val::Str(s)) => match choice(choices, s) {
            Some(c) => Ok(Val::Str(c.to_owned())),
            None => Err(found()),
        },
        _ => Ok(v),
    }
}

/// The entry of `choices` equal to `s` ignoring ASCII case.
fn choice(choices: &'static [&'static str], s: &str) -> Option<&'static str> {
    choices.iter().copied().find(|c| c.eq_ignore_ascii_case(s))
}

/// An environment variable's boolean: `true/false`, `1/0`, `yes/no`, `on/off`, any case.
fn parse_env_bool(raw: &str) -> Option<bool> {
    const TRUE: &[&str] = &["true", "1", "yes", "on"];
    const FALSE: &[&str] = &["false", "0", "no", "off"];
    let raw = raw.trim();
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(raw)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(raw)) {
        Some(false)
    } else {
        None
    }
}

/// Renders a TOML value for "found ...".
fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("{:?}", s.as_ref()),
        DeValue::Integer(i) => i.to_string(),
        DeValue::Float(x) => x.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// Converts a TOML value to `kind`; `Err(found)` on wrong type or out of range.
fn from_toml(kind: Kind, v: &DeValue<'_>) -> Result<Val, String> {
    let found = || describe(v);
    let val = match (kind, v) {
        (Kind::Profile | Kind::Str | Kind::Choice(_) | Kind::Loopback, DeValue::String(s)) => {
            Val::Str(s.to_string())
        }
        (Kind::Bool, DeValue::Boolean(b)) => Val::Bool(*b),
        (Kind::UInt { .. }, DeValue::Integer(i)) => {
            match i128::from_str_radix(i.as_str(), i.radix())
                .ok()
                .and_then(|n| u64::try_from(n).ok())
            {
                Some(n) => Val::UInt(n),
                None => return Err(found()),
            }
        }
        (Kind::Float { .. }, DeValue::Float(x)) => match x.as_str().parse::<f64>() {
            Ok(x) => Val::Float(x),
            Err(_) => return Err(found()),
        },
        (Kind::Float { .. }, DeValue::Integer(i)) => {
            match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Val::Float(n as f64),
                Err(_) => return Err(found()),
            }
        }
        _ => return Err(found()),
    };
    check_range(kind, val, found)
}

/// Parses an environment variable's value as `kind`; `Err(found)` on failure.
fn from_env(kind: Kind, raw: &str) -> Result<Val, String> {
    let found = || format!("{raw:?}");
    let val = match kind {
        Kind::Profile | Kind::Str => Val::Str(raw.to_owned()),
        Kind::Loopback => Val::Str(raw.trim().to_owned()),
        Kind::UInt { .. } => match raw.trim().replace('_', "").parse::<u64>() {
            Ok(n) => Val::UInt(n),
            Err(_) => return Err(found()),
        },
        Kind::Float { .. } => match raw.trim().parse::<f64>() {
            Ok(x) => Val::Float(x),
            Err(_) => return Err(found()),
        },
        Kind::Bool => match parse_env_bool(raw) {
            Some(b) => Val::Bool(b),
            None => return Err(found()),
        },
        Kind::Choice(_) => Val::Str(raw.trim().to_owned()),
    };
    check_range(kind, val, found)
}

/// 1-based line of byte offset `pos` in `text`.
fn line_of(text: &str, pos: usize) -> usize {
    let end = pos.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// One setting found in the file or environment.
struct Setting {
    field: &'static Field,
    val: Val,
    origin: Origin,
}

/// Parses and validates the config file text into settings.
fn parse_file(path: &Path, text: &str) -> Result<Vec<Setting>, ConfigError> {
    let doc = DeTable::parse(text).map_err(|e| {
        let mut message = e.message().trim().replace('\n', "; ");
        // Quote the offending text when it is short, e.g. "duplicate key at `readers`".
        if let Some(snippet) = e
            .span()
            .and_then(|s| text.get(s))
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 40 && !s.contains('\n'))
        {
            message.push_str(&format!(" at `{snippet}`"));
        }
        ConfigError::Syntax {
            path: path.to_owned(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message,
        }
    })?;
    let mut out = Vec::new();
    // Collect (offset, error) so the reported error is the first one in the file, not the
    // first in the table's key order.
    let mut errors: Vec<(usize, ConfigError)> = Vec::new();
    walk_table(path, text, doc.get_ref(), "", &mut out, &mut errors);
    if let Some((_, err)) = errors.into_iter().min_by_key(|(pos, _)| *pos) {
        return Err(err);
    }
    Ok(out)
}

fn walk_table(
    path: &Path,
    text: &str,
    table: &DeTable<'_>,
    prefix: &str,
    out: &mut Vec<Setting>,
    errors: &mut Vec<(usize, ConfigError)>,
) {
    for (k, v) in table.iter() {
        let name: &str = k.get_ref().as_ref();
        let key = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        let pos = k.span().start;
        let line = line_of(text, pos);
        if prefix.is_empty() && SECTIONS.contains(&name) {
            match v.get_ref() {
                DeValue::Table(t) => walk_table(path, text, t, name, out, errors),
                other => errors.push((
                    pos,
                    ConfigError::Value {
                        origin: Origin::File {
                            path: path.to_owned(),
                            line,
                        },
                        key,
                        expected: format!("a table ([{name}])"),
                        found: describe(other),
                    },
                )),
            }
            continue;
        }
        let Some(f) = field(&key) else {
            errors.push((
                pos,
                ConfigError::UnknownKey {
                    path: path.to_owned(),
                    line,
                    key,
                    table: prefix.to_owned(),
                    valid: valid_keys(prefix),
                },
            ));
            continue;
        };
        let origin = Origin::File {
            path: path.to_owned(),
            line,
        };
        match from_toml(f.kind, v.get_ref()) {
            Ok(val) => out.push(Setting {
                field: f,
                val,
                origin,
            }),
            Err(found) => errors.push((
                pos,
                ConfigError::Value {
                    origin,
                    key,
                    expected: f.kind.expected(),
                    found,
                },
            )),
        }
    }
}

/// Parses the `WEFT_*` setting overrides in `env` (sorted by name, so errors are stable).
/// Empty values are treated as unset; unknown `WEFT_<X>__<Y>` names are errors.
fn parse_env(env: &HashMap<String, String>) -> Result<Vec<Setting>, ConfigError> {
    let mut names: Vec<&String> = env.keys().filter(|k| k.starts_with("WEFT_")).collect();
    names.sort();
    let mut out = Vec::new();
    let mut shorthands = Vec::new();
    for var in names {
        let raw = &env[var];
        let key = match var.as_str() {
            "WEFT_PROFILE" => "profile",
            // Applied after the generic form so the documented shorthand wins.
            "WEFT_LOG" => {
                shorthands.push((var, "log.filter"));
                continue;
            }
            v if v.contains("__") => match FIELDS.iter().find(|f| env_var_for(f.key) == v) {
                Some(f) if f.key.contains('.') => f.key,
                _ => {
                    return Err(ConfigError::UnknownEnv {
                        var: var.clone(),
                        valid: FIELDS
                            .iter()
                            .filter(|f| f.key.contains('.'))
                            .map(|f| env_var_for(f.key))
                            .collect(),
                    })
                }
            },
            // WEFT_HOME, WEFT_CONFIG, WEFT_VENV, WEFT_MODELS (paths, read by `load_from_env`)
            // and variables owned by other parts of weft.
            _ => continue,
        };
        // An empty value means "unset", as for WEFT_HOME and the XDG variables.
        if !raw.is_empty() {
            out.push(env_setting(var, key, raw)?);
        }
    }
    for (var, key) in shorthands {
        if let Some(raw) = env.get(var.as_str()).filter(|v| !v.is_empty()) {
            out.push(env_setting(var, key, raw)?);
        }
    }
    Ok(out)
}

fn env_setting(var: &str, key: &str, raw: &str) -> Result<Setting, ConfigError> {
    let origin = Origin::Env {
        var: var.to_owned(),
    };
    let Some(f) = field(key) else {
        // Unreachable: `key` comes from FIELDS.
        return Err(ConfigError::UnknownEnv {
            var: var.to_owned(),
            valid: Vec::new(),
        });
    };
    match from_env(f.kind, raw) {
        Ok(val) => Ok(Setting {
            field: f,
            val,
            origin,
        }),
        Err(found) => Err(ConfigError::Value {
            origin,
            key: key.to_owned(),
            expected: f.kind.expected(),
            found,
        }),
    }
}

/// Checks that involve more than one setting.
fn check_consistency(
    config: &Config,
    origins: &HashMap<&'static str, Origin>,
) -> Result<(), ConfigError> {
    let s = &config.supervision;
    check_order(
        origins,
        ("supervision.backoff_min_ms", s.backoff_min_ms),
        ("supervision.backoff_max_ms", s.backoff_max_ms),
    )?;
    for kind in PoolKind::ALL {
        let p = config.pool(kind);
        let (min_key, max_key) = match kind {
            PoolKind::Embed => ("embed.min_workers", "embed.max_workers"),
            PoolKind::Ner => ("ner.min_workers", "ner.max_workers"),
            PoolKind::Llm => ("llm.min_workers", "llm.max_workers"),
        };
        check_order(
            origins,
            (min_key, u64::from(p.min_workers)),
            (max_key, u64::from(p.max_workers)),
        )?;
    }
    Ok(())
}

/// Errors unless `lo <= hi`, blaming the low key where the user set it, else the high one;
/// the message names both keys.
fn check_order(
    origins: &HashMap<&'static str, Origin>,
    (lo_key, lo): (&'static str, u64),
    (hi_key, hi): (&'static str, u64),
) -> Result<(), ConfigError> {
    if lo <= hi {
        return Ok(());
    }
    let (key, origin, expected, found) = match origins.get(lo_key) {
        Some(o) => (
            lo_key,
            o.clone(),
            format!("a value no larger than {hi_key} ({hi})"),
            lo,
        ),
        None => (
            hi_key,
            origins.get(hi_key).cloned().unwrap_or(Origin::Env {
                var: env_var_for(hi_key),
            }),
            format!("a value no smaller than {lo_key} ({lo})"),
            hi,
        ),
    };
    Err(ConfigError::Value {
        origin,
        key: key.to_owned(),
        expected,
        found: found.to_string(),
    })
}

/// A non-empty environment variable, if set.
fn var<'a>(env: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    env.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// `value` as an absolute path (relative to the current directory).
fn absolute(var: &str, value: &str) -> Result<PathBuf, ConfigError> {
    std::path::absolute(value).map_err(|source| ConfigError::RelativePath {
        var: var.to_owned(),
        value: value.to_owned(),
        source,
    })
}

/// An XDG base directory (absolute values only, per the spec) or `$HOME/<fallback>`.
fn xdg_dir(
    env: &HashMap<String, String>,
    xdg: &'static str,
    fallback: &str,
    what: &'static str,
    weft: &'static str,
) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = var(env, xdg).map(Path::new).filter(|p| p.is_absolute()) {
        return Ok(dir.to_owned());
    }
    match var(env, "HOME") {
        Some(home) => Ok(absolute("HOME", home)?.join(fallback)),
        None => Err(ConfigError::NoHome { what, xdg, weft }),
    }
}

fn config_file_path(env: &HashMap<String, String>) -> Result<PathBuf, ConfigError> {
    match var(env, "WEFT_CONFIG") {
        Some(p) => absolute("WEFT_CONFIG", p),
        None => Ok(xdg_dir(
            env,
            "XDG_CONFIG_HOME",
            ".config",
            "config file",
            "WEFT_CONFIG",
        )?
        .join("weft")
        .join("config.toml")),
    }
}

/// A shared data directory (the workers' venv or models): `$<weft>` (made absolute), else
/// `$XDG_DATA_HOME/weft/<name>`, else `$HOME/.local/share/weft/<name>`, else (no user data
/// directory at all) `<home>/<name>`, so an environment with only `WEFT_HOME` still loads.
fn shared_data_path(
    env: &HashMap<String, String>,
    weft: &'static str,
    name: &str,
    what: &'static str,
    home: &Path,
) -> Result<PathBuf, ConfigError> {
    if let Some(p) = var(env, weft) {
        return absolute(weft, p);
    }
    match xdg_dir(env, "XDG_DATA_HOME", ".local/share", what, weft) {
        Ok(dir) => Ok(dir.join("weft").join(name)),
        Err(ConfigError::NoHome { .. }) => Ok(home.join(name)),
        Err(e) => Err(e),
    }
}

fn home_path(env: &HashMap<String, String>) -> Result<PathBuf, ConfigError> {
    match var(env, "WEFT_HOME") {
        Some(p) => absolute("WEFT_HOME", p),
        None => Ok(xdg_dir(
            env,
            "XDG_DATA_HOME",
            ".local/share",
            "data directory",
            "WEFT_HOME",
        )?
        .join("weft")),
    }
}

/// Load from the real process environment.
pub fn load() -> Result<Loaded, ConfigError> {
    load_from_env(&process_env()?)
}

/// Load from the real process environment with a profile and/or home given on a command line
/// (`--profile`, `--home`), which beat `WEFT_PROFILE` / `WEFT_HOME`.
pub fn load_with(profile: Option<&str>, home: Option<&Path>) -> Result<Loaded, ConfigError> {
    let mut env = process_env()?;
    if let Some(p) = profile {
        env.insert("WEFT_PROFILE".into(), p.to_owned());
    }
    if let Some(h) = home {
        env.insert("WEFT_HOME".into(), h.to_string_lossy().into_owned());
    }
    load_from_env(&env)
}

/// The process environment as text; a non-UTF-8 value of a variable Weft reads is an error.
fn process_env() -> Result<HashMap<String, String>, ConfigError> {
    let mut env = HashMap::new();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        match v.into_string() {
            Ok(v) => {
                env.insert(k.to_owned(), v);
            }
            Err(_) if k.starts_with("WEFT_") || k.starts_with("XDG_") || k == "HOME" => {
                return Err(ConfigError::EnvNotUnicode { var: k.to_owned() })
            }
            Err(_) => {}
        }
    }
    Ok(env)
}

/// Load with an explicit environment (tests; also `weft` uses it with CLI overrides merged in):
/// keys are env var names.
pub fn load_from_env(env: &HashMap<String, String>) -> Result<Loaded, ConfigError> {
    let config_file = config_file_path(env)?;
    let (file_settings, file_found) = match fs::read_to_string(&config_file) {
        Ok(text) => (parse_file(&config_file, &text)?, true),
        // A path through a regular file cannot exist either: same as missing.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            if var(env, "WEFT_CONFIG").is_some() {
                tracing::warn!(path = %config_file.display(), "WEFT_CONFIG points to a missing file; using defaults");
            } else {
                tracing::debug!(path = %config_file.display(), "no config file; using defaults");
            }
            (Vec::new(), false)
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: config_file,
                source,
            })
        }
    };
    let env_settings = parse_env(env)?;

    let mut config = Config::default();
    let mut origins = HashMap::new();
    for s in file_settings.into_iter().chain(env_settings) {
        (s.field.set)(&mut config, s.val);
        origins.insert(s.field.key, s.origin);
    }
    check_consistency(&config, &origins)?;

    let home = home_path(env)?;
    let venv = shared_data_path(env, "WEFT_VENV", "venv", "workers' venv", &home)?;
    let models = shared_data_path(env, "WEFT_MODELS", "models", "models directory", &home)?;
    let paths = Paths {
        home,
        config_file,
        profile: config.profile.clone(),
        venv,
        models,
    };
    tracing::debug!(
        config_file = %paths.config_file.display(),
        file_found,
        profile = %paths.profile,
        data_dir = %paths.data_dir().display(),
        venv = %paths.venv.display(),
        models = %paths.models.display(),
        "configuration loaded"
    );
    Ok(Loaded {
        config,
        paths,
        file_found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIELDS must list exactly the keys that serde (de)serialises.
    #[test]
    fn fields_match_config_struct() {
        let table: toml::Table = match toml::from_str(&Config::default().to_toml()) {
            Ok(t) => t,
            Err(e) => panic!("default config does not round-trip: {e}"),
        };
        let mut keys = Vec::new();
        for (k, v) in &table {
            match v.as_table() {
                Some(t) => keys.extend(t.keys().map(|k2| format!("{k}.{k2}"))),
                None => keys.push(k.clone()),
            }
        }
        keys.sort();
        let mut fields: Vec<String> = FIELDS.iter().map(|f| f.key.to_owned()).collect();
        fields.sort();
        assert_eq!(keys, fields);
        let mut sections: Vec<&str> = table
            .iter()
            .filter(|(_, v)| v.is_table())
            .map(|(k, _)| k.as_str())
            .collect();
        sections.sort();
        let mut documented = SECTIONS.to_vec();
        documented.sort();
        assert_eq!(sections, documented);
        // Sections are exactly the prefixes of dotted keys, and every pool kind is one.
        let mut prefixes: Vec<&str> = FIELDS
            .iter()
            .filter_map(|f| f.key.split_once('.').map(|(s, _)| s))
            .collect();
        prefixes.sort();
        prefixes.dedup();
        assert_eq!(prefixes, documented);
        for kind in PoolKind::ALL {
            assert!(SECTIONS.contains(&kind.as_str()), "{kind}");
        }
    }

    /// Every default is accepted by its own field's kind (so defaults and ranges agree).
    #[test]
    fn defaults_are_in_range() {
        let table: toml::Table = match toml::from_str(&Config::default().to_toml()) {
            Ok(t) => t,
            Err(e) => panic!("default config does not round-trip: {e}"),
        };
        for f in FIELDS {
            let value = match f.key.split_once('.') {
                Some((section, key)) => table.get(section).and_then(|t| t.get(key)),
                None => table.get(f.key),
            };
            let Some(value) = value else {
                panic!("{} has no default in to_toml", f.key)
            };
            let ok = match (f.kind, value) {
                (Kind::Profile, toml::Value::String(s)) => is_profile_name(s),
                (Kind::Str, toml::Value::String(_)) => true,
                (Kind::Choice(c), toml::Value::String(s)) => c.contains(&s.as_str()),
                (Kind::Loopback, toml::Value::String(s)) => parse_listen(s).is_some(),
                (Kind::Bool, toml::Value::Boolean(_)) => true,
                (Kind::UInt { min, max }, toml::Value::Integer(n)) => {
                    u64::try_from(*n).is_ok_and(|n| (min..=max).contains(&n))
                }
                (Kind::Float { min, max }, toml::Value::Float(x)) => (min..=max).contains(x),
                _ => false,
            };
            assert!(ok, "default of {} ({value}) does not fit its kind", f.key);
        }
    }

    #[test]
    fn env_bools_and_choices() {
        for t in ["true", "TRUE", "1", "yes", "Yes", "on", " ON "] {
            assert_eq!(parse_env_bool(t), Some(true), "{t}");
        }
        for f in ["false", "False", "0", "no", "NO", "off", "Off"] {
            assert_eq!(parse_env_bool(f), Some(false), "{f}");
        }
        for bad in ["", "2", "y", "maybe", "truee"] {
            assert_eq!(parse_env_bool(bad), None, "{bad}");
        }
        assert_eq!(choice(EMBED_BACKENDS, "ONNX"), Some("onnx"));
        assert_eq!(choice(EMBED_BACKENDS, "cuda"), None);
    }

    /// A valid value of `kind` that differs from every default (defaults are `true` and the
    /// first choice).
    fn sample(kind: Kind) -> Val {
        match kind {
            Kind::Profile | Kind::Str => Val::Str("x".to_owned()),
            Kind::UInt { min, .. } => Val::UInt(min + 7),
            Kind::Float { .. } => Val::Float(0.5),
            Kind::Bool => Val::Bool(false),
            Kind::Choice(c) => Val::Str(c.last().copied().unwrap_or_default().to_owned()),
            Kind::Loopback => Val::Str("[::1]:0".to_owned()),
        }
    }

    /// Setting every field through FIELDS reaches the right struct field.
    #[test]
    fn setters_roundtrip() {
        let mut c = Config::default();
        for f in FIELDS {
            (f.set)(&mut c, sample(f.kind));
        }
        let d = Config::default();
        assert_eq!(c.profile, "x");
        assert_eq!(c.log.filter, "x");
        assert_eq!(c.storage.readers, 8);
        assert_eq!(c.storage.busy_timeout_ms, 7);
        assert_eq!(c.supervision.max_restarts, 7);
        assert_eq!(c.supervision.period_ms, 8);
        assert_eq!(c.supervision.backoff_min_ms, 7);
        assert_eq!(c.supervision.backoff_max_ms, 7);
        assert_eq!(c.supervision.backoff_jitter, 0.5);
        assert_eq!(c.supervision.reset_after_ms, 7);
        let w = &c.workers;
        assert!(!w.enabled);
        assert_eq!((w.python.as_str(), w.models_dir.as_str()), ("x", "x"));
        assert_eq!(w.start_timeout_ms, 8);
        assert_eq!(w.health_interval_ms, 107);
        assert_eq!(w.health_timeout_ms, 57);
        assert_eq!(w.call_timeout_ms, 107);
        assert_eq!(w.stop_grace_ms, 7);
        assert_eq!(w.admission_wait_ms, 7);
        let e = &c.embed;
        assert!(!e.enabled);
        assert_eq!(
            (e.min_workers, e.max_workers, e.queue, e.inflight),
            (7, 8, 8, 8)
        );
        assert_eq!(e.model, "x");
        assert_eq!(e.backend, "openvino");
        assert_eq!(e.precision, "int8");
        assert_eq!((e.threads, e.batch_size), (7, 8));
        let n = &c.ner;
        assert!(!n.enabled);
        assert_eq!(
            (n.min_workers, n.max_workers, n.queue, n.inflight),
            (7, 8, 8, 8)
        );
        let l = &c.llm;
        assert!(!l.enabled && !l.local_only);
        assert_eq!(
            (l.min_workers, l.max_workers, l.queue, l.inflight),
            (7, 8, 8, 8)
        );
        assert_eq!(l.model, "x");
        assert_ne!(c, d);
        // Each setter on its own changes the config: none is a no-op.
        for f in FIELDS {
            let mut one = Config::default();
            (f.set)(&mut one, sample(f.kind));
            if one == d && matches!(f.kind, Kind::Bool) {
                // A switch that is off by default: turning it on must change the config.
                (f.set)(&mut one, Val::Bool(true));
            }
            assert_ne!(one, d, "setting {} changed nothing", f.key);
        }
    }

    #[test]
    fn listen_addresses_must_be_loopback() {
        for ok in [
            "127.0.0.1:7878",
            "127.0.0.1:0",
            "[::1]:9000",
            "localhost:80",
            " 127.0.0.2:1 ",
        ] {
            assert!(parse_listen(ok).is_some(), "{ok}");
        }
        for bad in [
            "0.0.0.0:7878",
            "192.168.1.2:7878",
            "[::]:7878",
            "example.com:80",
            "127.0.0.1",
            "127.0.0.1:99999",
            "",
        ] {
            assert!(parse_listen(bad).is_none(), "{bad}");
        }
        assert_eq!(
            ApiConfig::default().listen_addr(),
            SocketAddr::from(([127, 0, 0, 1], 7878))
        );
    }

    #[test]
    fn profile_names() {
        assert!(is_profile_name("default"));
        assert!(is_profile_name("a-B_9"));
        assert!(!is_profile_name(""));
        assert!(!is_profile_name("../x"));
        assert!(!is_profile_name("a.b"));
        assert!(!is_profile_name(&"a".repeat(65)));
        assert!(is_profile_name(&"a".repeat(64)));
    }
}
