"""The HTTP proxy protocol on an attachment's listeners, one request or tunnel per
connection:

- `CONNECT name:port`: the name must be allowed and resolve to an allowed address; the
  tunnel must then carry TLS whose server name is that name (no domain fronting), passed
  through untouched, or, for a host with secrets, terminated with the sandbox's CA so the
  gateway can add them.
- `CONNECT address:port`: any bytes, when an address entry allows it (raw TCP).
- `GET http://name/path`: the Host header must agree; forwarded with Connection: close.

Refusals are `403` (or 400/431/502) with a `sandlot: ...` body, and every connection
leaves a record in the attachment's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .body import check_framing, forward_body
from .caps import CapExceeded, Cut
from .heads import BadHead, Head, host_header, origin_head, parse_head, response
from .log import Counts, Entry
from .relay import relay
from .rules import address_of
from .upstream import Refused, check_name, open_upstream

if TYPE_CHECKING:
    from .gateway import Attachment

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
MAX_HELLO = 64 << 10  # a ClientHello longer than this is not one


async def serve_client(
    att: Attachment, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """One client connection, start to end, with its record."""
    refusal = "sandlot: this sandbox's network is closed" if att.closed else att.usage.admit()
    if refusal is not None:
        att.records.add("connect", "", 0, refusal)
        await _refuse(writer, reader, 403, refusal)
        return
    att.open_writers.add(writer)
    entry = att.records.begin("connect")
    try:
        await _serve(att, (reader, writer), entry)
    except (Refused, BadHead) as e:
        entry.reason = str(e)
        await _refuse(writer, reader, e.status, entry.reason)
    except Cut as e:
        entry.reason = str(e)
    except TimeoutError:
        entry.reason = "sandlot: the client was too slow to send its request"
        await _refuse(writer, reader, 408, entry.reason)
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as e:
        if not entry.opened and not isinstance(e, asyncio.IncompleteReadError):
            entry.reason = f"sandlot: {e}"
    except Exception as e:  # a bug here must not leave the record saying "allowed"
        entry.reason = f"sandlot: the gateway failed on this connection ({type(e).__name__})"
        raise
    finally:
        entry.ended = True
        att.usage.release()
        att.open_writers.discard(writer)
        writer.transport.abort()


async def _refuse(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, status: int, message: str
) -> None:
    """Tell the client why, then let it read that before the connection goes."""
    with contextlib.suppress(OSError, RuntimeError):
        writer.write(response(status, message))
        await asyncio.wait_for(writer.drain(), 2)
        if writer.can_write_eof():
            writer.write_eof()
        await asyncio.wait_for(reader.read(1 << 16), 1)


async def read_head(reader: asyncio.StreamReader, timeout: float) -> Head:
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except asyncio.LimitOverrunError as e:
        raise BadHead(431, "sandlot: the request head is too large") from e
    return parse_head(raw)


async def _serve(att: Attachment, client: Streams, entry: Entry) -> None:
    counts = entry.counts
    head = await read_head(client[0], att.caps.head_timeout)
    if head.method == "CONNECT":
        host, port = _authority(head.target)
        entry.host, entry.port = host, port
        await _tunnel(att, client, host, port, entry)
        return
    entry.kind = "http"
    url = urlsplit(head.target)
    if url.scheme != "http" or not url.hostname:
        raise BadHead(400, "sandlot: this is a proxy: ask for http://host/path, HTTPS by CONNECT")
    try:
        host, port = url.hostname.rstrip("."), url.port or 80
    except ValueError as e:
        raise BadHead(400, "sandlot: the request's port is not a number") from e
    entry.host, entry.port = host, port
    host_header(head, host, port, 80)
    check_framing(head)
    check_name(att, host, port)
    upstream = await open_upstream(att, host, port)
    entry.opened = True
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    authority = url.netloc.rpartition("@")[2]
    secrets = att.secrets.get(host, {})
    await _send_head(att, upstream[1], origin_head(head, path, authority, secrets), counts)
    body = forward_body(att, head, client[0], upstream[1], counts)
    await relay(att, client, upstream, counts, body)


def _authority(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise BadHead(400, "sandlot: CONNECT needs host:port")
    return host.strip("[]").lower().rstrip("."), int(port)


async def _send_head(
    att: Attachment, writer: asyncio.StreamWriter, data: bytes, counts: Counts
) -> None:
    if await att.usage.take(len(data)) < len(data):
        raise CapExceeded(att.usage.spent_message())
    counts.up += len(data)
    writer.write(data)
    await writer.drain()


async def _tunnel(att: Attachment, client: Streams, host: str, port: int, entry: Entry) -> None:
    reader, writer = client
    counts = entry.counts
    if address_of(host) is not None:  # raw TCP, by address entries alone
        upstream = await open_upstream(att, host, port)
        entry.opened = True
        writer.write(response(200, "", keep_open=True))
        await relay(att, client, upstream, counts)
        return
    secrets = att.secrets.get(host)
    upstream = await open_upstream(att, host, port, tls_name=host if secrets else None)
    entry.opened = True
    writer.write(response(200, "", keep_open=True))
    await writer.drain()
    if secrets:
        await _intercept(att, client, upstream, host, port, counts)
        return
    hello = await asyncio.wait_for(_client_hello(reader), att.caps.head_timeout)
    name = server_name(hello)
    if name is None or name != host:
        upstream[1].transport.abort()
        if hello.startswith(b"\x16"):
            raise Cut(_fronting(host, name, hello))
        raise Refused(_fronting(host, name, hello))
    await _send_head(att, upstream[1], hello, counts)
    await relay(att, client, upstream, counts)


def _fronting(host: str, name: str | None, hello: bytes) -> str:
    if not hello.startswith(b"\x16"):
        return f"sandlot: a tunnel to {host} carries TLS only (plain HTTP: ask for http://)"
    if name is None:
        return f"sandlot: the TLS hello names no server; the tunnel is to {host}"
    return f"sandlot: the TLS server name ({name}) is not the tunnel's host ({host})"


async def _intercept(
    att: Attachment, client: Streams, upstream: Streams, host: str, port: int, counts: Counts
) -> None:
    """TLS ended at the gateway with the sandbox's CA (and the SNI checked by the leaf's
    context), one request read, its Host checked and the host's secrets added."""
    try:
        await client[1].start_tls(att.leaf_context(host), ssl_handshake_timeout=10)
    except (ssl.SSLError, OSError) as e:
        upstream[1].transport.abort()
        raise Cut(f"sandlot: TLS with the sandbox failed for {host}: {e}") from e
    head = await read_head(client[0], att.caps.head_timeout)
    host_header(head, host, port, 443)
    check_framing(head)
    if head.method == "CONNECT" or not head.target.startswith("/"):
        raise BadHead(400, "sandlot: expected an origin-form request in the tunnel")
    sent = origin_head(head, head.target, host, att.secrets[host])
    await _send_head(att, upstream[1], sent, counts)
    body = forward_body(att, head, client[0], upstream[1], counts)
    await relay(att, client, upstream, counts, body)


async def _client_hello(reader: asyncio.StreamReader) -> bytes:
    """The bytes of the tunnel's first TLS record(s), enough to read the server name."""
    data = b""
    while len(data) < MAX_HELLO:
        chunk = await reader.read(MAX_HELLO - len(data))
        if not chunk:
            break
        data += chunk
        if not data.startswith(b"\x16") or server_name(data) != _MORE:
            break
    return data


_MORE = "\0more"


def server_name(hello: bytes) -> str | None:
    """The SNI of a ClientHello, read by the ssl module itself (a throwaway server-side
    object stopped at its name callback); None without one, _MORE when incomplete."""
    if not hello.startswith(b"\x16"):
        return None
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    probe = _PROBE.wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(hello)
    try:
        probe.do_handshake()
    except ssl.SSLWantReadError:
        return getattr(probe, "sandlot_sni", _MORE)
    except ssl.SSLError:
        pass
    name = getattr(probe, "sandlot_sni", None)
    return name.lower().rstrip(".") if isinstance(name, str) else None


def _note_name(obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> int:
    obj.sandlot_sni = name  # type: ignore[attr-defined]
    return int(ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE)


_PROBE = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
_PROBE.sni_callback = _note_name
