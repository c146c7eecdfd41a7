"""What this host can run: the facts behind `sandlot doctor` and `sandlot warmup`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import Unsatisfiable
from ..models import Limits
from ..runtimes.base import KnowsHostGaps, Prepares
from ..runtimes.registry import all_tiers, tier_named


@dataclass(frozen=True)
class TierReport:
    name: str
    available: bool
    implemented: bool
    capabilities: frozenset[str]
    reason: str
    fix: str
    isolation_notes: tuple[str, ...] = ()  # what its isolation lacks on this host


def tier_reports() -> list[TierReport]:
    """One report per tier, lightest first."""
    reports = []
    for tier in all_tiers():
        a = tier.availability()
        gaps = tuple(tier.isolation_notes()) if a.ok and isinstance(tier, KnowsHostGaps) else ()
        reports.append(
            TierReport(tier.name, a.ok, tier.implemented, tier.capabilities, a.reason, a.fix, gaps)
        )
    return reports


def warmup(*, metered: bool = False) -> float:
    """Compile (or load) the wasm runtime, then time one sandbox start and call."""
    from .core import SandboxCore

    configs = [Limits()] + ([Limits(cpu_fuel=10**12)] if metered else [])
    took = 0.0
    for limits in configs:
        start = time.perf_counter()
        core = SandboxCore(limits=limits)
        try:
            core.run_code("1")
        finally:
            core.close()
        took = time.perf_counter() - start
    return took


def prepare_microvm(
    template: str | None,
    progress: Callable[[str], None] | None = None,
    *,
    custom_kernel: bool = False,
) -> str:
    """Build the microvm tier's kernel and initramfs (and, given a template, its root disk
    and snapshot) now, with progress, instead of in the first `Sandbox.create`.
    `custom_kernel`: compile sandlot's own kernel (many minutes, once per config and source
    version) and prepare the template with it; sandboxes use it under
    `SANDLOT_MICROVM_KERNEL=custom`."""
    runtime = tier_named("microvm")
    available = runtime.availability()
    if not available.ok:
        raise Unsatisfiable(
            f"the microvm tier is unavailable here: {available.reason} (fix: {available.fix})"
        )
    assert isinstance(runtime, Prepares), "the microvm runtime prepares its boot files"
    if not custom_kernel:
        return runtime.prepare(template, progress)
    from ..runtimes.microvm import kernel

    with kernel.selected("custom"):
        done = runtime.prepare(template, progress)
    return f"{done} (custom kernel: used where SANDLOT_MICROVM_KERNEL=custom)"
