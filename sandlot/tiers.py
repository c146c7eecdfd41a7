"""The tiers by name: the one table a new tier is added to.

Each entry names a tier, its weight (tier selection tries lighter tiers first) and where
its `Runtime` lives. It sits below every layer, so anything may check a tier's name (a
recipe's `tiers`, `tier=`) without importing a runtime; `runtimes/registry.py` loads them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TierEntry:
    name: str
    weight: int  # lighter first: tier selection tries tiers in ascending weight
    runtime: str  # "module:Class", relative to sandlot.runtimes


TIERS: tuple[TierEntry, ...] = tuple(
    sorted(
        (
            TierEntry("wasm", 10, "wasm.runtime:WasmRuntime"),
            TierEntry("process", 20, "process.runtime:ProcessRuntime"),
            TierEntry("gvisor", 30, "gvisor.runtime:GvisorRuntime"),
            TierEntry("microvm", 40, "microvm.runtime:MicroVMRuntime"),
        ),
        key=lambda t: t.weight,
    )
)


def tier_names() -> tuple[str, ...]:
    """Every tier's name, lightest first."""
    return tuple(t.name for t in TIERS)
