//! The tiling contract on random, garbage and pathological inputs, for every language.

mod common;

use common::assert_tiles;
use proptest::prelude::*;
use weft_chunk::{chunk_text, ChunkOptions, Lang};

fn small() -> ChunkOptions {
    ChunkOptions {
        max_bytes: 120,
        max_lines: 6,
        min_bytes: 40,
    }
}

/// Fragments of code in many languages, glued at random.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("fn a() {\n".to_string()),
        Just("}\n".to_string()),
        Just("impl X {\n    fn b(&self) {}\n".to_string()),
        Just("class A:\n    def f(self):\n        pass\n".to_string()),
        Just("# Heading\n".to_string()),
        Just("[table]\nk = 1\n".to_string()),
        Just("{\"k\": [1, {\"x\": 2}],\n".to_string()),
        Just("key:\n  - a\n  - b: c\n".to_string()),
        Just("/// doc\n#[attr]\n".to_string()),
        Just("@dec\n".to_string()),
        Just("#ifdef X\nint f(void) { return 0; }\n#endif\n".to_string()),
        Just("export class C { m() { return `${x}`; } }\n".to_string()),
        Just("func (s *S) M() {}\n".to_string()),
        Just("public class J { void m() {} }\n".to_string()),
        Just("f() { echo \"$x\"; }\n".to_string()),
        Just("\r\n".to_string()),
        Just("\n\n".to_string()),
        Just("\t\t// comment\n".to_string()),
        Just("((((((((((".to_string()),
        Just("]]]]}}}}".to_string()),
        Just("é漢字🦀\n".to_string()),
        "[ -~]{0,40}",
        "\\PC{0,20}",
        "[\\n\\r\\t {}();:#@\"'`]{0,20}",
    ]
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn tiles_fragments_every_lang(text in document()) {
        for lang in Lang::ALL {
            let opts = small();
            let out = chunk_text(lang, &text, &opts);
            assert_tiles(&text, &out, &opts);
            let out = chunk_text(lang, &text, &ChunkOptions::default());
            assert_tiles(&text, &out, &ChunkOptions::default());
        }
    }

    #[test]
    fn tiles_any_string_every_lang(text in "\\PC{0,300}|[\\x00-\\x7f]{0,300}") {
        for lang in Lang::ALL {
            let opts = small();
            assert_tiles(&text, &chunk_text(lang, &text, &opts), &opts);
        }
    }

    #[test]
    fn tiles_with_any_options(
        text in document(),
        max_bytes in 0usize..400,
        max_lines in 0usize..12,
        min_bytes in 0usize..400,
        li in 0usize..15,
    ) {
        let opts = ChunkOptions { max_bytes, max_lines, min_bytes };
        let lang = Lang::ALL[li];
        assert_tiles(&text, &chunk_text(lang, &text, &opts), &opts);
    }
}

#[test]
fn empty_text_has_no_chunks() {
    for lang in Lang::ALL {
        let out = chunk_text(lang, "", &ChunkOptions::default());
        assert!(out.chunks.is_empty());
        assert!(out.symbols.is_empty());
    }
}

#[test]
fn trailing_newline_does_not_start_a_line() {
    for lang in Lang::ALL {
        for text in ["a\nb", "a\nb\n", "\n", "\n\n", "x", "a\r\nb\r\n"] {
            let out = chunk_text(lang, text, &ChunkOptions::default());
            assert_tiles(text, &out, &ChunkOptions::default());
        }
    }
}

#[test]
fn pathological_inputs() {
    let huge_line = "x".repeat(1 << 20);
    let deep_parens = "(".repeat(100_000);
    let deep_braces = format!("fn f() {}{}\n", "{".repeat(50_000), "}".repeat(50_000));
    let deep_json = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let many_lines = "a = 1\n".repeat(100_000);
    let crlf_rust = "fn a() {\r\n    1\r\n}\r\n\r\nfn b() {}\r\n".repeat(200);
    let tabs = "\tfn\t(\t)\t{\n".repeat(5_000);
    let nul = "\0\0\0\n\u{feff}fn a() {}\n";
    let start = std::time::Instant::now();
    for text in [
        huge_line.as_str(),
        deep_parens.as_str(),
        deep_braces.as_str(),
        deep_json.as_str(),
        many_lines.as_str(),
        crlf_rust.as_str(),
        tabs.as_str(),
        nul,
    ] {
        for lang in Lang::ALL {
            let opts = ChunkOptions::default();
            assert_tiles(text, &chunk_text(lang, text, &opts), &opts);
        }
    }
    // Generous (debug build, shared CPUs): what matters is that nothing hangs.
    assert!(start.elapsed().as_secs() < 240, "{:?}", start.elapsed());
}

#[test]
fn huge_line_is_one_chunk() {
    let text = format!("fn a() {{}}\n{}\nfn b() {{}}\n", "x".repeat(1 << 20));
    let out = chunk_text(Lang::Rust, &text, &ChunkOptions::default());
    assert_tiles(&text, &out, &ChunkOptions::default());
    assert!(out
        .chunks
        .iter()
        .any(|c| c.start_line == 2 && c.end_line == 2));
}

#[test]
fn chunk_text_from_many_threads() {
    let text = "fn a() {}\nstruct S { x: u32 }\nimpl S { fn m(&self) {} }\n".repeat(50);
    let expected = chunk_text(Lang::Rust, &text, &ChunkOptions::default());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for lang in Lang::ALL {
                    let out = chunk_text(lang, &text, &ChunkOptions::default());
                    assert_tiles(&text, &out, &ChunkOptions::default());
                }
                assert_eq!(
                    chunk_text(Lang::Rust, &text, &ChunkOptions::default()),
                    expected
                );
            });
        }
    });
}
