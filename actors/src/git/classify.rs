//! Reflog entries into events: what kind of thing happened (from git's own reflog message),
//! and a timestamp that keeps git's order within a second.
//!
//! Pure functions, no I/O: [`super::repo`] reads the reflogs, [`super::store`] writes rows.

use serde_json::{json, Map, Value};

/// One reflog entry as read from the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The reference whose reflog holds it: `HEAD`, `refs/heads/NAME` or `refs/stash`.
    pub ref_name: String,
    /// The reference's value before (40 zeros when it did not exist).
    pub old_oid: String,
    /// Its value after.
    pub new_oid: String,
    /// When (the reflog's committer time), Unix seconds.
    pub secs: i64,
    /// The reflog message (first line).
    pub message: String,
    /// Who did it (the reflog's committer name).
    pub who: Option<String>,
}

/// The kind of an event, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `commit:`, `commit (initial):`, `revert:`, `am:`.
    Commit,
    /// `commit (amend):`.
    Amend,
    /// `checkout: moving from A to B`.
    Checkout,
    /// `merge X: ...`, `commit (merge):`.
    Merge,
    /// `rebase (start|pick|finish|...)`.
    Rebase,
    /// `pull: ...`, `pull --rebase (...)`.
    Pull,
    /// An entry of `refs/stash`.
    Stash,
    /// `reset: moving to X`.
    Reset,
    /// `cherry-pick: ...`.
    CherryPick,
    /// `branch: Created from X`, `branch: renamed ...`.
    Branch,
    /// `clone: from URL`.
    Clone,
    /// Anything else (fetch, push, tools that write their own messages).
    Other,
}

impl Kind {
    /// The name the API and the `kind` column use.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Commit => "commit",
            Kind::Amend => "amend",
            Kind::Checkout => "checkout",
            Kind::Merge => "merge",
            Kind::Rebase => "rebase",
            Kind::Pull => "pull",
            Kind::Stash => "stash",
            Kind::Reset => "reset",
            Kind::CherryPick => "cherry-pick",
            Kind::Branch => "branch",
            Kind::Clone => "clone",
            Kind::Other => "other",
        }
    }

    /// Whether an event of this kind leaves the working tree as it was (a commit records what
    /// is already there), so the index has nothing to follow.
    pub fn keeps_worktree(self) -> bool {
        matches!(self, Kind::Commit | Kind::Amend | Kind::Branch)
    }
}

/// A classified reflog message: the kind and what the message says in fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// The kind.
    pub kind: Kind,
    /// Parsed fields (`from`/`to` of a checkout, `step` of a rebase, `subject`, ...).
    pub detail: Map<String, Value>,
}

/// Splits `word (step): rest` / `word: rest` into (`word`, `step`, `rest`).
fn split_prefix(message: &str) -> Option<(&str, Option<&str>, &str)> {
    let colon = message.find(": ").map_or_else(
        || message.strip_suffix(':').map(|m| (m.len(), "")),
        |i| Some((i, &message[i + 2..])),
    )?;
    let (end, rest) = colon;
    let head = &message[..end];
    match head.find(" (") {
        Some(open) if head.ends_with(')') => {
            Some((&head[..open], Some(&head[open + 2..head.len() - 1]), rest))
        }
        _ => Some((head, None, rest)),
    }
}

