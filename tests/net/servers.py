"""The hosts of the test internet, run inside its network namespace by `internet.py`:
DNS for the test's names, HTTP on 80 and HTTPS on 443 for every name (by Host), a raw TCP
echo on 7, a PEP 503 package index at index.example.org and a SearXNG-style search API at
search.example.org. Prints "ready" once every socket is bound; runs until killed.

    python -m tests.net.servers CONFIG.json
"""

from __future__ import annotations

import json
import socket
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

CONFIG: dict[str, Any] = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._route(b"")

    def do_POST(self) -> None:
        self._route(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _route(self, body: bytes) -> None:
        host = (self.headers.get("Host") or "").split(":")[0]
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/headers":
            return self._send(200, json.dumps(dict(self.headers.items())).encode(), "json")
        if url.path == "/echo":
            return self._send(200, body, "octet-stream")
        if url.path == "/big":
            return self._big(int(query.get("bytes", "0")))
        if url.path == "/redirect":
            return self._send(302, b"", "plain", [("Location", query["to"])])
        if host == CONFIG["index_host"]:
            return self._index(url.path)
        if host == CONFIG["search_host"] and url.path == "/search":
            return self._search(query.get("q", ""))
        if url.path == "/data.json":
            return self._send(200, json.dumps({"host": host}).encode(), "json")
        self._send(200, f"hello from {host}\n".encode(), "plain")

    def _send(
        self, status: int, body: bytes, kind: str, extra: list[tuple[str, str]] | None = None
    ) -> None:
        self.send_response(status)
        types = {"json": "application/json", "html": "text/html", "plain": "text/plain"}
        self.send_header("Content-Type", types.get(kind, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra or []:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _big(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"x" * (1 << 16)
        try:
            while size > 0:
                self.wfile.write(chunk[:size])
                size -= len(chunk)
        except OSError:
            pass  # the gateway cut it (a byte cap): expected

    def _index(self, path: str) -> None:
        wheel = Path(CONFIG["wheel"])
        project = CONFIG["project"]
        if path in ("/simple/", "/simple"):
            page = f'<html><body><a href="/simple/{project}/">{project}</a></body></html>'
            return self._send(200, page.encode(), "html")
        if path.rstrip("/") == f"/simple/{project}":
            href = f"/packages/{wheel.name}#sha256={CONFIG['wheel_sha256']}"
            page = f'<html><body><a href="{href}">{wheel.name}</a></body></html>'
            return self._send(200, page.encode(), "html")
        if path == f"/packages/{wheel.name}":
            return self._send(200, wheel.read_bytes(), "octet-stream")
        self._send(404, b"not found\n", "plain")

    def _search(self, q: str) -> None:
        results = [
            {
                "title": f"Result {i} for {q}",
                "url": f"http://example.org/result/{i}",
                "content": f"The text of result {i} about {q}.",
            }
            for i in (1, 2)
        ]
        self._send(200, json.dumps({"query": q, "results": results}).encode(), "json")


class QuietHTTP(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients the gateway cut, on purpose


class TLSServer(QuietHTTP):
    """HTTPS: the handshake happens in the request's thread, so one slow client stalls
    nobody else."""

    context: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        tls = self.context.wrap_socket(request, server_side=True)
        super().finish_request(tls, client_address)


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class ThreadingTCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def dns_server(names: dict[str, str]) -> None:
    """A tiny authoritative answerer: A records for the test's names, NXDOMAIN else."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((CONFIG["dns"], 53))
    ready.release()
    while True:
        wire, peer = sock.recvfrom(4096)
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            continue
        reply = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        if name not in names:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            reply.answer.append(dns.rrset.from_text(question.name, 5, "IN", "A", names[name]))
        sock.sendto(reply.to_wire(), peer)


ready = threading.Semaphore(0)


def main() -> None:
    CONFIG.update(json.loads(Path(sys.argv[1]).read_text()))
    http = QuietHTTP(("0.0.0.0", 80), Handler)
    https = TLSServer(("0.0.0.0", 443), Handler)
    https.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    https.context.load_cert_chain(CONFIG["cert"])
    echo = ThreadingTCP(("0.0.0.0", 7), Echo)
    threading.Thread(target=dns_server, args=(CONFIG["names"],), daemon=True).start()
    ready.acquire(timeout=10)
    for server in (http, https, echo):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
