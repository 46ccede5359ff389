//! The pure half of supervision: which children to stop and restart after an exit, whether
//! the restart intensity is exceeded, and how long to back off.
//!
//! Nothing here touches actors or clocks of its own, so the OTP rules can be tested
//! exhaustively (including property tests) without spawning anything.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// When a child is restarted, in OTP's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Restart {
    /// Always restarted, whatever the exit reason.
    Permanent,
    /// Restarted only after an abnormal exit (a failure, a kill); a normal exit is final.
    Transient,
    /// Never restarted, not even as a bystander of `one_for_all` / `rest_for_one`.
    Temporary,
}

/// Which siblings share a child's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Only the exited child is restarted.
    OneForOne,
    /// The exited child and every child started after it are restarted.
    RestForOne,
    /// Every child is restarted.
    OneForAll,
}

/// How a child ended, as far as restart types care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Stopped on purpose (`stop()` with no reason, `normal` or `shutdown...`).
    Normal,
    /// Failed: an error or panic in a handler, a kill, a cancelled task, a failed start.
    Abnormal,
}

/// Where a child stands, as the decision function sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildPhase {
    /// Running now.
    Running,
    /// Not running, but a restart is scheduled (waiting out its backoff).
    Pending,
    /// Not running and not coming back (a transient child that exited normally).
    Finished,
}

/// One child as [`decide`] sees it, in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildView {
    /// Its restart type.
    pub restart: Restart,
    /// Its phase before the exit being decided.
    pub phase: ChildPhase,
}

/// What a supervisor does about one exit. Indexes refer to the `children` slice given to
/// [`decide`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Running siblings to stop first, in reverse start order.
    pub stop: Vec<usize>,
    /// Children to start again, in start order (the exited child first among them when
    /// it restarts).
    pub restart: Vec<usize>,
    /// Children whose spec is dropped (temporary children that exited or were stopped).
    pub remove: Vec<usize>,
}

impl Decision {
    /// True when nothing is restarted: the exit is final.
    pub fn is_final(&self) -> bool {
        self.restart.is_empty()
    }
}

/// Whether a child of this restart type comes back after an exit of this kind.
pub fn restarts_after(restart: Restart, exit: ExitKind) -> bool {
    match restart {
        Restart::Permanent => true,
        Restart::Transient => exit == ExitKind::Abnormal,
        Restart::Temporary => false,
    }
}

/// The OTP strategy rules as one pure function.
///
/// `exited` is the child that just ended (its phase in `children` is ignored: it is no longer
/// running). If it is not to be restarted, its siblings are left alone whatever the
/// strategy — OTP only takes siblings down to restart them together.
pub fn decide(
    strategy: Strategy,
    children: &[ChildView],
    exited: usize,
    exit: ExitKind,
) -> Decision {
    let mut decision = Decision::default();
    let Some(failed) = children.get(exited) else {
        return decision;
    };
    if !restarts_after(failed.restart, exit) {
        if failed.restart == Restart::Temporary {
            decision.remove.push(exited);
        }
        return decision;
    }
    let affected: Vec<usize> = match strategy {
        Strategy::OneForOne => vec![exited],
        Strategy::RestForOne => (exited..children.len()).collect(),
        Strategy::OneForAll => (0..children.len()).collect(),
    };
    for &i in affected.iter().rev() {
        if i != exited && children[i].phase == ChildPhase::Running {
            decision.stop.push(i);
        }
    }
    for &i in &affected {
        if i == exited {
            decision.restart.push(i);
            continue;
        }
        let child = children[i];
        if child.restart == Restart::Temporary {
            if child.phase == ChildPhase::Running {
                decision.remove.push(i);
            }
            continue;
        }
        if child.phase != ChildPhase::Finished {
            decision.restart.push(i);
        }
    }
    decision
}

/// Restart intensity: at most `max_restarts` restarts within any `period`; one more and the
/// supervisor gives up and fails upward (OTP's MaxR / MaxT, a sliding window).
#[derive(Debug, Clone)]
pub struct Intensity {
    max_restarts: u32,
    period: Duration,
    log: VecDeque<Instant>,
}

