//! `term-embed`: gives each recorded command's pieces (`terminal_chunks`) a vector in the
//! LanceDB table `terminal_<model>`, through the embed pool, so the history can be searched
//! by meaning. It sleeps until a command is recorded (or a minute passes), embeds what is
//! pending in batches, and backs off while the pool is down; pieces stay pending in SQLite,
//! so nothing is lost across restarts.

use std::time::Duration;

use weft_vectors::VectorRow;

use super::{history, TermDeps, Terminals};
use crate::config::PoolKind;
use crate::pool::EmbedMode;
use crate::supervision::{ChildSpec, Restart, Shutdown};

/// Pieces per embed request.
const BATCH: usize = 32;

/// The LanceDB table of terminal vectors for an embedding model.
pub fn table_name(model: &str) -> String {
    crate::index::embedder::table_name(model).replacen("chunks_", "terminal_", 1)
}

/// The `term-embed` child of `terms`.
pub fn child(terms: &Terminals) -> ChildSpec {
    let terms = terms.clone();
    ChildSpec::task("term-embed", move || run(terms.clone()))
        .restart(Restart::Permanent)
        .shutdown(Shutdown::Timeout(Duration::from_secs(2)))
}

async fn run(terms: Terminals) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match round(terms.deps()).await {
            Ok(0) => {
                backoff = Duration::from_secs(1);
                let _ =
                    tokio::time::timeout(Duration::from_secs(60), terms.embed_wake().notified())
                        .await;
            }
            Ok(_) => backoff = Duration::from_secs(1),
            Err(e) => {
                tracing::debug!(error = %e, retry_in = ?backoff, "terminal embeddings wait");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Embeds one batch; returns how many pieces got vectors.
async fn round(deps: &TermDeps) -> Result<usize, String> {
    let pending = history::pending_pieces(&deps.storage, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    if pending.is_empty() {
        return Ok(0);
    }
    let texts: Vec<String> = pending.iter().map(|p| p.text.clone()).collect();
    let out = deps
        .pools
        .get(PoolKind::Embed)
        .map_err(|e| e.to_string())?
        .embed(texts, EmbedMode::Document)
        .await
        .map_err(|e| e.to_string())?;
    if out.count != pending.len() || out.dim == 0 {
        return Err(format!(
            "the embed pool answered {} vectors for {} pieces",
            out.count,
            pending.len()
        ));
    }
    let table = deps
        .index
        .table(&table_name(&out.model_id), out.dim)
        .await
        .map_err(|e| e.to_string())?;
    let rows: Vec<VectorRow> = pending
        .iter()
        .zip(out.vectors.chunks(out.dim))
        .map(|(p, v)| VectorRow {
            chunk_id: format!("term-{}-{}", p.command_id, p.ord),
            workspace_id: p.workspace_id.unwrap_or(0),
            path: p.cwd.clone().unwrap_or_default(),
            lang: "shell".into(),
            kind: "terminal".into(),
            start_line: u32::try_from(p.command_id).unwrap_or(u32::MAX),
            end_line: u32::try_from(p.ord).unwrap_or(0),
            content_hash: p.content_hash.clone(),
            vector: v.to_vec(),
        })
        .collect();
    table.upsert(rows).await.map_err(|e| e.to_string())?;
    let n = pending.len();
    history::mark_embedded(&deps.storage, pending.iter().map(|p| p.id).collect())
        .await
        .map_err(|e| e.to_string())?;
    Ok(n)
}

/// Commands nearest in meaning to `query`: (command id, best distance), nearest first.
pub async fn nearest(deps: &TermDeps, query: &str, k: usize) -> Result<Vec<(i64, f32)>, String> {
    let out = deps
        .pools
        .get(PoolKind::Embed)
        .map_err(|e| e.to_string())?
        .embed(vec![query.to_owned()], EmbedMode::Query)
        .await
        .map_err(|e| e.to_string())?;
    if out.count != 1 || out.dim == 0 {
        return Err("the embed pool gave no query vector".into());
    }
    let name = table_name(&out.model_id);
    let store = deps.index.vector_store().await.map_err(|e| e.to_string())?;
    let names = store.table_names().await.map_err(|e| e.to_string())?;
    if !names.contains(&name) {
        return Ok(Vec::new());
    }
    let table = deps
        .index
        .table(&name, out.dim)
        .await
        .map_err(|e| e.to_string())?;
    let hits = table
        .search(&out.vectors, k * 2, None)
        .await
        .map_err(|e| e.to_string())?;
    let mut best: Vec<(i64, f32)> = Vec::new();
    for h in hits {
        let Some(id) = h
            .chunk_id
            .strip_prefix("term-")
            .and_then(|r| r.split('-').next())
            .and_then(|s| s.parse::<i64>().ok())
        else {
            continue;
        };
        match best.iter_mut().find(|(c, _)| *c == id) {
            Some(b) => b.1 = b.1.min(h.distance),
            None => best.push((id, h.distance)),
        }
    }
    best.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
    best.truncate(k);
    Ok(best)
}
