"""Streaming plumbing: every command is a generator yielding (fd, bytes) and reading an Input."""
from __future__ import annotations

from typing import Any, Generator, Iterable, Iterator

Gen = Generator[tuple[int, bytes], None, int]


class Input:
    """Lazily pulled byte stream (a pipe end, here-doc or file)."""

    def __init__(self, chunks: Iterable[bytes] | bytes = b"") -> None:
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
                self.buf += chunk
                return True
        self.it = None
        return False

    def read_chunk(self) -> bytes:
        """Next available bytes; b'' at EOF."""
        if not self.buf:
            self._more()
        b, self.buf = self.buf, b""
        return b

    def read(self, n: int) -> bytes:
        while len(self.buf) < n and self._more():
            pass
        b, self.buf = self.buf[:n], self.buf[n:]
        return b

    def readline(self, sep: bytes = b"\n") -> bytes:
        """One line including its separator; b'' at EOF."""
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                line, self.buf = self.buf[: i + len(sep)], self.buf[i + len(sep):]
                return line
            start = max(0, len(self.buf) - len(sep) + 1)
            if not self._more():
                line, self.buf = self.buf, b""
                return line

    def read_all(self) -> bytes:
        parts = [self.buf]
        self.buf = b""
        if self.it is not None:
            parts.extend(self.it)
            self.it = None
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
