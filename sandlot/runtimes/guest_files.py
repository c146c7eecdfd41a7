"""`SandboxFiles` for a tier whose guest's disk is not on the host: every operation is one
`file` request to the agent (`guest/agent/file_ops.py`), over any link that can send it.

Paths are the guest's; relative ones start at its home. The guest is untrusted: its
replies are checked, and its OSErrors become the same errors as the host's own file
operations (`hostfs.translate_oserror`).
"""

from __future__ import annotations

import base64
import binascii
import errno
from typing import Any, Protocol

from ..errors import GuestProtocolError, InvalidArgument, LimitExceeded
from ..guest.agent import protocol
from ..models import EntryInfo, FileType
from .hostfs import translate_oserror


class FileLink(Protocol):
    def file_call(self, request: dict[str, Any]) -> dict[str, Any]:
        """One `file` request (the action and its fields) and its reply."""
        ...


class GuestFiles:
    """`SandboxFiles` over the agent's `file` requests."""

    def __init__(self, link: FileLink) -> None:
        self._link = link

    def _do(self, action: str, path: str, verb: str, **args: Any) -> dict[str, Any]:
        if not isinstance(path, str) or not path or "\0" in path:
            raise InvalidArgument(f"a path must be a non-empty string without NUL, got {path!r}")
        reply = self._link.file_call(
            protocol.request(protocol.OP_FILE, action=action, path=path, **args)
        )
        if "oserror" in reply:
            code = reply.get("oserror")
            message = str(reply.get("message", ""))
            if code == errno.EROFS:
                raise InvalidArgument(
                    f"cannot {verb} {path}: read-only (write under /home/user or /tmp)"
                )
            raise translate_oserror(
                OSError(code if isinstance(code, int) else 0, message), path, verb
            )
        if "error" in reply:
            raise GuestProtocolError(f"the guest refused the file operation: {reply['error']}")
        return reply

    def write(self, path: str, data: bytes | str) -> EntryInfo:
        payload = data.encode() if isinstance(data, str) else bytes(data)
        encoded = base64.b64encode(payload).decode()
        return _entry(self._do(protocol.FILE_WRITE, path, "write", data=encoded).get("info"))

    def read(self, path: str, *, max_bytes: int) -> bytes:
        reply = self._do(protocol.FILE_READ, path, "read", max_bytes=max_bytes)
        if reply.get("too_big"):
            raise LimitExceeded(
                "file_size",
                f"cannot read {path}: it holds {reply.get('size')} bytes, more than the limit "
                f"of {max_bytes} bytes",
            )
        try:
            data = base64.b64decode(str(reply.get("data", "")), validate=True)
        except (binascii.Error, ValueError) as e:
            raise GuestProtocolError("the guest sent file data that is not base64") from e
        if len(data) > max_bytes:
            raise GuestProtocolError("the guest sent more file data than asked for")
        return data

    def list(self, path: str, depth: int = 1) -> list[EntryInfo]:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise InvalidArgument(f"depth must be a positive integer, got {depth!r}")
        entries = self._do(protocol.FILE_LIST, path, "list", depth=depth).get("entries")
        if not isinstance(entries, list):
            raise GuestProtocolError("the guest's listing is not a list")
        return [_entry(e) for e in entries]

    def exists(self, path: str) -> bool:
        return bool(self._do(protocol.FILE_EXISTS, path, "check").get("exists"))

    def remove(self, path: str) -> None:
        self._do(protocol.FILE_REMOVE, path, "remove")

    def rename(self, old: str, new: str) -> EntryInfo:
        if not isinstance(new, str) or not new or "\0" in new:
            raise InvalidArgument(f"a path must be a non-empty string without NUL, got {new!r}")
        return _entry(self._do(protocol.FILE_RENAME, old, "rename", new=new).get("info"))

    def make_dir(self, path: str) -> bool:
        return bool(self._do(protocol.FILE_MAKE_DIR, path, "make directory").get("made"))

    def get_info(self, path: str) -> EntryInfo:
        return _entry(self._do(protocol.FILE_INFO, path, "stat").get("info"))


_TYPES: tuple[FileType, ...] = ("file", "dir", "symlink", "other")


def _entry(raw: Any) -> EntryInfo:
    if not isinstance(raw, dict):
        raise GuestProtocolError("the guest sent a malformed file entry")
    kind = raw.get("type")
    name, path, size, modified = (raw.get(k) for k in ("name", "path", "size", "modified"))
    target = raw.get("symlink_target")
    if (
        kind not in _TYPES
        or not isinstance(name, str)
        or not isinstance(path, str)
        or isinstance(size, bool)
        or not isinstance(size, int)
        or not isinstance(modified, (int, float))
        or not (target is None or isinstance(target, str))
    ):
        raise GuestProtocolError("the guest sent a malformed file entry")
    file_type: FileType = next(t for t in _TYPES if t == kind)
    return EntryInfo(name, path, file_type, size, float(modified), target)
