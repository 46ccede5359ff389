//! Live counters of an indexing run, shared between the threads doing the work and whoever
//! reports progress (`weft status`, `weft index`, the UI's status bar).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

/// Counters of the scan in progress (or the last one), updated lock-free by the scan threads.
#[derive(Debug)]
pub struct Progress {
    /// Paths the walk yielded so far.
    pub seen: AtomicU64,
    /// Files read, chunked and written in this scan.
    pub indexed: AtomicU64,
    /// Bytes of those files.
    pub bytes: AtomicU64,
    /// Chunks written in this scan.
    pub chunks: AtomicU64,
    /// Files passed over (binary, oversized, unreadable, ...).
    pub skipped: AtomicU64,
    /// Files whose size and mtime matched: not read.
    pub unchanged: AtomicU64,
    started: Mutex<Option<Instant>>,
    finished: Mutex<Option<Instant>>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            seen: AtomicU64::new(0),
            indexed: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            chunks: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            started: Mutex::new(None),
            finished: Mutex::new(None),
        }
    }
}

/// A copy of [`Progress`] at one moment, for reports.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct ProgressSnapshot {
    /// Whether a scan is running.
    pub scanning: bool,
    /// See [`Progress::seen`].
    pub seen: u64,
    /// See [`Progress::indexed`].
    pub indexed: u64,
    /// See [`Progress::bytes`].
    pub bytes: u64,
    /// See [`Progress::chunks`].
    pub chunks: u64,
    /// See [`Progress::skipped`].
    pub skipped: u64,
    /// See [`Progress::unchanged`].
    pub unchanged: u64,
    /// Seconds since the scan started (until it finished, for a finished one).
    pub elapsed_s: f64,
}

impl Progress {
    /// Resets the counters and marks a scan as started now.
    pub fn start(&self) {
        for c in [
            &self.seen,
            &self.indexed,
            &self.bytes,
            &self.chunks,
            &self.skipped,
            &self.unchanged,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        if let Ok(mut s) = self.started.lock() {
            *s = Some(Instant::now());
        }
        if let Ok(mut f) = self.finished.lock() {
            *f = None;
        }
    }

    /// Marks the scan as finished now.
    pub fn finish(&self) {
        if let Ok(mut f) = self.finished.lock() {
            *f = Some(Instant::now());
        }
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let started = self.started.lock().ok().and_then(|s| *s);
        let finished = self.finished.lock().ok().and_then(|f| *f);
        let elapsed_s = match (started, finished) {
            (Some(s), Some(f)) => f.saturating_duration_since(s).as_secs_f64(),
            (Some(s), None) => s.elapsed().as_secs_f64(),
            _ => 0.0,
        };
        ProgressSnapshot {
            scanning: started.is_some() && finished.is_none(),
            seen: self.seen.load(Ordering::Relaxed),
            indexed: self.indexed.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            chunks: self.chunks.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            unchanged: self.unchanged.load(Ordering::Relaxed),
            elapsed_s,
        }
    }
}
