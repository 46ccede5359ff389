//! The loopback HTTP listener: the same `/v1` API as the Unix socket, plus the WebSocket
//! stream and the built UI, for a browser on this machine.
//!
//! A browser is a hostile client even on 127.0.0.1: any web page the user visits can send
//! requests to `http://127.0.0.1:PORT`, and a DNS-rebinding page can even make them look
//! same-origin. So, on this listener only (the Unix socket's 0700 directory is its own access
//! control):
//!
//! * every `/v1` request carries `Authorization: Bearer <token>` (the WebSocket `/v1/stream`
//!   may pass `?token=` instead: browsers cannot set headers on a WebSocket), compared in
//!   constant time; the token is 32 random bytes, hex, in `<data dir>/api-token` (0600), made
//!   on first start and kept across restarts. `weft serve` prints, and writes to
//!   `<run dir>/api-url` (0600), the one-time URL `http://127.0.0.1:PORT/#token=...`: the
//!   fragment never reaches the server in a request line or a `Referer`;
//! * the `Host` header must name the listener itself (`127.0.0.1:PORT`, `localhost:PORT`,
//!   `[::1]:PORT`), which defeats DNS rebinding, for static files too;
//! * an `Origin` header, when present, must be the listener's own origin; no CORS headers are
//!   ever sent, so other origins cannot read answers either;
//! * HTML carries a Content-Security-Policy that allows only this origin (and its WebSocket).
//!
//! Static files (`/`, `/assets/*`, and `index.html` for other paths outside `/v1`) need no
//! token: the page takes it from the URL fragment.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;

use super::{error, routes, ApiContext};
use crate::config::Loaded;

/// Length of a new token, in random bytes (written as twice as many hex digits).
const TOKEN_BYTES: usize = 32;

