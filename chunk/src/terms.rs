//! Code-aware search terms for SQLite FTS5 (`unicode61` tokenizer).
//!
//! `unicode61` already splits `snake_case` at the underscores, but keeps `parseHttpRequest` as
//! one token. [`split_terms`] lists the camelCase parts of every compound identifier of a text
//! so they can be indexed in a second FTS column; [`fts_query`] turns a user's query into a
//! safe MATCH expression that finds an identifier by its whole name, by its parts, or written
//! in the other case style.
//!
//! # The FTS setup callers must use
//!
//! ```sql
//! CREATE VIRTUAL TABLE chunks_fts USING fts5(body, terms, tokenize = 'unicode61');
//! -- per chunk: body = the chunk's text, terms = split_terms(body)
//! SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?1 ORDER BY rank;
//! -- ?1 = fts_query(user_query, Conjunction::And), then Conjunction::Or as a fallback
//! ```
//!
//! The MATCH expression is not column-qualified: a whole identifier (`parsehttprequest`) is
//! found in `body`, its parts as a phrase (`"parse http request"`) in `terms` (or in `body`
//! when the text spells it `parse_http_request`, which `unicode61` splits at the `_`).

use std::collections::HashSet;

/// How the words of a query combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conjunction {
    /// Every word must match (precise; tried first).
    And,
    /// At least two of the content words (English stop words dropped) must match: the
    /// fallback when AND finds too little. `None` for fewer than three content words.
    AtLeastTwo,
    /// Any content word may match, ranked by BM25 (the last resort).
    Or,
}

/// Words that say little in a code search ("read file *into* string"): dropped from the
/// fallbacks, where they would match most of an index. AND keeps them.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "in", "into", "is",
    "it", "of", "on", "or", "over", "that", "the", "this", "to", "with",
];

/// Content words the fallbacks combine, at most this many (pairs grow quadratically).
const MAX_FALLBACK_WORDS: usize = 6;

/// The camelCase parts of the compound identifiers in `text`, space-separated, each
/// identifier's parts once and in order, e.g. `fn parseHttpRequest(x: HTTPServer)` gives
/// `parse Http Request HTTP Server`.
///
/// Identifiers are runs of ASCII letters, digits and `_`; each `_`-separated piece with
/// humps is split (`get_userName` gives `user Name`: `unicode61` already splits at `_`).
/// Pieces without humps (`parse`, `HTTP`, `snake_case`) and pieces starting with a digit
/// (`0x1F`) give nothing. A piece seen before in the same text gives nothing again.
pub fn split_terms(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        let b = bytes[i];
        if !b.is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        // A piece: a run of ASCII alphanumerics (identifiers' `_` separate pieces).
        let start = i;
        let mut upper_after_lower = false;
        while i < n && bytes[i].is_ascii_alphanumeric() {
            let lower_to_upper =
                i > start && bytes[i].is_ascii_uppercase() && !bytes[i - 1].is_ascii_uppercase();
            let acronym_end = i > start + 1
                && bytes[i].is_ascii_lowercase()
                && bytes[i - 1].is_ascii_uppercase()
                && bytes[i - 2].is_ascii_uppercase();
            if lower_to_upper || acronym_end {
                upper_after_lower = true;
            }
            i += 1;
        }
        let piece = &bytes[start..i];
        if !upper_after_lower || piece[0].is_ascii_digit() || !seen.insert(piece) {
            continue;
        }
        push_parts(piece, &mut out);
    }
    out
}

/// Appends the camelCase parts of `piece` (ASCII alphanumerics) to `out`, space-separated.
fn push_parts(piece: &[u8], out: &mut String) {
    let mut part_start = 0;
    for k in 1..=piece.len() {
        let boundary = k == piece.len() || {
            let (prev, cur) = (piece[k - 1], piece[k]);
            (cur.is_ascii_uppercase() && !prev.is_ascii_uppercase())
                || (cur.is_ascii_uppercase()
                    && prev.is_ascii_uppercase()
                    && piece.get(k + 1).is_some_and(u8::is_ascii_lowercase))
        };
        if boundary && k > part_start {
            if !out.is_empty() {
                out.push(' ');
            }
            // ASCII alphanumerics: always valid UTF-8.
            out.extend(piece[part_start..k].iter().map(|b| *b as char));
            part_start = k;
        }
    }
}

