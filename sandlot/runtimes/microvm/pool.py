"""Warm pools: restored, reseeded VMs waiting for `Sandbox.create()`.

One pool per VM shape (template image, kernel, memory). Taking a VM is a deque pop; a
background thread refills the pool to its size (`SANDLOT_MICROVM_POOL`, default 1; 0
turns pools off), while all pools together stay within a memory budget
(`SANDLOT_MICROVM_POOL_MEMORY`, bytes or with a K/M/G suffix, default 1G), counted as the
proportional resident memory (PSS) of the pooled QEMU processes: an idle VM shares most of
its pages with its template, so that is what it really costs the host. Every pooled VM
was restored and reseeded on its own, so no two ever share random state. Pooled VMs die with
the process (PR_SET_PDEATHSIG) and are killed at exit, so none outlives it.
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


DEFAULT_BUDGET = 1 << 30
FIRST_GUESS = 64 << 20  # what a VM is taken to cost before one of its shape was measured


def pool_budget() -> int:
    """The most memory the pooled (idle) VMs of all pools may hold together."""
    text = os.environ.get("SANDLOT_MICROVM_POOL_MEMORY", "").strip().upper()
    if not text:
        return DEFAULT_BUDGET
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1], 1)
    try:
        return max(0, int(float(text.rstrip("KMGB") or "0") * scale))
    except ValueError:
        return DEFAULT_BUDGET


def resident_bytes(pid: int) -> int:
    """A process's proportional set size (shared pages split among their users)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        pass
    return 0


def pooled_bytes() -> int:
    """What the ready VMs of every pool hold now."""
    return sum(pool.held_bytes() for pool in list(_pools))


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
        self.held_back = False  # the last refill stopped at the memory budget
        self._vm_bytes = FIRST_GUESS  # the latest measured cost of one of this pool's VMs
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
        for pool in list(_pools):  # room in the budget for pools that stopped at it
            if pool.held_back:
                pool._wake.set()
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
            self.held_back = short and pooled_bytes() + self._vm_bytes > pool_budget()
            if not short or self.held_back:
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
            self._vm_bytes = resident_bytes(ready[0].pid) or self._vm_bytes

    def held_bytes(self) -> int:
        with self._lock:
            pids = [vm.pid for vm, _ in self._ready]
        return sum(resident_bytes(pid) for pid in pids)

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
