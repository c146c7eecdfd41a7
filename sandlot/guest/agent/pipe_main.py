"""The pipe transport: the agent as a long-lived process in a Linux guest (process, gvisor).

Run as `python3 -m sandlot_guest.agent.pipe_main CONFIG` (or by importing `main`), where
CONFIG is a JSON object: {"event_fd": N, "home": "/home/user", "sys_path": [...],
"rlimits": {...}}.

- requests arrive as frames (`framing.py`) on stdin; the agent moves its stdin to a
  private descriptor at once and puts /dev/null in its place, so code that reads stdin
  can't eat requests;
- events (`stdout`/`stderr` chunks, then one `done` with the reply) leave as frames on
  `event_fd`, a descriptor the code does not write to (fd 1 and 2 stay the host's
  raw-output pipes: what C code or child processes write there is still kept);
- the host interrupts a request with SIGINT (`linux_agent.serve` turns it into
  KeyboardInterrupt while a request runs).
"""

from __future__ import annotations

import json
import os
import sys

from . import linux_agent
from .framing import FrameInput, FrameWriter

_RLIMITS = {
    "as": "RLIMIT_AS",
    "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC",
    "fsize": "RLIMIT_FSIZE",
    "core": "RLIMIT_CORE",
    "stack": "RLIMIT_STACK",
}


def _apply_rlimits(limits: dict[str, int]) -> None:
    import resource

    for name, value in limits.items():
        which = getattr(resource, _RLIMITS[name])
        soft, hard = resource.getrlimit(which)
        new = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (new, new))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv if argv is None else argv
    config = json.loads(args[1]) if len(args) > 1 else {}
    events = FrameWriter(int(config.get("event_fd", 3)))
    os.set_inheritable(events.fd, False)
    requests = FrameInput(os.dup(0))  # close-on-exec: commands never see the request pipe
    _apply_rlimits(config.get("rlimits", {}))
    agent = linux_agent.start(str(config.get("home", "/home/user")), config.get("sys_path", []))
    linux_agent.serve(agent, requests.next, events.send)


if __name__ == "__main__":
    main()
