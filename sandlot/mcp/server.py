"""The MCP server: sandlot sandboxes as tools an agent can call.

Built on the official `mcp` SDK (FastMCP). Each MCP session (the one stdio connection, or
each streamable-HTTP session) gets its own default sandbox, created on first use, plus any it
makes with `create_sandbox`; they are closed when the session ends and when the server stops.

Failures sandlot raises on purpose (`SandboxError`: a timeout, a limit, a missing file or
sandbox, a closed sandbox, a bad argument) come back as tool errors (`isError`) carrying the
message, never as a crash of the server.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.session import ServerSession
from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import Field

from ..errors import LimitExceeded, NotFound, SandboxClosed, SandboxError
from ..models import CommandResult, EntryInfo, Execution
from ..sdk._async.sandbox import AsyncSandbox

DEFAULT_SANDBOX_TIMEOUT = 1800.0
"""Seconds an MCP sandbox lives without being used; every tool call on it renews it."""

TEXT_LIMIT = 40_000
"""The most characters of one output stream or file put into a tool result."""

INSTRUCTIONS = """\
sandlot runs code in isolated sandboxes. Each sandbox has a persistent Python session \
(numpy, pandas, scipy and matplotlib available; variables and imports persist between \
run_python calls), a filesystem (relative paths are under /home/user) and a shell for \
run_command. Every tool works on your session's default sandbox, created on first use, \
unless you pass the sandbox_id of one made with create_sandbox. Nothing you run can reach \
the host machine."""


# -- the sandboxes -------------------------------------------------------------------------


@dataclass
class _Entry:
    sandbox: AsyncSandbox
    lifetime: float
    renewed: float = field(default_factory=time.monotonic)


class SandboxRegistry:
    """Every sandbox this server holds, across sessions, so that shutdown closes them all."""

    def __init__(self) -> None:
        self._live: dict[str, AsyncSandbox] = {}

    async def create(self, template: str | None, lifetime: float) -> AsyncSandbox:
        sbx = await AsyncSandbox.create(template, timeout=lifetime)
        self._live[sbx.id] = sbx
        return sbx

    async def close(self, sbx: AsyncSandbox) -> None:
        self._live.pop(sbx.id, None)
        await sbx.close()

    async def close_all(self) -> None:
        for sbx in list(self._live.values()):
            try:
                await self.close(sbx)
            except Exception:  # noqa: BLE001 - shutdown goes on whatever one sandbox does
                pass

    def __len__(self) -> int:
        return len(self._live)


class SessionSandboxes:
    """One MCP session's sandboxes: its default one (made on first use) and those it created."""

    def __init__(self, registry: SandboxRegistry, lifetime: float) -> None:
        self._registry = registry
        self._lifetime = lifetime
        self._entries: dict[str, _Entry] = {}
        self._default_id: str | None = None
        self._lock = anyio.Lock()

    async def get(self, sandbox_id: str | None) -> tuple[AsyncSandbox, str]:
        """The sandbox a tool call works on, and a note for the agent ("" if none)."""
        if sandbox_id:
            entry = self._entries.get(sandbox_id)
            if entry is None:
                known = ", ".join(self._entries) or "none"
                raise NotFound(
                    f"no sandbox {sandbox_id!r} in this session (open: {known}); "
                    "call list_sandboxes, or leave sandbox_id out to use the default sandbox"
                )
            try:
                await self._renew(entry)
            except SandboxClosed:
                self._entries.pop(sandbox_id, None)
                await self._registry.close(entry.sandbox)
                raise
            return entry.sandbox, ""
        async with self._lock:
            note = ""
            if self._default_id is not None:
                entry = self._entries.get(self._default_id)
                if entry is not None:
                    try:
                        await self._renew(entry)
                        return entry.sandbox, ""
                    except SandboxClosed:
                        self._entries.pop(self._default_id, None)
                        await self._registry.close(entry.sandbox)
                        note = (
                            f"note: the default sandbox {self._default_id} had expired; this "
                            "ran in a new one, so earlier variables and files are gone\n"
                        )
                self._default_id = None
            sbx = await self._add(None, self._lifetime)
            self._default_id = sbx.id
            return sbx, note

    async def create(self, template: str | None, lifetime: float | None) -> AsyncSandbox:
        return await self._add(template, lifetime or self._lifetime)

    async def close(self, sandbox_id: str) -> None:
        entry = self._entries.pop(sandbox_id, None)
        if entry is None:
            known = ", ".join(self._entries) or "none"
            raise NotFound(f"no sandbox {sandbox_id!r} in this session (open: {known})")
        if sandbox_id == self._default_id:
            self._default_id = None
        await self._registry.close(entry.sandbox)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "sandbox_id": sid,
                "template": e.sandbox.template,
                "tier": e.sandbox.tier,
                "default": sid == self._default_id,
                "state": "closed" if e.sandbox.closed else "live",
            }
            for sid, e in self._entries.items()
        ]

    async def close_all(self) -> None:
        entries, self._entries, self._default_id = list(self._entries.values()), {}, None
        for entry in entries:
            try:
                await self._registry.close(entry.sandbox)
            except Exception:  # noqa: BLE001 - close the others whatever one does
                pass

    async def _add(self, template: str | None, lifetime: float) -> AsyncSandbox:
        sbx = await self._registry.create(template, lifetime)
        self._entries[sbx.id] = _Entry(sbx, lifetime)
        return sbx

    async def _renew(self, entry: _Entry) -> None:
        """Keep a sandbox in use alive (raises SandboxClosed if it expired or was closed)."""
        if entry.sandbox.closed:
            raise SandboxClosed(f"sandbox {entry.sandbox.id} was closed")
        now = time.monotonic()
        if now - entry.renewed > min(60.0, entry.lifetime / 4):
            await entry.sandbox.set_timeout(entry.lifetime)
            entry.renewed = now


