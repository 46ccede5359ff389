"""In-process embedding baselines for `weft-loadtest embed`.

Measures, on the texts the Rust side wrote, what one Python process gets without Weft:
`torch`: plain `SentenceTransformer(path).encode` (torch fp32, the sentence-transformers
default); `default`: the embed worker's own loader (`weft_workers.embed.load`), on the
backend setup chose, so the pool is compared with the same code in one process.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--texts", type=Path, required=True)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--mode", choices=("torch", "default"), required=True)
    p.add_argument("--models-dir", type=Path, required=True)
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--single", type=int, default=0, help="also time N one-text calls")
    args = p.parse_args()
    texts: list[str] = json.loads(args.texts.read_text())

    import numpy as np
    import torch
    from weft_workers import embed

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.mode == "torch":
        from sentence_transformers import SentenceTransformer

        src = embed.packaged_model_dir()
        model = SentenceTransformer(str(src), device="cpu", local_files_only=True)
        label = "torch/fp32"

        def run(batch: list[str]) -> np.ndarray:
            return model.encode(batch, batch_size=args.batch, show_progress_bar=False)
    else:
        # Exactly what the embed worker runs: the same loader, the same backend choice.
        ns = argparse.Namespace(
            model=None,
            backend="auto",
            precision="fp32",
            device="cpu",
            models_dir=args.models_dir,
            batch_size=args.batch,
        )
        embedder = embed.load(ns, args.threads)
        label = embedder.info.model_id.split("/", 1)[1]

        def run(batch: list[str]) -> np.ndarray:
            return embedder.embed(batch, query=False)

    load_s = time.perf_counter() - t0
    run(texts[: args.batch])  # warm-up
    rates = []
    for _ in range(args.passes):
        t = time.perf_counter()
        for i in range(0, len(texts), args.batch):
            run(texts[i : i + args.batch])
        rates.append(len(texts) / (time.perf_counter() - t))
    single_ms: list[float] = []
    for i in range(args.single):
        t = time.perf_counter()
        run([texts[i % len(texts)][:200]])
        single_ms.append((time.perf_counter() - t) * 1000)
    out = {
        "mode": args.mode,
        "backend": label,
        "threads": args.threads,
        "load_s": round(load_s, 2),
        "chunks_per_s": round(statistics.median(rates), 2),
        "passes": [round(r, 2) for r in rates],
    }
    if single_ms:
        single_ms.sort()
        out["single_p50_ms"] = round(single_ms[len(single_ms) // 2], 3)
        out["single_p99_ms"] = round(single_ms[int(len(single_ms) * 0.99) - 1], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
