"""The host end of the agent's virtio-serial port: frames over QEMU's Unix socket.

The same frames as the pipe transport (`guest/agent/framing.py`, served by
`guest/agent/serial_main.py`). Every reply carries the id of its request; a `done` with
another id (forged by code in the guest, which can open the port too) is dropped. The
guest is untrusted: bytes outside frames, oversized or malformed frames are a
`GuestProtocolError`, and the caller replaces the VM.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

from ..frames import FramedStream, LinkClosed
from ..output import OutputSink

READ_CHUNK = 1 << 16


class Channel(FramedStream):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.sock.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ)
        self.lock = threading.Lock()  # an interrupt may be sent while a call waits

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        with self.lock:
            while view:
                try:
                    view = view[self.sock.send(view) :]
                except BlockingIOError:
                    if not self._writable(30):
                        raise LinkClosed("the guest stopped reading requests") from None
                except OSError as e:
                    raise LinkClosed(str(e)) from None

    def _writable(self, timeout: float) -> bool:
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_WRITE)
            return bool(sel.select(timeout=timeout))

    def read(self, timeout: float, sink: OutputSink | None) -> bytes | None:
        if not self.selector.select(timeout=timeout):
            return None
        try:
            data = self.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return None
        except OSError as e:
            raise LinkClosed(str(e)) from None
        if not data:
            raise LinkClosed("the agent's socket closed")
        return data

    def close(self) -> None:
        self.selector.close()
        with contextlib.suppress(OSError):
            self.sock.close()
