//! The editor's file endpoints: registered workspaces, folder listings (with what the index
//! ignores), every indexed path for quick open, and reading and saving text files.
//!
//! Every path is relative to a registered workspace's root and must stay inside it: absolute
//! paths, `..` and NUL are refused before the file system is touched, and after resolving
//! symbolic links the real path must still be under the real root (a link pointing outside is
//! refused like `..`). A save replaces the file atomically (temp file in the same folder,
//! fsync, rename, keeping the file's permissions), refuses to overwrite a file that changed
//! on disk since the editor read it (`base_hash`), and has the index pick the file up at once
//! instead of waiting for the watcher (which may be off).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{error, ApiContext};
use crate::index::walk::{walk, WalkOptions};
use crate::index::{IndexError, WorkspaceId};
use crate::storage::{Storage, StorageError};

/// Largest file the editor opens or saves.
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;
/// How much of a file is searched for NUL bytes to call it binary.
const SNIFF_BYTES: usize = 8192;
/// Most paths `GET /v1/fs/files` returns.
pub const MAX_LISTED_FILES: usize = 500_000;
/// Request bodies of `PUT /v1/fs/file`: the largest file, JSON-escaped (every byte could
/// become `\u00XX`, but real text stays close to its size), plus room for the other fields.
pub(crate) const WRITE_BODY_LIMIT: usize = 4 * MAX_FILE_BYTES as usize;

/// Saves run one at a time, so a base-hash check and the write after it cannot interleave
/// with another save of the same file.
static SAVES: Mutex<()> = Mutex::new(());

/// What can go wrong with a file request; each maps to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// No workspace has this id.
    #[error("workspace {0} is not registered; open its folder first (`POST /v1/index` or `weft index PATH`)")]
    UnknownWorkspace(i64),
    /// The path leaves the workspace (absolute, `..`, NUL, or a symbolic link out).
    #[error("{path:?} {why}: paths must be relative to the workspace root and stay inside it")]
    Outside {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// Nothing at this path.
    #[error("{path:?} does not exist in the workspace")]
    NotFound {
        /// The path as given.
        path: String,
    },
    /// A folder where a file was expected.
    #[error("{path:?} is a folder, not a file")]
    IsFolder {
        /// The path as given.
        path: String,
    },
    /// A file where a folder was expected.
    #[error("{path:?} is not a folder")]
    NotAFolder {
        /// The path as given.
        path: String,
    },
    /// Over [`MAX_FILE_BYTES`].
    #[error(
        "{path:?} is {size} bytes, over the editor's {limit}-byte limit; open it with another tool"
    )]
    TooLarge {
        /// The path as given.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not UTF-8 text.
    #[error("{path:?} {why}: the editor opens UTF-8 text only")]
    Binary {
        /// The path as given.
        path: String,
        /// Which test failed.
        why: String,
    },
    /// The file on disk is not the one the editor read.
    #[error("{path:?} changed on disk since it was opened ({why}); reload it, or save again with base_hash null to overwrite it")]
    Conflict {
        /// The path as given.
        path: String,
        /// What changed.
        why: String,
    },
    /// The folder to save into does not exist.
    #[error("cannot save {path:?}: its folder {parent:?} does not exist; create the folder first")]
    MissingParent {
        /// The path as given.
        path: String,
        /// Its folder.
        parent: String,
    },
    /// The OS refused.
    #[error("{path:?}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The index could not be read.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The database could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The blocking task failed (a bug).
    #[error("the file task failed: {0}")]
    Task(String),
}

