"""Prometheus metrics, on a registry of the app's own so several apps never collide.

Sandbox counts are per key: a tenant's scrape counts its own sandboxes, the operator's
(`ServerConfig.metrics_token`) every key's. The rest (latencies, errors, pools) is the
service's, with no key in any label."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .pools import Pools
from .sandboxes import SandboxTable

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class _SandboxCounts(Collector):
    """Read at scrape time from the table, so the gauge can never drift from the truth;
    one key's sandboxes, or every key's when `owner` is None."""

    def __init__(self, table: SandboxTable, owner: str | None) -> None:
        self._table = table
        self._owner = owner

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily(
            "sandlot_sandboxes",
            "Sandboxes by tier and state (running, or why recently gone)",
            labels=["tier", "state"],
        )
        for tier, state, n in self._table.counts(self._owner):
            g.add_metric([tier, state], n)
        yield g


class _PoolReady(Collector):
    def __init__(self, pools: Pools) -> None:
        self._pools = pools

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily(
            "sandlot_pool_ready",
            "Sandboxes ready in each warm pool",
            labels=["template", "tier"],
        )
        for template, tier, n in self._pools.ready():
            g.add_metric([template, tier], n)
        yield g


class Metrics:
    def __init__(self, table: SandboxTable, pools: Pools | None = None) -> None:
        self._table = table
        self.registry = CollectorRegistry()
        if pools is not None:
            self.registry.register(_PoolReady(pools))
        self.pool_hits = Counter(
            "sandlot_pool_hits",
            "Creates served from a warm pool",
            ["template", "tier"],
            registry=self.registry,
        )
        self.pool_misses = Counter(
            "sandlot_pool_misses",
            "Creates for a pooled template and tier that the pool could not serve",
            ["template", "tier"],
            registry=self.registry,
        )
        self.create_seconds = Histogram(
            "sandlot_create_seconds",
            "Time to create a sandbox",
            ["tier"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.call_seconds = Histogram(
            "sandlot_call_seconds",
            "Time of sandbox calls by operation",
            ["op"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "sandlot_errors",
            "Errors answered, by sandlot error type",
            ["type"],
            registry=self.registry,
        )

    def exposition(self, owner: str | None) -> bytes:
        """The scrape's text: `owner`'s sandbox counts (every key's for None), then the
        service's own metrics."""
        counts = CollectorRegistry()
        counts.register(_SandboxCounts(self._table, owner))
        return generate_latest(counts) + generate_latest(self.registry)
