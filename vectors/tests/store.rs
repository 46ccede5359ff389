//! Integration tests against real LanceDB tables in temporary directories.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use weft_vectors::{VectorError, VectorRow, VectorStore};

const DIM: usize = 384;

fn unit(rng: &mut StdRng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn row(i: usize, ws: i64, lang: &str, vector: Vec<f32>) -> VectorRow {
    VectorRow {
        chunk_id: format!("{i:016x}"),
        workspace_id: ws,
        path: format!("src/file{i}.rs"),
        lang: lang.to_string(),
        kind: "function".to_string(),
        start_line: i as u32 * 10 + 1,
        end_line: i as u32 * 10 + 9,
        content_hash: format!("h{i}"),
        vector,
    }
}

fn rows(n: usize, seed: u64) -> Vec<VectorRow> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let ws = (i % 3) as i64 + 1;
            let lang = if i % 2 == 0 { "rust" } else { "python" };
            row(i, ws, lang, unit(&mut rng, DIM))
        })
        .collect()
}

fn assert_unique(ids: &[String]) {
    let set: HashSet<&String> = ids.iter().collect();
    assert_eq!(set.len(), ids.len(), "duplicate chunk ids: {ids:?}");
}

#[tokio::test]
async fn upsert_then_search_with_metadata_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    let t = store.table("code", DIM).await.unwrap();
    assert_eq!(t.name(), "code");
    let data = rows(60, 1);
    t.upsert(data.clone()).await.unwrap();
    assert_eq!(t.count().await.unwrap(), 60);

    let target = &data[17];
    let hits = t.search(&target.vector, 5, None).await.unwrap();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0].chunk_id, target.chunk_id);
    assert!(hits[0].distance.abs() < 1e-4, "{hits:?}");
    assert_eq!(hits[0].path, target.path);
    assert_eq!(hits[0].start_line, target.start_line);
    assert_eq!(hits[0].end_line, target.end_line);
    assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));

    // Filter on workspace and language: the target (ws 3, python) is excluded
    // when asking for ws 1 / rust.
    let f = "workspace_id = 1 AND lang = 'rust'";
    let hits = t.search(&target.vector, 10, Some(f)).await.unwrap();
    assert_eq!(hits.len(), 10);
    for h in &hits {
        let i = usize::from_str_radix(&h.chunk_id, 16).unwrap();
        assert_eq!(data[i].workspace_id, 1);
        assert_eq!(data[i].lang, "rust");
    }
    // Prefilter: a selective filter still returns k rows when k exist.
    let hits = t
        .search(&target.vector, 100, Some("workspace_id = 3"))
        .await
        .unwrap();
    assert_eq!(hits.len(), 20);
    assert_eq!(hits[0].chunk_id, target.chunk_id);

    // Wrong query length is a clear error.
    let err = t.search(&[0.0; 3], 5, None).await.unwrap_err();
    assert!(matches!(err, VectorError::BadVector { .. }), "{err}");
}

#[tokio::test]
async fn upsert_is_idempotent_and_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    let t = store.table("code", DIM).await.unwrap();
    let data = rows(50, 2);
    t.upsert(data.clone()).await.unwrap();
    t.upsert(data.clone()).await.unwrap();
    // Overlapping batches, and a batch repeating an id inside itself.
    t.upsert(data[10..30].to_vec()).await.unwrap();
    let mut dup = data[40..45].to_vec();
    dup.extend(data[40..45].iter().cloned());
    t.upsert(dup).await.unwrap();
    let extra = rows(70, 3)[50..].to_vec();
    let mut mixed = data[45..].to_vec();
    mixed.extend(extra);
    t.upsert(mixed).await.unwrap();

    assert_eq!(t.count().await.unwrap(), 70);
    let ids = t.chunk_ids().await.unwrap();
    assert_eq!(ids.len(), 70);
    assert_unique(&ids);

    // Updating the vector of row 5 replaces the old one.
    let mut rng = StdRng::seed_from_u64(99);
    let mut updated = data[5].clone();
    updated.vector = unit(&mut rng, DIM);
    updated.path = "moved.rs".to_string();
    t.upsert(vec![updated.clone()]).await.unwrap();
    assert_eq!(t.count().await.unwrap(), 70);
    let hits = t.search(&updated.vector, 1, None).await.unwrap();
    assert_eq!(hits[0].chunk_id, updated.chunk_id);
    assert_eq!(hits[0].path, "moved.rs");
    let old = t.search(&data[5].vector, 1, None).await.unwrap();
    assert!(old[0].chunk_id != updated.chunk_id || old[0].distance > 0.1);

    // Wrong row dimension is rejected before anything is written.
    let mut bad = data[0].clone();
    bad.vector = vec![1.0; 5];
    let err = t.upsert(vec![bad]).await.unwrap_err();
    assert!(err.to_string().contains("code"), "{err}");
    assert_eq!(t.count().await.unwrap(), 70);
}

