"""Sandboxes: create, list, look up, close, extend, pause, resume, fork."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..deps import Owner, Svc
from ..errors import ERRORS
from ..schemas import (
    CreateIn,
    ForkIn,
    NetworkLogOut,
    PausedOut,
    ResumeIn,
    SandboxList,
    SandboxOut,
    TimeoutIn,
)
from ..views import sandbox_out

router = APIRouter(tags=["sandboxes"], responses=ERRORS)


@router.post("/v1/sandboxes", status_code=201)
def create_sandbox(body: CreateIn, who: Owner, svc: Svc) -> SandboxOut:
    """Start a sandbox on the lightest tier that provides `requires`."""
    return sandbox_out(svc.create(who, body))


@router.get("/v1/sandboxes")
def list_sandboxes(request: Request, who: Owner, svc: Svc) -> SandboxList:
    """This key's live sandboxes; `?metadata.KEY=VALUE` keeps those labelled so."""
    wanted = {
        k.removeprefix("metadata."): v
        for k, v in request.query_params.multi_items()
        if k.startswith("metadata.")
    }
    return SandboxList(sandboxes=[sandbox_out(e) for e in svc.listed(who, wanted)])


@router.get("/v1/sandboxes/{sandbox_id}")
def get_sandbox(sandbox_id: str, who: Owner, svc: Svc) -> SandboxOut:
    return sandbox_out(svc.owned(sandbox_id, who))


@router.delete("/v1/sandboxes/{sandbox_id}", status_code=204)
async def delete_sandbox(sandbox_id: str, who: Owner, svc: Svc) -> Response:
    """Close the sandbox (killing its background commands); later requests for it
    answer 404 sandbox gone (closed)."""
    await svc.delete(sandbox_id, who)
    return Response(status_code=204)


@router.post("/v1/sandboxes/{sandbox_id}/timeout")
def set_timeout(sandbox_id: str, body: TimeoutIn, who: Owner, svc: Svc) -> SandboxOut:
    """Let the sandbox live `timeout` more seconds from now."""
    return sandbox_out(svc.extend(sandbox_id, who, body.timeout))


@router.post("/v1/sandboxes/{sandbox_id}/pause")
async def pause(sandbox_id: str, who: Owner, svc: Svc) -> PausedOut:
    """Save the whole sandbox on the server and free it; it survives server restarts
    until `POST …/resume`. Tiers that cannot save answer 409 Unsupported."""
    await svc.pause(sandbox_id, who)
    return PausedOut(id=sandbox_id, state="paused")


@router.post("/v1/sandboxes/{sandbox_id}/resume")
def resume(sandbox_id: str, who: Owner, svc: Svc, body: ResumeIn | None = None) -> SandboxOut:
    """Bring a paused sandbox back, with its state, under the same id."""
    return sandbox_out(svc.resume(sandbox_id, who, body.timeout if body else None))


@router.post("/v1/sandboxes/{sandbox_id}/fork")
def fork(sandbox_id: str, body: ForkIn, who: Owner, svc: Svc) -> SandboxList:
    """`n` new sandboxes going on from this one's current state (each counts against
    the key's cap), with its remaining lifetime."""
    return SandboxList(sandboxes=[sandbox_out(e) for e in svc.fork(sandbox_id, who, body.n)])


@router.get("/v1/sandboxes/{sandbox_id}/network/log")
def network_log(sandbox_id: str, who: Owner, svc: Svc) -> NetworkLogOut:
    """Every connection the sandbox tried: time, host, port, allowed or refused and why,
    bytes (a sandbox without network: 409 Unsupported)."""
    records = svc.owned(sandbox_id, who).core.network_log()
    return NetworkLogOut(connections=records)
