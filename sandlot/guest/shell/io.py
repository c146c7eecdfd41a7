"""Streaming plumbing: every command is a generator yielding (fd, bytes) and reading an Input."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from typing import Any

Gen = Generator[tuple[int, bytes], None, int]


MAX_BUFFER = 256 << 20


class InputTooLarge(Exception):
    """A command tried to buffer more input than the guest can hold."""


class Input:
    """Lazily pulled byte stream (a pipe end, here-doc or file); buf[pos:] is unread."""

    def __init__(self, chunks: Iterable[bytes] | bytes = b"") -> None:
        self.pos = 0
        if isinstance(chunks, (bytes, bytearray)):
            self.buf = bytes(chunks)
            self.it: Iterator[bytes] | None = None
        else:
            self.buf = b""
            self.it = iter(chunks)

    def _more(self) -> bool:
        if self.it is None:
            return False
        for chunk in self.it:
            if chunk:
                self.buf = self.buf[self.pos :] + chunk
                self.pos = 0
                return True
        self.it = None
        return False

    def _avail(self) -> int:
        return len(self.buf) - self.pos

    def buffered(self) -> int:
        """How many bytes can be read without pulling from the producer."""
        return len(self.buf) - self.pos

    def read_chunk(self) -> bytes:
        """Next available bytes; b'' at EOF."""
        if not self._avail():
            self._more()
        b = self.buf[self.pos :]
        self.buf, self.pos = b"", 0
        return b

    def read(self, n: int) -> bytes:
        while self._avail() < n and self._more():
            pass
        b = self.buf[self.pos : self.pos + n]
        self.pos += len(b)
        return b

    def readline(self, sep: bytes = b"\n") -> bytes:
        """One line including its separator; b'' at EOF."""
        start = self.pos
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                line = self.buf[self.pos : i + len(sep)]
                self.pos = i + len(sep)
                return line
            start = max(self.pos, len(self.buf) - len(sep) + 1)
            rel = start - self.pos
            if not self._more():
                line = self.buf[self.pos :]
                self.buf, self.pos = b"", 0
                return line
            start = self.pos + rel

    def read_all(self) -> bytes:
        """Everything left; refuses endless producers (yes | sort) past MAX_BUFFER bytes."""
        parts = [self.buf[self.pos :]]
        size = len(parts[0])
        self.buf, self.pos = b"", 0
        if self.it is not None:
            it, self.it = self.it, None
            for chunk in it:
                parts.append(chunk)
                size += len(chunk)
                if size > MAX_BUFFER:
                    raise InputTooLarge(f"input exceeds {MAX_BUFFER >> 20} MiB buffering limit")
        return b"".join(parts)

    def lines(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def chunks(self) -> Iterator[bytes]:
        while True:
            c = self.read_chunk()
            if not c:
                return
            yield c


class Sink:
    """A redirect target: a file opened for writing, or a discard."""

    def __init__(self, f: Any) -> None:
        self.f = f

    def write(self, data: bytes) -> None:
        if self.f is not None:
            self.f.write(data)
            self.f.flush()

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
