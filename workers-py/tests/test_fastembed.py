"""The torch-free OpenVINO / ONNX path of the embed worker against sentence-transformers."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import Spawner
from test_embed import DIM, embed
from weft_workers import fastembed

HEAVY = ("torch", "transformers", "sentence_transformers", "optimum")


def varied_texts() -> list[str]:
    code = "def handler(request):\n    return {'ok': True, 'items': [x for x in range(10)]}\n"
    texts = [
        "hi",
        "",
        "   padded with spaces   ",
        "\t\n",
        "The cat sat on the warm windowsill all afternoon.",
        "Corporate tax law requires quarterly filings of estimated payments.",
        'fn main() { println!("hello"); }',
        "Ünïcødé text, emoji 🚀 and 中文 all embed fine.",
        "Привет, мир! Καλημέρα κόσμε. مرحبا بالعالم. こんにちは世界。",
        "SELECT id, name FROM users WHERE created_at > now() - interval '1 day';",
        "word " * 400,  # > 256 tokens: truncated
        code * 30,
        "Ünïcødé 中文 🚀 " * 120,
        "x" * 3000,
    ]
    for i in range(50):
        body = code * (1 + i % 7) if i % 2 else f"Paragraph {i}: " + "lorem ipsum dolor " * i
        texts.append(f"# chunk {i}\n{body}")
    return texts


def model_dir(models_dir: Path) -> Path:
    report = json.loads((models_dir / "backends.json").read_text())
    return models_dir / report["model_dir"]


@pytest.fixture(scope="module")
def reference(models_dir: Path) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir(models_dir)), device="cpu", local_files_only=True)
    out = st.encode(varied_texts(), batch_size=16, normalize_embeddings=True)
    return np.asarray(out, dtype=np.float32)


@pytest.mark.parametrize(
    ("backend", "file"),
    [("openvino", "openvino/openvino_model.xml"), ("onnx", "onnx/model.onnx")],
)
def test_fast_path_matches_torch(
    backend: str, file: str, models_dir: Path, reference: np.ndarray
) -> None:
    fast = fastembed.try_load(
        model_dir(models_dir), backend, "fp32", file=file, threads=2, device="cpu"
    )
    assert fast is not None
    got = fast.encode(varied_texts(), 32)
    assert got.shape == (len(varied_texts()), DIM)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = np.sum(got * reference, axis=1)
    assert cos.min() >= 0.999, (backend, cos.min(), int(cos.argmin()))
    # Batch composition does not matter beyond precision noise.
    alone = fast.encode([varied_texts()[10]], 32)[0]
    assert float(alone @ got[10]) >= 0.9999


def test_tokenisation_matches_sentence_transformers(models_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    folder = model_dir(models_dir)
    fast = fastembed.try_load(
        folder, "onnx", "fp32", file="onnx/model.onnx", threads=1, device="cpu"
    )
    assert fast is not None
    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    texts = varied_texts()
    features = st.preprocess(texts)
    encs = fast.tokenizer.encode_batch(texts)
    assert features["input_ids"].tolist() == [e.ids for e in encs]
    assert features["attention_mask"].tolist() == [e.attention_mask for e in encs]


def test_fast_path_imports_no_torch(models_dir: Path) -> None:
    script = f"""
import argparse, sys
from pathlib import Path
from weft_workers import embed
p = argparse.ArgumentParser()
embed.add_arguments(p)
e = embed.load(p.parse_args(["--models-dir", {str(models_dir)!r}]), 2)
assert e.embed(["hello"], False).shape == (1, {DIM})
print(e.info.model_id)
print(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r})))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    model_id, heavy = out.stdout.strip().splitlines()
    report = json.loads((models_dir / "backends.json").read_text())
    entry = next(e for e in report["backends"] if e["key"] == report["default"])
    assert model_id == f"all-MiniLM-L6-v2/{entry['backend']}/{entry['precision']}"
    if entry["backend"] in ("openvino", "onnx") and entry["weights"] == "fp32":
        assert heavy == "[]"


def _link_tree(src: Path, dst: Path) -> None:
    # Real folders, linked files: Hugging Face loaders do not follow linked folders.
    dst.mkdir()
    for item in src.iterdir():
        if item.is_dir():
            _link_tree(item, dst / item.name)
        else:
            (dst / item.name).symlink_to(item)


def _copy_with_pooling(src: Path, dst: Path, pooling: dict[str, object]) -> Path:
    _link_tree(src, dst)
    (dst / "1_Pooling" / "config.json").unlink()
    (dst / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return dst


def test_unusual_pooling_falls_back(
    models_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, workers: Spawner
) -> None:
    src = model_dir(models_dir)
    pooling = json.loads((src / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_lasttoken=True)
    folder = _copy_with_pooling(src, tmp_path / "lasttoken", pooling)
    with caplog.at_level(logging.INFO, logger="weft_workers.embed"):
        got = fastembed.try_load(
            folder, "openvino", "fp32", file="openvino/openvino_model.xml", threads=1, device="cpu"
        )
    assert got is None
    assert "torch-free path not used (pooling" in caplog.text

    # A copy with the normal pooling config takes the fast path; the odd one falls back.
    normal = _copy_with_pooling(
        src, tmp_path / "normal", json.loads((src / "1_Pooling" / "config.json").read_text())
    )
    w = workers.start("embed", "--model", str(normal), "--backend", "onnx")
    assert w.ready["model_id"].endswith("/onnx/fp32")
    assert "torch-free onnx path" in w.stderr()
    w2 = workers.start("embed", "--model", str(folder), "--backend", "openvino")
    assert "torch-free path not used (pooling" in w2.stderr()
    vecs = embed(w2, ["fallback still embeds", "second text"])
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_pooling_modes_in_numpy() -> None:
    hidden = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(fastembed.pool_tokens(hidden, mask, "mean_tokens"), [[1, 2], [6, 7]])
    np.testing.assert_allclose(fastembed.pool_tokens(hidden, mask, "cls_token"), [[0, 1], [6, 7]])
    np.testing.assert_allclose(fastembed.pool_tokens(hidden, mask, "max_tokens"), [[2, 3], [6, 7]])
