"""The process contract: READY line, health, Info, TCP listen, graceful SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
import time

import grpc
import pytest

from conftest import Spawner, Worker, read_line, rpc_error
from weft_workers import __version__
from weft_workers._gen import health_pb2, worker_pb2

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_ready_line(ner: Worker) -> None:
    assert ner.first_line.endswith("\n")
    assert set(ner.ready) == {"addr", "pid", "kind", "model_id", "tls", "auth"}
    assert ner.ready["tls"] is False
    assert ner.ready["auth"] is False
    assert ner.ready["pid"] == ner.proc.pid
    assert ner.ready["kind"] == "ner"
    assert ner.ready["addr"].startswith("unix:/")
    assert ner.ready["model_id"] == "spacy-blank-en+rules"


@pytest.mark.parametrize("service", ["", "weft.worker.v1.Worker", "weft.worker.v1.EntityExtractor"])
def test_health_serving(ner: Worker, service: str) -> None:
    assert ner.check(service) == SERVING


def test_health_unknown_service(ner: Worker) -> None:
    err = rpc_error(lambda: ner.check("no.such.Service"))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_info_fields(ner: Worker) -> None:
    info = ner.info()
    assert info.kind == "ner"
    assert info.model_id == "spacy-blank-en+rules"
    assert info.pid == ner.proc.pid
    assert info.version == __version__
    assert info.backend == "spacy"
    assert info.device == "cpu"
    assert info.dim == 0
    assert info.max_batch == 256
    assert info.max_text_bytes == 1 << 20


def test_served_counts_model_requests(ner: Worker) -> None:
    before = ner.info().served
    ner.extractor.Extract(worker_pb2.ExtractRequest(texts=["x"]), timeout=10)
    ner.check()
    assert ner.info().served == before + 1


def test_tcp_listen_port_zero(workers: Spawner) -> None:
    w = workers.start("ner", listen="127.0.0.1:0")
    host, port = w.ready["addr"].rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert w.check() == SERVING


def test_socket_in_use_is_refused(workers: Spawner, ner: Worker) -> None:
    proc, _addr, err = workers.spawn("ner", listen=ner.addr)
    assert proc.wait(timeout=60) == 2
    assert f"{ner.addr.removeprefix('unix:')} is in use by a live process" in err.read_text()
    assert ner.check() == SERVING


def test_stale_socket_is_replaced(workers: Spawner) -> None:
    first = workers.start("ner")
    first.kill()  # SIGKILL leaves the socket file behind
    path = first.addr.removeprefix("unix:")
    assert os.path.exists(path)
    again = workers.start("ner", listen=first.addr)
    assert again.check() == SERVING


def test_sigterm_not_serving_then_exit_zero(workers: Spawner) -> None:
    w = workers.start("ner")
    statuses: list[int] = []
    watch = w.health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
    first = next(watch)
    assert first.status == SERVING

    def drain() -> None:
        for reply in watch:
            statuses.append(reply.status)

    t = threading.Thread(target=drain)
    t.start()
    os.kill(w.proc.pid, signal.SIGTERM)
    assert w.wait_exit(timeout=15) == 0
    t.join(timeout=10)
    assert statuses == [NOT_SERVING]
    # Exactly one stdout line for the whole life of the process.
    assert read_line(w.proc, 1) is None
    assert "draining" in w.stderr()


def test_sigterm_drains_in_flight_request(workers: Spawner) -> None:
    # Slow the model request with a big batch, then SIGTERM mid-request: it still completes.
    w = workers.start("ner", "--max-text-bytes", str(8 << 20))
    text = "see src/main.rs and fooBar " * 60_000
    result: list[worker_pb2.ExtractReply] = []
    t = threading.Thread(
        target=lambda: result.append(
            w.extractor.Extract(worker_pb2.ExtractRequest(texts=[text]), timeout=30)
        )
    )
    t.start()
    time.sleep(0.5)
    os.kill(w.proc.pid, signal.SIGTERM)
    t.join(timeout=30)
    assert w.wait_exit(timeout=15) == 0
    assert result, w.stderr()
    assert len(result[0].results[0].entities) == 120_000
