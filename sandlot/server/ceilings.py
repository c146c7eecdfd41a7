"""The server's ceilings: the most any request may ask for, whatever its client says.

A client names its own `Limits`; without ceilings one request could ask for a terabyte of
memory, a gigabyte of output held on the server, or a day of wall time. `Ceilings` is the
config file's `[limits]` table; the service checks every request against it in one place
and refuses what is above with `OverCeiling`, a 422 that names the ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..errors import LimitExceeded
from ..models import Limits

_CAPPED = ("memory_bytes", "output_bytes", "wall_time", "cpu_fuel", "disk_bytes")
"""The fields of `Limits` that have a ceiling here (file_read_bytes has `max_file_read_bytes`)."""


class OverCeiling(LimitExceeded):
    """A request asked for more than this server allows (422); `limit` is the ceiling's
    key in `[limits]`, and the message names its value."""

    def __init__(self, key: str, asked: object, ceiling: object, what: str = "") -> None:
        subject = what or f"{key}={asked}"
        super().__init__(
            key, f"{subject} is over this server's ceiling: [limits] {key} = {ceiling}"
        )


@dataclass(frozen=True)
class Ceilings:
    """`[limits]` of `sandlot serve --config`. The defaults sit above `Limits()`'s, since
    the remote SDK sends every field of its limits, defaults included.

    memory_bytes, output_bytes, wall_time, cpu_fuel, disk_bytes: the most a sandbox's or
        a call's `limits` may ask for (`wall_time` also bounds a call's `timeout`).
    body_bytes: the largest JSON request body (413 above it, before it is read whole);
        uploads have their own caps (`max_upload_bytes`, `max_push_bytes`).
    metadata_bytes / envs_bytes: UTF-8 bytes of a sandbox's labels / of one envs map.
    stored_bytes_per_key: what one key may keep on the server: its sandboxes' records
        (kept a week after they end), named snapshots and paused sandboxes.
    """

    memory_bytes: int = 4 << 30
    output_bytes: int = 4 << 20  # a call's output costs the host several times its size
    wall_time: float = 3600.0
    cpu_fuel: int = 1 << 40
    disk_bytes: int = 4 << 30
    body_bytes: int = 32 << 20
    metadata_bytes: int = 16 << 10
    envs_bytes: int = 256 << 10
    stored_bytes_per_key: int = 8 << 30

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kinds = (int, float) if f.type == "float" else (int,)
            if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
                raise ValueError(f"[limits] {f.name} must be a positive number, got {value!r}")

    @classmethod
    def from_table(cls, table: object) -> Ceilings:
        """The `[limits]` table of a config file (unknown keys are an error)."""
        if isinstance(table, Ceilings):
            return table
        if not isinstance(table, Mapping):
            raise ValueError("[limits] must be a table")
        unknown = sorted(set(table) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"[limits]: unknown setting(s) {', '.join(unknown)}")
        return cls(**table)

    def check(self, asked: Mapping[str, Any]) -> None:
        """Refuse the fields of a request's `limits` above their ceilings."""
        for key in _CAPPED:
            value = asked.get(key)
            if value is not None and value > getattr(self, key):
                raise OverCeiling(key, value, getattr(self, key))

    def bounded(self, limits: Limits) -> Limits:
        """`limits` with what the client did not ask for (defaults, a sandbox's own)
        lowered to the ceilings, and the disk cap it would derive (half its memory) kept
        under `disk_bytes`, so a request that names nothing still gets limits within them."""
        lowered = {
            key: getattr(self, key)
            for key in _CAPPED
            if getattr(limits, key) is not None and getattr(limits, key) > getattr(self, key)
        }
        limits = limits.merged(**lowered)
        if limits.disk_bytes is None and limits.disk_cap > self.disk_bytes:
            return limits.merged(disk_bytes=self.disk_bytes)
        return limits

    def timeout(self, seconds: float | None) -> float | None:
        """A call's own `timeout`, which stands in for its wall_time: under the ceiling."""
        if seconds is not None and seconds > self.wall_time:
            raise OverCeiling("wall_time", seconds, self.wall_time, f"timeout={seconds:g}")
        return seconds

    def labels(self, value: Mapping[str, str] | None, name: str) -> None:
        """Refuse `metadata` or `envs` whose keys and values pass their byte ceiling."""
        key = f"{name}_bytes"
        size = sum(len((k + v).encode("utf-8", "surrogatepass")) for k, v in (value or {}).items())
        if size > getattr(self, key):
            raise OverCeiling(key, size, getattr(self, key), f"{name} of {size} bytes")
