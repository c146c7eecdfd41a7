"""The guest's one way out on the process and gvisor tiers: 127.0.0.1:3128 spliced to the
host gateway's Unix socket, which the host bind-mounts at /run/sandlot/net.sock.

The sandbox's network namespace has only loopback, so this listener is the only path off
it; the gateway on the other end decides every connection by the sandbox's policy. Programs
find it through HTTP(S)_PROXY (set by the host); one that ignores the proxy has no route.
One thread, non-blocking sockets and a selector: a thread per connection would count
against the guest's process limit (gvisor allows 96). Stdlib only: it runs on the guest's
python3.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import threading
import time

SOCKET = "/run/sandlot/net.sock"
LISTEN = ("127.0.0.1", 3128)
CHUNK = 256 << 10  # a quarter MiB a read: 64 KiB halved gvisor's throughput (syscalls under ptrace)
MAX_BUFFERED = 1 << 20  # per direction: a slow reader stops its peer being read
MAX_PAIRS = 512  # at once; the gateway's own cap (64 by default) refuses well before


class _Side:
    """One end of a spliced pair, with what is waiting to be written to it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = bytearray()
        self.peer: _Side = self
        self.read_done = False  # it sent its end: its peer's write half is shut once flushed
        self.mask = 0  # what the selector watches it for (0: not registered)
        self.closed = False


class Forwarder:
    """Accepts on `listen` and splices each connection to a fresh one to `target`."""

    def __init__(self, target: str = SOCKET, listen: tuple[str, int] = LISTEN) -> None:
        self.target = target
        self.server = socket.create_server(listen, backlog=128)
        self.server.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.server, selectors.EVENT_READ, None)
        self.pairs = 0

    def serve_forever(self) -> None:
        while True:
            for key, events in self.selector.select():
                if key.data is None:
                    self._accept()
                    continue
                side: _Side = key.data
                if not side.closed and events & selectors.EVENT_WRITE:
                    self._send(side)
                if not side.closed and events & selectors.EVENT_READ:
                    self._recv(side)
                if not side.closed:
                    self._settle(side)

    def _accept(self) -> None:
        try:
            client, _ = self.server.accept()
        except BlockingIOError:
            return
        except OSError:  # out of descriptors: a pause, not a busy loop on the listener
            time.sleep(0.05)
            return
        if self.pairs >= MAX_PAIRS:
            client.close()
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.target)  # local: at once, or refused (gateway closed)
        except OSError:
            upstream.close()
            client.close()  # fail closed: no gateway, no connection
            return
        self.pairs += 1
        a, b = _Side(client), _Side(upstream)
        a.peer, b.peer = b, a
        for side in (a, b):
            side.sock.setblocking(False)
        self._settle(a)

    def _recv(self, side: _Side) -> None:
        try:
            data = side.sock.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            self._close(side)
            return
        if data:
            side.peer.pending += data
            self._send(side.peer)
        else:
            side.read_done = True
            self._send(side.peer)  # shuts its write half once nothing is pending

    def _send(self, side: _Side) -> None:
        try:
            while side.pending:
                del side.pending[: side.sock.send(side.pending)]
        except BlockingIOError:
            return
        except OSError:
            self._close(side)
            return
        if side.peer.read_done:
            try:
                side.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _settle(self, side: _Side) -> None:
        """Watch each end for reading while its peer's buffer has room and it has not
        ended, for writing while something is pending; close the pair once both ended."""
        peer = side.peer
        if side.read_done and peer.read_done and not side.pending and not peer.pending:
            self._close(side)
            return
        for s in (side, peer):
            mask = 0
            if not s.read_done and len(s.peer.pending) < MAX_BUFFERED:
                mask |= selectors.EVENT_READ
            if s.pending:
                mask |= selectors.EVENT_WRITE
            if mask == s.mask:
                continue
            if s.mask == 0:
                self.selector.register(s.sock, mask, s)
            elif mask == 0:
                self.selector.unregister(s.sock)
            else:
                self.selector.modify(s.sock, mask, s)
            s.mask = mask

    def _close(self, side: _Side) -> None:
        if not side.closed:
            self.pairs -= 1
        for s in (side, side.peer):
            if s.closed:
                continue
            s.closed = True
            if s.mask:
                self.selector.unregister(s.sock)
            s.sock.close()


def start(target: str = SOCKET) -> Forwarder | None:
    """Start the forwarder on a daemon thread when the host gave this sandbox a network
    (the socket is there); None otherwise, or when the port is taken."""
    if not os.path.exists(target):
        return None
    try:
        forwarder = Forwarder(target)
    except OSError as e:
        if e.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise
        return None
    threading.Thread(target=forwarder.serve_forever, name="sandlot-net", daemon=True).start()
    return forwarder
