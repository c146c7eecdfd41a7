"""The agent of every Linux guest, its start and its one serve loop, whatever the transport.

A transport's main (`pipe_main.py`: pipes; `serial_main.py`: a virtio-serial port; next, a
console) opens its stream, calls `start`, and hands `serve` a source of request frames and a
sink for event frames. Requests are answered in order; a request's reply carries its id
back, so a reply forged by the code (which may write to the same stream) can't pass for the
real one. SIGINT while a request runs interrupts it (KeyboardInterrupt in the code, the
process group killed for `exec`) and the reply still comes; when idle, SIGINT is ignored.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from . import net_forward, protocol
from .file_ops import FileOps
from .server import Agent, Emit

Local = Callable[[dict[str, Any]], dict[str, Any]]


class LinuxAgent(Agent):
    """The one agent, with `exec` run by the guest's real bash, and the requests that are
    answered without running code (`local`: file operations, and what a transport adds)."""

    def __init__(self, namespace: dict[str, Any], home: str) -> None:
        super().__init__(namespace)
        self.home = home
        self.bash: Any = None  # made after the first request: subprocess is slow to import
        self.files = FileOps(home)
        self.local: dict[str, Local] = {protocol.OP_FILE: self.files}

    def load_shell(self) -> None:
        from . import linux_exec

        self.bash = linux_exec.Shell(self.home)

    def _exec(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.bash is None:
            self.load_shell()
        return self.bash.run(request)


_busy = False


def busy() -> bool:
    """Whether a request that runs code is being served (an interrupt has one to stop)."""
    return _busy


def _on_sigint(signum: int, frame: Any) -> None:
    if _busy:
        raise KeyboardInterrupt


def _fresh_main() -> dict[str, Any]:
    """A clean `__main__` for run_code, whichever way the agent was started."""
    main = type(sys)("__main__")
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    return main.__dict__


def _exit_cell(code: object = None) -> None:
    """exit() and quit(): end the cell, as in a script, not the sandbox."""
    raise SystemExit(code)


def _setup_path(sys_path: list[Any]) -> None:
    """The agent starts without `site` (-S: it costs a third of Python's start), so it puts
    the interpreter's site folders on sys.path itself, as given by the host; .pth files in
    them are not run. `python3` started by code or commands is a normal interpreter."""
    for entry in sys_path:
        if isinstance(entry, str) and entry not in sys.path:
            sys.path.append(entry)
    if "" not in sys.path:
        sys.path.insert(0, "")
    import builtins

    if not hasattr(builtins, "exit"):
        builtins.exit = builtins.quit = _exit_cell  # type: ignore[attr-defined]


def start(home: str, sys_path: list[Any]) -> LinuxAgent:
    """Make the guest's folders, enter home, and make the agent (stdin is /dev/null from
    here: code that reads stdin can't eat requests)."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    os.makedirs(home, exist_ok=True)
    os.makedirs("/tmp/outputs", exist_ok=True)
    os.chdir(home)
    _setup_path(sys_path)
    os.environ.setdefault("MPLBACKEND", f"module://{__package__}.mpl_inline")
    signal.signal(signal.SIGINT, _on_sigint)
    net_forward.start()  # the proxy port, where the host gave the sandbox a network
    return LinuxAgent(_fresh_main(), home)


def _answer(agent: LinuxAgent, request: dict[str, Any], send: Emit) -> dict[str, Any]:
    global _busy
    local = agent.local.get(str(request.get("op")))
    try:
        if local is not None:
            return local(request)
        _busy = True
        try:
            return agent.handle(request, send)
        finally:
            _busy = False
    except KeyboardInterrupt:
        return {**protocol.error("KeyboardInterrupt", "interrupted"), "interrupted": True}
    except MemoryError:
        return protocol.error("MemoryError", "out of memory")
    except Exception as e:  # the agent's own bug: a reply, not a dead sandbox
        return protocol.error(type(e).__name__, str(e))


def serve(
    agent: LinuxAgent,
    next_frame: Callable[[], bytes | None],
    send: Emit,
    before_done: Callable[[], None] | None = None,
) -> None:
    """Answer requests until `next_frame` says the host is gone (None). A frame that is
    not a request (`next_frame` or the decoder raised ValueError) gets an error reply."""
    while True:
        request: Any = None
        try:
            frame = next_frame()
            if frame is None:
                return
            request = protocol.decode(frame)
        except ValueError as e:
            reply = protocol.error("ProtocolError", f"malformed request: {e}")
        else:
            reply = _answer(agent, request, send)
        if before_done is not None:
            before_done()
        request_id = request.get("id") if isinstance(request, dict) else None
        send({"ev": protocol.EV_DONE, "id": request_id, "reply": reply})
        if agent.bash is None:  # load the shell while the host reads the reply, not on demand
            agent.load_shell()
