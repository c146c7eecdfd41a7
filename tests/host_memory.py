"""The host process's own memory as a test sees it: how far its peak rose while something
ran (Linux: VmHWM, restarted from the RSS through /proc/self/clear_refs), to bound what a
guest's input may make the host allocate."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _status_mib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) >> 10 for line in f if line.startswith(field + ":"))


def peak_growth_mib(call: Callable[[], T]) -> tuple[T, int]:
    """What `call` returned, and how many MiB the host's peak memory rose above its RSS
    at the start while it ran."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) starts again from the RSS now
    start = _status_mib("VmRSS")
    value = call()
    return value, _status_mib("VmHWM") - start
