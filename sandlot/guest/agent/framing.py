"""Frames on a byte stream (pipes, a virtio-serial port, a console), both ways.

A frame is `FRAME_MARK` (b"\\x1eSL"), its payload's length as 8 lowercase hex digits, the
payload (one `protocol.encode`d message: ASCII JSON, never a newline) and b"\\n". All of it
is printable ASCII but the mark's first byte, so a console's line discipline passes it
through, and the length says where a frame ends without scanning its payload.

What lies outside frames depends on the stream:
- a channel only the agent writes to (the pipes, the virtio port) carries nothing else:
  bytes there that are not a frame were forged by the code, and are a `FrameError`;
- a console also carries kernel messages and its own echo: `skip_junk` drops what lies
  before a mark, so junk is never parsed as a frame (an echoed request is a frame with no
  "ev", which the host drops). The console must be raw (no CR/LF translation), as it is
  for any binary-clean use.
Either way a mark followed by a bad length, an over-limit length or no end byte where the
length says is a `FrameError` (the host turns it into a GuestProtocolError).
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any

from . import protocol

MARK = protocol.FRAME_MARK
HEAD = len(MARK) + 8  # the mark and the length
END = 0x0A  # b"\n"
_LENGTH = re.compile(rb"[0-9a-f]{8}")
READ_CHUNK = 1 << 16


class FrameError(ValueError):
    """The stream broke the frame format."""


class FrameTooLarge(FrameError):
    """A frame's length is over the limit."""


def pack(message: dict[str, Any]) -> bytes:
    """One message as a frame (one copy of the payload, as a line ending costs)."""
    payload = protocol.encode(message)
    return b"%s%08x%s\n" % (MARK, len(payload), payload)


class FrameReader:
    """Cuts frames from the bytes fed to it, in order; keeps at most one partial frame."""

    def __init__(self, *, skip_junk: bool = False, limit: int = protocol.MAX_FRAME_BYTES) -> None:
        self.buffer = bytearray()
        self.skip_junk = skip_junk
        self.limit = limit

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def next(self) -> bytes | None:
        """The next whole frame's payload, or None until one has come."""
        buf = self.buffer
        at = buf.find(MARK)
        if at != 0:
            junk = at if at > 0 else len(buf) - _partial_mark(buf)
            if junk:
                del buf[:junk]
                if not self.skip_junk:
                    raise FrameError("bytes outside a frame")
            if at < 0:
                return None
        if len(buf) < HEAD:
            return None
        digits = bytes(buf[len(MARK) : HEAD])
        if _LENGTH.fullmatch(digits) is None:
            del buf[: len(MARK)]
            raise FrameError(f"a frame's length is not 8 hex digits: {digits!r}")
        size = int(digits, 16)
        if size > self.limit:
            del buf[: len(MARK)]
            raise FrameTooLarge(f"a frame of {size} bytes is over the limit of {self.limit}")
        end = HEAD + size
        if len(buf) <= end:
            return None
        if buf[end] != END:
            del buf[: len(MARK)]
            raise FrameError("a frame does not end where its length says")
        payload = bytes(buf[HEAD:end])
        del buf[: end + 1]
        return payload


def _partial_mark(buf: bytearray) -> int:
    """How many bytes at the end of `buf` could be the start of a mark."""
    return next((n for n in range(len(MARK) - 1, 0, -1) if buf.endswith(MARK[:n])), 0)


class FrameWriter:
    """Frames onto a descriptor, whole: a lock keeps two threads' frames apart."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(pack(message))
        with self.lock:
            while data:
                data = data[os.write(self.fd, data) :]


class FrameInput:
    """Frames read from a descriptor (the guest's requests)."""

    def __init__(self, fd: int, *, wait_for_host: bool = False, skip_junk: bool = False) -> None:
        self.fd = fd
        self.reader = FrameReader(skip_junk=skip_junk)
        # a virtio port reads end-of-file while no host is connected (around restores)
        self.wait_for_host = wait_for_host

    def next(self) -> bytes | None:
        """The next request's frame; None once the host has closed the stream. Raises
        FrameError for a broken frame (the stream goes on after it)."""
        while True:
            frame = self.reader.next()
            if frame is not None:
                return frame
            chunk = os.read(self.fd, READ_CHUNK)
            if not chunk:
                if not self.wait_for_host:
                    return None
                time.sleep(0.02)
            self.reader.feed(chunk)
