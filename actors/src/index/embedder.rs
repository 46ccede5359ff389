//! The `embedder` actor: turns pending chunks into vectors in LanceDB.
//!
//! It loops: apply vector tombstones (chunks deleted from SQLite), take the newest pending
//! chunks (recently changed files first), look their content hashes up in the embedding cache,
//! embed the misses with the embed pool in one batch, upsert the vectors into the table of the
//! model that made them (keyed by chunk id, so a repeat never duplicates), then mark the chunks
//! done. A crash between any two steps repeats work but never loses or duplicates a vector.
//!
//! One table per model: when the pool's model changes, the new model's table is filled in the
//! background (from the cache where it can) and becomes `active` once every chunk is in it;
//! the old one is dropped. A table that LanceDB cannot read is dropped, recreated and refilled
//! from the cache, without the model where the cache has the vectors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use rusqlite::params;
use tokio::task::JoinHandle;
use weft_vectors::{VectorError, VectorRow, VectorStore, VectorTable};

use super::files::{embed_text, WorkspaceId};
use super::service::IndexService;
use crate::config::Loaded;
use crate::pool::{EmbedMode, PoolError, PoolHandle, Pools};
use crate::supervision::{ChildSpec, Restart, Shutdown};

/// Tombstones applied per round.
const TOMBSTONE_BATCH: usize = 2000;
/// Upserts between two compactions of a table.
const OPTIMIZE_EVERY: u32 = 64;

/// Builds or updates the ANN index (once the table has `ann_min_rows` rows) and compacts
/// the table. Failures are logged and retried at the next call; search works without them.
async fn maintain(name: &str, table: &VectorTable, ann_min_rows: usize) {
    match table.maybe_index(ann_min_rows).await {
        Ok(true) => tracing::info!(table = %name, "vector indices built or updated"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(table = %name, error = %e, "building the ANN index failed; searching without it, will retry")
        }
    }
    if let Err(e) = table.optimize().await {
        tracing::warn!(table = %name, error = %e, "compacting the vector table failed; will retry");
    }
}

/// The `embedder` child, or `None` (with the reason recorded in the index status) when there
/// is no embed pool.
pub fn embedder_child(index: &IndexService, pools: &Pools, loaded: &Loaded) -> Option<ChildSpec> {
    let pool = match pools.get(crate::config::PoolKind::Embed) {
        Ok(p) => p.clone(),
        Err(e) => {
            index.update_vectors(|v| {
                v.blocked = Some(format!("no vectors: {e}"));
            });
            return None;
        }
    };
    let args = EmbedderArgs {
        service: index.clone(),
        pool,
        batch: loaded.config.index.embed_batch as usize,
        ann_min_rows: usize::try_from(loaded.config.index.ann_min_rows).unwrap_or(usize::MAX),
    };
    Some(
        ChildSpec::actor("embedder", move || (EmbedderActor, args.clone()))
            .restart(Restart::Permanent)
            .shutdown(Shutdown::Timeout(Duration::from_secs(2))),
    )
}

/// Start-up arguments of [`EmbedderActor`].
#[derive(Clone)]
pub struct EmbedderArgs {
    /// The index.
    pub service: IndexService,
    /// The embed pool.
    pub pool: PoolHandle,
    /// Chunks per embed request.
    pub batch: usize,
    /// Rows before an ANN index is built.
    pub ann_min_rows: usize,
}

/// The `embedder` actor (see the module docs).
pub struct EmbedderActor;

/// Messages of [`EmbedderActor`].
pub enum EmbedderMsg {
    /// The loop ended with this error: fail (the supervisor restarts us).
    Failed(String),
}

/// [`EmbedderActor`]'s state: the loop task, aborted on drop.
pub struct EmbedderState {
    task: JoinHandle<()>,
}

impl Drop for EmbedderState {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Actor for EmbedderActor {
    type Msg = EmbedderMsg;
    type State = EmbedderState;
    type Arguments = EmbedderArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<EmbedderMsg>,
        args: EmbedderArgs,
    ) -> Result<EmbedderState, ActorProcessingErr> {
        let store = args.service.vector_store().await?;
        let me = myself.clone();
        let task = tokio::spawn(async move {
            let mut run = Embedder {
                args,
                store,
                tables: HashMap::new(),
                upserts: 0,
                rate: Rate::default(),
                learned: false,
            };
            let err = run.run().await;
            let _ = me.cast(EmbedderMsg::Failed(err));
        });
        Ok(EmbedderState { task })
    }

