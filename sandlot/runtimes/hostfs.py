"""Host-side file operations on a sandbox's root directory, addressed by guest path.

The sandbox's filesystem is a host directory (its "root"); the guest sees it as `/`. The
guest is untrusted and may leave anything there: symlinks pointing anywhere, FIFOs, names
that are not UTF-8, huge files, deep trees. The caller may be untrusted too (a remote
client). `SandboxRoot` never reads or writes anything outside the root, whatever either
side does:

* every path is resolved component by component from a directory file descriptor held on
  the root (``openat`` with ``O_NOFOLLOW | O_DIRECTORY``), never by building a host path
  string, so a symlink swapped in concurrently cannot redirect a call;
* symlinks are resolved as the guest sees them: an absolute target restarts from the
  sandbox root, a relative one from the link's directory, and `..` never climbs above the
  root; at most 40 hops;
* final opens use ``O_NOFOLLOW`` and check the file type on the opened descriptor, so a
  FIFO or device is never read, written or waited on;
* every host `OSError` becomes a sandlot error whose message names guest paths only.

The whole-tree operations the host does on a sandbox's folders (save and restore copies,
sizes, removal) are here too: `walk_tree`, `copy_tree`, `tree_size`, `remove_tree`. They
walk by directory fd with an explicit stack (no recursion, a bounded number of open fds),
never follow a symlink, and skip FIFOs, sockets and devices, so a tree the guest shaped
(links planted anywhere, thousands of levels deep) is just data to them.
"""

from __future__ import annotations

import builtins
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import NamedTuple

from ..errors import InvalidArgument, LimitExceeded, NotFound, SandboxClosed, SandboxError
from ..models import EntryInfo, FileType
from .guest_paths import HOME

__all__ = [
    "MAX_LIST_ENTRIES",
    "MAX_PATH_BYTES",
    "MAX_SYMLINK_HOPS",
    "SandboxRoot",
    "TreeCursor",
    "TreeEntry",
    "copy_tree",
    "remove_tree",
    "translate_oserror",
    "tree_size",
    "walk_tree",
]

MAX_PATH_BYTES = 4096
"""The longest guest path accepted, in bytes (UTF-8, surrogateescape)."""

MAX_SYMLINK_HOPS = 40
"""Symlinks followed while resolving one path before giving up (as Linux does)."""

MAX_LIST_ENTRIES = 10_000
"""The most entries one `list` call returns; more raises LimitExceeded("entries")."""

_MAX_LIST_LEVELS = 256
"""How many directory levels below the listed path `list` descends at most (one fd each)."""

_RMTREE_OPEN_LEVELS = 64
"""Directories `remove` holds open at once; deeper subtrees are moved up and done later."""

_MAX_WALK_FDS = 64
"""Directory fds one path resolution keeps open; older ones are reopened when needed."""

_MAX_RETRIES = 100
"""Times one resolution looks again at components a concurrent change moved under it."""

_CHUNK = 1 << 20

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_O_PATH = getattr(os, "O_PATH", 0)

# Walking through directories needs no read permission with O_PATH (Linux); elsewhere we
# fall back to a read-only open, which still never follows a symlink or opens a non-dir.
_WALK_FLAGS = _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC | (_O_PATH or os.O_RDONLY)
_LIST_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC


class _SymlinkLoop(InvalidArgument):
    """Too many levels of symbolic links (so `exists` can answer False, as os.path does)."""


def _show(path: str) -> str:
    """A guest path as it may appear in a message: printable, no lone surrogates."""
    return path if path.isprintable() else repr(path)[1:-1]


def translate_oserror(e: OSError, guest: str, action: str) -> SandboxError:
    """The sandlot error for a host OSError met while `action`-ing `guest`; guest words only."""
    shown = _show(guest)
    no = e.errno
    if no == errno.ENOENT:
        return NotFound(f"cannot {action} {shown}: no such file or directory")
    if no == errno.ENOTDIR:
        return InvalidArgument(f"cannot {action} {shown}: not a directory")
    if no == errno.EISDIR:
        return InvalidArgument(f"cannot {action} {shown}: is a directory")
    if no == errno.ELOOP:
        return _SymlinkLoop(f"cannot {action} {shown}: too many levels of symbolic links")
    if no == errno.ENAMETOOLONG:
        return InvalidArgument(f"cannot {action} {shown}: a file name in it is too long")
    if no == errno.EEXIST:
        return InvalidArgument(f"cannot {action} {shown}: it already exists")
    if no == errno.ENOTEMPTY:
        return InvalidArgument(f"cannot {action} {shown}: the directory is not empty")
    if no == errno.EINVAL:
        return InvalidArgument(f"cannot {action} {shown}: invalid argument")
    if no in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return LimitExceeded(
            "file_size", f"cannot {action} {shown}: the sandbox's disk space is used up"
        )
    if no in (errno.EACCES, errno.EPERM):
        return SandboxError(f"cannot {action} {shown}: permission denied")
    reason = os.strerror(no) if no is not None else type(e).__name__
    return SandboxError(f"cannot {action} {shown}: {reason}")


