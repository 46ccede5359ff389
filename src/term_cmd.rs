//! `weft term` (a terminal of the running daemon in this one) and `weft history`.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use futures::{SinkExt as _, StreamExt as _};
use tokio::io::AsyncReadExt as _;
use tokio_tungstenite::tungstenite::Message;
use weft_actors::api::{self, ClientError};
use weft_actors::config::Loaded;
use weft_actors::term::{HistoryEntry, TermControl, TermInfo};

use crate::client_failure;

/// `weft history`'s options.
pub struct HistoryArgs {
    /// Words (or a description, with `semantic`).
    pub query: String,
    /// Only failed commands.
    pub failed: bool,
    /// Rank by meaning too.
    pub semantic: bool,
    /// Most entries.
    pub limit: usize,
    /// JSON output.
    pub json: bool,
}

/// Lists or searches the recorded commands.
pub async fn history(loaded: &Loaded, args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let mut path = format!("/v1/history?limit={}", args.limit.clamp(1, 500));
    if !args.query.trim().is_empty() {
        path.push_str(&format!("&q={}", api::query_value(args.query.trim())));
    }
    if args.failed {
        path.push_str("&failed=true");
    }
    if args.semantic {
        path.push_str("&semantic=true");
    }
    let body = match api::request(&loaded.paths.socket_path(), "GET", &path, None).await {
        Ok(b) => b,
        Err(e) => return client_failure(e),
    };
    if args.json {
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        entries: Vec<HistoryEntry>,
    }
    let answer: Answer = serde_json::from_slice(&body).context("the daemon's history answer")?;
    if answer.entries.is_empty() {
        println!("no recorded commands match");
        return Ok(ExitCode::SUCCESS);
    }
    for e in answer.entries.iter().rev() {
        let status = match e.exit_code {
            Some(0) => "ok".to_owned(),
            Some(c) => format!("exit {c}"),
            None => "?".to_owned(),
        };
        let took = e
            .duration_ms
            .map(|d| format!("{:.1}s", d as f64 / 1000.0))
            .unwrap_or_default();
        println!(
            "{:>6}  {:<7} {:>7}  {}  ({})",
            e.id,
            status,
            took,
            e.command,
            e.cwd.as_deref().unwrap_or("?")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The size of the controlling terminal of stdin, if it is one.
fn tty_size() -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills a winsize struct we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0)
            .then_some((ws.ws_col, ws.ws_row))
    }
}

/// Puts stdin's terminal in raw mode until dropped.
struct RawMode(Option<libc::termios>);

impl RawMode {
    fn enter() -> Self {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with termios structs we own.
        unsafe {
            if libc::isatty(0) != 1 {
                return Self(None);
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return Self(None);
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return Self(None);
            }
            Self(Some(saved))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restores the settings read in `enter`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}

/// Opens a terminal in the daemon (in this folder) and attaches this terminal to it until its
/// shell exits; exits with the shell's status.
pub async fn term(loaded: &Loaded) -> anyhow::Result<ExitCode> {
    let socket = loaded.paths.socket_path();
    let cwd = std::env::current_dir().context("the current folder")?;
    let (cols, rows) = tty_size().unwrap_or((80, 24));
    let body = serde_json::json!({ "cwd": cwd, "cols": cols, "rows": rows });
    let info: TermInfo = match api::request(&socket, "POST", "/v1/terms", Some(body)).await {
        Ok(b) => serde_json::from_slice(&b).context("the daemon's answer to opening a terminal")?,
        Err(e @ ClientError::NotRunning { .. }) => return client_failure(e),
        Err(e) => return Err(e.into()),
    };
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .with_context(|| format!("connecting to {}", socket.display()))?;
    let url = format!("ws://localhost/v1/terms/{}/io", info.id);
    let (ws, _) = tokio_tungstenite::client_async(url.as_str(), stream)
        .await
        .context("attaching to the terminal")?;
    let (mut sink, mut source) = ws.split();
    let raw = RawMode::enter();
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 4096];
    let mut stdin_open = true;
    let mut out = std::io::stdout();
    let code = loop {
        tokio::select! {
            msg = source.next() => match msg {
                Some(Ok(Message::Binary(bytes))) => {
                    out.write_all(&bytes)?;
                    out.flush()?;
                }
                Some(Ok(Message::Text(text))) => {
                    if let Ok(TermControl::Exit { code, .. }) = serde_json::from_str::<TermControl>(&text) {
                        break code.unwrap_or(1);
                    }
                }
                Some(Ok(Message::Close(_))) | None => break 0,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    drop(raw);
                    anyhow::bail!("the terminal connection failed: {e}");
                }
            },
            n = stdin.read(&mut buf), if stdin_open => match n {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    sink.send(Message::Binary(buf[..n].to_vec().into())).await?;
                }
            },
        }
    };
    drop(raw);
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}
