"""Fixtures: a `sandlot mcp --http` server, and one MCP session per transport per module."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from sandlot_mcp_client import (
    SERVER,
    Client,
    free_port,
    http_transport,
    open_client,
    server_env,
    stdio_transport,
)


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """A `sandlot mcp --http` server on a free loopback port; its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen(
        [*SERVER, "--http", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"sandlot mcp --http exited with {proc.returncode}: {err}")
            try:
                httpx.get(url, timeout=1.0)  # any HTTP answer (406, 400...) means it is up
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("sandlot mcp --http did not answer in 30 s") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module", params=["stdio", "http"])
def client(request: pytest.FixtureRequest) -> Iterator[Client]:
    """One MCP session per transport, shared by a module's tests."""
    if request.param == "stdio":
        yield from open_client(stdio_transport())
    else:
        url = request.getfixturevalue("http_url")
        yield from open_client(http_transport(url))
