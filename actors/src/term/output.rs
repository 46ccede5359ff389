//! The output log of one terminal, which every viewer reads from.
//!
//! Output flow: the reader thread reads the PTY master into a bounded channel (16 reads);
//! the terminal actor's pump takes from it, lets the shell-integration [`Recorder`](super::marks::Recorder) look at
//! the bytes, and appends them to the [`OutputLog`], a ring of `scrollback_bytes` with
//! absolute offsets. Each viewer ([`Attachment`](super::Attachment)) reads from its own offset, so a viewer
//! gets everything in one coalesced frame however many small reads produced it, and a late
//! or reconnecting viewer gets the scrollback first.
//!
//! Backpressure: the pump does not take the next read while a live viewer is more than
//! [`HIGH_WATER`] bytes behind, so the reader thread stops reading, the kernel's PTY buffer
//! fills and the shell's writes block, exactly as in a native terminal whose screen is slow.
//! A viewer that makes no progress for [`STALL`] is treated as gone for backpressure (a
//! frozen tab must not freeze the shell); when it reads again it learns how many bytes it
//! missed. Memory per terminal is bounded by the ring plus the channel.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{watch, Notify};

/// How far behind a viewer may fall before the pump waits for it.
pub const HIGH_WATER: u64 = 1 << 20;
/// How long the pump waits for a viewer that makes no progress before it goes on without it.
pub const STALL: Duration = Duration::from_secs(2);
/// Largest frame a viewer gets at once.
pub const MAX_FRAME: usize = 64 * 1024;

/// A viewer's position in the log.
#[derive(Debug, Default)]
pub struct Cursor {
    pos: AtomicU64,
    stalled: AtomicBool,
}

#[derive(Debug)]
struct Ring {
    bytes: VecDeque<u8>,
    /// Absolute offset of `bytes[0]`.
    start: u64,
    cap: usize,
}

impl Ring {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

/// What a viewer reads.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Bytes, in order.
    Data(Vec<u8>),
    /// The viewer fell out of the ring: this many bytes were skipped.
    Dropped(u64),
    /// Nothing new.
    Empty,
}

/// The output of one terminal: a bounded ring with absolute offsets.
#[derive(Debug)]
pub struct OutputLog {
    ring: Mutex<Ring>,
    end_tx: watch::Sender<u64>,
    cursors: Mutex<Vec<Weak<Cursor>>>,
    progress: Notify,
    closed: AtomicBool,
}

