//! Prints the syntax tree of a file (to a depth) — a debugging aid.
//!
//! `cargo run -p weft-chunk --example dump -- FILE [DEPTH]`

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: dump FILE [DEPTH]");
        return;
    };
    let depth: usize = args.get(2).and_then(|d| d.parse().ok()).unwrap_or(3);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lang = weft_chunk::Lang::detect(path, text.as_bytes());
    let Some(language) = weft_chunk::grammar(lang) else {
        eprintln!("no grammar for {path}");
        return;
    };
    let mut parser = tree_sitter::Parser::new();
    if parser.set_language(&language).is_err() {
        return;
    }
    let Some(tree) = parser.parse(&text, None) else {
        return;
    };
    let mut cursor = tree.walk();
    let mut d = 0usize;
    loop {
        let n = cursor.node();
        let field = cursor.field_name().unwrap_or("");
        let snippet: String = text[n.byte_range()].chars().take(30).collect();
        println!(
            "{}{}{} [{}-{}] {:?}",
            "  ".repeat(d),
            if field.is_empty() {
                String::new()
            } else {
                format!("{field}: ")
            },
            n.kind(),
            n.start_position().row + 1,
            n.end_position().row + 1,
            snippet
        );
        if d < depth && cursor.goto_first_child() {
            d += 1;
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
            d -= 1;
        }
    }
}
