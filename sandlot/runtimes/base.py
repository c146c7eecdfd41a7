"""The seam between the SDK and the isolation tiers.

A tier is a `Runtime`: it says what it provides (capabilities), whether this host can run
it (and if not, why and what would fix it), and opens `RuntimeSandbox`es. Every sandbox
offers the minimum below (`files`, `run_code`, `run_command`, `close`); what only some
tiers can do is a small typed interface of its own (`Saves`, `ForksItself`,
`Interruptible`, ...). A tier's classes inherit the interfaces they implement, mypy checks
their signatures, and `SandboxCore` dispatches with `isinstance` on them: a new ability is
one interface here and one branch in the core, never a probe for a method name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..models import (
    CommandResult,
    EntryInfo,
    Execution,
    Limits,
    NetworkPolicy,
    Secrets,
    SnapshotInfo,
)
from ..network.log import ConnectionRecord

OutputCallback = Callable[[str], None]
Progress = Callable[[str], None]

# What a sandbox may require; each tier declares the subset it provides.
CAPABILITIES = {
    "python": "run Python code with numpy, pandas, scipy and matplotlib",
    "shell": "run bash-compatible shell commands",
    "files": "read and write files in the sandbox",
    "subprocess": "start real processes (bash, compilers, any binary)",
    "pip": "install Python packages at run time",
    "compilers": "compile C, C++ and Go",
    "network": "reach the network through an allowlist",
    "gpu": "use the host's GPU",
    "isolation=strong": "a separate kernel or a memory-safe VM between the code and the host",
}


@dataclass(frozen=True)
class Availability:
    """Whether a tier can run on this host; when not, why and what would fix it."""

    ok: bool
    reason: str = ""
    fix: str = ""


class FrozenEnvs(Mapping[str, str]):
    """An immutable, hashable str -> str mapping: a spec's environment, so that the whole
    spec can key a pool of warm sandboxes."""

    __slots__ = ("_items", "_hash")

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, str] = dict(items or {})
        self._hash = hash(frozenset(self._items.items()))

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenEnvs({self._items!r})"


@dataclass(frozen=True)
class SandboxSpec:
    """Everything that shapes one sandbox, frozen and hashable: warm spares and pools are
    keyed by the whole spec, so a field added here can never be left out of their keys."""

    template: str
    limits: Limits
    envs: Mapping[str, str] = field(default_factory=FrozenEnvs)
    network: NetworkPolicy | None = None  # None: no network at all
    secrets: Secrets = field(default_factory=Secrets)  # headers the gateway adds, by host

    def __post_init__(self) -> None:
        if not isinstance(self.envs, FrozenEnvs):
            object.__setattr__(self, "envs", FrozenEnvs(self.envs))


class SandboxFiles(Protocol):
    """A sandbox's filesystem by guest path: `hostfs.SandboxRoot` for tiers whose files
    sit in a host folder, a guest-protocol client for the others (and for remote ones)."""

    def write(self, path: str, data: bytes | str) -> EntryInfo: ...

    def read(self, path: str, *, max_bytes: int) -> bytes: ...

    def list(self, path: str, depth: int = 1) -> list[EntryInfo]: ...

    def exists(self, path: str) -> bool: ...

    def remove(self, path: str) -> None: ...

    def rename(self, old: str, new: str) -> EntryInfo: ...

    def make_dir(self, path: str) -> bool: ...

    def get_info(self, path: str) -> EntryInfo: ...


class RuntimeSandbox(Protocol):
    """One live sandbox of some tier: what every tier offers. Calls are serialised by the
    SDK core."""

    @property
    def files(self) -> SandboxFiles: ...

    def run_code(
        self,
        code: str,
        *,
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> Execution: ...

    def run_command(
        self,
        cmd: str,
        *,
        limits: Limits,
        stdin: str,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> CommandResult: ...

    def close(self) -> None: ...


# -- what only some sandboxes can do ---------------------------------------------------------


@runtime_checkable
class Interruptible(Protocol):
    """Its running call can be stopped from another thread (a background command's kill);
    the call still ends with a reply and the sandbox lives on."""

    def interrupt(self) -> None: ...


@runtime_checkable
class Saves(Protocol):
    """Its whole state can be written to a host folder, which its runtime's `restore`
    (`Restores`) brings back: what pause, named snapshots and fork are made of."""

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the state into `directory`; return the tier's own notes for `restore`."""
        ...


@runtime_checkable
class ForksItself(Protocol):
    """It makes its own clones, faster than a save restored n times (microvm restores
    them in parallel; a remote sandbox asks its server). Asked before `Saves`."""

    def fork(self, n: int) -> Sequence[RuntimeSandbox]: ...


@runtime_checkable
class ReportsIsolation(Protocol):
    """It knows what its isolation lacks on this host (no memory cgroup, no KVM, ...)."""

    @property
    def notes(self) -> list[str]: ...


@runtime_checkable
class HasNetwork(Protocol):
    """It reaches the network through the host's gateway (`sandlot.network`), by its spec's
    policy: what it tried, allowed or refused and why, is in the gateway's log."""

    def network_log(self) -> list[ConnectionRecord]: ...


@runtime_checkable
class HostedElsewhere(Protocol):
    """Its state lives on another host (a `sandlot serve`), which keeps its id, tier,
    settings and deadline and does its own pausing and snapshots."""

    sandbox_id: str
    tier: str

    def described(self) -> tuple[str, Limits, dict[str, str]]:
        """The host's template, limits and metadata for this sandbox."""
        ...

    def pause(self) -> None: ...

    def create_snapshot(self, name: str) -> SnapshotInfo: ...

    def set_timeout(self, timeout: float) -> None: ...


# -- the tiers ---------------------------------------------------------------------------------


class Runtime(Protocol):
    """One isolation tier."""

    name: str
    capabilities: frozenset[str]
    implemented: bool
    # The templates this tier can serve, or None when it decides at open() (and says why not).
    templates: frozenset[str] | None

    def availability(self) -> Availability: ...

    def open(self, spec: SandboxSpec) -> RuntimeSandbox: ...


@runtime_checkable
class Restores(Protocol):
    """A runtime that opens sandboxes from what its sandboxes' `save` wrote."""

    def restore(
        self, directory: Path, spec: SandboxSpec, meta: dict[str, Any]
    ) -> RuntimeSandbox: ...


@runtime_checkable
class Prepares(Protocol):
    """A runtime whose boot files can be built ahead of the first sandbox, with progress
    (`sandlot image build --kernel`)."""

    def prepare(self, template: str | None, progress: Progress | None = None) -> str: ...


@runtime_checkable
class SweepsStale(Protocol):
    """A runtime that can remove what sandboxes of a dead host process left on this host
    (folders, mounts, cgroups, run files): `sandlot serve` calls it for every tier at
    start, so a `kill -9` leaves nothing for good. Returns how many sandboxes' leftovers
    went; never touches those of a live process."""

    def sweep_stale(self) -> int: ...


@runtime_checkable
class KeepsWarm(Protocol):
    """A runtime that keeps sandboxes ready ahead of time (warm spares, VM pools, a QEMU
    started ahead): `drain` closes them, waiting for those still starting. A server calls
    it when it stops, because a process ended by a signal runs no `atexit` hook."""

    def drain(self) -> None: ...


@runtime_checkable
class KnowsHostGaps(Protocol):
    """A runtime that can say, without opening a sandbox, what its isolation lacks on this
    host (`sandlot doctor` prints it)."""

    def isolation_notes(self) -> list[str]: ...
