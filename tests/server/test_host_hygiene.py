"""What a tenant, or a crash, can leave or learn on the server's host (issue 13, items 9-11).

- `kill -9` of a real `sandlot serve` with live wasm and process sandboxes: the restarted
  server removes their folders (the tenant's files) before it serves anything, and
  answers for the sandboxes with the lost reason; paused ones stay resumable.
- `server.db` (key hashes, every key's labels) is 0600 and its folder 0700, tightened at
  start when an older server made them looser.
- `/metrics` counts the caller's own sandboxes; every key's only with the operator's token.
- A lone surrogate in envs or metadata is a typed refusal, never an HTTP 500.
"""

from __future__ import annotations

import glob
import os
import stat
import tempfile
from pathlib import Path

import httpx
import pytest

from sandlot.server import KeyStore, ServerConfig
from sandlot.server.store import LOST

from .conftest import Live, serving
from .test_faults import Server

SURROGATE = "\\ud800"  # as JSON carries it: json.loads makes it a lone surrogate


def _raw(template: str, *values: str) -> str:
    """A JSON body with `@` replaced by SURROGATE and each `{}` by a value."""
    return template.replace("@", SURROGATE).format(*values)


def _folders_of(pid: int) -> dict[str, list[str]]:
    """The sandbox folders under the temp dir whose owner stamp names process `pid`."""
    found: dict[str, list[str]] = {"wasm": [], "process": []}
    for tier in found:
        for state in glob.glob(os.path.join(tempfile.gettempdir(), f"sandlot-{tier}-*")):
            try:
                with open(os.path.join(state, "owner")) as f:
                    if f.read().split()[0] == str(pid):
                        found[tier].append(state)
            except (OSError, IndexError):
                continue
    return found


