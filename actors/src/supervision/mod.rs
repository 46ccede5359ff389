//! OTP-grade supervision on ractor.
//!
//! ractor gives supervision *events* (a linked child started, terminated or failed) but no
//! restart policy. This module is that policy, written once; every actor and worker pool in
//! Weft runs under it, and `docs/architecture.md` lists the tree it builds.
//!
//! # Policy, in OTP's words
//!
//! * **Child specs** ([`ChildSpec`]): an id, a start function that spawns the child linked
//!   to the supervisor (called afresh for every incarnation, so a child rebuilds its state
//!   in `pre_start`), a restart type and a shutdown policy.
//! * **Restart types** ([`Restart`]): `permanent` children are always restarted;
//!   `transient` ones only after an abnormal exit; `temporary` ones never, not even as
//!   bystanders of a group restart. An exit is normal when the child stopped with no reason,
//!   `normal`, or a reason starting with `shutdown`; errors and panics in any callback,
//!   `killed`, `actor_task_cancelled` and any other reason are abnormal.
//! * **Strategies** ([`Strategy`]): `one_for_one` restarts the exited child;
//!   `rest_for_one` also the children started after it; `one_for_all` every child.
//!   Siblings are stopped in reverse start order, then all are started again in start
//!   order. The decision is the pure function [`policy::decide`].
//! * **Intensity**: at most `max_restarts` restarts within `period` (a sliding window).
//!   One more and the supervisor records `gave_up`, stops its children in reverse order,
//!   records `escalated` and fails, so its parent sees a failure and applies its own policy.
//!   A root that escalates ends the daemon with that error.
//! * **Backoff** ([`Backoff`]): each restart waits `min * 2^n`, capped at `max`, scaled by a
//!   jitter factor in `[1 - jitter, 1 + jitter]` (never above `max`); `n` counts a child's
//!   consecutive restarts and resets once it ran `reset_after` without failing. Restarts are
//!   scheduled messages (`send_after`), never a sleep in a handler, so the supervisor keeps
//!   serving while a child waits.
//! * **Shutdown** ([`Shutdown`]): children start in order and stop in reverse order; each is
//!   asked to stop and killed after its timeout, or killed at once (`brutal_kill`). A nested
//!   supervisor gets the sum of its children's budgets.
//! * **Own exits and old generations**: a supervisor forgets a child's actor id before it
//!   stops it, and an exit event whose actor id it does not know (or that belongs to an
//!   older incarnation) is ignored, so stopping siblings never counts as a failure and a
//!   late event never restarts a child twice.
//! * **Dynamic children** ([`SupervisorHandle::start_child`], `terminate_child`) sit beside
//!   static ones under the same rules (e.g. one `temporary` child per terminal).
//! * **Events**: every start, restart, exit (with reason), stop, scheduled restart, failed
//!   start, removal, give-up and escalation goes to an [`EventSink`]; the daemon's
//!   [`TreeView`] keeps the live tree for `weft status` and persists events in the `events`
//!   table.

pub mod events;
pub mod policy;
mod supervisor;
pub mod task;

pub use events::{EventKind, EventSink, NodeKind, NodeState, NodeStatus, TreeEvent, TreeView};
pub use policy::{Backoff, ExitKind, Restart, Strategy};
pub use supervisor::{
    classify_exit, ChildInfo, ChildKind, ChildSpec, Shutdown, StartCtx, StartFuture, Supervisor,
    SupervisorArgs, SupervisorError, SupervisorFlags, SupervisorHandle, SupervisorMsg,
};

use std::sync::Arc;

use ractor::{Actor, SpawnErr};

/// Starts a top-level supervisor (not linked to any parent).
pub async fn start_supervisor(
    path: impl Into<String>,
    flags: SupervisorFlags,
    children: Vec<ChildSpec>,
    events: Arc<dyn EventSink>,
) -> Result<(SupervisorHandle, tokio::task::JoinHandle<()>), SpawnErr> {
    let path = path.into();
    let args = SupervisorArgs {
        path: path.clone(),
        flags,
        children,
        events: Arc::clone(&events),
    };
    let (actor, join) = Actor::spawn(None, Supervisor, args).await?;
    // A top-level supervisor has no parent to report its start; record it here so the live
    // view shows the whole tree, root included.
    events.set_kind(&path, NodeKind::Supervisor);
    events.record(TreeEvent::now("", &path, EventKind::Started, 1));
    Ok((SupervisorHandle::new(actor), join))
}
