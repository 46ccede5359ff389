//! Time, peak memory and recall of training the ANN index on an existing table (a copy of
//! a profile's `vectors/` folder: it drops the table's vector index). Runs 20 exact
//! searches, `maybe_index`, then the same searches through the index: recall@10 and
//! latency. The figures behind the choice of IVF-SQ (see `TRAIN_SAMPLE_RATE` in the lib).
//!
//! `cargo run --release -p weft-vectors --example train_probe -- STORE_DIR TABLE [DIM]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use futures::TryStreamExt;
use lancedb::arrow::arrow_array::{Array, FixedSizeListArray, Float32Array, RecordBatch};
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use weft_vectors::{VectorStore, VectorTable};

/// 20 stored vectors, each nudged a little, as queries.
async fn queries(table: &VectorTable) -> Vec<Vec<f32>> {
    let batches: Vec<RecordBatch> = table
        .raw()
        .query()
        .select(Select::columns(&["vector"]))
        .limit(2000)
        .execute()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let b = &batches[0];
    let fsl = b
        .column(0)
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .unwrap();
    (0..20)
        .map(|i| {
            let v = fsl.value(i * 37 % fsl.len());
            let v = v.as_any().downcast_ref::<Float32Array>().unwrap();
            v.values()
                .iter()
                .enumerate()
                .map(|(j, x)| x + if j % 7 == i % 7 { 0.05 } else { 0.0 })
                .collect()
        })
        .collect()
}

fn hwm_mb() -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dim: usize = args.get(3).and_then(|d| d.parse().ok()).unwrap_or(384);
    let store = VectorStore::open(std::path::Path::new(&args[1]))
        .await
        .unwrap();
    let table = store.table(&args[2], dim).await.unwrap();
    for idx in table.raw().list_indices().await.unwrap() {
        if idx.columns.iter().any(|c| c == "vector") {
            table.raw().drop_index(&idx.name).await.unwrap();
        }
    }
    println!("rows {} before: {}", table.count().await.unwrap(), hwm_mb());
    let qs = queries(&table).await;
    let mut exact = Vec::new();
    for q in &qs {
        exact.push(table.search(q, 10, None).await.unwrap());
    }
    let t = Instant::now();
    table.maybe_index(1).await.unwrap();
    println!(
        "trained in {:.1} s: {}",
        t.elapsed().as_secs_f64(),
        hwm_mb()
    );
    let mut ms = Vec::new();
    let mut found = 0;
    for (q, ex) in qs.iter().zip(&exact) {
        let t = Instant::now();
        let hits = table.search(q, 10, None).await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        found += ex
            .iter()
            .filter(|e| hits.iter().any(|h| h.chunk_id == e.chunk_id))
            .count();
    }
    println!(
        "recall@10 vs exact: {:.3}",
        found as f64 / (10.0 * qs.len() as f64)
    );
    ms.sort_by(f64::total_cmp);
    println!(
        "search k=10: p50 {:.1} ms p95 {:.1} ms: {}",
        ms[10],
        ms[19],
        hwm_mb()
    );
}
