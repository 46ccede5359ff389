//! Supervision with real ractor actors: restart types, strategies, intensity and
//! escalation, backoff, ordered shutdown and dynamic children.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort};
use weft_actors::storage::{Storage, StorageOptions};
use weft_actors::supervision::{
    start_supervisor, Backoff, ChildSpec, EventKind, EventSink, NodeState, Restart, Shutdown,
    Strategy, SupervisorFlags, SupervisorHandle, TreeEvent, TreeView,
};
use weft_actors::tree::EventLog;

/// A shared log of lifecycle calls, in the order they happened.
type Log = Arc<Mutex<Vec<String>>>;

fn log_push(log: &Log, entry: String) {
    log.lock().expect("log lock").push(entry);
}

fn log_entries(log: &Log) -> Vec<String> {
    log.lock().expect("log lock").clone()
}

#[derive(Clone, Default)]
struct Behaviour {
    fail_in_post_start: bool,
}

/// A child that keeps a counter in a "durable" store and reloads it in `pre_start`.
struct TestChild {
    name: String,
    log: Log,
    store: Arc<AtomicU64>,
    behaviour: Behaviour,
}

enum TestMsg {
    Incr,
    Get(RpcReplyPort<u64>),
    Panic,
    Fail,
    StopNormal,
    StopWith(String),
    /// Busy in a handler for an hour: a graceful stop cannot get through.
    Hang,
}

impl Actor for TestChild {
    type Msg = TestMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _me: ActorRef<TestMsg>, _: ()) -> Result<u64, ActorProcessingErr> {
        log_push(&self.log, format!("start:{}", self.name));
        Ok(self.store.load(Ordering::SeqCst))
    }

    async fn post_start(
        &self,
        _me: ActorRef<TestMsg>,
        _: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        if self.behaviour.fail_in_post_start {
            return Err(format!("{} cannot start", self.name).into());
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _me: ActorRef<TestMsg>,
        _: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        log_push(&self.log, format!("stop:{}", self.name));
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<TestMsg>,
        msg: TestMsg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TestMsg::Incr => {
                *count += 1;
                self.store.store(*count, Ordering::SeqCst);
            }
            TestMsg::Get(reply) => {
                let _ = reply.send(*count);
            }
            TestMsg::Panic => panic!("{} panicked on purpose", self.name),
            TestMsg::Fail => return Err(format!("{} failed on purpose", self.name).into()),
            TestMsg::StopNormal => me.stop(None),
            TestMsg::StopWith(reason) => me.stop(Some(reason)),
            TestMsg::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
        }
        Ok(())
    }
}

fn child(name: &str, log: &Log) -> ChildSpec {
    child_with(name, log, Arc::new(AtomicU64::new(0)), Behaviour::default())
}

fn child_with(name: &str, log: &Log, store: Arc<AtomicU64>, behaviour: Behaviour) -> ChildSpec {
    let (name, log) = (name.to_string(), Arc::clone(log));
    ChildSpec::actor(name.clone(), move || {
        (
            TestChild {
                name: name.clone(),
                log: Arc::clone(&log),
                store: Arc::clone(&store),
                behaviour: behaviour.clone(),
            },
            (),
        )
    })
}