impl OutputLog {
    /// A log keeping the last `cap` bytes.
    pub fn new(cap: usize) -> Self {
        let (end_tx, _) = watch::channel(0);
        Self {
            ring: Mutex::new(Ring {
                bytes: VecDeque::with_capacity(cap.min(256 * 1024)),
                start: 0,
                cap: cap.max(MAX_FRAME),
            }),
            end_tx,
            cursors: Mutex::new(Vec::new()),
            progress: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A panic while holding the lock cannot leave the ring inconsistent (every update is
        // a push or a drain), so a poisoned lock is still usable.
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends output.
    pub fn push(&self, data: &[u8]) {
        let end = {
            let mut ring = self.ring();
            if data.len() >= ring.cap {
                let skip = data.len() - ring.cap;
                let dropped = ring.bytes.len() as u64 + skip as u64;
                ring.bytes.clear();
                ring.start += dropped;
                ring.bytes.extend(&data[skip..]);
            } else {
                let over = (ring.bytes.len() + data.len()).saturating_sub(ring.cap);
                ring.bytes.drain(..over);
                ring.start += over as u64;
                ring.bytes.extend(data);
            }
            ring.end()
        };
        self.end_tx.send_replace(end);
    }

    /// The offset after the last byte.
    pub fn end(&self) -> u64 {
        self.ring().end()
    }

    /// No more output will come (the shell ended).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.end_tx.send_modify(|_| {});
        self.progress.notify_waiters();
    }

    /// Whether [`OutputLog::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// A new viewer positioned at the start of the scrollback (at a line start when the
    /// ring has wrapped, so the replay does not begin inside a line or an escape sequence).
    pub fn cursor(&self) -> (Arc<Cursor>, watch::Receiver<u64>) {
        let ring = self.ring();
        let mut pos = ring.start;
        if ring.start > 0 {
            if let Some(nl) = ring.bytes.iter().take(64 * 1024).position(|b| *b == b'\n') {
                pos += nl as u64 + 1;
            }
        }
        let cursor = Arc::new(Cursor {
            pos: AtomicU64::new(pos),
            stalled: AtomicBool::new(false),
        });
        drop(ring);
        let mut cursors = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        cursors.retain(|c| c.strong_count() > 0);
        cursors.push(Arc::downgrade(&cursor));
        (cursor, self.end_tx.subscribe())
    }

    /// The next bytes for `cursor`, at most `max`.
    pub fn read(&self, cursor: &Cursor, max: usize) -> Read {
        let ring = self.ring();
        let pos = cursor.pos.load(Ordering::SeqCst);
        if pos < ring.start {
            cursor.pos.store(ring.start, Ordering::SeqCst);
            return Read::Dropped(ring.start - pos);
        }
        let end = ring.end();
        if pos >= end {
            return Read::Empty;
        }
        let from = (pos - ring.start) as usize;
        let to = from + ((end - pos) as usize).min(max);
        let (a, b) = ring.bytes.as_slices();
        let mut out = Vec::with_capacity(to - from);
        if from < a.len() {
            out.extend_from_slice(&a[from..to.min(a.len())]);
        }
        if to > a.len() {
            out.extend_from_slice(&b[from.saturating_sub(a.len())..to - a.len()]);
        }
        let new_pos = pos + out.len() as u64;
        cursor.pos.store(new_pos, Ordering::SeqCst);
        if end - new_pos < HIGH_WATER / 2 {
            cursor.stalled.store(false, Ordering::SeqCst);
        }
        drop(ring);
        self.progress.notify_waiters();
        Read::Data(out)
    }

    /// How far the slowest live, non-stalled viewer is behind the end.
    fn lag(&self) -> u64 {
        let end = self.end();
        let cursors = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        cursors
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| !c.stalled.load(Ordering::SeqCst))
            .map(|c| end.saturating_sub(c.pos.load(Ordering::SeqCst)))
            .max()
            .unwrap_or(0)
    }

    /// Waits while a viewer is more than [`HIGH_WATER`] behind; a viewer that does not move
    /// for [`STALL`] is marked stalled and no longer waited for.
    pub async fn wait_room(&self) {
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lag() <= HIGH_WATER || self.is_closed() {
                return;
            }
            if tokio::time::timeout(STALL, notified).await.is_err() {
                let end = self.end();
                let cursors = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
                for c in cursors.iter().filter_map(Weak::upgrade) {
                    if end.saturating_sub(c.pos.load(Ordering::SeqCst)) > HIGH_WATER {
                        c.stalled.store(true, Ordering::SeqCst);
                    }
                }
            }
        }
    }

    /// Wakes the pump (a viewer went away).
    pub fn viewer_left(&self) {
        self.progress.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_read_in_order_and_learn_what_they_missed() {
        let log = OutputLog::new(MAX_FRAME);
        let (c, _) = log.cursor();
        log.push(b"hello ");
        log.push(b"world");
        assert_eq!(log.read(&c, 1024), Read::Data(b"hello world".to_vec()));
        assert_eq!(log.read(&c, 1024), Read::Empty);
        let big = vec![b'x'; MAX_FRAME + 100];
        log.push(&big);
        assert_eq!(log.read(&c, 1024), Read::Dropped(100));
        assert_eq!(log.read(&c, 10), Read::Data(vec![b'x'; 10]));
    }

    #[test]
    fn a_late_viewer_starts_at_a_line_after_a_wrap() {
        let log = OutputLog::new(MAX_FRAME);
        log.push(&vec![b'a'; MAX_FRAME - 10]);
        log.push(b"0123456789partial\nnext line\n");
        let (c, _) = log.cursor();
        assert_eq!(log.read(&c, MAX_FRAME), Read::Data(b"next line\n".to_vec()));
    }

    #[tokio::test]
    async fn the_pump_waits_for_a_slow_viewer_then_goes_on_without_a_stalled_one() {
        let log = Arc::new(OutputLog::new(4 * HIGH_WATER as usize));
        let (c, _) = log.cursor();
        log.push(&vec![b'y'; HIGH_WATER as usize + 1]);
        // The viewer reads: room again, the wait ends.
        let reader = {
            let (log, c) = (Arc::clone(&log), Arc::clone(&c));
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                while let Read::Data(_) = log.read(&c, MAX_FRAME) {}
            })
        };
        tokio::time::timeout(Duration::from_secs(1), log.wait_room())
            .await
            .unwrap_or_else(|_| panic!("the pump did not resume after the viewer read"));
        let _ = reader.await;
        // A viewer that never reads is marked stalled after STALL.
        log.push(&vec![b'y'; HIGH_WATER as usize + 1]);
        let started = std::time::Instant::now();
        log.wait_room().await;
        assert!(started.elapsed() >= STALL - Duration::from_millis(100));
        assert!(c.stalled.load(Ordering::SeqCst));
    }
}
