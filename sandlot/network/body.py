"""A forwarded request's body, exactly as its head frames it and not one byte more: a
second request pipelined behind it never reaches the origin unchecked (it would go to the
first request's host, whatever its own says). h11 reads the framing."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import h11

from .caps import CapExceeded
from .heads import BadHead, Head
from .log import Counts
from .relay import CHUNK

if TYPE_CHECKING:
    from .gateway import Attachment


def check_framing(head: Head) -> None:
    """One framing only: both Content-Length and Transfer-Encoding is how requests are
    smuggled past a proxy, so neither side has to guess."""
    encodings = head.values("transfer-encoding")
    if encodings and head.values("content-length"):
        raise BadHead(400, "sandlot: a request with both Content-Length and Transfer-Encoding")
    if encodings and [e.lower() for e in encodings] != ["chunked"]:
        raise BadHead(400, "sandlot: the only Transfer-Encoding the proxy takes is chunked")


async def forward_body(
    att: Attachment,
    head: Head,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    counts: Counts,
) -> None:
    """Copy the body of the request whose head is `head` from `reader` to `writer`,
    framed as it came (chunked stays chunked), then stop reading."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=len(head.raw) + 1)
    chunked = bool(head.values("transfer-encoding"))
    try:
        conn.receive_data(head.raw)
        if not isinstance(conn.next_event(), h11.Request):
            raise BadHead(400, "sandlot: the request head is incomplete")
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(CHUNK))
                continue
            if isinstance(event, h11.Data):
                data = bytes(event.data)
                out = b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
            elif isinstance(event, h11.EndOfMessage):
                out = b"0\r\n\r\n" if chunked else b""
            else:
                raise BadHead(400, "sandlot: the request body is malformed")
            if await att.usage.take(len(out)) < len(out):
                raise CapExceeded(att.usage.spent_message())
            counts.up += len(out)
            writer.write(out)
            await writer.drain()
            if isinstance(event, h11.EndOfMessage):
                return
    except h11.RemoteProtocolError as e:
        raise BadHead(400, f"sandlot: the request is malformed ({e})") from e
