//! The bridge between Tauri's `invoke("api", {method, path, body})` and the core's HTTP
//! router: one request through `router.oneshot`, no socket and no token in between (the
//! webview is the only caller, and the capability file is its access control).
//!
//! The answer is the same JSON the HTTP API returns; a failure is the API's error body with
//! its status added, `{"status", "code", "message"}`, which `ui/src/api/errors.ts` reads.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde::Serialize;
use serde_json::Value;
use tower::ServiceExt;

/// A failed call, as the front end receives it when the `invoke` promise rejects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiFailure {
    /// The HTTP status the API answered with (400 when the call never reached it).
    pub status: u16,
    /// The API's stable error code, e.g. `not_found`.
    pub code: String,
    /// One line for a person.
    pub message: String,
}

impl ApiFailure {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status: status.as_u16(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// Sends one request to `router` and decodes the answer: JSON (an empty body is `null`, a
/// body that is not JSON is returned as a string) for 2xx, an [`ApiFailure`] otherwise.
pub async fn call(
    router: &Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, ApiFailure> {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
        ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("`{method}` is not an HTTP method"),
        )
    })?;
    // The command surface is /v1; anything else is not ours to forward.
    if !path.starts_with("/v1/") {
        return Err(ApiFailure::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{path} is not an API path (they start with /v1/)"),
        ));
    }
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost");
    let body = match body {
        Some(v) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let request = request.body(body).map_err(|e| {
        ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("invalid request for {path}: {e}"),
        )
    })?;
    let response = match router.clone().oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| {
            ApiFailure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("reading the answer to {path}: {e}"),
            )
        })?
        .to_bytes();
    if status.is_success() {
        Ok(success_value(&bytes))
    } else {
        Err(failure_from_body(status, &bytes))
    }
}

/// The JSON of a 2xx answer: `null` when empty, the text itself when it is not JSON.
pub fn success_value(body: &[u8]) -> Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// An error answer as an [`ApiFailure`]: the API writes `{"code", "message"}` (a nested
/// `{"error": {...}}` is read too); axum's own rejections are plain text or empty, and get a
/// code from their status.
pub fn failure_from_body(status: StatusCode, body: &[u8]) -> ApiFailure {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let inner = parsed
        .as_ref()
        .map(|v| v.get("error").filter(|e| e.is_object()).unwrap_or(v));
    let code = inner
        .and_then(|v| v.get("code"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = inner
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let text = String::from_utf8_lossy(body).trim().to_string();
    let reason = status.canonical_reason().unwrap_or("error");
    ApiFailure {
        status: status.as_u16(),
        code: code.unwrap_or_else(|| code_for_status(status).to_string()),
        message: message.unwrap_or_else(|| {
            if text.is_empty() || parsed.is_some() {
                format!("{} {reason}", status.as_u16())
            } else {
                text
            }
        }),
    }
}

/// A code for an answer that came without one.
fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "internal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use axum::Json;
    use serde_json::json;

    fn router() -> Router {
        Router::new()
            .route(
                "/v1/status",
                get(|| async { Json(json!({"degraded": false})) }),
            )
            .route("/v1/health", get(|| async { "ok" }))
            .route("/v1/empty", post(|| async { StatusCode::NO_CONTENT }))
            .route(
                "/v1/echo",
                post(|Json(v): Json<Value>| async move { Json(json!({"got": v})) }),
            )
            .route(
                "/v1/missing",
                get(|| async {
                    (
                        StatusCode::NOT_FOUND,
                        Json(json!({"code": "not_found", "message": "no such file"})),
                    )
                        .into_response()
                }),
            )
    }

    #[tokio::test]
    async fn json_answers_come_back_as_json() {
        let v = call(&router(), "GET", "/v1/status", None).await;
        assert_eq!(v, Ok(json!({"degraded": false})));
    }

    #[tokio::test]
    async fn bodies_are_sent_as_json() {
        let v = call(&router(), "post", "/v1/echo", Some(json!({"k": 3}))).await;
        assert_eq!(v, Ok(json!({"got": {"k": 3}})));
    }

    #[tokio::test]
    async fn empty_and_plain_text_answers() {
        assert_eq!(
            call(&router(), "POST", "/v1/empty", None).await,
            Ok(Value::Null)
        );
        assert_eq!(
            call(&router(), "GET", "/v1/health", None).await,
            Ok(json!("ok"))
        );
    }

    #[tokio::test]
    async fn api_errors_keep_status_code_and_message() {
        let e = call(&router(), "GET", "/v1/missing", None).await;
        assert_eq!(
            e,
            Err(ApiFailure {
                status: 404,
                code: "not_found".into(),
                message: "no such file".into(),
            })
        );
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_get_a_code() {
        let e = call(&router(), "GET", "/v1/nothing", None).await;
        assert!(matches!(e, Err(ApiFailure { status: 404, ref code, .. }) if code == "not_found"));
        let e = call(&router(), "DELETE", "/v1/status", None).await;
        assert!(
            matches!(e, Err(ApiFailure { status: 405, ref code, .. }) if code == "method_not_allowed")
        );
        // A rejected body (not JSON) keeps axum's text as the message.
        let e = call(&router(), "POST", "/v1/echo", None).await;
        assert!(
            matches!(e, Err(ApiFailure { status: 415, ref message, .. }) if !message.is_empty())
        );
    }

    #[tokio::test]
    async fn requests_outside_the_api_are_refused_before_the_router() {
        let e = call(&router(), "GET", "/index.html", None).await;
        assert!(matches!(e, Err(ApiFailure { status: 404, .. })));
        let e = call(&router(), "GE T", "/v1/status", None).await;
        assert!(
            matches!(e, Err(ApiFailure { status: 400, ref code, .. }) if code == "bad_request")
        );
    }

    #[test]
    fn nested_error_envelopes_are_read() {
        let f = failure_from_body(
            StatusCode::CONFLICT,
            br#"{"error": {"code": "conflict", "message": "changed on disk"}}"#,
        );
        assert_eq!((f.status, f.code.as_str()), (409, "conflict"));
        assert_eq!(f.message, "changed on disk");
    }
}
