"""Reading the guest agent's event stream on the host, for every stream transport (pipes,
virtio-serial): frames are JSON lines that come from untrusted code's side, so each is
size-capped and checked before anything in it is used."""

from __future__ import annotations

from typing import Any

from ..errors import GuestProtocolError
from ..guest.agent import protocol
from .output import OutputSink


def take_reply(
    buffer: bytearray, wanted: int, sink: OutputSink | None, *, last: bool = False
) -> dict[str, Any] | None:
    """Consume the complete frames in `buffer`: output chunks go to `sink` (dropped when
    None); return the reply to request `wanted` once it has come, else None.

    A `done` for another request id (forged by the code, or a stale one) is dropped. With
    `last`, frames after the reply are a protocol error (the agent sends none)."""
    while True:
        end = buffer.find(b"\n")
        if end < 0:
            if len(buffer) > protocol.MAX_FRAME_BYTES:
                raise GuestProtocolError("the guest sent a frame larger than the limit")
            return None
        frame = bytes(buffer[:end])
        del buffer[: end + 1]
        try:
            message = protocol.decode(frame)
        except ValueError as e:
            raise GuestProtocolError(f"malformed frame from the guest: {e}") from None
        event = message.get("ev")
        if event in (protocol.EV_STDOUT, protocol.EV_STDERR):
            text = message.get("data")
            if isinstance(text, str) and sink is not None:
                sink.add(event, text)
        elif event == protocol.EV_DONE and message.get("id") == wanted:
            value = message.get("reply")
            if not isinstance(value, dict):
                raise GuestProtocolError("the guest's reply is not an object")
            if last and buffer:
                raise GuestProtocolError("the guest sent frames after its reply")
            return value
