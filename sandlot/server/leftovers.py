"""What a server killed without closing its sandboxes (`kill -9`, a crash) left on this
host, removed when the next one starts, before it serves anything.

Every tier's runtime that can say which leftovers are stale (`SweepsStale`: folders with
the tenant's files, tmpfs mounts, cgroups, runsc containers, VM run folders) sweeps them;
each judges by an owner stamp or a dead socket, so a live process's sandboxes (a library
user's, another server's) are never touched. The records of the sandboxes themselves are
marked lost by the store.
"""

from __future__ import annotations

import logging

from ..runtimes.base import SweepsStale
from ..runtimes.registry import all_tiers

log = logging.getLogger("sandlot.server")


def sweep_every_tier() -> dict[str, int]:
    """{tier: sandboxes whose leftovers went}; a tier whose sweep fails is logged and
    skipped (the others still run, and the server still starts)."""
    swept: dict[str, int] = {}
    for runtime in all_tiers():
        if not isinstance(runtime, SweepsStale):
            continue
        try:
            swept[runtime.name] = runtime.sweep_stale()
        except Exception:
            log.exception("sweeping the %s tier's leftovers failed", runtime.name)
    return swept
