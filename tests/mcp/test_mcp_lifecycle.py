"""The server's sandbox bookkeeping, in process over the SDK's in-memory transport."""

from __future__ import annotations

import time

import anyio
from mcp.shared.memory import create_connected_server_and_client_session
from sandlot_mcp_client import text_of

from sandlot.mcp import SandboxRegistry, build_server


def test_session_end_closes_its_sandboxes() -> None:
    registry = SandboxRegistry()
    server = build_server(registry=registry)

    async def scenario() -> None:
        async with create_connected_server_and_client_session(server) as session:
            await session.call_tool("run_python", {"code": "1"})
            await session.call_tool("create_sandbox", {})
            assert len(registry) == 2
        assert len(registry) == 0

    anyio.run(scenario)


def test_expired_default_sandbox_is_replaced_with_a_note() -> None:
    registry = SandboxRegistry()
    server = build_server(registry=registry, sandbox_timeout=0.5)

    async def scenario() -> None:
        async with create_connected_server_and_client_session(server) as session:
            await session.call_tool("run_python", {"code": "gone = 1"})
            time.sleep(0.8)
            r = await session.call_tool("run_python", {"code": "gone"})
            assert not r.isError
            assert "expired" in text_of(r) and "NameError" in text_of(r)
            assert len(registry) == 1

    anyio.run(scenario)
