//! A plain HTTP/1 client for the daemon's loopback listener (real sockets, the real token).

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

use super::Weft;

/// The daemon's loopback listener, from the `api-url` file it writes.
pub struct Api {
    /// Its port.
    pub port: u16,
    /// The bearer token.
    pub token: String,
    /// The one-time URL.
    pub url: String,
}

impl Api {
    pub fn of(weft: &Weft) -> Api {
        let file = weft.home().join("profiles/default/run/api-url");
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = loop {
            if let Ok(text) = std::fs::read_to_string(&file) {
                break text.trim().to_owned();
            }
            assert!(Instant::now() < deadline, "no {}", file.display());
            std::thread::sleep(Duration::from_millis(25));
        };
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("unexpected URL {url}"));
        let (port, token) = rest
            .split_once("/#token=")
            .unwrap_or_else(|| panic!("unexpected URL {url}"));
        Api {
            port: port.parse().expect("port"),
            token: token.to_owned(),
            url,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// A request with the right Host and token, plus `headers`.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> Resp {
        let bearer = self.bearer();
        self.raw(method, path, &[("authorization", &bearer)], body)
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None)
    }

    /// A request with the right Host (unless `headers` names one) and only `headers`.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let port = self.port;
        let host = self.host();
        let method = method.to_owned();
        let path = path.to_owned();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let body = body.unwrap_or("").to_owned();
        super::block_on(async move {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(conn);
            let mut req = hyper::Request::builder().method(method.as_str()).uri(&path);
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
                req = req.header("host", host);
            }
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            if !body.is_empty() {
                req = req.header("content-type", "application/json");
            }
            let req = req.body(Full::new(Bytes::from(body))).expect("request");
            let resp = sender.send_request(req).await.expect("send");
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let bytes = resp.into_body().collect().await.expect("body").to_bytes();
            Resp {
                status,
                headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }
        })
    }
}

pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: hyper::HeaderMap,
    /// Body text.
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }

    /// Asserts the status and the error code of an error answer.
    pub fn expect_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        let v = self.json();
        assert_eq!(v["code"], code, "{v}");
        let message = v["message"].as_str().unwrap_or("").to_owned();
        assert!(!message.is_empty(), "{v}");
        message
    }
}
