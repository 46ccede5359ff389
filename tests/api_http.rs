//! End-to-end tests of the loopback HTTP listener of `weft serve`: a real daemon on a free
//! port (`WEFT_API__LISTEN=127.0.0.1:0`, set by the harness), a plain HTTP/1 client and a
//! WebSocket client over real sockets. Token, Host and Origin checks; the UI's files; the
//! file endpoints and their path checks; saves that re-index without the watcher; UI state;
//! workspaces; the stream.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use util::api::Api;
use util::Weft;
use weft_actors::api::query_value as enc;

fn put(root: &Path, rel: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, contents).expect("write");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
}

/// The id of the workspace whose root ends with `name`.
fn workspace_id(api: &Api, name: &str) -> i64 {
    let list = api.get("/v1/workspaces").json();
    list.as_array()
        .expect("list")
        .iter()
        .find(|w| w["name"] == name)
        .and_then(|w| w["id"].as_i64())
        .unwrap_or_else(|| panic!("no workspace {name} in {list}"))
}

#[test]
fn token_host_and_origin_are_checked_and_the_url_is_published() {
    let weft = Weft::new();
    let mut serve = weft.serve();
    serve.wait_ready();
    let api = Api::of(&weft);

    // The token and the URL are private files; the URL is printed at start too.
    let token_file = weft.home().join("profiles/default/api-token");
    let url_file = weft.home().join("profiles/default/run/api-url");
    assert_eq!(mode(&token_file), 0o600);
    assert_eq!(mode(&url_file), 0o600);
    assert_eq!(
        std::fs::read_to_string(&token_file).expect("token").trim(),
        api.token
    );
    assert_eq!(api.token.len(), 64);
    assert!(
        serve
            .stderr()
            .contains(&format!("weft serve: open {}", api.url)),
        "{}",
        serve.stderr()
    );
    let out = weft.run(&["ui-url"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert_eq!(out.stdout_text().trim(), api.url);

    // No token, a wrong token: 401 in the usual error shape.
    let msg = api
        .raw("GET", "/v1/status", &[], None)
        .expect_error(401, "unauthorized");
    assert!(msg.contains("Authorization"), "{msg}");
    let wrong = format!("Bearer {}", "0".repeat(64));
    api.raw("GET", "/v1/status", &[("authorization", &wrong)], None)
        .expect_error(401, "unauthorized");
    // A token in the query is for the stream only.
    api.raw("GET", &format!("/v1/status?token={}", api.token), &[], None)
        .expect_error(401, "unauthorized");
    assert_eq!(api.get("/v1/status").status, 200);
    assert_eq!(api.get("/v1/health").body, "ok");

    // DNS rebinding: a foreign Host is refused, even with the token, and for files too.
    let bearer = api.bearer();
    let evil_host = format!("evil.example:{}", api.port);
    api.raw(
        "GET",
        "/v1/status",
        &[("host", &evil_host), ("authorization", &bearer)],
        None,
    )
    .expect_error(403, "forbidden_host");
    api.raw("GET", "/", &[("host", &evil_host)], None)
        .expect_error(403, "forbidden_host");
    for ok_host in [
        format!("localhost:{}", api.port),
        format!("[::1]:{}", api.port),
    ] {
        let r = api.raw(
            "GET",
            "/v1/health",
            &[("host", &ok_host), ("authorization", &bearer)],
            None,
        );
        assert_eq!(r.status, 200, "{ok_host}: {}", r.body);
    }

    // Origins: a foreign one is refused; the listener's own is fine; no CORS headers.
    api.raw(
        "GET",
        "/v1/status",
        &[
            ("origin", "http://evil.example"),
            ("authorization", &bearer),
        ],
        None,
    )
    .expect_error(403, "forbidden_origin");
    let own = format!("http://127.0.0.1:{}", api.port);
    let r = api.raw(
        "GET",
        "/v1/status",
        &[("origin", &own), ("authorization", &bearer)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("access-control-allow-origin").is_empty());

    // Unknown endpoints answer the JSON error shape.
    api.get("/v1/nope").expect_error(404, "not_found");

    // The status says what each node is.
    let status = api.get("/v1/status").json();
    let kind = |path: &str| {
        status["tree"]
            .as_array()
            .and_then(|t| t.iter().find(|n| n["path"] == path))
            .map(|n| n["kind"].clone())
            .unwrap_or_default()
    };
    assert_eq!(kind("root"), "supervisor");
    assert_eq!(kind("root/index"), "supervisor");
    assert_eq!(kind("root/storage"), "actor");

    // The Unix socket needs no token, as before.
    let out = weft.run(&["status"]);
    assert!(out.status.success(), "{}", out.stderr_text());

    serve.stop();
    assert!(!url_file.exists(), "the URL file is removed at shutdown");
    let out = weft.run(&["ui-url"]);
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr_text());
    assert!(out.stderr_text().contains("no `weft serve` is running"));

    // A token file others can read stops the next start, with the fix.
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut refused = weft.serve();
    let status = refused.wait_exit(Duration::from_secs(10));
    assert!(!status.success());
    let err = refused.stderr();
    assert!(
        err.contains("chmod 600") && err.contains("api-token"),
        "{err}"
    );
}

#[test]
fn the_ui_is_served_without_a_token_and_says_when_it_is_not_built() {
    let weft = Weft::new();
    let dist = weft.home().parent().expect("tmp").join("dist");
    put(&dist, "index.html", "<!doctype html><p>weft-test-ui</p>");
    put(&dist, "assets/app-abc.js", "console.log('weft');");
    weft.write_config(&format!(
        "[api]\nui_dir = {:?}\n",
        dist.display().to_string()
    ));
    let mut serve = weft.serve();
    serve.wait_ready();
    let api = Api::of(&weft);

    let r = api.raw("GET", "/", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("weft-test-ui"), "{}", r.body);
    assert!(r.header("content-type").starts_with("text/html"));
    let csp = r.header("content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains(&format!(
            "connect-src 'self' ws://127.0.0.1:{p} ws://localhost:{p}",
            p = api.port
        )),
        "{csp}"
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("referrer-policy"), "no-referrer");

    let r = api.raw("GET", "/assets/app-abc.js", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").starts_with("text/javascript"));
    assert_eq!(r.body, "console.log('weft');");
    // An app route gets the page; a missing asset does not.
    let r = api.raw("GET", "/workspace/3/file", &[], None);
    assert!(r.status == 200 && r.body.contains("weft-test-ui"));
    assert_eq!(api.raw("GET", "/assets/missing.js", &[], None).status, 404);
    assert_eq!(api.raw("GET", "/../../etc/passwd", &[], None).status, 404);

    // Without index.html, `/` explains how to build the UI.
    std::fs::remove_file(dist.join("index.html")).expect("rm");
    let r = api.raw("GET", "/", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("not built"), "{}", r.body);
    assert!(
        r.body
            .contains("npm --prefix ui ci &amp;&amp; npm --prefix ui run build"),
        "{}",
        r.body
    );
    assert!(!r.header("content-security-policy").is_empty());
    serve.stop();
}

#[test]
fn paths_outside_the_workspace_are_refused_for_read_write_and_list() {
    let weft = Weft::new();
    let root = weft.workspace();
    let outside = weft.home().parent().expect("tmp").join("outside");
    put(&outside, "secret.txt", "top secret\n");
    put(&root, "inside.txt", "fine\n");
    std::os::unix::fs::symlink(&outside, root.join("escape")).expect("dir link");
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("link.txt"))
        .expect("file link");
    let mut serve = weft.serve();
    serve.wait_ready();
    let api = Api::of(&weft);
    let ws = workspace_id(&api, "ws");

    let bad = [
        "../outside/secret.txt",
        "a/../../outside/secret.txt",
        &outside.join("secret.txt").display().to_string(),
        "escape/secret.txt",
        "link.txt",
    ];
    for path in bad {
        let msg = api
            .get(&format!("/v1/fs/file?workspace={ws}&path={}", enc(path)))
            .expect_error(403, "outside_workspace");
        assert!(msg.contains(path), "{msg}");
        let body = serde_json::json!({
            "workspace": ws, "path": path, "content": "pwned", "base_hash": null,
        })
        .to_string();
        api.call("PUT", "/v1/fs/file", Some(&body))
            .expect_error(403, "outside_workspace");
    }
    for dir in [
        "..",
        "../outside",
        "/",
        &outside.display().to_string(),
        "escape",
    ] {
        api.get(&format!("/v1/fs/list?workspace={ws}&dir={}", enc(dir)))
            .expect_error(403, "outside_workspace");
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).expect("read"),
        "top secret\n",
        "nothing outside was written"
    );
    assert!(!outside.join("pwned").exists());
    // Inside is fine; an unknown workspace is named.
    assert_eq!(
        api.get(&format!("/v1/fs/file?workspace={ws}&path=inside.txt"))
            .json()["content"],
        "fine\n"
    );
    api.get("/v1/fs/file?workspace=999&path=inside.txt")
        .expect_error(404, "unknown_workspace");
    serve.stop();
}

