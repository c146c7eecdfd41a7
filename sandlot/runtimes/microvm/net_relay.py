"""QEMU's guestfwd program: one guest connection to 10.0.2.100:3128, spliced to the
gateway attachment's Unix socket that the VM's run folder links as `net.sock`.

slirp spawns this once per guest connection with the connection as fds 0-2 (a socket),
so it must never print. The link is made when a networked sandbox takes the VM and
removed at its close; with no link (a VM without network, a closed attachment) the
connect fails and the guest sees its connection closed at once: fail closed. Stdlib only
and run with `-I -S`: it starts in ~15 ms.
"""

from __future__ import annotations

import socket
import sys
import threading

CHUNK = 64 << 10


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy until `src` ends, then end `dst`'s write side; on an error, cut both."""
    try:
        while data := src.recv(CHUNK):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main(target: str) -> int:
    guest = socket.socket(fileno=0)
    gateway = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        gateway.connect(target)
    except OSError:
        return 1
    back = threading.Thread(target=_pump, args=(gateway, guest), daemon=True)
    back.start()
    _pump(guest, gateway)
    back.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
