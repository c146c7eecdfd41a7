"""The wasm guest's open files, recorded at each call's end so that a restore reopens them.

A checkpoint copies the guest's linear memory, but the descriptor table lives in the host
(wasmtime's WASI context): in a fresh session the restored file objects (the user's, and
the fonts matplotlib keeps open) hold numbers that name nothing. So this module keeps, per
number the guest holds, the file's path, open flags and offset, in its own memory (the
checkpoint carries it); after a restore, `reopen()` opens each again at its number and
seeks it back.

`open`/`io.open` and `os.open` are wrapped: each open is recorded with its number, path
and flags, the "open" audit event giving the last two. An open no wrapper saw (the import
system's `open_code`, a module holding the original `_io.open`) is left to `_rescan`,
which matches the numbers held to those paths by inode. Cost at a call's end: nothing when
no file is held; per held file, an attribute check and one lseek for its offset (2-4 us);
the scan (~3 us a free number, ~50 us a held one) only after an open no wrapper saw.
"""

from __future__ import annotations

import builtins
import functools
import io
import os
import sys
import weakref
from collections.abc import Callable
from typing import Any

SCAN_AT_BOOT = 64  # numbers looked at once, at boot, for the preopens
GAP = 16  # free numbers in a row after which a scan stops
MAX_UNSEEN = 512  # paths of unwrapped opens remembered between two notes (the newest kept)
# Never reopened as given: they would create, refuse or empty a file the guest already has.
_CREATING = os.O_CREAT | os.O_EXCL | os.O_TRUNC
_ACCESS = os.O_RDONLY | os.O_WRONLY | os.O_RDWR
_os_open = os.open  # the real ones, for `reopen` (its opens are not the guest's)
_io_open = io.open


class _Held:
    """One number the guest holds: how to open its file again and where the file was.
    `file` (a weak reference) is the object that owns the number, where an open() made it:
    while it lives and is not closed, the number is its own."""

    __slots__ = ("path", "flags", "offset", "file", "key")

    def __init__(self, path: str, flags: int, file: weakref.ref[Any] | None) -> None:
        self.path, self.flags, self.file = path, flags, file
        self.offset: int | None = 0
        self.key: tuple[int, int] | None = None  # (st_dev, st_ino), once checked


_held: dict[int, _Held] = {}
_unseen: list[tuple[str, int]] = []  # (absolute path, flags) of opens no wrapper saw
_preopens: frozenset[int] = frozenset()  # the numbers every fresh session starts with
_wrapping = False  # a wrapper's open is running: its audit event is the wrapper's
_last: tuple[str, int] | None = None  # that event's path and flags


def install() -> None:
    """At boot: learn the preopens and start recording opens."""
    global _preopens
    _preopens = frozenset(fd for fd in range(3, SCAN_AT_BOOT) if _alive(fd))
    sys.addaudithook(_on_audit)
    builtins.open = io.open = _wrap(_io_open, True)
    os.open = _wrap(_os_open, False)


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    global _last
    if event != "open":
        return
    try:
        path, _mode, flags = args
        if isinstance(path, int):  # open(fd): a number the guest already holds
            return
        opened = (os.path.abspath(os.fsdecode(path)), flags if type(flags) is int else 0)
    except Exception:  # noqa: BLE001 - a hook that raises would fail the user's open
        return
    if _wrapping:
        _last = opened
    else:
        _unseen.append(opened)
        if len(_unseen) > 2 * MAX_UNSEEN:
            del _unseen[:-MAX_UNSEEN]


def _wrap(real: Callable[..., Any], makes_file: bool) -> Callable[..., Any]:
    """`real` (io.open or os.open), recording the number each open gives."""

    @functools.wraps(real)
    def opening(*args: Any, **kwargs: Any) -> Any:
        global _wrapping, _last
        _wrapping, _last = True, None
        try:
            made = real(*args, **kwargs)
        finally:
            _wrapping = False
        if _last is not None:
            try:
                fd = made.fileno() if makes_file else made
                _held[fd] = _Held(*_last, weakref.ref(made) if makes_file else None)
            except Exception:  # noqa: BLE001 - an odd object is just not recorded
                pass
        return made

    return opening


def _alive(fd: int) -> bool:
    try:
        os.fstat(fd)  # ~3 us on a free number
    except OSError:
        return False
    return True


def _offset(fd: int) -> int | None:
    """The file's offset; None where it has none (a folder: wasmtime answers EBADF) or the
    number is free."""
    try:
        return os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:
        return None


