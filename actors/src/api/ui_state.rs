//! Small JSON values the UI keeps across reloads and restarts (layout, open tabs, recent
//! searches), in the `ui_state` table: `GET /v1/ui-state/{key}` answers the stored JSON as it
//! was given, `PUT` stores any JSON value of at most [`MAX_VALUE_BYTES`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::{params, OptionalExtension};

use super::{error, ApiContext};
use crate::storage::StorageError;

/// Largest stored value, in bytes of JSON.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Request bodies of `PUT`: a little over the limit, so an oversized value gets our own
/// `too_large` answer rather than the transport's.
pub(crate) const BODY_LIMIT: usize = MAX_VALUE_BYTES + 64 * 1024;

/// Whether `key` is `[A-Za-z0-9._-]{1,64}`.
pub fn valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn bad_key(key: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "bad_key",
        &format!(
            "ui-state key {key:?} is not valid: use 1 to 64 characters from A-Z, a-z, 0-9, '.', \
             '_' and '-'"
        ),
    )
}

fn storage_error(e: &StorageError) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
        &e.to_string(),
    )
}

/// The stored value of `key`, if any.
pub async fn load(ctx: &ApiContext, key: &str) -> Result<Option<String>, StorageError> {
    let key = key.to_owned();
    ctx.storage
        .read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT value FROM ui_state WHERE key = ?1",
                    params![key],
                    |r| r.get::<_, String>(0),
                )
                .optional()?)
        })
        .await
}

/// Stores `value` (JSON text, already checked) under `key`.
pub async fn store(ctx: &ApiContext, key: &str, value: String) -> Result<(), StorageError> {
    let key = key.to_owned();
    let now = crate::supervision::events::unix_ms();
    ctx.storage
        .write(move |tx| {
            tx.execute(
                "INSERT INTO ui_state (key, value, updated_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
                params![key, value, now],
            )?;
            Ok(())
        })
        .await
}

pub(crate) async fn get(State(ctx): State<ApiContext>, Path(key): Path<String>) -> Response {
    if !valid_key(&key) {
        return bad_key(&key);
    }
    match load(&ctx, &key).await {
        Ok(Some(value)) => ([(header::CONTENT_TYPE, "application/json")], value).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no UI state is stored under {key:?}"),
        ),
        Err(e) => storage_error(&e),
    }
}

pub(crate) async fn put(
    State(ctx): State<ApiContext>,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !valid_key(&key) {
        return bad_key(&key);
    }
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("the value for {key:?} is over the {MAX_VALUE_BYTES}-byte limit of UI state"),
        )
    };
    let body = match body {
        Ok(b) if b.len() > MAX_VALUE_BYTES => return too_large(),
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", &e.body_text()),
    };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_json",
            &format!("the value for {key:?} is not JSON: {e}"),
        );
    }
    // Valid JSON is valid UTF-8.
    let text = String::from_utf8_lossy(&body).into_owned();
    match store(&ctx, &key, text).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => storage_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn keys() {
        for ok in ["layout", "tabs.v1", "a-b_c", "..", &"k".repeat(64)] {
            assert!(valid_key(ok), "{ok}");
        }
        for bad in ["", "a/b", "a b", "ä", &"k".repeat(65)] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
