"""Warm pools from the server's config: sandboxes made ahead, per template and tier.

    [pools]
    python-data-analysis = 2        # the tier a plain create of it gets here
    base = { process = 1 }          # or per tier

Each pool is the SDK's `WarmPool` of plain sandboxes (the server's default limits, no
envs). A create takes one when it asks for that template on that tier with those limits,
no envs and no snapshot; the pool refills in the background. Counted per pool:
`sandlot_pool_hits` (a create served from it) and `sandlot_pool_misses` (a create for its
template and tier that it could not serve: empty, or other limits/envs); the gauge
`sandlot_pool_ready` is read at scrape time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..models import Limits
from ..runtimes.registry import select
from ..sdk.core import DEFAULT_TEMPLATE, SandboxCore
from ..sdk.pool import WarmPool

log = logging.getLogger("sandlot.server")

MAX_POOL = 16
"""The most sandboxes one pool keeps ready."""
MAX_POOLED = 64
"""The most sandboxes all pools together keep ready."""
POOLED_LIFETIME = 7 * 86400.0
"""A ready sandbox's own lifetime; a take gives it the client's."""


@dataclass(frozen=True)
class PoolSpec:
    template: str
    tier: str | None  # None: the tier a plain create of the template gets
    size: int


def parse(config: Mapping[str, Any]) -> list[PoolSpec]:
    """The `[pools]` table as specs; ValueError naming what is wrong."""
    specs: list[PoolSpec] = []
    for template, value in config.items():
        per_tier = value if isinstance(value, Mapping) else {None: value}
        for tier, size in per_tier.items():
            where = f"pools.{template}" + (f".{tier}" if tier else "")
            if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_POOL:
                raise ValueError(f"{where} must be a whole number from 0 to {MAX_POOL}")
            if size:
                specs.append(PoolSpec(str(template), None if tier is None else str(tier), size))
    if sum(s.size for s in specs) > MAX_POOLED:
        raise ValueError(f"the pools hold more than {MAX_POOLED} sandboxes in all")
    return specs


class Pools:
    """The server's warm pools, keyed by (template, tier)."""

    def __init__(self, specs: Iterable[PoolSpec], limits: Limits) -> None:
        self.limits = limits
        self._pools: dict[tuple[str, str], WarmPool] = {}
        self._specs = list(specs)

    def start(self) -> None:
        """Resolve each pool's tier and start filling (in the background)."""
        for spec in self._specs:
            try:
                tier = select((), spec.tier, spec.template).name
            except Exception as e:  # noqa: BLE001 - one bad pool must not stop the server
                log.warning("warm pool %s/%s not started: %s", spec.template, spec.tier, e)
                continue
            key = (spec.template, tier)
            if key in self._pools:
                continue

            def make(template: str = spec.template, tier: str = tier) -> SandboxCore:
                return SandboxCore(
                    template,
                    tier=tier,
                    timeout=POOLED_LIFETIME,
                    limits=self.limits,
                    base_url="",  # this host, whatever $SANDLOT_URL says
                )

            self._pools[key] = WarmPool(make, spec.size, name=f"{spec.template}@{tier}")

    def __bool__(self) -> bool:
        return bool(self._pools)

    def lookup(
        self, template: str | None, tier: str | None, requires: Iterable[str]
    ) -> tuple[tuple[str, str], WarmPool] | None:
        """The pool for this request's template and the tier it would get, if any."""
        if not self._pools:
            return None
        template = template or DEFAULT_TEMPLATE
        try:
            chosen = select(requires, tier, template).name
        except Exception:  # noqa: BLE001 - the create itself says what is wrong
            return None
        key = (template, chosen)
        pool = self._pools.get(key)
        return (key, pool) if pool is not None else None

    def ready(self) -> Iterator[tuple[str, str, int]]:
        for (template, tier), pool in sorted(self._pools.items()):
            yield template, tier, pool.ready

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
