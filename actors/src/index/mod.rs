//! Workspace indexing (DESIGN.md §6, "Index"): walking a workspace under its ignore rules,
//! reading files so that a half-written file is never indexed, chunking them with
//! tree-sitter, and keeping `files`, `chunks`, the FTS5 keyword index and `symbols` in SQLite
//! up to date, touching only what changed since the last scan.
//!
//! The split follows the failure modes: [`walk`] decides *which* paths matter (ignore rules,
//! size cap, symlink loops) without opening files, [`read`] decides whether one file's bytes
//! can be trusted (binary sniff, changed-while-read), and [`files`] turns both into rows in
//! SQLite, one transaction per batch of files.

pub mod embedder;
pub mod files;
pub mod progress;
pub mod read;
pub mod search;
pub mod service;
pub mod walk;
pub mod watch;

pub use embedder::embedder_child;
pub use files::{
    content_hash, embed_text, FileIndex, IndexCounts, IndexError, IndexOptions, ScanReport,
    Workspace, WorkspaceId,
};
pub use progress::{Progress, ProgressSnapshot};
pub use read::{read_stable, FileBytes, ReadSkip};
pub use search::{
    search, search_lexical, Scores, SearchError, SearchHit, SearchRequest, SearchResponse,
};
pub use service::{
    IndexService, IndexStatus, IndexerActor, IndexerMsg, VectorStatus, WorkspaceStatus,
};
pub use walk::{walk, SkipReason, Walk, WalkEntry, WalkError, WalkOptions, WalkOutcome};
pub use watch::{WatchError, WatchEvent, WatchMode, WatchOptions, Watcher};
