"""One HTTP(S) request made by the host on a sandbox's behalf: the wasm tier's bridge
(the guest has no sockets). Same policy, caps, log and secrets as the proxy; every
redirect hop is checked again, and the body is read whole, within the caps."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import h11

from .caps import CapExceeded
from .heads import BadHead
from .log import Counts
from .relay import CHUNK
from .upstream import Refused, open_upstream

if TYPE_CHECKING:
    from .gateway import Attachment

Headers = tuple[tuple[str, str], ...]
MAX_REDIRECTS = 10
_REDIRECTS = {301, 302, 303, 307, 308}
_DROPPED_ACROSS_HOSTS = {"authorization", "cookie", "proxy-authorization"}


@dataclass(frozen=True)
class FetchRequest:
    method: str
    url: str
    headers: Headers = ()
    body: bytes = b""
    follow_redirects: bool = True
    timeout: float = 60.0  # seconds for the whole exchange, redirects included
    max_body: int = 64 << 20  # the most response body kept in host memory


@dataclass(frozen=True)
class FetchResponse:
    """The origin's answer, or the gateway's: a refusal is a 403 (502, 504 when the host
    cannot be reached) with a `sandlot: ...` body and an `x-sandlot-refused` header."""

    status: int
    headers: Headers
    body: bytes
    url: str  # after redirects

    @property
    def refused(self) -> bool:
        return any(k == "x-sandlot-refused" for k, _ in self.headers)


def fetch(attachment: Attachment, request: FetchRequest) -> FetchResponse:
    """Make `request` for the sandbox of `attachment` (from any thread but the gateway's)."""
    return attachment.gateway.call(_fetch(attachment, request), timeout=request.timeout + 5)


def _refusal(status: int, message: str, url: str) -> FetchResponse:
    headers = (("content-type", "text/plain; charset=utf-8"), ("x-sandlot-refused", "1"))
    return FetchResponse(status, headers, (message + "\n").encode(), url)


async def _fetch(att: Attachment, request: FetchRequest) -> FetchResponse:
    try:
        return await asyncio.wait_for(_follow(att, request), request.timeout)
    except TimeoutError:
        return _refusal(504, f"sandlot: {request.url} took longer than {request.timeout}s", "")


async def _follow(att: Attachment, request: FetchRequest) -> FetchResponse:
    for _ in range(MAX_REDIRECTS + 1):
        answer = await _one(att, request)
        location = dict(answer.headers).get("location")
        if not request.follow_redirects or answer.status not in _REDIRECTS or not location:
            return answer
        request = _redirected(request, answer.status, urljoin(request.url, location))
    return _refusal(403, f"sandlot: more than {MAX_REDIRECTS} redirects", request.url)


def _redirected(request: FetchRequest, status: int, url: str) -> FetchRequest:
    """The next hop's request: GET without body after 303 (and 301/302 of a POST), and no
    credentials the sandbox sent carried to another host."""
    method, body = request.method, request.body
    if status == 303 or (status in (301, 302) and method == "POST"):
        method, body = "GET", b""
    headers = request.headers
    if urlsplit(url).hostname != urlsplit(request.url).hostname:
        headers = tuple((k, v) for k, v in headers if k.lower() not in _DROPPED_ACROSS_HOSTS)
    if not body:
        headers = tuple((k, v) for k, v in headers if k.lower() != "content-length")
    return FetchRequest(method, url, headers, body, True, request.timeout, request.max_body)


async def _one(att: Attachment, request: FetchRequest) -> FetchResponse:
    """One hop, with its record in the log."""
    started, url = time.time(), urlsplit(request.url)
    host, port = (url.hostname or "").rstrip("."), 0
    refusal = "sandlot: this sandbox's network is closed" if att.closed else att.usage.admit()
    if refusal is not None:
        att.records.add("fetch", host, port, refusal, started=started)
        return _refusal(403, refusal, request.url)
    entry = att.records.begin("fetch")
    entry.host = host
    try:
        if url.scheme not in ("http", "https") or not host:
            raise BadHead(400, f"sandlot: only http:// and https:// URLs; got {request.url!r}")
        entry.port = url.port or (443 if url.scheme == "https" else 80)
        upstream = await open_upstream(
            att, host, entry.port, tls_name=host if url.scheme == "https" else None
        )
        entry.opened = True
        try:
            return await _exchange(att, request, host, upstream, entry.counts)
        finally:
            upstream[1].transport.abort()
    except (Refused, BadHead) as e:
        entry.reason = str(e)
        return _refusal(e.status, entry.reason, request.url)
    except CapExceeded as e:
        entry.reason = str(e)
        return _refusal(403, entry.reason, request.url)
    except (OSError, h11.ProtocolError, ValueError) as e:
        entry.reason = f"sandlot: {host}:{entry.port} broke off ({e})"
        return _refusal(502, entry.reason, request.url)
    finally:
        entry.ended = True
        att.usage.release()


async def _exchange(
    att: Attachment,
    request: FetchRequest,
    host: str,
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    counts: Counts,
) -> FetchResponse:
    reader, writer = upstream
    url = urlsplit(request.url)
    conn = h11.Connection(h11.CLIENT)
    secrets = att.secrets.get(host, {})
    replaced = {k.lower() for k in secrets} | {"host", "connection", "content-length"}
    headers = [("Host", url.netloc.rpartition("@")[2])]
    headers += [(k, v) for k, v in request.headers if k.lower() not in replaced]
    headers += [*secrets.items(), ("Connection", "close")]
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Length", str(len(request.body))))
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    out = conn.send(h11.Request(method=request.method, target=target, headers=headers))
    out += conn.send(h11.Data(data=request.body)) if request.body else b""
    out += conn.send(h11.EndOfMessage())
    sent = await att.usage.take(len(out))
    counts.up += sent
    if sent < len(out):
        raise CapExceeded(att.usage.spent_message())
    writer.write(out)
    await writer.drain()
    status, got, body = 0, [], bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(CHUNK)
            allowed = await att.usage.take(len(data))
            counts.down += allowed
            if allowed < len(data):
                raise CapExceeded(att.usage.spent_message())
            conn.receive_data(data)
        elif isinstance(event, h11.Response):
            status = event.status_code
            got = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > request.max_body:
                raise CapExceeded(f"sandlot: the response is over {request.max_body} bytes")
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    return FetchResponse(status, tuple(got), bytes(body), request.url)
