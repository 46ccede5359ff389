"""Remote workers: TLS and a bearer token on TCP.

A worker on another machine joins a pool over TCP. Listening anywhere but loopback requires
both `--tls-cert/--tls-key` and a token (`--token-file` or `$WEFT_WORKER_TOKEN`); unix sockets
and loopback TCP need neither, but a token that is given is enforced. The token is checked by
a `grpc.ServerInterceptor`, so every RPC (Info, Health Check/Watch, the kind's service) is
covered and no handler can forget it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import grpc

from weft_workers._gen import worker_pb2
from weft_workers.errors import ERROR_CODE_KEY

TOKEN_ENV = "WEFT_WORKER_TOKEN"
AUTH_KEY = "authorization"
UNAUTHENTICATED_MESSAGE = (
    "missing or wrong bearer token; pass the token from [workers] remote_token_file"
)


class ConfigError(Exception):
    """A bad security flag; the message names the problem and the fix."""


@dataclass(frozen=True)
class Security:
    tls: tuple[bytes, bytes] | None  # (private key PEM, certificate chain PEM)
    token: str | None

    def server_credentials(self) -> grpc.ServerCredentials | None:
        if self.tls is None:
            return None
        return grpc.ssl_server_credentials([self.tls])

    def interceptors(self) -> list[grpc.ServerInterceptor]:
        return [] if self.token is None else [BearerTokenInterceptor(self.token)]


def is_loopback_listen(listen: str) -> bool:
    """True for unix sockets and TCP on 127.0.0.0/8, ::1 or localhost."""
    if listen.startswith("unix:"):
        return True
    host = listen.rpartition(":")[0].strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname or "" (all interfaces): assume it is reachable


def _read_pem(flag: str, path: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"{flag} {path}: cannot read it ({e.strerror}); fix the path") from None
    if b"-----BEGIN" not in data:
        raise ConfigError(f"{flag} {path}: not a PEM file; pass a PEM-encoded file")
    return data


def _check_token(token: str, where: str) -> str:
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigError(
            f"{where}: the token must be printable ASCII without spaces; regenerate it"
        )
    return token


def read_token_file(path: str) -> str:
    p = Path(path)
    try:
        mode = p.stat().st_mode
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--token-file {path}: no such file; create it (mode 0600)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--token-file {path}: cannot read it ({e}); fix the file") from None
    if mode & 0o077:
        raise ConfigError(
            f"--token-file {path}: readable by group/others (mode {mode & 0o777:04o}); "
            f"run chmod 600 {path}"
        )
    token = raw.strip()
    if not token:
        raise ConfigError(f"--token-file {path}: the file is empty; write the token into it")
    return _check_token(token, f"--token-file {path}")


def from_args(
    listen: str,
    tls_cert: str | None,
    tls_key: str | None,
    token_file: str | None,
    environ: dict[str, str] | None = None,
) -> Security:
    env = os.environ if environ is None else environ
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together; pass both or neither")
    tls = None
    if tls_cert is not None and tls_key is not None:
        tls = (_read_pem("--tls-key", tls_key), _read_pem("--tls-cert", tls_cert))
    token: str | None = None
    if token_file is not None:
        token = read_token_file(token_file)
    elif env.get(TOKEN_ENV, "").strip():
        token = _check_token(env[TOKEN_ENV].strip(), f"${TOKEN_ENV}")
    if not is_loopback_listen(listen) and (tls is None or token is None):
        missing = []
        if tls is None:
            missing.append("--tls-cert/--tls-key")
        if token is None:
            missing.append(f"--token-file (or ${TOKEN_ENV})")
        raise ConfigError(
            f"--listen {listen} is not loopback, so it requires TLS and a token; "
            f"add {' and '.join(missing)}, or listen on 127.0.0.1 or a unix socket"
        )
    return Security(tls=tls, token=token)


def _abort_unauthenticated(_request: object, context: grpc.ServicerContext) -> NoReturn:
    context.set_trailing_metadata(
        ((ERROR_CODE_KEY, worker_pb2.ErrorCode.Name(worker_pb2.ERROR_CODE_UNAUTHENTICATED)),)
    )
    context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
    raise AssertionError("context.abort returned")  # pragma: no cover


def _denying_handler(handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that refuses the call unauthenticated."""
    request_streaming = bool(handler and handler.request_streaming)
    response_streaming = bool(handler and handler.response_streaming)
    make: Callable[..., grpc.RpcMethodHandler]
    if request_streaming and response_streaming:
        make = grpc.stream_stream_rpc_method_handler
    elif request_streaming:
        make = grpc.stream_unary_rpc_method_handler
    elif response_streaming:
        make = grpc.unary_stream_rpc_method_handler
    else:
        make = grpc.unary_unary_rpc_method_handler
    # No deserializer: the request is never parsed for an unauthenticated caller.
    return make(_abort_unauthenticated)


class BearerTokenInterceptor(grpc.ServerInterceptor):
    """Every RPC must carry `authorization: Bearer <token>`; compared in constant time."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def authorized(self, metadata: tuple[tuple[str, str | bytes], ...] | None) -> bool:
        ok = False
        for key, value in metadata or ():
            if key != AUTH_KEY:
                continue
            got = value if isinstance(value, bytes) else value.encode()
            # Check every authorization entry (no early exit) in constant time each.
            ok = hmac.compare_digest(got, self._expected) | ok
        return ok

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if self.authorized(getattr(handler_call_details, "invocation_metadata", None)):
            return handler
        return _denying_handler(handler)
