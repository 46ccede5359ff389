"""Typed request errors: a gRPC status plus a stable `weft-error-code` trailing-metadata value
(the proto's ErrorCode enum name), so the Rust side never parses messages."""

from __future__ import annotations

from typing import NoReturn

import grpc

from weft_workers._gen import worker_pb2

ERROR_CODE_KEY = "weft-error-code"


class ModelLoadError(Exception):
    """The model could not be loaded; the message names the thing and the fix."""


class RequestError(Exception):
    """A request the worker refuses; the worker keeps serving."""

    def __init__(self, status: grpc.StatusCode, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @property
    def code_name(self) -> str:
        return worker_pb2.ErrorCode.Name(self.code)

    def abort(self, context: grpc.ServicerContext) -> NoReturn:
        context.set_trailing_metadata(((ERROR_CODE_KEY, self.code_name),))
        context.abort(self.status, self.message)
        raise AssertionError("context.abort returned")  # pragma: no cover


def invalid(code: int, message: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, code, message)


def check_texts(texts: list[str], max_batch: int, max_text_bytes: int) -> None:
    """The shared batch checks: non-empty, not too many, each text encodable and small enough."""
    if not texts:
        raise invalid(worker_pb2.ERROR_CODE_EMPTY_BATCH, "empty batch: send at least one text")
    if len(texts) > max_batch:
        raise invalid(
            worker_pb2.ERROR_CODE_BATCH_TOO_LARGE,
            f"batch of {len(texts)} texts is over this worker's limit of {max_batch}",
        )
    for i, text in enumerate(texts):
        check_text(text, max_text_bytes, f"texts[{i}]")


def check_text(text: str, max_text_bytes: int, what: str) -> int:
    """Return the text's UTF-8 size, or raise TEXT_TOO_LARGE / INVALID_TEXT."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as e:  # lone surrogates and the like
        raise invalid(
            worker_pb2.ERROR_CODE_INVALID_TEXT,
            f"{what} is not valid Unicode text ({e.reason} at character {e.start})",
        ) from None
    if size > max_text_bytes:
        raise invalid(
            worker_pb2.ERROR_CODE_TEXT_TOO_LARGE,
            f"{what} is {size} bytes, over this worker's limit of {max_text_bytes}",
        )
    return size
