"""Shell commands: run one (answered, streamed, or started in the background), then follow,
feed or kill a background one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ... import wire
from ...errors import SandboxError
from ...runtimes.base import OutputCallback
from ..commands import Job, error_of
from ..deps import CommandId, Offset, Owner, Svc
from ..errors import ERRORS
from ..schemas import CommandHandleOut, CommandIn, CommandStatusOut, StdinIn
from ..sse import EVENT_STREAM, answer, frame, response
from ..views import command_status as status_out

router = APIRouter(tags=["commands"], responses=ERRORS)

_COMMAND = "/v1/sandboxes/{sandbox_id}/commands/{command_id}"
KEEP_ALIVE = 15.0
"""Seconds of silence after which an event stream sends a comment, so proxies keep it."""


@router.post(
    "/v1/sandboxes/{sandbox_id}/commands",
    responses={
        200: {"content": {EVENT_STREAM: {}}},
        202: {"model": CommandHandleOut, "description": "Started in the background"},
    },
)
async def run_command(
    sandbox_id: str, body: CommandIn, request: Request, who: Owner, svc: Svc
) -> Response:
    """Run a shell command line; `Accept: text/event-stream` streams the output.
    With `background: true` it answers 202 with a handle at once."""
    entry = svc.owned(sandbox_id, who)
    core = entry.core
    given: dict[str, Any] = {
        "timeout": svc.call_timeout(body.timeout),
        "envs": svc.envs(body.envs),
        "cwd": body.cwd,
        "stdin": body.stdin,
        "limits": svc.call_limits(entry, body.limits),
    }
    if body.background:
        job = svc.commands.start(
            entry,
            who,
            lambda out, err: core.background(body.cmd, **given, on_stdout=out, on_stderr=err),
        )
        handle = CommandHandleOut(id=job.id, sandbox_id=core.id, state="running")
        return JSONResponse(handle.model_dump(), status_code=202)

    def work(out: OutputCallback | None, err: OutputCallback | None) -> Any:
        return core.run_command(body.cmd, **given, on_stdout=out, on_stderr=err)

    named = svc.named(entry, body.call_id, work)
    return await answer(request, svc, entry, "run_command", named, wire.command_to_json)


@router.get(_COMMAND)
def command_status(
    sandbox_id: str, command_id: CommandId, who: Owner, svc: Svc, offset: Offset = 0
) -> CommandStatusOut:
    """A background command's state, and its output from event `offset` on."""
    return status_out(svc.commands.get(sandbox_id, command_id, who), offset)


@router.get(
    _COMMAND + "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {EVENT_STREAM: {}}}},
)
def command_events(
    sandbox_id: str,
    command_id: CommandId,
    who: Owner,
    request: Request,
    svc: Svc,
    offset: Offset = 0,
) -> StreamingResponse:
    """Server-sent events from `offset` (or after `Last-Event-ID`): `stdout`/`stderr`
    with `id` = their offset, then `result` or `error` when the command ends."""
    job = svc.commands.get(sandbox_id, command_id, who)
    last = request.headers.get("last-event-id", "")
    if last.isdigit() and len(last) < 19:
        offset = max(offset, int(last) + 1)
    return response(_events(job, offset))


async def _events(job: Job, at: int) -> AsyncIterator[bytes]:
    """The job's log from `at` as it grows, then its end."""
    while True:
        snap = job.read(at)
        for o, stream, text in snap.events:
            yield frame(stream, {"text": text}, o)
        at = snap.next_offset
        if snap.state != "running":
            if snap.result is not None:
                yield frame("result", wire.command_to_json(snap.result))
            else:
                err = error_of(snap.error or SandboxError("the command ended"))
                yield frame("error", wire.error_to_json(err))
            return
        if not snap.events:
            await job.wait_past(at, KEEP_ALIVE)
            if job.read(at).next_offset == at and not job.done:
                yield b": keep-alive\n\n"


@router.post(_COMMAND + "/stdin")
def command_stdin(
    sandbox_id: str, command_id: CommandId, body: StdinIn, who: Owner, svc: Svc
) -> CommandStatusOut:
    """Write to a running command's stdin. No tier's guest agent takes input once a
    command has started (give it whole as `stdin` when starting): 409 Unsupported."""
    svc.commands.write_stdin(sandbox_id, command_id, who)


@router.delete(_COMMAND)
async def command_kill(
    sandbox_id: str, command_id: CommandId, who: Owner, svc: Svc
) -> CommandStatusOut:
    """Kill a background command (the sandbox lives on) and answer its final state.
    A tier that cannot stop a running call answers 409 Unsupported; the command then
    ends at its own timeout."""
    return status_out(await svc.commands.kill(sandbox_id, command_id, who), 0)