class _Target:
    """A resolved path: an open directory fd and the name in it (None: the directory)."""

    __slots__ = ("fd", "owned", "name", "parents", "st")

    def __init__(
        self, fd: int, owned: bool, name: str | None, parents: list[str], st: os.stat_result | None
    ) -> None:
        self.fd = fd
        self.owned = owned
        self.name = name
        self.parents = parents
        # lstat of `name` in `fd` when resolution looked at it (None: missing or not looked).
        self.st = st

    @property
    def guest_path(self) -> str:
        """The canonical guest path of the target (symlinks in its parents resolved)."""
        parts = self.parents if self.name is None else [*self.parents, self.name]
        return "/" + "/".join(parts)

    def close(self) -> None:
        if self.owned:
            self.owned = False
            os.close(self.fd)


class _Walk:
    """The directories a resolution has entered, from the root down, as names and fds.

    At most `_MAX_WALK_FDS` fds stay open; dropped ones are reopened from the nearest open
    ancestor by name (O_NOFOLLOW | O_DIRECTORY, one component at a time) when `..` needs
    them again. `..` is never done with openat(".."): a directory the guest moved could then
    lead above the root.
    """

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.names: list[str] = []
        self.fds: list[int | None] = []

    def top(self) -> int:
        if not self.names:
            return self.root_fd
        fd = self.fds[-1]
        if fd is None:
            fd = self._reopen()
        return fd

    def _reopen(self) -> int:
        # Open fds always form a contiguous run at the top, so when the top one is gone
        # they all are: walk down again from the root, keeping only the last few open.
        parent = self.root_fd
        keep_from = len(self.names) - _MAX_WALK_FDS
        for k, name in enumerate(self.names):
            fd = os.open(name, _WALK_FLAGS, dir_fd=parent)
            self.fds[k] = fd
            if 0 < k <= keep_from:
                prev = self.fds[k - 1]
                if prev is not None:
                    os.close(prev)
                    self.fds[k - 1] = None
            parent = fd
        return parent

    def push(self, name: str, fd: int) -> None:
        self.names.append(name)
        self.fds.append(fd)
        self._trim()

    def _trim(self) -> None:
        k = len(self.fds) - _MAX_WALK_FDS - 1
        while k >= 0:
            fd = self.fds[k]
            if fd is None:
                break
            os.close(fd)
            self.fds[k] = None
            k -= 1

    def pop(self) -> None:
        if self.names:
            self.names.pop()
            fd = self.fds.pop()
            if fd is not None:
                os.close(fd)

    def reset(self) -> None:
        while self.names:
            self.pop()

    def detach_top(self) -> tuple[int, bool]:
        """The top directory's fd, now owned by the caller (owned False: the root's fd)."""
        fd = self.top()
        if self.names:
            self.fds[-1] = None
            return fd, True
        return fd, False


