//! Hybrid search over the index: keyword (FTS5 with code-aware terms), symbol names and
//! vectors, fused by reciprocal rank (RRF), filtered by workspace, path glob, language and
//! kind. Every hit carries its score from each signal and a `stale` flag when its file
//! changed on disk after it was indexed.
//!
//! Keyword and symbol signals need nothing but SQLite, so search works from the moment a file
//! is chunked; the vector signal joins when the embedder has caught up (hits for chunks that
//! no longer exist in SQLite are dropped, so a deleted file is never returned even before its
//! vectors are removed).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use weft_chunk::{fts_query, Conjunction, Lang};

use super::files::IndexError;
use crate::storage::Storage;

/// RRF's damping constant (the usual 60): a hit ranked r contributes 1 / (K + r).
const RRF_K: f64 = 60.0;

/// What to search for and where.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchRequest {
    /// The query: words, identifiers or a natural-language description.
    pub query: String,
    /// How many hits (default 10, at most 200).
    #[serde(default)]
    pub k: Option<usize>,
    /// Only this workspace (id); default all.
    #[serde(default)]
    pub workspace: Option<i64>,
    /// Only paths matching this glob (relative to the workspace root; `*` and `**` match
    /// across `/`, `?` one character).
    #[serde(default)]
    pub path: Option<String>,
    /// Only this language (`rust`, `python`, `ts`, ...).
    #[serde(default)]
    pub lang: Option<String>,
    /// Only this chunk kind (`function`, `class`, `section`, ...).
    #[serde(default)]
    pub kind: Option<String>,
    /// Skip the vector signal (keyword and symbol only).
    #[serde(default)]
    pub no_vector: bool,
    /// The vector signal only (no keyword or symbol signal).
    #[serde(default)]
    pub vector_only: bool,
}

/// Each signal's contribution to a hit (absent: the signal did not find it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Scores {
    /// The fused score: the sum of 1 / (60 + rank) over the signals.
    pub rrf: f64,
    /// BM25 of the keyword match (higher is better) and its rank (1-based).
    pub fts: Option<f64>,
    /// Rank in the keyword signal.
    pub fts_rank: Option<usize>,
    /// Cosine similarity of the vector match (1 is identical).
    pub vector: Option<f32>,
    /// Rank in the vector signal.
    pub vector_rank: Option<usize>,
    /// 1.0 for an exact symbol name match, 0.5 for a prefix match.
    pub symbol: Option<f64>,
    /// Rank in the symbol signal.
    pub symbol_rank: Option<usize>,
}

/// One result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchHit {
    /// The chunk's id.
    pub chunk_id: String,
    /// Workspace id.
    pub workspace: i64,
    /// Workspace root.
    pub root: String,
    /// Path relative to the root.
    pub path: String,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, inclusive.
    pub end_line: u32,
    /// Language name.
    pub lang: String,
    /// Chunk kind.
    pub kind: String,
    /// The chunk's symbol, if any.
    pub symbol: Option<String>,
    /// A few lines of the chunk around the best match.
    pub snippet: String,
    /// Line number of the snippet's first line.
    pub snippet_line: u32,
    /// Per-signal scores.
    pub scores: Scores,
    /// The file changed on disk (or vanished) after it was indexed: lines may have moved.
    pub stale: bool,
}

/// Search results and how they were made.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Hits, best first.
    pub hits: Vec<SearchHit>,
    /// Candidates found by each signal.
    pub fts_candidates: usize,
    /// Candidates from the vector signal.
    pub vector_candidates: usize,
    /// Candidates from the symbol signal.
    pub symbol_candidates: usize,
    /// Why a signal was left out, if one was (e.g. the embed pool is down).
    pub notes: Vec<String>,
    /// Milliseconds spent, query embedding included.
    pub took_ms: f64,
    /// Milliseconds per stage: `fts`, `symbol`, `vector` (query embedding included; the
    /// three run concurrently) and `fuse` (ranking, snippets, stale checks).
    #[serde(default)]
    pub signal_ms: BTreeMap<String, f64>,
}

