"""The host end of the agent's virtio-serial port: JSON lines over QEMU's Unix socket.

Same frames as the pipe transport (see `guest/agent/serial_main.py`). Every reply carries
the id of its request; a `done` with another id (forged by code in the guest, which can
open the port too) is dropped. The guest is untrusted: oversized or malformed frames are a
`GuestProtocolError`, and the caller replaces the VM.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from typing import Any

from ...guest.agent import protocol
from .. import frames
from ..output import OutputSink

READ_CHUNK = 1 << 16


class ChannelClosed(Exception):
    """The socket ended: QEMU is gone (or closed the port)."""


class Deadline(Exception):
    """The wall-clock limit of a call passed with no reply."""


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.setblocking(False)
        self.buffer = bytearray()
        self.sequence = 0

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(protocol.encode(message) + b"\n")
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_WRITE)
            while data:
                try:
                    data = data[self.sock.send(data) :]
                except BlockingIOError:
                    if not sel.select(timeout=30):
                        raise ChannelClosed("the guest stopped reading requests") from None
                except OSError as e:
                    raise ChannelClosed(str(e)) from None

    def request(self, request: dict[str, Any]) -> int:
        """Send one request with a fresh id; return the id."""
        self.sequence += 1
        self.send({**request, "id": self.sequence})
        return self.sequence

    def reply(self, wanted: int, sink: OutputSink | None, until: float) -> dict[str, Any]:
        """Events until the `done` of request `wanted`; Deadline at monotonic `until`."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            while True:
                reply = self._parse(wanted, sink)
                if reply is not None:
                    return reply
                left = until - time.monotonic()
                if left <= 0:
                    raise Deadline()
                if not sel.select(timeout=left):
                    continue
                try:
                    data = self.sock.recv(READ_CHUNK)
                except BlockingIOError:
                    continue
                except OSError as e:
                    raise ChannelClosed(str(e)) from None
                if not data:
                    raise ChannelClosed("the agent's socket closed")
                self.buffer += data

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """A request with no output to keep (ping, clock, reseed, file operations)."""
        wanted = self.request(request)
        return self.reply(wanted, None, time.monotonic() + timeout)

    def _parse(self, wanted: int, sink: OutputSink | None) -> dict[str, Any] | None:
        return frames.take_reply(self.buffer, wanted, sink)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