# -- turning sandlot's values into tool results ---------------------------------------------


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n... [{cut} characters left out] ...\n{text[-half:]}"


def _text(text: str) -> TextContent:
    return TextContent(type="text", text=text)


def _ok(text: str, *images: ImageContent) -> CallToolResult:
    content: list[ContentBlock] = [_text(text), *images]
    return CallToolResult(content=content)


def _error(e: SandboxError) -> CallToolResult:
    message = f"{type(e).__name__}: {e}"
    if isinstance(e, LimitExceeded):
        message += (
            f"\nThe {e.limit} limit stopped this call. The sandbox is still usable and keeps "
            "its state from before it; try less work per call."
        )
    return CallToolResult(content=[_text(message)], isError=True)


def _png(data: bytes) -> ImageContent:
    return ImageContent(
        type="image", data=base64.b64encode(data).decode("ascii"), mimeType="image/png"
    )


def execution_result(ex: Execution, note: str = "") -> CallToolResult:
    """run_python's result: the printed output, the error, the value, then any figures."""
    parts: list[str] = [note] if note else []
    if ex.logs.stdout:
        parts.append(f"[stdout]\n{_clip(ex.logs.stdout)}")
    if ex.logs.stderr:
        parts.append(f"[stderr]\n{_clip(ex.logs.stderr)}")
    if ex.error is not None:
        tb = ex.error.traceback.rstrip() or f"{ex.error.name}: {ex.error.value}"
        parts.append(f"[error] {ex.error.name}: {ex.error.value}\n{_clip(tb)}")
    images: list[ImageContent] = []
    for r in ex.results:
        if r.png is not None:
            images.append(_png(r.png))
        elif r.is_main_result and r.text is not None:
            parts.append(f"[result]\n{_clip(r.text)}")
        elif r.text is not None:
            parts.append(f"[display]\n{_clip(r.text)}")
    if images:
        parts.append(f"[{len(images)} figure{'s' if len(images) > 1 else ''} attached as PNG]")
    if ex.truncated:
        parts.append(f"[output truncated by the sandbox's output limit: {', '.join(ex.truncated)}]")
    if not parts or (note and len(parts) == 1):
        parts.append("(no output; the code ran without printing or producing a value)")
    return _ok("\n".join(p.rstrip("\n") for p in parts), *images)


def command_result(res: CommandResult, note: str = "") -> CallToolResult:
    parts: list[str] = [note] if note else []
    parts.append(f"exit code: {res.exit_code}")
    if res.stdout:
        parts.append(f"[stdout]\n{_clip(res.stdout)}")
    if res.stderr:
        parts.append(f"[stderr]\n{_clip(res.stderr)}")
    if res.truncated:
        parts.append(
            f"[output truncated by the sandbox's output limit: {', '.join(res.truncated)}]"
        )
    return _ok("\n".join(p.rstrip("\n") for p in parts))


def _entry_line(e: EntryInfo) -> str:
    if e.type == "dir":
        return f"dir   {'-':>10}  {e.path.rstrip('/')}/"
    if e.type == "symlink":
        return f"link  {'-':>10}  {e.path} -> {e.symlink_target}"
    return f"{e.type:<5} {e.size:>10}  {e.path}"


_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
}


# -- the server -----------------------------------------------------------------------------

SessionContext = Context[ServerSession, SessionSandboxes, Any]

