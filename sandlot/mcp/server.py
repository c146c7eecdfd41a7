"""The MCP server: sandlot sandboxes as tools an agent can call.

Built on the official `mcp` SDK (FastMCP). Each MCP session (the one stdio connection, or
each streamable-HTTP session) gets its own default sandbox, created on first use, plus any it
makes with `create_sandbox`; they are closed when the session ends and when the server stops.
What an agent may start (tiers, templates, how many) is the operator's `McpConfig`
(`policy.py`); `sessions.py` keeps the sandboxes, `results.py` formats what tools return.

Failures sandlot raises on purpose (`SandboxError`: a timeout, a limit, a missing file or
sandbox, a closed sandbox, a bad argument, `NotAllowed` by the operator) come back as tool
errors (`isError`) carrying the message, never as a crash of the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Annotated, Any

import anyio
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.session import ServerSession
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from ..errors import SandboxError
from .policy import HOST_TEMPLATE, McpConfig, describe_tiers
from .results import (
    clip,
    command_result,
    entry_line,
    error_result,
    execution_result,
    file_result,
    ok,
)
from .sessions import SandboxRegistry, SessionSandboxes

DEFAULT_SANDBOX_TIMEOUT = McpConfig.sandbox_timeout
"""Seconds an MCP sandbox lives without being used; every tool call on it renews it."""

_INSTRUCTIONS = """\
sandlot runs code in isolated sandboxes. Each sandbox has a persistent Python session \
(numpy, pandas, scipy and matplotlib available; variables and imports persist between \
run_python calls), a filesystem (relative paths are under /home/user) and a shell for \
run_command. Every tool works on your session's default sandbox, created on first use, \
unless you pass the sandbox_id of one made with create_sandbox (at most {cap} sandboxes \
per session). {reach}"""


def instructions(config: McpConfig) -> str:
    """The server's instructions to the agent, true to what the operator allowed."""
    if config.template_allowed(HOST_TEMPLATE):
        reach = (
            "Sandboxes see only their own files, except that this server's operator allows "
            "template 'host', which runs on the host's own userland (read-only)."
        )
    else:
        reach = "Code in a sandbox sees only the sandbox's own files, not the host's."
    return _INSTRUCTIONS.format(cap=config.max_sandboxes_per_session, reach=reach)


def create_sandbox_description(config: McpConfig) -> str:
    """create_sandbox's description: the templates, the tiers and what each can do, the cap."""
    if config.agent_picks_tier:
        picking = "Pass tier to pick one of these; without it the server picks"
    else:
        picking = "The server picks the tier (this server does not let agents pick it)"
    on_wasm = " (wasm first where it serves the template)" if config.agent_templates_on_wasm else ""
    return (
        "Create a new, separate sandbox and return its id. Pass the id as sandbox_id to the "
        "other tools to work in it; without sandbox_id they use the session's default "
        "sandbox. Useful to keep independent work apart or to start from a clean state.\n\n"
        f"Templates allowed here: {config.allowed_templates()} (default: "
        f"{config.default_template}). Tiers allowed here, strongest isolation first:\n"
        f"{describe_tiers(config)}\n"
        f"{picking}: a template you name runs on the strongest of these that serves it"
        f"{on_wasm}; the default template on the lightest. A session holds at most "
        f"{config.max_sandboxes_per_session} sandboxes at once, the default one included; "
        "close_sandbox frees one."
    )


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
        return error_result(e)


def build_server(
    *,
    host: str = "127.0.0.1",
    port: int = 7071,
    sandbox_timeout: float | None = None,
    log_level: str = "WARNING",
    registry: SandboxRegistry | None = None,
    config: McpConfig | None = None,
) -> FastMCP[SessionSandboxes]:
    """A FastMCP server with sandlot's tools; `.run("stdio")` or `.run("streamable-http")`.

    config: what the operator allows (tiers, templates, the per-session cap); the safe
        defaults of `McpConfig()` when None.
    sandbox_timeout: seconds a sandbox lives unused (each tool call on it renews it);
        given, it wins over config's.
    registry: where every sandbox is recorded; pass one to close them all after the run.
    """
    cfg = config if config is not None else McpConfig()
    if sandbox_timeout is not None:
        cfg = replace(cfg, sandbox_timeout=sandbox_timeout)
    reg = registry if registry is not None else SandboxRegistry()

    @asynccontextmanager
    async def session_lifespan(_: FastMCP[SessionSandboxes]) -> AsyncIterator[SessionSandboxes]:
        sandboxes = SessionSandboxes(reg, cfg)
        try:
            yield sandboxes
        finally:
            with anyio.CancelScope(shield=True):
                await sandboxes.close_all()

    mcp: FastMCP[SessionSandboxes] = FastMCP(
        name="sandlot",
        instructions=instructions(cfg),
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
            return file_result(path, await sbx.files.read(path, "bytes"), note)

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
            return ok(f"{note}wrote {info.size} bytes to {info.path}")

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
            lines = [entry_line(e) for e in sorted(entries, key=lambda e: e.path)]
            body = "\n".join(lines) if lines else f"{path} is empty"
            return ok(note + clip(body))

        return await _guarded(work)

    @mcp.tool(
        title="Create sandbox",
        description=create_sandbox_description(cfg),
        annotations=ToolAnnotations(title="Create sandbox", openWorldHint=False),
    )
    async def create_sandbox(
        ctx: SessionContext,
        template: Annotated[
            str | None,
            Field(
                description="Environment to start from (default: the server's default "
                "template; the tool's description lists the templates allowed here)."
            ),
        ] = None,
        timeout: Annotated[
            float | None,
            Field(
                gt=0,
                description="Seconds the sandbox lives while unused; every tool call on it "
                "renews it (default: the server's --sandbox-timeout, 1800 s unless set).",
            ),
        ] = None,
        tier: Annotated[
            str | None,
            Field(
                description="The isolation tier, only where this server lets agents pick it "
                "(the tool's description says, and lists the tiers allowed here). Leave out "
                "to let the server pick."
            ),
        ] = None,
        allow_out: Annotated[
            list[str] | None,
            Field(
                max_length=64,
                description="Hosts the sandbox may reach (e.g. 'example.org', "
                "'*.example.com', '203.0.113.0/24', each optionally ':PORT'), only where this "
                "server's operator allows network; everything else is refused. Leave out for "
                "no network at all.",
            ),
        ] = None,
    ) -> CallToolResult:
        async def work() -> CallToolResult:
            sbx = await sessions(ctx).create(template, tier, timeout, allow_out)
            return ok(
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
        and whether it is live; and how many more the session may create."""
        mine = sessions(ctx)
        rows = mine.describe()
        if not rows:
            return ok(
                "no sandboxes yet; the default one is created on first use "
                f"(at most {mine.cap} per session)"
            )
        lines = [
            f"{r['sandbox_id']}  template={r['template']}  tier={r['tier']}  {r['state']}"
            + ("  (default)" if r["default"] else "")
            for r in rows
        ]
        lines.append(f"{len(rows)} of the {mine.cap} sandboxes this session may hold")
        return ok("\n".join(lines))

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
            return ok(f"closed sandbox {sandbox_id}")

        return await _guarded(work)

    return mcp
