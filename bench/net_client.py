"""The client side of bench_network.py: stdlib only, run by the same python3 on the host
(direct) and in a sandbox (through the gateway), so the two differ only in the path.

    python3 net_client.py serve      # the server: prints its port, serves until killed
    python3 net_client.py TARGET_HOST:PORT ROUNDS BIG_BYTES DOWNLOADS [proxy HOST:PORT|env | urllib]

Prints one JSON object: `latency` (seconds per connection: connect, a small GET, its
whole response), `http` and `connect` (bytes/s of DOWNLOADS downloads of BIG_BYTES: an absolute-URI
request to the proxy, and a CONNECT tunnel to the target's address, whose bytes the
gateway relays raw). With `urllib`, every request is `urllib.request.urlopen` (the wasm
tier's fetch bridge serves it) and only `latency` and `http` are measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import sys
import time
import urllib.parse
import urllib.request

CHUNK = 1 << 18
_BUF = memoryview(b"x" * (1 << 20))


class _Handler(socketserver.BaseRequestHandler):
    """`/small` (2 bytes) or `/big?bytes=N`, one response per connection."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = b""
        while b"\r\n\r\n" not in head:
            more = sock.recv(4096)
            if not more:
                return
            head += more
        path = head.split(b" ", 2)[1].decode()
        size = int(path.split("bytes=", 1)[1]) if "/big" in path else 2
        sock.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nContent-Type: "
            "application/octet-stream\r\nConnection: close\r\n\r\n".encode()
        )
        with contextlib.suppress(OSError):
            while size > 0:
                n = min(size, len(_BUF))
                sock.sendall(_BUF[:n])
                size -= n


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def serve() -> None:
    server = _Server(("127.0.0.1", 0), _Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def _request(path: str, target: str, proxy: str | None, tunnel: bool) -> socket.socket:
    """A connection with the GET for `path` sent: direct, through the proxy by absolute
    URI, or through a CONNECT tunnel to `target`."""
    host, port = (proxy or target).rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if proxy and tunnel:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            more = sock.recv(4096)
            if not more:
                raise OSError("proxy closed the tunnel")
            head += more
        if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
            raise OSError(f"CONNECT refused: {head[:200]!r}")
    uri = f"http://{target}{path}" if proxy and not tunnel else path
    req = f"GET {uri} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    sock.sendall(req.encode())
    return sock


def _drain(sock: socket.socket) -> int:
    got = 0
    with sock:
        while True:
            more = sock.recv(CHUNK)
            if not more:
                return got
            got += len(more)


def _urllib(url: str) -> int:
    with urllib.request.urlopen(url, timeout=120) as resp:
        return len(resp.read())


def main(argv: list[str]) -> None:
    if argv == ["serve"]:
        return serve()
    target, rounds, big, downloads = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    mode = argv[4] if len(argv) > 4 else "direct"
    proxy = argv[5] if mode == "proxy" else None
    if proxy == "env":  # the sandbox's own proxy variable, as the tier set it
        proxy = urllib.parse.urlsplit(os.environ["HTTP_PROXY"]).netloc
    out: dict[str, list[float]] = {"latency": [], "http": [], "connect": []}
    for _ in range(rounds):
        t = time.perf_counter()
        if mode == "urllib":
            _urllib(f"http://{target}/small")
        else:
            _drain(_request("/small", target, proxy, tunnel=False))
        out["latency"].append(time.perf_counter() - t)
    kinds = ("http",) if mode in ("urllib", "direct") else ("http", "connect")
    for kind in kinds:
        for _ in range(downloads):
            t = time.perf_counter()
            if mode == "urllib":
                got = _urllib(f"http://{target}/big?bytes={big}")
            else:
                got = _drain(_request(f"/big?bytes={big}", target, proxy, kind == "connect"))
            took = time.perf_counter() - t
            if got < big:
                raise SystemExit(f"short download: {got} of {big} bytes")
            out[kind].append(big / took)
    if mode == "direct":
        out["connect"] = out["http"]  # the direct path is the same either way
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
