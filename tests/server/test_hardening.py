"""Hostile clients against a real `sandlot serve` process on loopback (issue 13, items 5-7):
limits above the server's ceilings, oversized bodies and labels, a key that stores too
much, trickled request heads and a client that opens too many connections.

The server runs as its own process, started by the CLI with a config file, so these tests
prove the settings `sandlot serve` applies and can read the server's memory from /proc.
"""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from sandlot.cli.main import app as cli
from sandlot.server import KeyStore, ServerConfig
from sandlot.server.ceilings import Ceilings

from .conftest import serving

HEAD_TIMEOUT = 3.0
PER_CLIENT = 60
CONFIG = f"""
head_timeout = {HEAD_TIMEOUT}
keep_alive_timeout = 2.0
max_connections_per_client = {PER_CLIENT}
max_sandboxes_per_key = 4

[limits]
memory_bytes = 2147483648
output_bytes = 4194304
wall_time = 120
body_bytes = 1048576
metadata_bytes = 1024
envs_bytes = 4096
stored_bytes_per_key = 3000
"""


@dataclass
class Server:
    url: str
    port: int
    pid: int
    keys: list[str]

    def client(self, key: int = 0, local: str | None = None) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=local) if local else None
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.keys[key]}"},
            timeout=60,
            transport=transport,
        )

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("hardened")
    store = KeyStore(data / "server.db")
    keys = [store.create(name)[1] for name in ("a", "b")]
    store.close()
    (data / "hard.toml").write_text(CONFIG)
    port = _free_port()
    sandlot = Path(sys.executable).parent / "sandlot"
    args = ["serve", "--port", str(port), "--data", str(data), "--config", str(data / "hard.toml")]
    with (data / "serve.log").open("wb") as log:
        proc = subprocess.Popen([str(sandlot), *args], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (data / "serve.log").read_text()
        assert time.monotonic() < deadline, "sandlot serve did not start"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                break
        time.sleep(0.2)
    try:
        yield Server(url, port, proc.pid, keys)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _refused(r: httpx.Response, ceiling: str, status: int = 422) -> str:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["type"] == "LimitExceeded" and error["limit"] == ceiling, error
    assert f"[limits] {ceiling} = " in error["message"], error
    return str(error["message"])


# -- item 5: ceilings on what a request may ask for ---------------------------------------


def test_limits_above_a_ceiling_are_refused_naming_it(server: Server) -> None:
    with server.client() as api:
        for field, value in (
            ("memory_bytes", 1 << 40),
            ("output_bytes", 1 << 30),
            ("wall_time", 86400),
        ):
            r = api.post("/v1/sandboxes", json={"limits": {field: value}})
            _refused(r, field)
        r = api.post("/v1/sandboxes", json={"limits": {"memory_bytes": 1 << 30}})
        assert r.status_code == 201, r.text  # at or under the ceilings: served as before
        sid = r.json()["id"]
        try:
            big_output = {"code": "print(1)", "limits": {"output_bytes": 1 << 30}}
            _refused(api.post(f"/v1/sandboxes/{sid}/code", json=big_output), "output_bytes")
            long_call = {"cmd": "true", "timeout": 3600}
            message = _refused(
                api.post(f"/v1/sandboxes/{sid}/commands", json=long_call), "wall_time"
            )
            assert "timeout=3600" in message
            ok = api.post(f"/v1/sandboxes/{sid}/code", json={"code": "print(6 * 7)"})
            assert ok.status_code == 200 and "42" in ok.text, ok.text
        finally:
            api.delete(f"/v1/sandboxes/{sid}")


def test_what_a_client_leaves_out_is_held_under_the_ceilings(tmp_path: Path) -> None:
    """A default the client did not ask for (memory, and the disk cap derived from it)
    is lowered to the server's ceiling rather than passing it."""
    store = KeyStore(tmp_path / "server.db")
    _, key = store.create("c")
    ceilings = Ceilings(memory_bytes=512 << 20, disk_bytes=64 << 20)
    try:
        with serving(ServerConfig(data_dir=tmp_path, limits=ceilings), store) as (url, _app):
            auth = {"Authorization": f"Bearer {key}"}
            r = httpx.post(f"{url}/v1/sandboxes", json={}, headers=auth, timeout=60)
            assert r.status_code == 201, r.text
            limits = r.json()["limits"]
            assert limits["memory_bytes"] == 512 << 20 and limits["disk_bytes"] == 64 << 20
            httpx.delete(f"{url}/v1/sandboxes/{r.json()['id']}", headers=auth, timeout=60)
    finally:
        store.close()


def test_the_config_file_sets_the_ceilings(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("head_timeout = 3.5\n[limits]\nmemory_bytes = 536870912\nwall_time = 90\n")
    cfg = ServerConfig.from_file(good, data_dir=tmp_path)
    assert cfg.limits.memory_bytes == 512 << 20 and cfg.limits.wall_time == 90
    assert cfg.limits.output_bytes == Ceilings().output_bytes and cfg.head_timeout == 3.5
    for table, problem in (
        ("[limits]\nmemory = 1\n", "unknown setting(s) memory"),
        ("[limits]\nbody_bytes = -1\n", "body_bytes must be a positive number"),
        ('[limits]\nwall_time = "long"\n', "wall_time must be a positive number"),
        ("head_timeout = 0\n", "head_timeout must be a positive number"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(table)
        with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
            ServerConfig.from_file(bad, data_dir=tmp_path)
        ran = CliRunner().invoke(cli, ["serve", "--data", str(tmp_path), "--config", str(bad)])
        assert ran.exit_code == 2 and problem in ran.output, ran.output


# -- item 6: bodies, labels and what a key keeps ------------------------------------------

_BIG = 50 << 20


def _read_answer(sock: socket.socket, deadline: float) -> bytes:
    got = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    return got


def _post_raw(server: Server, head: bytes, chunks: Iterator[bytes]) -> bytes:
    """Send `head` then `chunks` until the server answers or closes; what it answered."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # answered (or closed) before the body was all sent
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        return _read_answer(sock, time.monotonic() + 10)


def _pieces(total: int, size: int = 64 << 10) -> Iterator[bytes]:
    piece = b" " * size
    for _ in range(total // size):
        yield piece


def test_a_50_mib_body_is_refused_before_it_is_read(server: Server) -> None:
    auth = f"Authorization: Bearer {server.keys[0]}\r\n"
    with server.client() as api:
        assert api.get("/v1/sandboxes").status_code == 200  # the server is warm
    before = server.rss_kib()
    declared = (
        f"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {_BIG}\r\n\r\n"
    ).encode()
    answer = _post_raw(server, declared, _pieces(_BIG))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"[limits] body_bytes = 1048576" in answer
    chunked = (
        f"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    framed = (b"%x\r\n%s\r\n" % (len(p), p) for p in _pieces(_BIG))
    answer = _post_raw(server, chunked, framed)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer[:200]
    grown = server.rss_kib() - before
    assert grown < 8 << 10, f"the server grew by {grown} KiB"
    with server.client() as api:
        assert api.get("/v1/sandboxes").status_code == 200


def test_labels_over_their_caps_are_refused(server: Server) -> None:
    with server.client() as api:
        r = api.post("/v1/sandboxes", json={"metadata": {"note": "x" * 2000}})
        _refused(r, "metadata_bytes")
        r = api.post("/v1/sandboxes", json={"envs": {"BIG": "x" * 5000}})
        _refused(r, "envs_bytes")


def test_what_one_key_stores_is_capped(server: Server) -> None:
    """Each create keeps its labels in server.db for a week, closed or not: the key's
    fourth 900-byte label passes its 3000-byte ceiling."""
    label = {"metadata": {"note": "y" * 900}}
    with server.client(key=1) as api:
        for _ in range(3):
            r = api.post("/v1/sandboxes", json=label)
            assert r.status_code == 201, r.text
            assert api.delete(f"/v1/sandboxes/{r.json()['id']}").status_code == 204
        _refused(api.post("/v1/sandboxes", json=label), "stored_bytes_per_key")
    with server.client(key=0) as other:  # another key's store is its own
        r = other.post("/v1/sandboxes", json=label)
        assert r.status_code == 201, r.text
        other.delete(f"/v1/sandboxes/{r.json()['id']}")


def test_a_snapshot_past_the_key_s_store_is_removed_and_refused(server: Server) -> None:
    """A saved state's size is known only once it is saved: one that takes the key past
    its ceiling is removed again, and the key's list does not show it."""
    with server.client(key=0) as api:
        r = api.post("/v1/sandboxes", json={})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        try:
            assert api.post(f"/v1/sandboxes/{sid}/code", json={"code": "x = 41"}).status_code == 200
            r = api.post(f"/v1/sandboxes/{sid}/snapshots", json={"name": "too-big"})
            if r.status_code == 409:
                pytest.skip(f"this tier cannot save a snapshot: {r.text}")
            _refused(r, "stored_bytes_per_key")
            names = [s["name"] for s in api.get("/v1/snapshots").json()["snapshots"]]
            assert "too-big" not in names
        finally:
            api.delete(f"/v1/sandboxes/{sid}")


# -- item 7: slow heads and crowding clients ----------------------------------------------


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed `sock` (EOF, a reset, or its 408 then EOF)."""
    sock.setblocking(False)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
            if not chunk.startswith(b"HTTP/1.1 408"):
                return False
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_trickled_heads_are_dropped_in_time(server: Server) -> None:
    """50 heads sent a byte at a time, and 5 connections that never speak: all closed
    within the head timeout, while a normal request is served."""
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(50)]
    silent = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(5)]
    try:
        for s in socks:
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        served = False
        while time.monotonic() - started < HEAD_TIMEOUT + 3:
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(b"a")  # one byte at a time, never the end of the head
            if not served:
                served = httpx.get(f"{server.url}/v1/health", timeout=5).status_code == 200
            time.sleep(0.5)
        assert served, "a normal request was not served while heads trickled"
        still_held = sum(not _closed_by_server(s) for s in socks)
        assert still_held == 0, f"{still_held} of 50 trickling heads still held"
        assert all(_closed_by_server(s) for s in silent), "a silent connection is still held"
    finally:
        for s in socks + silent:
            s.close()


def test_a_crowding_client_is_refused_while_another_is_served(server: Server) -> None:
    address = ("127.0.0.1", server.port)

    def connect(local: str) -> socket.socket:
        s = socket.socket()
        s.settimeout(5)
        s.bind((local, 0))
        s.connect(address)
        return s

    held = [connect("127.0.0.3") for _ in range(PER_CLIENT)]
    try:
        time.sleep(0.3)  # the server has accepted them all
        extra = connect("127.0.0.3")
        with extra:
            answer = _read_answer(extra, time.monotonic() + 1)
        assert answer.startswith(b"HTTP/1.1 429"), answer[:200]
        assert b"max_connections_per_client" in answer
        with server.client(local="127.0.0.4") as other:
            assert other.get("/v1/sandboxes").status_code == 200
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)  # their closing is seen: the client's count is down again
    with server.client(local="127.0.0.3") as again:
        assert again.get("/v1/sandboxes").status_code == 200