def note() -> None:
    """At a call's end, before the checkpoint: drop what was closed, record the offsets."""
    if _unseen:
        _rescan()
        return
    if not _held:
        return
    gone = []
    for fd, held in _held.items():
        if held.file is not None:
            file = held.file()
            if file is None or file.closed:
                gone.append(fd)
                continue
        elif held.offset is None:
            continue  # a folder from os.open: a close shows at the next scan
        at = _offset(fd)
        if at is not None:
            held.offset = at
        elif held.file is None:  # from os.open: closed, or a folder (once: then skipped)
            if _alive(fd):
                held.offset = None
            else:
                gone.append(fd)
    for fd in gone:
        del _held[fd]


def _rescan() -> None:
    """Opens no wrapper saw: find every number held (up to GAP free ones in a row past the
    highest) and match the ones no live file object owns to the paths opened."""
    stats: dict[str, tuple[int, int] | None] = {}
    found: dict[int, _Held] = {}
    end = max((*_held, *_preopens, 2)) + 1 + GAP
    fd = 2
    while fd + 1 < end:
        fd += 1
        held = _held.get(fd)
        file = held.file() if held is not None and held.file is not None else None
        if held is not None and file is not None and not file.closed:
            held.offset = _offset(fd)
            found[fd] = held
            end = max(end, fd + 1 + GAP)
            continue
        if fd in _preopens:
            continue
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        end = max(end, fd + 1 + GAP)
        key = (st.st_dev, st.st_ino)
        if held is None or held.file is not None or _key(held, stats) != key:
            held = _match(key, stats)
        if held is not None:
            held.key, held.offset = key, _offset(fd)
            found[fd] = held
    _held.clear()
    _held.update(found)
    _unseen.clear()


def _key(held: _Held, stats: dict[str, tuple[int, int] | None]) -> tuple[int, int] | None:
    if held.key is None:
        held.key = _stat(held.path, stats)
    return held.key


def _stat(path: str, stats: dict[str, tuple[int, int] | None]) -> tuple[int, int] | None:
    if path not in stats:
        try:
            st = os.stat(path)
            stats[path] = (st.st_dev, st.st_ino)
        except OSError:
            stats[path] = None
    return stats[path]


def _match(key: tuple[int, int], stats: dict[str, tuple[int, int] | None]) -> _Held | None:
    """The newest unwrapped open whose path is the file `key` names (taken from the list)."""
    for i in range(len(_unseen) - 1, -1, -1):
        if _stat(_unseen[i][0], stats) == key:
            path, flags = _unseen.pop(i)
            return _Held(path, flags, None)
    return None


def _open(held: _Held) -> int | None:
    flags = held.flags & ~_CREATING
    if not flags & _ACCESS:
        flags |= os.O_RDONLY
    try:
        return _os_open(held.path, flags)
    except OSError:
        return None


def reopen() -> None:
    """In a fresh session holding the restored memory: open each recorded file at its
    number and offset. wasmtime picks the number an open gets, so each open is kept where
    it lands on its own number, else kept as a placeholder (holding a lower number) or,
    where it lands on another recorded number, closed so that that number's own file,
    opened next, gets it (a number just freed is the next handed out). A file that cannot
    be opened again leaves its number free: its object then fails as it would have."""
    remaining = dict(_held)
    placeholders: list[int] = []
    last = -1
    tries = 4 * (max(remaining, default=0) + 1)
    while remaining and tries > 0:
        tries -= 1
        lowest = min(remaining)
        fd = _open(remaining[lowest])
        if fd is None:
            del remaining[lowest], _held[lowest]
            continue
        if fd != lowest and fd in remaining:
            os.close(fd)
            wanted, fd = fd, _open(remaining[fd])
            if fd != wanted:  # gone, or wasmtime gave another number after all
                del remaining[wanted], _held[wanted]
                if fd is not None:
                    placeholders.append(fd)
                continue
        if fd in remaining:
            _seek(fd, remaining.pop(fd))
        else:
            placeholders.append(fd)
            if fd > last > max(remaining):  # counting up past every number still wanted
                break
        last = fd
    for fd in remaining:  # held by the fresh session itself: not ours to take
        del _held[fd]
    for fd in placeholders:
        os.close(fd)
    _unseen.clear()


def _seek(fd: int, held: _Held) -> None:
    """Put a reopened file back at its offset; its inode is learnt again where needed (a
    fork's or a resume's files are copies)."""
    held.key = None
    if held.offset is not None and not held.flags & os.O_APPEND:
        try:
            os.lseek(fd, held.offset, os.SEEK_SET)
        except OSError:
            pass
