"""The server itself: liveness, metrics, and what it can start."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ... import __version__
from ..catalog import CatalogOut, catalog
from ..deps import Owner, Svc
from ..errors import ERRORS

router = APIRouter(tags=["server"])


@router.get("/v1/health")
def health() -> dict[str, str]:
    """Liveness; needs no key."""
    return {"status": "ok", "version": __version__}


@router.get("/metrics", response_class=Response)
def metrics_route(who: Owner, svc: Svc) -> Response:
    """Prometheus metrics: sandboxes by tier and state, latencies, errors by type."""
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/templates", responses=ERRORS)
def list_templates(who: Owner) -> CatalogOut:
    """The tiers this server runs, the templates each serves, and the images built."""
    return catalog()