    async fn handle(
        &self,
        _myself: ActorRef<EmbedderMsg>,
        msg: EmbedderMsg,
        _state: &mut EmbedderState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            EmbedderMsg::Failed(e) => Err(e.into()),
        }
    }
}

/// One pending chunk, as the embedder needs it.
#[derive(Debug, Clone)]
struct Pending {
    id: i64,
    key: String,
    workspace: i64,
    root: String,
    path: String,
    lang: String,
    kind: String,
    start_line: u32,
    end_line: u32,
    start_byte: usize,
    end_byte: usize,
    header: Option<String>,
    content_hash: String,
    file_hash: Option<String>,
}

/// Chunks per second over a sliding window of batches.
#[derive(Default)]
struct Rate {
    window: Vec<(Instant, usize)>,
}

impl Rate {
    fn add(&mut self, n: usize) -> f64 {
        let now = Instant::now();
        self.window.push((now, n));
        self.window
            .retain(|(t, _)| now.duration_since(*t) < Duration::from_secs(20));
        let total: usize = self.window.iter().map(|w| w.1).sum();
        let span = self
            .window
            .first()
            .map_or(0.0, |(t, _)| now.duration_since(*t).as_secs_f64());
        if span < 0.5 {
            0.0
        } else {
            total as f64 / span
        }
    }
}

struct Embedder {
    args: EmbedderArgs,
    store: VectorStore,
    tables: HashMap<String, VectorTable>,
    upserts: u32,
    rate: Rate,
    learned: bool,
}

/// A model's table, as recorded in `vector_tables`.
#[derive(Debug, Clone)]
pub(crate) struct TableRow {
    pub name: String,
    pub model: String,
    pub dim: usize,
    pub state: String,
}

