//! The session: what the user has open (files, the active file and cursor, panel layout,
//! terminals and their folders, the workspace and profile), kept in `session_snapshots` so a
//! restart, or a crash, brings it back.
//!
//! The UI puts its part with `PUT /v1/session`; terminals are followed through their events.
//! The `session` actor writes a snapshot [`DEBOUNCE`] after the last change (so a burst of
//! changes is one write and a SIGKILL loses at most that window; [`MAX_DELAY`] while
//! changes keep coming), every [`PERIODIC`] in any
//! case, and once more at an orderly shutdown, before the shells are hung up. At start the
//! newest snapshot of the daemon's workspace is restored: the UI's part is served back by
//! `GET /v1/session`, and each saved terminal is opened again in its folder (a new shell; the
//! old one ended with the old daemon). Old snapshots are pruned to [`KEEP`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::storage::{Storage, StorageError};
use crate::supervision::events::unix_ms;
use crate::supervision::{ChildSpec, Restart, Shutdown};
use crate::term::{OpenTerm, TermEvent, Terminals};

/// Quiet time after a change before the snapshot is written.
pub const DEBOUNCE: Duration = Duration::from_millis(500);
/// Longest a change waits for its snapshot while changes keep coming.
pub const MAX_DELAY: Duration = Duration::from_secs(2);
/// A snapshot is written at least this often.
pub const PERIODIC: Duration = Duration::from_secs(300);
/// Snapshots kept.
pub const KEEP: i64 = 50;
/// Largest UI part accepted, in bytes of JSON.
pub const MAX_UI_BYTES: usize = 1 << 20;

/// A terminal as a snapshot keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SavedTerminal {
    /// Its id in the run that saved it.
    pub id: u64,
    /// Its folder.
    pub cwd: String,
    /// Its shell.
    pub shell: String,
    /// Its title.
    #[serde(default)]
    pub title: String,
}

/// The workspace a snapshot belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SavedWorkspace {
    /// Its id.
    pub id: Option<i64>,
    /// Its root.
    pub root: String,
}

/// What a snapshot holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionState {
    /// Format version (1).
    pub version: u32,
    /// The profile.
    pub profile: String,
    /// The active workspace.
    pub workspace: SavedWorkspace,
    /// What the UI put: layout, open files and cursors, active file and panel.
    pub ui: serde_json::Value,
    /// The open terminals.
    pub terminals: Vec<SavedTerminal>,
}

/// A stored snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// When it was taken (Unix ms).
    pub taken_ms: i64,
    /// `change`, `periodic`, `shutdown` or `start`.
    pub reason: String,
    /// The state.
    pub state: SessionState,
}

struct Inner {
    storage: Storage,
    terms: Terminals,
    profile: String,
    workspace: SavedWorkspace,
    ui: Mutex<serde_json::Value>,
    last: Mutex<Option<Snapshot>>,
    changed: Notify,
    dirty: AtomicBool,
    frozen: AtomicBool,
    restored: AtomicBool,
}

