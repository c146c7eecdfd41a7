"""Bytes both ways between a sandbox's connection and its upstream, counted against the
attachment's caps, in bounded chunks (a gigabyte download holds 64 KiB at a time)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .caps import CapExceeded, Cut
from .log import Counts

if TYPE_CHECKING:
    from .gateway import Attachment

CHUNK = 256 << 10


async def _idle_watch(att: Attachment, counts: Counts) -> None:
    idle = att.caps.idle_timeout
    while True:
        left = counts.last + idle - time.monotonic()
        if left <= 0:
            raise Cut(f"sandlot: the connection carried nothing for {idle:g} s")
        await asyncio.sleep(min(left + 0.01, 5.0))


async def _copy(
    att: Attachment,
    src: asyncio.StreamReader,
    dst: asyncio.StreamWriter,
    counts: Counts,
    up: bool,
) -> None:
    while data := await src.read(CHUNK):
        allowed = await att.usage.take(len(data))
        dst.write(data[:allowed])
        if up:
            counts.up += allowed
        else:
            counts.down += allowed
        counts.last = time.monotonic()
        await dst.drain()
        if allowed < len(data):
            raise CapExceeded(att.usage.spent_message())
    if not up:  # all of it reaches the client before its connection is closed (aborted)
        dst.transport.set_write_buffer_limits(high=0)
        await dst.drain()
    if dst.can_write_eof():
        with contextlib.suppress(OSError):
            dst.write_eof()


async def relay(
    att: Attachment,
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    counts: Counts,
    upload: Coroutine[Any, Any, None] | None = None,
) -> None:
    """Until the upstream is done (or a cap or an error ends it): the client's half-close
    is passed on, the upstream's ends the exchange. Raises CapExceeded at a cap.
    `upload`, when given, is what goes up instead of every byte the client sends."""
    for writer in (client[1], upstream[1]):  # fewer, larger writes between drains
        writer.transport.set_write_buffer_limits(high=CHUNK * 2)
    up = asyncio.create_task(upload or _copy(att, client[0], upstream[1], counts, True))
    down = asyncio.create_task(_copy(att, upstream[0], client[1], counts, False))
    watch = asyncio.create_task(_idle_watch(att, counts))
    pending: set[asyncio.Task[None]] = {up, down, watch}
    att.open_writers.add(upstream[1])  # cut with the attachment, like the client
    try:
        while down in pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a cap or an error ends both ways
    finally:
        for task in (up, down, watch):
            task.cancel()
        await asyncio.gather(up, down, watch, return_exceptions=True)
        att.open_writers.discard(upstream[1])
        upstream[1].transport.abort()
