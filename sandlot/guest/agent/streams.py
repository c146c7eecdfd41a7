"""Output streams that forward what the code prints, in chunks, as it prints it.

Writes are buffered and flushed when the buffer is large or old, so a print loop costs a
few host calls rather than one per line; bytes past the call's cap are dropped and counted
so the host can say the output was truncated.

Old data must also leave when nothing more is written (`print("start")` then a long loop,
or a sleep): the guest may have no threads to flush on a timer, so while a stream holds
data we watch the code's loops with `sys.monitoring` (jump events, off again once the data
has left) and flush before a `time.sleep`.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable

FLUSH_BYTES = 16 << 10
FLUSH_SECONDS = 0.05


class ForwardingStream(io.TextIOBase):
    """A text stream whose data goes to `emit(name, text)` in chunks, up to `cap` bytes."""

    def __init__(self, name: str, emit: Callable[[str, str], None], cap: int) -> None:
        super().__init__()
        self.name = name
        self._emit = emit
        self._cap = cap
        self._sent = 0
        self._parts: list[str] = []
        self._pending = 0
        self._since = time.monotonic()
        self.truncated = False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        n = len(s)
        room = self._cap - self._sent - self._pending
        if room <= 0:
            self.truncated = self.truncated or n > 0
            return n
        if len(s) > room:  # characters approximate bytes; the host enforces bytes exactly
            s = s[:room]
            self.truncated = True
        self._parts.append(s)
        self._pending += len(s)
        if self._pending >= FLUSH_BYTES or time.monotonic() - self._since >= FLUSH_SECONDS:
            self.flush()
        else:
            _watch(self)
        return n

    def flush(self) -> None:
        if self._parts:
            text = "".join(self._parts)
            self._parts.clear()
            self._sent += self._pending
            self._pending = 0
            self._emit(self.name, text)
        self._since = time.monotonic()
        if self in _waiting:
            _waiting.remove(self)
            if not _waiting and _tool_ok and _monitoring is not None:
                _monitoring.set_events(_TOOL, 0)


# -- flushing data that waits while the code runs on without writing ----------------------

_TOOL = 4  # a sys.monitoring tool id that the debugger, coverage and profilers don't use
_waiting: list[ForwardingStream] = []
_monitoring = getattr(sys, "monitoring", None)
_tool_ok = False


def _flush_waiting() -> None:
    streams = list(_waiting)
    _waiting.clear()
    if _tool_ok and _monitoring is not None:
        _monitoring.set_events(_TOOL, 0)
    for stream in streams:
        stream.flush()


def _on_jump(*_: object) -> object:
    if _waiting and time.monotonic() - _waiting[0]._since >= FLUSH_SECONDS:
        _flush_waiting()
    return None


def _watch(stream: ForwardingStream) -> None:
    if stream in _waiting:
        return
    _waiting.append(stream)
    if _tool_ok and _monitoring is not None and len(_waiting) == 1:
        _monitoring.set_events(_TOOL, _monitoring.events.JUMP)


def _install() -> None:
    global _tool_ok
    if _monitoring is not None:
        try:
            _monitoring.use_tool_id(_TOOL, "sandlot-output")
            _monitoring.register_callback(_TOOL, _monitoring.events.JUMP, _on_jump)
            _tool_ok = True
        except (ValueError, RuntimeError):  # taken: old data then waits for the next write
            _tool_ok = False
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if _waiting:
            _flush_waiting()
        real_sleep(seconds)

    sleep.__doc__ = real_sleep.__doc__
    time.sleep = sleep


_install()