fn fast(strategy: Strategy) -> SupervisorFlags {
    SupervisorFlags {
        strategy,
        max_restarts: 10,
        period: Duration::from_secs(5),
        backoff: Backoff {
            min: Duration::from_millis(5),
            max: Duration::from_millis(50),
            jitter: 0.0,
            reset_after: Duration::from_secs(60),
        },
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn cell_of(sup: &SupervisorHandle, id: &str) -> ActorCell {
    let children = sup.which_children().await.expect("which_children");
    children
        .into_iter()
        .find(|c| c.id == id)
        .and_then(|c| c.cell)
        .unwrap_or_else(|| panic!("child {id} is not running"))
}

async fn generations(sup: &SupervisorHandle) -> Vec<(String, u64)> {
    sup.which_children()
        .await
        .expect("which_children")
        .into_iter()
        .map(|c| (c.id, c.generation))
        .collect()
}

fn send(cell: &ActorCell, msg: TestMsg) {
    ActorRef::<TestMsg>::from(cell.clone())
        .cast(msg)
        .expect("send to child");
}

fn kinds_for(view: &TreeView, path: &str) -> Vec<(EventKind, u64)> {
    view.events_for(path)
        .iter()
        .map(|e| (e.kind, e.generation))
        .collect()
}

#[tokio::test]
async fn a_panicking_child_is_restarted_and_rebuilds_its_state_in_pre_start() {
    let log = Log::default();
    let view = TreeView::new();
    let store = Arc::new(AtomicU64::new(0));
    let spec = child_with("counter", &log, Arc::clone(&store), Behaviour::default());
    let (sup, _) = start_supervisor(
        "root",
        fast(Strategy::OneForOne),
        vec![spec],
        Arc::new(view.clone()),
    )
    .await
    .expect("start");

    let first = cell_of(&sup, "counter").await;
    for _ in 0..3 {
        send(&first, TestMsg::Incr);
    }
    send(&first, TestMsg::Panic);
    wait_for("restart", || {
        view.node("root/counter")
            .is_some_and(|n| n.restarts == 1 && n.state == NodeState::Running)
    })
    .await;

    let second = cell_of(&sup, "counter").await;
    assert_ne!(first.get_id(), second.get_id());
    let count = match ActorRef::<TestMsg>::from(second)
        .call(TestMsg::Get, Some(Duration::from_secs(5)))
        .await
        .expect("call")
    {
        ractor::rpc::CallResult::Success(n) => n,
        _ => panic!("no reply from the restarted child"),
    };
    assert_eq!(count, 3, "state rebuilt from the store in pre_start");
    let node = view.node("root/counter").expect("node");
    assert!(
        node.last_error
            .as_deref()
            .unwrap_or("")
            .contains("panicked on purpose"),
        "{node:?}"
    );
    assert_eq!(
        kinds_for(&view, "root/counter"),
        vec![
            (EventKind::Started, 1),
            (EventKind::Exited, 1),
            (EventKind::RestartScheduled, 1),
            (EventKind::Restarted, 2)
        ]
    );
    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

#[tokio::test]
async fn rest_for_one_restarts_the_failed_child_and_those_started_after_it_only() {
    let log = Log::default();
    let view = TreeView::new();
    let children = vec![
        child("a", &log),
        child("b", &log),
        child("c", &log),
        child("d", &log),
    ];
    // One restart allowed: stopping c and d ourselves must not count as failures.
    let mut flags = fast(Strategy::RestForOne);
    flags.max_restarts = 1;
    let (sup, _) = start_supervisor("root", flags, children, Arc::new(view.clone()))
        .await
        .expect("start");
    log.lock().expect("log").clear();

    send(&cell_of(&sup, "b").await, TestMsg::Fail);
    wait_for("b, c, d restarted", || {
        ["b", "c", "d"].iter().all(|c| {
            view.node(&format!("root/{c}"))
                .is_some_and(|n| n.restarts == 1)
        })
    })
    .await;

    assert_eq!(
        generations(&sup).await,
        vec![
            ("a".into(), 1),
            ("b".into(), 2),
            ("c".into(), 2),
            ("d".into(), 2)
        ]
    );
    // Siblings stopped in reverse start order, then all started again in start order.
    assert_eq!(
        log_entries(&log),
        vec!["stop:d", "stop:c", "start:b", "start:c", "start:d"]
    );
    assert_eq!(view.node("root/a").expect("a").restarts, 0);
    let c_kinds = kinds_for(&view, "root/c");
    assert!(
        c_kinds.contains(&(EventKind::Stopped, 1))
            && !c_kinds.iter().any(|k| k.0 == EventKind::Exited)
    );
    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

#[tokio::test]
async fn one_for_all_restarts_every_child() {
    let log = Log::default();
    let view = TreeView::new();
    let children = vec![child("a", &log), child("b", &log), child("c", &log)];
    let (sup, _) = start_supervisor(
        "root",
        fast(Strategy::OneForAll),
        children,
        Arc::new(view.clone()),
    )
    .await
    .expect("start");
    log.lock().expect("log").clear();

    send(&cell_of(&sup, "b").await, TestMsg::Panic);
    wait_for("all restarted", || {
        ["a", "b", "c"].iter().all(|c| {
            view.node(&format!("root/{c}"))
                .is_some_and(|n| n.restarts == 1)
        })
    })
    .await;
    assert_eq!(
        generations(&sup).await,
        vec![("a".into(), 2), ("b".into(), 2), ("c".into(), 2)]
    );
    assert_eq!(
        log_entries(&log),
        vec!["stop:c", "stop:a", "start:a", "start:b", "start:c"]
    );
    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

#[tokio::test]
async fn a_temporary_child_is_never_restarted() {
    let log = Log::default();
    let view = TreeView::new();
    let children = vec![
        child("keep", &log),
        child("temp", &log).restart(Restart::Temporary),
    ];
    let (sup, _) = start_supervisor(
        "root",
        fast(Strategy::OneForAll),
        children,
        Arc::new(view.clone()),
    )
    .await
    .expect("start");

    send(&cell_of(&sup, "temp").await, TestMsg::Panic);
    wait_for("temp removed", || view.node("root/temp").is_none()).await;
    assert!(
        view.degraded().is_empty(),
        "a crashed temporary child leaves; it does not mark the tree degraded"
    );
    // Give a wrong restart every chance to happen before checking it did not.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ids: Vec<String> = sup
        .which_children()
        .await
        .expect("children")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec!["keep"]);
    assert_eq!(
        view.node("root/keep").expect("keep").restarts,
        0,
        "one_for_all does not fire for a temporary child"
    );
    assert_eq!(
        log_entries(&log)
            .iter()
            .filter(|e| *e == "start:temp")
            .count(),
        1
    );
    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

#[tokio::test]
async fn a_transient_child_restarts_after_a_failure_but_not_after_a_normal_exit() {
    let log = Log::default();
    let view = TreeView::new();
    let children = vec![child("t", &log).restart(Restart::Transient)];
    let (sup, _) = start_supervisor(
        "root",
        fast(Strategy::OneForOne),
        children,
        Arc::new(view.clone()),
    )
    .await
    .expect("start");

    send(
        &cell_of(&sup, "t").await,
        TestMsg::StopWith("lost its connection".into()),
    );
    wait_for("abnormal stop restarted", || {
        view.node("root/t")
            .is_some_and(|n| n.restarts == 1 && n.state == NodeState::Running)
    })
    .await;
    send(&cell_of(&sup, "t").await, TestMsg::Fail);
    wait_for("failure restarted", || {
        view.node("root/t")
            .is_some_and(|n| n.restarts == 2 && n.state == NodeState::Running)
    })
    .await;

    send(&cell_of(&sup, "t").await, TestMsg::StopNormal);
    wait_for("normal exit recorded", || {
        view.node("root/t")
            .is_some_and(|n| n.state == NodeState::Stopped)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = sup.which_children().await.expect("children").remove(0);
    assert_eq!((t.phase, t.generation, t.restarts), ("finished", 3, 2));
    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

/// Persists events like the daemon does, into a Vec a test can read.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<TreeEvent>>>);
impl EventSink for Recorder {
    fn record(&self, event: TreeEvent) {
        self.0.lock().expect("recorder").push(event);
    }
}

#[tokio::test]
async fn the_fourth_failure_within_the_period_escalates_to_the_parent() {
    let log = Log::default();
    let recorder = Recorder::default();
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::open(StorageOptions::new(dir.path().join("weft.db")))
        .await
        .expect("storage");
    let (view, event_log) = EventLog::start(storage.clone(), "test-boot".into());
    let sink = Tee(recorder.clone(), view);
    let mut sub_flags = fast(Strategy::OneForOne);
    sub_flags.max_restarts = 3;
    sub_flags.period = Duration::from_secs(5);
    let sub =
        ChildSpec::supervisor("sub", sub_flags, vec![child("c", &log)]).restart(Restart::Temporary);
    let (root, _) = start_supervisor("root", fast(Strategy::OneForOne), vec![sub], Arc::new(sink))
        .await
        .expect("start");
    let sub = SupervisorHandle::from_cell(cell_of(&root, "sub").await);

    for round in 1..=4u64 {
        let c = cell_of(&sub, "c").await;
        send(&c, TestMsg::Fail);
        if round < 4 {
            let target = round + 1;
            let rec = recorder.clone();
            wait_for("restart", move || {
                rec.0
                    .lock()
                    .expect("rec")
                    .iter()
                    .any(|e| e.kind == EventKind::Restarted && e.generation == target)
            })
            .await;
        }
    }
    let rec = recorder.clone();
    wait_for("sub removed from root", move || {
        rec.0
            .lock()
            .expect("rec")
            .iter()
            .any(|e| e.kind == EventKind::Removed && e.child == "sub")
    })
    .await;

    let seq: Vec<(String, String, &str, u64)> = recorder
        .0
        .lock()
        .expect("rec")
        .iter()
        .map(|e| {
            (
                e.supervisor.clone(),
                e.child.clone(),
                e.kind.as_str(),
                e.generation,
            )
        })
        .collect();
    let s = |sup: &str, c: &str, k: &'static str, g: u64| (sup.to_string(), c.to_string(), k, g);
    assert_eq!(
        seq,
        vec![
            s("root/sub", "c", "started", 1),
            s("root", "sub", "started", 1),
            s("", "root", "started", 1),
            s("root/sub", "c", "exited", 1),
            s("root/sub", "c", "restart_scheduled", 1),
            s("root/sub", "c", "restarted", 2),
            s("root/sub", "c", "exited", 2),
            s("root/sub", "c", "restart_scheduled", 2),
            s("root/sub", "c", "restarted", 3),
            s("root/sub", "c", "exited", 3),
            s("root/sub", "c", "restart_scheduled", 3),
            s("root/sub", "c", "restarted", 4),
            s("root/sub", "c", "exited", 4),
            s("root/sub", "c", "gave_up", 4),
            s("root", "sub", "escalated", 0),
            s("root", "sub", "exited", 1),
            s("root", "sub", "removed", 1),
        ]
    );
    let events = recorder.0.lock().expect("rec").clone();
    let exited = events
        .iter()
        .find(|e| e.child == "sub" && e.kind == EventKind::Exited)
        .expect("sub exit");
    assert!(
        exited.reason.as_deref().unwrap_or("").contains("gave up"),
        "{exited:?}"
    );
    assert!(root.which_children().await.expect("root alive").is_empty());
    root.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");

    // The events table holds exactly the same sequence (plus the root's own stop).
    event_log.finish().await;
    let rows = storage.recent_events(1000).await.expect("events");
    storage.close().await.expect("close");
    let stored: Vec<(String, String, &str, u64)> = rows
        .iter()
        .map(|r| {
            let kind = EventKind::ALL
                .iter()
                .find(|k| k.as_str() == r.kind)
                .expect("known kind")
                .as_str();
            (
                r.supervisor.clone(),
                r.child.clone(),
                kind,
                r.generation as u64,
            )
        })
        .collect();
    let mut expected = seq.clone();
    expected.push(s("", "root", "stopped", 1));
    assert_eq!(stored, expected);
    assert!(rows.iter().all(|r| r.boot_id == "test-boot"));
}

/// Sends each event to two sinks.
struct Tee(Recorder, TreeView);
impl EventSink for Tee {
    fn record(&self, event: TreeEvent) {
        self.0.record(event.clone());
        self.1.record(event);
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_grow_and_stop_at_the_cap() {
    let log = Log::default();
    let recorder = Recorder::default();
    let flags = SupervisorFlags {
        strategy: Strategy::OneForOne,
        max_restarts: 1000,
        period: Duration::from_secs(1),
        backoff: Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            jitter: 0.0,
            reset_after: Duration::from_secs(60),
        },
    };
    let broken = child_with(
        "broken",
        &log,
        Arc::new(AtomicU64::new(0)),
        Behaviour {
            fail_in_post_start: true,
        },
    );
    let (sup, _) = start_supervisor("root", flags, vec![broken], Arc::new(recorder.clone()))
        .await
        .expect("start");

    let rec = recorder.clone();
    wait_for("seven scheduled restarts", move || {
        rec.0
            .lock()
            .expect("rec")
            .iter()
            .filter(|e| e.kind == EventKind::RestartScheduled)
            .count()
            >= 7
    })
    .await;
    let events = recorder.0.lock().expect("rec").clone();
    let delays: Vec<u64> = events
        .iter()
        .filter(|e| e.kind == EventKind::RestartScheduled)
        .take(7)
        .map(|e| {
            e.detail
                .as_ref()
                .and_then(|d| d["delay_ms"].as_u64())
                .expect("delay")
        })
        .collect();
    assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000, 1000]);

    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn restarts_wait_out_their_backoff_on_the_clock() {
    let log = Log::default();
    let view = TreeView::new();
    let mut flags = fast(Strategy::OneForOne);
    flags.backoff = Backoff {
        min: Duration::from_millis(300),
        max: Duration::from_secs(2),
        jitter: 0.0,
        reset_after: Duration::from_secs(60),
    };
    let (sup, _) = start_supervisor(
        "root",
        flags,
        vec![child("c", &log)],
        Arc::new(view.clone()),
    )
    .await
    .expect("start");
    for (round, expected) in [(1u64, 300u128), (2, 600)] {
        let before = tokio::time::Instant::now();
        send(&cell_of(&sup, "c").await, TestMsg::Fail);
        wait_for("restart", || {
            view.node("root/c").is_some_and(|n| n.restarts == round)
        })
        .await;
        let waited = before.elapsed().as_millis();
        assert!(
            waited >= expected && waited < expected + 50,
            "round {round}: waited {waited} ms, expected {expected}"
        );
    }
    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

#[tokio::test]
async fn shutdown_stops_children_in_reverse_order_and_kills_one_that_ignores_stop() {
    let log = Log::default();
    let view = TreeView::new();
    let children = vec![
        child("first", &log),
        child("stubborn", &log).shutdown(Shutdown::Timeout(Duration::from_millis(300))),
        child("last", &log),
    ];
    let (sup, join) = start_supervisor(
        "root",
        fast(Strategy::OneForOne),
        children,
        Arc::new(view.clone()),
    )
    .await
    .expect("start");
    assert_eq!(
        log_entries(&log),
        vec!["start:first", "start:stubborn", "start:last"]
    );
    send(&cell_of(&sup, "stubborn").await, TestMsg::Hang);
    tokio::time::sleep(Duration::from_millis(50)).await;

    let started = std::time::Instant::now();
    sup.shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    join.await.expect("supervisor task");
    let took = started.elapsed();

    // The stubborn child was killed, so its post_stop never ran.
    assert_eq!(
        log_entries(&log)[3..],
        ["stop:last".to_string(), "stop:first".to_string()]
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    let stubborn = view.events_for("root/stubborn");
    let stopped = stubborn
        .iter()
        .find(|e| e.kind == EventKind::Stopped)
        .expect("stopped event");
    assert_eq!(
        stopped.detail.as_ref().and_then(|d| d["killed"].as_bool()),
        Some(true)
    );
    let order: Vec<String> = view
        .recent_events()
        .iter()
        .filter(|e| e.kind == EventKind::Stopped)
        .map(|e| e.child.clone())
        .collect();
    // Children in reverse start order, then the supervisor itself.
    assert_eq!(order, vec!["last", "stubborn", "first", "root"]);
}

#[tokio::test]
async fn dynamic_children_start_stop_and_follow_their_restart_type() {
    let log = Log::default();
    let view = TreeView::new();
    let (sup, _) = start_supervisor(
        "terminals",
        fast(Strategy::OneForOne),
        vec![],
        Arc::new(view.clone()),
    )
    .await
    .expect("start");

    sup.start_child(child("t1", &log).restart(Restart::Temporary))
        .await
        .expect("t1");
    sup.start_child(child("t2", &log).restart(Restart::Transient))
        .await
        .expect("t2");
    let dup = sup
        .start_child(child("t1", &log))
        .await
        .expect_err("duplicate id");
    assert!(
        dup.to_string().contains("already has a child named t1"),
        "{dup}"
    );

    send(&cell_of(&sup, "t2").await, TestMsg::Panic);
    wait_for("t2 restarted", || {
        view.node("terminals/t2").is_some_and(|n| n.restarts == 1)
    })
    .await;

    sup.terminate_child("t1").await.expect("terminate t1");
    let missing = sup.terminate_child("t1").await.expect_err("already gone");
    assert!(
        missing.to_string().contains("no child named t1"),
        "{missing}"
    );
    let ids: Vec<String> = sup
        .which_children()
        .await
        .expect("children")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec!["t2"]);
    assert!(
        log_entries(&log).contains(&"stop:t1".to_string()),
        "terminate ran post_stop"
    );
    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

#[tokio::test]
async fn a_child_that_cannot_start_fails_the_supervisor_start_and_stops_its_siblings() {
    let log = Log::default();
    let view = TreeView::new();
    struct NoStart;
    impl Actor for NoStart {
        type Msg = ();
        type State = ();
        type Arguments = ();
        async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
            Err("database is locked".into())
        }
    }
    let children = vec![child("ok", &log), ChildSpec::actor("bad", || (NoStart, ()))];
    let err = match start_supervisor(
        "root",
        fast(Strategy::OneForOne),
        children,
        Arc::new(view.clone()),
    )
    .await
    {
        Ok(_) => panic!("start should fail"),
        Err(e) => e,
    };
    assert!(
        err.to_string()
            .contains("child bad failed to start: database is locked"),
        "{err:?}"
    );
    assert_eq!(log_entries(&log), vec!["start:ok", "stop:ok"]);
    assert_eq!(view.node("root/bad").expect("bad").state, NodeState::Failed);
}