impl FsError {
    fn status(&self) -> StatusCode {
        match self {
            FsError::UnknownWorkspace(_) | FsError::NotFound { .. } => StatusCode::NOT_FOUND,
            FsError::MissingParent { .. } => StatusCode::NOT_FOUND,
            FsError::Outside { .. } => StatusCode::FORBIDDEN,
            FsError::IsFolder { .. } | FsError::NotAFolder { .. } => StatusCode::BAD_REQUEST,
            FsError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            FsError::Binary { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            FsError::Conflict { .. } => StatusCode::CONFLICT,
            FsError::Io { source, .. } => match source.kind() {
                io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            FsError::Index(_) | FsError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            FsError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            FsError::UnknownWorkspace(_) => "unknown_workspace",
            FsError::Outside { .. } => "outside_workspace",
            FsError::NotFound { .. } | FsError::MissingParent { .. } => "not_found",
            FsError::IsFolder { .. } => "is_a_folder",
            FsError::NotAFolder { .. } => "not_a_folder",
            FsError::TooLarge { .. } => "too_large",
            FsError::Binary { .. } => "binary",
            FsError::Conflict { .. } => "conflict",
            FsError::Io { source, .. } => match source.kind() {
                io::ErrorKind::NotFound => "not_found",
                io::ErrorKind::PermissionDenied => "permission_denied",
                _ => "io_error",
            },
            FsError::Index(_) | FsError::Storage(_) => "storage_unavailable",
            FsError::Task(_) => "internal",
        }
    }

    fn io(path: &str) -> impl FnOnce(io::Error) -> FsError + '_ {
        move |source| FsError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

impl IntoResponse for FsError {
    fn into_response(self) -> Response {
        if self.status() == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::warn!(error = %self, "file request failed");
        }
        error(self.status(), self.code(), &self.to_string())
    }
}

/// A 400 for a query string or body that does not parse.
fn bad_request(e: impl std::fmt::Display) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string())
}

/// Runs file-system work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FsError> + Send + 'static,
) -> Result<T, FsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| FsError::Task(e.to_string()))?
}

// ---------------------------------------------------------------------------------------
// Workspaces

/// One item of `GET /v1/workspaces`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkspaceInfo {
    /// Id.
    pub id: i64,
    /// Absolute, canonical root.
    pub root: String,
    /// Display name: the root's last component.
    pub name: String,
    /// When it was last opened (`POST /v1/index`, `weft serve PATH`), Unix ms.
    pub last_opened_ms: i64,
}

/// Every registered workspace, most recently opened first.
pub async fn list_workspaces(storage: &Storage) -> Result<Vec<WorkspaceInfo>, StorageError> {
    storage
        .read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, root, opened_ms FROM workspaces ORDER BY opened_ms DESC, id DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                let root: String = r.get(1)?;
                let name = Path::new(&root)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| root.clone());
                Ok(WorkspaceInfo {
                    id: r.get(0)?,
                    root,
                    name,
                    last_opened_ms: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
}

/// Records that `workspace` was just opened. The time never goes backwards and is unique, so
/// "most recently opened first" holds even for opens within the same millisecond.
pub async fn mark_opened(storage: &Storage, workspace: WorkspaceId) -> Result<(), StorageError> {
    let now = crate::supervision::events::unix_ms();
    let id = workspace.0;
    storage
        .write(move |tx| {
            tx.execute(
                "UPDATE workspaces SET opened_ms = \
                   max(?1, (SELECT coalesce(max(opened_ms), 0) + 1 FROM workspaces)) \
                 WHERE id = ?2",
                params![now, id],
            )?;
            Ok(())
        })
        .await
}

pub(crate) async fn workspaces(State(ctx): State<ApiContext>) -> Response {
    match list_workspaces(&ctx.storage).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => FsError::Storage(e).into_response(),
    }
}

/// The canonical root of a registered workspace.
async fn workspace_root(ctx: &ApiContext, id: i64) -> Result<PathBuf, FsError> {
    ctx.index
        .files()
        .workspaces()
        .await?
        .into_iter()
        .find(|w| w.id.0 == id)
        .map(|w| w.root)
        .ok_or(FsError::UnknownWorkspace(id))
}

// ---------------------------------------------------------------------------------------
// Paths

/// Checks a path from a request without touching the disk: relative, no `..`, no NUL.
/// Returns it normalised (`.` and repeated `/` dropped; `""` is the root), or why it is
/// refused.
pub(crate) fn relative_path(raw: &str) -> Result<PathBuf, &'static str> {
    if raw.contains('\0') {
        return Err("contains a NUL byte");
    }
    let mut out = PathBuf::new();
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("contains `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("is absolute"),
        }
    }
    Ok(out)
}

/// [`relative_path`] with the API's error.
fn relative(raw: &str) -> Result<PathBuf, FsError> {
    relative_path(raw).map_err(|why| FsError::Outside {
        path: raw.to_owned(),
        why: why.to_owned(),
    })
}

/// A relative path as the API writes it: `/`-separated.
fn display(rel: &Path) -> String {
    rel.to_string_lossy().into_owned()
}

/// The workspace root, resolved.
fn canonical_root(root: &Path) -> Result<PathBuf, FsError> {
    fs::canonicalize(root).map_err(|source| FsError::Io {
        path: root.display().to_string(),
        source,
    })
}

