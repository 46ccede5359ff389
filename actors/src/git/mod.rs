//! The git actor: watches each live workspace's `.git` and records its history in
//! `git_events`; status and diff for the UI. (Being written.)

use crate::config::Loaded;
use crate::index::IndexService;
use crate::storage::Storage;
use crate::supervision::ChildSpec;

/// The `git` child of the root (stub until the actor lands).
pub fn git_child(_storage: &Storage, _index: &IndexService, _loaded: &Loaded) -> Option<ChildSpec> {
    None
}
