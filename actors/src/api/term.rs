//! `/v1/terms` and `/v1/history`: open, list, drive and close terminals, follow one over a
//! WebSocket, and search the command history.
//!
//! `GET /v1/terms/{id}/io` is a WebSocket: binary frames from the server are the terminal's
//! output (the scrollback first, then live, coalesced up to 64 KiB), text frames are JSON
//! control messages ([`TermControl`]: exit, cwd, command, dropped, title). From the client, a
//! binary frame is input bytes; a text frame is `{"type":"input","data":...}` or
//! `{"type":"resize","cols":...,"rows":...}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{error, ApiContext};
use crate::term::{HistoryQuery, OpenTerm, TermControl, TermError, TermFrame};

/// The terminal and history routes.
pub(crate) fn routes() -> Router<ApiContext> {
    Router::new()
        .route("/v1/terms", get(list).post(open))
        .route("/v1/terms/{id}", get(one).delete(close))
        .route("/v1/terms/{id}/input", post(input))
        .route("/v1/terms/{id}/resize", post(resize))
        .route("/v1/terms/{id}/io", get(io))
        .route("/v1/history", get(history))
        .route("/v1/history/{id}", get(history_entry))
}

impl IntoResponse for TermError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            TermError::NotFound(_) => (StatusCode::NOT_FOUND, "no_such_terminal"),
            TermError::Exited(_) => (StatusCode::CONFLICT, "terminal_exited"),
            TermError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            TermError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            TermError::Spawn { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "spawn_failed"),
            TermError::Storage(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        };
        error(status, code, &self.to_string())
    }
}

fn term_id(raw: &str) -> Result<u64, TermError> {
    raw.parse::<u64>().map_err(|_| {
        TermError::BadRequest(format!(
            "terminal id {raw:?} is not a number; list terminals with GET /v1/terms"
        ))
    })
}

async fn list(State(ctx): State<ApiContext>) -> Response {
    Json(serde_json::json!({ "terms": ctx.terms.list() })).into_response()
}

async fn open(State(ctx): State<ApiContext>, body: axum::body::Bytes) -> Response {
    // An empty body opens a terminal with the defaults.
    let req = if body.iter().all(u8::is_ascii_whitespace) {
        OpenTerm::default()
    } else {
        match serde_json::from_slice::<OpenTerm>(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    &format!("malformed request body: {e}; send {{\"cwd\": ..., \"cols\": ..., \"rows\": ..., \"shell\": ...}} (all optional)"),
                )
            }
        }
    };
    match ctx.terms.open(req).await {
        Ok(info) => (StatusCode::CREATED, Json(info)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn one(State(ctx): State<ApiContext>, Path(id): Path<String>) -> Response {
    let id = match term_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match ctx.terms.info(id) {
        Ok(info) => Json(info).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn close(State(ctx): State<ApiContext>, Path(id): Path<String>) -> Response {
    let id = match term_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match ctx.terms.close(id) {
        Ok(()) => Json(serde_json::json!({ "closed": true })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The terminal id of the path and the JSON body, or the error that names what is wrong.
fn id_and_body<T>(id: &str, body: Result<Json<T>, JsonRejection>) -> Result<(u64, T), TermError> {
    let id = term_id(id)?;
    let Json(body) = body
        .map_err(|e| TermError::BadRequest(format!("malformed request body: {}", e.body_text())))?;
    Ok((id, body))
}

#[derive(Deserialize)]
struct InputBody {
    data: String,
}

async fn input(
    State(ctx): State<ApiContext>,
    Path(id): Path<String>,
    body: Result<Json<InputBody>, JsonRejection>,
) -> Response {
    let written =
        id_and_body(&id, body).and_then(|(id, b)| ctx.terms.write(id, b.data.into_bytes()));
    match written {
        Ok(()) => Json(serde_json::json!({ "ok": true })).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct ResizeBody {
    cols: u16,
    rows: u16,
}

async fn resize(
    State(ctx): State<ApiContext>,
    Path(id): Path<String>,
    body: Result<Json<ResizeBody>, JsonRejection>,
) -> Response {
    let resized = id_and_body(&id, body).and_then(|(id, b)| ctx.terms.resize(id, b.cols, b.rows));
    match resized {
        Ok(()) => Json(serde_json::json!({ "ok": true })).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn io(
    State(ctx): State<ApiContext>,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    let id = match term_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let attachment = match ctx.terms.attach(id) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    ws.on_upgrade(move |socket| serve_io(ctx, attachment, socket))
}

/// A text frame from a terminal's client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMsg {
    Input { data: String },
    Resize { cols: u16, rows: u16 },
}

fn control_text(c: &TermControl) -> Option<String> {
    serde_json::to_string(c)
        .map_err(|e| tracing::warn!(error = %e, "cannot encode a terminal control message"))
        .ok()
}

async fn serve_io(ctx: ApiContext, mut attachment: crate::term::Attachment, mut socket: WebSocket) {
    let id = attachment.id();
    loop {
        tokio::select! {
            frame = attachment.next() => {
                let msg = match frame {
                    Some(TermFrame::Output(bytes)) => Message::Binary(bytes.into()),
                    Some(TermFrame::Control(c)) => match control_text(&c) {
                        Some(t) => Message::Text(t.into()),
                        None => continue,
                    },
                    None => {
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                };
                if socket.send(msg).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Binary(bytes))) => {
                    if let Err(e) = ctx.terms.write(id, bytes.to_vec()) {
                        tracing::debug!(term = id, error = %e, "input dropped");
                    }
                }
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMsg>(&text) {
                    Ok(ClientMsg::Input { data }) => {
                        if let Err(e) = ctx.terms.write(id, data.into_bytes()) {
                            tracing::debug!(term = id, error = %e, "input dropped");
                        }
                    }
                    Ok(ClientMsg::Resize { cols, rows }) => {
                        if let Err(e) = ctx.terms.resize(id, cols, rows) {
                            tracing::debug!(term = id, error = %e, "resize refused");
                        }
                    }
                    Err(e) => tracing::debug!(term = id, error = %e, "malformed terminal message ignored"),
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn history(
    State(ctx): State<ApiContext>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("malformed history query: {}", e.body_text()),
            )
        }
    };
    match ctx.terms.history(q).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn history_entry(State(ctx): State<ApiContext>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("history id {id:?} is not a number"),
        );
    };
    match ctx.terms.history_entry(id).await {
        Ok(Some(d)) => Json(d).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no recorded command has id {id}"),
        ),
        Err(e) => e.into_response(),
    }
}