#[tokio::test]
async fn deletes_remove_rows_from_search() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    let t = store.table("code", DIM).await.unwrap();
    let data = rows(90, 4);
    t.upsert(data.clone()).await.unwrap();

    let gone: Vec<String> = data[..10].iter().map(|r| r.chunk_id.clone()).collect();
    // Plus an id with a quote and ids that do not exist.
    let mut ids = gone.clone();
    ids.push("it's-not-there".to_string());
    ids.extend((0..2500).map(|i| format!("missing{i}")));
    t.delete_chunks(&ids).await.unwrap();
    assert_eq!(t.count().await.unwrap(), 80);
    for r in &data[..10] {
        let hits = t.search(&r.vector, 90, None).await.unwrap();
        assert!(hits.iter().all(|h| !gone.contains(&h.chunk_id)));
    }

    t.delete_workspace(2).await.unwrap();
    let left = t.chunk_ids().await.unwrap();
    for id in &left {
        let i = usize::from_str_radix(id, 16).unwrap();
        assert_ne!(data[i].workspace_id, 2);
    }
    let hits = t.search(&data[1].vector, 100, None).await.unwrap();
    assert_eq!(hits.len(), left.len());
    let ws2: HashSet<String> = data
        .iter()
        .filter(|r| r.workspace_id == 2)
        .map(|r| r.chunk_id.clone())
        .collect();
    assert!(hits.iter().all(|h| !ws2.contains(&h.chunk_id)));
}

#[tokio::test]
async fn index_builds_and_exact_match_stays_top1() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    let t = store.table("code", DIM).await.unwrap();
    let data = rows(300, 5);
    // Several commits, like an indexer would make.
    for chunk in data.chunks(100) {
        t.upsert(chunk.to_vec()).await.unwrap();
    }
    assert!(!t.maybe_index(1000).await.unwrap(), "below min_rows");
    assert!(t.maybe_index(300).await.unwrap());
    assert!(!t.maybe_index(300).await.unwrap(), "already indexed");
    let names: Vec<String> = t
        .raw()
        .list_indices()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("vector_idx_sq")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "chunk_id_idx"), "{names:?}");
    for i in [0, 123, 299] {
        let hits = t.search(&data[i].vector, 1, None).await.unwrap();
        assert_eq!(hits[0].chunk_id, data[i].chunk_id);
    }
    // Rows added after the index are found too, and optimize folds them in.
    let more = rows(340, 6)[300..].to_vec();
    t.upsert(more.clone()).await.unwrap();
    let hits = t.search(&more[7].vector, 1, None).await.unwrap();
    assert_eq!(hits[0].chunk_id, more[7].chunk_id);
    let filtered = t
        .search(&data[0].vector, 3, Some("lang = 'rust'"))
        .await
        .unwrap();
    assert_eq!(filtered[0].chunk_id, data[0].chunk_id);
    t.optimize().await.unwrap();
    t.verify().await.unwrap();
    assert_eq!(t.count().await.unwrap(), 340);
    let hits = t.search(&more[7].vector, 1, None).await.unwrap();
    assert_eq!(hits[0].chunk_id, more[7].chunk_id);
    assert_unique(&t.chunk_ids().await.unwrap());
}

