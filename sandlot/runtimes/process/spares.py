"""Warm spares: one jail started ahead of time per sandbox configuration in use.

A cold process sandbox costs bwrap plus a Python start plus the agent's imports (about
3× a bare `python3 -c pass`); most of it is the interpreter, which nothing on the host can
share with a new namespace. So after each `open`, the tier starts the next sandbox of the
same configuration (template and the root it resolves to, limits, envs) in a background
thread; the next `open` with
that configuration takes it (a few ms) or waits for it if it is still starting.

A spare is an ordinary sandbox that no caller holds yet: its own folders, cgroups and
agent, nothing shared with the sandbox before or after it. Spares are closed at exit.
`SANDLOT_PROCESS_SPARES=0` turns them off. The gvisor tier uses the same pool with its own
sandbox class and switch (`SANDLOT_GVISOR_SPARES`).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, Protocol, TypeVar

from ..base import SandboxSpec
from . import userland
from .sandbox import ProcessSandbox

MAX_CONFIGS = 4  # configurations with a spare at once; the least recent one's is dropped


class _Box(Protocol):
    def alive(self) -> bool: ...

    def close(self) -> None: ...


Box = TypeVar("Box", bound=_Box)


def enabled(variable: str = "SANDLOT_PROCESS_SPARES", default: str = "1") -> bool:
    return os.environ.get(variable, default) not in ("0", "", "false", "no")


def _key(spec: SandboxSpec) -> Any:
    return (spec.template, spec.limits.memory_bytes, tuple(sorted(spec.envs.items())))


class Pool(Generic[Box]):
    """One spare per configuration in use, for any tier's sandbox class."""

    def __init__(self, make: Callable[[SandboxSpec], Box], variable: str, default: str) -> None:
        self._make = make
        self._variable = variable
        self._default = default
        self._lock = threading.Lock()
        self._ready: dict[Any, Future[Box]] = {}
        atexit.register(self.close_all)

    def open(self, spec: SandboxSpec) -> Box:
        """A sandbox for `spec`: a spare when one is ready or starting, else a new one."""
        return self._open(spec, _key(spec), self._make)

    def _open(self, spec: SandboxSpec, key: Any, make: Callable[[SandboxSpec], Box]) -> Box:
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

    def _refill(self, key: Any, spec: SandboxSpec, make: Callable[[SandboxSpec], Box]) -> None:
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


class Spares(Pool[ProcessSandbox]):
    """The process tier's pool (on unless SANDLOT_PROCESS_SPARES=0).

    The template's root is resolved at each open (an image built or rebuilt since, a
    missing one's error) and is part of the key: a spare on the host's userland is never
    handed out for an image's root, nor one of an older image for a newer one."""

    def __init__(self) -> None:
        super().__init__(ProcessSandbox, "SANDLOT_PROCESS_SPARES", "1")

    @staticmethod
    def key(spec: SandboxSpec, root: userland.Root) -> Any:
        return (_key(spec), root.key)

    def open(self, spec: SandboxSpec) -> ProcessSandbox:
        return self.open_on(spec, userland.resolve(spec.template))

    def open_on(self, spec: SandboxSpec, root: userland.Root) -> ProcessSandbox:
        """A sandbox for `spec` on `root` (resolved by the caller)."""
        return self._open(spec, self.key(spec, root), lambda s: ProcessSandbox(s, root))


def _close_result(future: Future[Any]) -> None:
    if future.exception() is None:
        future.result().close()