/// The camelCase parts of an alphanumeric word, lowercased (one part when it has no humps).
fn camel_parts(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut parts = Vec::new();
    let mut cur = String::new();
    for (k, &c) in chars.iter().enumerate() {
        if k > 0 {
            let prev = chars[k - 1];
            let boundary = (c.is_uppercase() && !prev.is_uppercase())
                || (c.is_uppercase()
                    && prev.is_uppercase()
                    && chars.get(k + 1).is_some_and(|n| n.is_lowercase()));
            if boundary && !cur.is_empty() {
                parts.push(std::mem::take(&mut cur));
            }
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

/// A quoted FTS5 string (a phrase): `"` doubled inside.
fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// A safe FTS5 MATCH expression for the user's `query`, or `None` when it has no word.
///
/// Words are the runs of alphanumerics and `_` of the query (everything else, FTS5 syntax
/// included, separates words); every word is quoted, so the expression is never an FTS5
/// syntax error and `AND`, `NEAR`, `*`, `-`, `:` typed by the user are plain text. A compound
/// identifier matches either spelling: `parseHttpRequest` becomes
/// `("parsehttprequest" OR "parse http request")` and `parse_http_request` becomes
/// `("parse http request" OR "parsehttprequest")`. Words are joined with `AND` or `OR` per
/// `conj`. Everything is lowercased (`unicode61` folds case anyway).
pub fn fts_query(query: &str, conj: Conjunction) -> Option<String> {
    let words = word_exprs(query);
    if words.is_empty() {
        return None;
    }
    if conj == Conjunction::And {
        return Some(
            words
                .into_iter()
                .map(|(_, e)| e)
                .collect::<Vec<_>>()
                .join(" AND "),
        );
    }
    let content: Vec<String> = words
        .iter()
        .filter(|(w, _)| !STOP_WORDS.contains(&w.as_str()))
        .map(|(_, e)| e.clone())
        .take(MAX_FALLBACK_WORDS)
        .collect();
    match conj {
        Conjunction::AtLeastTwo => {
            if content.len() < 3 {
                return None;
            }
            let mut pairs = Vec::new();
            for (i, a) in content.iter().enumerate() {
                for b in &content[i + 1..] {
                    pairs.push(format!("({a} AND {b})"));
                }
            }
            Some(pairs.join(" OR "))
        }
        _ => {
            // Only stop words: they are all there is to search for.
            let any = if content.is_empty() {
                words.into_iter().map(|(_, e)| e).collect()
            } else {
                content
            };
            Some(any.join(" OR "))
        }
    }
}

/// Each word of `query` (lowercased) with its quoted FTS5 expression.
fn word_exprs(query: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for word in query
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.chars().any(char::is_alphanumeric))
    {
        let mut expr = String::new();
        let snake: Vec<&str> = word.split('_').filter(|p| !p.is_empty()).collect();
        if snake.len() >= 2 {
            let parts: Vec<String> = snake.iter().flat_map(|p| camel_parts(p)).collect();
            expr.push('(');
            quote(&parts.join(" "), &mut expr);
            expr.push_str(" OR ");
            quote(&parts.concat(), &mut expr);
            expr.push(')');
            out.push((word.to_lowercase(), expr));
            continue;
        }
        let one = snake.first().copied().unwrap_or(word);
        let parts = camel_parts(one);
        if parts.len() >= 2 {
            expr.push('(');
            quote(&parts.concat(), &mut expr);
            expr.push_str(" OR ");
            quote(&parts.join(" "), &mut expr);
            expr.push(')');
        } else {
            quote(&one.to_lowercase(), &mut expr);
        }
        out.push((one.to_lowercase(), expr));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_camel_case() {
        assert_eq!(split_terms("parseHttpRequest"), "parse Http Request");
        assert_eq!(split_terms("HTTPServer"), "HTTP Server");
        assert_eq!(split_terms("utf8Decode"), "utf8 Decode");
        assert_eq!(split_terms("get_userName"), "user Name");
        assert_eq!(
            split_terms("fn parseHttpRequest(x: HTTPServer)"),
            "parse Http Request HTTP Server"
        );
        assert_eq!(split_terms("parse snake_case HTTP Parser 0x1F"), "");
        assert_eq!(split_terms("fooBar fooBar x.fooBar"), "foo Bar");
        assert_eq!(split_terms("XMLHttpRequest2"), "XML Http Request2");
        assert_eq!(split_terms("éfooBar ü"), "foo Bar");
        assert_eq!(split_terms(""), "");
    }

    #[test]
    fn queries() {
        assert_eq!(
            fts_query("parseHttpRequest", Conjunction::And).as_deref(),
            Some(r#"("parsehttprequest" OR "parse http request")"#)
        );
        assert_eq!(
            fts_query("parse_http_request", Conjunction::And).as_deref(),
            Some(r#"("parse http request" OR "parsehttprequest")"#)
        );
        assert_eq!(
            fts_query("foo bar", Conjunction::Or).as_deref(),
            Some(r#""foo" OR "bar""#)
        );
        assert_eq!(
            fts_query("read file into string", Conjunction::Or).as_deref(),
            Some(r#""read" OR "file" OR "string""#)
        );
        assert_eq!(
            fts_query("read file into string", Conjunction::AtLeastTwo).as_deref(),
            Some(r#"("read" AND "file") OR ("read" AND "string") OR ("file" AND "string")"#)
        );
        assert_eq!(fts_query("base64 encode", Conjunction::AtLeastTwo), None);
        assert_eq!(
            fts_query("to the", Conjunction::Or).as_deref(),
            Some(r#""to" OR "the""#)
        );
        assert_eq!(
            fts_query("NEAR(a b) AND -c*", Conjunction::And).as_deref(),
            Some(r#""near" AND "a" AND "b" AND "and" AND "c""#)
        );
        assert_eq!(fts_query(" \"()*-: ", Conjunction::And), None);
        assert_eq!(fts_query("___", Conjunction::And), None);
        assert_eq!(
            fts_query("_foo_", Conjunction::And).as_deref(),
            Some(r#""foo""#)
        );
    }
}
