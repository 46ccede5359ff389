//! Chunking for the index: split a file's text into chunks that follow its syntax, list the
//! symbols it defines, and derive code-aware search terms for FTS5.
//!
//! The contract every caller relies on: the chunks of a non-empty text **tile** it. The first
//! chunk starts at line 1, each next chunk starts on the line after the previous one ends, the
//! last ends on the last line, and byte ranges are line-aligned and contiguous. So every line
//! of a file lands in exactly one chunk.
//!
//! # How chunks are made
//!
//! The text is parsed with the tree-sitter grammar of its [`Lang`] (one parser per language
//! per thread, cached; parsing is cancelled after a time budget). The top-level nodes become
//! pieces of whole lines: definitions (functions, classes, impls, ... Markdown sections, TOML
//! tables, top-level JSON/YAML keys) with the comments, attributes and decorators directly
//! above them, and everything else (imports, statements) as `block` pieces. A definition that
//! fits in [`ChunkOptions::max_bytes`] / [`ChunkOptions::max_lines`] is one piece; a container
//! (impl, class, trait, module, section, table, ...) that does not is split into its members,
//! each with a [`Chunk::header`] naming the container, plus pieces for the container's own
//! lines (signature, fields, closing brace); any other node too big is split into parts at
//! the shallowest statement boundaries (`fn parse (part 2/3)`). Lines no node covers (blank
//! lines) go to a neighbour. Then neighbouring pieces of the same list are merged while one of
//! them is smaller than [`ChunkOptions::min_bytes`] and the result fits: a merged chunk takes
//! the kind, symbol and header of its largest definition, or of its first piece when it holds
//! no definition (`block` at top level, the container's kind inside a split container).
//!
//! [`Lang::Text`], a failed or cancelled parse, and (as a guard) any result that would not
//! tile the text fall back to line windows (`parsed == false`).

mod langs;
mod memory;
mod syntax;
pub mod terms;

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

pub use langs::language as grammar;

pub use memory::{configure_memory, BulkChunking};
pub use terms::{fts_query, split_terms, Conjunction};

/// A language the chunker knows. [`Lang::Text`] is everything else (line windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// Rust (`.rs`).
    Rust,
    /// Python (`.py`, `.pyi`, python shebang).
    Python,
    /// TypeScript (`.ts`, `.mts`, `.cts`).
    TypeScript,
    /// TSX (`.tsx`).
    Tsx,
    /// JavaScript (`.js`, `.mjs`, `.cjs`, `.jsx`, node shebang).
    JavaScript,
    /// Go (`.go`).
    Go,
    /// Java (`.java`).
    Java,
    /// C (`.c`, `.h`).
    C,
    /// C++ (`.cc`, `.cpp`, `.cxx`, `.hpp`, `.hh`, `.hxx`).
    Cpp,
    /// Markdown (`.md`, `.markdown`).
    Markdown,
    /// TOML (`.toml`, `Cargo.lock`).
    Toml,
    /// JSON (`.json`).
    Json,
    /// YAML (`.yaml`, `.yml`).
    Yaml,
    /// Shell (`.sh`, `.bash`, sh/bash shebang).
    Shell,
    /// Any other text: line windows.
    Text,
}

impl Lang {
    /// Every language, [`Lang::Text`] last.
    pub const ALL: [Lang; 15] = [
        Lang::Rust,
        Lang::Python,
        Lang::TypeScript,
        Lang::Tsx,
        Lang::JavaScript,
        Lang::Go,
        Lang::Java,
        Lang::C,
        Lang::Cpp,
        Lang::Markdown,
        Lang::Toml,
        Lang::Json,
        Lang::Yaml,
        Lang::Shell,
        Lang::Text,
    ];

