"""The one error mapper: every failure a route can meet becomes an HTTP status and the one
body shape, `{"error": {"type", "message", ...}}`, counted in `sandlot_errors` by type.

Sandlot errors are the client's to act on, so each maps to a 4xx; a bug of ours is a 500
in the same shape, logged with its traceback. The streamed calls' `error` events carry the
same body (`error_body`), so a client reads one shape wherever an error reaches it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors as err
from .. import wire
from ..errors import SandboxClosed, SandboxError
from .body_cap import BodyTooLarge, too_large_body
from .metrics import Metrics
from .registry import SnapshotExists
from .sandboxes import closed_reason
from .schemas import ErrorOut

log = logging.getLogger("sandlot.server")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 404, 408, 409, 413, 422, 429)
}
"""The error answers every route documents (`responses=` in its decorator)."""


class Unauthorized(Exception):
    """No key, or one the server does not know: answered 401, never a sandbox error."""


def status_for(e: SandboxError) -> int:
    """The HTTP status of a sandlot error: always a 4xx, the client's to act on."""
    if isinstance(e, err.TimeoutError):
        return 408
    if isinstance(e, err.LimitExceeded):
        return {"file_size": 413, "sandboxes": 429}.get(e.limit, 422)
    if isinstance(e, err.NotFound | SandboxClosed):
        return 404
    if isinstance(e, err.Unsatisfiable | err.Unsupported | err.Interrupted | SnapshotExists):
        return 409
    if isinstance(e, err.GuestProtocolError):
        return 422
    return 400


def error_body(e: SandboxError, metrics: Metrics) -> dict[str, Any]:
    """The body of a sandlot error (a gone sandbox says why), counted by its type."""
    extra: dict[str, Any] = {}
    if isinstance(e, SandboxClosed):
        extra = {"reason": closed_reason(e), "title": "sandbox gone"}
    metrics.errors.labels(type(e).__name__).inc()
    return wire.error_to_json(e, **extra)


def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.service.metrics
    return metrics


def _body(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


async def _on_sandbox_error(request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, SandboxError)
    return JSONResponse(error_body(e, _metrics(request)), status_code=status_for(e))


async def _on_unauthorized(request: Request, e: Exception) -> JSONResponse:
    _metrics(request).errors.labels("Unauthorized").inc()
    return JSONResponse(_body("Unauthorized", str(e)), 401, headers={"WWW-Authenticate": "Bearer"})


async def _on_invalid(request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, RequestValidationError)
    fields = [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg")}
        for err in e.errors()
    ]
    message = "; ".join(f"{f['field']}: {f['problem']}" for f in fields)
    _metrics(request).errors.labels("InvalidArgument").inc()
    return JSONResponse(_body("InvalidArgument", message, fields=fields), 422)


async def _on_http(request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, StarletteHTTPException)
    if isinstance(e, BodyTooLarge):
        _metrics(request).errors.labels("LimitExceeded").inc()
        return JSONResponse(too_large_body(e.cap), 413, headers={"Connection": "close"})
    kind = "NotFound" if e.status_code == 404 else "HTTPError"
    return JSONResponse(
        _body(kind, str(e.detail)), e.status_code, headers=getattr(e, "headers", None)
    )


async def _on_bug(request: Request, e: Exception) -> JSONResponse:
    """A bug of ours: still the one error shape, and logged with its traceback."""
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=e)
    _metrics(request).errors.labels("InternalError").inc()
    return JSONResponse(_body("InternalError", "internal server error"), 500)


def install(app: FastAPI) -> None:
    """Answer every error the app meets in the one shape."""
    app.add_exception_handler(SandboxError, _on_sandbox_error)
    app.add_exception_handler(Unauthorized, _on_unauthorized)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_bug)
