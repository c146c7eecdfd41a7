"""`sandlot mcp`: sandboxes as tools for MCP clients (Claude Code, Claude Desktop, ...).

from sandlot.mcp import build_server
build_server().run("stdio")
"""

from __future__ import annotations

from .server import DEFAULT_SANDBOX_TIMEOUT, SandboxRegistry, build_server

__all__ = ["DEFAULT_SANDBOX_TIMEOUT", "SandboxRegistry", "build_server"]
