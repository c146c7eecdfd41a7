"""Per-sandbox cgroups for memory and process count: cgroup v1 (these hosts) or v2.

A sandbox gets one group per controller, made under the group this process is in (so a
host that confines sandlot confines its sandboxes too). Where the hierarchy is not
writable the limits are skipped and `Cgroups.note` says why; rlimits still apply.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from functools import lru_cache

ROOT = "/sys/fs/cgroup"


@lru_cache(maxsize=1)
def _own_groups() -> dict[str, str]:
    """controller -> this process's group path, from /proc/self/cgroup."""
    out: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(","):
                    out[c] = path
    except OSError:
        pass
    return out


def _v1_base(controller: str) -> str | None:
    mount = os.path.join(ROOT, controller)
    own = _own_groups().get(controller)
    if own is None or not os.path.isfile(os.path.join(mount, "cgroup.procs")):
        return None
    base = os.path.join(mount, own.lstrip("/"))
    return base if os.access(base, os.W_OK) else None


def _v2_base(controllers: tuple[str, ...]) -> str | None:
    own = _own_groups().get("")
    for mount in (ROOT, os.path.join(ROOT, "unified")):
        if own is None or not os.path.isfile(os.path.join(mount, "cgroup.controllers")):
            continue
        base = os.path.join(mount, own.lstrip("/"))
        try:
            with open(os.path.join(base, "cgroup.controllers")) as f:
                have = set(f.read().split())
        except OSError:
            continue
        if set(controllers) <= have and os.access(base, os.W_OK):
            return base
    return None


NO_MEMORY = "no writable memory cgroup: memory is limited by rlimits only"
NO_PIDS = "no writable pids cgroup: processes are limited by RLIMIT_NPROC"


def host_gaps() -> list[str]:
    """What `Cgroups` would note on this host, found without making a group (for
    `sandlot doctor`): the controllers a sandbox could not be confined by."""
    if _v2_base(("memory", "pids")) is not None:
        return []
    return [
        note for ctl, note in (("memory", NO_MEMORY), ("pids", NO_PIDS)) if _v1_base(ctl) is None
    ]


class Cgroups:
    """The groups of one sandbox. `procs_files` are where its first process is put."""

    def __init__(self, name: str, memory_bytes: int, max_pids: int) -> None:
        self.paths: list[str] = []
        self.notes: list[str] = []
        self.memory_path: str | None = None
        self._v2 = False
        self._oom_base = 0
        v2 = _v2_base(("memory", "pids"))
        if v2 is not None:
            self._v2 = True
            path = self._make(v2, name)
            if path is not None:
                self._write(path, "memory.max", str(memory_bytes))
                self._write(path, "memory.swap.max", "0", optional=True)
                self._write(path, "pids.max", str(max_pids))
                self.memory_path = path
            return
        mem = _v1_base("memory")
        if mem is None:
            self.notes.append(NO_MEMORY)
        else:
            path = self._make(mem, name)
            if path is not None:
                self._write(path, "memory.limit_in_bytes", str(memory_bytes))
                self._write(path, "memory.memsw.limit_in_bytes", str(memory_bytes), optional=True)
                self.memory_path = path
        pids = _v1_base("pids")
        if pids is None:
            self.notes.append(NO_PIDS)
        else:
            path = self._make(pids, name)
            if path is not None:
                self._write(path, "pids.max", str(max_pids))

    def _make(self, base: str, name: str) -> str | None:
        path = os.path.join(base, name)
        try:
            os.mkdir(path)
        except OSError as e:
            self.notes.append(f"could not make cgroup {path}: {e}")
            return None
        self.paths.append(path)
        return path

    def _write(self, path: str, name: str, value: str, optional: bool = False) -> None:
        try:
            with open(os.path.join(path, name), "w") as f:
                f.write(value)
        except OSError as e:
            if not optional:
                self.notes.append(f"could not set {name}: {e}")

    @property
    def procs_files(self) -> list[str]:
        return [os.path.join(p, "cgroup.procs") for p in self.paths]

    def oom_killed(self) -> bool:
        """Whether the memory limit was hit (and the kernel killed something for it)."""
        if self.memory_path is None:
            return False
        for name in ("memory.events", "memory.oom_control", "memory.failcnt"):
            try:
                with open(os.path.join(self.memory_path, name)) as f:
                    text = f.read()
            except OSError:
                continue
            if name == "memory.failcnt":
                return text.strip() not in ("", "0")
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return value.strip() != str(self._oom_base)
        return False

    def _oom_count(self) -> int:
        if self.memory_path is None:
            return 0
        for name in ("memory.events", "memory.oom_control"):
            try:
                with open(os.path.join(self.memory_path, name)) as f:
                    for line in f:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            return int(value)
            except (OSError, ValueError):
                continue
        return 0

    def reset_oom(self) -> None:
        """Count OOM kills from now on (after a restart)."""
        self._oom_base = self._oom_count()
        if self.memory_path is not None and not self._v2:
            self._write(self.memory_path, "memory.failcnt", "0", optional=True)

    def pids(self) -> list[int]:
        out: set[int] = set()
        for procs in self.procs_files:
            with contextlib.suppress(OSError), open(procs) as f:
                out.update(int(p) for p in f.read().split())
        return sorted(out)

    def kill_all(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def remove(self, wait_s: float = 2.0) -> None:
        """Kill whatever is left and remove the groups (they empty as the kernel reaps)."""
        deadline = time.monotonic() + wait_s
        for path in reversed(self.paths):
            while True:
                self.kill_all()
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
        self.paths = [p for p in self.paths if os.path.isdir(p)]
