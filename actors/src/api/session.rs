//! `/v1/session` routes. (Being written.)

use axum::Router;

use super::ApiContext;

/// The routes.
pub(crate) fn routes() -> Router<ApiContext> {
    Router::new()
}