/// Metadata of a chunk, as search shows it.
#[derive(Debug, Clone)]
pub(crate) struct ChunkMeta {
    pub id: i64,
    pub key: String,
    pub workspace: i64,
    pub root: String,
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub start_byte: usize,
    pub end_byte: usize,
    pub lang: String,
    pub kind: String,
    pub symbol: Option<String>,
    pub file_size: i64,
    pub file_mtime: i64,
}

/// The filters of a request, resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    pub workspace: Option<i64>,
    pub glob: Option<String>,
    pub lang: Option<String>,
    pub kind: Option<String>,
}

impl Filters {
    pub(crate) fn from_request(req: &SearchRequest) -> Result<Filters, SearchError> {
        let lang = match req.lang.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            None => None,
            Some(l) => Some(
                Lang::from_name(l)
                    .ok_or_else(|| {
                        SearchError::BadRequest(format!(
                            "unknown language {l:?}; use one of {}",
                            Lang::ALL
                                .iter()
                                .map(|l| l.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?
                    .name()
                    .to_owned(),
            ),
        };
        Ok(Filters {
            workspace: req.workspace,
            glob: req
                .path
                .as_deref()
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(sqlite_glob),
            lang,
            kind: req.kind.clone().filter(|k| !k.trim().is_empty()),
        })
    }

    /// The SQL condition on `chunks c` for these filters, with parameters ?10.. ?13.
    fn sql() -> &'static str {
        "(?10 IS NULL OR c.workspace_id = ?10) AND (?11 IS NULL OR c.path GLOB ?11) \
         AND (?12 IS NULL OR c.lang = ?12) AND (?13 IS NULL OR c.kind = ?13)"
    }

    /// Whether a chunk passes the filters (for hits found outside SQL).
    pub(crate) fn accepts(&self, m: &ChunkMeta) -> bool {
        self.workspace.is_none_or(|w| w == m.workspace)
            && self.lang.as_deref().is_none_or(|l| l == m.lang)
            && self.kind.as_deref().is_none_or(|k| k == m.kind)
            && self.glob.as_deref().is_none_or(|g| glob_match(g, &m.path))
    }
}

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The request is malformed (empty query, unknown language, ...).
    #[error("{0}")]
    BadRequest(String),
    /// The index could not be read.
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl From<crate::storage::StorageError> for SearchError {
    fn from(e: crate::storage::StorageError) -> Self {
        SearchError::Index(IndexError::Storage(e))
    }
}

/// A ranked list of chunk row ids from one signal, with its raw scores.
pub(crate) type Ranked = Vec<(i64, f64)>;

/// Keyword signal: FTS5 BM25 over body, split identifier terms and symbol. A ladder of
/// expressions, each tried only while the ones before found fewer than `limit`: every word
/// (AND), then at least two of the content words, then any content word (OR, only when
/// nothing matched so far: on a large index an OR of common words matches a large part of
/// it, and ranking that costs far more than the hits are worth next to the vector signal).
///
/// FTS5 ranks inside the virtual table first (`ORDER BY score LIMIT`), so only the best
/// rows are joined with `chunks`; with filters, a few times `limit` are ranked first and the
/// whole match set only when the filters left too few.
pub(crate) async fn fts_signal(
    storage: &Storage,
    query: &str,
    filters: &Filters,
    limit: usize,
) -> Result<Ranked, SearchError> {
    let Some(and) = fts_query(query, Conjunction::And) else {
        return Ok(Vec::new());
    };
    let two = fts_query(query, Conjunction::AtLeastTwo);
    let or = fts_query(query, Conjunction::Or);
    let f = filters.clone();
    let filtered =
        f.workspace.is_some() || f.glob.is_some() || f.lang.is_some() || f.kind.is_some();
    Ok(storage
        .read(move |conn| {
            let sql = format!(
                "SELECT c.id, -s.score FROM (SELECT rowid AS id, \
                 bm25(chunks_fts, 1.0, 0.6, 3.0) AS score FROM chunks_fts \
                 WHERE chunks_fts MATCH ?1 ORDER BY score LIMIT ?3) s \
                 JOIN chunks c ON c.id = s.id WHERE {} ORDER BY s.score LIMIT ?2",
                Filters::sql()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut run = |q: &str| -> rusqlite::Result<Ranked> {
                let first = if filtered {
                    limit.saturating_mul(4)
                } else {
                    limit
                };
                let mut params = fts_params(q, limit, &f);
                params[2] =
                    rusqlite::types::Value::Integer(i64::try_from(first).unwrap_or(i64::MAX));
                let hits: Ranked = stmt
                    .query_map(rusqlite::params_from_iter(params.clone()), |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                if !filtered || hits.len() >= limit {
                    return Ok(hits);
                }
                // The filters left too few of the best: rank the whole match set.
                params[2] = rusqlite::types::Value::Integer(i64::MAX);
                stmt.query_map(rusqlite::params_from_iter(params), |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
                })?
                .collect()
            };
            let mut hits = run(&and)?;
            let add = |more: Ranked, hits: &mut Ranked| {
                for hit in more {
                    if hits.len() >= limit {
                        break;
                    }
                    if !hits.iter().any(|h| h.0 == hit.0) {
                        hits.push(hit);
                    }
                }
            };
            if hits.len() < limit {
                if let Some(two) = two.as_deref().filter(|t| *t != and) {
                    add(run(two)?, &mut hits);
                }
            }
            if hits.is_empty() {
                if let Some(or) = or.as_deref().filter(|o| *o != and) {
                    add(run(or)?, &mut hits);
                }
            }
            Ok(hits)
        })
        .await?)
}

/// Parameters ?1, ?2, then NULLs up to ?9, then the filters ?10..?13.
fn fts_params(q: &str, limit: usize, f: &Filters) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    let mut v = vec![
        Value::Text(q.to_owned()),
        Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)),
    ];
    v.resize(9, Value::Null);
    v.extend(filter_values(f));
    v
}

fn filter_values(f: &Filters) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    vec![
        f.workspace.map_or(Value::Null, Value::Integer),
        text(&f.glob),
        text(&f.lang),
        text(&f.kind),
    ]
}

