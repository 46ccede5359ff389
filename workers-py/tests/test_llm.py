"""The llm worker: local GGUF streaming, cancellation, litellm against a real local
OpenAI-compatible server (llama_cpp.server on 127.0.0.1), and the local_only policy."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import grpc
import pytest

from conftest import Spawner, Worker, error_code, free_port, rpc_error
from weft_workers._gen import health_pb2, worker_pb2
from weft_workers.llm import packaged_gguf

SERVING = health_pb2.HealthCheckResponse.SERVING
LONG_PROMPT = "Write a very long story, at least two thousand words, about a lighthouse keeper."


def request(
    content: str, model: str = "", api_base: str = "", max_tokens: int = 0, job_id: str = ""
) -> worker_pb2.CompleteRequest:
    return worker_pb2.CompleteRequest(
        messages=[worker_pb2.ChatMessage(role="user", content=content)],
        model=model,
        api_base=api_base,
        max_tokens=max_tokens,
        job_id=job_id,
    )


def collect(w: Worker, req: worker_pb2.CompleteRequest) -> list[worker_pb2.CompleteChunk]:
    return list(w.lm.Complete(req, timeout=120))


def wait_for_log(w: Worker, pattern: str, timeout: float = 20) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, w.stderr())
        if m:
            return m
        time.sleep(0.05)
    pytest.fail(f"no log line matching {pattern!r}; stderr:\n{w.stderr()}")


@pytest.fixture(scope="session")
def llm(session_workers: Spawner) -> Worker:
    # local_only on: loopback servers are still allowed, cloud providers are not.
    # One thread: llama.cpp's spinning thread barrier degrades badly when a core is taken
    # by something else (a busy CI neighbour), and 135M parameters don't need two.
    return session_workers.start(
        "llm", "--local-only", "--threads", "1", env={"OPENAI_API_KEY": "sk-dummy"}
    )


@pytest.fixture(scope="session")
def openai_server() -> Iterator[str]:
    """A real OpenAI-compatible server on loopback: llama_cpp.server with the same GGUF."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(packaged_gguf()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            "1",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("llama_cpp.server did not come up")
            time.sleep(0.2)
    yield base
    proc.kill()
    proc.wait(timeout=10)


def test_ready_and_info(llm: Worker) -> None:
    info = llm.info()
    assert info.kind == "llm"
    assert info.backend == "llama.cpp"
    assert info.model_id == llm.ready["model_id"]
    assert info.model_id.startswith("SmolLM2-135M-Instruct/llama.cpp/")
    assert info.precision == "q4_1"


def test_local_model_streams(llm: Worker) -> None:
    chunks = collect(llm, request("Name three colours.", max_tokens=40, job_id="stream-1"))
    text_chunks = [c for c in chunks if not c.done]
    assert len(text_chunks) >= 3
    assert all(c.text for c in text_chunks)
    done = chunks[-1]
    assert done.done
    assert [c.done for c in chunks].count(True) == 1
    assert done.finish_reason in ("stop", "length")
    assert done.completion_tokens == len(text_chunks)
    assert done.prompt_tokens > 5
    assert done.model == llm.ready["model_id"]


def test_max_tokens_and_length_finish(llm: Worker) -> None:
    chunks = collect(llm, request(LONG_PROMPT, max_tokens=8))
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].completion_tokens == 8


def test_cancel_stops_generation(llm: Worker) -> None:
    call = llm.lm.Complete(request(LONG_PROMPT, max_tokens=1500, job_id="cancel-1"), timeout=120)
    got = [next(call) for _ in range(5)]
    assert all(not c.done for c in got)
    call.cancel()
    m = wait_for_log(llm, r"job cancel-1 cancelled: stopped after (\d+) tokens \((\d+) after")
    produced, after = int(m.group(1)), int(m.group(2))
    assert after <= 2
    assert produced < 60
    # The model is free again at once (no hidden generation still holding it).
    t0 = time.monotonic()
    chunks = collect(llm, request("Hi", max_tokens=4))
    assert chunks[-1].done
    assert time.monotonic() - t0 < 10