/// Errors preparing the loopback listener (before anything is bound).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The token file is readable or writable by other users.
    #[error(
        "API token file {} has mode {mode:04o}: other users could read it and drive Weft; run \
         `chmod 600 {}` and start again",
        path.display(), path.display()
    )]
    TokenPermissions {
        /// The token file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The token file belongs to another user.
    #[error(
        "API token file {} is owned by uid {owner}, not by you (uid {me}); remove it (weft \
         makes a new one) or chown it to yourself",
        path.display()
    )]
    TokenOwner {
        /// The token file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's user.
        me: u32,
    },
    /// The token file holds something that is not a token.
    #[error(
        "API token file {} does not hold a token (32 to 256 letters and digits); remove it and \
         weft makes a new one",
        path.display()
    )]
    TokenInvalid {
        /// The token file.
        path: PathBuf,
    },
    /// Reading or creating the token file failed.
    #[error("API token file {}: {source}; check that the data directory is writable by you", path.display())]
    TokenIo {
        /// The token file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `[api] ui_dir` cannot be made absolute.
    #[error("[api] ui_dir {dir:?}: {source}; set it to an absolute path")]
    UiDir {
        /// The configured value.
        dir: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// The bearer token of the loopback listener. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct ApiToken(Arc<str>);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

impl ApiToken {
    /// Reads the token at `path`, or makes one (mode 0600) when there is none. Refuses a file
    /// that other users can read or write, or that another user owns. Blocking.
    pub fn load_or_create(path: &Path) -> Result<ApiToken, HttpError> {
        let io_err = |source| HttpError::TokenIo {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::File::open(path) {
            Ok(mut file) => {
                let meta = file.metadata().map_err(io_err)?;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(HttpError::TokenPermissions {
                        path: path.to_path_buf(),
                        mode,
                    });
                }
                let me = crate::config::current_uid();
                if meta.uid() != me {
                    return Err(HttpError::TokenOwner {
                        path: path.to_path_buf(),
                        owner: meta.uid(),
                        me,
                    });
                }
                let mut text = String::new();
                file.read_to_string(&mut text)
                    .map_err(|_| HttpError::TokenInvalid {
                        path: path.to_path_buf(),
                    })?;
                let token = text.trim();
                let valid = (32..=256).contains(&token.len())
                    && token.bytes().all(|b| b.is_ascii_alphanumeric());
                if !valid {
                    return Err(HttpError::TokenInvalid {
                        path: path.to_path_buf(),
                    });
                }
                Ok(ApiToken(Arc::from(token)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let token = random_hex(TOKEN_BYTES).map_err(io_err)?;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(io_err)?;
                file.write_all(format!("{token}\n").as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io_err)?;
                tracing::info!(path = %path.display(), "created the API token");
                Ok(ApiToken(Arc::from(token.as_str())))
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// The token itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the token, comparing every byte whatever the first difference
    /// (constant time for a given length; the length of a token is no secret).
    pub fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        std::hint::black_box(diff) == 0
    }
}

/// `n` bytes from the OS's random source, as lower-case hex.
fn random_hex(n: usize) -> io::Result<String> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The UI the source tree Weft was built from builds into (`ui/dist`, next to `actors/`).
pub fn default_ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("ui")
        .join("dist")
}

/// Everything the loopback listener needs; shared by every incarnation of the API actor.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Where to listen (`[api] listen`; port 0 = any free port).
    pub listen: SocketAddr,
    /// The built UI (`[api] ui_dir`).
    pub ui_dir: PathBuf,
    /// The bearer token.
    pub token: ApiToken,
    /// Where the one-time URL is written once bound (`<run dir>/api-url`).
    pub url_file: PathBuf,
    /// The address actually bound, once it is (a restarted API tries to keep it).
    bound: Arc<Mutex<Option<SocketAddr>>>,
}

impl HttpOptions {
    /// The listener's options from the `[api]` section, loading (or making) the token; `None`
    /// when `[api] http = false`. Blocking (reads the token file).
    pub fn from_config(loaded: &Loaded) -> Result<Option<HttpOptions>, HttpError> {
        let api = &loaded.config.api;
        if !api.http {
            return Ok(None);
        }
        let ui_dir = if api.ui_dir.is_empty() {
            default_ui_dir()
        } else {
            std::path::absolute(&api.ui_dir).map_err(|source| HttpError::UiDir {
                dir: api.ui_dir.clone(),
                source,
            })?
        };
        Ok(Some(HttpOptions {
            listen: api.listen_addr(),
            ui_dir,
            token: ApiToken::load_or_create(&loaded.paths.api_token_path())?,
            url_file: loaded.paths.api_url_path(),
            bound: Arc::default(),
        }))
    }

    /// The address the listener is bound to, once it is.
    pub fn bound(&self) -> Option<SocketAddr> {
        self.bound.lock().ok().and_then(|b| *b)
    }

    /// The one-time URL that opens the UI: `http://127.0.0.1:PORT/#token=...`.
    pub fn url(&self) -> Option<String> {
        self.bound().map(|addr| url_for(addr, &self.token))
    }

    fn set_bound(&self, addr: SocketAddr) {
        if let Ok(mut b) = self.bound.lock() {
            *b = Some(addr);
        }
    }
}

/// `/v1/stream` and `/v1/terms/{id}/io`: the routes that are WebSockets.
fn is_websocket_path(path: &str) -> bool {
    path == "/v1/stream"
        || path
            .strip_prefix("/v1/terms/")
            .and_then(|rest| rest.strip_suffix("/io"))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

fn url_for(addr: SocketAddr, token: &ApiToken) -> String {
    format!("http://{addr}/#token={}", token.as_str())
}

/// Binds the listener. A restarted API first tries the port its previous incarnation had
/// (so the URL the user holds keeps working), waiting briefly while the old socket closes.
pub(crate) async fn bind(opts: &HttpOptions) -> Result<(TcpListener, SocketAddr), String> {
    let previous = opts.bound();
    if opts.listen.port() == 0 {
        if let Some(prev) = previous {
            if let Ok(l) = bind_patiently(prev, Duration::from_millis(500)).await {
                return local(l, prev);
            }
        }
    }
    let patience = if previous.is_some() {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    };
    match bind_patiently(opts.listen, patience).await {
        Ok(l) => local(l, opts.listen),
        Err(e) => Err(format!(
            "cannot listen on {}: {e}; set [api] listen (or WEFT_API__LISTEN) to a free loopback \
             address such as 127.0.0.1:0 (any free port), or turn the browser listener off with \
             [api] http = false",
            opts.listen
        )),
    }
}

fn local(l: TcpListener, asked: SocketAddr) -> Result<(TcpListener, SocketAddr), String> {
    let addr = l
        .local_addr()
        .map_err(|e| format!("listening on {asked}: cannot read the bound address: {e}"))?;
    Ok((l, addr))
}

/// Binds `addr`, retrying "address in use" for up to `patience`.
async fn bind_patiently(addr: SocketAddr, patience: Duration) -> io::Result<TcpListener> {
    let deadline = Instant::now() + patience;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Records the bound address and writes the one-time URL file (0600). Blocking.
pub(crate) fn publish(opts: &HttpOptions, addr: SocketAddr) -> Result<String, String> {
    opts.set_bound(addr);
    let url = url_for(addr, &opts.token);
    write_private(&opts.url_file, &format!("{url}\n")).map_err(|e| {
        format!(
            "cannot write the UI URL to {}: {e}",
            opts.url_file.display()
        )
    })?;
    Ok(url)
}

/// Replaces `path` with `text`, readable by the owner only (a temp file renamed over it).
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// What the guard checks, fixed once the port is known.
struct Guard {
    token: ApiToken,
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Guard {
    fn new(addr: SocketAddr, token: ApiToken) -> Guard {
        let port = addr.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        // Another loopback address (127.0.0.2, ...) names itself.
        let own = addr.to_string();
        if !hosts.contains(&own) {
            hosts.push(own);
        }
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        Guard {
            token,
            hosts,
            origins,
        }
    }

    fn host_ok(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn origin_ok(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    fn authorized(&self, req: &Request) -> bool {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            });
        if let Some(given) = bearer {
            return self.token.matches(given);
        }
        // Browsers cannot set headers on a WebSocket: the WebSockets (the stream and a
        // terminal's I/O) take the token as a query parameter instead, and only they do.
        if is_websocket_path(req.uri().path()) {
            let from_query = req.uri().query().and_then(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == "token")
                    .map(|(_, v)| v)
            });
            if let Some(given) = from_query {
                return self.token.matches(given);
            }
        }
        false
    }
}

/// The router of the loopback listener bound at `addr`: the API behind the guard, and the UI.
pub(crate) fn app(ctx: ApiContext, opts: &HttpOptions, addr: SocketAddr) -> Router {
    let guard = Arc::new(Guard::new(addr, opts.token.clone()));
    let site = Arc::new(Site {
        ui_dir: opts.ui_dir.clone(),
        csp: format!(
            "default-src 'self'; connect-src 'self' ws://127.0.0.1:{port} ws://localhost:{port}; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:",
            port = addr.port()
        ),
    });
    routes()
        .fallback(move |method: Method, uri: axum::http::Uri| {
            let site = Arc::clone(&site);
            async move { site.serve(&method, uri.path()).await }
        })
        .with_state(ctx)
        .layer(axum::middleware::from_fn_with_state(guard, check))
}

/// Host and Origin checks for every request, the token for `/v1`.
async fn check(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(h) if guard.host_ok(&h) => {}
        Some(h) => {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden_host",
                &format!(
                    "Host `{h}` is not this Weft listener; open the URL `weft ui-url` prints \
                     (only {} are accepted)",
                    guard.hosts.join(", ")
                ),
            )
        }
        None => {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden_host",
                "the request has no Host header; open the URL `weft ui-url` prints",
            )
        }
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !guard.origin_ok(origin) {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                &format!(
                    "requests from origin `{origin}` are refused: only pages served by this \
                     listener may call the API"
                ),
            );
        }
    }
    let path = req.uri().path();
    let api = path == "/v1" || path.starts_with("/v1/");
    if api && !guard.authorized(&req) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API token: send `Authorization: Bearer <token>` with the token \
             from the URL `weft ui-url` prints (the stream also takes `?token=`)",
        );
    }
    next.run(req).await
}

