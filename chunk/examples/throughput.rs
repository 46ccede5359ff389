//! Chunking throughput over every `.rs` file under a directory.
//!
//! `cargo run --release -p weft-chunk --example throughput -- DIR [THREADS]`

use std::path::{Path, PathBuf};
use std::time::Instant;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            collect(&p, out);
        } else if ft.is_file() && p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).map_or(".", |s| s.as_str());
    let threads: usize = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(1);
    let mut paths = Vec::new();
    collect(Path::new(dir), &mut paths);
    let texts: Vec<String> = paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|t| t.len() <= 2 << 20)
        .collect();
    let total: usize = texts.iter().map(|t| t.len()).sum();
    let opts = weft_chunk::ChunkOptions::default();
    if args.get(3).is_some_and(|m| m == "parse") {
        // Parse only, for comparison.
        let t0 = Instant::now();
        let mut parser = tree_sitter::Parser::new();
        let lang = weft_chunk::grammar(weft_chunk::Lang::Rust);
        if let Some(lang) = lang {
            let _ = parser.set_language(&lang);
        }
        let mut nodes = 0usize;
        for t in &texts {
            if let Some(tree) = parser.parse(t, None) {
                nodes += tree.root_node().child_count();
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "parse only: {:.1} MB/s ({nodes} top nodes)",
            total as f64 / 1e6 / secs
        );
        return;
    }
    let t0 = Instant::now();
    let chunks: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let texts = &texts;
                let opts = &opts;
                s.spawn(move || {
                    let mut n = 0;
                    for t in texts.iter().skip(k).step_by(threads) {
                        n += weft_chunk::chunk_text(weft_chunk::Lang::Rust, t, opts)
                            .chunks
                            .len();
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut terms = 0usize;
    for t in &texts {
        terms += weft_chunk::split_terms(t).len();
    }
    let terms_secs = t1.elapsed().as_secs_f64();
    println!(
        "{} files, {:.1} MB, {} chunks, {:.2}s on {} thread(s): {:.1} MB/s ({:.1} MB/s per thread); split_terms {:.1} MB/s ({} bytes)",
        texts.len(),
        total as f64 / 1e6,
        chunks,
        secs,
        threads,
        total as f64 / 1e6 / secs,
        total as f64 / 1e6 / secs / threads as f64,
        total as f64 / 1e6 / terms_secs,
        terms
    );
}
