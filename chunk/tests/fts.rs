//! `split_terms` + `fts_query` against a real SQLite FTS5 table.

use rusqlite::{params, Connection};
use weft_chunk::{fts_query, split_terms, Conjunction};

fn db(docs: &[&str]) -> Connection {
    let conn = Connection::open_in_memory().expect("open");
    conn.execute_batch("CREATE VIRTUAL TABLE f USING fts5(body, terms, tokenize = 'unicode61');")
        .expect("create");
    for (i, d) in docs.iter().enumerate() {
        conn.execute(
            "INSERT INTO f(rowid, body, terms) VALUES (?1, ?2, ?3)",
            params![i as i64 + 1, d, split_terms(d)],
        )
        .expect("insert");
    }
    conn
}

fn search(conn: &Connection, query: &str, conj: Conjunction) -> Vec<i64> {
    let Some(q) = fts_query(query, conj) else {
        return Vec::new();
    };
    let mut stmt = conn
        .prepare("SELECT rowid FROM f WHERE f MATCH ?1 ORDER BY rowid")
        .expect("prepare");
    let rows = stmt
        .query_map([q.as_str()], |r| r.get::<_, i64>(0))
        .unwrap_or_else(|e| panic!("query {query:?} -> {q:?}: {e}"));
    rows.map(|r| r.unwrap_or_else(|e| panic!("query {query:?} -> {q:?}: {e}")))
        .collect()
}

const DOCS: &[&str] = &[
    "fn parseHttpRequest(req: &[u8]) -> Request { todo!() }",
    "def parse_http_request(raw):\n    return Request(raw)",
    "struct HTTPServer { addr: String }",
    "let decoder = utf8Decode(bytes);",
    "nothing to see here: parse the request",
];

#[test]
fn identifiers_found_by_name_parts_and_other_spelling() {
    let conn = db(DOCS);
    let and = Conjunction::And;
    // Whole camelCase name; the snake spelling matches it too (and vice versa).
    assert_eq!(search(&conn, "parseHttpRequest", and), vec![1, 2]);
    assert_eq!(search(&conn, "parse_http_request", and), vec![1, 2]);
    // By camel parts.
    assert_eq!(search(&conn, "http", and), vec![1, 2, 3]);
    assert_eq!(search(&conn, "Server", and), vec![3]);
    assert_eq!(search(&conn, "HTTPServer", and), vec![3]);
    assert_eq!(search(&conn, "decode", and), vec![4]);
    assert_eq!(search(&conn, "utf8", and), vec![4]);
    // AND vs OR.
    assert_eq!(search(&conn, "request server", and), Vec::<i64>::new());
    assert_eq!(
        search(&conn, "request server", Conjunction::Or),
        vec![1, 2, 3, 5]
    );
}

#[test]
fn nasty_queries_are_never_syntax_errors() {
    let conn = db(DOCS);
    let nasty = [
        "\"",
        "\"\"",
        "\"unterminated",
        "(",
        ")",
        "(()",
        "a)",
        "-",
        "--x",
        "*",
        "a*",
        "*a",
        ":",
        "body:",
        "terms:x",
        "x:y:z",
        "NEAR",
        "NEAR(a b, 3)",
        "AND",
        "OR",
        "NOT",
        "a AND",
        "OR b",
        "a NOT b",
        "^",
        "^a",
        "+",
        "a + b",
        "{body terms}: x",
        "'",
        "'; DROP TABLE f; --",
        "\\",
        "\0",
        "é",
        "naïve café",
        "漢字",
        "🦀 crab",
        "ﬁle",
        "ÅngströmUnit",
        "x\u{301}",
        "_",
        "__init__",
        "a_",
        "_a",
        "a__b",
        "CamelCase_snake_Mix",
        "123",
        "0x1F",
        "1e10",
        "a.b.c",
        "foo::bar",
        "foo->bar",
        "$x",
        "@decorator",
        "#include",
        "&&",
        "||",
        "!",
        "\t\n\r",
        "   ",
        "",
        "a\"b",
        "\"a\" \"b\"",
        "AND OR NOT NEAR",
        "near/3",
        "col : val",
    ];
    for q in nasty {
        for conj in [Conjunction::And, Conjunction::Or] {
            // `search` panics on any SQLite error.
            let _ = search(&conn, q, conj);
        }
    }
    let long = "x".repeat(10_000);
    let _ = search(&conn, &long, Conjunction::And);
    let many = "a b c d e f g h i j k l m n o p ".repeat(50);
    let _ = search(&conn, &many, Conjunction::Or);
}
