"""The cap on request bodies, applied before FastAPI reads a byte of them.

FastAPI reads a JSON body whole and parses it before validation can refuse it, so an
oversized body costs the server its size several times over. This pure ASGI middleware
answers a declared `Content-Length` over the cap with 413 at once, without reading the
body, and counts the bytes of a chunked one as they arrive, stopping at the cap. Uploads
(`PUT`: files and registry blobs) are streamed by their routes under their own larger
caps (`bodies.py`), so they pass through.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """A request body over the cap, met while it streamed in (the error mapper answers 413;
    an HTTP exception, so FastAPI's body reader lets it through as it is)."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, too_large_message(cap))
        self.cap = cap


def too_large_message(cap: int) -> str:
    return f"the request body is over this server's ceiling: [limits] body_bytes = {cap}"


def too_large_body(cap: int) -> dict[str, Any]:
    """The one error shape, as `LimitExceeded` with the ceiling's key for `limit`."""
    message = too_large_message(cap)
    return {"error": {"type": "LimitExceeded", "message": message, "limit": "body_bytes"}}


class BodyCap:
    """Refuse request bodies (but uploads') over `cap` bytes with 413, reading no more."""

    def __init__(self, app: ASGIApp, cap: int) -> None:
        self.app = app
        self.cap = cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "PUT":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.cap:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.cap:
                    raise BodyTooLarge(self.cap)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(too_large_body(self.cap)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