impl Intensity {
    /// A fresh window.
    pub fn new(max_restarts: u32, period: Duration) -> Self {
        Self {
            max_restarts,
            period,
            log: VecDeque::new(),
        }
    }

    /// Records a restart at `now`; false when it is one too many for the window.
    pub fn allow(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.log.front() {
            if now.saturating_duration_since(oldest) >= self.period {
                self.log.pop_front();
            } else {
                break;
            }
        }
        self.log.push_back(now);
        self.log.len() <= self.max_restarts as usize
    }

    /// Restarts inside the current window (for status).
    pub fn recent(&self) -> usize {
        self.log.len()
    }
}

/// Exponential backoff between restarts of one child, with jitter, capped, and reset once
/// the child has run stably for `reset_after`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Backoff {
    /// Delay before the first restart.
    pub min: Duration,
    /// No delay exceeds this, jitter included.
    pub max: Duration,
    /// Relative spread: each delay is scaled by a factor in `[1 - jitter, 1 + jitter]`.
    pub jitter: f64,
    /// A child that ran this long before failing starts again from `min`.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(100),
            max: Duration::from_secs(30),
            jitter: 0.2,
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before restart number `attempt` (0-based) of one child. `unit` is a random
    /// draw in `[0, 1)`; 0.5 means no jitter.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let factor = 2f64.powi(attempt.min(63) as i32);
        let base = (self.min.as_secs_f64() * factor).min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let scaled = base * (1.0 + jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0));
        Duration::from_secs_f64(scaled.clamp(0.0, self.max.as_secs_f64()))
    }

    /// The next attempt number for a child that ran for `ran` before its latest failure.
    pub fn next_attempt(&self, previous: u32, ran: Duration) -> u32 {
        if ran >= self.reset_after {
            0
        } else {
            previous.saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;
    use super::*;
    use proptest::prelude::{any, prop_assert, prop_assert_eq, prop_oneof, proptest, Just};
    use ChildPhase::*;
    use Restart::*;

    fn views(spec: &[(Restart, ChildPhase)]) -> Vec<ChildView> {
        spec.iter()
            .map(|&(restart, phase)| ChildView { restart, phase })
            .collect()
    }

    #[test]
    fn one_for_one_restarts_only_the_failed_child() {
        let c = views(&[
            (Permanent, Running),
            (Permanent, Running),
            (Permanent, Running),
        ]);
        let d = decide(Strategy::OneForOne, &c, 1, ExitKind::Abnormal);
        assert_eq!(d.stop, Vec::<usize>::new());
        assert_eq!(d.restart, vec![1]);
    }

    #[test]
    fn rest_for_one_restarts_the_failed_child_and_later_ones_stopping_in_reverse() {
        let c = views(&[
            (Permanent, Running),
            (Permanent, Running),
            (Permanent, Running),
            (Transient, Running),
        ]);
        let d = decide(Strategy::RestForOne, &c, 1, ExitKind::Abnormal);
        assert_eq!(d.stop, vec![3, 2]);
        assert_eq!(d.restart, vec![1, 2, 3]);
        assert!(d.remove.is_empty());
    }

    #[test]
    fn one_for_all_restarts_everyone() {
        let c = views(&[
            (Permanent, Running),
            (Permanent, Running),
            (Permanent, Running),
        ]);
        let d = decide(Strategy::OneForAll, &c, 2, ExitKind::Abnormal);
        assert_eq!(d.stop, vec![1, 0]);
        assert_eq!(d.restart, vec![0, 1, 2]);
    }

    #[test]
    fn temporary_child_is_never_restarted_and_is_removed() {
        let c = views(&[(Permanent, Running), (Temporary, Running)]);
        for exit in [ExitKind::Normal, ExitKind::Abnormal] {
            let d = decide(Strategy::OneForAll, &c, 1, exit);
            assert!(d.is_final());
            assert!(d.stop.is_empty());
            assert_eq!(d.remove, vec![1]);
        }
    }

    #[test]
    fn temporary_bystander_is_stopped_and_removed_not_restarted() {
        let c = views(&[
            (Permanent, Running),
            (Temporary, Running),
            (Permanent, Running),
        ]);
        let d = decide(Strategy::OneForAll, &c, 0, ExitKind::Abnormal);
        assert_eq!(d.stop, vec![2, 1]);
        assert_eq!(d.restart, vec![0, 2]);
        assert_eq!(d.remove, vec![1]);
    }

    #[test]
    fn transient_child_restarts_only_on_abnormal_exit() {
        let c = views(&[(Transient, Running), (Permanent, Running)]);
        let normal = decide(Strategy::OneForAll, &c, 0, ExitKind::Normal);
        assert!(normal.is_final());
        assert!(normal.stop.is_empty() && normal.remove.is_empty());
        let failed = decide(Strategy::OneForAll, &c, 0, ExitKind::Abnormal);
        assert_eq!(failed.restart, vec![0, 1]);
    }

    #[test]
    fn permanent_child_restarts_after_a_normal_exit_too() {
        let c = views(&[(Permanent, Running)]);
        assert_eq!(
            decide(Strategy::OneForOne, &c, 0, ExitKind::Normal).restart,
            vec![0]
        );
    }

    #[test]
    fn finished_siblings_stay_finished_and_pending_ones_join_the_restart() {
        let c = views(&[
            (Permanent, Running),
            (Transient, Finished),
            (Permanent, Pending),
        ]);
        let d = decide(Strategy::OneForAll, &c, 0, ExitKind::Abnormal);
        assert!(d.stop.is_empty(), "nothing else is running");
        assert_eq!(d.restart, vec![0, 2]);
    }

    #[test]
    fn out_of_range_exit_decides_nothing() {
        let c = views(&[(Permanent, Running)]);
        assert_eq!(
            decide(Strategy::OneForAll, &c, 5, ExitKind::Abnormal),
            Decision::default()
        );
    }

    #[test]
    fn intensity_allows_max_then_refuses_inside_the_period() {
        let start = Instant::now();
        let mut i = Intensity::new(3, Duration::from_secs(5));
        assert!(i.allow(start));
        assert!(i.allow(start + Duration::from_secs(1)));
        assert!(i.allow(start + Duration::from_secs(2)));
        assert!(!i.allow(start + Duration::from_secs(3)));
    }

    #[test]
    fn intensity_window_slides() {
        let start = Instant::now();
        let mut i = Intensity::new(2, Duration::from_secs(5));
        assert!(i.allow(start));
        assert!(i.allow(start + Duration::from_secs(4)));
        // The first restart left the window at t=5.
        assert!(i.allow(start + Duration::from_secs(6)));
        assert!(!i.allow(start + Duration::from_secs(7)));
    }

    #[test]
    fn backoff_doubles_then_caps_without_jitter() {
        let b = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: 0.0,
            reset_after: Duration::from_secs(60),
        };
        let delays: Vec<u128> = (0..7).map(|a| b.delay(a, 0.9).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(b.delay(u32::MAX, 0.5), Duration::from_secs(1));
    }

    #[test]
    fn backoff_resets_after_a_stable_run() {
        let b = Backoff::default();
        assert_eq!(b.next_attempt(4, Duration::from_secs(1)), 5);
        assert_eq!(b.next_attempt(4, Duration::from_secs(61)), 0);
    }

    fn restart_strategy() -> impl proptest::strategy::Strategy<Value = Restart> {
        prop_oneof![Just(Permanent), Just(Transient), Just(Temporary)]
    }
    fn phase_strategy() -> impl proptest::strategy::Strategy<Value = ChildPhase> {
        prop_oneof![Just(Running), Just(Pending), Just(Finished)]
    }
    fn strategy_strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
        prop_oneof![
            Just(Strategy::OneForOne),
            Just(Strategy::RestForOne),
            Just(Strategy::OneForAll)
        ]
    }

    proptest! {
        #[test]
        fn decisions_follow_otp_rules(
            children in proptest::collection::vec((restart_strategy(), phase_strategy()), 1..8),
            strategy in strategy_strategy(),
            pick in 0usize..8,
            abnormal in any::<bool>(),
        ) {
            let c = views(&children);
            let exited = pick % c.len();
            let exit = if abnormal { ExitKind::Abnormal } else { ExitKind::Normal };
            let d = decide(strategy, &c, exited, exit);

            // A temporary child is never restarted.
            for &i in &d.restart {
                prop_assert!(c[i].restart != Temporary);
            }
            // Only running siblings are stopped, never the exited child, in reverse order.
            for &i in &d.stop {
                prop_assert!(i != exited && c[i].phase == Running);
            }
            prop_assert!(d.stop.windows(2).all(|w| w[0] > w[1]));
            // Restarts happen in start order, without duplicates.
            prop_assert!(d.restart.windows(2).all(|w| w[0] < w[1]));
            // The exited child restarts exactly when its type says so.
            prop_assert_eq!(d.restart.contains(&exited), restarts_after(c[exited].restart, exit));
            // Nothing moves unless the exited child restarts.
            if !restarts_after(c[exited].restart, exit) {
                prop_assert!(d.stop.is_empty() && d.restart.is_empty());
            }
            // The strategy bounds who is touched.
            let touched = d.stop.iter().chain(&d.restart).chain(&d.remove);
            for &i in touched {
                match strategy {
                    Strategy::OneForOne => prop_assert_eq!(i, exited),
                    Strategy::RestForOne => prop_assert!(i >= exited),
                    Strategy::OneForAll => {}
                }
            }
            // Every running non-temporary sibling that is stopped comes back.
            for &i in &d.stop {
                if c[i].restart != Temporary {
                    prop_assert!(d.restart.contains(&i));
                } else {
                    prop_assert!(d.remove.contains(&i));
                }
            }
        }

        #[test]
        fn backoff_grows_and_never_exceeds_the_cap(
            min_ms in 1u64..1000, cap_mult in 1u64..100, jitter in 0.0f64..0.3, unit_a in 0.0f64..1.0, unit_b in 0.0f64..1.0, attempt in 0u32..40,
        ) {
            let b = Backoff { min: Duration::from_millis(min_ms), max: Duration::from_millis(min_ms * cap_mult), jitter, reset_after: Duration::from_secs(60) };
            let this = b.delay(attempt, unit_a);
            let next = b.delay(attempt + 1, unit_b);
            prop_assert!(this <= b.max && next <= b.max);
            // With jitter below 1/3, doubling beats the spread until the cap is reached.
            let base_next = (min_ms as f64 * 2f64.powi(attempt as i32 + 1)).min(b.max.as_millis() as f64);
            if base_next < b.max.as_millis() as f64 * (1.0 - jitter) {
                prop_assert!(next > this);
            }
        }

        #[test]
        fn intensity_never_allows_more_than_max_in_a_window(
            gaps in proptest::collection::vec(0u64..3000, 1..40), max in 1u32..6,
        ) {
            let period = Duration::from_secs(5);
            let mut i = Intensity::new(max, period);
            let start = Instant::now();
            let mut t = start;
            let mut allowed: Vec<Instant> = Vec::new();
            for g in gaps {
                t += Duration::from_millis(g);
                if i.allow(t) {
                    allowed.push(t);
                } else {
                    // Refused only when `max` others already sit in the window.
                    let in_window = allowed.iter().filter(|&&a| t.saturating_duration_since(a) < period).count();
                    prop_assert!(in_window >= max as usize);
                    break;
                }
                let in_window = allowed.iter().filter(|&&a| t.saturating_duration_since(a) < period).count();
                prop_assert!(in_window <= max as usize);
            }
        }
    }
}