/// Resolves an existing path under `root` (canonical) and checks that it stays inside.
fn resolve_existing(root: &Path, rel: &Path, shown: &str) -> Result<PathBuf, FsError> {
    let canon = match fs::canonicalize(root.join(rel)) {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(FsError::NotFound {
                path: shown.to_owned(),
            })
        }
        Err(e) => return Err(FsError::io(shown)(e)),
    };
    if !canon.starts_with(root) {
        return Err(FsError::Outside {
            path: shown.to_owned(),
            why: "leads outside the workspace through a symbolic link".to_owned(),
        });
    }
    Ok(canon)
}

fn mtime_ms(meta: &fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn hash_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

// ---------------------------------------------------------------------------------------
// Listing

/// Query of `GET /v1/fs/list`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Workspace id.
    pub workspace: i64,
    /// Folder relative to the root; `""` (or absent) is the root.
    #[serde(default)]
    pub dir: String,
}

/// One item of `GET /v1/fs/list`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DirEntry {
    /// File name.
    pub name: String,
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    /// A folder (or a link to one).
    pub is_dir: bool,
    /// Excluded by the index's ignore rules (shown dimmed, not indexed).
    pub ignored: bool,
    /// Bytes; `None` for folders.
    pub size: Option<u64>,
}

pub(crate) async fn list(
    State(ctx): State<ApiContext>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    list_dir(&ctx, q.workspace, &q.dir)
        .await
        .map(Json)
        .into_response()
}

/// The entries of one folder, folders first, then by name; `ignored` marks what the index's
/// walker (the same ignore rules, depth 1) does not yield.
pub async fn list_dir(
    ctx: &ApiContext,
    workspace: i64,
    dir: &str,
) -> Result<Vec<DirEntry>, FsError> {
    let root = workspace_root(ctx, workspace).await?;
    let rel = relative(dir)?;
    let shown = dir.to_owned();
    blocking(move || list_blocking(&root, &rel, &shown)).await
}

fn list_blocking(root: &Path, rel: &Path, shown: &str) -> Result<Vec<DirEntry>, FsError> {
    let root = canonical_root(root)?;
    let dir = if rel.as_os_str().is_empty() {
        root.clone()
    } else {
        resolve_existing(&root, rel, shown)?
    };
    if !dir.is_dir() {
        return Err(FsError::NotAFolder {
            path: shown.to_owned(),
        });
    }
    // What the index walks in this folder: everything else is ignored. In an ignored folder
    // (or one inside an ignored folder) everything is.
    let start = dir
        .strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let all_ignored = inside_ignored(&root, &start, shown)?;
    let walked = if all_ignored {
        HashSet::new()
    } else {
        walked_names(&root, &start, shown)?
    };
    let prefix = display(rel);
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).map_err(FsError::io(shown))? {
        let entry = entry.map_err(FsError::io(shown))?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            tracing::debug!(dir = %dir.display(), name = ?file_name, "skipping a name that is not UTF-8");
            continue;
        };
        // Follow links for what they point to; a dangling one is listed as a file.
        let meta = match fs::metadata(entry.path()) {
            Ok(m) => m,
            Err(_) => match fs::symlink_metadata(entry.path()) {
                Ok(m) => m,
                Err(_) => continue,
            },
        };
        let is_dir = meta.is_dir();
        out.push(DirEntry {
            name: name.to_owned(),
            path: if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}/{name}")
            },
            is_dir,
            ignored: !walked.contains(&file_name),
            size: (!is_dir).then_some(meta.len()),
        });
    }
    out.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

/// The names the index's walker yields directly in `dir` (relative to `root`; `""` is the
/// root itself): the same ignore rules as indexing, one level deep.
fn walked_names(root: &Path, dir: &Path, shown: &str) -> Result<HashSet<OsString>, FsError> {
    let mut opts = WalkOptions::new(root);
    opts.start = (!dir.as_os_str().is_empty()).then(|| dir.to_path_buf());
    opts.max_depth = Some(1);
    opts.yield_dirs = true;
    opts.threads = 1;
    let walked = walk(&opts).map_err(|e| FsError::Io {
        path: shown.to_owned(),
        source: io::Error::other(e.to_string()),
    })?;
    Ok(walked
        .filter_map(|e| e.rel.file_name().map(OsStr::to_os_string))
        .collect())
}

