"""`AsyncSandbox`: the sandbox API for async code.

Written by hand. `sandlot/sdk/_sync/sandbox.py` (`Sandbox`) is generated from this file by
`python scripts/unasync.py`; a test fails if the two drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Literal, overload

from ...models import CommandResult, EntryInfo, Execution, Limits
from ..core import SandboxCore
from .helpers import StreamCallback, call, callback


class AsyncFiles:
    """The sandbox's filesystem, by guest path (relative paths are under /home/user)."""

    def __init__(self, core: SandboxCore) -> None:
        self._core = core

    async def write(self, path: str, data: str | bytes) -> EntryInfo:
        """Write a whole file, making its parent folders."""
        return await call(self._core.files_write, path, data)

    @overload
    async def read(self, path: str, format: Literal["text"] = "text") -> str: ...

    @overload
    async def read(self, path: str, format: Literal["bytes"]) -> bytes: ...

    async def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes:
        """Read a whole file, as text (UTF-8) or bytes."""
        return await call(self._core.files_read, path, format)

    async def list(self, path: str = ".", depth: int = 1) -> list[EntryInfo]:
        """The entries under a folder, `depth` levels down."""
        result: list[EntryInfo] = await call(self._core.files_op, "list", path, depth)
        return result

    async def exists(self, path: str) -> bool:
        result: bool = await call(self._core.files_op, "exists", path)
        return result

    async def remove(self, path: str) -> None:
        """Remove a file, a link or a whole folder."""
        await call(self._core.files_op, "remove", path)

    async def rename(self, old: str, new: str) -> EntryInfo:
        result: EntryInfo = await call(self._core.files_op, "rename", old, new)
        return result

    async def make_dir(self, path: str) -> bool:
        """Make a folder and its parents; False if it was already there."""
        result: bool = await call(self._core.files_op, "make_dir", path)
        return result

    async def get_info(self, path: str) -> EntryInfo:
        result: EntryInfo = await call(self._core.files_op, "get_info", path)
        return result


class AsyncArtifacts:
    """Files the code wrote under /tmp/outputs: plots, CSVs, reports."""

    def __init__(self, core: SandboxCore) -> None:
        self._core = core

    async def list(self) -> list[EntryInfo]:
        return await call(self._core.artifacts_list)

    async def read(self, name: str) -> bytes:
        """An artifact's bytes, by its name under /tmp/outputs."""
        return await call(self._core.artifacts_read, name)


class AsyncCommands:
    """Shell commands in the sandbox (bash on Linux tiers, sandlot's shell on wasm)."""

    def __init__(self, core: SandboxCore) -> None:
        self._core = core

    async def run(
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
    ) -> CommandResult:
        """Run a command line; a non-zero exit is a result, not an exception.

        Shell state (variables, functions, the working directory) persists between calls;
        `envs` and `cwd` apply to this call only. `limits` overrides the sandbox's limits for
        this call (all but memory); `timeout` wins over its wall_time.
        """
        return await call(
            self._core.run_command,
            cmd,
            timeout=timeout,
            envs=envs,
            cwd=cwd,
            stdin=stdin,
            limits=limits,
            on_stdout=callback(on_stdout),
            on_stderr=callback(on_stderr),
        )


class AsyncSandbox:
    """A sandbox for untrusted code, on the lightest tier that meets its requirements.

    Create one with `await AsyncSandbox.create()` and use it as an async context manager.
    """

    def __init__(self, core: SandboxCore) -> None:
        self._core = core
        self.files = AsyncFiles(core)
        self.artifacts = AsyncArtifacts(core)
        self.commands = AsyncCommands(core)

    @classmethod
    async def create(
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
    ) -> AsyncSandbox:
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
        """
        core = await call(
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
        )
        return cls(core)

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

    async def run_code(
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
        return await call(
            self._core.run_code,
            code,
            timeout=timeout,
            limits=limits,
            on_stdout=callback(on_stdout),
            on_stderr=callback(on_stderr),
        )

    async def set_timeout(self, timeout: float) -> None:
        """Let the sandbox live `timeout` more seconds from now."""
        await call(self._core.set_timeout, timeout)

    async def close(self) -> None:
        """Stop the sandbox and free everything it holds. Safe to call twice."""
        await call(self._core.close)

    async def __aenter__(self) -> AsyncSandbox:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "live"
        return f"<AsyncSandbox {self.id} tier={self.tier} template={self.template} {state}>"
