"""A guest agent's byte stream on the host (pipes, virtio-serial, next a console).

`FramedStream` is one connection: requests go out as frames (`guest/agent/framing.py`),
events come back as frames, and the reply to a request is found by its id. A transport
subclasses it with how bytes are written and read (`write`, `read`) and, where it has side
channels such as raw output pipes, what they hold now (`settle`). The frames come from
untrusted code's side, so each is size-capped, and its structure counted against a budget
in proportion to the sandbox's memory (`item_budget`), before it is parsed.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import GuestProtocolError
from ..guest.agent import framing, protocol
from ..models import Limits
from .output import OutputSink

ITEM_COST = 256  # bytes of the sandbox's memory that pay for one item of a guest frame


def item_budget(limits: Limits) -> int:
    """The most items (values, keys) one guest frame may hold: in proportion to the
    sandbox's memory, so that decoding a frame (~60-200 bytes of host memory an item) costs
    the host less than the sandbox may hold itself; at most `protocol.MAX_FRAME_ITEMS`."""
    return min(protocol.MAX_FRAME_ITEMS, limits.memory_bytes // ITEM_COST)


def decode(frame: bytes, items: int) -> dict[str, Any]:
    """One guest frame as a message; GuestProtocolError, before it is parsed, for a frame
    over its budget (`protocol.check_budget`), and for one that is malformed."""
    try:
        return protocol.decode(frame, items)
    except protocol.FrameOverBudget as e:
        raise GuestProtocolError(f"the guest sent a {e}") from None
    except ValueError as e:
        raise GuestProtocolError(f"malformed frame from the guest: {e}") from None


class LinkClosed(Exception):
    """The stream to the agent ended (it died, was killed, or its VM is gone)."""


class Deadline(Exception):
    """The time given for a reply passed without one."""


def take_reply(
    reader: framing.FrameReader,
    wanted: int,
    sink: OutputSink | None,
    *,
    last: bool = False,
    items: int = protocol.MAX_FRAME_ITEMS,
) -> dict[str, Any] | None:
    """Consume the complete frames `reader` holds: output chunks go to `sink` (dropped when
    None); return the reply to request `wanted` once it has come, else None.

    A `done` for another request id (forged by the code, or a stale one) is dropped. With
    `last`, frames after the reply are a protocol error (the agent sends none); a frame
    with more than `items` items is one too."""
    while True:
        try:
            frame = reader.next()
        except framing.FrameTooLarge:
            raise GuestProtocolError("the guest sent a frame larger than the limit") from None
        except framing.FrameError as e:
            raise GuestProtocolError(f"malformed frame from the guest: {e}") from None
        if frame is None:
            return None
        message = decode(frame, items)
        event = message.get("ev")
        if event in (protocol.EV_STDOUT, protocol.EV_STDERR):
            text = message.get("data")
            if isinstance(text, str) and sink is not None:
                sink.add(event, text)
        elif event == protocol.EV_DONE and message.get("id") == wanted:
            value = message.get("reply")
            if not isinstance(value, dict):
                raise GuestProtocolError("the guest's reply is not an object")
            if last and reader.buffer:
                raise GuestProtocolError("the guest sent frames after its reply")
            return value


class FramedStream:
    """One connection to an agent over a byte stream. Not thread-safe but for `send`,
    which a transport may make safe to call while another thread waits for a reply."""

    reply_is_last = False  # frames after a reply are a protocol error (pipes: none come)

    def __init__(self, *, skip_junk: bool = False) -> None:
        self.reader = framing.FrameReader(skip_junk=skip_junk)
        self.sequence = 0  # the id of the last request; its reply carries it back
        self.items = protocol.MAX_FRAME_ITEMS  # the item budget of a frame (`item_budget`)

    # -- what a transport provides ---------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write all of `data`; LinkClosed when the agent can't take it."""
        raise NotImplementedError

    def read(self, timeout: float, sink: OutputSink | None) -> bytes | None:
        """Event bytes that came within `timeout` seconds (None when none did; side-channel
        output meanwhile goes to `sink`); LinkClosed at the end of the stream."""
        raise NotImplementedError

    def settle(self, sink: OutputSink) -> None:
        """Move side-channel output that is there now into `sink` (before a request and
        after its reply)."""

    # -- shared ----------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        self.write(framing.pack(message))

    def request(
        self, request: dict[str, Any], sink: OutputSink | None = None, limits: Limits | None = None
    ) -> int:
        """Send one request with a fresh id; return the id. The frames that answer it are
        held to the budget of `limits` (of the defaults where none are given)."""
        self.items = protocol.MAX_FRAME_ITEMS if limits is None else item_budget(limits)
        if sink is not None:
            self.settle(sink)  # what background processes wrote between calls
        self.sequence += 1
        self.send({**request, "id": self.sequence})
        return self.sequence

    def reply(self, wanted: int, sink: OutputSink | None, until: float) -> dict[str, Any]:
        """Events until the `done` of request `wanted`; Deadline at monotonic `until`."""
        reader = self.reader
        while True:
            reply = take_reply(reader, wanted, sink, last=self.reply_is_last, items=self.items)
            if reply is not None:
                if sink is not None:
                    self.settle(sink)
                return reply
            left = until - time.monotonic()
            if left <= 0:
                raise Deadline("no answer from the agent")
            data = self.read(left, sink)
            if data:
                reader.feed(data)

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """A request with no output to keep (ping, clock, reseed, file operations)."""
        wanted = self.request(request)
        return self.reply(wanted, None, time.monotonic() + timeout)