    /// The stable lowercase name stored in the index and accepted by `--lang`.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::JavaScript => "javascript",
            Lang::Go => "go",
            Lang::Java => "java",
            Lang::C => "c",
            Lang::Cpp => "cpp",
            Lang::Markdown => "markdown",
            Lang::Toml => "toml",
            Lang::Json => "json",
            Lang::Yaml => "yaml",
            Lang::Shell => "shell",
            Lang::Text => "text",
        }
    }

    /// The language named `name` (as [`Lang::name`] writes it, plus common aliases such as
    /// `rs`, `py`, `ts`, `js`, `c++`, `md`, `yml`, `sh`, `bash`), case-insensitive.
    pub fn from_name(name: &str) -> Option<Lang> {
        let lower = name.trim().to_ascii_lowercase();
        let lang = match lower.as_str() {
            "rust" | "rs" => Lang::Rust,
            "python" | "py" => Lang::Python,
            "typescript" | "ts" => Lang::TypeScript,
            "tsx" => Lang::Tsx,
            "javascript" | "js" | "jsx" => Lang::JavaScript,
            "go" | "golang" => Lang::Go,
            "java" => Lang::Java,
            "c" => Lang::C,
            "cpp" | "c++" | "cc" | "cxx" => Lang::Cpp,
            "markdown" | "md" => Lang::Markdown,
            "toml" => Lang::Toml,
            "json" => Lang::Json,
            "yaml" | "yml" => Lang::Yaml,
            "shell" | "sh" | "bash" => Lang::Shell,
            "text" | "txt" => Lang::Text,
            _ => return None,
        };
        Some(lang)
    }

    /// The language of the file at `path` (relative or absolute, `/`-separated), from its
    /// extension or file name, else from a shebang in `head` (the first bytes of the file).
    pub fn detect(path: &str, head: &[u8]) -> Lang {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name == "Cargo.lock" {
            return Lang::Toml;
        }
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let by_ext = match ext.as_str() {
            "rs" => Some(Lang::Rust),
            "py" | "pyi" => Some(Lang::Python),
            "ts" | "mts" | "cts" => Some(Lang::TypeScript),
            "tsx" => Some(Lang::Tsx),
            "js" | "mjs" | "cjs" | "jsx" => Some(Lang::JavaScript),
            "go" => Some(Lang::Go),
            "java" => Some(Lang::Java),
            "c" | "h" => Some(Lang::C),
            "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" => Some(Lang::Cpp),
            "md" | "markdown" => Some(Lang::Markdown),
            "toml" => Some(Lang::Toml),
            "json" => Some(Lang::Json),
            "yaml" | "yml" => Some(Lang::Yaml),
            "sh" | "bash" => Some(Lang::Shell),
            _ => None,
        };
        if let Some(lang) = by_ext {
            return lang;
        }
        let first = head.split(|b| *b == b'\n').next().unwrap_or_default();
        if let Some(shebang) = first.strip_prefix(b"#!") {
            let line = String::from_utf8_lossy(shebang);
            if line.contains("python") {
                return Lang::Python;
            }
            if line.contains("node") {
                return Lang::JavaScript;
            }
            if line.contains("bash") || line.ends_with("/sh") || line.contains("/sh ") {
                return Lang::Shell;
            }
        }
        Lang::Text
    }
}

/// Size limits for chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOptions {
    /// A syntax node larger than this is split into parts (each with a header).
    pub max_bytes: usize,
    /// A syntax node larger than this many lines is split too.
    pub max_lines: usize,
    /// Neighbouring chunks smaller than this are merged while the result stays under the
    /// maximums.
    pub min_bytes: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            max_bytes: 1536,
            max_lines: 60,
            min_bytes: 256,
        }
    }
}

/// One chunk: a run of whole lines of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, 1-based, inclusive.
    pub end_line: u32,
    /// Byte offset of the start of `start_line`.
    pub start_byte: usize,
    /// Byte offset just past the end of `end_line` (including its newline, if any).
    pub end_byte: usize,
    /// What the chunk holds: `function`, `method`, `class`, `impl`, `struct`, `enum`,
    /// `trait`, `interface`, `module`, `type`, `const`, `macro`, `section` (Markdown), `table`
    /// (TOML), `key` (top-level JSON/YAML key), `block` (syntax that is not a definition:
    /// imports, statements, comments), `text` (windows).
    pub kind: &'static str,
    /// Qualified name of the definition the chunk belongs to, e.g. `Parser::parse`.
    pub symbol: Option<String>,
    /// For a part of a split definition or a nested definition: the context a reader (and
    /// the embedding model) needs, e.g. `impl Parser > fn parse (part 2/3)`.
    pub header: Option<String>,
}

/// A definition found in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// The bare name, e.g. `parse`.
    pub name: String,
    /// `function`, `method`, `class`, `struct`, `enum`, `trait`, `interface`, `impl`,
    /// `module`, `type`, `const`, `macro`, `section`, `table`, `key`.
    pub kind: &'static str,
    /// The enclosing definition's qualified name, e.g. `Parser`.
    pub container: Option<String>,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, 1-based, inclusive.
    pub end_line: u32,
}

/// The result of chunking one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunked {
    /// The language used.
    pub lang: Lang,
    /// Chunks that tile the text (empty only for an empty text).
    pub chunks: Vec<Chunk>,
    /// Definitions, in source order.
    pub symbols: Vec<Symbol>,
    /// Whether a syntax tree was used (false: line windows, e.g. for [`Lang::Text`] or when
    /// parsing failed).
    pub parsed: bool,
}

