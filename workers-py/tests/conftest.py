"""Real worker processes on real sockets, called through the generated stubs.

`start_worker` runs `python -m weft_workers KIND --listen unix:...` in its own process group,
waits for the READY line with a deadline, and kills the whole group at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from weft_workers._gen import (
    health_pb2,
    health_pb2_grpc,
    worker_pb2,
    worker_pb2_grpc,
)

READY_TIMEOUT_S = 90.0
RPC_TIMEOUT_S = 60.0


@dataclass
class Worker:
    kind: str
    proc: subprocess.Popen[str]
    addr: str
    first_line: str
    stderr_path: Path
    channel: grpc.Channel
    ready: dict[str, Any] = field(default_factory=dict)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def info_stub(self) -> worker_pb2_grpc.WorkerStub:
        return worker_pb2_grpc.WorkerStub(self.channel)

    @property
    def health(self) -> health_pb2_grpc.HealthStub:
        return health_pb2_grpc.HealthStub(self.channel)

    @property
    def embedder(self) -> worker_pb2_grpc.EmbedderStub:
        return worker_pb2_grpc.EmbedderStub(self.channel)

    @property
    def extractor(self) -> worker_pb2_grpc.EntityExtractorStub:
        return worker_pb2_grpc.EntityExtractorStub(self.channel)

    @property
    def lm(self) -> worker_pb2_grpc.LanguageModelStub:
        return worker_pb2_grpc.LanguageModelStub(self.channel)

    def info(self) -> worker_pb2.InfoReply:
        return self.info_stub.Info(worker_pb2.InfoRequest(), timeout=10)

    def check(self, service: str = "", timeout: float = 10) -> int:
        reply = self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        return reply.status

    def wait_exit(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        self.channel.close()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def read_line(proc: subprocess.Popen[str], timeout: float) -> str | None:
    """The next stdout line, or None if the process exits or the deadline passes first."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            return line if line else None
        if proc.poll() is not None:
            return None
    return None


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WEFT_FAULT_") and k != "WEFT_WORKER_TOKEN"
    }
    env.update(extra or {})
    return env


class Spawner:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.workers: list[Worker] = []
        self._n = 0

    def spawn(
        self,
        kind: str,
        *args: str,
        env: dict[str, str] | None = None,
        listen: str | None = None,
    ) -> tuple[subprocess.Popen[str], str, Path]:
        self._n += 1
        addr = listen or f"unix:{self.root / f'{kind}-{self._n}.sock'}"
        err = self.root / f"{kind}-{self._n}.stderr"
        with err.open("w") as err_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "weft_workers", kind, "--listen", addr, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err_file,
                text=True,
                env=worker_env(env),
                start_new_session=True,
            )
        return proc, addr, err

    def start(
        self,
        kind: str,
        *args: str,
        env: dict[str, str] | None = None,
        listen: str | None = None,
        expect_ready: bool = True,
    ) -> Worker:
        proc, addr, err = self.spawn(kind, *args, env=env, listen=listen)
        line = read_line(proc, READY_TIMEOUT_S)
        if line is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"{kind} worker gave no handshake line; stderr:\n{err.read_text()}")
        ready: dict[str, Any] = {}
        if expect_ready:
            assert line.startswith("READY "), line
            ready = json.loads(line.removeprefix("READY "))
            addr = ready["addr"]
        channel = grpc.insecure_channel(
            addr, options=[("grpc.max_receive_message_length", 64 << 20)]
        )
        w = Worker(kind, proc, addr, line, err, channel, ready)
        self.workers.append(w)
        return w

    def close(self) -> None:
        for w in self.workers:
            w.kill()


@pytest.fixture(scope="session")
def sock_root() -> Iterator[Path]:
    # Short paths: unix socket paths are limited to ~107 bytes.
    root = Path(tempfile.mkdtemp(prefix="weft-t-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def session_workers(sock_root: Path) -> Iterator[Spawner]:
    spawner = Spawner(sock_root)
    yield spawner
    spawner.close()


@pytest.fixture
def workers(sock_root: Path) -> Iterator[Spawner]:
    spawner = Spawner(Path(tempfile.mkdtemp(prefix="w-", dir=sock_root)))
    yield spawner
    spawner.close()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$WEFT_MODELS when setup already prepared it; else a small prepare into a tmp dir."""
    env = os.environ.get("WEFT_MODELS")
    if env and (Path(env) / "backends.json").is_file():
        return Path(env)
    out = tmp_path_factory.mktemp("models")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "weft_workers.models",
            "prepare",
            "--out",
            str(out),
            "--sample",
            "64",
        ],
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )
    return out


@pytest.fixture(scope="session")
def ner(session_workers: Spawner) -> Worker:
    return session_workers.start("ner")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_error(fn: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    err = info.value
    assert isinstance(err, grpc.RpcError)
    return err


def error_code(err: grpc.RpcError) -> str | None:
    for key, value in err.trailing_metadata() or ():
        if key == "weft-error-code":
            return str(value)
    return None
