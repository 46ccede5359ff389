"""Weft's Python workers: stateless embed / ner / llm functions served over gRPC.

Run one with `python -m weft_workers <kind> --listen unix:/abs/path.sock`; see `server` for the
process contract (handshake, health, shutdown) and `faults` for the chaos-test knobs.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("weft-workers")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+src"

KINDS = ("embed", "ner", "llm")
