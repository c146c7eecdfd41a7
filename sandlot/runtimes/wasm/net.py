"""The host end of the wasm guest's fetch bridge: the guest has no sockets, so it hands
each HTTP(S) request through the door (`protocol.EV_FETCH`, `guest/agent/net_bridge.py`)
and this makes it with `network.fetch` on the sandbox's own gateway attachment (its
policy, caps, log and secrets; every redirect hop checked again).

The attachment is made when the sandbox opens (restored and forked ones get their own)
and closed with it. Request and response bodies are bounded: the request by the door's
frame, the response by the guest's memory (its frame is held there about four times over).
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from concurrent.futures import TimeoutError as WaitTimeout
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from ...guest.agent import protocol
from ..base import SandboxSpec

if TYPE_CHECKING:  # the gateway (asyncio, ssl, h11) is imported only by a networked sandbox
    from ...network.fetch import FetchRequest
    from ...network.gateway import Attachment
    from ...network.log import ConnectionRecord

NO_NETWORK = "sandlot: this sandbox has no network (Sandbox.create(network=...))"
MAX_REQUEST_BODY = 16 << 20  # as the guest's net_bridge.MAX_REQUEST_BODY
# and never more than an eighth of the guest's memory; in base64 its frame stays under the
# door's 64 MiB (`protocol.MAX_FRAME_BYTES`)
MAX_RESPONSE_BODY = 32 << 20
MAX_URL = 16 << 10
MAX_HEADERS = 256
DEFAULT_TIMEOUT = 60.0
# Framing is the gateway's (it sets Host, Content-Length and Connection itself).
_DROPPED = {"transfer-encoding", "te", "upgrade", "keep-alive", "proxy-connection"}


class BadFetch(ValueError):
    """A fetch frame the host will not turn into a request."""


class WasmNetwork:
    """One wasm sandbox's way out: its attachment (None without network) and the bridge."""

    def __init__(self, spec: SandboxSpec) -> None:
        self.attachment: Attachment | None = None
        self._max_body = min(MAX_RESPONSE_BODY, spec.limits.memory_bytes // 8)
        if spec.network is not None and spec.network.enabled:
            from ...network.gateway import gateway

            self.attachment = gateway().attach(
                spec.network, spec.secrets, label=f"wasm-{uuid.uuid4().hex[:12]}"
            )

    def log(self) -> list[ConnectionRecord]:
        return self.attachment.log() if self.attachment is not None else []

    def close(self) -> None:
        if self.attachment is not None:
            self.attachment.close()

    def serve(self, message: dict[str, Any], until: float) -> bytes:
        """The answer to one fetch frame, as the frame the guest reads back."""
        if self.attachment is None:
            return protocol.encode({"error": NO_NETWORK})
        from ...network.fetch import fetch
        from ...network.gateway import GatewayDown

        try:
            request = self._request(message, until)
            response = fetch(self.attachment, request)
        except BadFetch as e:
            return protocol.encode({"error": f"sandlot: {e}"})
        except GatewayDown as e:
            return protocol.encode({"error": str(e)})
        except WaitTimeout:
            return protocol.encode({"error": "sandlot: the gateway did not answer in time"})
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        answer = {
            "status": response.status,
            "reason": reason,
            "headers": [list(pair) for pair in response.headers],
            "body": base64.b64encode(response.body).decode("ascii"),
            "url": response.url,
        }
        return protocol.encode(answer)

    def _request(self, message: dict[str, Any], until: float) -> FetchRequest:
        from ...network.fetch import FetchRequest

        unknown = message.keys() - protocol.FETCH_FIELDS - {"ev"}
        if unknown:
            raise BadFetch(f"a fetch takes no field {sorted(unknown)}")
        method, url = message.get("method"), message.get("url")
        if not isinstance(method, str) or not (method.isascii() and method.isalpha()):
            raise BadFetch(f"bad method {method!r}")
        if not isinstance(url, str) or len(url) > MAX_URL:
            raise BadFetch("the URL is not a string of at most 16 KiB")
        headers = _headers(message.get("headers"))
        body = _body(message.get("body"))
        wanted = message.get("timeout")
        timeout = float(wanted) if isinstance(wanted, int | float) and wanted > 0 else None
        left = max(until - time.monotonic() - 0.5, 0.1)  # the turn's deadline bounds it
        return FetchRequest(
            method.upper(),
            url,
            headers,
            body,
            follow_redirects=message.get("follow_redirects") is True,
            timeout=min(timeout or DEFAULT_TIMEOUT, left),
            max_body=self._max_body,
        )


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or len(value) > MAX_HEADERS:
        raise BadFetch(f"headers must be a list of at most {MAX_HEADERS} pairs")
    pairs = []
    for pair in value:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(s, str) for s in pair)
        ):
            raise BadFetch("a header is not a [name, value] pair of strings")
        name, text = pair
        if not name or any(c in name + text for c in "\r\n\0") or ":" in name:
            raise BadFetch(f"bad header {name!r}")
        if name.lower() not in _DROPPED:
            pairs.append((name, text))
    return tuple(pairs)


def _body(value: Any) -> bytes:
    if value is None or value == "":
        return b""
    if not isinstance(value, str) or len(value) > (MAX_REQUEST_BODY + 2) // 3 * 4:
        raise BadFetch(f"the request body is over {MAX_REQUEST_BODY} bytes")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as e:
        raise BadFetch(f"the request body is not base64 ({e})") from e
