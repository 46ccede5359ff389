"""The process contract every worker kind shares.

1. Parse flags; log to stderr only. File descriptor 1 is kept for the handshake and pointed
   at stderr for everything else, so chatty C libraries can never corrupt the READY line.
2. Load the model FIRST. On failure print one line, `weft-worker KIND: <what failed>; <fix>`,
   and exit 2.
3. Bind `--listen` (`unix:/abs/path.sock` or `HOST:PORT`; port 0 picks a free one), start
   serving, set health SERVING, then print exactly one stdout line and flush:
   `READY {"addr": ..., "pid": ..., "kind": ..., "model_id": ..., "tls": ..., "auth": ...}`.
   Security flags (`--tls-cert/--tls-key`, `--token-file` / $WEFT_WORKER_TOKEN) are checked
   before the model loads; a non-loopback TCP `--listen` requires TLS and a token (see
   `weft_workers.security`). With a token, every RPC needs `authorization: Bearer <token>`.
4. Serve `weft.worker.v1.Worker.Info`, `grpc.health.v1.Health` (Check and Watch) and the
   kind's service. The thread pool has `--max-inflight` threads for model requests plus one
   for Check/Info plus WATCH_SLOTS for Watch streams, so a saturated worker still answers
   health checks; a model request over the in-flight cap gets RESOURCE_EXHAUSTED /
   ERROR_CODE_OVERLOADED at once instead of queueing.
5. SIGTERM/SIGINT: health NOT_SERVING (Watch streams get it, then end), stop accepting (new
   calls get UNAVAILABLE), drain in-flight calls for up to 5 s, exit 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from weft_workers import __version__
from weft_workers._gen import health_pb2, health_pb2_grpc, worker_pb2
from weft_workers.errors import ModelLoadError, RequestError, invalid
from weft_workers.faults import BAD_HANDSHAKE_LINE, Faults
from weft_workers.security import TOKEN_ENV, ConfigError, Security, from_args

log = logging.getLogger("weft_workers")

GRACE_S = 5.0
WATCH_SLOTS = 2
DEFAULT_MAX_TEXT_BYTES = 1 << 20
# Large enough that a 10 MB text reaches the handler and gets a typed TEXT_TOO_LARGE;
# bigger messages are refused by gRPC itself (RESOURCE_EXHAUSTED, no weft-error-code).
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
LOAD_FAILED_EXIT = 2

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
ServingStatus = health_pb2.HealthCheckResponse.ServingStatus

M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=Message)


@dataclass
class Runtime:
    """What a kind's handlers share with the server: limits, fault knobs, counters."""

    kind: str
    faults: Faults
    max_inflight: int
    max_batch: int
    max_text_bytes: int
    threads: int
    served: int = 0
    _served_lock: threading.Lock = field(default_factory=threading.Lock)
    _slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_inflight)

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Count a model request, apply fault knobs, and hold an in-flight slot."""
        self.faults.on_model_request()
        if not self._slots.acquire(blocking=False):
            raise RequestError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                worker_pb2.ERROR_CODE_OVERLOADED,
                f"worker is at its in-flight cap of {self.max_inflight}; retry or use another",
            )
        try:
            yield
        finally:
            self._slots.release()
            with self._served_lock:
                self.served += 1


@dataclass
class ModelInfo:
    model_id: str
    backend: str
    precision: str
    device: str = "cpu"
    dim: int = 0


class Service(Protocol):
    """A loaded kind: its Info fields and its gRPC handlers."""

    info: ModelInfo
    service_name: str  # full proto name, e.g. "weft.worker.v1.Embedder"

    def handler(self, rt: Runtime) -> grpc.GenericRpcHandler: ...


class Malformed:
    """What the lenient deserializer returns for bytes protobuf cannot parse (e.g. a string
    field holding invalid UTF-8), so the handler can refuse it with a typed error."""

    def __init__(self, error: str) -> None:
        self.error = error


def lenient(cls: type[M]) -> Callable[[bytes], M | Malformed]:
    def deserialize(data: bytes) -> M | Malformed:
        try:
            return cls.FromString(data)
        except DecodeError as e:
            return Malformed(str(e))

    return deserialize


def require(request: M | Malformed) -> M:
    if isinstance(request, Malformed):
        raise invalid(
            worker_pb2.ERROR_CODE_INVALID_TEXT,
            f"request could not be decoded ({request.error}); strings must be valid UTF-8",
        )
    return request


@contextmanager
def guarded(rt: Runtime, context: grpc.ServicerContext) -> Iterator[None]:
    """Admission, typed errors, and no crash on unexpected ones, for one model request."""
    try:
        with rt.admit():
            yield
    except RequestError as e:
        log.info("refused: %s (%s)", e.message, e.code_name)
        e.abort(context)
    except Exception as e:
        log.exception("model error")
        RequestError(
            grpc.StatusCode.INTERNAL, worker_pb2.ERROR_CODE_MODEL_ERROR, f"model error: {e}"
        ).abort(context)


def unary(
    rt: Runtime, fn: Callable[[M, grpc.ServicerContext], R]
) -> Callable[[M | Malformed, grpc.ServicerContext], R]:
    """Wrap a unary model handler in [`guarded`]."""

    def handle(request: M | Malformed, context: grpc.ServicerContext) -> R:
        with guarded(rt, context):
            return fn(require(request), context)
        raise AssertionError("unreachable: guarded aborts on every error")

    return handle


def streaming(
    rt: Runtime, fn: Callable[[M, grpc.ServicerContext], Iterator[R]]
) -> Callable[[M | Malformed, grpc.ServicerContext], Iterator[R]]:
    """Wrap a streaming model handler in [`guarded`]; a cancelled stream just closes."""

    def handle(request: M | Malformed, context: grpc.ServicerContext) -> Iterator[R]:
        with guarded(rt, context):
            yield from fn(require(request), context)

    return handle


class HealthServicer(health_pb2_grpc.HealthServicer):
    """grpc.health.v1 over our own generated stubs (the same health.proto the Rust side uses)."""

    def __init__(self, faults: Faults, services: list[str]) -> None:
        self._faults = faults
        self._cond = threading.Condition()
        self._status: dict[str, ServingStatus] = dict.fromkeys(["", *services], NOT_SERVING)
        self._shutting_down = False
        self._watch_slots = threading.BoundedSemaphore(WATCH_SLOTS)

    def set_all(self, status: ServingStatus) -> None:
        with self._cond:
            for name in self._status:
                self._status[name] = status
            self._cond.notify_all()

    def enter_graceful_shutdown(self) -> None:
        with self._cond:
            self._shutting_down = True
            for name in self._status:
                self._status[name] = NOT_SERVING
            self._cond.notify_all()

    def Check(  # noqa: N802 - gRPC method name
        self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        self._faults.gate()
        with self._cond:
            status = self._status.get(request.service)
        if status is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
            raise AssertionError("context.abort returned")  # pragma: no cover
        return health_pb2.HealthCheckResponse(status=status)

    def Watch(  # noqa: N802 - gRPC method name
        self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext
    ) -> Iterator[health_pb2.HealthCheckResponse]:
        self._faults.gate()
        if not self._watch_slots.acquire(blocking=False):
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"at most {WATCH_SLOTS} concurrent Watch streams; use Check",
            )
        try:
            last: ServingStatus | None = None
            while context.is_active():
                with self._cond:
                    status = self._status.get(request.service, SERVICE_UNKNOWN)
                    done = self._shutting_down
                    if status == last and not done:
                        self._cond.wait(timeout=1.0)
                        continue
                self._faults.gate()
                if status != last:
                    yield health_pb2.HealthCheckResponse(status=status)
                    last = status
                if done:
                    return
        finally:
            self._watch_slots.release()


class InfoServicer:
    def __init__(self, rt: Runtime, info: ModelInfo) -> None:
        self._rt = rt
        self._info = info

    def reply(self) -> worker_pb2.InfoReply:
        i = self._info
        return worker_pb2.InfoReply(
            kind=self._rt.kind,
            model_id=i.model_id,
            dim=i.dim,
            pid=os.getpid(),
            version=__version__,
            backend=i.backend,
            precision=i.precision,
            device=i.device,
            max_batch=self._rt.max_batch,
            max_text_bytes=self._rt.max_text_bytes,
            served=self._rt.served,
        )

    def Info(  # noqa: N802 - gRPC method name
        self, request: worker_pb2.InfoRequest, context: grpc.ServicerContext
    ) -> worker_pb2.InfoReply:
        self._rt.faults.gate()
        return self.reply()

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            "weft.worker.v1.Worker",
            {
                "Info": grpc.unary_unary_rpc_method_handler(
                    self.Info,
                    request_deserializer=worker_pb2.InfoRequest.FromString,
                    response_serializer=worker_pb2.InfoReply.SerializeToString,
                )
            },
        )


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "weft"


def default_models_dir() -> Path:
    env = os.environ.get("WEFT_MODELS")
    return Path(env) if env else default_data_dir() / "models"


def common_parser(kind: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m weft_workers {kind}", description=f"Weft {kind} worker"
    )
    p.add_argument(
        "--listen",
        required=True,
        help="unix:/abs/path.sock or HOST:PORT (non-loopback needs TLS and a token)",
    )
    p.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate chain")
    p.add_argument("--tls-key", metavar="PEM", help="private key for --tls-cert")
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"require 'authorization: Bearer <token>' on every RPC; the file must be mode "
        f"0600 (or set ${TOKEN_ENV} to the token itself)",
    )
    p.add_argument("--threads", type=int, default=0, help="compute threads (default: cores/pool)")
    p.add_argument("--pool-size", type=int, default=1, help="workers sharing this machine")
    p.add_argument("--max-inflight", type=int, default=4, help="concurrent model requests")
    p.add_argument("--max-batch", type=int, default=256, help="texts per request")
    p.add_argument("--max-text-bytes", type=int, default=DEFAULT_MAX_TEXT_BYTES)
    p.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES)
    # Not WEFT_LOG: that is the Rust core's tracing filter ("info,weft_actors=debug").
    p.add_argument("--log-level", default=os.environ.get("WEFT_WORKER_LOG_LEVEL", "info"))
    return p


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def resolve_threads(threads: int, pool_size: int) -> int:
    if threads > 0:
        return threads
    return max(1, cpu_count() // max(1, pool_size))


def _socket_alive(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(path)
        except OSError:
            return False
        return True


def _bind(server: grpc.Server, listen: str, creds: grpc.ServerCredentials | None = None) -> str:
    """Bind (TLS when `creds` is given) and return the address as clients should dial it."""

    def add_port(address: str) -> int:
        if creds is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, creds)

    if listen.startswith("unix:"):
        path = listen.removeprefix("unix:")
        if path.startswith("//"):
            path = path[2:]
        if not path.startswith("/"):
            raise ValueError(f"--listen {listen}: the socket path must be absolute")
        sock = Path(path)
        if sock.is_socket():
            if _socket_alive(path):
                raise RuntimeError(f"{path} is in use by a live process")
            sock.unlink()  # stale socket of a dead predecessor
        add_port(f"unix:{path}")
        return f"unix:{path}"
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen {listen}: expected unix:/abs/path.sock or HOST:PORT")
    bound = add_port(listen)
    if bound == 0:
        raise RuntimeError(f"could not bind {listen}")
    return f"{host}:{bound}"


Loader = Callable[[argparse.Namespace, int], Service]


def run(
    kind: str,
    argv: list[str],
    add_arguments: Callable[[argparse.ArgumentParser], None],
    load: Loader,
) -> int:
    # Keep fd 1 for the handshake only; everything else that writes to stdout (Python or C)
    # lands on stderr.
    handshake = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    parser = common_parser(kind)
    add_arguments(parser)
    args = parser.parse_args(argv)
    level = args.log_level.upper()
    if level not in logging.getLevelNamesMapping():
        print(
            f"weft-worker {kind}: unknown log level {args.log_level!r}; using INFO",
            file=sys.stderr,
        )
        level = "INFO"
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format=f"%(asctime)s weft-worker {kind}[%(process)d] %(levelname)s %(message)s",
    )
    try:
        security: Security = from_args(args.listen, args.tls_cert, args.tls_key, args.token_file)
    except ConfigError as e:
        print(f"weft-worker {kind}: {e}", file=sys.stderr, flush=True)
        return LOAD_FAILED_EXIT
    faults = Faults.from_env()
    threads = resolve_threads(args.threads, args.pool_size)
    faults.before_load()
    t0 = time.monotonic()
    try:
        if faults.fail_load:
            raise ModelLoadError(
                "cannot load model: WEFT_FAULT_FAIL_LOAD is set (fault injection); unset it"
            )
        service = load(args, threads)
    except ModelLoadError as e:
        print(f"weft-worker {kind}: {e}", file=sys.stderr, flush=True)
        return LOAD_FAILED_EXIT
    log.info(
        "loaded %s in %.1fs (backend %s, %s, %s, %d threads)",
        service.info.model_id,
        time.monotonic() - t0,
        service.info.backend,
        service.info.precision,
        service.info.device,
        threads,
    )

    rt = Runtime(
        kind=kind,
        faults=faults,
        max_inflight=max(1, args.max_inflight),
        max_batch=args.max_batch,
        max_text_bytes=args.max_text_bytes,
        threads=threads,
    )
    health = HealthServicer(faults, ["weft.worker.v1.Worker", service.service_name])
    server = grpc.server(
        ThreadPoolExecutor(
            max_workers=rt.max_inflight + 1 + WATCH_SLOTS, thread_name_prefix=f"weft-{kind}"
        ),
        options=[
            ("grpc.max_receive_message_length", args.max_message_bytes),
            ("grpc.max_send_message_length", args.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
        interceptors=security.interceptors(),
    )
    server.add_generic_rpc_handlers((InfoServicer(rt, service.info).handler(), service.handler(rt)))
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    try:
        addr = _bind(server, args.listen, security.server_credentials())
    except (ValueError, RuntimeError) as e:
        print(
            f"weft-worker {kind}: cannot listen: {e}; pick a free address",
            file=sys.stderr,
            flush=True,
        )
        return LOAD_FAILED_EXIT

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if faults.hung:
            log.warning("got %s while hung (WEFT_FAULT_HANG_AFTER): ignoring it", name)
            return
        log.info("got %s: draining", name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server.start()
    health.set_all(SERVING)
    if faults.bad_handshake:
        handshake.write(BAD_HANDSHAKE_LINE + "\n")
    else:
        ready = {
            "addr": addr,
            "pid": os.getpid(),
            "kind": kind,
            "model_id": service.info.model_id,
            "tls": security.tls is not None,
            "auth": security.token is not None,
        }
        handshake.write("READY " + json.dumps(ready) + "\n")
    handshake.flush()
    log.info(
        "serving %s on %s (tls %s, auth %s)",
        service.service_name,
        addr,
        "on" if security.tls else "off",
        "on" if security.token else "off",
    )

    while not stop.wait(timeout=1.0):
        pass
    health.enter_graceful_shutdown()
    server.stop(GRACE_S).wait(GRACE_S + 1)
    log.info("stopped after %d requests", rt.served)
    logging.shutdown()
    sys.stderr.flush()
    # Handler threads blocked by a fault knob (or a stuck model call) must not keep us alive.
    os._exit(0)
