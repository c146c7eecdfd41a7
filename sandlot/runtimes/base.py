"""The seam between the SDK and the isolation tiers.

A tier is a `Runtime`: it says what it provides (capabilities), whether this host can run
it (and if not, why and what would fix it), and opens `RuntimeSandbox`es. The SDK talks to
a `RuntimeSandbox` only through the methods below, so a new tier plugs in without changing
the SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..models import CommandResult, EntryInfo, Execution, Limits

OutputCallback = Callable[[str], None]

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


@dataclass(frozen=True)
class SandboxSpec:
    """Everything a tier needs to open one sandbox."""

    template: str
    limits: Limits
    envs: dict[str, str]


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
    """One live sandbox of some tier. Calls are serialised by the SDK core."""

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


class Runtime(Protocol):
    """One isolation tier."""

    name: str
    capabilities: frozenset[str]
    implemented: bool
    # The templates this tier can serve, or None when it decides at open() (and says why not).
    templates: frozenset[str] | None

    def availability(self) -> Availability: ...

    def open(self, spec: SandboxSpec) -> RuntimeSandbox: ...
