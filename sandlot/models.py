"""The values sandlot hands back: executions, results, file entries, limits and timings.

Plain frozen dataclasses: cheap to build, easy to compare in tests, and the same for every
tier and front end.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from .errors import InvalidArgument


@dataclass(frozen=True)
class Timings:
    """Where a call's time went, in seconds: waiting for the sandbox, running, and in all."""

    queued: float
    run: float
    total: float


@dataclass(frozen=True)
class Result:
    """One rich value the code produced: its last expression or a figure it showed.

    Each field holds one representation, or None when the value has none.
    """

    text: str | None = None
    html: str | None = None
    png: bytes | None = None
    json: Any = None
    is_main_result: bool = False

    def formats(self) -> list[str]:
        """The representations this result carries, e.g. ["text", "png"]."""
        return [n for n in ("text", "html", "png", "json") if getattr(self, n) is not None]


@dataclass(frozen=True)
class Logs:
    """What the code printed, whole (up to the output limit)."""

    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class ExecutionError:
    """An exception the code raised and did not catch, as the guest saw it."""

    name: str
    value: str
    traceback: str


@dataclass(frozen=True)
class Execution:
    """The outcome of one `run_code` call."""

    results: list[Result] = field(default_factory=list)
    logs: Logs = field(default_factory=Logs)
    error: ExecutionError | None = None
    execution_count: int = 0
    timings: Timings = field(default_factory=lambda: Timings(0.0, 0.0, 0.0))
    truncated: tuple[str, ...] = ()

    @property
    def text(self) -> str | None:
        """The text of the main result (the last expression's value), if any."""
        for r in self.results:
            if r.is_main_result:
                return r.text
        return None


@dataclass(frozen=True)
class CommandResult:
    """The outcome of one shell command. A non-zero exit is a result, not an exception."""

    stdout: str
    stderr: str
    exit_code: int
    timings: Timings = field(default_factory=lambda: Timings(0.0, 0.0, 0.0))
    truncated: tuple[str, ...] = ()


FileType = Literal["file", "dir", "symlink", "other"]


@dataclass(frozen=True)
class EntryInfo:
    """One entry of the sandbox's filesystem, as `files.list` and `files.get_info` see it."""

    name: str
    path: str
    type: FileType
    size: int
    modified: float
    symlink_target: str | None = None


@dataclass(frozen=True)
class SnapshotInfo:
    """A named snapshot on this host: `Sandbox.create(snapshot=name)` starts from it."""

    name: str
    tier: str
    template: str
    size: int
    created: float


@dataclass(frozen=True)
class Limits:
    """What one sandbox, or one call, may use.

    wall_time: seconds a call may run (the per-call `timeout` overrides it).
    cpu_fuel: wasm instructions a call may execute (None: unmetered; metering compiles a
        second module cache on first use and runs guest code somewhat slower).
    memory_bytes: the most memory the guest may hold.
    output_bytes: the most bytes kept per stream per call; the rest is dropped and the
        result says so in `truncated`.
    file_read_bytes: the largest file `files.read` returns.
    disk_bytes: the most bytes the sandbox's files may take (set at create; a call's own
        limits do not change it). None: half of memory_bytes, as every tier's writable
        folders were before, since on most tiers files live in the sandbox's memory.
        Writing past it is ENOSPC inside the guest (or `LimitExceeded("disk")` where the
        host cannot cap a folder; the sandbox's notes say so).
    """

    wall_time: float = 60.0
    cpu_fuel: int | None = None
    memory_bytes: int = 1 << 30
    output_bytes: int = 1 << 20
    file_read_bytes: int = 100 << 20
    disk_bytes: int | None = None

    def __post_init__(self) -> None:
        _positive_seconds("wall_time", self.wall_time)
        for name in ("memory_bytes", "output_bytes", "file_read_bytes"):
            _positive_int(name, getattr(self, name))
        if self.cpu_fuel is not None:
            _positive_int("cpu_fuel", self.cpu_fuel)
        if self.disk_bytes is not None and _positive_int("disk_bytes", self.disk_bytes) < 1 << 20:
            raise InvalidArgument(
                f"disk_bytes={self.disk_bytes} is too small: the guest's folders need at "
                "least 1 MiB (1048576)"
            )
        if self.memory_bytes < 64 << 20:
            raise InvalidArgument(
                f"memory_bytes={self.memory_bytes} is too small: the Python runtime needs "
                "at least 64 MiB (67108864)"
            )

    @property
    def disk_cap(self) -> int:
        """The cap on the sandbox's files: disk_bytes, or half of memory_bytes when unset."""
        return self.disk_bytes if self.disk_bytes is not None else self.memory_bytes // 2

    def merged(self, **overrides: Any) -> Limits:
        """A copy with the given fields replaced (None values are ignored)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given) if given else self

    def to_dict(self) -> dict[str, Any]:
        """The one JSON form of limits: saved sandboxes, the REST API and its client."""
        return asdict(self)

    @classmethod
    def from_dict(cls, value: object) -> Limits:
        """Limits from `to_dict`'s form. Fields this version does not know are skipped (a
        newer writer), and a value that is not an object gives the defaults (a save made
        before limits were kept); the fields themselves are checked as always."""
        if not isinstance(value, Mapping):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known})


@dataclass(frozen=True)
class NetworkPolicy:
    """Where a sandbox may connect: entries are names ("example.org"), wildcards
    ("*.example.com", "*" for any name), addresses and CIDRs ("203.0.113.0/24"), each
    optionally ":PORT". Deny wins over allow. Names are allowed by name entries only (the
    gateway resolves nothing it would refuse), addresses by address entries; a name that
    resolves to a private address needs an allow_out CIDR naming it."""

    allow_out: tuple[str, ...] = ()
    deny_out: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from .network.rules import normalized_entries  # the syntax lives with the matcher

        object.__setattr__(self, "allow_out", normalized_entries("allow_out", self.allow_out))
        object.__setattr__(self, "deny_out", normalized_entries("deny_out", self.deny_out))

    @property
    def enabled(self) -> bool:
        """Whether the sandbox has any network at all (no allow_out: none, as before)."""
        return bool(self.allow_out)

    def to_dict(self) -> dict[str, list[str]]:
        """The JSON form (which `parse` reads back)."""
        return {"allow_out": list(self.allow_out), "deny_out": list(self.deny_out)}

    @classmethod
    def parse(cls, value: NetworkPolicy | Mapping[str, Any] | None) -> NetworkPolicy | None:
        """A policy from E2B's shape ({"allow_out", "deny_out", "allow_internet_access"})
        or ours; None when it grants no network (None, {}, or internet access off with
        no allow_out), which is every sandbox's default."""
        if value is None or isinstance(value, NetworkPolicy):
            return value if value is None or value.enabled else None
        if not isinstance(value, Mapping):
            raise InvalidArgument(f"network must be a mapping or NetworkPolicy; got {value!r}")
        unknown = set(value) - {"allow_out", "deny_out", "allow_internet_access"}
        if unknown:
            raise InvalidArgument(f"network has unknown keys: {sorted(unknown)}")
        allow = _entry_list("allow_out", value.get("allow_out"))
        internet = value.get("allow_internet_access")
        if internet is not None and not isinstance(internet, bool):
            raise InvalidArgument("network.allow_internet_access must be true or false")
        if internet and "*" not in allow:
            allow = ("*", *allow)
        policy = cls(allow, _entry_list("deny_out", value.get("deny_out")))
        return policy if policy.enabled else None