/// Symbol signal: definitions whose name equals a query word (ASCII case-insensitive: the
/// column's NOCASE collation), then those it prefixes; each maps to the chunk holding the
/// definition's first line.
pub(crate) async fn symbol_signal(
    storage: &Storage,
    query: &str,
    filters: &Filters,
    limit: usize,
) -> Result<Ranked, SearchError> {
    let words: Vec<String> = query
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| w.len() >= 2)
        .map(str::to_owned)
        .collect();
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let f = filters.clone();
    Ok(storage
        .read(move |conn| {
            let sql = format!(
                "SELECT c.id, s.name = ?1 FROM symbols s \
                 JOIN chunks c ON c.id = s.chunk_id \
                 WHERE (s.name = ?1 OR (?3 AND s.name >= ?1 AND s.name < ?1 || x'7f')) \
                   AND {} \
                 ORDER BY s.name = ?1 DESC, length(s.name), \
                   CASE WHEN s.kind IN ('struct', 'class', 'enum', 'trait', 'interface', 'type', 'union') THEN 0 \
                        WHEN s.kind IN ('function', 'method', 'macro', 'const') THEN 1 \
                        WHEN s.kind IN ('impl', 'module') THEN 2 ELSE 3 END, \
                   c.path, s.start_line LIMIT ?2",
                Filters::sql()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut hits: Ranked = Vec::new();
            // Exact names first for every word, then prefixes.
            for prefix in [false, true] {
                for w in &words {
                    if prefix && w.len() < 4 {
                        continue;
                    }
                    let mut p = fts_params(w, limit, &f);
                    p[2] = rusqlite::types::Value::Integer(i64::from(prefix));
                    let rows = stmt.query_map(rusqlite::params_from_iter(p), |r| {
                        Ok((r.get::<_, i64>(0)?, if r.get::<_, bool>(1)? { 1.0 } else { 0.5 }))
                    })?;
                    for row in rows {
                        let row = row?;
                        if !hits.iter().any(|h| h.0 == row.0) {
                            hits.push(row);
                        }
                    }
                    if hits.len() >= limit {
                        hits.truncate(limit);
                        return Ok(hits);
                    }
                }
            }
            Ok(hits)
        })
        .await?)
}

