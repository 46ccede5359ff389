//! Latency figures for the indexer's design: upsert of 1 / 64 rows into a
//! 50k-row table, k=10 search p50/p95 without and with the ANN index,
//! recall of the ANN index against the exact search, and optimize time.
//!
//! `cargo run --release -p weft-vectors --example vecbench [ROWS]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use weft_vectors::{VectorRow, VectorStore, VectorTable};

const DIM: usize = 384;

fn unit(rng: &mut StdRng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Clustered vectors (a centre plus noise), closer to real embeddings than
/// uniform noise, so that IVF partitions mean something.
fn make_row(i: usize, centres: &[Vec<f32>], rng: &mut StdRng) -> VectorRow {
    let c = &centres[i % centres.len()];
    let noise = unit(rng);
    let mut v: Vec<f32> = c.iter().zip(&noise).map(|(a, b)| a + 0.6 * b).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    VectorRow {
        chunk_id: format!("{:032x}", i as u128 * 0x9e37_79b9_7f4a_7c15),
        workspace_id: (i % 4) as i64,
        path: format!("src/mod{}/file{}.rs", i % 97, i),
        lang: if i.is_multiple_of(3) {
            "python"
        } else {
            "rust"
        }
        .to_string(),
        kind: "function".to_string(),
        start_line: 1,
        end_line: 40,
        content_hash: format!("{i:x}"),
        vector: v,
    }
}

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

fn report(label: &str, v: Vec<Duration>) {
    println!(
        "{label:<48} n={:<4} p50={:>8.2} ms  p95={:>8.2} ms",
        v.len(),
        pct(v.clone(), 0.5),
        pct(v, 0.95)
    );
}

async fn bench_upserts(
    t: &VectorTable,
    label: &str,
    next: &mut usize,
    centres: &[Vec<f32>],
    rng: &mut StdRng,
) {
    for batch in [1usize, 64] {
        let mut new = Vec::new();
        let mut upd = Vec::new();
        for _ in 0..20 {
            let rows: Vec<VectorRow> = (0..batch)
                .map(|_| {
                    *next += 1;
                    make_row(*next, centres, rng)
                })
                .collect();
            let s = Instant::now();
            t.upsert(rows).await.unwrap();
            new.push(s.elapsed());
            // Update existing rows (re-embedding a changed chunk).
            let rows: Vec<VectorRow> = (0..batch)
                .map(|j| make_row((*next * 7 + j * 13) % 50_000, centres, rng))
                .collect();
            let s = Instant::now();
            t.upsert(rows).await.unwrap();
            upd.push(s.elapsed());
        }
        report(&format!("{label}: upsert {batch} new rows"), new);
        report(&format!("{label}: upsert {batch} existing rows"), upd);
    }
    let mut del = Vec::new();
    for _ in 0..10 {
        let ids: Vec<String> = (0..64)
            .map(|_| {
                *next += 1;
                make_row(*next % 50_000, centres, rng).chunk_id
            })
            .collect();
        let s = Instant::now();
        t.delete_chunks(&ids).await.unwrap();
        del.push(s.elapsed());
    }
    report(&format!("{label}: delete_chunks 64 ids"), del);
}

async fn bench_search(
    t: &VectorTable,
    label: &str,
    queries: &[Vec<f32>],
    filter: Option<&str>,
) -> Vec<Vec<String>> {
    let mut lat = Vec::new();
    let mut out = Vec::new();
    for q in queries {
        let s = Instant::now();
        let hits = t.search(q, 10, filter).await.unwrap();
        lat.push(s.elapsed());
        out.push(hits.into_iter().map(|h| h.chunk_id).collect());
    }
    report(&format!("{label}: search k=10"), lat);
    out
}

fn recall(exact: &[Vec<String>], approx: &[Vec<String>]) -> f64 {
    let mut hit = 0usize;
    let mut total = 0usize;
    for (e, a) in exact.iter().zip(approx) {
        let a: HashSet<&String> = a.iter().collect();
        hit += e.iter().filter(|id| a.contains(id)).count();
        total += e.len();
    }
    hit as f64 / total.max(1) as f64
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    let t = store.table("bench", DIM).await.unwrap();
    let mut rng = StdRng::seed_from_u64(42);
    let centres: Vec<Vec<f32>> = (0..200).map(|_| unit(&mut rng)).collect();

    let s = Instant::now();
    for start in (0..n).step_by(5000) {
        let rows: Vec<VectorRow> = (start..(start + 5000).min(n))
            .map(|i| make_row(i, &centres, &mut rng))
            .collect();
        t.upsert(rows).await.unwrap();
    }
    println!(
        "load {n} rows in 5000-row upserts: {:.1} s",
        s.elapsed().as_secs_f64()
    );
    let s = Instant::now();
    t.optimize().await.unwrap();
    println!("optimize after load: {:.2} s", s.elapsed().as_secs_f64());

    let queries: Vec<Vec<f32>> = (0..100)
        .map(|i| make_row(n + 1_000_000 + i, &centres, &mut rng).vector)
        .collect();
    let mut next = n + 10_000_000;

    let exact = bench_search(&t, "no index", &queries, None).await;
    bench_search(
        &t,
        "no index, filter ws+lang",
        &queries,
        Some("workspace_id = 1 AND lang = 'rust'"),
    )
    .await;
    bench_upserts(&t, "no index", &mut next, &centres, &mut rng).await;

    let s = Instant::now();
    let did = t.maybe_index(10_000).await.unwrap();
    println!(
        "maybe_index (IVF-SQ + BTree chunk_id): {did} in {:.2} s",
        s.elapsed().as_secs_f64()
    );
    let s = Instant::now();
    t.optimize().await.unwrap();
    println!("optimize after index: {:.2} s", s.elapsed().as_secs_f64());
    let approx = bench_search(&t, "IVF-SQ", &queries, None).await;
    println!(
        "recall@10 IVF-SQ (refine x4) vs exact: {:.3}",
        recall(&exact, &approx)
    );
    bench_search(
        &t,
        "IVF-SQ, filter ws+lang",
        &queries,
        Some("workspace_id = 1 AND lang = 'rust'"),
    )
    .await;
    bench_upserts(&t, "indexed + BTree", &mut next, &centres, &mut rng).await;
    bench_search(&t, "IVF-SQ after ~2.6k unindexed upserts", &queries, None).await;

    t.raw().drop_index("chunk_id_idx").await.unwrap();
    bench_upserts(&t, "indexed, no BTree", &mut next, &centres, &mut rng).await;

    // Many small commits, then optimize.
    for _ in 0..100 {
        next += 1;
        t.upsert(vec![make_row(next, &centres, &mut rng)])
            .await
            .unwrap();
    }
    let s = Instant::now();
    t.optimize().await.unwrap();
    println!(
        "optimize after 100 one-row upserts: {:.2} s",
        s.elapsed().as_secs_f64()
    );
    bench_search(&t, "IVF-SQ after optimize", &queries, None).await;
    let s = Instant::now();
    t.verify().await.unwrap();
    println!(
        "verify {} rows: {:.2} s",
        t.count().await.unwrap(),
        s.elapsed().as_secs_f64()
    );
}