impl Embedder {
    /// Runs until an error it cannot handle; returns it.
    async fn run(&mut self) -> String {
        let wake = self.args.service.chunks_written();
        if let Err(e) = self.verify_tables().await {
            return e;
        }
        let mut backoff = Duration::from_millis(500);
        let mut idle_done = false;
        loop {
            if let Err(e) = self.apply_tombstones().await {
                return e;
            }
            if !self.learned {
                // Learn which model the pool runs even when nothing is pending: a new model
                // must start its own table (and re-embed everything) without waiting for an
                // edit.
                match self.learn_model().await {
                    Ok(()) => {}
                    Err(RoundError::Pool(e)) => {
                        self.args.service.update_vectors(|v| {
                            v.blocked = Some(format!("embed pool unavailable: {e}"));
                        });
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        continue;
                    }
                    Err(RoundError::Corrupt(table)) => {
                        if let Err(e) = self.rebuild(&table).await {
                            return e;
                        }
                    }
                    Err(RoundError::Fatal(e)) => return e,
                }
            }
            match self.rounds().await {
                Ok(0) => {
                    if !idle_done {
                        if let Err(e) = self.when_idle().await {
                            return e;
                        }
                        idle_done = true;
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(5), wake.notified()).await;
                }
                Ok(_) => {
                    idle_done = false;
                    backoff = Duration::from_millis(500);
                }
                Err(RoundError::Pool(e)) => {
                    self.args.service.update_vectors(|v| {
                        v.blocked = Some(format!("embed pool unavailable: {e}"));
                    });
                    tracing::warn!(error = %e, "embedding paused: the embed pool failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                Err(RoundError::Corrupt(table)) => {
                    if let Err(e) = self.rebuild(&table).await {
                        return e;
                    }
                }
                Err(RoundError::Fatal(e)) => return e,
            }
        }
    }

    /// Checks every live table can be read; a corrupt one is rebuilt.
    async fn verify_tables(&mut self) -> Result<(), String> {
        for t in self.table_rows().await? {
            if t.state == "retired" {
                continue;
            }
            let check = match self.store.table(&t.name, t.dim).await {
                Ok(table) => table.verify().await.map(|()| table),
                Err(e) => Err(e),
            };
            match check {
                Ok(table) => {
                    self.tables.insert(t.name.clone(), table.clone());
                    self.args.service.cache_table(&t.name, table);
                }
                Err(
                    e @ (VectorError::Corrupt { .. }
                    | VectorError::Schema { .. }
                    | VectorError::DimMismatch { .. }),
                ) => {
                    tracing::error!(table = %t.name, error = %e, "vector table unreadable; rebuilding it from the index");
                    self.rebuild(&t.name).await?;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        self.publish_status().await;
        Ok(())
    }

    /// Drops and recreates `name`, and marks every chunk pending so it is refilled (from the
    /// cache where possible).
    async fn rebuild(&mut self, name: &str) -> Result<(), String> {
        let rows = self.table_rows().await?;
        let Some(row) = rows.into_iter().find(|r| r.name == name) else {
            return Ok(());
        };
        let table = self
            .store
            .recreate(&row.name, row.dim)
            .await
            .map_err(|e| e.to_string())?;
        self.tables.insert(row.name.clone(), table.clone());
        self.args.service.cache_table(&row.name, table);
        let storage = self.args.service.files().storage().clone();
        storage
            .write(|tx| {
                tx.execute("UPDATE chunks SET pending = 1 WHERE pending = 0", [])?;
                tx.execute(
                    "UPDATE files SET state = 'chunked' WHERE state = 'embedded'",
                    [],
                )?;
                tx.execute("DELETE FROM vector_tombstones", [])?;
                Ok(())
            })
            .await
            .map_err(|e| e.to_string())?;
        tracing::warn!(table = %row.name, "vector table recreated; refilling it from the embedding cache and the model");
        Ok(())
    }

    async fn table_rows(&self) -> Result<Vec<TableRow>, String> {
        table_rows(self.args.service.files().storage())
            .await
            .map_err(|e| e.to_string())
    }

    /// Deletes the vectors of deleted chunks from every table.
    async fn apply_tombstones(&mut self) -> Result<(), String> {
        let storage = self.args.service.files().storage().clone();
        loop {
            let keys: Vec<String> = storage
                .read(|conn| {
                    let mut stmt =
                        conn.prepare_cached("SELECT chunk_key FROM vector_tombstones LIMIT ?1")?;
                    let rows = stmt.query_map(params![TOMBSTONE_BATCH as i64], |r| r.get(0))?;
                    Ok(rows.collect::<Result<Vec<String>, _>>()?)
                })
                .await
                .map_err(|e| e.to_string())?;
            if keys.is_empty() {
                return Ok(());
            }
            let names: Vec<String> = self.tables.keys().cloned().collect();
            for name in names {
                if let Some(t) = self.tables.get(&name) {
                    match t.delete_chunks(&keys).await {
                        Ok(()) => {}
                        Err(VectorError::Corrupt { .. }) => self.rebuild(&name).await?,
                        Err(e) => return Err(e.to_string()),
                    }
                }
            }
            let n = keys.len();
            storage
                .write(move |tx| {
                    let mut del =
                        tx.prepare_cached("DELETE FROM vector_tombstones WHERE chunk_key = ?1")?;
                    for k in &keys {
                        del.execute(params![k])?;
                    }
                    Ok(())
                })
                .await
                .map_err(|e| e.to_string())?;
            if n < TOMBSTONE_BATCH {
                return Ok(());
            }
        }
    }

    /// One batch: returns how many chunks were completed.
    /// Embeds pending chunks until none is left (returns how many were stored). Up to
    /// [`ROUNDS_IN_FLIGHT`] batches are with the pool at once, so the workers never wait
    /// while a finished batch is written to LanceDB and SQLite; chunks of files the watcher
    /// just reported ([`IndexService::take_fresh`]) go out at once, as urgent requests ahead
    /// of the backlog, whatever is in flight.
    async fn rounds(&mut self) -> Result<usize, RoundError> {
        let fresh_notify = self.args.service.fresh_notify();
        let mut inflight: FuturesUnordered<RoundFuture> = FuturesUnordered::new();
        let mut busy: HashSet<i64> = HashSet::new();
        let mut stored = 0;
        let mut backlog_done = false;
        loop {
            // Fill: the just-changed files first (never limited), then the backlog.
            loop {
                let fresh = self.args.service.take_fresh();
                let urgent = !fresh.is_empty();
                if !urgent && (backlog_done || inflight.len() >= ROUNDS_IN_FLIGHT) {
                    break;
                }
                let prepared = self.prepare(&busy, fresh).await?;
                let Some(p) = prepared else {
                    if !urgent {
                        backlog_done = true;
                    }
                    continue;
                };
                if p.misses.is_empty() {
                    // All from the cache: nothing to wait for.
                    stored += self.store(p, None).await?;
                    continue;
                }
                busy.extend(p.ready.iter().map(|(c, _)| c.id));
                let texts: Vec<String> = p.misses.iter().map(|i| p.ready[*i].1.clone()).collect();
                let pool = self.args.pool.clone();
                inflight.push(Box::pin(async move {
                    let out = embed_parallel(&pool, texts, p.urgent).await;
                    (p, out)
                }));
            }
            if inflight.is_empty() {
                return Ok(stored);
            }
            let done = tokio::select! {
                done = inflight.next() => done,
                () = fresh_notify.notified() => continue,
            };
            let Some((p, out)) = done else {
                return Ok(stored);
            };
            for (c, _) in &p.ready {
                busy.remove(&c.id);
            }
            backlog_done = false;
            let out = out.map_err(RoundError::Pool)?;
            stored += self.store(p, Some(out)).await?;
        }
    }

    /// Takes the next batch: pending chunks of `fresh` files, or else the newest pending
    /// chunks, skipping those already with the pool (`busy`); reads their texts and looks
    /// them up in the embedding cache. `None`: nothing to do.
    async fn prepare(
        &mut self,
        busy: &HashSet<i64>,
        fresh: Vec<(i64, String)>,
    ) -> Result<Option<Prepared>, RoundError> {
        let storage = self.args.service.files().storage().clone();
        let limit = self.args.batch.max(1);
        let urgent = !fresh.is_empty();
        let pending = fetch_pending(&storage, limit + busy.len(), fresh)
            .await
            .map_err(|e| RoundError::Fatal(e.to_string()))?;
        let pending: Vec<Pending> = pending
            .into_iter()
            .filter(|p| !busy.contains(&p.id))
            .take(limit)
            .collect();
        if pending.is_empty() {
            return Ok(None);
        }
        // Texts from the files; chunks whose file changed since chunking are left for the
        // indexer (asked to look at those files again).
        let (texts, stale) = tokio::task::spawn_blocking({
            let pending = pending.clone();
            move || read_texts(&pending)
        })
        .await
        .map_err(|e| RoundError::Fatal(e.to_string()))?;
        if !stale.is_empty() {
            self.recheck(&stale).await;
        }
        let ready: Vec<(Pending, String)> = pending
            .into_iter()
            .zip(texts)
            .filter_map(|(p, t)| t.map(|t| (p, t)))
            .collect();
        if ready.is_empty() {
            // Everything in this batch was stale: the indexer re-chunks those files and
            // wakes us when it wrote them.
            return Ok(None);
        }
        // Cache first: the model is whatever the pool runs, learned from its replies.
        let model = self.args.service.embed_model();
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; ready.len()];
        if let Some(model) = &model {
            let hashes: Vec<String> = ready.iter().map(|(p, _)| p.content_hash.clone()).collect();
            let cached = cache_get(&storage, model, hashes)
                .await
                .map_err(|e| RoundError::Fatal(e.to_string()))?;
            for (i, (p, _)) in ready.iter().enumerate() {
                if let Some(v) = cached.get(&p.content_hash) {
                    vectors[i] = Some(v.clone());
                }
            }
        }
        let misses: Vec<usize> = (0..ready.len()).filter(|i| vectors[*i].is_none()).collect();
        Ok(Some(Prepared {
            ready,
            vectors,
            misses,
            model,
            urgent,
        }))
    }

    /// Writes a batch: the pool's vectors for the cache misses (`out`), the rest from the
    /// cache, into the model's table, then marks the chunks done. Returns how many.
    async fn store(
        &mut self,
        p: Prepared,
        out: Option<crate::pool::EmbedOutput>,
    ) -> Result<usize, RoundError> {
        let storage = self.args.service.files().storage().clone();
        let Prepared {
            ready,
            mut vectors,
            misses,
            model,
            ..
        } = p;
        let mut model_id = model.clone();
        let mut fresh: Vec<(String, Vec<f32>)> = Vec::new();
        let misses_n = misses.len();
        if let Some(out) = out {
            if out.count != misses.len() {
                return Err(RoundError::Fatal(format!(
                    "the embed pool returned {} vectors for {} texts",
                    out.count,
                    misses.len()
                )));
            }
            if model_id.as_deref() != Some(out.model_id.as_str()) {
                self.args.service.set_embed_model(&out.model_id);
                if model_id.is_some() {
                    // The pool's model changed under us: this batch mixed the old model's
                    // cached vectors with the new one's; the chunks stay pending and are
                    // redone with the new model.
                    return Ok(0);
                }
                // First reply: nothing came from the cache (the model was unknown).
                model_id = Some(out.model_id.clone());
            }
            for (j, i) in misses.iter().enumerate() {
                let v = out.row(j).to_vec();
                fresh.push((ready[*i].0.content_hash.clone(), v.clone()));
                vectors[*i] = Some(v);
            }
            self.args.service.update_vectors(|v| v.blocked = None);
        }
        let Some(model_id) = model_id else {
            return Ok(0);
        };
        let dim = vectors.iter().flatten().next().map_or(0, Vec::len);
        let (table_name, table) = self
            .table_for(&model_id, dim)
            .await
            .map_err(RoundError::Fatal)?;
        let rows: Vec<VectorRow> = ready
            .iter()
            .zip(&vectors)
            .filter_map(|((p, _), v)| {
                v.as_ref().map(|v| VectorRow {
                    chunk_id: p.key.clone(),
                    workspace_id: p.workspace,
                    path: p.path.clone(),
                    lang: p.lang.clone(),
                    kind: p.kind.clone(),
                    start_line: p.start_line,
                    end_line: p.end_line,
                    content_hash: p.content_hash.clone(),
                    vector: v.clone(),
                })
            })
            .collect();
        let n = rows.len();
        match table.upsert(rows).await {
            Ok(()) => {}
            Err(VectorError::Corrupt { .. }) => return Err(RoundError::Corrupt(table_name)),
            Err(e) => return Err(RoundError::Fatal(e.to_string())),
        }
        let ids: Vec<(i64, String)> = ready.iter().map(|(p, _)| (p.id, p.key.clone())).collect();
        let files: Vec<(i64, String)> = ready
            .iter()
            .map(|(p, _)| (p.workspace, p.path.clone()))
            .collect();
        let model2 = model_id.clone();
        storage
            .write(move |tx| {
                let mut put = tx.prepare_cached(
                    "INSERT OR IGNORE INTO embed_cache (model, content_hash, vector) VALUES (?1, ?2, ?3)",
                )?;
                for (hash, v) in &fresh {
                    put.execute(params![model2, hash, to_blob(v)])?;
                }
                let mut done = tx.prepare_cached(
                    "UPDATE chunks SET pending = 0 WHERE id = ?1 AND chunk_key = ?2",
                )?;
                for (id, key) in &ids {
                    done.execute(params![id, key])?;
                }
                let mut state = tx.prepare_cached(
                    "UPDATE files SET state = 'embedded' WHERE workspace_id = ?1 AND path = ?2 \
                     AND state = 'chunked' AND NOT EXISTS (SELECT 1 FROM chunks \
                     WHERE workspace_id = ?1 AND path = ?2 AND pending = 1)",
                )?;
                let mut seen = std::collections::BTreeSet::new();
                for (ws, path) in &files {
                    if seen.insert((ws, path)) {
                        state.execute(params![ws, path])?;
                    }
                }
                Ok(())
            })
            .await
            .map_err(|e| RoundError::Fatal(e.to_string()))?;
        self.upserts += 1;
        let rate = self.rate.add(n);
        let computed = misses_n as u64;
        self.args.service.update_vectors(|v| {
            v.rate = rate;
            v.computed += computed;
            v.from_cache += (n as u64).saturating_sub(computed);
        });
        if self.upserts.is_multiple_of(OPTIMIZE_EVERY) {
            // During a long backlog as well, not only when it is done: searches stop
            // scanning every vector once the table is large, and upserts find their keys
            // through the chunk_id index.
            maintain(&table_name, &table, self.args.ann_min_rows).await;
        }
        self.publish_status().await;
        Ok(n)
    }

    /// Asks the pool which model it runs (one tiny embedding) and makes sure that model has
    /// a table.
    async fn learn_model(&mut self) -> Result<(), RoundError> {
        let out = self
            .args
            .pool
            .embed(vec!["weft".to_owned()], EmbedMode::Query)
            .await
            .map_err(RoundError::Pool)?;
        self.args.service.update_vectors(|v| v.blocked = None);
        self.args.service.set_embed_model(&out.model_id);
        self.table_for(&out.model_id, out.dim)
            .await
            .map_err(RoundError::Fatal)?;
        self.learned = true;
        self.publish_status().await;
        Ok(())
    }

    /// After a burst: finish a model switch, build the ANN index, compact.
    async fn when_idle(&mut self) -> Result<(), String> {
        let rows = self.table_rows().await?;
        let storage = self.args.service.files().storage().clone();
        let pending: i64 = storage
            .read(|conn| {
                Ok(
                    conn.query_row("SELECT count(*) FROM chunks WHERE pending = 1", [], |r| {
                        r.get(0)
                    })?,
                )
            })
            .await
            .map_err(|e| e.to_string())?;
        let current = self.args.service.embed_model();
        if pending == 0 {
            if let Some(model) = current {
                if let Some(building) = rows
                    .iter()
                    .find(|r| r.model == model && r.state == "building")
                {
                    let name = building.name.clone();
                    let retired: Vec<String> = rows
                        .iter()
                        .filter(|r| r.name != name && r.state != "retired")
                        .map(|r| r.name.clone())
                        .collect();
                    storage
                        .write(move |tx| {
                            tx.execute(
                                "UPDATE vector_tables SET state = 'retired' WHERE name != ?1",
                                params![name],
                            )?;
                            tx.execute(
                                "UPDATE vector_tables SET state = 'active' WHERE name = ?1",
                                params![name],
                            )?;
                            Ok(())
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                    for old in retired {
                        self.tables.remove(&old);
                        self.args.service.uncache_table(&old);
                        if let Err(e) = self.store.drop_table(&old).await {
                            tracing::warn!(table = %old, error = %e, "cannot drop the old model's vector table");
                        }
                        tracing::info!(table = %old, "switched vectors to the new model; old table dropped");
                    }
                }
            }
        }
        for (name, table) in &self.tables {
            maintain(name, table, self.args.ann_min_rows).await;
        }
        self.publish_status().await;
        Ok(())
    }

    /// The table for `model`, created (as `building` unless it is the first) when new.
    async fn table_for(
        &mut self,
        model: &str,
        dim: usize,
    ) -> Result<(String, VectorTable), String> {
        let rows = self.table_rows().await?;
        let name = match rows.iter().find(|r| r.model == model) {
            Some(r) => r.name.clone(),
            None => {
                let name = table_name(model);
                let first = rows.iter().all(|r| r.state == "retired");
                let state = if first { "active" } else { "building" };
                let storage = self.args.service.files().storage().clone();
                let (n, m) = (name.clone(), model.to_owned());
                let dim_i = i64::try_from(dim).unwrap_or(0);
                storage
                    .write(move |tx| {
                        tx.execute(
                            "INSERT OR REPLACE INTO vector_tables (name, model, dim, state, created_ms) \
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![n, m, dim_i, state, now_ms()],
                        )?;
                        if state == "building" {
                            // Every chunk must get a vector from the new model (text-first
                            // windows, `pending = 2`, never do: their syntax chunks will).
                            tx.execute("UPDATE chunks SET pending = 1 WHERE pending <> 2", [])?;
                        }
                        Ok(())
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(table = %name, model, state, "new vector table");
                name
            }
        };
        if let Some(t) = self.tables.get(&name) {
            return Ok((name, t.clone()));
        }
        let table = match self.store.table(&name, dim).await {
            Ok(t) => t,
            Err(
                VectorError::Corrupt { .. }
                | VectorError::DimMismatch { .. }
                | VectorError::Schema { .. },
            ) => self
                .store
                .recreate(&name, dim)
                .await
                .map_err(|e| e.to_string())?,
            Err(e) => return Err(e.to_string()),
        };
        self.tables.insert(name.clone(), table.clone());
        self.args.service.cache_table(&name, table.clone());
        Ok((name, table))
    }

    /// Asks the indexer to look at files whose contents moved under pending chunks.
    async fn recheck(&self, stale: &[(i64, String)]) {
        let mut by_ws: BTreeMap<i64, Vec<PathBuf>> = BTreeMap::new();
        for (ws, path) in stale {
            by_ws.entry(*ws).or_default().push(PathBuf::from(path));
        }
        for (ws, paths) in by_ws {
            let svc = &self.args.service;
            let Ok(all) = svc.files().workspaces().await else {
                return;
            };
            let Some(root) = all.into_iter().find(|w| w.id.0 == ws).map(|w| w.root) else {
                continue;
            };
            let opts = svc.options(&root);
            let progress = Arc::new(super::progress::Progress::default());
            if let Err(e) = svc
                .files()
                .update_paths(WorkspaceId(ws), &opts, paths, &progress)
                .await
            {
                tracing::warn!(error = %e, "re-reading changed files failed; the next scan will");
            }
        }
    }

    async fn publish_status(&self) {
        let Ok(rows) = self.table_rows().await else {
            return;
        };
        let model = self.args.service.embed_model();
        let active = rows
            .iter()
            .find(|r| Some(&r.model) == model.as_ref())
            .or_else(|| rows.iter().find(|r| r.state == "active"));
        let building = rows
            .iter()
            .find(|r| r.state == "building")
            .map(|r| r.name.clone());
        let mut count = 0;
        let mut indexed = false;
        if let Some(a) = active {
            if let Some(t) = self.tables.get(&a.name) {
                count = t.count().await.unwrap_or(0) as u64;
                indexed = t.has_index().await.unwrap_or(false);
            }
        }
        let (m, t) = (
            active.map(|a| a.model.clone()),
            active.map(|a| a.name.clone()),
        );
        self.args.service.update_vectors(|v| {
            v.model = m;
            v.table = t;
            v.rows = count;
            v.indexed = indexed;
            v.building = building;
        });
    }
}

enum RoundError {
    Pool(PoolError),
    Corrupt(String),
    Fatal(String),
}

/// Texts per embed request: small enough that a batch spreads over every worker and that
/// an urgent request waits little behind the one a worker is computing, big enough to keep
/// the model's batching efficient.
const SUB_BATCH: usize = 16;

/// Batches with the pool at once: one being computed while the next waits in the queue, so
/// no worker idles while a finished batch is stored.
const ROUNDS_IN_FLIGHT: usize = 2;

/// A batch with the pool, and its vectors when they come back.
type RoundFuture =
    Pin<Box<dyn Future<Output = (Prepared, Result<crate::pool::EmbedOutput, PoolError>)> + Send>>;

/// A batch read and looked up in the cache, ready to embed.
struct Prepared {
    /// The chunks and their texts.
    ready: Vec<(Pending, String)>,
    /// Vectors found in the cache (`None`: to embed).
    vectors: Vec<Option<Vec<f32>>>,
    /// Indexes into `ready` of the cache misses.
    misses: Vec<usize>,
    /// The model the cache was read for.
    model: Option<String>,
    /// Chunks of just-changed files.
    urgent: bool,
}

/// Embeds `texts` as concurrent requests of [`SUB_BATCH`], so every worker of the pool is
/// busy, and joins the vectors back in order.
async fn embed_parallel(
    pool: &PoolHandle,
    texts: Vec<String>,
    urgent: bool,
) -> Result<crate::pool::EmbedOutput, PoolError> {
    let parts: Vec<Vec<String>> = texts.chunks(SUB_BATCH).map(<[String]>::to_vec).collect();
    let outs = futures::future::try_join_all(parts.into_iter().map(|part| async move {
        if urgent {
            pool.embed_urgent(part).await
        } else {
            pool.embed(part, EmbedMode::Document).await
        }
    }))
    .await?;
    let mut iter = outs.into_iter();
    let Some(mut all) = iter.next() else {
        return Err(PoolError::Rejected {
            code: "empty".into(),
            message: "nothing to embed".into(),
        });
    };
    for out in iter {
        if out.model_id != all.model_id || out.dim != all.dim {
            // Two workers on different models (a config change mid-restart): retry later.
            return Err(PoolError::Rejected {
                code: "mixed_models".into(),
                message: format!(
                    "workers answered with models {} and {}; retrying",
                    all.model_id, out.model_id
                ),
            });
        }
        all.vectors.extend(out.vectors);
        all.count += out.count;
    }
    Ok(all)
}

/// Pending chunks of the `fresh` files, or (when that is empty) the newest pending chunks
/// (recently changed files first).
async fn fetch_pending(
    storage: &crate::storage::Storage,
    limit: usize,
    fresh: Vec<(i64, String)>,
) -> Result<Vec<Pending>, crate::storage::StorageError> {
    storage
        .read(move |conn| {
            const COLUMNS: &str = "SELECT c.id, c.chunk_key, c.workspace_id, w.root, c.path, \
                 c.lang, c.kind, c.start_line, c.end_line, c.start_byte, c.end_byte, c.header, \
                 c.content_hash, f.blake3 \
                 FROM chunks c JOIN files f ON f.workspace_id = c.workspace_id AND f.path = c.path \
                 JOIN workspaces w ON w.id = c.workspace_id";
            let row = |r: &rusqlite::Row<'_>| {
                Ok(Pending {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    workspace: r.get(2)?,
                    root: r.get(3)?,
                    path: r.get(4)?,
                    lang: r.get(5)?,
                    kind: r.get(6)?,
                    start_line: r.get(7)?,
                    end_line: r.get(8)?,
                    start_byte: usize::try_from(r.get::<_, i64>(9)?).unwrap_or(0),
                    end_byte: usize::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
                    header: r.get(11)?,
                    content_hash: r.get(12)?,
                    file_hash: r.get(13)?,
                })
            };
            let mut out = Vec::new();
            if fresh.is_empty() {
                let mut stmt = conn.prepare_cached(&format!(
                    "{COLUMNS} WHERE c.pending = 1 ORDER BY c.id DESC LIMIT ?1"
                ))?;
                for r in stmt.query_map(params![i64::try_from(limit).unwrap_or(64)], row)? {
                    out.push(r?);
                }
            } else {
                let mut stmt = conn.prepare_cached(&format!(
                    "{COLUMNS} WHERE c.workspace_id = ?1 AND c.path = ?2 AND c.pending = 1 \
                     ORDER BY c.id DESC"
                ))?;
                for (ws, path) in fresh {
                    for r in stmt.query_map(params![ws, path], row)? {
                        out.push(r?);
                    }
                    if out.len() >= limit {
                        break;
                    }
                }
                out.truncate(limit);
            }
            Ok(out)
        })
        .await
}

/// Each chunk's text from its file, or `None` when the file no longer matches the hash it was
/// chunked from (those files are returned for a re-check).
fn read_texts(pending: &[Pending]) -> (Vec<Option<String>>, Vec<(i64, String)>) {
    let mut files: HashMap<(i64, &str), Option<String>> = HashMap::new();
    let mut stale = Vec::new();
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        let text = files
            .entry((p.workspace, p.path.as_str()))
            .or_insert_with(|| {
                let full = std::path::Path::new(&p.root).join(&p.path);
                let bytes = std::fs::read(&full).ok()?;
                let hash = blake3::hash(&bytes).to_hex().to_string();
                if p.file_hash.as_deref() != Some(hash.as_str()) {
                    stale.push((p.workspace, p.path.clone()));
                    return None;
                }
                Some(match String::from_utf8(bytes) {
                    Ok(t) => t,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                })
            });
        out.push(
            text.as_deref()
                .and_then(|t| t.get(p.start_byte..p.end_byte))
                .map(|body| embed_text(p.header.as_deref(), body)),
        );
    }
    stale.sort();
    stale.dedup();
    (out, stale)
}

async fn cache_get(
    storage: &crate::storage::Storage,
    model: &str,
    hashes: Vec<String>,
) -> Result<HashMap<String, Vec<f32>>, crate::storage::StorageError> {
    let model = model.to_owned();
    storage
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT vector FROM embed_cache WHERE model = ?1 AND content_hash = ?2",
            )?;
            let mut out = HashMap::new();
            for h in hashes {
                if out.contains_key(&h) {
                    continue;
                }
                let v: Option<Vec<u8>> = stmt.query_row(params![model, h], |r| r.get(0)).ok();
                if let Some(v) = v {
                    out.insert(h, from_blob(&v));
                }
            }
            Ok(out)
        })
        .await
}

/// Every row of `vector_tables`.
pub(crate) async fn table_rows(
    storage: &crate::storage::Storage,
) -> Result<Vec<TableRow>, crate::storage::StorageError> {
    storage
        .read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, model, dim, state FROM vector_tables ORDER BY created_ms",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(TableRow {
                    name: r.get(0)?,
                    model: r.get(1)?,
                    dim: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    state: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
}

/// A LanceDB table name for a model id: `chunks_` plus a slug and a short hash.
pub(crate) fn table_name(model: &str) -> String {
    let slug: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let slug: String = slug.chars().take(40).collect();
    let hash = blake3::hash(model.as_bytes()).to_hex();
    format!("chunks_{slug}_{}", &hash[..8])
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
