"""Remote workers: real TLS (a self-signed openssl cert) and a bearer token, real processes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from conftest import Spawner, Worker, error_code, read_line, rpc_error
from weft_workers._gen import health_pb2, health_pb2_grpc, worker_pb2, worker_pb2_grpc

TOKEN = "s3cret-token-0123456789abcdef"
SERVING = health_pb2.HealthCheckResponse.SERVING
UNAUTH_MESSAGE = "missing or wrong bearer token; pass the token from [workers] remote_token_file"


@dataclass
class Pki:
    cert: Path
    key: Path
    token_file: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    cert, key = d / "c.pem", d / "k.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    token_file = d / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    return Pki(cert, key, token_file)


@pytest.fixture(scope="module")
def remote(pki: Pki, sock_root: Path) -> Iterator[Worker]:
    spawner = Spawner(sock_root)
    w = spawner.start(
        "ner",
        "--tls-cert",
        str(pki.cert),
        "--tls-key",
        str(pki.key),
        "--token-file",
        str(pki.token_file),
        listen="127.0.0.1:0",
    )
    yield w
    spawner.close()


def tls_channel(pki: Pki, addr: str, token: str | None) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(root_certificates=pki.cert.read_bytes())
    if token is not None:
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    return grpc.secure_channel(addr, creds)


def test_ready_line_reports_tls_and_auth(remote: Worker) -> None:
    assert remote.ready["tls"] is True
    assert remote.ready["auth"] is True
    assert remote.ready["addr"].startswith("127.0.0.1:")


def test_tls_with_token_serves_everything(pki: Pki, remote: Worker) -> None:
    with tls_channel(pki, remote.addr, TOKEN) as ch:
        info = worker_pb2_grpc.WorkerStub(ch).Info(worker_pb2.InfoRequest(), timeout=10)
        assert info.kind == "ner"
        health = health_pb2_grpc.HealthStub(ch)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=10)
        assert next(watch).status == SERVING
        watch.cancel()
        reply = worker_pb2_grpc.EntityExtractorStub(ch).Extract(
            worker_pb2.ExtractRequest(texts=["see src/main.rs"]), timeout=10
        )
        assert [e.text for e in reply.results[0].entities] == ["src/main.rs"]


def calls(ch: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> list[Callable[[], Any]]:
    health = health_pb2_grpc.HealthStub(ch)
    req = health_pb2.HealthCheckRequest()
    return [
        lambda: worker_pb2_grpc.WorkerStub(ch).Info(
            worker_pb2.InfoRequest(), timeout=10, metadata=metadata
        ),
        lambda: health.Check(req, timeout=10, metadata=metadata),
        lambda: next(health.Watch(req, timeout=10, metadata=metadata)),
        lambda: worker_pb2_grpc.EntityExtractorStub(ch).Extract(
            worker_pb2.ExtractRequest(texts=["x"]), timeout=10, metadata=metadata
        ),
    ]


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer wrong-token"),),
        (("authorization", TOKEN),),  # no "Bearer " scheme
    ],
    ids=["missing", "wrong", "no-scheme"],
)
def test_bad_token_is_unauthenticated(
    pki: Pki, remote: Worker, metadata: tuple[tuple[str, str], ...]
) -> None:
    with tls_channel(pki, remote.addr, None) as ch:
        for call in calls(ch, metadata):
            err = rpc_error(call)
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error_code(err) == "ERROR_CODE_UNAUTHENTICATED"
            assert err.details() == UNAUTH_MESSAGE
    assert TOKEN not in remote.stderr()


def test_plaintext_client_fails(remote: Worker) -> None:
    # conftest's channel is plaintext: the TLS server never answers it.
    err = rpc_error(lambda: remote.info_stub.Info(worker_pb2.InfoRequest(), timeout=3))
    assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def startup_error(
    workers: Spawner, *args: str, listen: str, env: dict[str, str] | None = None
) -> str:
    proc, _, err = workers.spawn("ner", *args, listen=listen, env=env)
    assert read_line(proc, 30) is None
    assert proc.wait(timeout=30) == 2
    assert proc.stdout is not None
    proc.stdout.close()
    lines = err.read_text().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_non_loopback_needs_tls_and_token(workers: Spawner) -> None:
    line = startup_error(workers, listen="0.0.0.0:0")
    assert line.startswith("weft-worker ner: --listen 0.0.0.0:0 is not loopback")
    assert "--tls-cert/--tls-key" in line
    assert "--token-file" in line


def test_non_loopback_with_token_only_still_needs_tls(workers: Spawner, pki: Pki) -> None:
    line = startup_error(workers, listen="0.0.0.0:0", env={"WEFT_WORKER_TOKEN": TOKEN})
    assert "--tls-cert/--tls-key" in line
    assert "--token-file" not in line


def test_group_readable_token_file_is_refused(workers: Spawner, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o644)
    line = startup_error(workers, "--token-file", str(token_file), listen="127.0.0.1:0")
    assert "readable by group/others (mode 0644)" in line
    assert f"chmod 600 {token_file}" in line


def test_empty_token_file_is_refused(workers: Spawner, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("\n")
    token_file.chmod(0o600)
    line = startup_error(workers, "--token-file", str(token_file), listen="127.0.0.1:0")
    assert "empty" in line


def test_env_token_enforced_on_unix_socket(workers: Spawner) -> None:
    w = workers.start("ner", env={"WEFT_WORKER_TOKEN": TOKEN})
    assert w.ready["tls"] is False
    assert w.ready["auth"] is True
    err = rpc_error(w.info)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_code(err) == "ERROR_CODE_UNAUTHENTICATED"
    auth = (("authorization", f"Bearer {TOKEN}"),)
    reply = w.info_stub.Info(worker_pb2.InfoRequest(), timeout=10, metadata=auth)
    assert reply.kind == "ner"
