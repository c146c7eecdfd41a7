"""Over REST, for any key: a guest's planted links and deep trees reach nothing of the host
when the server saves, restores, forks or frees its sandbox (real wasm sandboxes)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest


def _code(api: httpx.Client, sid: str, code: str) -> httpx.Response:
    r = api.post(f"/v1/sandboxes/{sid}/code", json={"code": code})
    assert r.status_code == 200 and r.json()["error"] is None, r.text
    return r


@pytest.fixture
def sid(api: httpx.Client) -> str:
    r = api.post("/v1/sandboxes", json={})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_planted_link_reaches_no_host_folder_on_fork_snapshot_or_resume(
    api: httpx.Client, sid: str, tmp_path: Path
) -> None:
    target = tmp_path / "host-folder"
    target.mkdir()
    up = "../" * 40 + str(target).lstrip("/")
    _code(
        api, sid, f"import os\nos.chdir('/')\nos.rename('/home', '/h')\nos.symlink({up!r}, '/home')"
    )
    r = api.post(f"/v1/sandboxes/{sid}/fork", json={"n": 1})
    assert r.status_code == 200, r.text
    fork = r.json()["sandboxes"][0]["id"]
    r = api.post(f"/v1/sandboxes/{sid}/snapshots", json={"name": "planted-link"})
    assert r.status_code == 200, r.text
    r = api.post("/v1/sandboxes", json={"snapshot": "planted-link"})
    assert r.status_code == 201, r.text
    started = r.json()["id"]
    assert api.post(f"/v1/sandboxes/{sid}/pause").status_code == 200
    assert api.post(f"/v1/sandboxes/{sid}/resume").status_code == 200
    assert list(target.iterdir()) == []
    for each in (sid, fork, started):
        assert api.delete(f"/v1/sandboxes/{each}").status_code == 204
    assert api.delete("/v1/snapshots/planted-link").status_code == 204


def test_a_deep_tree_saves_and_frees_with_no_server_error(api: httpx.Client, sid: str) -> None:
    _code(
        api,
        sid,
        "import os\nfor _ in range(1100):\n    os.mkdir('d')\n    os.chdir('d')\nos.chdir('/')",
    )
    r = api.post(f"/v1/sandboxes/{sid}/snapshots", json={"name": "deep-tree"})
    assert r.status_code == 200, r.text
    r = api.post(f"/v1/sandboxes/{sid}/fork", json={"n": 1})
    assert r.status_code == 200, r.text
    fork = r.json()["sandboxes"][0]["id"]
    assert api.post(f"/v1/sandboxes/{sid}/pause").status_code == 200
    assert api.post(f"/v1/sandboxes/{sid}/resume").status_code == 200
    for each in (sid, fork):
        assert api.delete(f"/v1/sandboxes/{each}").status_code == 204
    assert api.delete("/v1/snapshots/deep-tree").status_code == 204