/// Loads chunk metadata by row id.
pub(crate) async fn chunk_meta(
    storage: &Storage,
    ids: Vec<i64>,
) -> Result<HashMap<i64, ChunkMeta>, SearchError> {
    chunk_meta_where(
        storage,
        "c.id",
        ids.into_iter()
            .map(rusqlite::types::Value::Integer)
            .collect(),
    )
    .await
}

/// Loads chunk metadata by chunk key (vector hits), dropping keys no longer in SQLite.
pub(crate) async fn chunk_meta_by_key(
    storage: &Storage,
    keys: Vec<String>,
) -> Result<HashMap<i64, ChunkMeta>, SearchError> {
    chunk_meta_where(
        storage,
        "c.chunk_key",
        keys.into_iter().map(rusqlite::types::Value::Text).collect(),
    )
    .await
}

async fn chunk_meta_where(
    storage: &Storage,
    column: &'static str,
    values: Vec<rusqlite::types::Value>,
) -> Result<HashMap<i64, ChunkMeta>, SearchError> {
    if values.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(storage
        .read(move |conn| {
            let mut out = HashMap::new();
            for part in values.chunks(500) {
                let marks = vec!["?"; part.len()].join(",");
                let sql = format!(
                    "SELECT c.id, c.chunk_key, c.workspace_id, w.root, c.path, c.start_line, \
                     c.end_line, c.start_byte, c.end_byte, c.lang, c.kind, c.symbol, f.size, \
                     f.mtime_ns \
                     FROM chunks c JOIN files f ON f.workspace_id = c.workspace_id AND f.path = c.path \
                     JOIN workspaces w ON w.id = c.workspace_id WHERE {column} IN ({marks})"
                );
                let mut stmt = conn.prepare(&sql)?;
                let rows = stmt.query_map(rusqlite::params_from_iter(part.iter()), |r| {
                    Ok(ChunkMeta {
                        id: r.get(0)?,
                        key: r.get(1)?,
                        workspace: r.get(2)?,
                        root: r.get(3)?,
                        path: r.get(4)?,
                        start_line: r.get(5)?,
                        end_line: r.get(6)?,
                        start_byte: usize::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                        end_byte: usize::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
                        lang: r.get(9)?,
                        kind: r.get(10)?,
                        symbol: r.get(11)?,
                        file_size: r.get(12)?,
                        file_mtime: r.get(13)?,
                    })
                })?;
                for row in rows {
                    let m = row?;
                    out.insert(m.id, m);
                }
            }
            Ok(out)
        })
        .await?)
}