/// The handle the API and the core use; cheap to clone.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    /// A session for the daemon's workspace (nothing restored yet).
    pub fn new(
        storage: Storage,
        terms: Terminals,
        profile: String,
        workspace_id: Option<i64>,
        root: String,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage,
                terms,
                profile,
                workspace: SavedWorkspace {
                    id: workspace_id,
                    root,
                },
                ui: Mutex::new(serde_json::Value::Object(Default::default())),
                last: Mutex::new(None),
                changed: Notify::new(),
                dirty: AtomicBool::new(false),
                frozen: AtomicBool::new(false),
                restored: AtomicBool::new(false),
            }),
        }
    }

    /// The state as it is now.
    pub fn current(&self) -> SessionState {
        let terminals = self
            .inner
            .terms
            .list()
            .into_iter()
            .filter(|t| t.alive)
            .map(|t| SavedTerminal {
                id: t.id,
                cwd: t.cwd,
                shell: t.shell,
                title: t.title,
            })
            .collect();
        SessionState {
            version: 1,
            profile: self.inner.profile.clone(),
            workspace: self.inner.workspace.clone(),
            ui: lock(&self.inner.ui).clone(),
            terminals,
        }
    }

    /// The newest snapshot written or restored, if any.
    pub fn last(&self) -> Option<Snapshot> {
        lock(&self.inner.last).clone()
    }

    /// The UI's part changed.
    pub fn put_ui(&self, ui: serde_json::Value) {
        *lock(&self.inner.ui) = ui;
        self.mark_changed();
    }

    fn mark_changed(&self) {
        self.inner.dirty.store(true, Ordering::SeqCst);
        self.inner.changed.notify_one();
    }

    /// Writes a snapshot now.
    pub async fn snapshot(&self, reason: &str) -> Result<Snapshot, StorageError> {
        let snap = Snapshot {
            taken_ms: unix_ms(),
            reason: reason.to_owned(),
            state: self.current(),
        };
        self.inner.dirty.store(false, Ordering::SeqCst);
        let text = serde_json::to_string(&snap.state).unwrap_or_else(|_| "{}".into());
        let (taken, why, ws) = (snap.taken_ms, snap.reason.clone(), self.inner.workspace.id);
        self.inner
            .storage
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO session_snapshots (workspace_id, taken_ms, reason, state) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![ws, taken, why, text],
                )?;
                tx.execute(
                    "DELETE FROM session_snapshots WHERE id NOT IN \
                     (SELECT id FROM session_snapshots ORDER BY id DESC LIMIT ?1)",
                    params![KEEP],
                )?;
                Ok(())
            })
            .await?;
        *lock(&self.inner.last) = Some(snap.clone());
        Ok(snap)
    }

    /// The final snapshot of an orderly shutdown; nothing is written after it (the shells
    /// ending next must not be saved as "closed by the user").
    pub async fn freeze(&self) {
        if self.inner.frozen.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Err(e) = self.snapshot("shutdown").await {
            tracing::warn!(error = %e, "could not save the session at shutdown");
        }
    }

    /// The newest snapshot of this workspace in the database.
    pub async fn load_newest(&self) -> Result<Option<Snapshot>, StorageError> {
        let ws = self.inner.workspace.id;
        self.inner
            .storage
            .read(move |conn| {
                let row = conn
                    .query_row(
                        "SELECT taken_ms, reason, state FROM session_snapshots \
                         WHERE workspace_id IS ?1 ORDER BY id DESC LIMIT 1",
                        params![ws],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
                    )
                    .optional()?;
                Ok(row.and_then(|(taken_ms, reason, text)| {
                    match serde_json::from_str::<SessionState>(&text) {
                        Ok(state) => Some(Snapshot {
                            taken_ms,
                            reason,
                            state,
                        }),
                        Err(e) => {
                            tracing::warn!(error = %e, "a stored session snapshot is unreadable; starting with an empty session");
                            None
                        }
                    }
                }))
            })
            .await
    }

    /// Restores the newest snapshot, once per daemon run: the UI's part, and its terminals
    /// reopened in their folders.
    pub async fn restore(&self) {
        if self.inner.restored.swap(true, Ordering::SeqCst) {
            return;
        }
        let snap = match self.load_newest().await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the last session");
                return;
            }
        };
        *lock(&self.inner.ui) = snap.state.ui.clone();
        *lock(&self.inner.last) = Some(snap.clone());
        let mut reopened = 0;
        for t in &snap.state.terminals {
            let cwd = if std::path::Path::new(&t.cwd).is_dir() {
                Some(t.cwd.clone())
            } else {
                None
            };
            let req = OpenTerm {
                cwd,
                cols: None,
                rows: None,
                shell: Some(t.shell.clone()),
            };
            match self.inner.terms.open(req).await {
                Ok(_) => reopened += 1,
                Err(e) => {
                    tracing::warn!(cwd = %t.cwd, error = %e, "could not reopen a terminal of the last session")
                }
            }
        }
        tracing::info!(
            taken_ms = snap.taken_ms,
            terminals = reopened,
            "restored the last session"
        );
    }

    /// The `session` child of the root.
    pub fn child(&self) -> ChildSpec {
        let session = self.clone();
        ChildSpec::task("session", move || run(session.clone()))
            .restart(Restart::Permanent)
            .shutdown(Shutdown::Timeout(Duration::from_secs(2)))
    }
}

async fn run(session: Session) {
    let mut events = session.inner.terms.subscribe();
    session.restore().await;
    let mut periodic = tokio::time::interval(PERIODIC);
    periodic.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    periodic.tick().await;
    loop {
        tokio::select! {
            () = session.inner.changed.notified() => {}
            e = events.recv() => match e {
                Ok(TermEvent::Opened { .. } | TermEvent::Exited { .. } | TermEvent::Cwd { .. }) => {
                    session.inner.dirty.store(true, Ordering::SeqCst);
                }
                Ok(TermEvent::Command { .. }) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    session.inner.dirty.store(true, Ordering::SeqCst);
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    events = session.inner.terms.subscribe();
                    continue;
                }
            },
            _ = periodic.tick() => {
                if !session.inner.frozen.load(Ordering::SeqCst) {
                    if let Err(e) = session.snapshot("periodic").await {
                        tracing::warn!(error = %e, "could not save the session");
                    }
                }
                continue;
            }
        }
        // Debounce: wait until nothing changed for DEBOUNCE, but never longer than
        // MAX_DELAY after the first change (a steady stream of changes is still saved).
        let first = tokio::time::Instant::now();
        let settle = || (tokio::time::Instant::now() + DEBOUNCE).min(first + MAX_DELAY);
        let mut deadline = settle();
        loop {
            tokio::select! {
                () = session.inner.changed.notified() => deadline = settle(),
                e = events.recv() => {
                    if !matches!(e, Ok(TermEvent::Command { .. })) {
                        session.inner.dirty.store(true, Ordering::SeqCst);
                        deadline = settle();
                    }
                }
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        if session.inner.frozen.load(Ordering::SeqCst)
            || !session.inner.dirty.load(Ordering::SeqCst)
        {
            continue;
        }
        if let Err(e) = session.snapshot("change").await {
            tracing::warn!(error = %e, "could not save the session");
        }
    }
}
