"""HTTP/1.1 request heads as the proxy reads them, rewrites them for the origin (secrets
in, proxy and hop-by-hop headers out), and the refusals it writes back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te"}
REASONS = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large"}
REASONS |= {408: "Request Timeout", 502: "Bad Gateway", 504: "Gateway Timeout"}


class BadHead(Exception):
    """A head the proxy will not forward: status and the sandlot message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Head:
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    raw: bytes  # as it came, for the body's framing

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]


def parse_head(raw: bytes) -> Head:
    """A request head (up to and including its blank line), strictly: one space-separated
    request line, `Name: value` fields, no folding."""
    text = raw.decode("latin-1")
    if any(c in text[:-4].replace("\r\n", "") for c in "\r\n\0"):  # a lone CR or LF
        raise BadHead(400, "sandlot: the request head has a bare CR, LF or NUL")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[2].startswith("HTTP/1."):
        raise BadHead(400, "sandlot: the request line is not HTTP/1.x")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            raise BadHead(400, "sandlot: a header line is malformed")
        headers.append((name, value.strip(" \t")))
    return Head(parts[0], parts[1], parts[2], tuple(headers), raw)


def host_header(head: Head, host: str, port: int, default_port: int) -> None:
    """The Host header must name the host (and port) the request goes to: no fronting."""
    hosts = head.values("host")
    if not hosts and head.version == "HTTP/1.0":
        return  # HTTP/1.0 may leave it out: the origin gets one from the target
    if len(hosts) != 1:
        raise BadHead(400, "sandlot: a request needs exactly one Host header")
    name, _, given = hosts[0].lower().rstrip(".").rpartition(":")
    if not name or "]" in given:  # no port in it
        name, given = hosts[0].lower().rstrip("."), str(default_port)
    if name.strip("[]") != host or given != str(port):
        raise BadHead(403, f"sandlot: the Host header ({hosts[0]}) is not {host}:{port}")


def origin_head(head: Head, path: str, authority: str, secrets: Mapping[str, str]) -> bytes:
    """The head to send the origin: origin-form target, one request per connection, the
    host's secret headers in place of any the sandbox sent by those names (and a Host
    header, `authority`, where an HTTP/1.0 client sent none)."""
    replaced = {k.lower() for k in secrets} | _HOP_BY_HOP
    lines = [f"{head.method} {path} {head.version}"]
    lines += [] if head.values("host") else [f"Host: {authority}"]
    lines += [f"{k}: {v}" for k, v in head.headers if k.lower() not in replaced]
    lines += [f"{k}: {v}" for k, v in secrets.items()]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def response(status: int, message: str, *, keep_open: bool = False) -> bytes:
    """A complete plain-text response (a refusal, or the CONNECT's 200)."""
    body = (message + "\n").encode() if message else b""
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Connection established')}"]
    if not keep_open:
        head += ["Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}"]
        head += ["Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (b"" if keep_open else body)
