//! `/v1/git/*`: the git event log, status and diff of a workspace (the daemon's when
//! `workspace` is omitted). Status and diff are read live from the repository (off the
//! runtime); the log comes from `git_events`, which the `git` actor fills.

use std::path::PathBuf;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{error, ApiContext};
use crate::git::{blocking, repo, store, GitDiff, GitError, GitEvent, GitStatus};

/// Largest diff returned; past it the text is cut and `truncated` is set.
pub const MAX_DIFF_BYTES: usize = 1024 * 1024;
/// Default and largest page of `GET /v1/git/log`.
const DEFAULT_LOG: u32 = 100;
const MAX_LOG: u32 = 1000;

/// The git routes.
pub(crate) fn routes() -> Router<ApiContext> {
    Router::new()
        .route("/v1/git/status", get(status))
        .route("/v1/git/log", get(log))
        .route("/v1/git/diff", get(diff))
}

impl IntoResponse for GitError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            GitError::UnknownWorkspace(_) => (StatusCode::NOT_FOUND, "unknown_workspace"),
            GitError::Outside { .. } => (StatusCode::FORBIDDEN, "outside_workspace"),
            GitError::NotARepo(_) => (StatusCode::CONFLICT, "not_a_repo"),
            GitError::Bare(_) => (StatusCode::CONFLICT, "bare_repository"),
            GitError::Git { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "git_error"),
            GitError::Storage(_) | GitError::Index(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
            }
            GitError::Task(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::warn!(error = %self, "git request failed");
        }
        error(status, code, &self.to_string())
    }
}

fn bad_request(e: impl std::fmt::Display) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string())
}

/// The id and root of `workspace`, or of the daemon's workspace when it is `None`.
async fn workspace(ctx: &ApiContext, id: Option<i64>) -> Result<(i64, PathBuf), GitError> {
    let all = ctx.index.files().workspaces().await?;
    let found = match id {
        Some(id) => all.into_iter().find(|w| w.id.0 == id),
        None => all.into_iter().find(|w| w.root == ctx.info.workspace),
    };
    found
        .map(|w| (w.id.0, w.root))
        .ok_or(GitError::UnknownWorkspace(id.unwrap_or(0)))
}

/// Query of `GET /v1/git/status`.
#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    /// Workspace id; the daemon's when absent.
    pub workspace: Option<i64>,
}

/// The status of a workspace's repository.
pub async fn git_status(ctx: &ApiContext, id: Option<i64>) -> Result<GitStatus, GitError> {
    let (id, root) = workspace(ctx, id).await?;
    blocking(move || repo::status(id, &root)).await
}

async fn status(
    State(ctx): State<ApiContext>,
    q: Result<Query<StatusQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    git_status(&ctx, q.workspace)
        .await
        .map(Json)
        .into_response()
}

/// Query of `GET /v1/git/log`.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    /// Workspace id; the daemon's when absent.
    pub workspace: Option<i64>,
    /// Most events (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Only events older than this event id (paging).
    pub before: Option<i64>,
}

/// Answer of `GET /v1/git/log`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitLog {
    /// Newest first.
    pub events: Vec<GitEvent>,
}

/// A page of a workspace's git events, newest first.
pub async fn git_log(
    ctx: &ApiContext,
    id: Option<i64>,
    limit: Option<u32>,
    before: Option<i64>,
) -> Result<GitLog, GitError> {
    let (id, _) = workspace(ctx, id).await?;
    let limit = limit.unwrap_or(DEFAULT_LOG).clamp(1, MAX_LOG);
    let events = store::list(&ctx.storage, id, limit, before).await?;
    Ok(GitLog { events })
}

async fn log(
    State(ctx): State<ApiContext>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    git_log(&ctx, q.workspace, q.limit, q.before)
        .await
        .map(Json)
        .into_response()
}

/// Query of `GET /v1/git/diff`.
#[derive(Debug, Default, Deserialize)]
pub struct DiffQuery {
    /// Workspace id; the daemon's when absent.
    pub workspace: Option<i64>,
    /// A file or folder relative to the workspace root; everything when absent.
    pub path: Option<String>,
    /// The staged changes (index against HEAD) instead of the unstaged ones.
    #[serde(default)]
    pub staged: bool,
}

/// The diff of a workspace (see [`repo::diff`]), cut at [`MAX_DIFF_BYTES`].
pub async fn git_diff(
    ctx: &ApiContext,
    id: Option<i64>,
    path: Option<&str>,
    staged: bool,
) -> Result<GitDiff, GitError> {
    let rel = repo::relative(path.unwrap_or(""))?;
    let (_, root) = workspace(ctx, id).await?;
    blocking(move || repo::diff(&root, &rel, staged, MAX_DIFF_BYTES)).await
}

async fn diff(
    State(ctx): State<ApiContext>,
    q: Result<Query<DiffQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    git_diff(&ctx, q.workspace, q.path.as_deref(), q.staged)
        .await
        .map(Json)
        .into_response()
}
