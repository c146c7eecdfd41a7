"""File operations for the host's `files` API, served inside a Linux guest (`OP_FILE`).

Every Linux tier's agent serves them the same way; a tier whose host sees the guest's
folders (process, gvisor) simply does not ask. Paths are the guest's: a relative one starts
at the agent's home. An OSError comes back as {"oserror": errno, "message"}, which the host
turns into the same errors as its own file operations.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
from typing import Any

from . import protocol


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def info(path: str) -> dict[str, Any]:
    st = os.lstat(path)
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return {
        "name": os.path.basename(path.rstrip("/")) or "/",
        "path": path,
        "type": _kind(st.st_mode),
        "size": st.st_size,
        "modified": st.st_mtime,
        "symlink_target": target,
    }


def _write(path: str, request: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64decode(request.get("data", ""))
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return {"info": info(path)}


def _read(path: str, request: dict[str, Any]) -> dict[str, Any]:
    limit = int(request.get("max_bytes", 0))
    with open(path, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise IsADirectoryError(21, "not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        return {"too_big": True, "size": os.path.getsize(path)}
    return {"data": base64.b64encode(data).decode()}


def _list(path: str, request: dict[str, Any]) -> dict[str, Any]:
    depth = int(request.get("depth", 1))
    if not stat.S_ISDIR(os.stat(path).st_mode):
        raise NotADirectoryError(20, "not a directory")
    entries = []
    todo = [(path, 1)]
    while todo:
        folder, level = todo.pop(0)
        for name in sorted(os.listdir(folder)):
            entry = info(os.path.join(folder, name))
            entries.append(entry)
            if entry["type"] == "dir" and level < depth:
                todo.append((entry["path"], level + 1))
    return {"entries": entries}


def _remove(path: str, request: dict[str, Any]) -> dict[str, Any]:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)
    return {}


def _make_dir(path: str, request: dict[str, Any]) -> dict[str, Any]:
    if os.path.isdir(path):
        return {"made": False}
    os.makedirs(path)
    return {"made": True}


class FileOps:
    """The file actions, relative to `home`."""

    def __init__(self, home: str) -> None:
        self.home = home
        self.actions = {
            protocol.FILE_WRITE: _write,
            protocol.FILE_READ: _read,
            protocol.FILE_LIST: _list,
            protocol.FILE_EXISTS: lambda path, _: {"exists": os.path.lexists(path)},
            protocol.FILE_REMOVE: _remove,
            protocol.FILE_RENAME: self._rename,
            protocol.FILE_MAKE_DIR: _make_dir,
            protocol.FILE_INFO: lambda path, _: {"info": info(path)},
        }

    def _rename(self, path: str, request: dict[str, Any]) -> dict[str, Any]:
        new = os.path.join(self.home, str(request.get("new", "")))
        os.rename(path, new)
        return {"info": info(new)}

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        """One file operation (an `OP_FILE` request) and its reply."""
        action = request.get("action")
        serve = self.actions.get(str(action))
        if serve is None:
            return protocol.error("ProtocolError", f"unknown file action {action!r}")
        try:
            return serve(os.path.join(self.home, str(request.get("path", ""))), request)
        except OSError as e:
            return {"oserror": e.errno or 0, "message": e.strerror or str(e)}