/// Classifies one reflog message of `ref_name` (see the module docs).
pub fn classify(ref_name: &str, message: &str) -> Classified {
    let mut detail = Map::new();
    let message = message.trim();
    if ref_name == "refs/stash" {
        // "WIP on main: abc123 subject" or "On main: message".
        let rest = message
            .strip_prefix("WIP on ")
            .or_else(|| message.strip_prefix("On "));
        if let Some((branch, subject)) = rest.and_then(|r| r.split_once(": ")) {
            detail.insert("branch".into(), json!(branch));
            detail.insert("subject".into(), json!(subject));
        }
        return Classified {
            kind: Kind::Stash,
            detail,
        };
    }
    let Some((word, step, rest)) = split_prefix(message) else {
        return Classified {
            kind: Kind::Other,
            detail,
        };
    };
    // `rebase -i (start)`, `pull --rebase (pick)`: options come before the step;
    // `merge feature: ...` names the branch after the word.
    let (word, arg) = match word.split_once(' ') {
        Some((w, a)) => (w, Some(a)),
        None => (word, None),
    };
    let options = arg.filter(|a| a.starts_with('-'));
    let kind = match (word, step) {
        ("commit", None) => Kind::Commit,
        ("commit", Some("initial")) => {
            detail.insert("initial".into(), json!(true));
            Kind::Commit
        }
        ("commit", Some("amend")) => Kind::Amend,
        ("commit", Some("merge")) => Kind::Merge,
        ("commit", Some(other)) => {
            detail.insert("step".into(), json!(other));
            Kind::Commit
        }
        ("revert", _) => {
            detail.insert("revert".into(), json!(true));
            Kind::Commit
        }
        ("am", _) => {
            detail.insert("am".into(), json!(true));
            Kind::Commit
        }
        ("checkout", _) => {
            if let Some((from, to)) = rest
                .strip_prefix("moving from ")
                .and_then(|r| r.split_once(" to "))
            {
                detail.insert("from".into(), json!(from));
                detail.insert("to".into(), json!(to));
            }
            Kind::Checkout
        }
        ("merge", _) => Kind::Merge,
        ("rebase", _) => Kind::Rebase,
        ("pull", _) => Kind::Pull,
        ("reset", _) => {
            if let Some(target) = rest.strip_prefix("moving to ") {
                detail.insert("target".into(), json!(target));
            }
            Kind::Reset
        }
        ("cherry-pick", _) => Kind::CherryPick,
        ("branch", _) => Kind::Branch,
        ("clone", _) => Kind::Clone,
        _ => Kind::Other,
    };
    if let (Kind::Merge, "merge", Some(branch)) = (kind, word, arg) {
        detail.insert("branch".into(), json!(branch));
    }
    if let Some(step) = step {
        if matches!(kind, Kind::Rebase | Kind::Pull) {
            detail.insert("step".into(), json!(step));
        }
    }
    if let Some(options) = options {
        detail.insert("options".into(), json!(options));
    }
    if matches!(
        kind,
        Kind::Commit | Kind::Amend | Kind::CherryPick | Kind::Merge
    ) && !rest.is_empty()
    {
        detail.insert("subject".into(), json!(rest));
    }
    Classified { kind, detail }
}