SandboxId = Annotated[
    str | None,
    Field(
        description="Which sandbox to use: an id from create_sandbox. Leave out to use this "
        "session's default sandbox (created on first use)."
    ),
]
CallTimeout = Annotated[
    float | None,
    Field(
        gt=0,
        description="Seconds the call may run before it is stopped (default 60). A stopped "
        "call returns an error; the sandbox stays usable with its earlier state.",
    ),
]


async def _guarded(work: Callable[[], Awaitable[CallToolResult]]) -> CallToolResult:
    try:
        return await work()
    except SandboxError as e:
        return _error(e)


def build_server(
    *,
    host: str = "127.0.0.1",
    port: int = 7071,
    sandbox_timeout: float = DEFAULT_SANDBOX_TIMEOUT,
    log_level: str = "WARNING",
    registry: SandboxRegistry | None = None,
) -> FastMCP[SessionSandboxes]:
    """A FastMCP server with sandlot's tools; `.run("stdio")` or `.run("streamable-http")`.

    sandbox_timeout: seconds a sandbox lives unused (each tool call on it renews it).
    registry: where every sandbox is recorded; pass one to close them all after the run.
    """
    reg = registry if registry is not None else SandboxRegistry()

    @asynccontextmanager
    async def session_lifespan(_: FastMCP[SessionSandboxes]) -> AsyncIterator[SessionSandboxes]:
        sandboxes = SessionSandboxes(reg, sandbox_timeout)
        try:
            yield sandboxes
        finally:
            with anyio.CancelScope(shield=True):
                await sandboxes.close_all()

    mcp: FastMCP[SessionSandboxes] = FastMCP(
        name="sandlot",
        instructions=INSTRUCTIONS,
        host=host,
        port=port,
        log_level=log_level,  # type: ignore[arg-type]
        lifespan=session_lifespan,
    )

    def sessions(ctx: SessionContext) -> SessionSandboxes:
        return ctx.request_context.lifespan_context

    @mcp.tool(
        title="Run Python",
        annotations=ToolAnnotations(title="Run Python", openWorldHint=False),
    )
    async def run_python(
        code: Annotated[
            str,
            Field(
                description="Python source to run, like a notebook cell. Variables, imports "
                "and functions persist between calls in the same sandbox. The value of the "
                "last expression is returned; matplotlib figures shown (plt.show()) come back "
                "as PNG images."
            ),
        ],
        ctx: SessionContext,
        timeout: CallTimeout = None,
        sandbox_id: SandboxId = None,
    ) -> CallToolResult:
        """Run Python code in a sandbox with a persistent session (numpy, pandas, scipy,
        matplotlib available). Returns what it printed (stdout, stderr), an uncaught
        exception's traceback, the last expression's value, and any figures as images.
        An exception in the code is reported in the result, not as a tool error."""

        async def work() -> CallToolResult:
            sbx, note = await sessions(ctx).get(sandbox_id)
            return execution_result(await sbx.run_code(code, timeout=timeout), note)

        return await _guarded(work)

    @mcp.tool(
        title="Run shell command",
        annotations=ToolAnnotations(title="Run shell command", openWorldHint=False),
    )
    async def run_command(
        command: Annotated[
            str,
            Field(
                description="A shell command line, e.g. 'ls -la' or 'cat data.csv | head'. "
                "The shell keeps its working directory between calls."
            ),
        ],
        ctx: SessionContext,
        timeout: CallTimeout = None,
        sandbox_id: SandboxId = None,
    ) -> CallToolResult:
        """Run a shell command in a sandbox and return its stdout, stderr and exit code.
        A non-zero exit code is a normal result, not a tool error. The sandbox shares its
        filesystem with run_python."""

        async def work() -> CallToolResult:
            sbx, note = await sessions(ctx).get(sandbox_id)
            res = await sbx.commands.run(command, timeout=60.0 if timeout is None else timeout)
            return command_result(res, note)

        return await _guarded(work)

    @mcp.tool(
        title="Read file",
        annotations=ToolAnnotations(title="Read file", readOnlyHint=True, openWorldHint=False),
    )
    async def read_file(
        path: Annotated[
            str,
            Field(description="File path in the sandbox; relative paths are under /home/user."),
        ],
        ctx: SessionContext,
        sandbox_id: SandboxId = None,
    ) -> CallToolResult:
        """Read a file from a sandbox. Text comes back as text (very long files are shortened
        in the middle); PNG, JPEG and GIF files come back as images."""

        async def work() -> CallToolResult:
            sbx, note = await sessions(ctx).get(sandbox_id)
            data = await sbx.files.read(path, "bytes")
            for magic, mime in _IMAGE_MAGIC.items():
                if data.startswith(magic):
                    img = ImageContent(
                        type="image", data=base64.b64encode(data).decode("ascii"), mimeType=mime
                    )
                    return _ok(f"{note}{path}: {mime}, {len(data)} bytes", img)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return _ok(
                    f"{note}{path} is a binary file of {len(data)} bytes (not UTF-8 text); "
                    "inspect it with run_python instead."
                )
            return _ok(note + _clip(text))

        return await _guarded(work)

    @mcp.tool(
        title="Write file",
        annotations=ToolAnnotations(title="Write file", destructiveHint=True, openWorldHint=False),
    )
    async def write_file(
        path: Annotated[
            str,
            Field(description="File path in the sandbox; relative paths are under /home/user."),
        ],
        content: Annotated[str, Field(description="The whole text of the file (UTF-8).")],
        ctx: SessionContext,
        sandbox_id: SandboxId = None,
    ) -> CallToolResult:
        """Write a text file in a sandbox, replacing it if it exists and making its parent
        folders. The file is then visible to run_python and run_command."""

        async def work() -> CallToolResult:
            sbx, note = await sessions(ctx).get(sandbox_id)
            info = await sbx.files.write(path, content)
            return _ok(f"{note}wrote {info.size} bytes to {info.path}")

        return await _guarded(work)

    @mcp.tool(
        title="List files",
        annotations=ToolAnnotations(title="List files", readOnlyHint=True, openWorldHint=False),
    )
    async def list_files(
        ctx: SessionContext,
        path: Annotated[
            str,
            Field(description="Folder to list; relative paths are under /home/user."),
        ] = ".",
        depth: Annotated[
            int, Field(ge=1, le=10, description="How many levels down to list (1: just this one).")
        ] = 1,
        sandbox_id: SandboxId = None,
    ) -> CallToolResult:
        """List the entries of a folder in a sandbox: one line each with type, size in bytes
        and full path (folders end in '/')."""

        async def work() -> CallToolResult:
            sbx, note = await sessions(ctx).get(sandbox_id)
            entries = await sbx.files.list(path, depth)
            lines = [_entry_line(e) for e in sorted(entries, key=lambda e: e.path)]
            body = "\n".join(lines) if lines else f"{path} is empty"
            return _ok(note + _clip(body))

        return await _guarded(work)

    @mcp.tool(
        title="Create sandbox",
        annotations=ToolAnnotations(title="Create sandbox", openWorldHint=False),
    )
    async def create_sandbox(
        ctx: SessionContext,
        template: Annotated[
            str | None,
            Field(description="Environment to start from (default: python-data-analysis)."),
        ] = None,
        timeout: Annotated[
            float | None,
            Field(
                gt=0,
                description="Seconds the sandbox lives while unused; every tool call on it "
                "renews it (default: the server's --sandbox-timeout, 1800 s unless set).",
            ),
        ] = None,
    ) -> CallToolResult:
        """Create a new, separate sandbox and return its id. Pass the id as sandbox_id to
        the other tools to work in it; without sandbox_id they use the session's default
        sandbox. Useful to keep independent work apart or to start from a clean state."""

        async def work() -> CallToolResult:
            sbx = await sessions(ctx).create(template, timeout)
            return _ok(
                f"{sbx.id}\ncreated sandbox {sbx.id} (template {sbx.template}, tier {sbx.tier}); "
                f"pass sandbox_id={sbx.id!r} to use it"
            )

        return await _guarded(work)

    @mcp.tool(
        title="List sandboxes",
        annotations=ToolAnnotations(title="List sandboxes", readOnlyHint=True, openWorldHint=False),
    )
    async def list_sandboxes(ctx: SessionContext) -> CallToolResult:
        """List this session's sandboxes: id, template, tier, whether it is the default one,
        and whether it is live."""
        rows = sessions(ctx).describe()
        if not rows:
            return _ok("no sandboxes yet; the default one is created on first use")
        lines = [
            f"{r['sandbox_id']}  template={r['template']}  tier={r['tier']}  {r['state']}"
            + ("  (default)" if r["default"] else "")
            for r in rows
        ]
        return _ok("\n".join(lines))

    @mcp.tool(
        title="Close sandbox",
        annotations=ToolAnnotations(
            title="Close sandbox", destructiveHint=True, openWorldHint=False
        ),
    )
    async def close_sandbox(
        sandbox_id: Annotated[str, Field(description="The id of the sandbox to close.")],
        ctx: SessionContext,
    ) -> CallToolResult:
        """Close a sandbox and free what it holds; its variables and files are gone. Closing
        the default sandbox is allowed: the next call without sandbox_id starts a fresh one."""

        async def work() -> CallToolResult:
            await sessions(ctx).close(sandbox_id)
            return _ok(f"closed sandbox {sandbox_id}")

        return await _guarded(work)

    return mcp
