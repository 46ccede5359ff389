//! Chunk embeddings in embedded LanceDB tables.
//!
//! One [`VectorStore`] is one LanceDB dataset directory (one per profile, see
//! DESIGN.md §5). It holds a [`VectorTable`] per kind of chunk (code, notes,
//! terminal output), keyed by chunk id, with the vector plus the metadata the
//! searches filter on (workspace, language, kind, path).
//!
//! Everything in here is derived data: a table that cannot be read is reported
//! as [`VectorError::Corrupt`] and the caller [`VectorStore::recreate`]s it and
//! re-embeds, never asks the user to delete a folder.
//!
//! Write pattern: every [`VectorTable::upsert`] / delete is one LanceDB commit
//! (a new version plus new small files). Batch writes and call
//! [`VectorTable::optimize`] from time to time (compaction, pruning of old
//! versions, index update), and [`VectorTable::maybe_index`] once a table is big
//! enough for an ANN index to pay off.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use lancedb::arrow::arrow_array::{
    Array, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, RecordBatchIterator,
    StringArray, UInt32Array,
};
use lancedb::arrow::arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use lancedb::index::scalar::BTreeIndexBuilder;
use lancedb::index::vector::{IvfFlatIndexBuilder, IvfSqIndexBuilder};
use lancedb::index::{Index, IndexType};
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::table::{CompactionOptions, OptimizeAction, OptimizeOptions};
use lancedb::{Connection, DistanceType, Table};
use tracing::{debug, info, warn};

/// Column holding the chunk id (the upsert / delete key).
const COL_CHUNK_ID: &str = "chunk_id";
/// Column holding the embedding.
const COL_VECTOR: &str = "vector";
/// Column LanceDB adds to vector search results.
const COL_DISTANCE: &str = "_distance";
/// Ids per `chunk_id IN (...)` predicate in [`VectorTable::delete_chunks`].
const DELETE_BATCH: usize = 1000;
/// Name of the scalar (BTree) index on `chunk_id`.
const ID_INDEX_NAME: &str = "chunk_id_idx";
/// Prefix of the vector index name; the partition count and kind follow it.
const VECTOR_INDEX_PREFIX: &str = "vector_idx";
/// Rows per IVF partition the index aims for.
const ROWS_PER_PARTITION: usize = 4096;
/// Upper bound for the IVF partition count.
const MAX_PARTITIONS: usize = 1024;
/// Below this many rows the index keeps full vectors (IVF-flat); from here on it keeps
/// 8-bit scalar-quantized ones (IVF-SQ, a quarter of the size).
const MIN_SQ_ROWS: usize = 256;
/// Training vectors per IVF partition (LanceDB's default is 256).
///
/// Why IVF-SQ and not IVF-PQ: on a real 78k-row table of all-MiniLM-L6-v2 vectors (2 cores,
/// `vectors/examples/train_probe.rs`) IVF-PQ trained in 20-37 s and allocated three
/// 100 MB copies of its 65,536-vector codebook sample (LanceDB does not let the PQ sample
/// be set), recall@10 0.975; IVF-SQ trained in 0.5 s, recall@10 1.000; IVF-RQ 1.2 s, 0.995.
const TRAIN_SAMPLE_RATE: u32 = 64;
/// k-means iterations when training (LanceDB's default is 50).
const TRAIN_ITERATIONS: u32 = 25;
/// Candidates re-ranked with exact distances per result once an index exists.
const REFINE_FACTOR: u32 = 4;
/// LanceDB's index cache budget per store (IVF partitions of the tables searched).
const INDEX_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// LanceDB's metadata cache budget per store (manifests, fragment and file metadata).
const METADATA_CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Bytes of vectors a compacted fragment holds at most. Compaction only rewrites
/// fragments smaller than this, so its work and memory stay bounded by the rows
/// written since the last compaction instead of growing with the table (LanceDB's
/// default target of a million rows rewrote the whole table every time).
const FRAGMENT_VECTOR_BYTES: usize = 16 * 1024 * 1024;
/// Bytes compaction may queue while it reads the fragments it merges.
const COMPACTION_IO_BYTES: u64 = 32 * 1024 * 1024;
/// Old versions younger than this survive [`VectorTable::optimize`] so that
/// in-flight reads of them keep working.
const KEEP_VERSIONS_FOR_MINUTES: i64 = 5;

