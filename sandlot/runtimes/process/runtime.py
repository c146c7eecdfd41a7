"""The process tier's `Runtime`: available where bwrap is installed and user namespaces
work (probed once per host process)."""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

from ..base import Availability, SandboxSpec
from ..linux import LINUX, cgroups, stale
from ..linux.userland import PYTHON
from .root import top_level_binds
from .sandbox import PREFIX, ProcessSandbox, landlock_note
from .spares import Spares

FIX_BWRAP = "apt-get install bubblewrap"
FIX_USERNS = (
    "enable user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 "
    "user.max_user_namespaces=15000 (or run where containers may nest them)"
)


@lru_cache(maxsize=1)
def probe() -> Availability:
    """Try a minimal jail: every namespace unshared, the host's /usr bound read-only."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Availability(False, "bwrap (bubblewrap) is not installed", FIX_BWRAP)
    argv = [
        bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        *top_level_binds(), "--proc", "/proc", "--dev", "/dev", "--", PYTHON, "-I", "-S",
        "-c", "pass",
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Availability(False, f"bwrap could not start a sandbox: {e}", FIX_USERNS)
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        if "python3" in why[0] or "No such file" in why[0]:
            return Availability(
                False, f"bwrap works but {PYTHON} fails: {why[0]}", "apt-get install python3"
            )
        return Availability(False, f"bwrap cannot make namespaces here: {why[0]}", FIX_USERNS)
    return Availability(True, landlock_note())  # "" where Landlock applies


class ProcessRuntime:
    name = "process"
    capabilities = LINUX | {"gpu", "network"}  # network: the host's gateway, in this process
    implemented = True
    templates: frozenset[str] | None = None  # images (or the host userland) decide, at open()

    def __init__(self) -> None:
        self._spares = Spares()

    def availability(self) -> Availability:
        return probe()

    def drain(self) -> None:
        self._spares.drain()

    def isolation_notes(self) -> list[str]:
        return cgroups.host_gaps() + ([landlock_note()] if landlock_note() else [])

    def sweep_stale(self) -> int:
        """Jails of killed host processes: their tmpfs, cgroups and folders (once per
        process, shared with the sweep a first sandbox does)."""
        return stale.sweep(PREFIX, None)

    def open(self, spec: SandboxSpec) -> ProcessSandbox:
        return self._spares.open(spec)
