"""What a route declares it needs, as FastAPI dependencies: the service, the caller's API
key, and the checked path and query parameters the routes share.

Annotated aliases at module level, because FastAPI resolves string annotations against the
globals of the route's module, which imports them from here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .. import wire
from .errors import Unauthorized
from .keys import KeyStore
from .schemas import MAX_PATH, SNAPSHOT_NAME
from .service import Service

_bearer = HTTPBearer(auto_error=False, description="An API key from `sandlot keys create`")


async def service(request: Request) -> Service:
    """The app's one `Service` (async: a lookup needs no worker thread)."""
    svc: Service = request.app.state.service
    return svc


def owner(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The id of the request's API key: the owner of whatever it creates."""
    if creds is None:
        raise Unauthorized("this request needs an API key: Authorization: Bearer KEY")
    store: KeyStore = request.app.state.keys
    key_id = store.verify(creds.credentials)
    if key_id is None:
        raise Unauthorized("the API key is not valid (unknown or revoked)")
    return key_id


Svc = Annotated[Service, Depends(service)]
Owner = Annotated[str, Depends(owner)]
FilePath = Annotated[str, Query(min_length=1, max_length=MAX_PATH)]
Offset = Annotated[int, Query(ge=0, le=1 << 62, description="The first event wanted")]
CommandId = Annotated[str, Path(min_length=1, max_length=64)]
ImageName = Annotated[str, Path(pattern=wire.NAME_RE.pattern)]
ImageTag = Annotated[str, Path(pattern=wire.TAG_RE.pattern)]
SnapshotName = Annotated[str, Path(pattern=SNAPSHOT_NAME)]
BlobKind = Annotated[str | None, Query(pattern="^(image|snapshot)$")]