/// The built UI, served from disk.
struct Site {
    ui_dir: PathBuf,
    csp: String,
}

/// What a static request resolved to.
enum Asset {
    File { bytes: Vec<u8>, path: PathBuf },
    NotBuilt,
    Missing,
}

impl Site {
    async fn serve(&self, method: &Method, path: &str) -> Response {
        if path == "/v1" || path.starts_with("/v1/") {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("no API endpoint {method} {path}"),
            );
        }
        if method != Method::GET && method != Method::HEAD {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                &format!("{method} {path}: the UI's files are read-only (GET)"),
            );
        }
        let dir = self.ui_dir.clone();
        let rel = path.trim_start_matches('/').to_owned();
        let found = tokio::task::spawn_blocking(move || find_asset(&dir, &rel)).await;
        match found {
            Ok(Asset::File { bytes, path }) => self.file(bytes, &path),
            Ok(Asset::NotBuilt) => self.html(not_built_page(&self.ui_dir)),
            Ok(Asset::Missing) => {
                let mut r = (StatusCode::NOT_FOUND, "not found\n").into_response();
                add_common_headers(r.headers_mut());
                r
            }
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &format!("reading the UI's files failed: {e}"),
            ),
        }
    }

    fn file(&self, bytes: Vec<u8>, path: &Path) -> Response {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ext == "html" {
            return self.html(bytes);
        }
        let mut r = Response::new(Body::from(bytes));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(&ext)),
        );
        // Vite names assets by content hash: they never change under the same name.
        let hashed = path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d == "assets");
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if hashed {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            }),
        );
        add_common_headers(h);
        r
    }

    fn html(&self, bytes: impl Into<Body>) -> Response {
        let mut r = Response::new(bytes.into());
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Ok(csp) = HeaderValue::from_str(&self.csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        add_common_headers(h);
        r
    }
}