@pytest.mark.slow
def test_kill_9_then_restart_sweeps_every_tiers_folders(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "server.db")
    _, key = store.create("sweep")
    store.close()
    srv = Server(tmp_path, env={"SANDLOT_HOME": str(tmp_path / "home")})
    srv.start()
    api = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    try:
        live: dict[str, str] = {}
        for tier in ("wasm", "process"):
            r = api.post("/v1/sandboxes", json={"tier": tier})
            if r.status_code != 201:
                assert tier != "wasm", r.text
                continue  # no bwrap here: the wasm half still holds
            sid = live[tier] = r.json()["id"]
            put = api.put(
                f"/v1/sandboxes/{sid}/files", params={"path": "secret.txt"}, content=b"tenant"
            )
            assert put.status_code == 200, put.text
        paused = api.post("/v1/sandboxes", json={}).json()["id"]
        api.post(f"/v1/sandboxes/{paused}/code", json={"code": "kept = 42"})
        assert api.post(f"/v1/sandboxes/{paused}/pause").status_code == 200
        assert srv.proc is not None
        folders = _folders_of(srv.proc.pid)
        for tier in live:  # the process tier may keep a spare jail besides
            files = [
                f
                for folder in folders[tier]
                for f in glob.glob(f"{folder}/root/**/secret.txt", recursive=True)
            ]
            assert len(files) == 1, f"the {tier} sandbox's file should be in its host folder"

        srv.kill9()
        left = [f for tier in live for f in folders[tier]]
        assert all(os.path.isdir(f) for f in left), "the folders outlive a kill -9"

        srv.start()  # answers /v1/health only once its start (and sweep) is done
        still = [f for f in left if os.path.lexists(f)]
        assert not still, f"the restart left the dead server's sandbox folders: {still}"
        for tier, sid in live.items():
            r = api.get(f"/v1/sandboxes/{sid}")
            assert r.status_code == 404, (tier, r.text)
            error = r.json()["error"]
            assert (
                error["reason"]
                == LOST
                == ("lost: the server restarted and the sandbox could not be kept")
            )
            assert error["type"] == "SandboxClosed" and "restarted" in error["message"]
        # The paused sandbox was saved, not swept: it resumes with its state.
        r = api.post(f"/v1/sandboxes/{paused}/resume", json={"timeout": 60})
        assert r.status_code == 200, r.text
        r = api.post(f"/v1/sandboxes/{paused}/code", json={"code": "kept"})
        assert r.json()["results"][0]["text"] == "42"
    finally:
        api.close()
        srv.stop()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_server_db_is_private_and_tightened_at_start(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    store = KeyStore(data / "server.db")
    _, key = store.create("modes")
    with serving(ServerConfig(data_dir=data), store):
        made = [data / "server.db", data / "server.db-wal", data / "server.db-shm"]
        assert {p.name: _mode(p) for p in made if p.exists()} == {
            p.name: 0o600 for p in made if p.exists()
        }
        assert (data / "server.db").exists() and _mode(data) == 0o700
    store.close()
    # Files an older server left world-readable are tightened when a store opens them.
    for p in [data, *data.iterdir()]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    store = KeyStore(data / "server.db")
    assert store.verify(key) is not None
    assert _mode(data) == 0o700
    assert all(_mode(p) == 0o600 for p in data.iterdir() if p.name.startswith("server.db"))
    store.close()


def _count(text: str, tier: str = "wasm", state: str = "running") -> float:
    needle = f'sandlot_sandboxes{{state="{state}",tier="{tier}"}} '
    lines = [ln for ln in text.splitlines() if ln.startswith(needle)]
    return float(lines[0].split()[-1]) if lines else 0.0


def test_metrics_count_the_callers_own_sandboxes(
    live: Live, api: httpx.Client, api_b: httpx.Client
) -> None:
    mine = api.get("/metrics").text
    ids = []
    for _ in range(2):
        r = api_b.post("/v1/sandboxes", json={"metadata": {"case": "metrics"}})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    try:
        theirs = api_b.get("/metrics").text
        assert _count(theirs) >= 2
        # Key A sees no more sandboxes than before: B's two are not its business.
        assert _count(api.get("/metrics").text) == _count(mine)
        assert "sandlot_create_seconds_count" in api.get("/metrics").text
    finally:
        for sid in ids:
            api_b.delete(f"/v1/sandboxes/{sid}")


def test_the_operator_token_sees_every_keys_counts(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "server.db")
    _, key_a = store.create("a")
    _, key_b = store.create("b")
    token = "operator-" + os.urandom(8).hex()
    with serving(ServerConfig(data_dir=tmp_path, metrics_token=token), store) as (url, _app):

        def get(bearer: str) -> httpx.Response:
            return httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {bearer}"})

        b = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key_b}"}, timeout=60)
        sid = b.post("/v1/sandboxes", json={}).json()["id"]
        assert _count(get(token).text) == 1
        assert _count(get(key_a).text) == 0 and _count(get(key_b).text) == 1
        r = get(token[:-1] + "x")  # not the token, and not a key
        assert r.status_code == 401 and r.json()["error"]["type"] == "Unauthorized"
        b.delete(f"/v1/sandboxes/{sid}")
        b.close()
    store.close()
    for bad in (12345, "short"):  # a guessable or mistyped token fails at start
        with pytest.raises(ValueError, match="metrics_token"):
            ServerConfig(data_dir=tmp_path, metrics_token=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("tier", ["wasm", "process"])
def test_a_lone_surrogate_is_refused_not_a_500(api: httpx.Client, tier: str) -> None:
    def post(path: str, raw: str) -> httpx.Response:
        return api.post(path, content=raw, headers={"content-type": "application/json"})

    for field in ('"envs": {{"A": "x@"}}', '"envs": {{"A@": "x"}}', '"metadata": {{"k": "@"}}'):
        r = post("/v1/sandboxes", _raw('{{"tier": "{}", ' + field + "}}", tier))
        if r.status_code == 409 and tier != "wasm":
            pytest.skip(f"no {tier} tier here: {r.text}")
        assert r.status_code == 422, (field, r.status_code, r.text)
        error = r.json()["error"]
        assert error["type"] == "InvalidArgument" and "surrogate" in error["message"], error
        assert error["fields"][0]["field"].startswith(("body.envs", "body.metadata")), error
    r = api.post("/v1/sandboxes", json={"tier": tier})
    if r.status_code == 409:
        pytest.skip(f"no {tier} tier here: {r.text}")
    sid = r.json()["id"]
    try:
        for body in (
            '{{"cmd": "true", "envs": {{"B": "@"}}}}',
            '{{"cmd": "echo @"}}',
            '{{"cmd": "cat", "stdin": "@"}}',
            '{{"cmd": "pwd", "cwd": "/tmp/@"}}',
        ):
            r = post(f"/v1/sandboxes/{sid}/commands", _raw(body))
            assert r.status_code == 422, (body, r.status_code, r.text)
            assert r.json()["error"]["type"] == "InvalidArgument"
        r = post(f"/v1/sandboxes/{sid}/code", _raw('{{"code": "print(\\"@\\")"}}'))
        assert r.status_code == 422 and r.json()["error"]["type"] == "InvalidArgument"
        # The sandbox is unharmed.
        r = api.post(f"/v1/sandboxes/{sid}/code", json={"code": "6 * 7"})
        assert r.json()["results"][0]["text"] == "42"
    finally:
        api.delete(f"/v1/sandboxes/{sid}")


def test_the_core_refuses_a_lone_surrogate_too() -> None:
    """The library's one check of envs and labels, for SDK users (and the server's pools)."""
    from sandlot import Sandbox
    from sandlot.errors import InvalidArgument

    for kw in ({"envs": {"A": "\ud800"}}, {"envs": {"\udfff": "x"}}, {"metadata": {"k": "\ud800"}}):
        with pytest.raises(InvalidArgument, match="surrogate"):
            Sandbox.create(**kw)  # type: ignore[arg-type]
    with Sandbox.create() as sbx, pytest.raises(InvalidArgument, match="surrogate"):
        sbx.commands.run("true", envs={"B": "\ud800"})
