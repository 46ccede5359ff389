//! End-to-end tests of `weft serve` with its Python worker pools: the CLI verbs that reach
//! each pool, the live tree with worker facts, and no orphans after the daemon is SIGKILLed.
//! Needs the workers' venv and models (`scripts/setup-python.sh`).

mod util;

use std::time::{Duration, Instant};

use util::Weft;

fn alive(pid: i64) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// Waits until every enabled pool has a ready worker; returns the status report.
fn wait_pools_ready(weft: &Weft) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let out = weft.run(&["status", "--json"]);
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            let pools = v["pools"].as_object().cloned().unwrap_or_default();
            if !pools.is_empty() && pools.values().all(|p| p["ready"].as_u64() >= Some(1)) {
                return v;
            }
            assert!(Instant::now() < deadline, "pools never got ready: {v:#}");
        }
        assert!(Instant::now() < deadline, "status never answered");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn worker_pids(report: &serde_json::Value) -> Vec<i64> {
    report["tree"]
        .as_array()
        .expect("tree")
        .iter()
        .filter(|n| n["path"].as_str().is_some_and(|p| p.contains("/workers/w")))
        .filter_map(|n| n["info"]["pid"].as_i64())
        .collect()
}

#[test]
fn cli_verbs_reach_each_pool_and_status_shows_the_workers() {
    let weft = Weft::with_workers();
    let mut serve = weft.serve();
    serve.wait_ready();
    let report = wait_pools_ready(&weft);
    for kind in ["embed", "ner", "llm"] {
        let node = report["tree"]
            .as_array()
            .expect("tree")
            .iter()
            .find(|n| n["path"] == format!("root/pools/{kind}/workers/w1"))
            .unwrap_or_else(|| panic!("no {kind} worker in {report:#}"))
            .clone();
        assert_eq!(node["state"], "running");
        assert!(node["info"]["pid"].as_i64().is_some(), "{node}");
        assert!(
            node["info"]["model"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{node}"
        );
    }

    let out = weft.run(&[
        "embed",
        "--json",
        "a function that parses TOML",
        "a cat on a mat",
    ]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["dim"], 384);
    assert_eq!(v["vectors"].as_array().map(Vec::len), Some(2));
    assert!(
        v["model_id"]
            .as_str()
            .is_some_and(|m| m.contains("all-MiniLM-L6-v2")),
        "{v}"
    );

    let out = weft.run(&[
        "entities",
        "--json",
        "TODO: fix src/main.rs before v1.2.3, see #42",
    ]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let labels: Vec<&str> = v["results"][0]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|e| e["label"].as_str())
        .collect();
    for want in ["TODO", "FILE_PATH", "VERSION", "ISSUE_REF"] {
        assert!(labels.contains(&want), "missing {want} in {labels:?}");
    }

    let out = weft.run(&["ask", "--max-tokens", "12", "Say hello."]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(
        !out.stdout_text().trim().is_empty(),
        "the local model answered nothing"
    );

    let empty = weft.run(&["embed", "--json", ""]);
    assert!(
        empty.status.success(),
        "an empty text is still a text: {}",
        empty.stderr_text()
    );

    let refused = weft.run(&["ask", "--model", "anthropic/claude-x", "hi"]);
    assert!(!refused.status.success());
    assert!(
        refused.stderr_text().contains("local_only"),
        "{}",
        refused.stderr_text()
    );

    let human = weft.run(&["status"]);
    assert!(
        human.stdout_text().contains("POOL"),
        "{}",
        human.stdout_text()
    );
    serve.stop();
}

#[test]
fn no_worker_outlives_a_sigkilled_daemon() {
    let weft = Weft::with_workers();
    let mut serve = weft.serve();
    serve.wait_ready();
    let pids = worker_pids(&wait_pools_ready(&weft));
    assert!(pids.len() >= 3, "one worker per pool at least: {pids:?}");
    assert!(pids.iter().all(|&p| alive(p)));

    serve.signal(libc::SIGKILL);
    serve.wait_exit(Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "orphans left: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_stops_the_workers_and_exits_zero() {
    let weft = Weft::with_workers();
    let mut serve = weft.serve();
    serve.wait_ready();
    let pids = worker_pids(&wait_pools_ready(&weft));
    let t = Instant::now();
    serve.stop();
    println!("shutdown with workers took {:?}", t.elapsed());
    assert!(
        pids.iter().all(|&p| !alive(p)),
        "workers stopped with the daemon"
    );
}

#[test]
fn doctor_checks_the_python_env_and_the_models() {
    let weft = Weft::with_workers();
    let out = weft.run(&["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let check = |name: &str| {
        v["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} check in {v:#}"))
    };
    assert_eq!(check("python env")["status"], "ok", "{v:#}");
    let models = check("models");
    assert_eq!(models["status"], "ok", "{v:#}");
    assert!(models["detail"]
        .as_str()
        .is_some_and(|d| d.contains("default embedding backend")));

    let broken = weft.run_env(
        &["doctor"],
        &[("WEFT_WORKERS__PYTHON", "/nonexistent/python")],
    );
    assert!(!broken.status.success());
    let text = broken.stdout_text();
    assert!(
        text.contains("/nonexistent/python") && text.contains("scripts/setup-python.sh"),
        "{text}"
    );
}

#[test]
fn a_missing_python_leaves_the_daemon_up_degraded_and_explains_itself() {
    let weft = Weft::with_workers();
    weft.write_config(
        "[workers]\npython = \"/nonexistent/python\"\ncall_timeout_ms = 2000\n[ner]\nenabled = false\n[llm]\nenabled = false\n",
    );
    let mut serve = weft.serve();
    serve.wait_ready();
    let report = weft.wait_status(|r| r["degraded"] == true);
    let w1 = report["tree"]
        .as_array()
        .and_then(|t| {
            t.iter()
                .find(|n| n["path"] == "root/pools/embed/workers/w1")
        })
        .cloned()
        .expect("worker node");
    assert!(
        w1["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("/nonexistent/python") && e.contains("setup-python.sh")),
        "{w1}"
    );
    let out = weft.run(&["embed", "hello"]);
    assert!(!out.status.success());
    let err = out.stderr_text();
    assert!(
        err.contains("embed") && err.contains("/nonexistent/python"),
        "{err}"
    );
    // `weft doctor` names the broken node and why, besides its own python env check.
    let doctor = weft.run(&["doctor"]);
    assert!(!doctor.status.success());
    let text = doctor.stdout_text();
    assert!(
        text.lines().any(|l| l.contains("daemon node")
            && l.contains("root/pools/embed/workers/w1")
            && l.contains("/nonexistent/python")),
        "{text}"
    );
    // Storage and the API are untouched by the broken pool.
    let status = weft.run(&["status", "--json"]);
    assert!(status.status.success());
    serve.stop();
}