class SandboxRoot:
    """Host-side file operations on one sandbox's root directory, by guest path.

    Guest paths are `str`; relative ones are relative to `home`. `.` and `..` are normalised
    lexically and never above `/`. Names that are not UTF-8 on disk come back decoded with
    `os.fsdecode` (surrogateescape) and are accepted back the same way.

    `EntryInfo.path` is always the entry's canonical guest path: symlinks in its parent
    directories resolved (as the guest would resolve them, inside the root).

    One instance holds one fd on the root directory; `close()` (or leaving a `with` block)
    releases it. Methods may be called from several threads, but not concurrently with
    `close()`.
    """

    def __init__(self, host_dir: str | os.PathLike[str], *, home: str = HOME) -> None:
        self._fd: int | None = None
        if not isinstance(home, str) or not home.startswith("/"):
            raise InvalidArgument(f"home must be an absolute guest path; got {home!r}")
        self._home = _normalise([], home)
        try:
            self._fd = os.open(host_dir, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound("the sandbox's root directory does not exist") from None
        except NotADirectoryError:
            raise InvalidArgument("the sandbox's root is not a directory") from None
        except OSError as e:
            raise SandboxError(
                f"cannot open the sandbox's root directory: {os.strerror(e.errno or 0)}"
            ) from None

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Release the root directory's fd. Idempotent; later calls raise SandboxClosed."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> SandboxRoot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _root(self) -> int:
        if self._fd is None:
            raise SandboxClosed("the sandbox's filesystem is closed")
        return self._fd

    # -- public operations -------------------------------------------------------------

    def write(self, path: str, data: bytes | str) -> EntryInfo:
        """Write `data` (str: UTF-8) to the file at `path`, replacing it; returns its info.

        Missing parent directories are created. A symlink at `path` is followed (inside the
        root). The file is written to a temporary name in the same directory and renamed
        over `path`, so readers never see half a file and a hard link at `path` is replaced,
        not written through. An existing file's permission bits are kept; new files get
        0o644 (less the umask).
        """
        guest = self._guest(path)
        if isinstance(data, str):
            try:
                payload = data.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidArgument(
                    f"cannot write {_show(guest)}: the text is not valid Unicode "
                    "(it holds lone surrogates); pass bytes instead"
                ) from None
        elif isinstance(data, bytes | bytearray | memoryview):
            payload = bytes(data)
        else:
            raise InvalidArgument(
                f"cannot write {_show(guest)}: data must be bytes or str; got {type(data).__name__}"
            )
        with self._resolved(guest, "write", follow=True, create=True) as t:
            if t.name is None or (t.st is not None and stat.S_ISDIR(t.st.st_mode)):
                raise InvalidArgument(f"cannot write {_show(guest)}: is a directory")
            try:
                return self._write_at(t, payload)
            except OSError as e:
                raise translate_oserror(e, guest, "write") from None

    def read(self, path: str, *, max_bytes: int) -> bytes:
        """The content of the regular file at `path` (symlinks followed inside the root).

        Raises LimitExceeded("file_size") when the file holds more than `max_bytes`
        (checked before and while reading), InvalidArgument for a directory, FIFO, socket
        or device (never opened for long, never read, never waited on).
        """
        guest = self._guest(path)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise InvalidArgument(f"max_bytes must be a non-negative integer; got {max_bytes!r}")
        with self._resolved(guest, "read", follow=True) as t:
            if t.name is None:
                raise InvalidArgument(f"cannot read {_show(guest)}: is a directory")
            if t.st is None:
                raise NotFound(f"cannot read {_show(guest)}: no such file or directory")
            _check_regular(t.st, guest)
            try:
                fd = os.open(t.name, _READ_FLAGS, dir_fd=t.fd)
            except OSError as e:
                raise translate_oserror(e, guest, "read") from None
            try:
                st = os.fstat(fd)
                _check_regular(st, guest)
                if st.st_size > max_bytes:
                    raise _too_big(guest, max_bytes, st.st_size)
                chunks: list[bytes] = []
                total = 0
                while True:
                    chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > max_bytes:
                        raise _too_big(guest, max_bytes, None)
                    chunks.append(chunk)
                return b"".join(chunks)
            except OSError as e:
                raise translate_oserror(e, guest, "read") from None
            finally:
                os.close(fd)

    def list(self, path: str, depth: int = 1) -> list[EntryInfo]:
        """The entries below the directory `path`, `depth` levels deep, sorted by path.

        A symlink at `path` itself is followed; symlinks inside are reported as symlinks
        and never descended into. More than MAX_LIST_ENTRIES entries (or a tree deeper than
        256 levels) raises LimitExceeded("entries"); list less deep, or a subdirectory.
        """
        guest = self._guest(path)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise InvalidArgument(f"depth must be an integer of at least 1; got {depth!r}")
        with self._resolved(guest, "list", follow=True) as t:
            if t.name is not None:
                if t.st is None:
                    raise NotFound(f"cannot list {_show(guest)}: no such file or directory")
                if not stat.S_ISDIR(t.st.st_mode):
                    raise InvalidArgument(f"cannot list {_show(guest)}: not a directory")
            try:
                fd = os.open(t.name or ".", _LIST_FLAGS, dir_fd=t.fd)
            except OSError as e:
                raise translate_oserror(e, guest, "list") from None
            base = t.guest_path
        try:
            out = self._scan(fd, base, depth, guest)
        except OSError as e:
            raise translate_oserror(e, guest, "list") from None
        finally:
            os.close(fd)
        out.sort(key=lambda entry: entry.path)
        return out

    def exists(self, path: str) -> bool:
        """Whether an entry exists at `path` (a dangling symlink exists: lstat semantics).

        True exactly when `get_info(path)` would succeed. An invalid path (NUL, empty, too
        long, not a str) still raises InvalidArgument.
        """
        try:
            self.get_info(path)
        except (NotFound, _SymlinkLoop):
            return False
        return True

    def remove(self, path: str) -> None:
        """Remove the entry at `path`: a file, a symlink (the link, not its target), or a
        directory with everything in it (symlinks inside are removed, never followed).
        """
        guest = self._guest(path)
        with self._resolved(guest, "remove", follow=False) as t:
            if t.name is None:
                raise InvalidArgument("cannot remove /: it is the sandbox's root directory")
            try:
                st = os.stat(t.name, dir_fd=t.fd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    _rmtree(t.fd, t.name)
                else:
                    os.unlink(t.name, dir_fd=t.fd)
            except OSError as e:
                raise translate_oserror(e, guest, "remove") from None

    def rename(self, old: str, new: str) -> EntryInfo:
        """Move the entry at `old` to `new` (a symlink is moved itself); returns its info.

        `new`'s parent directory must exist; an existing file at `new` is replaced, an
        existing empty directory too when `old` is a directory.
        """
        old_guest = self._guest(old)
        new_guest = self._guest(new)
        with self._resolved(old_guest, "rename", follow=False) as src:
            if src.name is None:
                raise InvalidArgument("cannot rename /: it is the sandbox's root directory")
            with self._resolved(new_guest, "rename to", follow=False) as dst:
                if dst.name is None:
                    raise InvalidArgument(
                        f"cannot rename {_show(old_guest)} to /: it is the sandbox's root"
                    )
                try:
                    os.stat(src.name, dir_fd=src.fd, follow_symlinks=False)
                except OSError as e:
                    raise translate_oserror(e, old_guest, "rename") from None
                try:
                    os.rename(src.name, dst.name, src_dir_fd=src.fd, dst_dir_fd=dst.fd)
                except OSError as e:
                    raise translate_oserror(e, f"{old_guest} to {new_guest}", "rename") from None
                try:
                    st = os.stat(dst.name, dir_fd=dst.fd, follow_symlinks=False)
                    return _info(dst.fd, dst.name, dst.guest_path, st)
                except OSError as e:
                    raise translate_oserror(e, new_guest, "inspect") from None

    def make_dir(self, path: str) -> bool:
        """Create the directory `path` and any missing parents.

        Returns False when it already existed as a directory (or a symlink to one).
        """
        guest = self._guest(path)
        with self._resolved(guest, "create directory", follow=True, create=True) as t:
            if t.name is None:
                return False
            if t.st is not None:
                if stat.S_ISDIR(t.st.st_mode):
                    return False
                raise InvalidArgument(
                    f"cannot create directory {_show(guest)}: a file is already there"
                )
            try:
                os.mkdir(t.name, 0o755, dir_fd=t.fd)
            except FileExistsError:
                try:
                    st = os.stat(t.name, dir_fd=t.fd, follow_symlinks=False)
                except OSError as e:
                    raise translate_oserror(e, guest, "create directory") from None
                if stat.S_ISDIR(st.st_mode):
                    return False
                raise InvalidArgument(
                    f"cannot create directory {_show(guest)}: a file is already there"
                ) from None
            except OSError as e:
                raise translate_oserror(e, guest, "create directory") from None
            return True

    def get_info(self, path: str) -> EntryInfo:
        """The entry at `path` itself: a symlink there is reported as a symlink (lstat)."""
        guest = self._guest(path)
        with self._resolved(guest, "inspect", follow=False) as t:
            try:
                if t.name is None:
                    return _info(t.fd, None, "/", os.fstat(t.fd))
                st = os.stat(t.name, dir_fd=t.fd, follow_symlinks=False)
                return _info(t.fd, t.name, t.guest_path, st)
            except OSError as e:
                raise translate_oserror(e, guest, "inspect") from None

    # -- internals ---------------------------------------------------------------------

    def _guest(self, path: object) -> str:
        """`path` validated and normalised to an absolute guest path."""
        return "/" + "/".join(self._parts(path))

    def _parts(self, path: object) -> builtins.list[str]:
        if not isinstance(path, str):
            raise InvalidArgument(f"a path must be a str; got {type(path).__name__}")
        if not path:
            raise InvalidArgument("a path must not be empty")
        if "\x00" in path:
            raise InvalidArgument(f"path {_show(path)} contains a NUL character")
        try:
            size = len(os.fsencode(path))
        except UnicodeEncodeError:
            raise InvalidArgument(
                f"path {_show(path)} is not valid: it holds characters that no file name can"
            ) from None
        if size > MAX_PATH_BYTES:
            raise InvalidArgument(
                f"path {_show(path[:60])}... is {size} bytes long; the most is {MAX_PATH_BYTES}"
            )
        return _normalise([] if path.startswith("/") else self._home, path)

    @contextmanager
    def _resolved(
        self, guest: str, action: str, *, follow: bool, create: bool = False
    ) -> Iterator[_Target]:
        root = self._root()
        try:
            target = _resolve(root, guest, follow=follow, create=create)
        except OSError as e:
            raise translate_oserror(e, guest, action) from None
        except _ResolveError as e:
            raise e.to_error(guest, action) from None
        try:
            yield target
        finally:
            target.close()

    def _write_at(self, t: _Target, payload: bytes) -> EntryInfo:
        assert t.name is not None
        temp = f".sandlot-{secrets.token_hex(8)}.tmp"
        fd = os.open(temp, _TEMP_FLAGS, 0o644, dir_fd=t.fd)
        renamed = False
        try:
            if t.st is not None and stat.S_ISREG(t.st.st_mode):
                os.fchmod(fd, stat.S_IMODE(t.st.st_mode) & 0o777)
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            st = os.fstat(fd)
            os.rename(temp, t.name, src_dir_fd=t.fd, dst_dir_fd=t.fd)
            renamed = True
        finally:
            os.close(fd)
            if not renamed:
                try:
                    os.unlink(temp, dir_fd=t.fd)
                except OSError:
                    pass
        return EntryInfo(
            name=t.name,
            path=t.guest_path,
            type="file",
            size=st.st_size,
            modified=st.st_mtime,
        )

    @staticmethod
    def _scan(fd: int, base: str, depth: int, guest: str) -> builtins.list[EntryInfo]:
        """The entries `depth` levels below the directory `fd` (guest path `base`), by the
        iterative walker: a subdirectory that cannot be read is listed, not entered."""
        prefix = base.rstrip("/") + "/"
        out: builtins.list[EntryInfo] = []
        for entry in walk_tree(fd, max_depth=depth, skip_unreadable=True):
            if len(out) >= MAX_LIST_ENTRIES:
                raise LimitExceeded(
                    "entries",
                    f"{_show(guest)} holds more than {MAX_LIST_ENTRIES} entries; "
                    "list a smaller depth or a subdirectory",
                )
            level = len(entry.parents) + 1
            path = prefix + "/".join([*entry.parents, entry.name])
            out.append(_info(entry.dir_fd, entry.name, path, entry.st))
            if stat.S_ISDIR(entry.st.st_mode) and _MAX_LIST_LEVELS <= level < depth:
                raise LimitExceeded(
                    "entries",
                    f"the tree below {_show(guest)} is more than {_MAX_LIST_LEVELS} levels "
                    "deep; list a smaller depth or a subdirectory",
                )
        return out


class _ResolveError(Exception):
    """A resolution failure that is not an OSError (turned into a sandlot error later)."""

    def __init__(self, kind: str, where: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.where = where

    def to_error(self, guest: str, action: str) -> SandboxError:
        shown = _show(guest)
        if self.kind == "loop":
            return _SymlinkLoop(f"cannot {action} {shown}: too many levels of symbolic links")
        if self.kind == "notdir":
            return NotFound(
                f"cannot {action} {shown}: no such file or directory "
                f"({_show(self.where)} is not a directory)"
            )
        if self.kind == "dangling":
            return NotFound(
                f"cannot {action} {shown}: no such file or directory "
                f"({_show(self.where)} does not exist)"
            )
        return SandboxError(f"cannot {action} {shown}: {self.kind}")


def _normalise(start: list[str], path: str) -> list[str]:
    """`path`'s components after `start`, with `.` and `..` applied lexically, never above /."""
    parts = list(start)
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
        else:
            parts.append(comp)
    return parts


def _resolve(root_fd: int, guest: str, *, follow: bool, create: bool) -> _Target:
    """Walk `guest` (absolute, normalised) from the root fd, as the guest would resolve it.

    Returns the directory holding the last component, and that component's name (None when
    the path is a directory reached as a whole, e.g. `/`). With `follow`, a symlink as last
    component is resolved too, and `st` is the final entry's lstat (None when missing).
    With `create`, missing intermediate directories are made (mode 0o755).
    """
    pending = [c for c in reversed(guest.split("/")) if c]
    walk = _Walk(root_fd)
    hops = 0  # symlinks followed
    retries = 0  # components looked at again because they changed under us
    try:
        while pending:
            comp = pending.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                walk.pop()
                continue
            last = not pending
            if last and not follow:
                fd, owned = walk.detach_top()
                return _Target(fd, owned, comp, list(walk.names), None)
            top = walk.top()
            try:
                st: os.stat_result | None = os.stat(comp, dir_fd=top, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is None:
                if last:
                    fd, owned = walk.detach_top()
                    return _Target(fd, owned, comp, list(walk.names), None)
                if not create:
                    raise _ResolveError("dangling", "/" + "/".join([*walk.names, comp]))
                try:
                    os.mkdir(comp, 0o755, dir_fd=top)
                except FileExistsError:
                    retries += 1  # made meanwhile: look again
                    if retries > _MAX_RETRIES:
                        raise _ResolveError("the directory keeps changing; try again") from None
                pending.append(comp)
                continue
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise _ResolveError("loop")
                try:
                    link = os.readlink(comp, dir_fd=top)
                except OSError as e:
                    if e.errno in (errno.ENOENT, errno.EINVAL):  # changed meanwhile
                        retries += 1
                        if retries > _MAX_RETRIES:
                            raise _ResolveError("the directory keeps changing; try again") from e
                        pending.append(comp)
                        continue
                    raise
                if link.startswith("/"):
                    walk.reset()
                if not link.strip("/"):
                    if not link:
                        raise _ResolveError("dangling", "/" + "/".join([*walk.names, comp]))
                    continue  # a link to "/": the root itself
                pending.extend(c for c in reversed(link.split("/")) if c)
                continue
            if last:
                fd, owned = walk.detach_top()
                return _Target(fd, owned, comp, list(walk.names), st)
            if not stat.S_ISDIR(st.st_mode):
                raise _ResolveError("notdir", "/" + "/".join([*walk.names, comp]))
            try:
                child = os.open(comp, _WALK_FLAGS, dir_fd=top)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    # Swapped for something else since the lstat: look again (bounded).
                    retries += 1
                    if retries > _MAX_RETRIES:
                        raise _ResolveError("the directory keeps changing; try again") from e
                    pending.append(comp)
                    continue
                raise
            walk.push(comp, child)
        # Every component consumed by `..` or symlinks to directories: a directory itself.
        fd, owned = walk.detach_top()
        return _Target(fd, owned, None, list(walk.names), None)
    finally:
        walk.reset()


def _check_regular(st: os.stat_result, guest: str) -> None:
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISDIR(st.st_mode):
        raise InvalidArgument(f"cannot read {_show(guest)}: is a directory")
    raise InvalidArgument(
        f"cannot read {_show(guest)}: not a regular file (a FIFO, socket or device)"
    )


def _too_big(guest: str, max_bytes: int, size: int | None) -> LimitExceeded:
    held = f"holds {size} bytes" if size is not None else "grew while being read"
    return LimitExceeded(
        "file_size",
        f"cannot read {_show(guest)}: it {held}, more than the limit of {max_bytes} bytes",
    )


def _file_type(mode: int) -> FileType:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _info(dir_fd: int, name: str | None, path: str, st: os.stat_result) -> EntryInfo:
    kind = _file_type(st.st_mode)
    target: str | None = None
    if kind == "symlink" and name is not None:
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            target = None  # replaced meanwhile
    return EntryInfo(
        name=name if name is not None else "/",
        path=path,
        type=kind,
        size=st.st_size,
        modified=st.st_mtime,
        symlink_target=target,
    )


def _rmtree(parent_fd: int, name: str) -> None:
    """Remove the directory `name` in `parent_fd` and everything in it, never following a
    symlink. Holds at most `_RMTREE_OPEN_LEVELS` fds: deeper directories are first moved up
    into the directory being removed (renameat between fds inside it), then removed from
    there, so a guest's very deep tree neither exhausts fds nor recursion.
    """
    base = _open_to_empty(name, parent_fd)
    frames: list[tuple[int, str, list[tuple[str, bool]]]] = []
    try:
        frames.append((base, "", _children(base)))
        while frames:
            fd, fd_name, todo = frames[-1]
            if not todo:
                frames.pop()
                if frames:
                    os.close(fd)
                    _rmdir_quiet(fd_name, frames[-1][0])
                continue
            child, is_dir = todo.pop()
            if not is_dir:
                try:
                    os.unlink(child, dir_fd=fd)
                    continue
                except IsADirectoryError:
                    pass  # swapped for a directory meanwhile: remove it as one
                except PermissionError:
                    # Linux answers EPERM for unlink() of a directory.
                    if not stat.S_ISDIR(os.stat(child, dir_fd=fd, follow_symlinks=False).st_mode):
                        raise
                except FileNotFoundError:
                    continue
            if len(frames) >= _RMTREE_OPEN_LEVELS:
                hoisted = f".sandlot-rm-{secrets.token_hex(8)}"
                try:
                    os.rename(child, hoisted, src_dir_fd=fd, dst_dir_fd=base)
                except FileNotFoundError:
                    continue
                frames[0][2].append((hoisted, True))
                continue
            try:
                child_fd = _open_to_empty(child, fd)
            except FileNotFoundError:
                continue
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):  # not a directory after all
                    _unlink_quiet(child, fd)
                    continue
                raise
            frames.append((child_fd, child, _children(child_fd)))
    finally:
        for fd, _, _ in frames[1:]:
            os.close(fd)
        os.close(base)
    os.rmdir(name, dir_fd=parent_fd)


def _open_to_empty(name: str, dir_fd: int) -> int:
    """The directory `name` opened for listing, made ours to empty: one the guest made
    unreadable or read-only (chmod 0) is given back owner rwx first, through an O_PATH fd
    (so a link swapped in is never what gets the mode)."""
    try:
        fd = os.open(name, _LIST_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        handle = os.open(name, _WALK_FLAGS, dir_fd=dir_fd)
        try:
            os.chmod(f"/proc/self/fd/{handle}", 0o700)
        finally:
            os.close(handle)
        fd = os.open(name, _LIST_FLAGS, dir_fd=dir_fd)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o700 != 0o700:
            os.fchmod(fd, 0o700)
    except OSError:
        pass  # not ours to change: removal says why, if it fails
    return fd


def _children(fd: int) -> list[tuple[str, bool]]:
    with os.scandir(fd) as it:
        return [(e.name, e.is_dir(follow_symlinks=False)) for e in it]


def _rmdir_quiet(name: str, dir_fd: int) -> None:
    try:
        os.rmdir(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def _unlink_quiet(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


# -- whole trees: walk, copy, size, remove (never following a link, never recursing) --------


class TreeEntry(NamedTuple):
    """One entry met by `walk_tree`: `dir_fd` (its directory) is valid until the next one."""

    parents: list[str]  # the directory's names below the top (the walker's own list: copy it)
    dir_fd: int
    name: str
    st: os.stat_result  # lstat: a symlink is reported as one


def walk_tree(
    top_fd: int, *, max_depth: int | None = None, skip_unreadable: bool = False
) -> Iterator[TreeEntry]:
    """Every entry below the directory `top_fd`, each directory's before what is in it.

    Depth-first with an explicit stack of names; at most ~64 directory fds open (`_Walk`),
    so depth costs neither recursion nor fds. Symlinks are entries, never followed; a
    directory swapped for something else meanwhile is skipped. With `max_depth`, the
    directories at that level are reported but not entered (1: the top's entries only).
    With `skip_unreadable`, a directory below the top that cannot be listed is reported
    and not entered (else its OSError is raised: a copy must not lose it unsaid).
    """
    return _walk(top_fd, max_depth, None, skip_unreadable)


def _walk(
    top_fd: int, max_depth: int | None, mirror: _Walk | None, skip_unreadable: bool = False
) -> Iterator[TreeEntry]:
    """`walk_tree`; with `mirror`, a cursor on a second tree that enters and leaves the
    same directories by name, in step (made there by the caller as they are met)."""
    cursor = _Walk(top_fd)
    pending: list[tuple[int, str]] = []  # (level of its parent, name), deepest last
    try:
        yield from _listed(cursor, pending, max_depth)
        while pending:
            level, name = pending.pop()
            while len(cursor.names) > level:
                cursor.pop()
                if mirror is not None:
                    mirror.pop()
            try:
                fd = os.open(name, _WALK_FLAGS, dir_fd=cursor.top())
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    continue  # removed or replaced since it was listed
                raise
            cursor.push(name, fd)
            if mirror is not None:
                mirror.push(name, os.open(name, _WALK_FLAGS, dir_fd=mirror.top()))
            yield from _listed(cursor, pending, max_depth, skip_unreadable)
    finally:
        cursor.reset()


def _listed(
    cursor: _Walk, pending: list[tuple[int, str]], max_depth: int | None, lenient: bool = False
) -> Iterator[TreeEntry]:
    """The entries of the cursor's directory; its subdirectories go on `pending`."""
    here = cursor.top()
    try:
        fd = os.open(".", _LIST_FLAGS, dir_fd=here)
    except OSError:
        if lenient:
            return
        raise
    try:
        with os.scandir(fd) as it:
            names = sorted(e.name for e in it)  # the same tree walks the same way
    finally:
        os.close(fd)
    level = len(cursor.names)
    descend = max_depth is None or level + 1 < max_depth
    for name in names:
        try:
            st = os.stat(name, dir_fd=here, follow_symlinks=False)
        except FileNotFoundError:
            continue
        yield TreeEntry(cursor.names, here, name, st)
        if descend and stat.S_ISDIR(st.st_mode):
            pending.append((level, name))


class TreeCursor:
    """A directory fd that moves about one tree by names, never through a link, keeping
    the common part of the last path open (~64 fds): for visits in parent-before-child
    order, such as unpacking a tar, each step costs a few opens whatever the depth."""

    def __init__(self, top_fd: int) -> None:
        self._walk = _Walk(top_fd)

    def at(self, parts: list[str]) -> int:
        """The fd of the directory `parts` below the top (valid until the next call);
        OSError (ENOENT, ENOTDIR, ELOOP) where a part is missing, not a directory or a link."""
        names = self._walk.names
        keep = len(names)
        if keep > len(parts) or parts[:keep] != names:
            keep = 0
            while keep < min(len(names), len(parts)) and names[keep] == parts[keep]:
                keep += 1
        while len(names) > keep:
            self._walk.pop()
        for name in parts[keep:]:
            self._walk.push(name, os.open(name, _WALK_FLAGS, dir_fd=self._walk.top()))
        return self._walk.top()

    def close(self) -> None:
        self._walk.reset()


def tree_size(path: str | os.PathLike[str]) -> int:
    """Bytes in the regular files below `path` (links count as nothing: never followed)."""
    top = os.open(path, _LIST_FLAGS)
    try:
        return sum(e.st.st_size for e in walk_tree(top) if stat.S_ISREG(e.st.st_mode))
    finally:
        os.close(top)


def copy_tree(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy the tree `src` into the directory `dst` (made if missing; may exist, empty).

    Files (content, mode without set-id bits, times), directories and symlinks (as links,
    their targets untouched) are copied; FIFOs, sockets and devices are skipped. Nothing
    is followed on either side, so a link in `src` is only ever data.
    """
    os.makedirs(dst, mode=0o755, exist_ok=True)
    src_top = os.open(src, _LIST_FLAGS)
    try:
        dst_top = os.open(dst, _LIST_FLAGS)
        into = _Walk(dst_top)
        try:
            for entry in _walk(src_top, None, into):
                _copy_entry(entry, into.top())
        finally:
            into.reset()
            os.close(dst_top)
    finally:
        os.close(src_top)


def _copy_entry(entry: TreeEntry, dst_dir: int) -> None:
    mode = entry.st.st_mode
    name = entry.name
    if stat.S_ISDIR(mode):
        os.mkdir(name, 0o700, dir_fd=dst_dir)
        fd = os.open(name, _LIST_FLAGS, dir_fd=dst_dir)
        try:
            os.fchmod(fd, (stat.S_IMODE(mode) & 0o777) | 0o700)  # we must write inside
        finally:
            os.close(fd)
    elif stat.S_ISLNK(mode):
        try:
            target = os.readlink(name, dir_fd=entry.dir_fd)
        except OSError:
            return  # replaced meanwhile
        os.symlink(target, name, dir_fd=dst_dir)
    elif stat.S_ISREG(mode):
        _copy_file(entry.dir_fd, dst_dir, name)


def _copy_file(src_dir: int, dst_dir: int, name: str) -> None:
    try:
        src = os.open(name, _READ_FLAGS, dir_fd=src_dir)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ELOOP):
            return  # removed, or swapped for a link, since it was listed
        raise
    try:
        st = os.fstat(src)
        if not stat.S_ISREG(st.st_mode):
            return
        mode = stat.S_IMODE(st.st_mode) & 0o777
        dst = os.open(name, _TEMP_FLAGS, mode, dir_fd=dst_dir)
        try:
            _copy_bytes(src, dst)
            os.fchmod(dst, mode)
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_bytes(src: int, dst: int) -> None:
    try:
        while os.sendfile(dst, src, None, 8 * _CHUNK):
            pass
        return
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
    while chunk := os.read(src, _CHUNK):  # sendfile refused: the plain way, from here on
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]


def remove_tree(path: str | os.PathLike[str], *, ignore_errors: bool = False) -> None:
    """Remove `path` and all below it (a link there is removed itself, never followed).

    Iterative and fd-based (`_rmtree`), so a guest's deep tree, planted links or folders
    it made unreadable never stop it; a missing `path` is no error.
    """
    where = os.path.abspath(path)
    try:
        parent = os.open(os.path.dirname(where), _LIST_FLAGS)
    except FileNotFoundError:
        return
    except OSError:
        if ignore_errors:
            return
        raise
    name = os.path.basename(where)
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            _rmtree(parent, name)
        else:
            os.unlink(name, dir_fd=parent)
    except FileNotFoundError:
        pass
    except OSError:
        if not ignore_errors:
            raise
    finally:
        os.close(parent)
