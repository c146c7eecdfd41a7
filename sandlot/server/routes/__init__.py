"""The REST routes, one module per resource. Each route only turns HTTP into a call on the
`Service` (`deps.Svc`) and its answer into a response body; the rules live in the service.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import code, commands, files, registry, sandboxes, snapshots, system

ROUTERS: tuple[APIRouter, ...] = (
    system.router,
    sandboxes.router,
    snapshots.router,
    code.router,
    commands.router,
    files.router,
    registry.router,
)
"""In the order the OpenAPI document lists them."""
