"""`Sandbox`: the sandbox API for synchronous code.

GENERATED from `sandlot/sdk/_async/sandbox.py` by `python scripts/unasync.py`: edit that
file, not this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, overload

from ...models import (
    CommandResult,
    EntryInfo,
    Execution,
    Limits,
    NetworkPolicy,
    Secrets,
    SnapshotInfo,
)
from ...network.log import ConnectionRecord
from ..background import BackgroundCommand
from ..core import SandboxCore
from .helpers import StreamCallback, call, callback


class Files:
    """The sandbox's filesystem, by guest path (relative paths are under /home/user)."""

    def __init__(self, core: SandboxCore) -> None:
        self._core = core

    def write(self, path: str, data: str | bytes) -> EntryInfo:
        """Write a whole file, making its parent folders."""
        return call(self._core.files_write, path, data)

    @overload
    def read(self, path: str, format: Literal["text"] = "text") -> str: ...

    @overload
    def read(self, path: str, format: Literal["bytes"]) -> bytes: ...

    def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes:
        """Read a whole file, as text (UTF-8) or bytes."""
        return call(self._core.files_read, path, format)

    def list(self, path: str = ".", depth: int = 1) -> list[EntryInfo]:
        """The entries under a folder, `depth` levels down."""
        result: list[EntryInfo] = call(self._core.files_op, "list", path, depth)
        return result

    def exists(self, path: str) -> bool:
        result: bool = call(self._core.files_op, "exists", path)
        return result

    def remove(self, path: str) -> None:
        """Remove a file, a link or a whole folder."""
        call(self._core.files_op, "remove", path)

    def rename(self, old: str, new: str) -> EntryInfo:
        result: EntryInfo = call(self._core.files_op, "rename", old, new)
        return result

    def make_dir(self, path: str) -> bool:
        """Make a folder and its parents; False if it was already there."""
        result: bool = call(self._core.files_op, "make_dir", path)
        return result

    def get_info(self, path: str) -> EntryInfo:
        result: EntryInfo = call(self._core.files_op, "get_info", path)
        return result


class Artifacts:
    """Files the code wrote under /tmp/outputs: plots, CSVs, reports."""

    def __init__(self, core: SandboxCore) -> None:
        self._core = core

    def list(self) -> list[EntryInfo]:
        return call(self._core.artifacts_list)

    def read(self, name: str) -> bytes:
        """An artifact's bytes, by its name under /tmp/outputs."""
        return call(self._core.artifacts_read, name)


class Network:
    """The sandbox's network, as its policy (`network=` at create) allows it."""

    def __init__(self, core: SandboxCore) -> None:
        self._core = core

    def log(self) -> list[ConnectionRecord]:
        """Every connection the sandbox tried: when, host, port, allowed or refused and
        why, and the bytes each way. `sandlot.Unsupported` on a tier with no network."""
        return call(self._core.network_log)


class Commands:
    """Shell commands in the sandbox (bash on Linux tiers, sandlot's shell on wasm)."""

    def __init__(self, core: SandboxCore) -> None:
        self._core = core

    @overload
    def run(
        self,
        cmd: str,
        *,
        timeout: float | None = 60.0,
        envs: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | None = None,
        limits: Limits | None = None,
        on_stdout: StreamCallback | None = None,
        on_stderr: StreamCallback | None = None,
        background: Literal[False] = False,
    ) -> CommandResult: ...

    @overload
    def run(
        self,
        cmd: str,
        *,
        timeout: float | None = 60.0,
        envs: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | None = None,
        limits: Limits | None = None,
        on_stdout: StreamCallback | None = None,
        on_stderr: StreamCallback | None = None,
        background: Literal[True],
    ) -> CommandHandle: ...

    def run(
        self,
        cmd: str,
        *,
        timeout: float | None = 60.0,
        envs: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | None = None,
        limits: Limits | None = None,
        on_stdout: StreamCallback | None = None,
        on_stderr: StreamCallback | None = None,
        background: bool = False,
    ) -> CommandResult | CommandHandle:
        """Run a command line; a non-zero exit is a result, not an exception.

        Shell state (variables, functions, the working directory) persists between calls;
        `envs` and `cwd` apply to this call only. `limits` overrides the sandbox's limits for
        this call (all but memory); `timeout` wins over its wall_time.
        With `background=True` it returns at once with a handle to follow (`stdout`),
        `wait()` for or `kill()` the command; calls made meanwhile wait for it.
        """
        kwargs = dict(
            timeout=timeout,
            envs=envs,
            cwd=cwd,
            stdin=stdin,
            limits=limits,
            on_stdout=callback(on_stdout),
            on_stderr=callback(on_stderr),
        )
        if background:
            return CommandHandle(self._core.background(cmd, **kwargs))
        return call(self._core.run_command, cmd, **kwargs)


