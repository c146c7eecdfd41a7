"""A key's named snapshots: save one from a sandbox, list them, delete one."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ..deps import Owner, SnapshotName, Svc
from ..errors import ERRORS
from ..schemas import SnapshotIn, SnapshotList, SnapshotOut
from ..views import snapshot_out

router = APIRouter(responses=ERRORS)


@router.post("/v1/sandboxes/{sandbox_id}/snapshots", tags=["sandboxes"])
def snapshot(sandbox_id: str, body: SnapshotIn, who: Owner, svc: Svc) -> SnapshotOut:
    """Save the sandbox's state as this key's snapshot `name` (it runs on);
    `POST /v1/sandboxes` with `snapshot` starts new sandboxes from it."""
    return snapshot_out(svc.snapshot(sandbox_id, who, body.name))


@router.get("/v1/snapshots", tags=["snapshots"])
def list_snapshots(who: Owner, svc: Svc) -> SnapshotList:
    """This key's named snapshots."""
    return SnapshotList(snapshots=[snapshot_out(s) for s in svc.snapshots(who)])


@router.delete("/v1/snapshots/{name}", status_code=204, tags=["snapshots"])
def delete_snapshot(name: SnapshotName, who: Owner, svc: Svc) -> Response:
    """Delete this key's snapshot `name`."""
    svc.delete_snapshot(who, name)
    return Response(status_code=204)