#[tokio::test]
async fn small_index_is_retrained_as_the_table_grows() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    let t = store.table("code", DIM).await.unwrap();
    let data = rows(600, 13);
    t.upsert(data[..100].to_vec()).await.unwrap();
    // Too few rows to quantize: an IVF-flat index.
    assert!(t.maybe_index(50).await.unwrap());
    let names = |t: weft_vectors::VectorTable| async move {
        t.raw()
            .list_indices()
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect::<Vec<_>>()
    };
    let n = names(t.clone()).await;
    assert!(n.iter().any(|n| n.starts_with("vector_idx_flat")), "{n:?}");
    t.upsert(data[100..].to_vec()).await.unwrap();
    assert!(t.maybe_index(50).await.unwrap());
    let n = names(t.clone()).await;
    assert!(n.iter().any(|n| n.starts_with("vector_idx_sq")), "{n:?}");
    assert!(!n.iter().any(|n| n.starts_with("vector_idx_flat")), "{n:?}");
    let hits = t.search(&data[450].vector, 1, None).await.unwrap();
    assert_eq!(hits[0].chunk_id, data[450].chunk_id);
}

#[tokio::test]
async fn optimize_compacts_many_small_upserts() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    let t = store.table("notes", DIM).await.unwrap();
    let data = rows(40, 7);
    for r in &data {
        t.upsert(vec![r.clone()]).await.unwrap();
    }
    t.delete_chunks(&[data[0].chunk_id.clone()]).await.unwrap();
    t.optimize().await.unwrap();
    t.verify().await.unwrap();
    assert_eq!(t.count().await.unwrap(), 39);
    let hits = t.search(&data[3].vector, 1, None).await.unwrap();
    assert_eq!(hits[0].chunk_id, data[3].chunk_id);
}

#[tokio::test]
async fn reopen_keeps_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = rows(25, 8);
    {
        let store = VectorStore::open(dir.path()).await.unwrap();
        let t = store.table("code", DIM).await.unwrap();
        t.upsert(data.clone()).await.unwrap();
    }
    let store = VectorStore::open(dir.path()).await.unwrap();
    assert_eq!(store.table_names().await.unwrap(), vec!["code".to_string()]);
    let t = store.table("code", DIM).await.unwrap();
    assert_eq!(t.count().await.unwrap(), 25);
    t.verify().await.unwrap();
    let hits = t.search(&data[9].vector, 1, None).await.unwrap();
    assert_eq!(hits[0].chunk_id, data[9].chunk_id);
}

#[tokio::test]
async fn two_handles_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    let a = store.table("code", DIM).await.unwrap();
    let b = store.table("code", DIM).await.unwrap();
    a.upsert(rows(5, 9)).await.unwrap();
    assert_eq!(b.count().await.unwrap(), 5);
    b.upsert(rows(5, 9)).await.unwrap();
    assert_eq!(a.count().await.unwrap(), 5);
}

#[tokio::test]
async fn wrong_dim_names_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    store.table("code", DIM).await.unwrap();
    let err = store.table("code", 768).await.unwrap_err();
    match &err {
        VectorError::DimMismatch {
            table,
            expected,
            found,
        } => {
            assert_eq!(table, "code");
            assert_eq!(*expected, 768);
            assert_eq!(*found, DIM);
        }
        other => panic!("expected DimMismatch, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("768") && msg.contains("384") && msg.contains("`code`"),
        "{msg}"
    );
    // recreate switches the dimension.
    let t = store.recreate("code", 768).await.unwrap();
    assert_eq!(t.count().await.unwrap(), 0);
    assert!(store.table("code", 768).await.is_ok());
}

#[tokio::test]
async fn invalid_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path()).await.unwrap();
    for name in ["", "../escape", "a/b", "sp ace"] {
        assert!(matches!(
            store.table(name, DIM).await,
            Err(VectorError::InvalidName { .. })
        ));
    }
}

