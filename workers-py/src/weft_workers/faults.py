"""Fault knobs for the Rust side's chaos tests. All are OFF unless the variable is set.

| variable                      | effect                                                        |
|-------------------------------|---------------------------------------------------------------|
| `WEFT_FAULT_CRASH_AFTER=N`    | serve N model requests, then `os._exit(3)` the moment request |
|                               | N+1 arrives (no reply, no cleanup: a hard crash).             |
| `WEFT_FAULT_HANG_AFTER=N`     | serve N model requests; request N+1 never returns, and from   |
|                               | then on every RPC (Health.Check/Watch, Worker.Info, model     |
|                               | calls) blocks forever: the process is alive but answers       |
|                               | nothing. Once hung it also ignores SIGTERM/SIGINT (a wedged   |
|                               | process): only SIGKILL ends it.                               |
| `WEFT_FAULT_SLOW_START_MS=N`  | sleep N ms before loading the model (so before READY).        |
| `WEFT_FAULT_BAD_HANDSHAKE=1`  | print a garbage line instead of `READY {...}`, then serve.    |
| `WEFT_FAULT_FAIL_LOAD=1`      | model loading raises: one clear stderr line, exit 2.          |

"Model requests" are the kind's own RPCs (Embed, Extract, Complete); health checks and
Worker.Info never count, so a supervisor's probes don't move the crash point.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger("weft_workers.faults")

CRASH_EXIT_CODE = 3
BAD_HANDSHAKE_LINE = "READY?? \x7fgarbage-handshake{not json"


def _int_env(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"weft-worker: {name}={raw!r} is not an integer; unset it") from None
    return max(0, value)


@dataclass
class Faults:
    crash_after: int | None = None
    hang_after: int | None = None
    slow_start_ms: int | None = None
    bad_handshake: bool = False
    fail_load: bool = False
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hung: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_env(cls) -> Faults:
        faults = cls(
            crash_after=_int_env("WEFT_FAULT_CRASH_AFTER"),
            hang_after=_int_env("WEFT_FAULT_HANG_AFTER"),
            slow_start_ms=_int_env("WEFT_FAULT_SLOW_START_MS"),
            bad_handshake=os.environ.get("WEFT_FAULT_BAD_HANDSHAKE", "") not in ("", "0"),
            fail_load=os.environ.get("WEFT_FAULT_FAIL_LOAD", "") not in ("", "0"),
        )
        if faults.any():
            log.warning("fault injection active: %s", faults.describe())
        return faults

    def any(self) -> bool:
        return bool(
            self.crash_after is not None
            or self.hang_after is not None
            or self.slow_start_ms
            or self.bad_handshake
            or self.fail_load
        )

    def describe(self) -> str:
        parts = [
            f"crash_after={self.crash_after}" if self.crash_after is not None else "",
            f"hang_after={self.hang_after}" if self.hang_after is not None else "",
            f"slow_start_ms={self.slow_start_ms}" if self.slow_start_ms else "",
            "bad_handshake" if self.bad_handshake else "",
            "fail_load" if self.fail_load else "",
        ]
        return " ".join(p for p in parts if p)

    def before_load(self) -> None:
        if self.slow_start_ms:
            time.sleep(self.slow_start_ms / 1000)

    @property
    def hung(self) -> bool:
        return self._hung.is_set()

    def gate(self) -> None:
        """Called at the top of every RPC handler: once hung, nothing answers again."""
        if self._hung.is_set():
            threading.Event().wait()

    def on_model_request(self) -> None:
        """Called when a model request arrives, before any work."""
        self.gate()
        with self._lock:
            self._count += 1
            n = self._count
        if self.crash_after is not None and n > self.crash_after:
            log.error("WEFT_FAULT_CRASH_AFTER=%d: crashing on request %d", self.crash_after, n)
            logging.shutdown()
            os._exit(CRASH_EXIT_CODE)
        if self.hang_after is not None and n > self.hang_after:
            log.error("WEFT_FAULT_HANG_AFTER=%d: hanging on request %d", self.hang_after, n)
            self._hung.set()
            threading.Event().wait()
