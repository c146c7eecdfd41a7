"""Leftovers of Linux-tier sandboxes whose host process was killed before it could clean
up (SIGKILL, a crash): their folder (and tmpfs) under the temp dir and their cgroups.

Each sandbox writes `owner` (pid and start time of the host process) and `cgroups` (one
path a line) into its state folder (`jail.py`); the first sandbox of a tier that a host
process opens sweeps that tier's folders whose owner is gone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import tempfile
import time
from collections.abc import Callable
from functools import cache

from ..hostfs import remove_tree
from . import disk


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_line() -> str:
    pid = os.getpid()
    return f"{pid} {_start_time(pid)}\n"


def _alive(line: str) -> bool:
    try:
        pid, start = line.split()
        return _start_time(int(pid)) == start
    except ValueError:
        return True  # unreadable: not ours to judge


def owner_alive(line: str) -> bool:
    """Whether the process an `owner_line()` names still runs (an unreadable line: yes)."""
    return _alive(line)


def _remove_cgroup(path: str, wait_s: float = 2.0) -> None:
    """Kill what is left in the group (a jail still dying) and remove it."""
    deadline = time.monotonic() + wait_s
    while os.path.isdir(path):
        with contextlib.suppress(OSError), open(os.path.join(path, "cgroup.procs")) as f:
            for pid in f.read().split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
        try:
            os.rmdir(path)
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


@cache
def sweep(prefix: str, before: Callable[[str], None] | None = None) -> int:
    """Remove the state folders named `prefix*` under the temp dir whose owner is gone,
    once per host process and tier; how many: `before(folder)` first (a tier's own
    leftovers), then the cgroups listed there, the tmpfs at `root/`, and the folder."""
    removed = 0
    for state in glob.glob(os.path.join(tempfile.gettempdir(), prefix + "*")):
        try:
            with open(os.path.join(state, "owner")) as f:
                if _alive(f.read()):
                    continue
        except OSError:
            continue  # being made right now, or not a sandbox of ours
        if before is not None:
            before(state)
        root = os.path.join(state, "root")
        if os.path.ismount(root):
            disk.unmount(root)
        with contextlib.suppress(OSError), open(os.path.join(state, "cgroups")) as f:
            for path in f.read().split("\n"):
                if os.path.basename(path).startswith("sandlot-"):
                    _remove_cgroup(path)
        remove_tree(state, ignore_errors=True)  # the guest shaped it: fd-based, iterative
        removed += 1
    return removed
