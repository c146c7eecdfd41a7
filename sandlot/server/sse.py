"""Server-sent events: the one frame format and response, and the bridge that streams a
blocking core call's output while it runs.

Core calls block, so they run on a worker thread; their output callbacks fire on that
thread. `from_thread` hands each event to the event loop through a queue and yields it as a
frame, ending with the call's `result` or `error` frame. `answer` gives a call's result as
JSON, or as that stream when the client asks for `text/event-stream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..errors import SandboxError
from .errors import error_body
from .sandboxes import Entry
from .service import Service, Work

log = logging.getLogger("sandlot.server")

EVENT_STREAM = "text/event-stream"
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_LAST = ("result", "error")
"""The events that end a call's stream."""

Emit = Callable[[str, Any], None]
"""Called (on any thread) with an event's name and its JSON data."""


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One server-sent event; `id` lets a client resume with Last-Event-ID."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def response(frames: AsyncIterator[bytes]) -> StreamingResponse:
    """A stream of frames, unbuffered by proxies."""
    return StreamingResponse(frames, media_type=EVENT_STREAM, headers=_HEADERS)


async def from_thread(job: Callable[[Emit], None]) -> AsyncIterator[bytes]:
    """Run `job(emit)` on a worker thread and yield what it emits, up to and including
    its `result` or `error` event (which the job must emit last, whatever happens)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def emit(kind: str, data: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens
            loop.call_soon_threadsafe(queue.put_nowait, (kind, data))

    task = asyncio.ensure_future(run_in_threadpool(job, emit))
    while True:
        kind, data = await queue.get()
        yield frame(kind, data)
        if kind in _LAST:
            break
    await task


async def answer(
    request: Request,
    svc: Service,
    entry: Entry,
    op: str,
    work: Work,
    encode: Callable[[Any], dict[str, Any]],
) -> Response:
    """The call `work` as JSON, or streamed (stdout/stderr events as the core's callbacks
    fire, then `result` or `error`) when the client accepts `text/event-stream`."""
    if EVENT_STREAM not in request.headers.get("accept", ""):
        result = await run_in_threadpool(svc.call, entry, op, work, None, None)
        return JSONResponse(encode(result))

    def job(emit: Emit) -> None:
        try:
            out = svc.call(
                entry,
                op,
                work,
                lambda s: emit("stdout", {"text": s}),
                lambda s: emit("stderr", {"text": s}),
            )
            emit("result", encode(out))
        except SandboxError as e:
            emit("error", error_body(e, svc.metrics))
        except Exception:
            log.exception("%s failed in sandbox %s", op, entry.core.id)
            emit("error", {"error": {"type": "SandboxError", "message": "internal error"}})

    return response(from_thread(job))