def test_litellm_against_local_openai_server(llm: Worker, openai_server: str) -> None:
    chunks = collect(
        llm,
        request("Say hello.", model="openai/smollm", api_base=openai_server, max_tokens=24),
    )
    text_chunks = [c for c in chunks if not c.done]
    assert len(text_chunks) >= 2
    assert "".join(c.text for c in text_chunks).strip()
    done = chunks[-1]
    assert done.done
    assert done.model == "openai/smollm"
    assert done.finish_reason in ("stop", "length")
    assert done.completion_tokens > 0


def test_litellm_cancel(llm: Worker, openai_server: str) -> None:
    req = request(
        LONG_PROMPT,
        model="openai/smollm",
        api_base=openai_server,
        max_tokens=1000,
        job_id="cancel-litellm",
    )
    call = llm.lm.Complete(req, timeout=120)
    for _ in range(3):
        next(call)
    call.cancel()
    m = wait_for_log(llm, r"job cancel-litellm cancelled: stopped after (\d+) tokens \((\d+) after")
    assert int(m.group(2)) <= 2


@pytest.mark.parametrize(
    ("model", "api_base", "provider"),
    [
        ("anthropic/claude-x", "", "anthropic"),
        ("openai/gpt-4o", "", "openai"),
        ("ollama/llama3", "http://10.1.2.3:11434", "ollama"),
    ],
)
def test_local_only_refuses_cloud(llm: Worker, model: str, api_base: str, provider: str) -> None:
    err = rpc_error(lambda: collect(llm, request("hi", model=model, api_base=api_base)))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_code(err) == "ERROR_CODE_POLICY_REFUSED"
    assert f"provider {provider}" in err.details()
    assert "local_only" in err.details()
    assert llm.check() == SERVING


def test_unknown_models(llm: Worker, openai_server: str) -> None:
    err = rpc_error(lambda: collect(llm, request("hi", model="local/nope")))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert error_code(err) == "ERROR_CODE_UNKNOWN_MODEL"
    err = rpc_error(
        lambda: collect(llm, request("hi", model="nosuchprovider/x", api_base=openai_server))
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert error_code(err) == "ERROR_CODE_UNKNOWN_MODEL"


def test_bad_requests(llm: Worker) -> None:
    err = rpc_error(lambda: collect(llm, worker_pb2.CompleteRequest()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(err) == "ERROR_CODE_EMPTY_BATCH"
    bad_role = worker_pb2.CompleteRequest(
        messages=[worker_pb2.ChatMessage(role="wizard", content="hi")]
    )
    err = rpc_error(lambda: collect(llm, bad_role))
    assert error_code(err) == "ERROR_CODE_INVALID_TEXT"
    err = rpc_error(lambda: collect(llm, request("x" * (10 * 1000 * 1000))))
    assert error_code(err) == "ERROR_CODE_TEXT_TOO_LARGE"
    assert collect(llm, request("ok", max_tokens=2))[-1].done


def test_overloaded_but_health_answers(workers: Spawner) -> None:
    w = workers.start(
        "llm", "--max-inflight", "1", "--threads", "1", env={"WEFT_LLM_LOCAL_ONLY": "1"}
    )
    busy = w.lm.Complete(request(LONG_PROMPT, max_tokens=1500), timeout=120)
    next(busy)
    t0 = time.monotonic()
    assert w.check(timeout=2) == SERVING
    assert w.info().kind == "llm"
    assert time.monotonic() - t0 < 2
    err = rpc_error(lambda: collect(w, request("hi", max_tokens=2)))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_code(err) == "ERROR_CODE_OVERLOADED"
    busy.cancel()
    # Once the cancelled call has let go of its slot: the env var turned local_only on.
    deadline = time.monotonic() + 10
    while True:
        err = rpc_error(lambda: collect(w, request("hi", model="anthropic/claude-x")))
        if error_code(err) != "ERROR_CODE_OVERLOADED" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert error_code(err) == "ERROR_CODE_POLICY_REFUSED"


def test_missing_gguf_fails_clearly(workers: Spawner) -> None:
    proc, _addr, err = workers.spawn("llm", "--model", "/nonexistent/m.gguf")
    assert proc.wait(timeout=60) == 2
    lines = [ln for ln in err.read_text().splitlines() if ln.startswith("weft-worker")]
    assert lines == [
        "weft-worker llm: cannot load model /nonexistent/m.gguf: no such file; set "
        "[workers.llm] model to a .gguf file or run scripts/setup-python.sh"
    ]
