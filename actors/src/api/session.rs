//! `/v1/session`: the session the UI restores (`GET`) and keeps current (`PUT {"ui": ...}`);
//! see [`crate::session`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::{error, ApiContext};
use crate::session::MAX_UI_BYTES;

/// The session routes.
pub(crate) fn routes() -> Router<ApiContext> {
    Router::new().route(
        "/v1/session",
        get(get_session)
            .put(put_session)
            .layer(axum::extract::DefaultBodyLimit::max(
                MAX_UI_BYTES + 64 * 1024,
            )),
    )
}

/// The newest snapshot, with the state as it is now (terminals included).
async fn get_session(State(ctx): State<ApiContext>) -> Response {
    let snapshot = ctx.session.last().map(|last| {
        serde_json::json!({
            "taken_ms": last.taken_ms,
            "reason": last.reason,
            "state": ctx.session.current(),
        })
    });
    Json(serde_json::json!({ "snapshot": snapshot })).into_response()
}

async fn put_session(State(ctx): State<ApiContext>, body: Bytes) -> Response {
    if body.len() > MAX_UI_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!(
                "the session's ui part is {} bytes; the limit is {MAX_UI_BYTES}: keep layout and \
                 open files there, not file contents",
                body.len()
            ),
        );
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("malformed session: {e}; send {{\"ui\": {{...}}}}"),
            )
        }
    };
    let Some(ui) = value.get("ui").filter(|u| u.is_object()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the session needs a \"ui\" object: send {\"ui\": {\"layout\": ..., \"open_files\": [...]}}",
        );
    };
    ctx.session.put_ui(ui.clone());
    Json(serde_json::json!({ "ok": true })).into_response()
}
