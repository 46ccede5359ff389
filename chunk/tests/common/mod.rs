//! Helpers shared by the integration tests.
#![allow(dead_code)]

use weft_chunk::{chunk_text, tiles, ChunkOptions, Chunked, Lang};

/// Chunks `text` and checks the tiling contract and the line limit.
pub fn check(lang: Lang, text: &str, opts: &ChunkOptions) -> Chunked {
    let out = chunk_text(lang, text, opts);
    assert_tiles(text, &out, opts);
    out
}

/// Asserts the tiling contract (with a readable message) and the `max_lines` limit.
pub fn assert_tiles(text: &str, out: &Chunked, opts: &ChunkOptions) {
    if text.is_empty() {
        assert!(out.chunks.is_empty());
        return;
    }
    let nlines = text.strip_suffix('\n').unwrap_or(text).split('\n').count() as u32;
    let first = &out.chunks[0];
    assert_eq!(
        (first.start_line, first.start_byte),
        (1, 0),
        "{:?}",
        out.chunks
    );
    for w in out.chunks.windows(2) {
        assert_eq!(w[1].start_line, w[0].end_line + 1, "{:?}", out.chunks);
        assert_eq!(w[1].start_byte, w[0].end_byte, "{:?}", out.chunks);
    }
    let last = &out.chunks[out.chunks.len() - 1];
    assert_eq!(last.end_line, nlines, "{:?}", out.chunks);
    assert_eq!(last.end_byte, text.len());
    for c in &out.chunks {
        assert!(
            c.end_byte > c.start_byte && c.end_line >= c.start_line,
            "{c:?}"
        );
        let lines = (c.end_line - c.start_line + 1) as usize;
        assert!(
            lines <= opts.max_lines.max(1) || lines == 1,
            "chunk over max_lines: {c:?}"
        );
        assert!(text.is_char_boundary(c.start_byte) && text.is_char_boundary(c.end_byte));
    }
    assert!(tiles(text, &out.chunks));
}

/// `(start_line, end_line, kind, symbol)` of every chunk.
pub fn shape(out: &Chunked) -> Vec<(u32, u32, &'static str, Option<&str>)> {
    out.chunks
        .iter()
        .map(|c| (c.start_line, c.end_line, c.kind, c.symbol.as_deref()))
        .collect()
}

/// `(kind, name, container)` of every symbol.
pub fn syms(out: &Chunked) -> Vec<(&'static str, &str, Option<&str>)> {
    out.symbols
        .iter()
        .map(|s| (s.kind, s.name.as_str(), s.container.as_deref()))
        .collect()
}

/// Options with little merging (pieces under 20 bytes), to see syntax boundaries.
pub fn raw(max_bytes: usize, max_lines: usize) -> ChunkOptions {
    ChunkOptions {
        max_bytes,
        max_lines,
        min_bytes: 20,
    }
}
