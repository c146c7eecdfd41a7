"""Helpers: the real `sandlot mcp` server in a subprocess, driven by the `mcp` SDK's client.

Each client lives on a background event loop (an anyio blocking portal), so the tests are
plain synchronous functions and one server and one MCP session serve a whole module.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ImageContent, TextContent, Tool

SERVER = [sys.executable, "-m", "sandlot.cli.main", "mcp"]
CALL_TIMEOUT = timedelta(seconds=60)


def server_env() -> dict[str, str]:
    """This environment, always local sandboxes (no $SANDLOT_URL)."""
    return {k: v for k, v in os.environ.items() if k not in ("SANDLOT_URL", "SANDLOT_API_KEY")}


class Client:
    """A synchronous face over one MCP client session."""

    def __init__(self, portal: BlockingPortal, session: ClientSession) -> None:
        self._portal = portal
        self._session = session

    def list_tools(self) -> list[Tool]:
        return self._portal.call(self._session.list_tools).tools

    def call(self, name: str, **arguments: Any) -> CallToolResult:
        async def go() -> CallToolResult:
            return await self._session.call_tool(name, arguments, read_timeout_seconds=CALL_TIMEOUT)

        return self._portal.call(go)


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def images_of(result: CallToolResult) -> list[ImageContent]:
    return [c for c in result.content if isinstance(c, ImageContent)]


@asynccontextmanager
async def _session(transport: AbstractAsyncContextManager[Any]) -> AsyncIterator[ClientSession]:
    async with transport as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            yield session


def open_client(transport: AbstractAsyncContextManager[Any]) -> Iterator[Client]:
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(_session(transport)) as session:
            yield Client(portal, session)


def stdio_transport(*args: str) -> AbstractAsyncContextManager[Any]:
    """`sandlot mcp` over stdio; `args` are more of its flags (`--config FILE`)."""
    params = StdioServerParameters(command=SERVER[0], args=[*SERVER[1:], *args], env=server_env())
    return stdio_client(params)


def http_transport(url: str) -> AbstractAsyncContextManager[Any]:
    return streamable_http_client(url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
