"""Tier selection: the lightest tier available here that provides every requirement."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from ..errors import InvalidArgument, Unsatisfiable
from .base import CAPABILITIES, Availability, Runtime
from .planned import planned_tiers


@lru_cache(maxsize=1)
def all_tiers() -> tuple[Runtime, ...]:
    """Every tier, lightest first."""
    from .gvisor.runtime import GvisorRuntime
    from .microvm.runtime import MicroVMRuntime
    from .process.runtime import ProcessRuntime
    from .wasm.runtime import WasmRuntime

    return (WasmRuntime(), ProcessRuntime(), GvisorRuntime(), *planned_tiers(), MicroVMRuntime())


def tier_named(name: str) -> Runtime:
    for tier in all_tiers():
        if tier.name == name:
            return tier
    names = ", ".join(t.name for t in all_tiers())
    raise InvalidArgument(f"unknown tier {name!r}; the tiers are: {names}")


def check_requires(requires: Iterable[str]) -> frozenset[str]:
    if isinstance(requires, str):
        requires = [requires]
    wanted = frozenset(requires)
    unknown = sorted(r for r in wanted if r not in CAPABILITIES)
    if unknown:
        known = ", ".join(sorted(CAPABILITIES))
        raise InvalidArgument(f"unknown requirement(s) {', '.join(unknown)}; known: {known}")
    return wanted


def select(
    requires: Iterable[str] = (), tier: str | None = None, template: str | None = None
) -> Runtime:
    """The runtime to use, or Unsatisfiable naming each tier that would do and why not.

    A tier takes part when it provides every requirement and can serve the template."""
    wanted = check_requires(requires)
    candidates = [tier_named(tier)] if tier is not None else list(all_tiers())
    reasons: list[str] = []
    for runtime in candidates:
        missing = wanted - runtime.capabilities
        if missing:
            if tier is not None:
                reasons.append(f"{runtime.name} does not provide {', '.join(sorted(missing))}")
            continue
        if template is not None and runtime.templates is not None:
            if template not in runtime.templates:
                served = ", ".join(sorted(runtime.templates))
                reasons.append(f"{runtime.name} has no form of template {template!r} ({served})")
                continue
        avail: Availability = runtime.availability()
        if avail.ok:
            return runtime
        reasons.append(f"{runtime.name} would, but {avail.reason} (fix: {avail.fix})")
    what = f"provide {', '.join(sorted(wanted))}" if wanted else "run"
    if template is not None:
        what += f" template {template!r}"
    if not reasons:
        reasons.append("no tier provides that combination")
    raise Unsatisfiable(f"no tier on this host can {what}: " + "; ".join(reasons))