class CommandHandle:
    """A command running in the background (`commands.run(..., background=True)`)."""

    def __init__(self, command: BackgroundCommand) -> None:
        self._command = command

    @property
    def id(self) -> str:
        return self._command.id

    @property
    def done(self) -> bool:
        return self._command.done

    @property
    def stdout(self) -> str:
        """The standard output so far (all of it once done)."""
        return self._command.stdout

    @property
    def stderr(self) -> str:
        return self._command.stderr

    @property
    def exit_code(self) -> int | None:
        """The exit status once done, else None."""
        return self._command.exit_code

    def wait(self, timeout: float | None = None) -> CommandResult:
        """The command's result once it ends (or the error it ended with); `timeout`
        bounds only the wait (`sandlot.TimeoutError`; the command goes on)."""
        return call(self._command.wait, timeout)

    def kill(self) -> bool:
        """Stop the command (the sandbox lives on); False if it had already ended."""
        return call(self._command.kill)

    def __repr__(self) -> str:
        state = f"exit {self.exit_code}" if self.done else "running"
        return f"<CommandHandle {self.id} {state}>"


class Sandbox:
    """A sandbox for untrusted code, on the lightest tier that meets its requirements.

    Create one with `Sandbox.create()` and use it as a context manager.
    """

    def __init__(self, core: SandboxCore) -> None:
        self._core = core
        self.files = Files(core)
        self.artifacts = Artifacts(core)
        self.commands = Commands(core)
        self.network = Network(core)

    @classmethod
    def create(
        cls,
        template: str | None = None,
        *,
        requires: Iterable[str] = (),
        tier: str | None = None,
        timeout: float = 300.0,
        envs: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        metadata: Mapping[str, str] | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        snapshot: str | None = None,
        network: NetworkPolicy | Mapping[str, Any] | None = None,
        secrets: Secrets | Mapping[str, Mapping[str, str]] | None = None,
    ) -> Sandbox:
        """Start a sandbox.

        template: the environment ("python-data-analysis" by default).
        requires: capabilities the sandbox needs ("subprocess", "network", ...); the
            lightest available tier providing them all is used, else `Unsatisfiable`.
        tier: force a tier ("wasm", "process", "gvisor", "microvm").
        timeout: seconds the sandbox lives; `set_timeout` extends it.
        envs: environment variables for the code.
        limits: per-call and per-sandbox resource limits (`sandlot.Limits`).
        metadata: your own labels, kept with the sandbox.
        base_url, api_key: run the sandbox on a `sandlot serve` host instead of here
            (default: $SANDLOT_URL and $SANDLOT_API_KEY); it behaves the same.
        snapshot: start from a snapshot made by `create_snapshot` (its tier, template,
            limits and state come with it); with base_url, one of the API key's on the
            server.
        network: where the sandbox may connect, e.g. {"allow_out": ["example.org",
            "*.example.com", "203.0.113.0/24"], "deny_out": [...]} (E2B's
            `allow_internet_access` too); default: no network at all. Only a tier that
            enforces the policy runs it (requires "network").
        secrets: headers the host adds to requests for one host each, e.g.
            {"api.example.com": {"Authorization": "Bearer ..."}}: the sandbox never sees
            them (needs `network`).
        """
        core = call(
            SandboxCore,
            template,
            requires=requires,
            tier=tier,
            timeout=timeout,
            envs=envs,
            limits=limits,
            metadata=metadata,
            base_url=base_url,
            api_key=api_key,
            snapshot=snapshot,
            network=network,
            secrets=secrets,
        )
        return cls(core)

    @classmethod
    def connect(
        cls,
        sandbox_id: str,
        *,
        timeout: float = 300.0,
        base_url: str | None = None,
        api_key: str | None = None,
    ) -> Sandbox:
        """Resume a sandbox that `pause()` saved, from this process or another one.

        With base_url (default: $SANDLOT_URL), the server's sandbox `sandbox_id`: a paused
        one is resumed, a live one attached to; it lives `timeout` seconds from now."""
        core = call(
            SandboxCore.connect, sandbox_id, timeout=timeout, base_url=base_url, api_key=api_key
        )
        return cls(core)

    @staticmethod
    def list_snapshots(
        *, base_url: str | None = None, api_key: str | None = None
    ) -> list[SnapshotInfo]:
        """The named snapshots on this host (with base_url: the API key's on the server)."""
        return call(SandboxCore.list_snapshots, base_url, api_key)

    @staticmethod
    def delete_snapshot(
        name: str, *, base_url: str | None = None, api_key: str | None = None
    ) -> None:
        call(SandboxCore.delete_snapshot, name, base_url, api_key)

    @property
    def id(self) -> str:
        return self._core.id

    @property
    def tier(self) -> str:
        return self._core.tier

    @property
    def template(self) -> str:
        return self._core.template

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._core.metadata)

    @property
    def closed(self) -> bool:
        return self._core.closed

    @property
    def isolation_notes(self) -> list[str]:
        """What this sandbox's isolation lacks on this host, in words (e.g. "no writable
        memory cgroup: memory is limited by rlimits only"); empty when nothing."""
        return self._core.isolation_notes

    def run_code(
        self,
        code: str,
        *,
        timeout: float | None = None,
        limits: Limits | None = None,
        on_stdout: StreamCallback | None = None,
        on_stderr: StreamCallback | None = None,
    ) -> Execution:
        """Run Python in the sandbox's persistent session, as a notebook cell.

        Variables and imports persist between calls. The last expression's value and any
        figure shown come back as `results`; an uncaught exception as `error`. A call that
        runs past `timeout` raises `sandlot.TimeoutError` and the sandbox keeps its state.
        `limits` overrides the sandbox's limits for this call (all but memory).
        """
        return call(
            self._core.run_code,
            code,
            timeout=timeout,
            limits=limits,
            on_stdout=callback(on_stdout),
            on_stderr=callback(on_stderr),
        )

    def pause(self) -> str:
        """Save the whole sandbox (memory, files) to this host's store and free it.

        Returns the id that `connect()` resumes it by. Tiers that cannot save a running
        sandbox raise `sandlot.Unsupported` naming the tiers that can."""
        return call(self._core.pause)

    def fork(self, n: int = 1) -> list[Sandbox]:
        """n new sandboxes that go on from this one's state, each with its own identity."""
        return [type(self)(core) for core in call(self._core.fork, n)]

    def create_snapshot(self, name: str) -> SnapshotInfo:
        """Save the current state as `name`: `create(snapshot=name)` starts from it."""
        return call(self._core.create_snapshot, name)

    def set_timeout(self, timeout: float) -> None:
        """Let the sandbox live `timeout` more seconds from now."""
        call(self._core.set_timeout, timeout)

    def close(self) -> None:
        """Stop the sandbox and free everything it holds. Safe to call twice."""
        call(self._core.close)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "live"
        return f"<Sandbox {self.id} tier={self.tier} template={self.template} {state}>"
