"""Warm spares: one sandbox started ahead of time per configuration in use.

A cold Linux-tier sandbox costs a jail plus a Python start plus the agent's imports
(about 3x a bare `python3 -c pass` on the process tier, ~0.5 s under runsc); most of it is
the interpreter, which nothing on the host can share with a new namespace. So after each
`open`, the tier starts the next sandbox of the same configuration in a background thread;
the next `open` with that configuration takes it (a few ms) or waits for it if it is still
starting.

A configuration is the whole `SandboxSpec` (frozen and hashable), plus whatever else the
tier makes the sandbox from (the process tier's resolved root): nothing that shapes a
sandbox can be left out of the key when the spec gains a field. A spare is an ordinary
sandbox that no caller holds yet: its own folders, cgroups and agent, nothing shared with
the sandbox before or after it. Spares are closed at exit; each tier has a switch to turn
them off (`SANDLOT_PROCESS_SPARES=0`, `SANDLOT_GVISOR_SPARES=0`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, Generic, Protocol, TypeVar

from ..base import SandboxSpec

MAX_CONFIGS = 4  # configurations with a spare at once; the least recent one's is dropped


class _Box(Protocol):
    def alive(self) -> bool: ...

    def close(self) -> None: ...


Box = TypeVar("Box", bound=_Box)


def enabled(variable: str, default: str = "1") -> bool:
    return os.environ.get(variable, default) not in ("0", "", "false", "no")


class Pool(Generic[Box]):
    """One spare per configuration in use, for any tier's sandbox class; `make(spec)`
    starts one, and the spec is the key."""

    def __init__(self, make: Callable[[SandboxSpec], Box], variable: str, default: str) -> None:
        self._make = make
        self._variable = variable
        self._default = default
        self._lock = threading.Lock()
        self._ready: dict[Hashable, Future[Box]] = {}
        atexit.register(self.close_all)

    def open(self, spec: SandboxSpec) -> Box:
        """A sandbox for `spec`: a spare when one is ready or starting, else a new one."""
        return self._open(spec, spec, self._make)

    def _open(self, spec: SandboxSpec, key: Hashable, make: Callable[[SandboxSpec], Box]) -> Box:
        if not enabled(self._variable, self._default):
            return make(spec)
        with self._lock:
            future = self._ready.pop(key, None)
        box = None
        if future is not None:
            try:
                box = future.result()
            except Exception:
                box = None  # the spare failed to start: a cold start says why, if it must
            if box is not None and not box.alive():
                box.close()
                box = None
        if box is None:
            box = make(spec)
        self._refill(key, spec, make)
        return box

    def _refill(self, key: Hashable, spec: SandboxSpec, make: Callable[[SandboxSpec], Box]) -> None:
        future: Future[Box] = Future()
        with self._lock:
            if key in self._ready:
                return
            while len(self._ready) >= MAX_CONFIGS:
                _, old = self._ready.popitem()
                old.add_done_callback(_close_result)
            self._ready[key] = future

        def start() -> None:
            try:
                future.set_result(make(spec))
            except BaseException as e:
                future.set_exception(e)

        threading.Thread(target=start, name="sandlot-spare", daemon=True).start()

    def close_all(self) -> None:
        with self._lock:
            futures = list(self._ready.values())
            self._ready.clear()
        for future in futures:
            future.add_done_callback(_close_result)

    def drain(self, timeout: float = 30.0) -> None:
        """`close_all`, then wait (up to `timeout` s each) for spares still starting, so
        that each is closed before this returns."""
        with self._lock:
            futures = list(self._ready.values())
        self.close_all()
        for future in futures:
            with contextlib.suppress(Exception):
                future.exception(timeout)


def _close_result(future: Future[Any]) -> None:
    if future.exception() is None:
        future.result().close()
