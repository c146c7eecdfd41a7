"""`sandlot mcp`: serve sandboxes as MCP tools, over stdio or streamable HTTP."""

from __future__ import annotations

import ipaddress
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

err = Console(stderr=True)

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mcp_cmd(
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP instead of stdio.")
    ] = False,
    host: Annotated[str, typer.Option(help="Address to bind with --http.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind with --http.")] = 7071,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow --host to be a non-loopback address (the MCP endpoint has no auth).",
        ),
    ] = False,
    sandbox_timeout: Annotated[
        float,
        typer.Option(help="Seconds a sandbox lives unused; each tool call on it renews it."),
    ] = 1800.0,
    max_sandboxes_per_session: Annotated[
        int,
        typer.Option(help="Live sandboxes one MCP session may hold, its default one included."),
    ] = 8,
    log_level: Annotated[
        str, typer.Option(help="Server log level (to stderr): DEBUG, INFO, WARNING, ERROR.")
    ] = "WARNING",
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A TOML file of what agents may use: tiers, templates (template 'host' only "
            "if listed), max_sandboxes_per_session, agent_picks_tier, ... (docs/mcp.md); "
            "flags given here win.",
        ),
    ] = None,
) -> None:
    """Serve sandlot sandboxes as MCP tools (stdio by default; --http for streamable HTTP).

    Add to Claude Code with: claude mcp add sandlot -- sandlot mcp
    """
    import anyio

    from ..mcp import McpConfig, SandboxRegistry, build_server

    level = log_level.upper()
    if level not in _LOG_LEVELS:
        err.print(f"[red]error:[/] --log-level must be one of {', '.join(_LOG_LEVELS)}")
        raise typer.Exit(2)
    flags: dict[str, Any] = {
        "sandbox_timeout": sandbox_timeout,
        "max_sandboxes_per_session": max_sandboxes_per_session,
    }
    try:
        if config is None:
            cfg = McpConfig(**flags)
        else:
            # A flag left at its default does not override the file.
            defaults = McpConfig()
            given = {k: v for k, v in flags.items() if v != getattr(defaults, k)}
            cfg = McpConfig.from_file(config, **given)
    except ValueError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    if http and not _is_loopback(host) and not allow_remote:
        err.print(
            f"[red]error:[/] refusing to bind {host}: the MCP endpoint has no authentication "
            "and lets anyone who reaches it run code; use a loopback address, or pass "
            "--allow-remote behind your own auth/firewall"
        )
        raise typer.Exit(2)

    registry = SandboxRegistry()
    server = build_server(host=host, port=port, log_level=level, registry=registry, config=cfg)
    # SIGTERM (how clients stop a stdio server) unwinds like Ctrl-C, so sandboxes get closed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if http:
            err.print(f"sandlot MCP server on http://{host}:{port}/mcp (streamable HTTP)")
            server.run("streamable-http")
        else:
            server.run("stdio")
    except KeyboardInterrupt:
        pass
    finally:
        if len(registry):
            anyio.run(registry.close_all)


def register(app: typer.Typer) -> None:
    """Add the `mcp` command to the `sandlot` CLI."""
    app.command("mcp")(mcp_cmd)
