"""The fault knobs the Rust side's chaos tests rely on."""

from __future__ import annotations

import json
import os
import signal
import time

import grpc

from conftest import Spawner, Worker, read_line, rpc_error
from weft_workers._gen import health_pb2, worker_pb2

SERVING = health_pb2.HealthCheckResponse.SERVING


def extract(w: Worker, timeout: float = 10) -> worker_pb2.ExtractReply:
    return w.extractor.Extract(worker_pb2.ExtractRequest(texts=["src/a.rs"]), timeout=timeout)


def test_crash_after(workers: Spawner) -> None:
    w = workers.start("ner", env={"WEFT_FAULT_CRASH_AFTER": "2"})
    extract(w)
    extract(w)
    # Probes don't count towards N.
    assert w.check() == SERVING
    w.info()
    err = rpc_error(lambda: extract(w))
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert w.wait_exit(timeout=10) == 3


def test_hang_after(workers: Spawner) -> None:
    w = workers.start("ner", env={"WEFT_FAULT_HANG_AFTER": "1"})
    extract(w)
    err = rpc_error(lambda: extract(w, timeout=1))
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # Alive but not answering: health checks and Info time out too.
    err = rpc_error(lambda: w.check(timeout=1))
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    err = rpc_error(lambda: w.info_stub.Info(worker_pb2.InfoRequest(), timeout=1))
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert w.proc.poll() is None
    # Wedged: SIGTERM is ignored, only SIGKILL ends it.
    os.kill(w.proc.pid, signal.SIGTERM)
    time.sleep(1)
    assert w.proc.poll() is None
    assert "ignoring it" in w.stderr()


def test_slow_start(workers: Spawner) -> None:
    t0 = time.monotonic()
    w = workers.start("ner", env={"WEFT_FAULT_SLOW_START_MS": "1500"})
    assert time.monotonic() - t0 >= 1.5
    assert w.check() == SERVING


def test_bad_handshake_then_serves(workers: Spawner) -> None:
    w = workers.start("ner", env={"WEFT_FAULT_BAD_HANDSHAKE": "1"}, expect_ready=False)
    assert not w.first_line.startswith("READY ")
    try:
        json.loads(w.first_line.split(" ", 1)[-1])
        parsed = True
    except ValueError:
        parsed = False
    assert not parsed
    assert w.check() == SERVING
    assert extract(w).results[0].entities[0].label == "FILE_PATH"


def test_fail_load(workers: Spawner) -> None:
    proc, _addr, err = workers.spawn("ner", env={"WEFT_FAULT_FAIL_LOAD": "1"})
    assert read_line(proc, 60) is None
    assert proc.wait(timeout=30) == 2
    lines = [line for line in err.read_text().splitlines() if line.startswith("weft-worker")]
    assert lines == [
        "weft-worker ner: cannot load model: WEFT_FAULT_FAIL_LOAD is set (fault injection); "
        "unset it"
    ]