/// Whether `dir` (relative to `root`) or one of its ancestors is skipped by the walker: a
/// walk started inside an ignored folder would not know it is ignored.
fn inside_ignored(root: &Path, dir: &Path, shown: &str) -> Result<bool, FsError> {
    let mut parent = PathBuf::new();
    for part in dir.components() {
        let name = part.as_os_str();
        if !walked_names(root, &parent, shown)?.contains(name) {
            return Ok(true);
        }
        parent.push(name);
    }
    Ok(false)
}

/// Query of `GET /v1/fs/files`.
#[derive(Debug, Deserialize)]
pub struct FilesQuery {
    /// Workspace id.
    pub workspace: i64,
}

/// Answer of `GET /v1/fs/files`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileList {
    /// Every indexed path (any state), sorted.
    pub paths: Vec<String>,
    /// More than [`MAX_LISTED_FILES`] exist; the rest were left out.
    pub truncated: bool,
}

pub(crate) async fn files(
    State(ctx): State<ApiContext>,
    q: Result<Query<FilesQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    indexed_paths(&ctx, q.workspace)
        .await
        .map(Json)
        .into_response()
}

/// Every path of the workspace's `files` rows, sorted, at most [`MAX_LISTED_FILES`].
pub async fn indexed_paths(ctx: &ApiContext, workspace: i64) -> Result<FileList, FsError> {
    workspace_root(ctx, workspace).await?;
    let limit = i64::try_from(MAX_LISTED_FILES + 1).unwrap_or(i64::MAX);
    let mut paths = ctx
        .storage
        .read(move |conn| {
            let mut stmt = conn
                .prepare("SELECT path FROM files WHERE workspace_id = ?1 ORDER BY path LIMIT ?2")?;
            let rows = stmt.query_map(params![workspace, limit], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    let truncated = paths.len() > MAX_LISTED_FILES;
    paths.truncate(MAX_LISTED_FILES);
    Ok(FileList { paths, truncated })
}

// ---------------------------------------------------------------------------------------
// Reading

/// Query of `GET /v1/fs/file`.
#[derive(Debug, Deserialize)]
pub struct FileQuery {
    /// Workspace id.
    pub workspace: i64,
    /// File relative to the root.
    pub path: String,
}

/// Answer of `GET /v1/fs/file`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileContent {
    /// Relative to the root, `/`-separated.
    pub path: String,
    /// The text.
    pub content: String,
    /// BLAKE3 (hex) of the bytes: what a save's `base_hash` is compared with.
    pub hash: String,
    /// Modification time, Unix ms.
    pub mtime_ms: i64,
    /// Bytes.
    pub size: u64,
    /// Language name as `weft_chunk::Lang::name` writes it, when known.
    pub lang: Option<String>,
}

pub(crate) async fn read(
    State(ctx): State<ApiContext>,
    q: Result<Query<FileQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    read_file(&ctx, q.workspace, &q.path)
        .await
        .map(Json)
        .into_response()
}

/// Reads a text file of a workspace (see the module docs for what is refused).
pub async fn read_file(
    ctx: &ApiContext,
    workspace: i64,
    path: &str,
) -> Result<FileContent, FsError> {
    let root = workspace_root(ctx, workspace).await?;
    let rel = relative(path)?;
    let shown = path.to_owned();
    blocking(move || read_blocking(&root, &rel, &shown)).await
}

fn read_blocking(root: &Path, rel: &Path, shown: &str) -> Result<FileContent, FsError> {
    let root = canonical_root(root)?;
    let file_path = resolve_existing(&root, rel, shown)?;
    let meta = fs::metadata(&file_path).map_err(FsError::io(shown))?;
    if meta.is_dir() {
        return Err(FsError::IsFolder {
            path: shown.to_owned(),
        });
    }
    if !meta.is_file() {
        return Err(FsError::Binary {
            path: shown.to_owned(),
            why: "is not a regular file (a FIFO, socket or device)".to_owned(),
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(FsError::TooLarge {
            path: shown.to_owned(),
            size: meta.len(),
            limit: MAX_FILE_BYTES,
        });
    }
    let mut file = fs::File::open(&file_path).map_err(FsError::io(shown))?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    (&mut file)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(FsError::io(shown))?;
    let size = bytes.len() as u64;
    if size > MAX_FILE_BYTES {
        return Err(FsError::TooLarge {
            path: shown.to_owned(),
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    let meta = file.metadata().map_err(FsError::io(shown))?;
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if head.contains(&0) {
        return Err(FsError::Binary {
            path: shown.to_owned(),
            why: "contains NUL bytes in its first 8 KB".to_owned(),
        });
    }
    let hash = hash_hex(&bytes);
    let rel_text = display(rel);
    let lang = weft_chunk::Lang::detect(&rel_text, head);
    let lang = (lang != weft_chunk::Lang::Text).then(|| lang.name().to_owned());
    let content = String::from_utf8(bytes).map_err(|e| FsError::Binary {
        path: shown.to_owned(),
        why: format!(
            "is not valid UTF-8 (first invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    Ok(FileContent {
        path: rel_text,
        content,
        hash,
        mtime_ms: mtime_ms(&meta),
        size,
        lang,
    })
}

// ---------------------------------------------------------------------------------------
// Saving

/// Body of `PUT /v1/fs/file`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteFileRequest {
    /// Workspace id.
    pub workspace: i64,
    /// File relative to the root; its folder must exist.
    pub path: String,
    /// The new text.
    pub content: String,
    /// The hash the editor read; `None` overwrites whatever is on disk.
    #[serde(default)]
    pub base_hash: Option<String>,
}

/// Answer of `PUT /v1/fs/file`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WriteFileResponse {
    /// BLAKE3 (hex) of what was written.
    pub hash: String,
    /// Modification time after the write, Unix ms.
    pub mtime_ms: i64,
    /// Bytes written.
    pub size: u64,
}

pub(crate) async fn write(
    State(ctx): State<ApiContext>,
    body: Result<Json<WriteFileRequest>, JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &format!("the file is over the editor's {MAX_FILE_BYTES}-byte limit: {e}"),
            )
        }
        Err(e) => return bad_request(e),
    };
    write_file(&ctx, req).await.map(Json).into_response()
}

/// Saves a text file of a workspace, then has the index pick it up now.
pub async fn write_file(
    ctx: &ApiContext,
    req: WriteFileRequest,
) -> Result<WriteFileResponse, FsError> {
    let size = req.content.len() as u64;
    if size > MAX_FILE_BYTES {
        return Err(FsError::TooLarge {
            path: req.path,
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    let workspace = req.workspace;
    let root = workspace_root(ctx, workspace).await?;
    let rel = relative(&req.path)?;
    let (answer, changed) = blocking(move || {
        write_blocking(
            &root,
            &rel,
            &req.path,
            req.content.as_bytes(),
            req.base_hash.as_deref(),
        )
    })
    .await?;
    if let Err(why) = ctx.index.update_paths_now(WorkspaceId(workspace), changed) {
        tracing::warn!(workspace, %why, "saved, but the index could not be told at once");
    }
    Ok(answer)
}

/// The save itself; returns the answer and the paths (relative to the root) that changed.
fn write_blocking(
    root: &Path,
    rel: &Path,
    shown: &str,
    content: &[u8],
    base_hash: Option<&str>,
) -> Result<(WriteFileResponse, Vec<PathBuf>), FsError> {
    // A poisoned lock only means another save panicked; the file system is still consistent.
    let _one_at_a_time = SAVES.lock().unwrap_or_else(|e| e.into_inner());
    let root = canonical_root(root)?;
    let Some(name) = rel.file_name() else {
        return Err(FsError::IsFolder {
            path: shown.to_owned(),
        });
    };
    let parent_rel = rel.parent().unwrap_or(Path::new(""));
    let missing_parent = || FsError::MissingParent {
        path: shown.to_owned(),
        parent: if parent_rel.as_os_str().is_empty() {
            ".".to_owned()
        } else {
            display(parent_rel)
        },
    };
    let parent = match fs::canonicalize(root.join(parent_rel)) {
        Ok(p) => p,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Err(missing_parent())
        }
        Err(e) => return Err(FsError::io(shown)(e)),
    };
    if !parent.starts_with(&root) {
        return Err(FsError::Outside {
            path: shown.to_owned(),
            why: "leads outside the workspace through a symbolic link".to_owned(),
        });
    }
    if !parent.is_dir() {
        return Err(missing_parent());
    }
    let mut target = parent.join(name);
    match fs::symlink_metadata(&target) {
        Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(&target) {
            // Save through the link (it stays a link), if it points inside the workspace.
            Ok(t) if t.starts_with(&root) => target = t,
            Ok(_) => {
                return Err(FsError::Outside {
                    path: shown.to_owned(),
                    why: "is a symbolic link to a file outside the workspace".to_owned(),
                })
            }
            Err(_) => {
                return Err(FsError::Outside {
                    path: shown.to_owned(),
                    why: "is a symbolic link whose target does not exist".to_owned(),
                })
            }
        },
        _ => {}
    }
    let existing = match fs::metadata(&target) {
        Ok(m) if m.is_dir() => {
            return Err(FsError::IsFolder {
                path: shown.to_owned(),
            })
        }
        Ok(m) if !m.is_file() => {
            return Err(FsError::Binary {
                path: shown.to_owned(),
                why: "is not a regular file (a FIFO, socket or device)".to_owned(),
            })
        }
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(FsError::io(shown)(e)),
    };
    if let Some(base) = base_hash {
        let why = match &existing {
            None => Some("it was deleted".to_owned()),
            Some(_) => {
                let now = fs::read(&target).map_err(FsError::io(shown))?;
                (hash_hex(&now) != base).then(|| "its contents are not the ones read".to_owned())
            }
        };
        if let Some(why) = why {
            return Err(FsError::Conflict {
                path: shown.to_owned(),
                why,
            });
        }
    }
    replace_atomically(&target, content, existing.as_ref()).map_err(FsError::io(shown))?;
    let meta = fs::metadata(&target).map_err(FsError::io(shown))?;
    let mut changed = vec![rel.to_path_buf()];
    if let Ok(real) = target.strip_prefix(&root) {
        if real != rel {
            changed.push(real.to_path_buf());
        }
    }
    Ok((
        WriteFileResponse {
            hash: hash_hex(content),
            mtime_ms: mtime_ms(&meta),
            size: content.len() as u64,
        },
        changed,
    ))
}

/// Writes `content` to a temp file next to `target`, fsyncs it, gives it the old file's
/// permissions, and renames it over `target`; then fsyncs the folder so the rename is
/// durable. Readers see the old file or the new one, never half of it.
fn replace_atomically(
    target: &Path,
    content: &[u8],
    existing: Option<&fs::Metadata>,
) -> io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::other("the file has no folder"))?;
    // Hidden, so neither the index nor a listing takes it for a file of the workspace.
    let tmp = dir.join(format!(".weft-save-{:016x}.tmp", rand::random::<u64>()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666) // the umask applies, as for any new file
            .open(&tmp)?;
        file.write_all(content)?;
        if let Some(old) = existing {
            file.set_permissions(fs::Permissions::from_mode(
                old.permissions().mode() & 0o7777,
            ))?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    match fs::File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => {}
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "could not fsync the folder after a save")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_only() {
        assert_eq!(relative("").ok(), Some(PathBuf::new()));
        assert_eq!(relative("./a//b/").ok(), Some(PathBuf::from("a/b")));
        for bad in ["/etc/passwd", "../x", "a/../../x", "a/..", "a\0b"] {
            let err = relative(bad).expect_err(bad);
            assert_eq!(err.code(), "outside_workspace", "{bad}");
        }
    }

    #[test]
    fn save_keeps_permissions_and_checks_the_base_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        std::fs::write(root.join("a.sh"), "echo 1\n").expect("write");
        std::fs::set_permissions(root.join("a.sh"), fs::Permissions::from_mode(0o750))
            .expect("chmod");
        let base = hash_hex(b"echo 1\n");
        let (r, changed) =
            write_blocking(&root, Path::new("a.sh"), "a.sh", b"echo 2\n", Some(&base))
                .expect("save");
        assert_eq!(r.hash, hash_hex(b"echo 2\n"));
        assert_eq!(changed, vec![PathBuf::from("a.sh")]);
        let mode = fs::metadata(root.join("a.sh"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o750);
        let err =
            write_blocking(&root, Path::new("a.sh"), "a.sh", b"x", Some(&base)).expect_err("stale");
        assert_eq!(err.code(), "conflict");
        let err =
            write_blocking(&root, Path::new("no/a.sh"), "no/a.sh", b"x", None).expect_err("parent");
        assert_eq!(err.code(), "not_found");
        // Nothing but the saved file is left behind.
        let names: Vec<_> = fs::read_dir(&root)
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