/// Errors of the vector store. Every message names the table or directory
/// involved and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// The store directory could not be created or read.
    #[error(
        "cannot use vector store directory {dir}: {source}; check that the path is writable \
         and the disk is not full"
    )]
    Dir {
        /// The store directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// LanceDB refused to open the store directory.
    #[error(
        "cannot open the LanceDB store at {dir}: {source}; check the path and its permissions"
    )]
    Connect {
        /// The store directory.
        dir: PathBuf,
        /// The LanceDB error.
        #[source]
        source: Box<lancedb::Error>,
    },
    /// The table name is not usable as a LanceDB table name.
    #[error(
        "invalid vector table name `{name}`: {reason}; use 1-64 characters from [A-Za-z0-9_-]"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The table cannot be opened or read: its files are damaged or missing.
    #[error(
        "vector table `{table}` is corrupt: {reason}; recreate it \
         (VectorStore::recreate) and re-embed its chunks"
    )]
    Corrupt {
        /// The table.
        table: String,
        /// What failed.
        reason: String,
    },
    /// The table exists with another vector dimension (the embedding model changed).
    #[error(
        "vector table `{table}` stores vectors of dimension {found} but dimension {expected} \
         was requested; the embedding model changed: recreate the table \
         (VectorStore::recreate) and re-embed"
    )]
    DimMismatch {
        /// The table.
        table: String,
        /// The dimension asked for.
        expected: usize,
        /// The dimension on disk.
        found: usize,
    },
    /// The table exists but its columns are not the ones this crate writes.
    #[error(
        "vector table `{table}` has an unexpected schema: {reason}; it was written by another \
         version: recreate it (VectorStore::recreate) and re-embed"
    )]
    Schema {
        /// The table.
        table: String,
        /// What does not match.
        reason: String,
    },
    /// A caller passed a vector of the wrong length.
    #[error(
        "vector for `{what}` in table `{table}` has {found} dimensions, the table expects \
         {expected}; embed with the model the table was created for"
    )]
    BadVector {
        /// The table.
        table: String,
        /// The chunk id or "query".
        what: String,
        /// The table's dimension.
        expected: usize,
        /// The given length.
        found: usize,
    },
    /// An operation on a healthy table failed.
    #[error(
        "vector table `{table}`: {op} failed: {source}; if this repeats, run verify() and \
         recreate the table if it reports corruption"
    )]
    Lance {
        /// The table.
        table: String,
        /// The operation ("upsert", "search", ...).
        op: &'static str,
        /// The LanceDB error.
        #[source]
        source: Box<lancedb::Error>,
    },
    /// Building the Arrow batch for a write failed.
    #[error(
        "vector table `{table}`: building the rows failed: {source}; this is a bug in weft-vectors"
    )]
    Arrow {
        /// The table.
        table: String,
        /// The Arrow error.
        #[source]
        source: ArrowError,
    },
}

/// One chunk's embedding plus the metadata searches filter on.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRow {
    /// Chunk id (hex); the key of the table.
    pub chunk_id: String,
    /// Workspace the chunk belongs to.
    pub workspace_id: i64,
    /// Path of the source file, relative to the workspace root.
    pub path: String,
    /// Language of the chunk (`rust`, `python`, `markdown`, ...).
    pub lang: String,
    /// Chunk kind (`function`, `class`, `note`, ...).
    pub kind: String,
    /// First line (1-based, inclusive).
    pub start_line: u32,
    /// Last line (inclusive).
    pub end_line: u32,
    /// Hash of the embedded text (to skip re-embedding unchanged chunks).
    pub content_hash: String,
    /// The embedding; its length must equal the table's dimension.
    pub vector: Vec<f32>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Chunk id.
    pub chunk_id: String,
    /// Cosine distance to the query (0 = same direction, 2 = opposite).
    pub distance: f32,
    /// Path of the source file.
    pub path: String,
    /// First line.
    pub start_line: u32,
    /// Last line.
    pub end_line: u32,
}

/// A LanceDB dataset directory holding the vector tables of one profile.
#[derive(Clone)]
pub struct VectorStore {
    dir: PathBuf,
    conn: Connection,
}

impl std::fmt::Debug for VectorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorStore")
            .field("dir", &self.dir)
            .finish()
    }
}

/// A handle on one vector table. Cheap to clone; clones share the handle.
#[derive(Clone)]
pub struct VectorTable {
    inner: Arc<TableInner>,
}

struct TableInner {
    name: String,
    dim: usize,
    dir: PathBuf,
    table: Table,
    schema: SchemaRef,
}

impl std::fmt::Debug for VectorTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorTable")
            .field("name", &self.inner.name)
            .field("dim", &self.inner.dim)
            .finish()
    }
}

/// The schema of every vector table.
fn table_schema(dim: usize) -> Result<SchemaRef, i32> {
    let dim_i32 = i32::try_from(dim).map_err(|_| i32::MAX)?;
    Ok(Arc::new(Schema::new(vec![
        Field::new(COL_CHUNK_ID, DataType::Utf8, false),
        Field::new("workspace_id", DataType::Int64, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("lang", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("start_line", DataType::UInt32, false),
        Field::new("end_line", DataType::UInt32, false),
        Field::new("content_hash", DataType::Utf8, false),
        Field::new(
            COL_VECTOR,
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, true)),
                dim_i32,
            ),
            false,
        ),
    ])))
}

