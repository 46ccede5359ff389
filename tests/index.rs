//! End-to-end tests of indexing and search through the real `weft` binary: generated fixture
//! repositories on disk, a real SQLite database, the real watcher, and (in the tests that say
//! so) real embedding workers and a real LanceDB table.

mod util;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use util::Weft;

fn put(root: &Path, rel: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, contents).expect("write");
}

const RUST: &str = r#"//! HTTP helpers.
use std::collections::HashMap;

/// A parsed request.
pub struct Request {
    pub method: String,
    pub headers: HashMap<String, String>,
}

/// Parses the request line and headers of an HTTP/1.1 request.
pub fn parse_http_request(raw: &str) -> Option<Request> {
    let mut lines = raw.lines();
    let first = lines.next()?;
    let method = first.split(' ').next()?.to_owned();
    let mut headers = HashMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_lowercase(), v.trim().to_owned());
        }
    }
    Some(Request { method, headers })
}
"#;

const PYTHON: &str = r#"import functools


def compute_levenshtein(a: str, b: str) -> int:
    """Number of single-character insertions, deletions or substitutions between a and b."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


class RetryPolicy:
    @functools.cache
    def delay(self, attempt: int) -> float:
        return min(30.0, 0.5 * 2 ** attempt)
"#;

const TS: &str = r#"export interface Header { name: string; value: string }

export class HttpRequestParser {
  parseHeaders(text: string): Header[] {
    return text.split("\n").map((l) => {
      const [name, value] = l.split(":");
      return { name, value };
    });
  }
}

export function renderGreeting(user: string): string {
  return `hello ${user}`;
}
"#;

/// A repository with several languages, nested ignore rules and every kind of bad file.
fn fixture(root: &Path) {
    put(root, "src/http.rs", RUST);
    put(root, "py/textdist.py", PYTHON);
    put(root, "web/parser.ts", TS);
    put(
        root,
        "web/view.tsx",
        "export const View = () => <div>{renderGreeting(\"x\")}</div>;\n",
    );
    put(root, "web/util.js", "function debounce(fn, ms) {\n  let t;\n  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };\n}\n");
    put(
        root,
        "go/main.go",
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
    );
    put(root, "java/Main.java", "public class Main {\n  public static void main(String[] a) {\n    System.out.println(\"hi\");\n  }\n}\n");
    put(root, "c/sum.c", "int sum(int *xs, int n) {\n  int s = 0;\n  for (int i = 0; i < n; i++) s += xs[i];\n  return s;\n}\n");
    put(root, "cpp/vec.cpp", "#include <vector>\nnamespace geo {\nstruct Point { double x, y; };\ndouble dot(Point a, Point b) { return a.x * b.x + a.y * b.y; }\n}\n");
    put(
        root,
        "README.md",
        "# Fixture\n\nSome text.\n\n## Usage\n\nRun it.\n",
    );
    put(
        root,
        "config.toml",
        "[server]\nport = 8080\n\n[client]\nretries = 3\n",
    );
    put(
        root,
        "data.json",
        "{\n  \"name\": \"fixture\",\n  \"tags\": [\"a\", \"b\"]\n}\n",
    );
    put(
        root,
        "conf.yaml",
        "server:\n  port: 8080\nclient:\n  retries: 3\n",
    );
    put(
        root,
        "scripts/run.sh",
        "#!/bin/sh\nset -e\nmain() {\n  echo run\n}\nmain \"$@\"\n",
    );
    put(root, "notes.txt", "plain notes\nwith two lines\n");
    // Ignored: by .gitignore, by a nested .gitignore, by .weftignore.
    put(root, ".gitignore", "build/\n");
    put(root, "build/out.rs", "fn ignored_build_output() {}\n");
    put(root, "src/.gitignore", "*.gen.rs\n");
    put(root, "src/schema.gen.rs", "fn ignored_generated() {}\n");
    put(root, ".weftignore", "secret/\n");
    put(root, "secret/keys.txt", "ignored_secret_material\n");
    // Bad files.
    put(root, "bin.dat", b"\x7fELF\x02\x01\x01\0\0\0\0\0binary");
    put(root, "latin1.txt", b"caf\xe9 cr\xe8me br\xfbl\xe9e\n");
    let big = std::fs::File::create(root.join("big.log")).expect("big");
    big.set_len(50 * 1024 * 1024).expect("50 MB file");
    std::os::unix::fs::symlink(".", root.join("loop")).expect("symlink loop");
    std::os::unix::fs::symlink("missing-target", root.join("dangling")).expect("dangling");
}

/// (path, start_line, end_line, chunk_key, content_hash) of every chunk, sorted.
type ChunkRow = (String, i64, i64, String, String);

fn chunks(db: &Path) -> Vec<ChunkRow> {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare(
            "SELECT path, start_line, end_line, chunk_key, content_hash FROM chunks \
             ORDER BY path, start_line",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<Vec<ChunkRow>, _>>()
        .expect("rows");
    rows
}

fn search(weft: &Weft, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["search", "--json"];
    all.extend_from_slice(args);
    let out = weft.run(&all);
    assert!(
        out.status.success(),
        "search {args:?}: {}",
        out.stderr_text()
    );
    serde_json::from_slice(&out.0.stdout).expect("search json")
}

fn hit_paths(v: &serde_json::Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Every line of every indexed file is in exactly one chunk (chunks tile the file).
fn assert_tiling(root: &Path, rows: &[ChunkRow]) {
    let mut files: BTreeSet<&str> = BTreeSet::new();
    for r in rows {
        files.insert(&r.0);
    }
    for file in files {
        let text =
            String::from_utf8_lossy(&std::fs::read(root.join(file)).expect("read")).into_owned();
        let lines = text.lines().count() as i64;
        let mut next = 1;
        for r in rows.iter().filter(|r| r.0 == file) {
            assert_eq!(
                r.1, next,
                "{file}: chunk starts at {} but line {next} is next",
                r.1
            );
            assert!(r.2 >= r.1, "{file}: empty chunk {r:?}");
            next = r.2 + 1;
        }
        assert_eq!(
            next - 1,
            lines,
            "{file}: chunks end at {} of {lines} lines",
            next - 1
        );
    }
}

#[test]
fn index_skips_bad_files_with_reasons_and_covers_every_line() {
    let weft = Weft::new();
    let root = weft.workspace();
    fixture(&root);
    // An unreadable directory (root reads through permissions, so only checked as a user).
    put(&root, "locked/inside.rs", "fn locked_inside() {}\n");
    let mode = |m: u32| std::os::unix::fs::PermissionsExt::from_mode(m);
    std::fs::set_permissions(root.join("locked"), mode(0o000)).expect("chmod");
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let out = weft.run(&["index", ".", "--json"]);
    std::fs::set_permissions(root.join("locked"), mode(0o755)).expect("chmod back");
    assert!(out.status.success(), "index failed: {}", out.stderr_text());
    let summary: serde_json::Value = serde_json::from_slice(&out.0.stdout).expect("json");
    let ws = &summary["workspace"];
    let skipped: Vec<(String, String)> = ws["last_scan"]["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| {
            (
                s[0].as_str().unwrap_or_default().to_owned(),
                s[1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let reason = |p: &str| {
        skipped
            .iter()
            .find(|s| s.0 == p)
            .map(|s| s.1.clone())
            .unwrap_or_else(|| panic!("{p} not reported as skipped: {skipped:?}"))
    };
    assert_eq!(reason("bin.dat"), "binary");
    assert_eq!(reason("big.log"), "oversized");
    assert!(reason("loop").contains("symlink loop"), "{skipped:?}");
    assert!(reason("dangling").contains("unreadable"), "{skipped:?}");
    if !as_root {
        assert!(reason("locked").contains("unreadable"), "{skipped:?}");
    }

    let rows = chunks(&weft.db_path());
    let paths: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    for expected in [
        "src/http.rs",
        "py/textdist.py",
        "web/parser.ts",
        "web/view.tsx",
        "web/util.js",
        "go/main.go",
        "java/Main.java",
        "c/sum.c",
        "cpp/vec.cpp",
        "README.md",
        "config.toml",
        "data.json",
        "conf.yaml",
        "scripts/run.sh",
        "notes.txt",
        "latin1.txt",
    ] {
        assert!(
            paths.contains(expected),
            "{expected} not indexed: {paths:?}"
        );
    }
    for ignored in [
        "build/out.rs",
        "src/schema.gen.rs",
        "secret/keys.txt",
        "bin.dat",
        "big.log",
    ] {
        assert!(!paths.contains(ignored), "{ignored} must not be indexed");
    }
    assert!(
        paths.iter().all(|p| !p.starts_with("loop/")),
        "followed the symlink loop"
    );
    assert_tiling(&root, &rows);

    // Keyword search works without a daemon (and says that vectors need one).
    let v = search(&weft, &["request", "headers", "--no-vector"]);
    assert!(hit_paths(&v).iter().any(|p| p == "src/http.rs"), "{v:#}");
    // camelCase parts are searchable words.
    let v = search(&weft, &["parser", "--no-vector"]);
    assert_eq!(
        hit_paths(&v).first().map(String::as_str),
        Some("web/parser.ts"),
        "{v:#}"
    );
    // An identifier finds its definition first.
    for (ident, path) in [
        ("HttpRequestParser", "web/parser.ts"),
        ("parse_http_request", "src/http.rs"),
        ("compute_levenshtein", "py/textdist.py"),
        ("Request", "src/http.rs"),
    ] {
        let v = search(&weft, &[ident]);
        let first = &v["hits"][0];
        assert_eq!(first["path"], path, "{ident}: {v:#}");
        assert!(
            first["scores"]["symbol_rank"].as_u64().is_some(),
            "{ident}: {v:#}"
        );
    }
    // Filters.
    let v = search(&weft, &["server", "--lang", "yaml"]);
    assert_eq!(hit_paths(&v), vec!["conf.yaml".to_owned()], "{v:#}");
    let v = search(&weft, &["server", "--path", "*.toml"]);
    assert_eq!(hit_paths(&v), vec!["config.toml".to_owned()], "{v:#}");
    // Bad input gets one clear error.
    let out = weft.run(&["search", "x", "--lang", "klingon"]);
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("unknown language"),
        "{}",
        out.stderr_text()
    );
    let out = weft.run(&["index", "does-not-exist"]);
    assert!(!out.status.success());
    assert!(
        out.stderr_text().contains("does-not-exist"),
        "{}",
        out.stderr_text()
    );

    // A second index run changes nothing (same chunks, no rewrite).
    let out = weft.run(&["index", ".", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let again: serde_json::Value = serde_json::from_slice(&out.0.stdout).expect("json");
    assert_eq!(again["workspace"]["last_scan"]["indexed"], 0, "{again:#}");
    assert_eq!(chunks(&weft.db_path()), rows);
}

/// Polls a search until `pred` holds on its hit paths (10 s).
fn eventually(weft: &Weft, args: &[&str], what: &str, pred: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = search(weft, args);
        if pred(&hit_paths(&v)) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: last answer {v:#}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn edits_renames_and_deletes_follow_while_serving() {
    let weft = Weft::new();
    let root = weft.workspace();
    put(&root, "a.rs", "fn alpha_unique_token() {}\n");
    put(&root, "dir/b.py", "def beta_unique_token():\n    pass\n");
    let mut serve = weft.serve();
    serve.wait_ready();
    weft.wait_status(|v| v["index"]["workspaces"][0]["scans"].as_u64() >= Some(1));
    eventually(
        &weft,
        &["alpha_unique_token", "--no-vector"],
        "initial index",
        |p| p == ["a.rs"],
    );

    // Create.
    put(
        &root,
        "new/c.ts",
        "export function gammaUniqueToken() { return 1; }\n",
    );
    eventually(
        &weft,
        &["gammaUniqueToken", "--no-vector"],
        "created file",
        |p| p == ["new/c.ts"],
    );
    // Edit: the old text is gone, the new one found.
    put(&root, "a.rs", "fn delta_unique_token() {}\n");
    eventually(
        &weft,
        &["delta_unique_token", "--no-vector"],
        "edited file",
        |p| p == ["a.rs"],
    );
    eventually(
        &weft,
        &["alpha_unique_token", "--no-vector"],
        "old text",
        |p| p.is_empty(),
    );
    // Rename a file and a directory: only the new paths are returned.
    std::fs::rename(root.join("a.rs"), root.join("renamed.rs")).expect("rename");
    eventually(
        &weft,
        &["delta_unique_token", "--no-vector"],
        "renamed file",
        |p| p == ["renamed.rs"],
    );
    std::fs::rename(root.join("dir"), root.join("moved")).expect("rename dir");
    eventually(
        &weft,
        &["beta_unique_token", "--no-vector"],
        "renamed dir",
        |p| p == ["moved/b.py"],
    );
    // Delete: never returned again.
    std::fs::remove_file(root.join("renamed.rs")).expect("delete");
    eventually(
        &weft,
        &["delta_unique_token", "--no-vector"],
        "deleted file",
        |p| p.is_empty(),
    );
    std::fs::remove_dir_all(root.join("moved")).expect("delete dir");
    eventually(
        &weft,
        &["beta_unique_token", "--no-vector"],
        "deleted dir",
        |p| p.is_empty(),
    );
    // A file that becomes ignored leaves the index.
    put(&root, ".gitignore", "new/\n");
    eventually(
        &weft,
        &["gammaUniqueToken", "--no-vector"],
        "newly ignored",
        |p| p.is_empty(),
    );
    let rows = chunks(&weft.db_path());
    assert!(
        rows.iter()
            .all(|r| r.0 != "a.rs" && !r.0.starts_with("dir/") && !r.0.starts_with("new/")),
        "{rows:?}"
    );
    serve.stop();
}

#[test]
fn stale_hits_are_flagged_when_the_file_changed_after_indexing() {
    let weft = Weft::new();
    weft.write_config("[index]\nwatch = false\n");
    let root = weft.workspace();
    put(&root, "s.rs", "fn stale_probe_token() {}\n");
    let mut serve = weft.serve();
    serve.wait_ready();
    weft.wait_status(|v| v["index"]["workspaces"][0]["scans"].as_u64() >= Some(1));
    let v = search(&weft, &["stale_probe_token", "--no-vector"]);
    assert_eq!(v["hits"][0]["stale"], false, "{v:#}");
    put(
        &root,
        "s.rs",
        "fn stale_probe_token() { let changed = 1; }\n",
    );
    let v = search(&weft, &["stale_probe_token", "--no-vector"]);
    assert_eq!(v["hits"][0]["stale"], true, "{v:#}");
    serve.stop();
}

/// Many files, so that a SIGKILL lands in the middle of the keyword phase.
fn many_files(root: &Path, n: usize) {
    for i in 0..n {
        let body: String = (0..12)
            .map(|j| {
                format!(
                    "pub fn item_{i}_{j}(x: u64) -> u64 {{\n    x.wrapping_mul({j}) ^ {i}\n}}\n\n"
                )
            })
            .collect();
        put(root, &format!("m{}/f{i}.rs", i % 20), body);
    }
}

/// Starts `weft serve` with `config` on 3,000 generated files and returns once `moment`
/// holds for the workspace's status, failing if indexing went idle first.
fn serve_until<'a>(
    weft: &'a Weft,
    config: &str,
    moment: impl Fn(&serde_json::Value) -> bool,
) -> util::Daemon<'a> {
    weft.write_config(config);
    many_files(&weft.workspace(), 3000);
    let mut serve = weft.serve();
    serve.wait_ready();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = weft.status_json();
        let ws = &v["index"]["workspaces"][0];
        if moment(ws) {
            return serve;
        }
        assert!(
            ws["scans"].as_u64() == Some(0) || ws["phase"] != "idle",
            "indexing finished before it could be interrupted; grow the fixture: {v:#}"
        );
        assert!(Instant::now() < deadline, "no progress: {v:#}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// SIGKILLs `serve`, runs `killed` on what it left, starts it again, waits until indexing
/// is idle, and returns the chunks.
fn kill_and_resume(
    weft: &Weft,
    mut serve: util::Daemon<'_>,
    killed: impl FnOnce(),
) -> Vec<ChunkRow> {
    serve.signal(libc::SIGKILL);
    serve.wait_exit(Duration::from_secs(10));
    killed();
    let mut serve = weft.serve();
    serve.wait_ready();
    weft.wait_status_for(Duration::from_secs(120), |v| {
        v["index"]["workspaces"][0]["scans"].as_u64() >= Some(1)
            && v["index"]["workspaces"][0]["phase"] == "idle"
    });
    serve.stop();
    chunks(&weft.db_path())
}

/// The same 3,000 files indexed in one go (`weft index`, default settings), elsewhere.
fn one_pass_reference() -> Weft {
    let reference = Weft::new();
    many_files(&reference.workspace(), 3000);
    let out = reference.run(&["index", "."]);
    assert!(out.status.success(), "{}", out.stderr_text());
    reference
}

#[test]
fn sigkill_mid_index_converges_to_the_uninterrupted_result() {
    let weft = Weft::new();
    // Kill once some files are written but the scan is not finished.
    let serve = serve_until(&weft, "[index]\nthreads = 1\n", |ws| {
        ws["counts"]["files"].as_u64().unwrap_or(0) > 0 && ws["scans"].as_u64() == Some(0)
    });
    let mut partial = Vec::new();
    let resumed = kill_and_resume(&weft, serve, || partial = chunks(&weft.db_path()));
    let expected = chunks(&one_pass_reference().db_path());
    assert!(
        partial.len() < expected.len(),
        "the kill did not interrupt indexing"
    );
    assert_eq!(resumed.len(), expected.len());
    assert_eq!(
        resumed, expected,
        "chunk ids and hashes differ from an uninterrupted run"
    );
    let keys: BTreeSet<&str> = resumed.iter().map(|r| r.3.as_str()).collect();
    assert_eq!(keys.len(), resumed.len(), "duplicate chunk ids");
}

/// One number from the database.
fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open db");
    conn.query_row(sql, [], |r| r.get(0)).expect("count")
}

#[test]
fn text_first_windows_are_searchable_then_become_syntax_chunks_even_after_sigkill() {
    let weft = Weft::new();
    // Text first from the first byte: every new file is written as line windows first. Kill
    // the daemon once the scan is done (keyword search covers the tree) and the syntax pass
    // runs.
    let serve = serve_until(&weft, "[index]\nthreads = 1\ntext_first_mb = 0\n", |ws| {
        ws["phase"] == "refining"
    });
    let db = weft.db_path();
    let resumed = kill_and_resume(&weft, serve, || {
        assert!(
            count(&db, "SELECT count(*) FROM chunks WHERE pending = 2") > 0,
            "no text-first windows were left to chunk by syntax"
        );
        // Keyword search covers every file, windows included (the syntax pass runs
        // 1,024 files at a time, so the last files are still windows).
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM chunks_fts JOIN chunks ON chunks.id = chunks_fts.rowid \
                 WHERE chunks_fts MATCH 'item_2999_11' AND chunks.path = 'm19/f2999.rs'"
            ),
            1
        );
    });

    let reference = one_pass_reference();
    assert_eq!(
        resumed,
        chunks(&reference.db_path()),
        "text first then syntax must end where syntax alone does"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM chunks WHERE pending = 2"),
        0
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM files WHERE state = 'discovered'"),
        0
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM symbols"),
        count(&reference.db_path(), "SELECT count(*) FROM symbols"),
        "every file's symbols are written by the syntax pass"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM vector_tombstones"),
        0,
        "replaced windows never had vectors: no tombstones"
    );
    let v = search(&weft, &["item_2999_11"]);
    assert_eq!(
        hit_paths(&v).first().map(String::as_str),
        Some("m19/f2999.rs")
    );
}

/// Chunk keys that should have vectors (non-blank chunks), and whether any is still pending.
fn embeddable_keys(db: &Path) -> (BTreeSet<String>, i64) {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare("SELECT chunk_key FROM chunks WHERE pending = 0")
        .expect("prepare");
    let keys = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<BTreeSet<_>, _>>()
        .expect("rows");
    let pending: i64 = conn
        .query_row("SELECT count(*) FROM chunks WHERE pending = 1", [], |r| {
            r.get(0)
        })
        .expect("pending");
    (keys, pending)
}

/// A daemon environment with the embed pool only (ner and llm off: faster starts).
fn embed_only() -> Weft {
    let weft = Weft::with_workers();
    weft.write_config("[ner]\nenabled = false\n\n[llm]\nenabled = false\n");
    weft
}

#[test]
fn semantic_search_finds_by_description_and_vectors_survive_sigkill() {
    let weft = embed_only();
    // A low threshold, so the daemon builds its ANN index (IVF-SQ) on this fixture and the
    // searches below go through it.
    weft.write_config(
        "[ner]\nenabled = false\n\n[llm]\nenabled = false\n\n[index]\nann_min_rows = 300\n",
    );
    let root = weft.workspace();
    fixture(&root);
    many_files(&root, 400);
    let mut serve = weft.serve();
    serve.wait_ready();
    // Kill while vectors are being written (some done, some pending).
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let v = weft.status_json();
        let c = &v["index"]["workspaces"][0]["counts"];
        let (chunks, pending) = (
            c["chunks"].as_u64().unwrap_or(0),
            c["pending"].as_u64().unwrap_or(0),
        );
        if chunks > 400 && pending > 0 && pending < chunks {
            break;
        }
        assert!(
            pending > 0 || chunks < 400,
            "embedding finished before the kill; grow the fixture: {v:#}"
        );
        assert!(Instant::now() < deadline, "embedding never started: {v:#}");
        std::thread::sleep(Duration::from_millis(20));
    }
    serve.signal(libc::SIGKILL);
    serve.wait_exit(Duration::from_secs(10));

    let mut serve = weft.serve();
    serve.wait_ready();
    weft.wait_status_for(Duration::from_secs(300), |v| {
        let ws = &v["index"]["workspaces"][0];
        ws["phase"] == "idle" && ws["scans"].as_u64() >= Some(1) && ws["counts"]["pending"] == 0
    });
    weft.wait_status_for(Duration::from_secs(120), |v| {
        v["index"]["vectors"]["indexed"] == true
    });

    // A function found by what it does, not by its name.
    let v = search(
        &weft,
        &["how many single character edits turn one string into another"],
    );
    let top5: Vec<String> = hit_paths(&v).into_iter().take(5).collect();
    assert!(top5.iter().any(|p| p == "py/textdist.py"), "{v:#}");
    let hit = v["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .find(|h| h["path"] == "py/textdist.py")
        .expect("hit");
    assert!(hit["scores"]["vector"].as_f64().is_some(), "{hit:#}");
    // An identifier by symbol search, first.
    let v = search(&weft, &["compute_levenshtein"]);
    assert_eq!(v["hits"][0]["path"], "py/textdist.py", "{v:#}");
    assert_eq!(v["hits"][0]["scores"]["symbol_rank"], 1, "{v:#}");
    serve.stop();

    // Exactly one vector per embedded chunk: none lost, none duplicated, none left over.
    let (keys, pending) = embeddable_keys(&weft.db_path());
    assert_eq!(pending, 0);
    let (_, _, ids) = vector_ids(&weft);
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate vectors");
    assert_eq!(unique, keys, "vectors differ from the embedded chunks");
}

/// The active vector table's (name, model, dim), and the chunk ids in it.
fn vector_ids(weft: &Weft) -> (String, String, Vec<String>) {
    let conn = rusqlite::Connection::open(weft.db_path()).expect("db");
    let (table, model, dim): (String, String, i64) = conn
        .query_row(
            "SELECT name, model, dim FROM vector_tables WHERE state = 'active'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("active vector table");
    let dir = weft.home().join("profiles/default/vectors");
    let name = table.clone();
    let ids = util::block_on(async move {
        let store = weft_vectors::VectorStore::open(&dir)
            .await
            .expect("open vectors");
        let t = store.table(&name, dim as usize).await.expect("table");
        t.chunk_ids().await.expect("ids")
    });
    (table, model, ids)
}

/// Waits until nothing is pending and the searched table holds `rows` vectors (any number
/// when `None`).
fn wait_all_embedded(weft: &Weft, rows: Option<usize>) {
    weft.wait_embedded(|v| {
        rows.is_none_or(|n| v["index"]["vectors"]["rows"].as_u64() == Some(n as u64))
    });
}

#[test]
fn a_corrupt_vector_table_is_rebuilt_and_a_new_model_gets_its_own_table() {
    let weft = embed_only();
    let root = weft.workspace();
    fixture(&root);
    let mut serve = weft.serve();
    serve.wait_ready();
    wait_all_embedded(&weft, None);
    serve.stop();
    let (table, model, before) = vector_ids(&weft);
    let (keys, _) = embeddable_keys(&weft.db_path());
    assert_eq!(before.iter().cloned().collect::<BTreeSet<_>>(), keys);

    // Damage the table on disk: every data file gone.
    let data = weft
        .home()
        .join(format!("profiles/default/vectors/{table}.lance/data"));
    for entry in std::fs::read_dir(&data).expect("data dir") {
        std::fs::remove_file(entry.expect("entry").path()).expect("remove data file");
    }
    let mut serve = weft.serve();
    serve.wait_ready();
    // The embedder notices the damage, recreates the table and refills it.
    weft.wait_status_for(Duration::from_secs(60), |_| {
        serve.stderr().contains("rebuilding it from the index")
    });
    wait_all_embedded(&weft, Some(keys.len()));
    let v = search(
        &weft,
        &["how many single character edits turn one string into another"],
    );
    assert!(v["notes"].as_array().is_some_and(|n| n.is_empty()), "{v:#}");
    serve.stop();
    assert!(
        serve.stderr().contains("rebuilding it from the index"),
        "{}",
        serve.stderr()
    );
    let (table2, _, after) = vector_ids(&weft);
    assert_eq!(table2, table);
    let after_set: BTreeSet<String> = after.iter().cloned().collect();
    assert_eq!(
        after_set.len(),
        after.len(),
        "duplicate vectors after the rebuild"
    );
    assert_eq!(after_set, keys, "the rebuilt table misses vectors");

    // Another model (int8 weights): a new table is filled, then replaces the old one.
    weft.write_config(
        "[ner]\nenabled = false\n\n[llm]\nenabled = false\n\n[embed]\nprecision = \"int8\"\n",
    );
    let mut serve = weft.serve();
    serve.wait_ready();
    // Let the embedder learn the new model and start the new table.
    weft.wait_status_for(Duration::from_secs(300), |v| {
        v["index"]["vectors"]["model"]
            .as_str()
            .is_some_and(|m| m != model)
    });
    wait_all_embedded(&weft, Some(keys.len()));
    serve.stop();
    let (table3, model3, ids3) = vector_ids(&weft);
    assert_ne!(model3, model);
    assert_ne!(table3, table);
    assert_eq!(ids3.iter().cloned().collect::<BTreeSet<_>>(), keys);
    assert!(
        !weft
            .home()
            .join(format!("profiles/default/vectors/{table}.lance"))
            .exists(),
        "the old model's table is dropped after the switch"
    );
}
