"""Running Python in a sandbox, and stopping a call that runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ... import wire
from ...runtimes.base import OutputCallback
from ..deps import Owner, Svc
from ..errors import ERRORS
from ..schemas import CodeIn, InterruptIn, InterruptOut
from ..sse import EVENT_STREAM, answer

router = APIRouter(responses=ERRORS)


@router.post("/v1/sandboxes/{sandbox_id}/interrupt", tags=["sandboxes"])
def interrupt(
    sandbox_id: str, who: Owner, svc: Svc, body: InterruptIn | None = None
) -> InterruptOut:
    """Stop a call, if its tier can (how the remote SDK's `CommandHandle.kill()`
    reaches it). With `call_id`: only the call started with that id; one still queued
    then ends `Interrupted` without running, one that ended is left alone. Without:
    whatever call runs now. `interrupted` says whether a running call was signalled."""
    call_id = body.call_id if body is not None else None
    return InterruptOut(interrupted=svc.interrupt(sandbox_id, who, call_id))


@router.post(
    "/v1/sandboxes/{sandbox_id}/code",
    tags=["code"],
    responses={200: {"content": {EVENT_STREAM: {}}}},
)
async def run_code(
    sandbox_id: str, body: CodeIn, request: Request, who: Owner, svc: Svc
) -> Response:
    """Run Python as a notebook cell; `Accept: text/event-stream` streams the output."""
    entry = svc.owned(sandbox_id, who)
    limits = svc.call_limits(entry, body.limits)
    timeout = svc.call_timeout(body.timeout)

    def work(out: OutputCallback | None, err: OutputCallback | None) -> Any:
        return entry.core.run_code(
            body.code, timeout=timeout, limits=limits, on_stdout=out, on_stderr=err
        )

    named = svc.named(entry, body.call_id, work)
    return await answer(request, svc, entry, "run_code", named, wire.execution_to_json)
