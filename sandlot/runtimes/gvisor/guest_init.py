"""Process 1 of a gvisor sandbox (runs inside the guest, on the guest's python3, stdlib only).

`runsc run` gives the container three host pipes and no more: stdin, stdout, stderr. The
pipe agent needs four channels (requests, events, and its raw fd 1 and fd 2, where C code
and child processes write). So this init:

- forks the agent, handing it stdin (requests), and gives its events (`event_fd`), fd 1
  and fd 2 three pipes of its own;
- relays the events to the container's stdout, and fd 1 and fd 2 to its stderr as frames
  (one tag byte `o` or `e`, a 4-byte big-endian length, the bytes), which the host splits
  back into stdout and stderr. Before each events chunk it relays whatever fd 1 and fd 2
  hold: what a child wrote before the agent replied reaches the host before the reply;
- forwards SIGINT (sent by `runsc kill`) to the agent, so a call past its deadline stops;
- reaps every orphan (a pid namespace's init must, or zombies pile up), and exits with the
  agent, which ends the container.

Usage: python3 -I -S guest_init.py '{"agent_path": "/opt/sandlot", "agent": {...}}'
"""

import importlib
import json
import os
import select
import signal
import struct
import sys
from typing import Any

TAGS = {1: b"o", 2: b"e"}
CHUNK = 64 << 10


def _agent(config: dict[str, Any], events: int, out: int, err: int) -> None:
    """In the forked child: become the pipe agent."""
    os.dup2(out, 1)
    os.dup2(err, 2)
    sys.path.insert(0, config["agent_path"])
    pipe_main = importlib.import_module("sandlot_guest.agent.pipe_main")

    agent = dict(config.get("agent", {}), event_fd=events)
    try:
        pipe_main.main(["pipe_main", json.dumps(agent)])
    finally:
        os._exit(0)


def main() -> None:
    config = json.loads(sys.argv[1])
    pipes = {0: os.pipe(), 1: os.pipe(), 2: os.pipe()}  # events, raw stdout, raw stderr
    pid = os.fork()
    if pid == 0:
        for r, _ in pipes.values():
            os.close(r)
        _agent(config, pipes[0][1], pipes[1][1], pipes[2][1])
    for _, w in pipes.values():
        os.close(w)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # the requests are the agent's alone
    os.close(null)

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: _signal(pid, signal.SIGINT))
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: _signal(pid, signal.SIGKILL))
    events = pipes[0][0]
    raw = {pipes[n][0]: n for n in (1, 2)}
    for fd in raw:
        os.set_blocking(fd, False)
    open_fds = {events, *raw}
    while True:
        try:
            ready, _, _ = select.select([*open_fds, wake_r], [], [])
        except InterruptedError:
            ready = []
        for fd in ready:
            if fd == wake_r:
                os.read(fd, CHUNK)
            elif fd == events:
                data = os.read(fd, CHUNK)
                _relay_raw(raw)  # output written before this event goes first
                if data:
                    _write(1, data)
                else:
                    open_fds.discard(fd)
            else:
                _relay_raw(raw)
        open_fds = {fd for fd in open_fds if fd == events or fd in raw}
        status = _reap(pid)
        if status is not None:
            _relay_raw(raw)  # what the agent wrote last
            os._exit(status)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _relay_raw(raw: dict[int, int]) -> None:
    """Send what the raw pipes hold now; a pipe that has ended leaves `raw`."""
    for fd, n in list(raw.items()):
        while True:
            try:
                data = os.read(fd, CHUNK)
            except (BlockingIOError, OSError):
                break
            if not data:
                del raw[fd]
                break
            _write(2, TAGS[n] + struct.pack(">I", len(data)) + data)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _reap(agent: int) -> "int | None":
    """Reap every exited child; the agent's exit status once it has ended."""
    found = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found if found is not None else 0
        if pid == 0:
            return found
        if pid == agent:
            found = os.waitstatus_to_exitcode(status) & 0xFF


if __name__ == "__main__":
    main()
