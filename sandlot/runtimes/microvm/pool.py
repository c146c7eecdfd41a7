"""Warm pools: restored, reseeded VMs waiting for `Sandbox.create()`.

One pool per VM shape (template image, kernel, memory). Taking a VM is a deque pop; a
background thread refills the pool to its size (`SANDLOT_MICROVM_POOL`, default 1; 0
turns pools off). Every pooled VM was restored and reseeded on its own, so no two ever
share random state. Pooled VMs die with the process (PR_SET_PDEATHSIG) and are killed at
exit, so none outlives it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable

from .channel import Channel
from .vmm import VM

Restore = Callable[[], tuple[VM, Channel]]


def pool_size() -> int:
    try:
        return max(0, int(os.environ.get("SANDLOT_MICROVM_POOL", "1")))
    except ValueError:
        return 1


class Pool:
    def __init__(self, restore: Restore, size: int) -> None:
        self._restore = restore
        self.size = size
        self._ready: deque[tuple[VM, Channel]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None
        _pools.append(self)

    def take(self) -> tuple[VM, Channel] | None:
        """A ready VM, or None when the pool is empty; the pool refills behind."""
        got = None
        with self._lock:
            while self._ready:
                vm, channel = self._ready.popleft()
                if vm.alive():
                    got = (vm, channel)
                    break
                vm.kill()
        self.refill()
        return got

    def refill(self) -> None:
        if self.size <= 0 or self._closed:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._fill, name="sandlot-microvm-pool", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def _fill(self) -> None:
        failures = 0
        while not self._closed:
            with self._lock:
                short = len(self._ready) < self.size
            if not short:
                self._wake.clear()
                self._wake.wait(timeout=30)
                continue
            try:
                ready = self._restore()
            except Exception as e:  # kept for the caller's error; retried a few times
                self.last_error = e
                failures += 1
                if failures >= 3:
                    return
                continue
            failures = 0
            with self._lock:
                if self._closed:
                    ready[0].kill()
                    return
                self._ready.append(ready)

    def ready_count(self) -> int:
        with self._lock:
            return len(self._ready)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        with self._lock:
            ready, self._ready = list(self._ready), deque()
        for vm, _ in ready:
            with contextlib.suppress(Exception):
                vm.kill()


_pools: list[Pool] = []


@atexit.register
def _close_all() -> None:
    for pool in _pools:
        pool.close()
