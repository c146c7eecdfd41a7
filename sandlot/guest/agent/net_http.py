"""`http.client` over the wasm guest's fetch bridge (`net_bridge.py`).

The connection classes keep all of http.client (and so urllib.request, whose HTTPS handler
exists once `HTTPSConnection` does); only their socket is an `_Exchange`, which takes the
bytes of the request, hands the whole request to the host when it is complete, and gives
the host's answer back as the bytes of an HTTP/1.1 response that `HTTPResponse` parses.
"""

from __future__ import annotations

import io
from http import client as httpclient  # not `http.client`: set on `http` only after its import
from types import ModuleType, SimpleNamespace
from typing import Any

from .net_bridge import fetch

_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


def _head(raw: bytes) -> tuple[int, list[tuple[str, str]]] | None:
    """Where the request's body starts and its header pairs; None until the head is in."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = raw[:end].decode("latin-1").split("\r\n")[1:]
    pairs = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]
    return end + 4, pairs


def _chunked(headers: list[tuple[str, str]]) -> bool:
    return any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)


def _length(headers: list[tuple[str, str]]) -> int:
    for k, v in headers:
        if k.lower() == "content-length" and v.isdigit():
            return int(v)
    return 0


def _unchunk(data: bytes) -> bytes:
    out, at = bytearray(), 0
    while True:
        eol = data.find(b"\r\n", at)
        size = int(data[at:eol].split(b";")[0] or b"0", 16) if eol >= 0 else 0
        if size == 0:
            return bytes(out)
        out += data[eol + 2 : eol + 2 + size]
        at = eol + 2 + size + 2


class _Exchange:
    """The socket an HTTPConnection over the bridge writes to and reads its response from."""

    def __init__(self, conn: BridgeHTTPConnection) -> None:
        self._conn = conn
        self._sent = bytearray()
        self._answer: bytes | None = None
        self._whole: int | None = None  # the request's length, once its head is in
        self._chunked = False

    def sendall(self, data: Any) -> None:
        self._sent += data
        if self._answer is None and self._complete():
            self._answer = self._exchange()  # a refusal raises here: urllib's URLError

    def _complete(self) -> bool:
        """Whether the whole request is in (a body sent in blocks is not scanned again)."""
        if self._whole is None:
            head = _head(bytes(self._sent[: self._sent.find(b"\r\n\r\n") + 4]))
            if head is None:
                return False
            self._chunked = _chunked(head[1])
            self._whole = head[0] + _length(head[1])
        if self._chunked:
            return self._sent.endswith(b"0\r\n\r\n")
        return len(self._sent) >= self._whole

    def makefile(self, *_args: Any, **_kwargs: Any) -> io.BytesIO:
        if self._answer is None:
            self._answer = self._exchange()
        return io.BytesIO(self._answer)

    def close(self) -> None:
        pass

    def settimeout(self, _timeout: float | None) -> None:
        pass

    def _exchange(self) -> bytes:
        raw = bytes(self._sent)
        head = _head(raw) or (len(raw), [])
        start, headers = head
        method, target = raw.split(b" ", 2)[:2] if b" " in raw else (b"GET", b"/")
        body = raw[start:]
        body = _unchunk(body) if _chunked(headers) else body[: _length(headers)]
        answer = fetch(
            method.decode("latin-1"),
            self._conn.url_of(target.decode("latin-1")),
            [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP | {"host"}],
            body,
            timeout=self._conn.fetch_timeout(),
        )
        lines = [f"HTTP/1.1 {answer['status']} {answer.get('reason') or ''}"]
        head_only = method == b"HEAD"
        for k, v in answer["headers"]:
            if k.lower() not in _HOP_BY_HOP or (head_only and k.lower() == "content-length"):
                lines.append(f"{k}: {v}")
        if not head_only:
            lines.append(f"Content-Length: {len(answer['body'])}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + bytes(
            answer["body"]
        )


class BridgeHTTPConnection(httpclient.HTTPConnection):
    """An HTTPConnection whose requests the host makes (by the sandbox's network policy)."""

    scheme = "http"

    def __init__(self, host: str, port: int | None = None, *args: Any, **kwargs: Any) -> None:
        for tls_only in ("context", "check_hostname", "key_file", "cert_file"):
            kwargs.pop(tls_only, None)  # TLS is the gateway's: it checks the origin itself
        super().__init__(host, port, *args, **kwargs)

    def connect(self) -> None:
        self.sock = _Exchange(self)

    def url_of(self, target: str) -> str:
        if target.startswith(("http://", "https://")):
            return target
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port != self.default_port:
            host += f":{self.port}"
        return f"{self.scheme}://{host}{target}"

    def fetch_timeout(self) -> float | None:
        timeout = self.timeout
        return float(timeout) if isinstance(timeout, int | float) else None


class BridgeHTTPSConnection(BridgeHTTPConnection):
    """HTTPS through the bridge: the gateway does the TLS and verifies the origin."""

    scheme = "https"
    default_port = httpclient.HTTPS_PORT


def _no_tls_context(_http_version: Any) -> SimpleNamespace:
    return SimpleNamespace(check_hostname=True)


def patch(module: ModuleType) -> None:
    """Put the bridge's connections into `http.client` (the guest's has no HTTPS: no ssl)."""
    module.HTTPConnection = BridgeHTTPConnection  # type: ignore[attr-defined]
    module.HTTPSConnection = BridgeHTTPSConnection  # type: ignore[attr-defined]
    # urllib's HTTPS handler asks for a context (ssl's, absent here); the gateway does TLS
    module._create_https_context = _no_tls_context  # type: ignore[attr-defined]
    if "HTTPSConnection" not in module.__all__:
        module.__all__.append("HTTPSConnection")
