"""Tars of trees a guest shaped (a saved snapshot's folder), written and read by fd.

tarfile's own `add` walks by path string and recursion, and its extraction filters
resolve every member's path again from the top (`realpath`): a guest's 1,100-level tree
raises RecursionError in the first and costs minutes in the second. Here both go through
`runtimes/hostfs.py`'s walkers: nothing is followed, depth costs a few syscalls a member.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from pathlib import Path

from ..errors import ImageError
from ..runtimes.hostfs import TreeCursor, walk_tree

__all__ = ["add_tree", "extract_snapshot"]

_CHUNK = 1 << 20
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LINKS_UNDER = ["state", "root"]
"""A snapshot's links live in the guest's files only (a wasm snapshot's `state/root/`)."""


def add_tree(tar: tarfile.TarFile, top: Path) -> None:
    """`top` as `.` and everything below it as `./...`, names sorted: what
    `tar.add(top, arcname=".")` stores (files, folders, links as links, hard links,
    devices and FIFOs with no content; sockets left out), found without following or
    recursing."""
    fd = os.open(top, _DIR)
    try:
        tar.addfile(_member(".", os.fstat(fd)))
        first: dict[tuple[int, int], str] = {}  # a hard-linked file's first name
        for entry in walk_tree(fd):
            name = "/".join([".", *entry.parents, entry.name])
            st = entry.st
            if stat.S_ISSOCK(st.st_mode):
                continue  # as tarfile.add: a socket is no file to keep
            info = _member(name, st)
            if stat.S_ISLNK(st.st_mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(entry.name, dir_fd=entry.dir_fd)
            elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                seen = first.setdefault((st.st_dev, st.st_ino), name)
                if seen != name:
                    info.type, info.linkname, info.size = tarfile.LNKTYPE, seen, 0
            if info.type == tarfile.REGTYPE:
                _add_file(tar, info, entry.name, entry.dir_fd)
            else:
                tar.addfile(info)
    finally:
        os.close(fd)


def _member(name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
    info.uid, info.gid = st.st_uid, st.st_gid
    kinds = (
        (stat.S_ISDIR, tarfile.DIRTYPE),
        (stat.S_ISCHR, tarfile.CHRTYPE),
        (stat.S_ISBLK, tarfile.BLKTYPE),
        (stat.S_ISFIFO, tarfile.FIFOTYPE),
    )
    for test, kind in kinds:
        if test(st.st_mode):
            info.type = kind
            break
    else:
        info.size = st.st_size if stat.S_ISREG(st.st_mode) else 0
    if info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return info


def _add_file(tar: tarfile.TarFile, info: tarfile.TarInfo, name: str, dir_fd: int) -> None:
    """A regular file's member, read through an fd that cannot be a link or a FIFO."""
    with os.fdopen(os.open(name, _READ, dir_fd=dir_fd), "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(f"{info.name} changed while it was being packed")
        info.size = st.st_size
        tar.addfile(info, f)


def extract_snapshot(tar: tarfile.TarFile, dest: Path) -> None:
    """Unpack a snapshot's tar into the folder `dest` (made if missing), or ImageError.

    The rules tarfile's "data" filter gives, kept without resolving paths: names are
    relative with no `..`; only folders, regular files and, in the guest's files, links
    whose target stays inside `dest` (lexically: nothing on the host follows them); no
    member twice; no set-id bits, group or other write, nor owners. Every member is made
    in a folder opened from `dest` part by part with O_NOFOLLOW, so no link, earlier member
    or concurrent change leads a write outside.
    """
    dest.mkdir(parents=True, exist_ok=True)
    top = os.open(dest, _DIR)
    cursor = TreeCursor(top)
    try:
        for member in tar:
            parts = _parts(member)
            if not parts:
                continue  # the folder itself
            try:
                _make(tar, member, parts, _parent(cursor, parts))
            except FileExistsError:
                raise _unsafe(f"{member.name!r} is in it twice") from None
            except OSError as e:
                raise _unsafe(f"{member.name!r} cannot be made ({e.strerror})") from None
    finally:
        cursor.close()
        os.close(top)


def _parent(cursor: TreeCursor, parts: list[str]) -> int:
    """The folder a member goes in; folders the tar does not list are made (as tarfile
    does), each inside the last one opened."""
    try:
        return cursor.at(parts[:-1])
    except FileNotFoundError:
        pass
    for k in range(len(parts) - 1):
        try:
            cursor.at(parts[: k + 1])
        except FileNotFoundError:
            os.mkdir(parts[k], 0o755, dir_fd=cursor.at(parts[:k]))
    return cursor.at(parts[:-1])


def _parts(member: tarfile.TarInfo) -> list[str]:
    name = member.name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or "\0" in name:
        raise _unsafe(repr(name))
    if not parts and not member.isdir():
        raise _unsafe(f"{name!r} is not a folder")
    return parts


def _make(tar: tarfile.TarFile, member: tarfile.TarInfo, parts: list[str], parent: int) -> None:
    name = parts[-1]
    if member.isdir():
        os.mkdir(name, 0o700, dir_fd=parent)
        fd = os.open(name, _DIR, dir_fd=parent)
        try:
            os.fchmod(fd, (member.mode & 0o755) | 0o700)
        finally:
            os.close(fd)
    elif member.isreg():
        _write_file(tar, member, name, parent)
    elif member.issym():
        inside = len(parts) > len(_LINKS_UNDER) and parts[: len(_LINKS_UNDER)] == _LINKS_UNDER
        target = posixpath.normpath(posixpath.join(*parts[:-1], member.linkname))
        if not inside or member.linkname.startswith("/") or target.split("/")[0] == "..":
            where = "outside" if inside else "outside the guest's files (state/root/)"
            raise _unsafe(f"{member.name!r} is a link to {member.linkname!r}, {where}")
        os.symlink(member.linkname, name, dir_fd=parent)
    else:
        raise _unsafe(f"{member.name!r} is not a file, folder or link (a device, FIFO, hard link)")


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, parent: int) -> None:
    source = tar.extractfile(member)
    assert source is not None  # a regular file's member always has content
    mode = (member.mode & 0o755) | 0o600
    fd = os.open(name, _NEW_FILE, 0o600, dir_fd=parent)
    try:
        while chunk := source.read(_CHUNK):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        os.utime(fd, (member.mtime, member.mtime))
    finally:
        os.close(fd)


def _unsafe(what: str) -> ImageError:
    return ImageError(f"the snapshot holds an unsafe member: {what}")
