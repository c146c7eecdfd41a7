"""Turning a guest's reply (untrusted JSON) into the SDK's result types, for every tier.

A guest is untrusted: every field is checked for its type and size, and anything malformed
is a `GuestProtocolError`, never a crash deep inside the host.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..errors import GuestProtocolError, Interrupted, LimitExceeded, SandboxError
from ..models import CommandResult, Execution, ExecutionError, Logs, Result, Timings
from .output import OutputSink

MAX_RESULTS = 1000


def _text(value: Any, field: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise GuestProtocolError(f"guest sent {field} of type {type(value).__name__}")
    return value


def parse_results(raw: Any) -> list[Result]:
    if not isinstance(raw, list) or len(raw) > MAX_RESULTS:
        raise GuestProtocolError("guest sent malformed results")
    results = []
    for item in raw:
        if not isinstance(item, dict):
            raise GuestProtocolError("guest sent a result that is not an object")
        png = _text(item.get("png"), "png")
        try:
            png_bytes = base64.b64decode(png, validate=True) if png is not None else None
        except (binascii.Error, ValueError) as e:
            raise GuestProtocolError("guest sent a png that is not base64") from e
        results.append(
            Result(
                text=_text(item.get("text"), "text"),
                html=_text(item.get("html"), "html"),
                png=png_bytes,
                json=item.get("json"),
                is_main_result=bool(item.get("is_main_result", False)),
            )
        )
    return results


def parse_error(raw: Any) -> ExecutionError | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise GuestProtocolError("guest sent a malformed error")
    return ExecutionError(
        name=_text(raw.get("name"), "error.name", optional=False) or "Error",
        value=_text(raw.get("value", ""), "error.value", optional=False) or "",
        traceback=_text(raw.get("traceback", ""), "error.traceback", optional=False) or "",
    )


def parse_count(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise GuestProtocolError("guest sent a malformed execution_count")
    return int(raw)


def parse_truncated(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(s for s in raw if s in ("stdout", "stderr"))


_TOO_DEEP = ("MemoryError", "RecursionError")


def truncated(sink: OutputSink, reply: dict[str, Any]) -> tuple[str, ...]:
    """Streams cut by the host's cap or by the agent's own (which keeps the reply intact)."""
    return tuple(sorted(sink.truncated | set(parse_truncated(reply.get("truncated")))))


def execution(
    reply: dict[str, Any], sink: OutputSink, timings: Timings, memory_bytes: int
) -> Execution:
    """A run_code reply as an `Execution`, or the limit it hit as `LimitExceeded`."""
    error = parse_error(reply.get("error"))
    if error is not None and reply.get("phase") == "compile" and error.name in _TOO_DEEP:
        raise LimitExceeded(
            "stack",
            f"the code is nested too deeply for the guest's compiler ({error.name}: "
            f"{error.value}); split it into smaller pieces. The sandbox's state is kept",
        )
    if error is not None and error.name == "MemoryError":
        raise LimitExceeded(
            "memory",
            f"the code ran out of memory: this sandbox may hold at most "
            f"{memory_bytes >> 20} MiB (Limits(memory_bytes=...)); "
            "its state from earlier calls is kept",
        )
    return Execution(
        results=parse_results(reply.get("results", [])),
        logs=Logs(stdout=sink.text("stdout"), stderr=sink.text("stderr")),
        error=error,
        execution_count=parse_count(reply.get("execution_count", 0)),
        timings=timings,
        truncated=truncated(sink, reply),
    )


def command_result(reply: dict[str, Any], sink: OutputSink, timings: Timings) -> CommandResult:
    """An exec reply as a `CommandResult`."""
    error = parse_error(reply.get("error"))
    if error is not None:
        if error.name == "KeyboardInterrupt":  # stopped on request (kill(), Ctrl-C)
            raise Interrupted("the command was interrupted (killed); the sandbox lives on")
        raise SandboxError(f"the command could not run: {error.name}: {error.value}")
    code = reply.get("exit_code")
    if isinstance(code, bool) or not isinstance(code, int):
        raise GuestProtocolError("the guest's exec reply has no exit_code")
    return CommandResult(
        stdout=sink.text("stdout"),
        stderr=sink.text("stderr"),
        exit_code=code,
        timings=timings,
        truncated=truncated(sink, reply),
    )