/// Millisecond timestamps for one reflog's entries, oldest first: `secs × 1000` plus the
/// entry's rank among the entries of the same second (capped at 999). Reflogs have 1-second
/// resolution; the rank keeps git's order inside a second, and makes two identical entries
/// in one second (checkout A→B, B→A, A→B) distinct rows under the table's unique key. The
/// value only depends on the entries before it, so re-reading a grown reflog gives every old
/// entry the timestamp it had.
pub fn timestamps(secs_oldest_first: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(secs_oldest_first.len());
    let mut prev: Option<i64> = None;
    let mut rank = 0i64;
    for &s in secs_oldest_first {
        if prev == Some(s) {
            rank = (rank + 1).min(999);
        } else {
            rank = 0;
            prev = Some(s);
        }
        out.push(s.saturating_mul(1000).saturating_add(rank));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(r: &str, m: &str) -> &'static str {
        classify(r, m).kind.as_str()
    }

    #[test]
    fn commits_and_amends() {
        assert_eq!(kind("HEAD", "commit (initial): first"), "commit");
        assert_eq!(
            classify("HEAD", "commit (initial): first").detail["initial"],
            json!(true)
        );
        assert_eq!(kind("HEAD", "commit: add parser"), "commit");
        assert_eq!(
            classify("HEAD", "commit: add parser: part 2").detail["subject"],
            json!("add parser: part 2")
        );
        assert_eq!(kind("HEAD", "commit (amend): add parser"), "amend");
        assert_eq!(kind("HEAD", "commit (merge): Merge branch 'x'"), "merge");
        assert_eq!(kind("HEAD", "revert: Revert \"x\""), "commit");
        assert_eq!(kind("HEAD", "am: patch subject"), "commit");
    }

    #[test]
    fn checkouts_merges_and_resets() {
        let c = classify("HEAD", "checkout: moving from main to feature/x");
        assert_eq!(c.kind, Kind::Checkout);
        assert_eq!(c.detail["from"], json!("main"));
        assert_eq!(c.detail["to"], json!("feature/x"));
        let m = classify("HEAD", "merge feature: Merge made by the 'ort' strategy.");
        assert_eq!(m.kind, Kind::Merge);
        assert_eq!(m.detail["branch"], json!("feature"));
        assert_eq!(kind("HEAD", "merge origin/main: Fast-forward"), "merge");
        let r = classify("HEAD", "reset: moving to HEAD~1");
        assert_eq!(r.kind, Kind::Reset);
        assert_eq!(r.detail["target"], json!("HEAD~1"));
        assert_eq!(kind("HEAD", "cherry-pick: fix bug"), "cherry-pick");
    }

    #[test]
    fn rebases_and_pulls_carry_their_step() {
        let r = classify("HEAD", "rebase (start): checkout main");
        assert_eq!(r.kind, Kind::Rebase);
        assert_eq!(r.detail["step"], json!("start"));
        assert_eq!(
            classify("HEAD", "rebase (pick): add parser").detail["step"],
            json!("pick")
        );
        assert_eq!(
            kind("refs/heads/x", "rebase (finish): refs/heads/x onto abc"),
            "rebase"
        );
        let i = classify("HEAD", "rebase -i (finish): returning to refs/heads/x");
        assert_eq!(i.kind, Kind::Rebase);
        assert_eq!(i.detail["step"], json!("finish"));
        assert_eq!(i.detail["options"], json!("-i"));
        assert_eq!(kind("HEAD", "pull: Fast-forward"), "pull");
        let p = classify("HEAD", "pull --rebase (start): checkout abc");
        assert_eq!(p.kind, Kind::Pull);
        assert_eq!(p.detail["step"], json!("start"));
    }

    #[test]
    fn branches_clones_stashes_and_the_rest() {
        assert_eq!(
            kind("refs/heads/feature", "branch: Created from HEAD"),
            "branch"
        );
        assert_eq!(
            kind(
                "refs/heads/b",
                "branch: renamed refs/heads/a to refs/heads/b"
            ),
            "branch"
        );
        assert_eq!(kind("HEAD", "clone: from https://x/y.git"), "clone");
        let s = classify("refs/stash", "WIP on main: 1a2b3c4 add parser");
        assert_eq!(s.kind, Kind::Stash);
        assert_eq!(s.detail["branch"], json!("main"));
        assert_eq!(kind("refs/stash", "On main: my notes"), "stash");
        assert_eq!(kind("HEAD", "fetch: fast-forward"), "other");
        assert_eq!(kind("HEAD", "update by push"), "other");
        assert_eq!(kind("HEAD", ""), "other");
        assert_eq!(kind("HEAD", "weird"), "other");
        assert_eq!(kind("HEAD", "commit:"), "commit");
    }

    #[test]
    fn timestamps_keep_order_within_a_second_and_are_stable() {
        assert_eq!(
            timestamps(&[5, 5, 5, 6, 7, 7]),
            vec![5000, 5001, 5002, 6000, 7000, 7001]
        );
        // A grown reflog keeps every old entry's timestamp.
        let before = timestamps(&[5, 5]);
        let after = timestamps(&[5, 5, 5, 6]);
        assert_eq!(&after[..2], &before[..]);
        assert!(timestamps(&[]).is_empty());
        let many = timestamps(&vec![1; 1500]);
        assert_eq!(many[1499], 1999);
    }
}
