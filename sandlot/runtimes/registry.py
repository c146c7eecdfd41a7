"""The tiers' runtimes, loaded by name from `sandlot/tiers.py` (the one table a new tier
is added to, with its weight), and tier selection: the lightest tier available here that
provides every requirement. A runtime is imported only when first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import cache

from ..errors import InvalidArgument, Unsatisfiable
from ..tiers import TIERS, TierEntry, tier_names
from .base import CAPABILITIES, Availability, Runtime

__all__ = ["all_tiers", "check_requires", "loaded_tiers", "select", "tier_named", "tier_names"]


_LOADED: dict[str, Runtime] = {}


@cache
def _load(entry: TierEntry) -> Runtime:
    module, cls = entry.runtime.split(":")
    runtime: Runtime = getattr(importlib.import_module(f"{__package__}.{module}"), cls)()
    if runtime.name != entry.name:
        raise RuntimeError(f"tier {entry.name!r} loads a runtime named {runtime.name!r}")
    _LOADED[entry.name] = runtime
    return runtime


def loaded_tiers() -> list[Runtime]:
    """The tiers this process has used (asked for) so far, lightest first."""
    return [runtime for t in TIERS if (runtime := _LOADED.get(t.name)) is not None]


def all_tiers() -> tuple[Runtime, ...]:
    """Every tier, lightest first."""
    return tuple(_load(t) for t in TIERS)


def tier_named(name: str) -> Runtime:
    for entry in TIERS:
        if entry.name == name:
            return _load(entry)
    raise InvalidArgument(f"unknown tier {name!r}; the tiers are: {', '.join(tier_names())}")


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
    # Loaded one at a time, lightest first: a wasm sandbox imports no other tier.
    candidates = iter([tier_named(tier)]) if tier is not None else (_load(t) for t in TIERS)
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
        what += f" for template {template!r}"
    if not reasons:
        reasons.append("no tier provides that combination")
    raise Unsatisfiable(f"no tier on this host can {what}: " + "; ".join(reasons))
