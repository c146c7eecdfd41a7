"""The wasm guest's network: it has no sockets, so each HTTP(S) request goes whole through
the host door (`protocol.EV_FETCH`) and the host's gateway makes it by this sandbox's policy,
caps and secrets (`runtimes/wasm/net.py`). The guest never does TLS nor sees a secret.

`install()` runs at boot: it patches `http.client` (and through it `urllib.request`) only
when the code first imports it (`net_http.py`), so a sandbox that never uses the network
pays no import and no call pays anything.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from . import protocol

MAX_REQUEST_BODY = 16 << 20  # the host refuses more; checked here first, before encoding


class BridgeRefused(ConnectionRefusedError):
    """The host made no request at all (no network, a malformed request, the gateway gone)."""


def fetch(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    follow_redirects: bool = False,
    timeout: float | None = None,
) -> dict[str, Any]:
    """One request through the door: a dict of status, reason, headers (pairs), body
    (bytes) and url (the final one). A gateway refusal is a response (403 and its
    `sandlot: ...` body); only a request the host would not make raises `BridgeRefused`."""
    if len(body) > MAX_REQUEST_BODY:
        raise BridgeRefused(f"sandlot: a request body is at most {MAX_REQUEST_BODY} bytes here")
    import base64  # here: a sandbox that never fetches never imports it

    import _host  # type: ignore[import-not-found]  # the wasm guest's door module

    frame = protocol.encode(
        {
            "ev": protocol.EV_FETCH,
            "method": method,
            "url": url,
            "headers": [[k, v] for k, v in headers],
            "body": base64.b64encode(body).decode("ascii"),
            "follow_redirects": follow_redirects,
            "timeout": timeout,
        }
    )
    raw = _host.call(frame)
    if not raw:  # the host dropped the frame unread: over the door's budget
        raise BridgeRefused("sandlot: the request is too large for the door (its frame budget)")
    answer = protocol.decode(raw)
    if answer.get("error"):
        raise BridgeRefused(str(answer["error"]))
    answer["body"] = base64.b64decode(answer.get("body") or "")
    answer["headers"] = [(str(k), str(v)) for k, v in answer.get("headers") or ()]
    return answer


class _PatchOnImport:
    """A meta path finder that lets `http.client` load as usual, then patches it."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "http.client":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _ThenPatch(spec.loader)
                return spec
        return None


class _ThenPatch:
    """The real loader, then the patch; the module keeps the real loader afterwards."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__spec__.loader = module.__loader__ = self._loader
        self._loader.exec_module(module)
        from . import net_http

        net_http.patch(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def install() -> None:
    """Route `http.client` and `urllib.request` through the door, from their first import."""
    if "http.client" in sys.modules:
        from . import net_http

        net_http.patch(sys.modules["http.client"])
    elif not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
