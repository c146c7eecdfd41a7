"""`sandlot mcp`: sandboxes as tools for MCP clients (Claude Code, Claude Desktop, ...).

from sandlot.mcp import McpConfig, build_server
build_server(config=McpConfig.from_file("mcp.toml")).run("stdio")
"""

from __future__ import annotations

from .policy import McpConfig, NotAllowed
from .server import DEFAULT_SANDBOX_TIMEOUT, build_server
from .sessions import SandboxRegistry

__all__ = ["DEFAULT_SANDBOX_TIMEOUT", "McpConfig", "NotAllowed", "SandboxRegistry", "build_server"]