fn check_name(name: &str) -> Result<(), VectorError> {
    let bad = |reason: &str| {
        Err(VectorError::InvalidName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("length must be 1-64");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return bad("contains a character outside [A-Za-z0-9_-]");
    }
    Ok(())
}

fn check_dim(name: &str, dim: usize) -> Result<(), VectorError> {
    if dim == 0 || i32::try_from(dim).is_err() {
        return Err(VectorError::InvalidName {
            name: name.to_string(),
            reason: format!("vector dimension {dim} is out of range (1..2^31)"),
        });
    }
    Ok(())
}

/// Compaction that merges the small fragments upserts leave behind into fragments of at
/// most [`FRAGMENT_VECTOR_BYTES`] of vectors, on one thread, with a bounded read buffer:
/// it runs beside searches and the user's work, not as a batch job.
fn compaction_options(dim: usize) -> CompactionOptions {
    let row_bytes = dim.max(1).saturating_mul(std::mem::size_of::<f32>());
    CompactionOptions {
        target_rows_per_fragment: (FRAGMENT_VECTOR_BYTES / row_bytes).max(1024),
        num_threads: Some(1),
        batch_size: Some(1024),
        io_buffer_size: Some(COMPACTION_IO_BYTES),
        ..CompactionOptions::default()
    }
}

/// SQL string literal with `'` doubled.
fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl VectorStore {
    /// Opens (creating if needed) the store directory `dir`.
    pub async fn open(dir: &Path) -> Result<Self, VectorError> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|source| VectorError::Dir {
                dir: dir.to_path_buf(),
                source,
            })?;
        let dir = tokio::fs::canonicalize(dir)
            .await
            .map_err(|source| VectorError::Dir {
                dir: dir.to_path_buf(),
                source,
            })?;
        let uri = dir.to_string_lossy().into_owned();
        // Zero interval: every read sees the latest committed version, so two
        // handles on the same table (or another process) never read stale data.
        // Bounded caches: LanceDB's defaults (6 GB of index cache, 1 GB of metadata) are
        // budgets for a server; in a desktop process that also indexes they let the core's
        // RSS grow with every version an upsert writes.
        let session = Arc::new(lancedb::Session::new(
            INDEX_CACHE_BYTES,
            METADATA_CACHE_BYTES,
            Arc::new(lancedb::ObjectStoreRegistry::default()),
        ));
        let conn = lancedb::connect(&uri)
            .session(session)
            .read_consistency_interval(Duration::ZERO)
            .execute()
            .await
            .map_err(|source| VectorError::Connect {
                dir: dir.clone(),
                source: Box::new(source),
            })?;
        debug!(dir = %dir.display(), "vector store opened");
        Ok(Self { dir, conn })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn table_dir(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.lance"))
    }

    /// Opens table `name`, creating it empty if it does not exist.
    ///
    /// An existing table is checked: its vector dimension must be `dim`
    /// ([`VectorError::DimMismatch`] otherwise), its columns must match, and its
    /// manifest and the data files it lists must be readable
    /// ([`VectorError::Corrupt`] otherwise). Full reads are left to
    /// [`VectorTable::verify`].
    pub async fn table(&self, name: &str, dim: usize) -> Result<VectorTable, VectorError> {
        check_name(name)?;
        check_dim(name, dim)?;
        let exists = self.table_names().await?.iter().any(|n| n == name)
            || tokio::fs::try_exists(self.table_dir(name))
                .await
                .unwrap_or(false);
        if exists {
            return self.open_existing(name, dim).await;
        }
        match self.create(name, dim).await {
            Ok(t) => Ok(t),
            // Lost a creation race with another handle: open what it made.
            Err(VectorError::Lance { source, .. })
                if matches!(*source, lancedb::Error::TableAlreadyExists { .. }) =>
            {
                self.open_existing(name, dim).await
            }
            Err(e) => Err(e),
        }
    }

    async fn create(&self, name: &str, dim: usize) -> Result<VectorTable, VectorError> {
        let schema = table_schema(dim).map_err(|_| VectorError::InvalidName {
            name: name.to_string(),
            reason: format!("vector dimension {dim} is out of range"),
        })?;
        let table = self
            .conn
            .create_empty_table(name, schema.clone())
            .execute()
            .await
            .map_err(|source| VectorError::Lance {
                table: name.to_string(),
                op: "create table",
                source: Box::new(source),
            })?;
        info!(table = name, dim, "vector table created");
        Ok(VectorTable {
            inner: Arc::new(TableInner {
                name: name.to_string(),
                dim,
                dir: self.table_dir(name),
                table,
                schema,
            }),
        })
    }

    async fn open_existing(&self, name: &str, dim: usize) -> Result<VectorTable, VectorError> {
        let corrupt = |reason: String| VectorError::Corrupt {
            table: name.to_string(),
            reason,
        };
        let table = self
            .conn
            .open_table(name)
            .execute()
            .await
            .map_err(|e| corrupt(format!("cannot open: {e}")))?;
        let found = table
            .schema()
            .await
            .map_err(|e| corrupt(format!("cannot read the schema: {e}")))?;
        let expected = table_schema(dim).map_err(|_| VectorError::InvalidName {
            name: name.to_string(),
            reason: format!("vector dimension {dim} is out of range"),
        })?;
        match found.field_with_name(COL_VECTOR).map(|f| f.data_type()) {
            Ok(DataType::FixedSizeList(item, n)) if item.data_type() == &DataType::Float32 => {
                let n = usize::try_from(*n).unwrap_or(0);
                if n != dim {
                    return Err(VectorError::DimMismatch {
                        table: name.to_string(),
                        expected: dim,
                        found: n,
                    });
                }
            }
            Ok(other) => {
                return Err(VectorError::Schema {
                    table: name.to_string(),
                    reason: format!("column `vector` is {other}, expected FixedSizeList<Float32>"),
                })
            }
            Err(_) => {
                return Err(VectorError::Schema {
                    table: name.to_string(),
                    reason: "no `vector` column".to_string(),
                })
            }
        }
        for field in expected.fields() {
            match found.field_with_name(field.name()) {
                Ok(f) if f.data_type() == field.data_type() => {}
                Ok(f) => {
                    return Err(VectorError::Schema {
                        table: name.to_string(),
                        reason: format!(
                            "column `{}` is {}, expected {}",
                            field.name(),
                            f.data_type(),
                            field.data_type()
                        ),
                    })
                }
                Err(_) => {
                    return Err(VectorError::Schema {
                        table: name.to_string(),
                        reason: format!("missing column `{}`", field.name()),
                    })
                }
            }
        }
        let t = VectorTable {
            inner: Arc::new(TableInner {
                name: name.to_string(),
                dim,
                dir: self.table_dir(name),
                table,
                schema: expected,
            }),
        };
        t.quick_check().await?;
        debug!(table = name, dim, "vector table opened");
        Ok(t)
    }

    /// Names of the tables in the store.
    pub async fn table_names(&self) -> Result<Vec<String>, VectorError> {
        self.conn
            .table_names()
            .execute()
            .await
            .map_err(|source| VectorError::Connect {
                dir: self.dir.clone(),
                source: Box::new(source),
            })
    }

    /// Drops table `name`. Works on a corrupt table (its directory is removed
    /// when LanceDB cannot drop it) and is a no-op for a missing one.
    pub async fn drop_table(&self, name: &str) -> Result<(), VectorError> {
        check_name(name)?;
        if let Err(e) = self.conn.drop_table(name, &[]).await {
            if !matches!(e, lancedb::Error::TableNotFound { .. }) {
                warn!(table = name, error = %e, "LanceDB could not drop the table; removing its directory");
            }
        }
        let dir = self.table_dir(name);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(VectorError::Dir { dir, source }),
        }
        info!(table = name, "vector table dropped");
        Ok(())
    }

    /// Drops table `name` (even if corrupt) and creates it empty with `dim`.
    pub async fn recreate(&self, name: &str, dim: usize) -> Result<VectorTable, VectorError> {
        check_name(name)?;
        check_dim(name, dim)?;
        self.drop_table(name).await?;
        self.create(name, dim).await
    }
}