def _entry_list(name: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidArgument(f"network.{name} must be a list of strings; got {value!r}")
    return tuple(value)


# Headers that say where a request goes or how it is framed: never a secret's to set.
_FRAMING_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "te"}


class Secrets(Mapping[str, Mapping[str, str]]):
    """Headers the network gateway adds to requests for one host each, host -> {header:
    value}: the sandbox never sees them. Frozen and hashable (a spec holding them keys
    spares), and no repr or str shows a value."""

    __slots__ = ("_hosts", "_hash")

    def __init__(self, items: Mapping[str, Mapping[str, str]] | None = None) -> None:
        if items is not None and not isinstance(items, Mapping):
            raise InvalidArgument("secrets must map host to {header: value}")
        hosts: dict[str, dict[str, str]] = {}
        for host, headers in (items or {}).items():
            if not isinstance(host, str) or not host or any(c in host for c in "/:@ *"):
                raise InvalidArgument(f"secrets: {host!r} is not a host name")
            checked = check_str_map(headers, f"secrets[{host!r}]")
            for header in checked:
                value = checked[header]
                if not (header.isascii() and header.replace("-", "").isalnum()) or (
                    "\r" in value or "\n" in value
                ):
                    raise InvalidArgument(f"secrets[{host!r}]: {header!r} is not a header name")
                if header.lower() in _FRAMING_HEADERS:
                    raise InvalidArgument(f"secrets[{host!r}]: {header!r} cannot be a secret")
            hosts[host.lower().rstrip(".")] = checked
        self._hosts = hosts
        self._hash = hash(frozenset((h, frozenset(v.items())) for h, v in hosts.items()))

    def __getitem__(self, host: str) -> Mapping[str, str]:
        return dict(self._hosts[host])

    def __iter__(self) -> Iterator[str]:
        return iter(self._hosts)

    def __len__(self) -> int:
        return len(self._hosts)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secrets):
            return self._hosts == other._hosts
        return NotImplemented

    def __repr__(self) -> str:
        return f"Secrets(hosts={sorted(self._hosts)!r})"

    __str__ = __repr__

    def to_dict(self) -> dict[str, dict[str, str]]:
        """The values themselves: for the gateway only, never for a log or a reply."""
        return {h: dict(v) for h, v in self._hosts.items()}


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgument(f"{name} must be a positive integer; got {value!r}")
    return value


def _positive_seconds(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidArgument(f"{name} must be a positive number of seconds; got {value!r}")
    return float(value)


def check_str_map(value: Mapping[str, str] | None, name: str) -> dict[str, str]:
    """`envs` or `metadata` as a plain dict, checked: non-empty str keys, str values, no
    NUL (which no environment or label survives) and nothing UTF-8 cannot encode (a lone
    surrogate, which JSON can carry but no guest, label or response can); None is empty."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{name} must be a mapping of str to str")
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str) or "\0" in k + v or not k:
            raise InvalidArgument(f"{name} must map non-empty str to str without NUL; got {k!r}")
        if not _encodes(k + v):
            raise InvalidArgument(f"{name} must be valid Unicode (no lone surrogate); got {k!r}")
        out[k] = v
    return out


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_timeout(value: object, name: str = "timeout") -> float | None:
    """Validate an optional float-second timeout argument."""
    return None if value is None else _positive_seconds(name, value)


ConnectionKind = Literal["connect", "http", "fetch", "dns"]


@dataclass(frozen=True)
class ConnectionRecord:
    """One connection tried: when, where, whether it was allowed (and why not), and the
    bytes it carried up (sandbox to host) and down."""

    time: float
    host: str
    port: int
    allowed: bool
    reason: str
    bytes_up: int
    bytes_down: int
    kind: ConnectionKind