/// Fuses ranked lists by reciprocal rank and builds the hits (snippets read from disk).
pub(crate) async fn fuse(
    storage: &Storage,
    query: &str,
    fts: Ranked,
    symbol: Ranked,
    vector: Ranked,
    vector_meta: HashMap<i64, ChunkMeta>,
    k: usize,
) -> Result<Vec<SearchHit>, SearchError> {
    let mut scores: HashMap<i64, Scores> = HashMap::new();
    for (rank, (id, score)) in fts.iter().enumerate() {
        let s = scores.entry(*id).or_default();
        s.fts = Some(*score);
        s.fts_rank = Some(rank + 1);
        s.rrf += 1.0 / (RRF_K + rank as f64 + 1.0);
    }
    // A query that is one identifier and names a definition exactly is a "go to symbol":
    // those definitions come first, in the symbol signal's order (types before impls).
    let identifier = is_identifier(query);
    for (rank, (id, score)) in symbol.iter().enumerate() {
        let s = scores.entry(*id).or_default();
        s.symbol = Some(*score);
        s.symbol_rank = Some(rank + 1);
        // An exact definition name is the strongest evidence there is: weigh it double.
        s.rrf += (1.0 + *score) / (RRF_K + rank as f64 + 1.0);
        if identifier && *score >= 1.0 {
            s.rrf += 1.0 / (1.0 + rank as f64);
        }
    }
    for (rank, (id, sim)) in vector.iter().enumerate() {
        let s = scores.entry(*id).or_default();
        #[allow(clippy::cast_possible_truncation, reason = "a similarity in [-1, 1]")]
        let sim = *sim as f32;
        s.vector = Some(sim);
        s.vector_rank = Some(rank + 1);
        s.rrf += 1.0 / (RRF_K + rank as f64 + 1.0);
    }
    let mut ranked: Vec<(i64, Scores)> = scores.into_iter().collect();
    ranked.sort_by(|a, b| b.1.rrf.total_cmp(&a.1.rrf).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    let missing: Vec<i64> = ranked
        .iter()
        .map(|r| r.0)
        .filter(|id| !vector_meta.contains_key(id))
        .collect();
    let mut meta = chunk_meta(storage, missing).await?;
    meta.extend(vector_meta);
    let words = query_words(query);
    let hits = tokio::task::spawn_blocking(move || {
        ranked
            .into_iter()
            .filter_map(|(id, scores)| {
                let m = meta.remove(&id)?;
                Some(make_hit(m, scores, &words))
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| SearchError::Index(IndexError::Task(e.to_string())))?;
    Ok(hits)
}

/// Whether the query is a single identifier (`FileIndex`, `parse_config`, `Foo::bar`).
fn is_identifier(query: &str) -> bool {
    let q = query.trim();
    !q.is_empty()
        && q.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && q.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | ':' | '.'))
}

/// Lowercase words of a query, for picking snippet lines.
fn query_words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| w.len() >= 2)
        .map(str::to_lowercase)
        .collect()
}

/// Lines shown per hit.
const SNIPPET_LINES: usize = 6;

