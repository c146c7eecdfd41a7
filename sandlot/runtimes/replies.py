"""Turning a guest's reply (untrusted JSON) into the SDK's result types, for every tier.

A guest is untrusted: every field is checked for its type and size, and anything malformed
is a `GuestProtocolError`, never a crash deep inside the host.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..errors import GuestProtocolError
from ..models import ExecutionError, Result

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
