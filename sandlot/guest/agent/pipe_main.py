"""The pipe transport: the agent as a long-lived process in a Linux guest (process tier).

Run as `python3 -m sandlot_guest.agent.pipe_main CONFIG` (or by importing `main`), where
CONFIG is a JSON object: {"event_fd": N, "home": "/home/user", "rlimits": {...}}.

- requests arrive one JSON object per line on stdin; the agent moves its stdin to a
  private descriptor at once and puts /dev/null in its place, so code that reads stdin
  can't eat requests;
- events (`stdout`/`stderr` chunks, then one `done` with the reply) leave one JSON object
  per line on `event_fd`, a descriptor the code does not write to (fd 1 and 2 stay the
  host's raw-output pipes: what C code or child processes write there is still kept);
- SIGINT while a request runs interrupts it (KeyboardInterrupt in the code, the process
  group killed for `exec`), and the reply still comes; when idle, SIGINT is ignored.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from . import protocol
from .server import Agent

_RLIMITS = {
    "as": "RLIMIT_AS",
    "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC",
    "fsize": "RLIMIT_FSIZE",
    "core": "RLIMIT_CORE",
    "stack": "RLIMIT_STACK",
}


class LinuxAgent(Agent):
    """The one agent, with `exec` run by the guest's real bash."""

    def __init__(self, namespace: dict[str, Any], home: str) -> None:
        super().__init__(namespace)
        self.home = home
        self.bash: Any = None  # made after the first request: subprocess is slow to import

    def load_shell(self) -> None:
        from . import linux_exec

        self.bash = linux_exec.Shell(self.home)

    def _exec(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.bash is None:
            self.load_shell()
        return self.bash.run(request)


class _Events:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(protocol.encode(message) + b"\n")
        while data:
            n = os.write(self.fd, data)
            data = data[n:]


_busy = False


def _on_sigint(signum: int, frame: Any) -> None:
    if _busy:
        raise KeyboardInterrupt


def _apply_rlimits(limits: dict[str, int]) -> None:
    import resource

    for name, value in limits.items():
        which = getattr(resource, _RLIMITS[name])
        soft, hard = resource.getrlimit(which)
        new = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (new, new))


def _fresh_main() -> dict[str, Any]:
    """A clean `__main__` for run_code, whichever way the agent was started."""
    main = type(sys)("__main__")
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    return main.__dict__


def _exit_cell(code: object = None) -> None:
    """exit() and quit(): end the cell, as in a script, not the sandbox."""
    raise SystemExit(code)


def _setup_path(config: dict[str, Any]) -> None:
    """The agent starts without `site` (-S: it costs a third of Python's start), so it puts
    the interpreter's site folders on sys.path itself, as given by the host; .pth files in
    them are not run. `python3` started by code or commands is a normal interpreter."""
    for entry in config.get("sys_path", []):
        if isinstance(entry, str) and entry not in sys.path:
            sys.path.append(entry)
    if "" not in sys.path:
        sys.path.insert(0, "")
    import builtins

    if not hasattr(builtins, "exit"):
        builtins.exit = builtins.quit = _exit_cell  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    global _busy
    args = sys.argv if argv is None else argv
    config = json.loads(args[1]) if len(args) > 1 else {}
    events = _Events(int(config.get("event_fd", 3)))
    os.set_inheritable(events.fd, False)
    requests_fd = os.dup(0)  # close-on-exec: commands never see the request pipe
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    _apply_rlimits(config.get("rlimits", {}))
    home = str(config.get("home", "/home/user"))
    os.makedirs(home, exist_ok=True)
    os.makedirs("/tmp/outputs", exist_ok=True)
    os.chdir(home)
    _setup_path(config)
    os.environ.setdefault("MPLBACKEND", f"module://{__package__}.mpl_inline")
    signal.signal(signal.SIGINT, _on_sigint)
    agent = LinuxAgent(_fresh_main(), home)
    lines = os.fdopen(requests_fd, "rb", buffering=1 << 16)
    while True:
        line = lines.readline(protocol.MAX_FRAME_BYTES + 1)
        if not line:
            return  # the host closed the pipe: the sandbox is ending
        request: Any = None
        try:
            request = protocol.decode(line)
        except ValueError as e:
            reply: dict[str, Any] = _error("ProtocolError", f"malformed request: {e}")
        else:
            try:
                _busy = True
                try:
                    reply = agent.handle(request, events.send)
                finally:
                    _busy = False
            except KeyboardInterrupt:
                reply = _error("KeyboardInterrupt", "interrupted")
                reply["interrupted"] = True
            except MemoryError:
                reply = _error("MemoryError", "out of memory")
            except Exception as e:  # the agent's own bug: a reply, not a dead sandbox
                reply = _error(type(e).__name__, str(e))
        # The request's id comes back with its reply: a reply forged by the code (which
        # can write to this pipe like the agent) can't pass for the real one.
        request_id = request.get("id") if isinstance(request, dict) else None
        events.send({"ev": protocol.EV_DONE, "id": request_id, "reply": reply})
        if agent.bash is None:  # load the shell while the host reads the reply, not on demand
            agent.load_shell()


def _error(name: str, value: str) -> dict[str, Any]:
    return {"error": {"name": name, "value": value, "traceback": ""}}


if __name__ == "__main__":
    main()
