"""Request bodies read as they arrive, never past the server's cap for them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from fastapi import Request

from ..errors import SandboxError


async def chunks(
    request: Request, cap: int, too_big: Callable[[], SandboxError]
) -> AsyncIterator[bytes]:
    """The body's chunks; `too_big()` is raised once they pass `cap` bytes."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_big()
        yield chunk


async def read(request: Request, cap: int, too_big: Callable[[], SandboxError]) -> bytes:
    """The whole body, refused at once when its declared length is over `cap`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_big()
    return b"".join([chunk async for chunk in chunks(request, cap, too_big)])