#[test]
fn files_round_trip_with_conflicts_and_a_save_is_searchable_without_the_watcher() {
    let weft = Weft::new();
    let root = weft.workspace();
    put(&root, "src/a.rs", "fn original_name() {}\n");
    put(&root, ".gitignore", "target/\n");
    put(&root, "target/out.rs", "fn built() {}\n");
    put(&root, "bin.dat", b"\x7fELF\0\0\0binary");
    put(&root, "latin1.txt", b"caf\xe9\n");
    std::fs::File::create(root.join("huge.txt"))
        .expect("huge")
        .set_len(6 * 1024 * 1024)
        .expect("6 MB");
    std::fs::create_dir_all(root.join(".git")).expect(".git");
    let mut serve = weft.serve_env(&[("WEFT_INDEX__WATCH", "false")]);
    serve.wait_ready();
    let api = Api::of(&weft);
    let ws = workspace_id(&api, "ws");

    // The listing: folders first, then by name; ignored entries flagged; sizes for files.
    let list = api.get(&format!("/v1/fs/list?workspace={ws}&dir=")).json();
    let names: Vec<(&str, bool, bool)> = list
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or(""),
                e["is_dir"].as_bool().unwrap_or(false),
                e["ignored"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (".git", true, true),
            ("src", true, false),
            ("target", true, true),
            (".gitignore", false, true),
            ("bin.dat", false, false),
            ("huge.txt", false, false),
            ("latin1.txt", false, false),
        ],
        "{list}"
    );
    assert_eq!(list[4]["size"], 13);
    assert!(list[0]["size"].is_null());
    let sub = api
        .get(&format!("/v1/fs/list?workspace={ws}&dir=src"))
        .json();
    assert_eq!(sub[0]["path"], "src/a.rs", "{sub}");
    assert_eq!(sub[0]["ignored"], false, "{sub}");
    // Inside an ignored folder, everything is ignored.
    let sub = api
        .get(&format!("/v1/fs/list?workspace={ws}&dir=target"))
        .json();
    assert_eq!(sub[0]["path"], "target/out.rs", "{sub}");
    assert_eq!(sub[0]["ignored"], true, "{sub}");
    api.get(&format!("/v1/fs/list?workspace={ws}&dir=src/a.rs"))
        .expect_error(400, "not_a_folder");

    // Read: content, hash, language; the refusals say why.
    let file = api
        .get(&format!("/v1/fs/file?workspace={ws}&path=src%2Fa.rs"))
        .json();
    assert_eq!(file["path"], "src/a.rs");
    assert_eq!(file["content"], "fn original_name() {}\n");
    assert_eq!(file["lang"], "rust");
    assert_eq!(file["size"], 22);
    assert!(file["mtime_ms"].as_i64().unwrap_or(0) > 0);
    let hash = file["hash"].as_str().expect("hash").to_owned();
    assert_eq!(hash.len(), 64);
    api.get(&format!("/v1/fs/file?workspace={ws}&path=nope.rs"))
        .expect_error(404, "not_found");
    let msg = api
        .get(&format!("/v1/fs/file?workspace={ws}&path=bin.dat"))
        .expect_error(415, "binary");
    assert!(msg.contains("NUL"), "{msg}");
    let msg = api
        .get(&format!("/v1/fs/file?workspace={ws}&path=latin1.txt"))
        .expect_error(415, "binary");
    assert!(msg.contains("UTF-8"), "{msg}");
    api.get(&format!("/v1/fs/file?workspace={ws}&path=huge.txt"))
        .expect_error(413, "too_large");

    // Save with the hash read: accepted, and the answer's hash is the new one.
    let save = |content: &str, base: Option<&str>| {
        let body = serde_json::json!({
            "workspace": ws, "path": "src/a.rs", "content": content, "base_hash": base,
        })
        .to_string();
        api.call("PUT", "/v1/fs/file", Some(&body))
    };
    let r = save("fn zebrafinch_quasar_token() {}\n", Some(&hash));
    assert_eq!(r.status, 200, "{}", r.body);
    let saved = r.json();
    let new_hash = saved["hash"].as_str().expect("hash").to_owned();
    assert_ne!(new_hash, hash);
    assert_eq!(saved["size"], 32);
    let again = api
        .get(&format!("/v1/fs/file?workspace={ws}&path=src/a.rs"))
        .json();
    assert_eq!(again["content"], "fn zebrafinch_quasar_token() {}\n");
    assert_eq!(again["hash"], new_hash.as_str());
    assert_eq!(mode(&root.join("src/a.rs")) & 0o600, 0o600);

    // A stale base hash is a conflict and changes nothing; null overwrites.
    let msg = save("fn lost() {}\n", Some(&hash)).expect_error(409, "conflict");
    assert!(msg.contains("changed on disk"), "{msg}");
    std::fs::write(root.join("src/a.rs"), "fn edited_elsewhere() {}\n").expect("edit");
    save("fn lost() {}\n", Some(&new_hash)).expect_error(409, "conflict");
    assert_eq!(
        std::fs::read_to_string(root.join("src/a.rs")).expect("read"),
        "fn edited_elsewhere() {}\n"
    );
    let r = save(
        "fn zebrafinch_quasar_token() { let overwrite = 1; }\n",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // New files: an existing folder is fine, a missing one is not created.
    let body = serde_json::json!({
        "workspace": ws, "path": "src/new.rs", "content": "fn created() {}\n", "base_hash": null,
    })
    .to_string();
    assert_eq!(api.call("PUT", "/v1/fs/file", Some(&body)).status, 200);
    let body = serde_json::json!({
        "workspace": ws, "path": "nodir/new.rs", "content": "x", "base_hash": null,
    })
    .to_string();
    api.call("PUT", "/v1/fs/file", Some(&body))
        .expect_error(404, "not_found");
    assert!(!root.join("nodir").exists());
    let leftovers: Vec<_> = std::fs::read_dir(root.join("src"))
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    // The watcher is off: only the save itself can have re-indexed the file.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = serde_json::json!({ "query": "zebrafinch_quasar_token", "no_vector": true })
            .to_string();
        let r = api.call("POST", "/v1/search", Some(&body));
        assert_eq!(r.status, 200, "{}", r.body);
        let hits = r.json();
        let found = hits["hits"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["path"] == "src/a.rs"));
        if found {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the saved text was never indexed: {hits}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The saves are handed to the indexer in order, but the search above may have matched
    // the first save of `src/a.rs` before `src/new.rs` was applied: wait for the listing too.
    let files = loop {
        let files = api.get(&format!("/v1/fs/files?workspace={ws}")).json();
        let listed = |name: &str| {
            files["paths"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p == name))
        };
        if listed("src/a.rs") && listed("src/new.rs") {
            break files;
        }
        assert!(
            Instant::now() < deadline,
            "the new file never reached the listing: {files}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(files["truncated"], false);
    let paths: Vec<&str> = files["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(!paths.iter().any(|p| p.starts_with("target/")), "{paths:?}");
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(paths, sorted);
    serve.stop();
}

#[test]
fn ui_state_round_trips_any_json_under_checked_keys() {
    let weft = Weft::new();
    let mut serve = weft.serve();
    serve.wait_ready();
    let api = Api::of(&weft);

    api.get("/v1/ui-state/layout")
        .expect_error(404, "not_found");
    let value = r#"{"sidebar":240,"tabs":["a.rs","b.rs"],"nested":{"x":null}}"#;
    let r = api.call("PUT", "/v1/ui-state/layout", Some(value));
    assert_eq!(r.status, 204, "{}", r.body);
    let r = api.get("/v1/ui-state/layout");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, value);
    assert_eq!(
        api.call("PUT", "/v1/ui-state/layout", Some("42")).status,
        204
    );
    assert_eq!(api.get("/v1/ui-state/layout").json(), 42);

    api.call("PUT", "/v1/ui-state/a%20b", Some("1"))
        .expect_error(400, "bad_key");
    api.get(&format!("/v1/ui-state/{}", "k".repeat(65)))
        .expect_error(400, "bad_key");
    api.call("PUT", "/v1/ui-state/ok", Some("{not json"))
        .expect_error(400, "bad_json");
    let big = format!("\"{}\"", "x".repeat(1 << 20));
    api.call("PUT", "/v1/ui-state/big", Some(&big))
        .expect_error(413, "too_large");
    api.get("/v1/ui-state/big").expect_error(404, "not_found");
    serve.stop();
}

#[test]
fn workspaces_are_listed_most_recently_opened_first() {
    let weft = Weft::new();
    let tmp = weft.home().parent().expect("tmp").to_path_buf();
    for name in ["one", "two"] {
        put(&tmp.join(name), "f.txt", name);
    }
    let mut serve = weft.serve();
    serve.wait_ready();
    let api = Api::of(&weft);
    let names = || -> Vec<String> {
        api.get("/v1/workspaces")
            .json()
            .as_array()
            .expect("list")
            .iter()
            .map(|w| w["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(names(), vec!["ws"]);
    let open = |name: &str| {
        let body = serde_json::json!({ "path": tmp.join(name).display().to_string() }).to_string();
        let r = api.call("POST", "/v1/index", Some(&body));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["workspace"].as_i64().expect("id")
    };
    let one = open("one");
    let two = open("two");
    assert_eq!(names(), vec!["two", "one", "ws"]);
    // Opening again is idempotent (same id) and moves it to the front.
    assert_eq!(open("one"), one);
    assert_eq!(names(), vec!["one", "two", "ws"]);
    let list = api.get("/v1/workspaces").json();
    assert_eq!(list[1]["id"], two);
    assert_eq!(
        list[0]["root"],
        tmp.join("one")
            .canonicalize()
            .expect("canonical")
            .display()
            .to_string()
    );
    assert!(list[0]["last_opened_ms"].as_i64() > list[1]["last_opened_ms"].as_i64());
    serve.stop();
}

#[test]
fn the_stream_starts_with_status_and_reports_file_changes() {
    let weft = Weft::new();
    let root = weft.workspace();
    put(&root, "start.txt", "hello\n");
    let mut serve = weft.serve();
    serve.wait_ready();
    let api = Api::of(&weft);
    let ws = workspace_id(&api, "ws");

    util::block_on(async {
        // Without the token, or with a wrong one, the upgrade is refused with 401.
        for url in [
            format!("ws://127.0.0.1:{}/v1/stream", api.port),
            format!(
                "ws://127.0.0.1:{}/v1/stream?token={}",
                api.port,
                "f".repeat(64)
            ),
        ] {
            match tokio_tungstenite::connect_async(url.as_str()).await {
                Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                    assert_eq!(resp.status().as_u16(), 401, "{url}");
                }
                Err(e) => panic!("{url}: expected a 401, got {e}"),
                Ok(_) => panic!("{url}: connected without the token"),
            }
        }

        let url = format!("ws://127.0.0.1:{}/v1/stream?token={}", api.port, api.token);
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect with the token");
        let first = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a first message")
            .expect("open")
            .expect("frame");
        let first: serde_json::Value =
            serde_json::from_str(first.to_text().expect("text")).expect("json");
        assert_eq!(first["type"], "status", "{first}");
        assert!(first["report"]["tree"].is_array());

        // Wait for the first scan to settle, then change a file on disk.
        tokio::time::sleep(Duration::from_millis(500)).await;
        std::fs::write(root.join("start.txt"), "changed\n").expect("edit");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let msg = tokio::time::timeout_at(deadline, socket.next())
                .await
                .unwrap_or_else(|_| panic!("no fs message naming start.txt; got {seen:?}"))
                .expect("open")
                .expect("frame");
            let Ok(text) = msg.to_text() else { continue };
            let v: serde_json::Value = serde_json::from_str(text).expect("json");
            let kind = v["type"].as_str().unwrap_or("").to_owned();
            if kind == "fs"
                && v["workspace"] == ws
                && v["paths"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p == "start.txt"))
            {
                break;
            }
            seen.push(kind);
        }
        socket.close(None).await.ok();
    });
    serve.stop();
}
