"""A real `sandlot serve` app on uvicorn, on a free loopback port, for the whole session."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from sandlot.server import KeyStore, ServerConfig, create_app
from sandlot.server.config import MAX_REQUEST_HEAD


@dataclass
class Live:
    url: str
    key: str
    key_b: str
    data_dir: Path
    config: ServerConfig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="package", autouse=True)
def own_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The servers here pause sandboxes, save snapshots and list images under a home of
    their own, never the user's $SANDLOT_HOME (restored when the package is done)."""
    home = tmp_path_factory.mktemp("sandlot-home")
    old = os.environ.get("SANDLOT_HOME")
    os.environ["SANDLOT_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("SANDLOT_HOME", None)
    else:
        os.environ["SANDLOT_HOME"] = old


@contextlib.contextmanager
def serving(cfg: ServerConfig, store: KeyStore) -> Iterator[tuple[str, FastAPI]]:
    """`create_app(cfg)` on uvicorn in a thread, on a free loopback port: (url, app)."""
    port = _free_port()
    app = create_app(cfg, keys=store)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("sandlot-data")
    store = KeyStore(data / "server.db")
    _, key = store.create("a")
    _, key_b = store.create("b")
    cfg = ServerConfig(
        data_dir=data, reap_interval=0.2, max_upload_bytes=1 << 20, max_sandboxes_per_key=8
    )
    with serving(cfg, store) as (url, _app):
        yield Live(url, key, key_b, data, cfg)
    store.close()


@pytest.fixture(scope="session")
def api(live: Live) -> Iterator[httpx.Client]:
    """An HTTP client holding key A."""
    headers = {"Authorization": f"Bearer {live.key}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def api_b(live: Live) -> Iterator[httpx.Client]:
    """An HTTP client holding key B."""
    headers = {"Authorization": f"Bearer {live.key_b}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def box(api: httpx.Client) -> Iterator[str]:
    """One sandbox of key A's, shared by the tests that leave it usable."""
    r = api.post("/v1/sandboxes", json={"metadata": {"suite": "server"}})
    assert r.status_code == 201, r.text
    sid = str(r.json()["id"])
    yield sid
    api.delete(f"/v1/sandboxes/{sid}")


@pytest.fixture(scope="session")
def live_url(live: Live) -> str:
    return live.url
