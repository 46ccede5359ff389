//! `/v1/git/*`: the git event log, status and diff. (Being written.)

use axum::Router;

use super::ApiContext;

/// The git routes.
pub(crate) fn routes() -> Router<ApiContext> {
    Router::new()
}
