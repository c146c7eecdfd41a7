"""`kill -9` a real `sandlot serve` mid-call, then start it again on the same data folder.

What must hold: the client blocked in the call gets a typed error at once (no hang); the
jails the server ran die with it (no orphans); after the restart the keys still work and
the sandboxes it had are answered `404 sandbox gone` with reason "lost: server restarted",
through the REST API and the remote SDK alike.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandlot import Sandbox
from sandlot.errors import SandboxClosed, SandboxError
from sandlot.server import KeyStore
from sandlot.server.store import LOST

from .conftest import _free_port

pytestmark = pytest.mark.slow


class Server:
    """`sandlot serve` in a child process of its own, restartable on the same port."""

    def __init__(self, data: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data = data
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sandlot.cli.main", "serve", "--port", str(self.port)]
            + ["--data", str(self.data), *self.args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.data / "serve.log", "ab"),  # noqa: SIM115 - the child holds it
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, (self.data / "serve.log").read_text()
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "sandlot serve did not start in 60 s"
            time.sleep(0.1)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    store = KeyStore(tmp_path / "server.db")
    _, key = store.create("faults")
    store.close()
    s = Server(tmp_path, env={"SANDLOT_HOME": str(tmp_path / "home")})  # paused, snapshots
    s.start()
    yield s, key
    s.stop()


def test_kill_9_mid_call_then_restart(server: tuple[Server, str]) -> None:
    srv, key = server
    headers = {"Authorization": f"Bearer {key}"}
    api = httpx.Client(base_url=srv.url, headers=headers, timeout=30)
    wasm = api.post("/v1/sandboxes", json={"metadata": {"case": "faults"}}).json()["id"]
    jailed = api.post("/v1/sandboxes", json={"tier": "process"})
    jail_pids: set[int] = set()
    if jailed.status_code == 201:
        r = api.post(f"/v1/sandboxes/{jailed.json()['id']}/commands", json={"cmd": "true"})
        assert r.status_code == 200, r.text
        assert srv.proc is not None
        jail_pids = descendants(srv.proc.pid)
        assert jail_pids, "the process tier's jail should be a child of the server"

    # A remote-SDK call that is running when the server dies.
    sbx = Sandbox.create(base_url=srv.url, api_key=key)
    outcome: list[BaseException | str] = []

    def long_call() -> None:
        try:
            sbx.run_code("import time; time.sleep(60)", timeout=90)
            outcome.append("returned")
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            outcome.append(e)

    caller = threading.Thread(target=long_call)
    caller.start()
    time.sleep(1.0)  # the call is in the sandbox by now
    killed_at = time.monotonic()
    srv.kill9()
    caller.join(15)
    assert not caller.is_alive(), "a call to a dead server hung"
    assert time.monotonic() - killed_at < 15
    assert isinstance(outcome[0], SandboxError), outcome  # RemoteError: typed, not httpx's
    assert "cannot reach" in str(outcome[0]) or "did not answer" in str(outcome[0])

    deadline = time.monotonic() + 10
    while any(alive(p) for p in jail_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in jail_pids if alive(p)], "jails outlived their server"

    srv.start()
    assert api.get("/v1/sandboxes").status_code == 200, "the key did not survive the restart"
    assert api.get("/v1/sandboxes").json()["sandboxes"] == []
    for sid in [wasm, sbx.id] + ([jailed.json()["id"]] if jail_pids else []):
        r = api.get(f"/v1/sandboxes/{sid}")
        assert r.status_code == 404, r.text
        body = r.json()["error"]
        assert body["type"] == "SandboxClosed" and body["title"] == "sandbox gone"
        assert body["reason"] == LOST, body
        assert "restarted" in body["message"]
        r = api.post(f"/v1/sandboxes/{sid}/code", json={"code": "1"})
        assert r.status_code == 404 and r.json()["error"]["reason"] == LOST
    # Another key still can't learn the lost sandbox existed.
    store = KeyStore(srv.data / "server.db")
    _, other = store.create("other")
    store.close()
    r = httpx.get(f"{srv.url}/v1/sandboxes/{wasm}", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 404 and r.json()["error"]["type"] == "NotFound"

    # The remote SDK's sandbox object raises the typed error, with the reason in its message.
    with pytest.raises(SandboxClosed, match="restarted"):
        sbx.run_code("1")
    sbx.close()  # closing a lost sandbox is fine
    # The restarted server serves new sandboxes as before.
    r = api.post("/v1/sandboxes", json={})
    assert r.status_code == 201
    assert (
        api.post(f"/v1/sandboxes/{r.json()['id']}/code", json={"code": "6*7"}).json()["results"][0][
            "text"
        ]
        == "42"
    )
    api.close()


def test_a_clean_stop_records_killed_not_lost(server: tuple[Server, str]) -> None:
    srv, key = server
    api = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    sid = api.post("/v1/sandboxes", json={}).json()["id"]
    srv.stop()
    srv.start()
    r = api.get(f"/v1/sandboxes/{sid}")
    assert r.status_code == 404 and r.json()["error"]["reason"] == "killed", r.text
    api.close()


def test_paused_sandboxes_and_snapshots_survive_kill_9(server: tuple[Server, str]) -> None:
    srv, key = server
    api = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    paused = api.post("/v1/sandboxes", json={"metadata": {"k": "v"}}).json()["id"]
    api.post(f"/v1/sandboxes/{paused}/code", json={"code": "x = 41"})
    r = api.post(f"/v1/sandboxes/{paused}/pause")
    assert r.status_code == 200 and r.json() == {"id": paused, "state": "paused"}, r.text
    r = api.get(f"/v1/sandboxes/{paused}")
    assert r.status_code == 404 and r.json()["error"]["reason"] == "paused"
    source = api.post("/v1/sandboxes", json={}).json()["id"]
    api.post(f"/v1/sandboxes/{source}/code", json={"code": "y = 7"})
    r = api.post(f"/v1/sandboxes/{source}/snapshots", json={"name": "seven"})
    assert r.status_code == 200 and r.json()["name"] == "seven", r.text

    srv.kill9()
    srv.start()

    r = api.post(f"/v1/sandboxes/{paused}/resume", json={"timeout": 120})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == paused and r.json()["metadata"] == {"k": "v"}
    r = api.post(f"/v1/sandboxes/{paused}/code", json={"code": "x + 1"})
    assert r.json()["results"][0]["text"] == "42"
    r = api.post(f"/v1/sandboxes/{paused}/resume")
    assert r.status_code == 400 and "running" in r.json()["error"]["message"]
    assert api.get(f"/v1/sandboxes/{source}").json()["error"]["reason"] == LOST
    r = api.post("/v1/sandboxes", json={"snapshot": "seven"})
    assert r.status_code == 201, r.text
    child = r.json()["id"]
    assert (
        api.post(f"/v1/sandboxes/{child}/code", json={"code": "y"}).json()["results"][0]["text"]
        == "7"
    )
    # Fork: two more from the child's state, each its own sandbox.
    r = api.post(f"/v1/sandboxes/{child}/fork", json={"n": 2})
    assert r.status_code == 200, r.text
    forks = [s["id"] for s in r.json()["sandboxes"]]
    assert len(set(forks)) == 2 and child not in forks
    api.post(f"/v1/sandboxes/{forks[0]}/code", json={"code": "y = 8"})
    got = [
        api.post(f"/v1/sandboxes/{i}/code", json={"code": "y"}).json()["results"][0]["text"]
        for i in (child, *forks)
    ]
    assert got == ["7", "8", "7"]
    # Another key sees neither the paused sandbox nor the snapshot.
    store = KeyStore(srv.data / "server.db")
    _, other = store.create("other")
    store.close()
    with httpx.Client(
        base_url=srv.url, headers={"Authorization": f"Bearer {other}"}, timeout=60
    ) as c:
        assert c.post(f"/v1/sandboxes/{paused}/resume").status_code == 404
        r = c.post("/v1/sandboxes", json={"snapshot": "seven"})
        assert r.status_code == 404 and r.json()["error"]["type"] == "NotFound"
    # The remote SDK pauses and snapshots through the same routes.
    sbx = Sandbox.create(base_url=srv.url, api_key=key)
    sbx.run_code("z = 5")
    assert sbx.create_snapshot("five").name == "five"
    sid = sbx.pause()
    r = api.post(f"/v1/sandboxes/{sid}/resume")
    assert r.status_code == 200
    assert (
        api.post(f"/v1/sandboxes/{sid}/code", json={"code": "z"}).json()["results"][0]["text"]
        == "5"
    )
    api.close()