fn add_common_headers(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Finds the file for a request path (relative, without the leading `/`): the file itself
/// when it exists inside the UI folder, an asset by its name under `assets/` when the page
/// asked relative to a deeper path, else `index.html` (the app routes in the page), except
/// for assets, which are plainly missing. Blocking.
fn find_asset(dir: &Path, rel: &str) -> Asset {
    let index = dir.join("index.html");
    if !index.is_file() {
        return Asset::NotBuilt;
    }
    let Ok(root) = dir.canonicalize() else {
        return Asset::NotBuilt;
    };
    let read = |p: &Path| -> Option<Asset> {
        let canon = p.canonicalize().ok()?;
        if !canon.starts_with(&root) || !canon.is_file() {
            return None;
        }
        let bytes = std::fs::read(&canon).ok()?;
        Some(Asset::File { bytes, path: canon })
    };
    let clean = Path::new(rel)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !clean || rel.contains('\0') {
        return Asset::Missing;
    }
    if !rel.is_empty() {
        if let Some(a) = read(&dir.join(rel)) {
            return a;
        }
        if let Some(pos) = rel.rfind("assets/") {
            return read(&dir.join(&rel[pos..])).unwrap_or(Asset::Missing);
        }
    }
    read(&index).unwrap_or(Asset::NotBuilt)
}

fn content_type(ext: &str) -> &'static str {
    match ext {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The page `/` shows when the UI has not been built.
fn not_built_page(dir: &Path) -> String {
    let dir = dir.display().to_string();
    let escaped = dir
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Weft: the UI is not built</title></head>\n<body>\
         <h1>The Weft UI is not built</h1>\n\
         <p><code>weft serve</code> looked for it in <code>{escaped}</code> and found no \
         <code>index.html</code>.</p>\n\
         <p>Build it from the repository root:</p>\n\
         <pre>npm --prefix ui ci &amp;&amp; npm --prefix ui run build</pre>\n\
         <p>then reload this page (no restart needed), or point <code>[api] ui_dir</code> at a \
         folder that holds a built UI.</p>\n</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> ApiToken {
        ApiToken(Arc::from("ab".repeat(32).as_str()))
    }

    #[test]
    fn token_comparison() {
        let t = token();
        assert!(t.matches(&"ab".repeat(32)));
        assert!(!t.matches(&"ab".repeat(31)));
        assert!(!t.matches(&format!("{}ac", "ab".repeat(31))));
        assert!(!t.matches(""));
        assert_eq!(format!("{t:?}"), "ApiToken(..)");
    }

    #[test]
    fn hosts_and_origins() {
        let g = Guard::new(SocketAddr::from(([127, 0, 0, 1], 4321)), token());
        for ok in [
            "127.0.0.1:4321",
            "localhost:4321",
            "LOCALHOST:4321",
            "[::1]:4321",
        ] {
            assert!(g.host_ok(ok), "{ok}");
        }
        for bad in [
            "127.0.0.1:4322",
            "evil.example:4321",
            "127.0.0.1",
            "localhost",
        ] {
            assert!(!g.host_ok(bad), "{bad}");
        }
        assert!(g.origin_ok("http://127.0.0.1:4321"));
        assert!(g.origin_ok("http://localhost:4321"));
        assert!(!g.origin_ok("https://127.0.0.1:4321"));
        assert!(!g.origin_ok("http://evil.example"));
        assert!(!g.origin_ok("null"));
    }

    #[test]
    fn token_file_is_made_private_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("api-token");
        let first = ApiToken::load_or_create(&path).expect("create");
        assert_eq!(first.as_str().len(), 64);
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = ApiToken::load_or_create(&path).expect("load");
        assert_eq!(first.as_str(), again.as_str());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = ApiToken::load_or_create(&path).expect_err("open mode refused");
        assert!(err.to_string().contains("chmod 600"), "{err}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::write(&path, "short\n").expect("write");
        let err = ApiToken::load_or_create(&path).expect_err("bad token refused");
        assert!(err.to_string().contains("does not hold a token"), "{err}");
    }

    #[test]
    fn assets_resolve_inside_the_ui_folder_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ui = dir.path().join("dist");
        assert!(matches!(find_asset(&ui, ""), Asset::NotBuilt));
        std::fs::create_dir_all(ui.join("assets")).expect("mkdir");
        std::fs::write(ui.join("index.html"), "<p>app</p>").expect("write");
        std::fs::write(ui.join("assets/app-1.js"), "js").expect("write");
        std::fs::write(dir.path().join("secret.txt"), "no").expect("write");
        let name = |a: Asset| match a {
            Asset::File { path, .. } => path.file_name().map(|n| n.to_string_lossy().into_owned()),
            _ => None,
        };
        assert_eq!(name(find_asset(&ui, "")).as_deref(), Some("index.html"));
        assert_eq!(
            name(find_asset(&ui, "assets/app-1.js")).as_deref(),
            Some("app-1.js")
        );
        assert_eq!(
            name(find_asset(&ui, "deep/link/assets/app-1.js")).as_deref(),
            Some("app-1.js")
        );
        assert_eq!(
            name(find_asset(&ui, "some/route")).as_deref(),
            Some("index.html")
        );
        assert!(matches!(find_asset(&ui, "assets/nope.js"), Asset::Missing));
        assert!(matches!(find_asset(&ui, "../secret.txt"), Asset::Missing));
    }
}
