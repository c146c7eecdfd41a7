"""What the fault tests share: a call left running on a thread while the test breaks what
serves it, and the host processes that name a sandbox's paths (to find what to kill, and
to prove nothing of it outlived the fault)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any


class CallInFlight:
    """`call()` on a thread of its own, started now; `outcome()` is what it raised (or
    "returned"), once it ended."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self._result: list[BaseException | str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._call()
            self._result.append("returned")
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            self._result.append(e)

    def outcome(self, within: float) -> BaseException | str:
        self._thread.join(within)
        assert not self._thread.is_alive(), f"the call hung: still running after {within} s"
        return self._result[0]


def processes_naming(text: str) -> dict[int, str]:
    """pid -> argv[0] of every live (not zombie) process whose command line holds `text`."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except (OSError, IndexError):
            continue
        if not zombie and any(text.encode() in a for a in argv):
            found[int(pid)] = argv[0].decode(errors="replace")
    return found