/// Splits `text` (in language `lang`) into chunks that tile it, and lists its symbols.
/// Never panics, whatever the input.
pub fn chunk_text(lang: Lang, text: &str, opts: &ChunkOptions) -> Chunked {
    let fallback = |symbols| Chunked {
        lang,
        chunks: windows(text, opts),
        symbols,
        parsed: false,
    };
    if text.is_empty() || lang == Lang::Text {
        return fallback(Vec::new());
    }
    let Some(tree) = parse(lang, text) else {
        return fallback(Vec::new());
    };
    let mut chunker = syntax::Chunker::new(lang, text, opts);
    match chunker.run(tree.root_node()) {
        Some(chunks) => Chunked {
            lang,
            chunks,
            symbols: chunker.symbols,
            parsed: true,
        },
        None => fallback(chunker.symbols),
    }
}

/// The time a parse may take: generous for ≤ 2 MB files, but bounded on pathological input.
fn parse_budget(len: usize) -> Duration {
    Duration::from_millis(1000 + (len / 1000) as u64)
}

thread_local! {
    /// One parser per language per thread (`tree_sitter::Parser` is not `Sync`).
    static PARSERS: RefCell<Vec<Option<tree_sitter::Parser>>> = const { RefCell::new(Vec::new()) };
}

/// Parses `text` with the cached parser of `lang`; `None` when there is no grammar or the
/// parse failed or ran past its budget.
fn parse(lang: Lang, text: &str) -> Option<tree_sitter::Tree> {
    let idx = Lang::ALL.iter().position(|l| *l == lang)?;
    PARSERS.with(|cell| {
        let mut fresh = None;
        let mut guard = cell.try_borrow_mut().ok();
        let parser: &mut tree_sitter::Parser = match guard.as_deref_mut() {
            Some(cache) => {
                if cache.len() < Lang::ALL.len() {
                    cache.resize_with(Lang::ALL.len(), || None);
                }
                let slot = cache.get_mut(idx)?;
                if slot.is_none() {
                    *slot = Some(new_parser(lang)?);
                }
                slot.as_mut()?
            }
            None => fresh.insert(new_parser(lang)?),
        };
        let deadline = Instant::now() + parse_budget(text.len());
        let mut timed_out = false;
        let mut progress = |_: &tree_sitter::ParseState| {
            if Instant::now() > deadline {
                timed_out = true;
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
        let bytes = text.as_bytes();
        let tree = parser.parse_with_options(
            &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
            None,
            Some(options),
        );
        if tree.is_none() {
            // Cancelled: forget the half-done parse.
            parser.reset();
        }
        tree
    })
}

fn new_parser(lang: Lang) -> Option<tree_sitter::Parser> {
    memory::use_fast_allocator();
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&langs::language(lang)?).ok()?;
    Some(parser)
}

/// Whether `chunks` tile `text` by whole lines (the contract of [`chunk_text`]): contiguous
/// line and byte ranges from line 1 / byte 0 to the last line / `text.len()`, each chunk
/// non-empty and starting at the beginning of a line. Tests and callers can use it to check a
/// [`Chunked`].
pub fn tiles(text: &str, chunks: &[Chunk]) -> bool {
    if text.is_empty() {
        return chunks.is_empty();
    }
    let starts = syntax::line_starts(text);
    let nlines = starts.len() as u32;
    let mut line = 1u32;
    let mut byte = 0usize;
    for c in chunks {
        if c.start_line != line
            || c.start_byte != byte
            || c.end_line < c.start_line
            || c.end_line > nlines
            || c.end_byte <= c.start_byte
            || starts.get(c.start_line as usize - 1) != Some(&c.start_byte)
        {
            return false;
        }
        let end = starts
            .get(c.end_line as usize)
            .copied()
            .unwrap_or(text.len());
        if c.end_byte != end {
            return false;
        }
        line = c.end_line + 1;
        byte = c.end_byte;
    }
    line == nlines + 1 && byte == text.len()
}

/// Line windows of at most `opts.max_lines` lines and about `opts.max_bytes` bytes.
fn windows(text: &str, opts: &ChunkOptions) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start_byte = 0;
    let mut start_line = 1u32;
    let mut line = 0u32;
    let mut pos = 0;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        line += 1;
        pos = end;
        let lines = (line - start_line + 1) as usize;
        if lines >= opts.max_lines.max(1) || pos - start_byte >= opts.max_bytes || pos == text.len()
        {
            chunks.push(Chunk {
                start_line,
                end_line: line,
                start_byte,
                end_byte: pos,
                kind: "text",
                symbol: None,
                header: None,
            });
            start_byte = pos;
            start_line = line + 1;
        }
    }
    chunks
}
