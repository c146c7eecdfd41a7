"""The registry: images this server offers and a key's snapshots, as `name:tag` blobs to
list, download and (on servers that allow it) upload."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ... import wire
from .. import bodies
from ..deps import BlobKind, ImageName, ImageTag, Owner, Svc
from ..errors import ERRORS
from ..registry import RegistryEntry, RegistryList

router = APIRouter(tags=["registry"], responses=ERRORS)

_BLOB = "/v1/registry/{name}/{tag}/blob"


@router.get("/v1/registry")
def registry_list(who: Owner, svc: Svc) -> RegistryList:
    """Images this server offers, and this key's named snapshots (`kind`), as
    `name:tag` with the blob's size and sha256 (the first listing after a build or a
    snapshot packs it, which takes a while)."""
    return RegistryList(entries=[e for e, _ in svc.registry.entries(who)])


@router.get(
    _BLOB,
    response_class=FileResponse,
    responses={200: {"content": {"application/x-tar": {}}}},
)
def registry_blob(
    name: ImageName, tag: ImageTag, who: Owner, svc: Svc, kind: BlobKind = None
) -> FileResponse:
    """The image's rootfs, or the key's snapshot's folder, as a tar (`kind` picks when
    both have the name); `X-Sandlot-Digest: sha256:<hex>` names its bytes."""
    entry, path = svc.registry.find(name, tag, who, kind)
    return FileResponse(
        path, media_type="application/x-tar", headers={wire.DIGEST_HEADER: entry.digest}
    )


@router.put(_BLOB, response_model=RegistryEntry)
async def registry_push(
    name: ImageName, tag: ImageTag, request: Request, who: Owner, svc: Svc, kind: BlobKind = None
) -> RegistryEntry:
    """Upload an image's tar, or with `kind=snapshot` a named snapshot's folder as a
    tar (servers started with --allow-push); the body must match the
    `X-Sandlot-Digest` header. An image is installed as `name`, tagged by its digest; a
    snapshot becomes this key's snapshot `name` (tag `latest` or the upload's 12 hex),
    never over one it has (409)."""
    registry = svc.registry
    want = registry.check_push(
        name,
        tag,
        request.headers.get(wire.DIGEST_HEADER, ""),
        request.headers.get("content-length", ""),
    )
    body = bodies.chunks(request, registry.max_push_bytes, registry.too_big)
    return await registry.push(who, name, tag, kind, body, want)
