"""Output streams that forward what the code prints, in chunks, as it prints it.

Writes are buffered and flushed when the buffer is large or old, so a print loop costs a
few host calls rather than one per line; bytes past the call's cap are dropped and counted
so the host can say the output was truncated.
"""

from __future__ import annotations

import io
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
        return n

    def flush(self) -> None:
        if self._parts:
            text = "".join(self._parts)
            self._parts.clear()
            self._sent += self._pending
            self._pending = 0
            self._emit(self.name, text)
        self._since = time.monotonic()