/// What the vector index should look like for a table of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexPlan {
    /// Scalar-quantized (IVF-SQ) rather than full vectors (IVF-flat).
    sq: bool,
    partitions: usize,
}

impl IndexPlan {
    fn for_rows(rows: usize) -> Self {
        Self {
            sq: rows >= MIN_SQ_ROWS,
            partitions: (rows / ROWS_PER_PARTITION).clamp(1, MAX_PARTITIONS),
        }
    }

    fn name(&self) -> String {
        let kind = if self.sq { "sq" } else { "flat" };
        format!("{VECTOR_INDEX_PREFIX}_{kind}_p{}", self.partitions)
    }

    /// Parses a name made by [`IndexPlan::name`].
    fn parse(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(VECTOR_INDEX_PREFIX)?.strip_prefix('_')?;
        let (kind, parts) = rest.split_once("_p")?;
        Some(Self {
            // "pq": an index made by an older version, quantized as well.
            sq: kind == "sq" || kind == "pq",
            partitions: parts.parse().ok()?,
        })
    }
}

impl VectorTable {
    /// The table's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The underlying LanceDB table, for benchmarks and diagnostics. Writes
    /// through it bypass this crate's checks.
    pub fn raw(&self) -> &Table {
        &self.inner.table
    }

    /// The table's vector dimension.
    pub fn dim(&self) -> usize {
        self.inner.dim
    }

