"""The embed worker on torch, ONNX and OpenVINO, with the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import numpy as np
import pytest

from conftest import Spawner, Worker, error_code, read_line, rpc_error
from weft_workers._gen import health_pb2, worker_pb2

DIM = 384
SERVING = health_pb2.HealthCheckResponse.SERVING
TEXTS = [
    "The cat sat on the warm windowsill all afternoon.",
    "Kittens love to nap in sunny spots by the window.",
    "Corporate tax law requires quarterly filings of estimated payments.",
    'fn main() { println!("hello"); }',
    "Ünïcødé text, emoji 🚀 and 中文 all embed fine.",
]


def embed(w: Worker, texts: list[str], query: bool = False) -> np.ndarray:
    mode = worker_pb2.EMBED_MODE_QUERY if query else worker_pb2.EMBED_MODE_DOCUMENT
    reply = w.embedder.Embed(worker_pb2.EmbedRequest(texts=texts, mode=mode), timeout=60)
    assert reply.count == len(texts)
    assert reply.dim == DIM
    assert reply.model_id == w.ready["model_id"]
    assert len(reply.vectors) == len(texts) * DIM * 4
    return np.frombuffer(reply.vectors, dtype="<f4").reshape(reply.count, reply.dim)


@pytest.fixture(scope="session")
def empty_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("no-models")


@pytest.fixture(scope="session")
def embed_torch(session_workers: Spawner, empty_models_dir: Path) -> Worker:
    # backend auto without backends.json: the torch fp32 fallback (our reference).
    return session_workers.start("embed", "--models-dir", str(empty_models_dir), "--device", "cpu")


@pytest.fixture(scope="session")
def embed_auto(session_workers: Spawner, models_dir: Path) -> Worker:
    return session_workers.start("embed", "--models-dir", str(models_dir), "--device", "cpu")


@pytest.fixture(scope="session")
def embed_onnx(session_workers: Spawner, models_dir: Path) -> Worker:
    return session_workers.start("embed", "--backend", "onnx", "--models-dir", str(models_dir))


def test_torch_fallback_warns(embed_torch: Worker) -> None:
    assert embed_torch.ready["model_id"] == "all-MiniLM-L6-v2/torch/fp32"
    assert "falling back to torch fp32" in embed_torch.stderr()


def test_info(embed_torch: Worker) -> None:
    info = embed_torch.info()
    assert info.kind == "embed"
    assert info.dim == DIM
    assert info.backend == "torch"
    assert info.precision == "fp32"
    assert info.device == "cpu"
    assert info.model_id == "all-MiniLM-L6-v2/torch/fp32"
    assert embed_torch.check("weft.worker.v1.Embedder") == SERVING


def test_vectors_normalised(embed_torch: Worker) -> None:
    vecs = embed(embed_torch, TEXTS)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_identical_texts_identical_vectors(embed_torch: Worker) -> None:
    a = embed(embed_torch, [TEXTS[0], TEXTS[2], TEXTS[0]])
    b = embed(embed_torch, [TEXTS[0]])
    np.testing.assert_array_equal(a[0], a[2])
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)


def test_semantic_sanity(embed_torch: Worker) -> None:
    cat, kitten, tax = embed(embed_torch, TEXTS[:3])
    assert cat @ kitten > cat @ tax + 0.2


def test_query_mode_without_prompts_is_identical(embed_torch: Worker) -> None:
    # all-MiniLM-L6-v2 defines empty query/document prompts.
    np.testing.assert_allclose(
        embed(embed_torch, TEXTS, query=True), embed(embed_torch, TEXTS), atol=1e-6
    )


def test_auto_runs_the_prepared_default(embed_auto: Worker, models_dir: Path) -> None:
    report = json.loads((models_dir / "backends.json").read_text())
    entry = next(e for e in report["backends"] if e["key"] == report["default"])
    assert entry["weights"] == "fp32"
    assert entry["cosine_min"] >= 0.999
    info = embed_auto.info()
    assert info.backend == entry["backend"]
    assert info.precision == entry["precision"]
    assert info.model_id == f"all-MiniLM-L6-v2/{entry['backend']}/{entry['precision']}"


@pytest.mark.parametrize("which", ["embed_auto", "embed_onnx"])
def test_backends_match_torch(
    which: str, request: pytest.FixtureRequest, embed_torch: Worker
) -> None:
    worker: Worker = request.getfixturevalue(which)
    ref = embed(embed_torch, TEXTS)
    got = embed(worker, TEXTS)
    cos = np.sum(ref * got, axis=1)
    assert cos.min() >= 0.999, (worker.ready["model_id"], cos)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_onnx_model_id(embed_onnx: Worker) -> None:
    assert embed_onnx.ready["model_id"] == "all-MiniLM-L6-v2/onnx/fp32"


def test_int8_is_opt_in_and_close(workers: Spawner, models_dir: Path, embed_torch: Worker) -> None:
    w = workers.start(
        "embed", "--backend", "openvino", "--precision", "int8", "--models-dir", str(models_dir)
    )
    assert w.ready["model_id"] == "all-MiniLM-L6-v2/openvino/int8"
    cos = np.sum(embed(embed_torch, TEXTS) * embed(w, TEXTS), axis=1)
    assert cos.min() > 0.95


def test_bad_requests_then_still_serving(embed_torch: Worker) -> None:
    stub = embed_torch.embedder
    cases = [
        ([], "ERROR_CODE_EMPTY_BATCH"),
        (["x" * (10 * 1000 * 1000)], "ERROR_CODE_TEXT_TOO_LARGE"),
        (["ok", "y" * ((1 << 20) + 1)], "ERROR_CODE_TEXT_TOO_LARGE"),
        (["a"] * 257, "ERROR_CODE_BATCH_TOO_LARGE"),
    ]
    for texts, code in cases:
        req = worker_pb2.EmbedRequest(texts=texts)

        def call(r: worker_pb2.EmbedRequest = req) -> worker_pb2.EmbedReply:
            return stub.Embed(r, timeout=30)

        err = rpc_error(call)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, code
        assert error_code(err) == code
        assert embed_torch.check() == SERVING
    assert embed(embed_torch, ["still works"]).shape == (1, DIM)


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"\xed\xa0\x80"])  # not UTF-8; a lone surrogate
def test_invalid_utf8_is_refused(embed_torch: Worker, raw: bytes) -> None:
    # A conformant client cannot send this; craft the wire bytes by hand.
    call = embed_torch.channel.unary_unary("/weft.worker.v1.Embedder/Embed")
    payload = b"\x0a" + bytes([len(raw)]) + raw
    err = rpc_error(lambda: call(payload, timeout=10))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(err) == "ERROR_CODE_INVALID_TEXT"
    assert embed(embed_torch, ["fine"]).shape == (1, DIM)


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("/nonexistent/x", "no such folder"),
        ("some-org/some-model", "not a local folder and models are never downloaded (offline)"),
    ],
)
def test_missing_model_fails_with_one_clear_line(workers: Spawner, model: str, why: str) -> None:
    proc, _addr, err = workers.spawn("embed", "--model", model)
    assert read_line(proc, 60) is None
    assert proc.wait(timeout=30) == 2
    lines = [ln for ln in err.read_text().splitlines() if ln.startswith("weft-worker")]
    assert lines == [
        f"weft-worker embed: cannot load model {model}: {why}; set [workers.embed] model to a "
        "sentence-transformers folder or run scripts/setup-python.sh"
    ]
