"""Connections under the server's bounds: a deadline on each request head, and a cap on
the connections one client address holds.

uvicorn times out only a kept-alive connection that is idle after a response: a
connection that sends its head a byte at a time, or opens and never speaks, is held for
good (h11's size cap bounds a head's bytes, not its time), and nothing bounds how many one
client holds. `guarded_protocol` makes uvicorn's own h11 protocol class with both bounds,
for `uvicorn.Config(http=...)`: every connection then reaches the app through uvicorn's
code as before, only sooner closed.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import MAX_REQUEST_HEAD, ServerConfig


def _raw_answer(status: str, kind: str, message: str, **extra: Any) -> bytes:
    """A whole HTTP/1.1 error response in the one error shape, for a connection that
    closes before (or instead of) an app could answer it."""
    body = json.dumps({"error": {"type": kind, "message": message, **extra}}).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def guarded_protocol(head_timeout: float, max_per_client: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head is not whole within
    `head_timeout` seconds of its start (or of the previous response), and answering 429
    to a client address that already holds `max_per_client` connections. One class per
    server: the count of connections is the server's."""
    held: Counter[str] = Counter()
    late = _raw_answer(
        "408 Request Timeout",
        "TimeoutError",
        f"the request head did not arrive within {head_timeout:g} s (head_timeout)",
    )
    crowded = _raw_answer(
        "429 Too Many Requests",
        "LimitExceeded",
        f"this client holds {max_per_client} connections already (max_connections_per_client)",
        limit="connections",
    )

    class Guarded(H11Protocol):
        _head_deadline: asyncio.TimerHandle | None = None
        _heard = False
        _address: str | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else ""
            if held[address] >= max_per_client:
                transport.write(crowded)
                transport.close()
                return
            held[address] += 1
            self._address = address
            self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_arrived()
            if self._address is not None:
                held[self._address] -= 1
                if held[self._address] <= 0:
                    del held[self._address]
                self._address = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            self._heard = True
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._head_arrived()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._await_head()

        def _await_head(self) -> None:
            self._head_arrived()
            self._heard = False
            self._head_deadline = self.loop.call_later(head_timeout, self._head_too_late)

        def _head_arrived(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _head_too_late(self) -> None:
            self._head_deadline = None
            if self.transport.is_closing():
                return
            if self._heard:  # a head begun and never finished; silence is closed quietly
                self.transport.write(late)
            self.transport.close()

    return Guarded


def uvicorn_options(cfg: ServerConfig) -> dict[str, Any]:
    """The uvicorn settings every `sandlot serve` runs with: its head cap, its timeouts
    and the guarded protocol."""
    return {
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD,
        "timeout_keep_alive": cfg.keep_alive_timeout,
        "http": guarded_protocol(cfg.head_timeout, cfg.max_connections_per_client),
    }
