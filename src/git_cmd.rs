//! `weft git-log`: the git history the daemon recorded for a workspace, newest first.

use std::process::ExitCode;

use anyhow::Context;
use weft_actors::api::git::GitLog;
use weft_actors::api::{self, ClientError};
use weft_actors::config::Loaded;

/// Prints `GET /v1/git/log` as text (one event a line) or as JSON.
pub async fn git_log(
    loaded: &Loaded,
    json: bool,
    limit: u32,
    workspace: Option<i64>,
) -> anyhow::Result<ExitCode> {
    let mut path = format!("/v1/git/log?limit={limit}");
    if let Some(ws) = workspace {
        path.push_str(&format!("&workspace={ws}"));
    }
    let body = match api::request(&loaded.paths.socket_path(), "GET", &path, None).await {
        Ok(b) => b,
        Err(e @ ClientError::NotRunning { .. }) => {
            eprintln!("weft: {e}");
            return Ok(ExitCode::from(super::EXIT_NOT_RUNNING));
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        println!("{}", String::from_utf8_lossy(&body));
        return Ok(ExitCode::SUCCESS);
    }
    let log: GitLog = serde_json::from_slice(&body).context("reading the git log answer")?;
    if log.events.is_empty() {
        println!(
            "no git events recorded (is the workspace a git repository? see `GET /v1/git/status`)"
        );
    }
    let now = weft_actors::supervision::events::unix_ms();
    for e in &log.events {
        println!(
            "{:>8}  {:<11}  {:<7}  {}{}",
            age(now - e.ts_ms),
            e.kind,
            e.new_oid.get(..7).unwrap_or(&e.new_oid),
            e.summary,
            e.author
                .as_deref()
                .map(|a| format!("  ({a})"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `42s ago`, `5m ago`, `3h ago`, `12d ago`.
fn age(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86_400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}