/// Builds a hit: stale check (stat) and a snippet from the file on disk.
fn make_hit(m: ChunkMeta, scores: Scores, words: &[String]) -> SearchHit {
    let full = Path::new(&m.root).join(&m.path);
    let (stale, text) = match std::fs::metadata(&full) {
        Ok(meta) => {
            let size = i64::try_from(meta.len()).unwrap_or(i64::MAX);
            let stale = size != m.file_size || super::walk::mtime_ns(&meta) != m.file_mtime;
            let text = std::fs::read(&full)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            (stale, text)
        }
        Err(_) => (true, None),
    };
    let body = text
        .as_deref()
        .and_then(|t| {
            if stale {
                None
            } else {
                t.get(m.start_byte..m.end_byte)
            }
        })
        .map(str::to_owned)
        .or_else(|| {
            // Stale: show what is at those lines now, if anything.
            text.as_deref().map(|t| {
                t.lines()
                    .skip(m.start_line.saturating_sub(1) as usize)
                    .take((m.end_line - m.start_line + 1) as usize)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
        .unwrap_or_default();
    let (snippet, offset) = snippet(&body, words);
    SearchHit {
        chunk_id: m.key,
        workspace: m.workspace,
        root: m.root,
        path: m.path,
        start_line: m.start_line,
        end_line: m.end_line,
        lang: m.lang,
        kind: m.kind,
        symbol: m.symbol,
        snippet,
        snippet_line: m.start_line + offset,
        scores,
        stale,
    }
}

/// The best few lines of `body`: the window with the most query words, trimmed of blank
/// edges. Returns the text and its offset in lines from the start of the body.
fn snippet(body: &str, words: &[String]) -> (String, u32) {
    let lines: Vec<&str> = body.lines().collect();
    if lines.is_empty() {
        return (String::new(), 0);
    }
    let score = |l: &str| {
        let lower = l.to_lowercase();
        words.iter().filter(|w| lower.contains(w.as_str())).count()
    };
    let per_line: Vec<usize> = lines.iter().map(|l| score(l)).collect();
    let mut best = (0usize, 0usize);
    for start in 0..lines.len() {
        let s: usize = per_line[start..(start + SNIPPET_LINES).min(lines.len())]
            .iter()
            .sum();
        if s > best.1 {
            best = (start, s);
        }
    }
    // One line of context above the first matching line of the best window.
    let first_match = (best.0..lines.len())
        .find(|i| per_line[*i] > 0)
        .unwrap_or(best.0);
    let start = if best.1 > 0 {
        first_match.saturating_sub(1)
    } else {
        0
    };
    let end = (start + SNIPPET_LINES).min(lines.len());
    let mut text = lines[start..end]
        .iter()
        .map(|l| {
            let mut l = l.trim_end().to_owned();
            if l.len() > 200 {
                let mut cut = 200;
                while !l.is_char_boundary(cut) {
                    cut -= 1;
                }
                l.truncate(cut);
                l.push('…');
            }
            l
        })
        .collect::<Vec<_>>()
        .join("\n");
    if text.len() > 1200 {
        let mut cut = 1200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    (text, u32::try_from(start).unwrap_or(0))
}

/// A user's path glob in SQLite GLOB syntax: `**` is `*` (SQLite's `*` already crosses `/`);
/// a glob without `/` matches the file name anywhere (`*.rs`).
fn sqlite_glob(glob: &str) -> String {
    let g = glob.replace("**/", "*").replace("**", "*");
    if g.contains('/') {
        g.trim_start_matches("./").to_owned()
    } else {
        format!("*{g}").replace("**", "*")
    }
}

/// SQLite GLOB semantics (`*`, `?`, `[...]` treated literally here) in Rust, for hits found
/// outside SQL.
fn glob_match(glob: &str, path: &str) -> bool {
    fn go(g: &[u8], p: &[u8]) -> bool {
        match g.first() {
            None => p.is_empty(),
            Some(b'*') => (0..=p.len()).any(|i| go(&g[1..], &p[i..])),
            Some(b'?') => !p.is_empty() && go(&g[1..], &p[1..]),
            Some(c) => p.first() == Some(c) && go(&g[1..], &p[1..]),
        }
    }
    go(glob.as_bytes(), path.as_bytes())
}

/// The checked query, its filters, the number of hits and how deep each signal looks.
fn plan(req: &SearchRequest) -> Result<(&str, Filters, usize, usize), SearchError> {
    let query = req.query.trim();
    if query.is_empty() {
        return Err(SearchError::BadRequest(
            "the query is empty; pass words, an identifier or a description".to_owned(),
        ));
    }
    let k = req.k.unwrap_or(10).clamp(1, 200);
    Ok((query, Filters::from_request(req)?, k, (k * 5).max(50)))
}

/// Hybrid search: keyword, symbol and (when the embed pool answers and vectors exist for its
/// model) vector signals, fused by reciprocal rank.
pub async fn search(
    svc: &super::IndexService,
    pool: Option<&crate::pool::PoolHandle>,
    req: &SearchRequest,
) -> Result<SearchResponse, SearchError> {
    let t0 = Instant::now();
    let (query, filters, k, depth) = plan(req)?;
    let storage = svc.files().storage();
    let mut notes = Vec::new();
    let vector_side = async {
        match pool {
            _ if req.no_vector => Ok((Vec::new(), HashMap::new())),
            None => Err("vector signal off: no embed pool (workers disabled)".to_owned()),
            Some(pool) => vector_signal(svc, pool, query, &filters, depth).await,
        }
    };
    let lexical = !req.vector_only;
    let timed = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let ((fts, fts_ms), (symbol, symbol_ms), (vector, vector_ms)) = tokio::join!(
        async {
            let t = Instant::now();
            let r = if lexical {
                fts_signal(storage, query, &filters, depth).await
            } else {
                Ok(Vec::new())
            };
            (r, timed(t))
        },
        async {
            let t = Instant::now();
            let r = if lexical {
                symbol_signal(storage, query, &filters, depth).await
            } else {
                Ok(Vec::new())
            };
            (r, timed(t))
        },
        async {
            let t = Instant::now();
            let r = vector_side.await;
            (r, timed(t))
        }
    );
    let (fts, symbol) = (fts?, symbol?);
    let (vector, vmeta) = match vector {
        Ok(v) => v,
        Err(note) => {
            notes.push(note);
            (Vec::new(), HashMap::new())
        }
    };
    let (nf, ns, nv) = (fts.len(), symbol.len(), vector.len());
    let t_fuse = Instant::now();
    let hits = fuse(storage, query, fts, symbol, vector, vmeta, k).await?;
    let signal_ms = BTreeMap::from([
        ("fts".to_owned(), fts_ms),
        ("symbol".to_owned(), symbol_ms),
        ("vector".to_owned(), vector_ms),
        ("fuse".to_owned(), timed(t_fuse)),
    ]);
    Ok(SearchResponse {
        hits,
        fts_candidates: nf,
        symbol_candidates: ns,
        vector_candidates: nv,
        notes,
        took_ms: t0.elapsed().as_secs_f64() * 1000.0,
        signal_ms,
    })
}

/// Vector signal: the query embedded by the pool, searched in the table of the pool's model.
/// `Err` is a note saying why the signal is missing.
async fn vector_signal(
    svc: &super::IndexService,
    pool: &crate::pool::PoolHandle,
    query: &str,
    filters: &Filters,
    depth: usize,
) -> Result<(Ranked, HashMap<i64, ChunkMeta>), String> {
    let out = pool
        .embed(vec![query.to_owned()], crate::pool::EmbedMode::Query)
        .await
        .map_err(|e| format!("vector signal off: {e}"))?;
    svc.set_embed_model(&out.model_id);
    let rows = super::embedder::table_rows(svc.files().storage())
        .await
        .map_err(|e| format!("vector signal off: {e}"))?;
    let Some(row) = rows.into_iter().find(|r| r.model == out.model_id) else {
        return Err(format!(
            "vector signal off: no vectors for model {} yet (the embedder is catching up)",
            out.model_id
        ));
    };
    let table = svc
        .table(&row.name, row.dim)
        .await
        .map_err(|e| format!("vector signal off: {e}"))?;
    let mut conds = Vec::new();
    if let Some(w) = filters.workspace {
        conds.push(format!("workspace_id = {w}"));
    }
    if let Some(l) = &filters.lang {
        conds.push(format!("lang = '{}'", l.replace('\'', "''")));
    }
    if let Some(kd) = &filters.kind {
        conds.push(format!("kind = '{}'", kd.replace('\'', "''")));
    }
    if let Some(glob) = &filters.glob {
        // The glob as a LanceDB prefilter, so the nearest vectors are searched among the
        // matching paths only (a post-filter would miss a file's chunks whenever other files
        // hold `depth` nearer ones). LIKE's `_` and `%` also match themselves, so the
        // pattern accepts a superset of the glob; `filters.accepts` below is exact.
        conds.push(format!(
            "path LIKE '{}'",
            glob_to_like(glob).replace('\'', "''")
        ));
    }
    let filter = (!conds.is_empty()).then(|| conds.join(" AND "));
    // Over-fetch a little: the LIKE superset and chunks gone from SQLite are dropped below.
    let fetch = if filters.glob.is_some() {
        depth * 2
    } else {
        depth
    };
    let hits = table
        .search(out.row(0), fetch, filter.as_deref())
        .await
        .map_err(|e| format!("vector signal off: {e}"))?;
    let keys: Vec<String> = hits.iter().map(|h| h.chunk_id.clone()).collect();
    let meta = chunk_meta_by_key(svc.files().storage(), keys)
        .await
        .map_err(|e| format!("vector signal off: {e}"))?;
    let by_key: HashMap<&str, &ChunkMeta> = meta.values().map(|m| (m.key.as_str(), m)).collect();
    let mut ranked = Vec::new();
    let mut keep = HashMap::new();
    for h in &hits {
        // Chunks no longer in SQLite (deleted, re-chunked) are never returned.
        let Some(m) = by_key.get(h.chunk_id.as_str()) else {
            continue;
        };
        if !filters.accepts(m) || ranked.iter().any(|r: &(i64, f64)| r.0 == m.id) {
            continue;
        }
        ranked.push((m.id, f64::from(1.0 - h.distance)));
        keep.insert(m.id, (*m).clone());
        if ranked.len() >= depth {
            break;
        }
    }
    Ok((ranked, keep))
}

/// The filter's path glob (SQLite GLOB form, see [`sqlite_glob`]: `*` crosses `/`, `?` is
/// one character) as a SQL LIKE pattern for LanceDB.
fn glob_to_like(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len());
    let mut prev_star = false;
    for c in glob.chars() {
        match c {
            '*' if prev_star => {}
            '*' => out.push('%'),
            '?' => out.push('_'),
            c => out.push(c),
        }
        prev_star = c == '*';
    }
    out
}

/// Keyword and symbol search only: what works before any vector exists (and what `search`
/// does when the embed pool is down).
pub async fn search_lexical(
    storage: &Storage,
    req: &SearchRequest,
) -> Result<SearchResponse, SearchError> {
    let t0 = Instant::now();
    let (query, filters, k, depth) = plan(req)?;
    let fts = fts_signal(storage, query, &filters, depth).await?;
    let symbol = symbol_signal(storage, query, &filters, depth).await?;
    let (nf, ns) = (fts.len(), symbol.len());
    let hits = fuse(storage, query, fts, symbol, Vec::new(), HashMap::new(), k).await?;
    Ok(SearchResponse {
        hits,
        fts_candidates: nf,
        symbol_candidates: ns,
        vector_candidates: 0,
        notes: Vec::new(),
        took_ms: t0.elapsed().as_secs_f64() * 1000.0,
        signal_ms: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert_eq!(sqlite_glob("*.rs"), "*.rs");
        assert_eq!(sqlite_glob("src/**/*.rs"), "src/*.rs");
        assert!(glob_match(&sqlite_glob("src/**/*.rs"), "src/a/b.rs"));
        assert!(glob_match(&sqlite_glob("*.rs"), "x/y/z.rs"));
        assert!(!glob_match(&sqlite_glob("*.rs"), "x/y/z.py"));
        assert_eq!(glob_to_like(&sqlite_glob("src/**/*.rs")), "src/%.rs");
        assert_eq!(glob_to_like(&sqlite_glob("src/a?.rs")), "src/a_.rs");
        assert_eq!(glob_to_like("a/b_c.rs"), "a/b_c.rs");
    }

    #[test]
    fn snippet_picks_the_matching_window() {
        let body = (1..=30)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\nfn parse_config() {}\n";
        let (s, off) = snippet(&body, &["parse_config".to_owned()]);
        assert!(s.contains("parse_config"), "{s}");
        assert_eq!(off, 29);
        let (s, off) = snippet(&body, &["nothing".to_owned()]);
        assert!(s.starts_with("line 1\n"), "{s}");
        assert_eq!(off, 0);
    }
}
