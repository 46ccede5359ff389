//! Prints the chunks and symbols of a file — a debugging aid.
//!
//! `cargo run -p weft-chunk --example chunks -- FILE [MAX_BYTES MAX_LINES MIN_BYTES]`

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: chunks FILE [MAX_BYTES MAX_LINES MIN_BYTES]");
        return;
    };
    let mut opts = weft_chunk::ChunkOptions::default();
    let num = |i: usize| args.get(i).and_then(|v| v.parse().ok());
    if let (Some(a), Some(b), Some(c)) = (num(2), num(3), num(4)) {
        opts = weft_chunk::ChunkOptions {
            max_bytes: a,
            max_lines: b,
            min_bytes: c,
        };
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lang = weft_chunk::Lang::detect(path, text.as_bytes());
    let out = weft_chunk::chunk_text(lang, &text, &opts);
    println!("lang={} parsed={}", lang.name(), out.parsed);
    for c in &out.chunks {
        println!(
            "{:>4}-{:<4} {:>6}B {:<9} {:<28} {}",
            c.start_line,
            c.end_line,
            c.end_byte - c.start_byte,
            c.kind,
            c.symbol.as_deref().unwrap_or("-"),
            c.header.as_deref().unwrap_or("")
        );
    }
    for s in &out.symbols {
        println!(
            "  sym {:<9} {:<24} in {:<16} {}-{}",
            s.kind,
            s.name,
            s.container.as_deref().unwrap_or("-"),
            s.start_line,
            s.end_line
        );
    }
}
