"""The server itself: liveness, metrics, and what it can start."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST

from ... import __version__
from ..catalog import CatalogOut, catalog
from ..deps import Owner, Svc, _bearer, owner
from ..errors import ERRORS

router = APIRouter(tags=["server"])


@router.get("/v1/health")
def health() -> dict[str, str]:
    """Liveness; needs no key."""
    return {"status": "ok", "version": __version__}


def scraper(
    request: Request,
    svc: Svc,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """Whose sandboxes a scrape counts: the API key's own, or (None) every key's for the
    operator's `metrics_token`, compared in constant time."""
    token = svc.cfg.metrics_token
    if token and creds is not None:
        if hmac.compare_digest(creds.credentials.encode(), token.encode()):
            return None
    return owner(request, creds)


@router.get("/metrics", response_class=Response)
def metrics_route(scope: Annotated[str | None, Depends(scraper)], svc: Svc) -> Response:
    """Prometheus metrics: sandboxes by tier and state (the key's own; every key's with
    the operator's metrics token), latencies, errors by type, warm pools."""
    return Response(svc.metrics.exposition(scope), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/templates", responses=ERRORS)
def list_templates(who: Owner) -> CatalogOut:
    """The tiers this server runs, the templates each serves, and the images built."""
    return catalog()
