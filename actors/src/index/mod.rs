//! Workspace indexing, first increment: walking a workspace under its ignore rules, reading
//! files so that a half-written file is never indexed, and the durable `files`/`jobs` tables
//! that let a crash or restart resume where it stopped (DESIGN.md §6, "Index").
//!
//! The split follows the failure modes: [`walk`] decides *which* paths matter (ignore rules,
//! size cap, symlink loops) without opening files, [`read`] decides whether one file's bytes
//! can be trusted (binary sniff, changed-while-read), and [`files`] turns both into rows and
//! jobs in SQLite, touching only what changed since the last scan.

pub mod files;
pub mod read;
pub mod walk;

pub use files::{FileIndex, IndexError, ScanReport, WorkspaceId};
pub use read::{read_stable, FileBytes, ReadSkip};
pub use walk::{walk, SkipReason, Walk, WalkEntry, WalkError, WalkOptions, WalkOutcome};