async fn table_with_rows(dir: &Path, name: &str) -> Vec<VectorRow> {
    let store = VectorStore::open(dir).await.unwrap();
    let t = store.table(name, DIM).await.unwrap();
    let data = rows(30, 10);
    t.upsert(data[..15].to_vec()).await.unwrap();
    t.upsert(data[15..].to_vec()).await.unwrap();
    data
}

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn assert_corrupt(err: &VectorError, name: &str) {
    match err {
        VectorError::Corrupt { table, .. } => assert_eq!(table, name),
        other => panic!("expected Corrupt for {name}, got {other}"),
    }
    assert!(err.to_string().contains(name));
}

#[tokio::test]
async fn deleted_data_file_is_corrupt_and_recreate_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    table_with_rows(dir.path(), "code").await;
    let store = VectorStore::open(dir.path()).await.unwrap();
    let handle = store.table("code", DIM).await.unwrap();
    let data_files = files_in(&dir.path().join("code.lance/data"));
    assert!(!data_files.is_empty());
    std::fs::remove_file(&data_files[0]).unwrap();

    assert_corrupt(&handle.verify().await.unwrap_err(), "code");
    let fresh = VectorStore::open(dir.path()).await.unwrap();
    assert_corrupt(&fresh.table("code", DIM).await.unwrap_err(), "code");

    let t = fresh.recreate("code", DIM).await.unwrap();
    assert_eq!(t.count().await.unwrap(), 0);
    t.upsert(rows(3, 11)).await.unwrap();
    t.verify().await.unwrap();
    assert_eq!(
        fresh
            .table("code", DIM)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn garbled_data_file_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    table_with_rows(dir.path(), "code").await;
    for f in files_in(&dir.path().join("code.lance/data")) {
        let len = std::fs::metadata(&f).unwrap().len() as usize;
        std::fs::write(&f, vec![0x5a; len]).unwrap();
    }
    let store = VectorStore::open(dir.path()).await.unwrap();
    let err = match store.table("code", DIM).await {
        Ok(t) => t.verify().await.unwrap_err(),
        Err(e) => e,
    };
    assert_corrupt(&err, "code");
    store.drop_table("code").await.unwrap();
    assert!(store.table_names().await.unwrap().is_empty());
}

#[tokio::test]
async fn garbled_versions_are_corrupt_and_drop_works() {
    let dir = tempfile::tempdir().unwrap();
    table_with_rows(dir.path(), "code").await;
    table_with_rows(dir.path(), "notes").await;
    for f in files_in(&dir.path().join("code.lance/_versions")) {
        std::fs::write(&f, b"garbage").unwrap();
    }
    let store = VectorStore::open(dir.path()).await.unwrap();
    assert_corrupt(&store.table("code", DIM).await.unwrap_err(), "code");
    // The other table is unaffected.
    assert_eq!(
        store
            .table("notes", DIM)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        30
    );
    store.drop_table("code").await.unwrap();
    assert!(!dir.path().join("code.lance").exists());
    assert_eq!(
        store.table_names().await.unwrap(),
        vec!["notes".to_string()]
    );
    let t = store.table("code", DIM).await.unwrap();
    assert_eq!(t.count().await.unwrap(), 0);
}

#[tokio::test]
async fn truncated_versions_recreate() {
    let dir = tempfile::tempdir().unwrap();
    table_with_rows(dir.path(), "code").await;
    for f in files_in(&dir.path().join("code.lance/_versions")) {
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.set_len(10).unwrap();
    }
    let store = VectorStore::open(dir.path()).await.unwrap();
    assert_corrupt(&store.table("code", DIM).await.unwrap_err(), "code");
    let t = store.recreate("code", DIM).await.unwrap();
    t.upsert(rows(4, 12)).await.unwrap();
    assert_eq!(t.count().await.unwrap(), 4);
    // drop of a missing table is a no-op.
    store.drop_table("never-made").await.unwrap();
}