    fn lance_err(&self, op: &'static str) -> impl Fn(lancedb::Error) -> VectorError + '_ {
        move |source| VectorError::Lance {
            table: self.inner.name.clone(),
            op,
            source: Box::new(source),
        }
    }

    fn corrupt(&self, reason: String) -> VectorError {
        VectorError::Corrupt {
            table: self.inner.name.clone(),
            reason,
        }
    }

    fn check_vector(&self, what: &str, v: &[f32]) -> Result<(), VectorError> {
        if v.len() != self.inner.dim {
            return Err(VectorError::BadVector {
                table: self.inner.name.clone(),
                what: what.to_string(),
                expected: self.inner.dim,
                found: v.len(),
            });
        }
        Ok(())
    }

    /// Cheap health check: the manifest reads and every data file it lists exists.
    async fn quick_check(&self) -> Result<usize, VectorError> {
        let rows = self
            .inner
            .table
            .count_rows(None)
            .await
            .map_err(|e| self.corrupt(format!("cannot count rows: {e}")))?;
        if let Some(native) = self.inner.table.as_native() {
            let manifest = native
                .manifest()
                .await
                .map_err(|e| self.corrupt(format!("cannot read the manifest: {e}")))?;
            let data_dir = self.inner.dir.join("data");
            for frag in manifest.fragments.iter() {
                for file in &frag.files {
                    if file.base_id.is_some() {
                        continue;
                    }
                    let p = data_dir.join(&file.path);
                    if !tokio::fs::try_exists(&p).await.unwrap_or(false) {
                        return Err(self.corrupt(format!(
                            "data file {} of fragment {} is missing",
                            p.display(),
                            frag.id
                        )));
                    }
                }
            }
        }
        Ok(rows)
    }

    fn to_batch(&self, rows: &[VectorRow]) -> Result<RecordBatch, VectorError> {
        let dim = self.inner.dim;
        let mut flat = Vec::with_capacity(rows.len() * dim);
        for r in rows {
            flat.extend_from_slice(&r.vector);
        }
        let item = Arc::new(Field::new("item", DataType::Float32, true));
        let dim_i32 = i32::try_from(dim).unwrap_or(i32::MAX);
        let arrow_err = |source| VectorError::Arrow {
            table: self.inner.name.clone(),
            source,
        };
        let vectors =
            FixedSizeListArray::try_new(item, dim_i32, Arc::new(Float32Array::from(flat)), None)
                .map_err(arrow_err)?;
        let strings = |f: fn(&VectorRow) -> &str| {
            Arc::new(StringArray::from_iter_values(rows.iter().map(f))) as Arc<dyn Array>
        };
        RecordBatch::try_new(
            self.inner.schema.clone(),
            vec![
                strings(|r| &r.chunk_id),
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| r.workspace_id),
                )),
                strings(|r| &r.path),
                strings(|r| &r.lang),
                strings(|r| &r.kind),
                Arc::new(UInt32Array::from_iter_values(
                    rows.iter().map(|r| r.start_line),
                )),
                Arc::new(UInt32Array::from_iter_values(
                    rows.iter().map(|r| r.end_line),
                )),
                strings(|r| &r.content_hash),
                Arc::new(vectors),
            ],
        )
        .map_err(arrow_err)
    }

    /// Inserts or replaces rows, keyed by `chunk_id`. Never creates a duplicate
    /// id: within `rows` the last row for an id wins, and a row whose id is
    /// already stored replaces it. One call is one LanceDB commit, so batch.
    pub async fn upsert(&self, rows: Vec<VectorRow>) -> Result<(), VectorError> {
        if rows.is_empty() {
            return Ok(());
        }
        for r in &rows {
            self.check_vector(&r.chunk_id, &r.vector)?;
        }
        // merge_insert duplicates rows when the source repeats a key: keep the last.
        let n_in = rows.len();
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            last.insert(r.chunk_id.as_str(), i);
        }
        let rows: Vec<VectorRow> = if last.len() == rows.len() {
            rows
        } else {
            let keep: std::collections::HashSet<usize> = last.into_values().collect();
            rows.into_iter()
                .enumerate()
                .filter(|(i, _)| keep.contains(i))
                .map(|(_, r)| r)
                .collect()
        };
        let batch = self.to_batch(&rows)?;
        let schema = batch.schema();
        let reader = RecordBatchIterator::new(std::iter::once(Ok(batch)), schema);
        let started = Instant::now();
        let mut merge = self.inner.table.merge_insert(&[COL_CHUNK_ID]);
        merge
            .when_matched_update_all(None)
            .when_not_matched_insert_all();
        let res = merge
            .execute(Box::new(reader))
            .await
            .map_err(self.lance_err("upsert"))?;
        debug!(
            table = %self.inner.name,
            rows = n_in,
            inserted = res.num_inserted_rows,
            updated = res.num_updated_rows,
            ms = started.elapsed().as_millis() as u64,
            "vector upsert"
        );
        Ok(())
    }

    /// Deletes the rows with these chunk ids (missing ids are ignored). Large
    /// lists are split into several `IN (...)` deletes.
    pub async fn delete_chunks(&self, ids: &[String]) -> Result<(), VectorError> {
        for batch in ids.chunks(DELETE_BATCH) {
            let list: Vec<String> = batch.iter().map(|s| sql_quote(s)).collect();
            let predicate = format!("{COL_CHUNK_ID} IN ({})", list.join(", "));
            self.inner
                .table
                .delete(predicate.as_str())
                .await
                .map_err(self.lance_err("delete chunks"))?;
        }
        Ok(())
    }

    /// Deletes every row of workspace `workspace_id`.
    pub async fn delete_workspace(&self, workspace_id: i64) -> Result<(), VectorError> {
        let predicate = format!("workspace_id = {workspace_id}");
        self.inner
            .table
            .delete(predicate.as_str())
            .await
            .map_err(self.lance_err("delete workspace"))?;
        Ok(())
    }

    /// The `k` rows nearest to `vector` by cosine distance, nearest first.
    /// `filter` is an SQL where clause over the metadata columns (for example
    /// `workspace_id = 3 AND lang = 'rust'`), applied before the search.
    pub async fn search(
        &self,
        vector: &[f32],
        k: usize,
        filter: Option<&str>,
    ) -> Result<Vec<Hit>, VectorError> {
        self.check_vector("query", vector)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut q = self
            .inner
            .table
            .query()
            .nearest_to(vector)
            .map_err(self.lance_err("search"))?
            .column(COL_VECTOR)
            .distance_type(DistanceType::Cosine)
            .refine_factor(REFINE_FACTOR)
            .limit(k)
            // `_distance` named explicitly: LanceDB warns on every search that leaves it
            // out (it will stop adding it by itself).
            .select(Select::columns(&[
                COL_CHUNK_ID,
                "path",
                "start_line",
                "end_line",
                COL_DISTANCE,
            ]));
        if let Some(f) = filter {
            q = q.only_if(f);
        }
        let batches: Vec<RecordBatch> = q
            .execute()
            .await
            .map_err(self.lance_err("search"))?
            .try_collect()
            .await
            .map_err(self.lance_err("search"))?;
        let mut hits = Vec::with_capacity(k);
        for b in &batches {
            let ids = self.col::<StringArray>(b, COL_CHUNK_ID)?;
            let paths = self.col::<StringArray>(b, "path")?;
            let starts = self.col::<UInt32Array>(b, "start_line")?;
            let ends = self.col::<UInt32Array>(b, "end_line")?;
            let dists = self.col::<Float32Array>(b, COL_DISTANCE)?;
            for i in 0..b.num_rows() {
                hits.push(Hit {
                    chunk_id: ids.value(i).to_string(),
                    distance: dists.value(i),
                    path: paths.value(i).to_string(),
                    start_line: starts.value(i),
                    end_line: ends.value(i),
                });
            }
        }
        hits.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        hits.truncate(k);
        Ok(hits)
    }

    fn col<'a, T: 'static>(&self, b: &'a RecordBatch, name: &str) -> Result<&'a T, VectorError> {
        b.column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .ok_or_else(|| VectorError::Schema {
                table: self.inner.name.clone(),
                reason: format!("result column `{name}` is missing or has the wrong type"),
            })
    }

    /// Number of rows.
    pub async fn count(&self) -> Result<usize, VectorError> {
        self.inner
            .table
            .count_rows(None)
            .await
            .map_err(self.lance_err("count rows"))
    }

    /// Every chunk id in the table (unordered).
    pub async fn chunk_ids(&self) -> Result<Vec<String>, VectorError> {
        let batches: Vec<RecordBatch> = self
            .inner
            .table
            .query()
            .select(Select::columns(&[COL_CHUNK_ID]))
            .execute()
            .await
            .map_err(self.lance_err("list chunk ids"))?
            .try_collect()
            .await
            .map_err(self.lance_err("list chunk ids"))?;
        let mut out = Vec::new();
        for b in &batches {
            let ids = self.col::<StringArray>(b, COL_CHUNK_ID)?;
            out.extend(ids.iter().flatten().map(str::to_string));
        }
        Ok(out)
    }

    /// Whether the table has an ANN index on its vectors.
    pub async fn has_index(&self) -> Result<bool, VectorError> {
        let indices = self
            .inner
            .table
            .list_indices()
            .await
            .map_err(self.lance_err("list indices"))?;
        Ok(indices
            .iter()
            .any(|i| i.columns.iter().any(|c| c == COL_VECTOR)))
    }

    /// Builds or maintains the ANN index (cosine IVF-SQ; IVF-flat below 256
    /// rows) and a BTree index on `chunk_id`. Returns whether it did any work.
    ///
    /// * no vector index and at least `min_rows` rows: trains one;
    /// * the table has grown so that the planned partition count doubled (or
    ///   it can now afford quantization): re-trains it;
    /// * more than max(1000, 10 %) rows are not indexed yet: adds them to the
    ///   existing indices (no re-training).
    pub async fn maybe_index(&self, min_rows: usize) -> Result<bool, VectorError> {
        let rows = self.count().await?;
        let indices = self
            .inner
            .table
            .list_indices()
            .await
            .map_err(self.lance_err("list indices"))?;
        let vector_idx = indices
            .iter()
            .find(|i| i.columns.iter().any(|c| c == COL_VECTOR));
        let has_id_idx = indices.iter().any(|i| {
            i.index_type == IndexType::BTree && i.columns.iter().any(|c| c == COL_CHUNK_ID)
        });
        let want = IndexPlan::for_rows(rows);
        let mut did = false;
        match vector_idx {
            None if rows >= min_rows.max(1) => {
                self.train_vector_index(want, rows).await?;
                did = true;
            }
            None => return Ok(false),
            Some(idx) => {
                let current = IndexPlan::parse(&idx.name);
                let retrain = match current {
                    None => false, // someone else's index: leave its shape alone
                    Some(cur) => {
                        (want.sq && !cur.sq) || want.partitions >= cur.partitions.saturating_mul(2)
                    }
                };
                if retrain {
                    // Drop first: LanceDB may refuse a second vector index on
                    // the column. Searches are exact (flat) in between.
                    self.inner
                        .table
                        .drop_index(&idx.name)
                        .await
                        .map_err(self.lance_err("drop old vector index"))?;
                    self.train_vector_index(want, rows).await?;
                    did = true;
                } else {
                    let stats = self
                        .inner
                        .table
                        .index_stats(&idx.name)
                        .await
                        .map_err(self.lance_err("index stats"))?;
                    let unindexed = stats.map(|s| s.num_unindexed_rows).unwrap_or(0);
                    if unindexed > 1000.max(rows / 10) {
                        let started = Instant::now();
                        self.inner
                            .table
                            .optimize(OptimizeAction::Index(OptimizeOptions::default()))
                            .await
                            .map_err(self.lance_err("update indices"))?;
                        info!(table = %self.inner.name, unindexed, ms = started.elapsed().as_millis() as u64, "vector indices updated");
                        did = true;
                    }
                }
            }
        }
        if !has_id_idx {
            let started = Instant::now();
            self.inner
                .table
                .create_index(&[COL_CHUNK_ID], Index::BTree(BTreeIndexBuilder::default()))
                .name(ID_INDEX_NAME.to_string())
                .execute()
                .await
                .map_err(self.lance_err("create chunk_id index"))?;
            info!(table = %self.inner.name, ms = started.elapsed().as_millis() as u64, "chunk_id index created");
            did = true;
        }
        Ok(did)
    }

    async fn train_vector_index(&self, plan: IndexPlan, rows: usize) -> Result<(), VectorError> {
        let started = Instant::now();
        let partitions = u32::try_from(plan.partitions).unwrap_or(1);
        let index = if plan.sq {
            Index::IvfSq(
                IvfSqIndexBuilder::default()
                    .distance_type(DistanceType::Cosine)
                    .num_partitions(partitions)
                    .sample_rate(TRAIN_SAMPLE_RATE)
                    .max_iterations(TRAIN_ITERATIONS),
            )
        } else {
            Index::IvfFlat(
                IvfFlatIndexBuilder::default()
                    .distance_type(DistanceType::Cosine)
                    .num_partitions(partitions)
                    .sample_rate(TRAIN_SAMPLE_RATE)
                    .max_iterations(TRAIN_ITERATIONS),
            )
        };
        self.inner
            .table
            .create_index(&[COL_VECTOR], index)
            .name(plan.name())
            .replace(true)
            .execute()
            .await
            .map_err(self.lance_err("create vector index"))?;
        info!(
            table = %self.inner.name,
            rows,
            index = %plan.name(),
            ms = started.elapsed().as_millis() as u64,
            "vector index trained"
        );
        Ok(())
    }

    /// Compacts the small files frequent upserts leave behind, removes versions
    /// older than a few minutes, and adds new rows to the indices.
    pub async fn optimize(&self) -> Result<(), VectorError> {
        let started = Instant::now();
        let stats = self
            .inner
            .table
            .optimize(OptimizeAction::Compact {
                options: compaction_options(self.inner.dim),
                remap_options: None,
            })
            .await
            .map_err(self.lance_err("compaction"))?;
        let older_than = lancedb::table::Duration::try_minutes(KEEP_VERSIONS_FOR_MINUTES);
        let pruned = self
            .inner
            .table
            .optimize(OptimizeAction::Prune {
                older_than,
                delete_unverified: Some(false),
                error_if_tagged_old_versions: Some(false),
            })
            .await
            .map_err(self.lance_err("prune old versions"))?;
        let has_index = !self
            .inner
            .table
            .list_indices()
            .await
            .map_err(self.lance_err("list indices"))?
            .is_empty();
        if has_index {
            self.inner
                .table
                .optimize(OptimizeAction::Index(OptimizeOptions::default()))
                .await
                .map_err(self.lance_err("update indices"))?;
        }
        info!(
            table = %self.inner.name,
            compaction = ?stats.compaction,
            prune = ?pruned.prune,
            ms = started.elapsed().as_millis() as u64,
            "vector table optimized"
        );
        Ok(())
    }

    /// Reads every row's `chunk_id` and `vector` in full; any failure, a row
    /// count that disagrees with the manifest, or a vector of the wrong
    /// length is reported as [`VectorError::Corrupt`].
    pub async fn verify(&self) -> Result<(), VectorError> {
        let expected = self.quick_check().await?;
        let mut stream = self
            .inner
            .table
            .query()
            .select(Select::columns(&[COL_CHUNK_ID, COL_VECTOR]))
            .execute()
            .await
            .map_err(|e| self.corrupt(format!("cannot scan: {e}")))?;
        let mut seen = 0usize;
        while let Some(b) = stream
            .try_next()
            .await
            .map_err(|e| self.corrupt(format!("read failed after {seen} rows: {e}")))?
        {
            let ids = b
                .column_by_name(COL_CHUNK_ID)
                .ok_or_else(|| self.corrupt("scan returned no chunk_id column".to_string()))?;
            if ids.null_count() > 0 {
                return Err(self.corrupt("null chunk_id values".to_string()));
            }
            let vectors = b
                .column_by_name(COL_VECTOR)
                .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
                .ok_or_else(|| self.corrupt("scan returned no vector column".to_string()))?;
            if usize::try_from(vectors.value_length()).ok() != Some(self.inner.dim) {
                return Err(self.corrupt(format!(
                    "vectors have {} dimensions, expected {}",
                    vectors.value_length(),
                    self.inner.dim
                )));
            }
            if vectors.values().len() != b.num_rows() * self.inner.dim {
                return Err(self.corrupt("vector column is truncated".to_string()));
            }
            seen += b.num_rows();
        }
        if seen != expected {
            return Err(self.corrupt(format!(
                "manifest says {expected} rows but {seen} were read"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_plan_names_round_trip() {
        for rows in [0, 100, 300, 50_000, 1_000_000, 100_000_000] {
            let p = IndexPlan::for_rows(rows);
            assert_eq!(IndexPlan::parse(&p.name()), Some(p));
        }
        assert_eq!(IndexPlan::for_rows(1_000_000).partitions, 244);
        assert_eq!(IndexPlan::parse("vector_idx"), None);
        // An IVF-PQ index of an older version counts as quantized: not re-trained for that.
        assert_eq!(
            IndexPlan::parse("vector_idx_pq_p18"),
            Some(IndexPlan {
                sq: true,
                partitions: 18
            })
        );
    }

    #[test]
    fn compaction_is_bounded_by_bytes_of_vectors() {
        // all-MiniLM-L6-v2: 384 floats, 16 MiB of them per fragment.
        assert_eq!(compaction_options(384).target_rows_per_fragment, 10_922);
        // Large models still get fragments of a useful size.
        assert_eq!(compaction_options(8192).target_rows_per_fragment, 1024);
        assert_eq!(compaction_options(384).num_threads, Some(1));
    }

    #[test]
    fn quoting_and_names() {
        assert_eq!(sql_quote("a'b"), "'a''b'");
        assert!(check_name("code_chunks").is_ok());
        assert!(check_name("../x").is_err());
        assert!(check_name("").is_err());
    }
}
