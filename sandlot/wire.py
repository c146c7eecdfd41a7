"""The wire between `sandlot serve` and its clients: the JSON forms of sandlot's values
and errors, and the names the registry's routes carry.

One codec on both sides is what lets a remote sandbox give back the same `Execution`, the
same `EntryInfo` and the same exception (type, message, limit) as a local one, and lets the
server refuse exactly the image references a client would. Stdlib only, so the client never
needs the server's dependencies. (`Limits` carries its own codec, `Limits.to_dict`.)
"""

from __future__ import annotations

import base64
import re
from typing import Any, get_args

from . import errors
from .models import (
    CommandResult,
    ConnectionKind,
    ConnectionRecord,
    EntryInfo,
    Execution,
    ExecutionError,
    Logs,
    Result,
    Timings,
)

ERROR_TYPES: dict[str, type[errors.SandboxError]] = {
    "SandboxError": errors.SandboxError,
    "TimeoutError": errors.TimeoutError,
    "LimitExceeded": errors.LimitExceeded,
    "SandboxClosed": errors.SandboxClosed,
    "InvalidArgument": errors.InvalidArgument,
    "NotFound": errors.NotFound,
    "Unsatisfiable": errors.Unsatisfiable,
    "GuestProtocolError": errors.GuestProtocolError,
    "Interrupted": errors.Interrupted,
    "Unsupported": errors.Unsupported,
    "ImageMissing": errors.ImageMissing,
    "ImageError": errors.ImageError,
}


def timings_to_json(t: Timings) -> dict[str, float]:
    return {"queued": t.queued, "run": t.run, "total": t.total}


def timings_from_json(d: dict[str, Any]) -> Timings:
    return Timings(float(d["queued"]), float(d["run"]), float(d["total"]))


def execution_to_json(ex: Execution) -> dict[str, Any]:
    err = ex.error
    return {
        "results": [
            {
                "text": r.text,
                "html": r.html,
                "png": base64.b64encode(r.png).decode("ascii") if r.png is not None else None,
                "json": r.json,
                "is_main_result": r.is_main_result,
            }
            for r in ex.results
        ],
        "logs": {"stdout": ex.logs.stdout, "stderr": ex.logs.stderr},
        "error": None
        if err is None
        else {"name": err.name, "value": err.value, "traceback": err.traceback},
        "execution_count": ex.execution_count,
        "timings": timings_to_json(ex.timings),
        "truncated": list(ex.truncated),
    }


def execution_from_json(d: dict[str, Any]) -> Execution:
    err = d.get("error")
    return Execution(
        results=[
            Result(
                text=r.get("text"),
                html=r.get("html"),
                png=base64.b64decode(r["png"]) if r.get("png") is not None else None,
                json=r.get("json"),
                is_main_result=bool(r.get("is_main_result")),
            )
            for r in d.get("results", [])
        ],
        logs=Logs(stdout=d["logs"]["stdout"], stderr=d["logs"]["stderr"]),
        error=None if err is None else ExecutionError(err["name"], err["value"], err["traceback"]),
        execution_count=int(d["execution_count"]),
        timings=timings_from_json(d["timings"]),
        truncated=tuple(d.get("truncated", ())),
    )


def command_to_json(r: CommandResult) -> dict[str, Any]:
    return {
        "stdout": r.stdout,
        "stderr": r.stderr,
        "exit_code": r.exit_code,
        "timings": timings_to_json(r.timings),
        "truncated": list(r.truncated),
    }


def command_from_json(d: dict[str, Any]) -> CommandResult:
    return CommandResult(
        stdout=d["stdout"],
        stderr=d["stderr"],
        exit_code=int(d["exit_code"]),
        timings=timings_from_json(d["timings"]),
        truncated=tuple(d.get("truncated", ())),
    )


def entry_to_json(e: EntryInfo) -> dict[str, Any]:
    return {
        "name": e.name,
        "path": e.path,
        "type": e.type,
        "size": e.size,
        "modified": e.modified,
        "symlink_target": e.symlink_target,
    }


def entry_from_json(d: dict[str, Any]) -> EntryInfo:
    return EntryInfo(
        name=d["name"],
        path=d["path"],
        type=d["type"],
        size=int(d["size"]),
        modified=float(d["modified"]),
        symlink_target=d.get("symlink_target"),
    )


_KINDS: tuple[ConnectionKind, ...] = get_args(ConnectionKind)  # the one list, in models.py


def record_from_json(d: dict[str, Any]) -> ConnectionRecord:
    kind: ConnectionKind = next((k for k in _KINDS if k == d.get("kind")), "connect")
    return ConnectionRecord(
        time=float(d["time"]),
        host=str(d["host"]),
        port=int(d["port"]),
        allowed=bool(d["allowed"]),
        reason=str(d["reason"]),
        bytes_up=int(d["bytes_up"]),
        bytes_down=int(d["bytes_down"]),
        kind=kind,
    )


def error_to_json(e: errors.SandboxError, **extra: Any) -> dict[str, Any]:
    """`{"error": {"type", "message", "limit"?, ...}}`: the type is the nearest sandlot class."""
    name = next(
        (n for n, cls in ERROR_TYPES.items() if type(e) is cls),
        next(n for n, cls in reversed(ERROR_TYPES.items()) if isinstance(e, cls)),
    )
    body: dict[str, Any] = {"type": name, "message": str(e)}
    if isinstance(e, errors.LimitExceeded):
        body["limit"] = e.limit
    body.update(extra)
    return {"error": body}


def error_from_json(d: dict[str, Any]) -> errors.SandboxError | None:
    """The exception an error body describes, or None when it is not one of ours."""
    body = d.get("error") if isinstance(d, dict) else None
    if not isinstance(body, dict):
        return None
    cls = ERROR_TYPES.get(str(body.get("type")))
    if cls is None:
        return None
    message = str(body.get("message", ""))
    if cls is errors.LimitExceeded:
        return errors.LimitExceeded(str(body.get("limit", "")), message)
    return cls(message)


# -- the registry ---------------------------------------------------------------------------

DIGEST_HEADER = "X-Sandlot-Digest"
"""`sha256:<hex>` of a registry blob's bytes, sent with a download and required on a push."""
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
TAG_RE = re.compile(r"^(latest|[0-9a-f]{12})$")


def parse_ref(ref: str) -> tuple[str, str]:
    """`NAME[:TAG]` -> (name, tag); the tag defaults to `latest`."""
    name, sep, tag = ref.rpartition(":")
    if not sep:
        name, tag = ref, "latest"
    if not NAME_RE.match(name) or not TAG_RE.match(tag):
        raise errors.InvalidArgument(
            f"image reference {ref!r}: want NAME[:TAG], NAME of letters, digits and . _ @ + -"
            ", TAG `latest` or 12 hex digits of the image's digest"
        )
    return name, tag
