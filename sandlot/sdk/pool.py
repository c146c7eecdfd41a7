"""A warm pool: sandboxes made ahead of time, so a create can take one instead of waiting.

Tier-agnostic: it holds whole `SandboxCore`s made by a factory, whichever tier runs them
(the process tier's spares and the microvm pool speed up a single start inside one tier;
this keeps finished sandboxes ready above them). One thread per pool refills it after each
take, one sandbox at a time, so a pool never holds more than its size; a factory that
fails is retried with a growing pause instead of spinning. `close()` stops the thread and
closes every sandbox still waiting.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from .core import SandboxCore

log = logging.getLogger("sandlot.pool")

MAX_BACKOFF = 30.0
"""The longest pause between refill attempts after the factory failed."""


class WarmPool:
    """Keeps `size` sandboxes from `make()` ready. Thread-safe."""

    def __init__(self, make: Callable[[], SandboxCore], size: int, *, name: str = "pool") -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"a pool's size must be an integer >= 0; got {size!r}")
        self.name = name
        self.size = size
        self._make = make
        self._lock = threading.Lock()
        self._ready: deque[SandboxCore] = deque()
        self._wake = threading.Event()
        self._closed = False
        self.filled = 0  # sandboxes made for the pool so far
        self.failures = 0  # factory errors so far
        self._thread = threading.Thread(target=self._fill, name=f"sandlot-{name}", daemon=True)
        self._thread.start()

    @property
    def ready(self) -> int:
        with self._lock:
            return len(self._ready)

    def take(self) -> SandboxCore | None:
        """A ready sandbox (the refill starts at once), or None when none is ready."""
        with self._lock:
            while self._ready:
                core = self._ready.popleft()
                if not core.closed:
                    self._wake.set()
                    return core
            self._wake.set()
        return None

    def wait_ready(self, count: int, timeout: float) -> bool:
        """Wait until `count` sandboxes are ready (tests, and a server that wants its
        pools full before it answers); False on timeout."""
        import time

        deadline = time.monotonic() + timeout
        while self.ready < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _fill(self) -> None:
        backoff = 0.5
        while True:
            with self._lock:
                if self._closed:
                    return
                short = len(self._ready) < self.size
                if not short:
                    self._wake.clear()
            if not short:
                self._wake.wait()
                continue
            try:
                core = self._make()
            except Exception as e:  # noqa: BLE001 - a pool must outlive a bad start
                self.failures += 1
                log.warning("warm pool %s: making a sandbox failed: %s", self.name, e)
                with self._lock:
                    if self._closed:
                        return
                self._wake.clear()
                self._wake.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
                continue
            backoff = 0.5
            with self._lock:
                if not self._closed:
                    self._ready.append(core)
                    self.filled += 1
                    continue
            core.close()  # closed while it was being made
            return

    def close(self, timeout: float = 30.0) -> None:
        """Stop refilling and close the ready sandboxes (one being made is closed by the
        refill thread when it is done). Idempotent."""
        with self._lock:
            self._closed = True
            ready, self._ready = list(self._ready), deque()
            self._wake.set()
        for core in ready:
            try:
                core.close()
            except Exception:  # noqa: BLE001 - close the others
                log.exception("warm pool %s: closing a sandbox failed", self.name)
        self._thread.join(timeout)
