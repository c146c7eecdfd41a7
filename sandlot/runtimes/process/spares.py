"""Warm spares: one jail started ahead of time per sandbox configuration in use.

A cold process sandbox costs bwrap plus a Python start plus the agent's imports (about
3× a bare `python3 -c pass`); most of it is the interpreter, which nothing on the host can
share with a new namespace. So after each `open`, the tier starts the next sandbox of the
same configuration (template, limits, envs) in a background thread; the next `open` with
that configuration takes it (a few ms) or waits for it if it is still starting.

A spare is an ordinary sandbox that no caller holds yet: its own folders, cgroups and
agent, nothing shared with the sandbox before or after it. Spares are closed at exit.
`SANDLOT_PROCESS_SPARES=0` turns them off.
"""

from __future__ import annotations

import atexit
import os
import threading
from concurrent.futures import Future
from typing import Any

from ..base import SandboxSpec
from .sandbox import ProcessSandbox

MAX_CONFIGS = 4  # configurations with a spare at once; the least recent one's is dropped


def enabled() -> bool:
    return os.environ.get("SANDLOT_PROCESS_SPARES", "1") not in ("0", "", "false", "no")


def _key(spec: SandboxSpec) -> Any:
    return (spec.template, spec.limits.memory_bytes, tuple(sorted(spec.envs.items())))


class Spares:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[Any, Future[ProcessSandbox]] = {}
        atexit.register(self.close_all)

    def open(self, spec: SandboxSpec) -> ProcessSandbox:
        """A sandbox for `spec`: a spare when one is ready or starting, else a new one."""
        if not enabled():
            return ProcessSandbox(spec)
        key = _key(spec)
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
            box = ProcessSandbox(spec)
        self._refill(key, spec)
        return box

    def _refill(self, key: Any, spec: SandboxSpec) -> None:
        future: Future[ProcessSandbox] = Future()
        with self._lock:
            if key in self._ready:
                return
            while len(self._ready) >= MAX_CONFIGS:
                _, old = self._ready.popitem()
                old.add_done_callback(_close_result)
            self._ready[key] = future

        def start() -> None:
            try:
                future.set_result(ProcessSandbox(spec))
            except BaseException as e:
                future.set_exception(e)

        threading.Thread(target=start, name="sandlot-process-spare", daemon=True).start()

    def close_all(self) -> None:
        with self._lock:
            futures = list(self._ready.values())
            self._ready.clear()
        for future in futures:
            future.add_done_callback(_close_result)


def _close_result(future: Future[ProcessSandbox]) -> None:
    if future.exception() is None:
        future.result().close()
