//! The session actor: snapshots of what the user has open, restored at start. (Being written.)
