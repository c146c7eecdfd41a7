"""The snapshot registry over real HTTP: list, pull (verified, atomic), push, and a hostile
registry's truncated or tampered downloads, which must leave nothing installed."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandlot import Sandbox
from sandlot.errors import ImageError, InvalidArgument, NotFound
from sandlot.images import store
from sandlot.runtimes.remote.registry import DIGEST_HEADER, RegistryClient, pack
from sandlot.server import KeyStore

from .conftest import Live
from .test_faults import Server

pytestmark = pytest.mark.slow


def make_image(home: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A tiny image in the store at `home`: a file, a folder, an absolute symlink."""
    monkeypatch.setenv("SANDLOT_HOME", str(home))
    digest = hashlib.sha256(name.encode()).hexdigest()
    with store.lock(digest), store.Staging(digest) as staging:
        (staging.rootfs / "etc").mkdir(parents=True)
        (staging.rootfs / "etc" / "hello").write_text(f"hello from {name}\n")
        (staging.rootfs / "bin").mkdir()
        os.symlink("/usr/bin/bash", staging.rootfs / "bin" / "sh")
        return staging.commit(name=name, source="import", recipe=None)


def local_images(home: Path) -> list[str]:
    images = home / "images"
    return sorted(p.name for p in images.iterdir()) if images.is_dir() else []


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Any]]:
    data = tmp_path_factory.mktemp("registry-server")
    home = data / "home"
    mp = pytest.MonkeyPatch()
    try:
        image = make_image(home, "tiny", mp)
    finally:
        mp.undo()
    keys = KeyStore(data / "server.db")
    _, key = keys.create("registry")
    keys.close()
    srv = Server(data, "--allow-push", env={"SANDLOT_HOME": str(home)})
    srv.start()
    yield srv, key, image
    srv.stop()


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "client"
    monkeypatch.setenv("SANDLOT_HOME", str(home))
    return home


def test_list_names_tags_digests(registry: tuple[Server, str, Any]) -> None:
    srv, key, image = registry
    assert httpx.get(f"{srv.url}/v1/registry").status_code == 401
    c = RegistryClient(srv.url, key)
    entries = {e["ref"]: e for e in c.entries()}
    c.close()
    latest, pinned = entries["tiny:latest"], entries[f"tiny:{image.digest[:12]}"]
    assert latest["digest"] == pinned["digest"] and latest["digest"].startswith("sha256:")
    assert latest["tiers"] == ["process", "gvisor", "microvm"]
    r = httpx.get(
        f"{srv.url}/v1/registry/tiny/latest/blob", headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 200 and r.headers[DIGEST_HEADER] == latest["digest"]
    assert int(r.headers["content-length"]) == latest["size"] == len(r.content)
    assert "sha256:" + hashlib.sha256(r.content).hexdigest() == latest["digest"]
    bad = httpx.get(
        f"{srv.url}/v1/registry/..%2Fetc/latest/blob", headers={"Authorization": f"Bearer {key}"}
    )
    assert bad.status_code in (404, 422)


def test_pull_verifies_and_installs(registry: tuple[Server, str, Any], client_home: Path) -> None:
    srv, key, _ = registry
    seen: list[tuple[int, int]] = []
    c = RegistryClient(srv.url, key)
    image = c.pull("tiny", lambda done, total: seen.append((done, total)))
    assert image.name == "tiny" and image.source == "import"
    assert (image.rootfs / "etc" / "hello").read_text() == "hello from tiny\n"
    assert os.readlink(image.rootfs / "bin" / "sh") == "/usr/bin/bash"
    assert seen and seen[-1][0] == seen[-1][1]
    assert store.by_digest(image.digest) is not None
    assert c.pull("tiny:latest").digest == image.digest  # already here: no second download
    with pytest.raises(NotFound):
        c.pull("nope")
    c.close()
    assert not [n for n in local_images(client_home) if n.startswith(".tmp-")]


def test_cli_pull_with_progress_and_list(registry: tuple[Server, str, Any], tmp_path: Path) -> None:
    srv, key, _ = registry
    env = {**os.environ, "SANDLOT_HOME": str(tmp_path), "SANDLOT_API_KEY": key}
    run = [sys.executable, "-m", "sandlot.cli.main"]
    r = subprocess.run(
        [*run, "pull", "tiny", "--from", srv.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "verified" in r.stderr and "pull tiny" in r.stderr
    r = subprocess.run(
        [*run, "list", "--from", srv.url], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "local" in r.stdout and "tiny:latest" in r.stdout
    r = subprocess.run(
        [*run, "pull", "nope:latest", "--from", srv.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "NotFound" in r.stderr


def test_push_then_pull_back(
    registry: tuple[Server, str, Any], client_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, key, _ = registry
    mine = make_image(client_home, "mine", monkeypatch)
    env = {**os.environ, "SANDLOT_HOME": str(client_home), "SANDLOT_API_KEY": key}
    r = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "push", "mine", "--to", srv.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    c = RegistryClient(srv.url, key)
    refs = {e["ref"] for e in c.entries()}
    assert "mine:latest" in refs
    other = client_home.parent / "other"
    monkeypatch.setenv("SANDLOT_HOME", str(other))
    got = c.pull("mine")
    c.close()
    assert (got.rootfs / "etc" / "hello").read_text() == (mine.rootfs / "etc" / "hello").read_text()


def test_a_server_without_allow_push_refuses(live: Live) -> None:
    r = httpx.put(
        f"{live.url}/v1/registry/x/latest/blob",
        content=b"",
        headers={"Authorization": f"Bearer {live.key}", DIGEST_HEADER: "sha256:" + "0" * 64},
    )
    assert r.status_code == 409 and r.json()["error"]["type"] == "Unsupported"
    assert "--allow-push" in r.json()["error"]["message"]


def test_a_push_that_does_not_match_its_digest_is_refused(
    registry: tuple[Server, str, Any], tmp_path: Path
) -> None:
    srv, key, _ = registry
    r = httpx.put(
        f"{srv.url}/v1/registry/evil/latest/blob",
        content=b"not the bytes you said",
        headers={"Authorization": f"Bearer {key}", DIGEST_HEADER: "sha256:" + "a" * 64},
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "ImageError", r.text
    c = RegistryClient(srv.url, key)
    assert "evil:latest" not in {e["ref"] for e in c.entries()}
    c.close()


# -- a hostile registry ----------------------------------------------------------------------


class Hostile:
    """A registry on loopback that lists a real blob and serves it damaged."""

    def __init__(self, blob: bytes, mode: str, kind: str = "image") -> None:
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        listing = {
            "entries": [
                {
                    "name": "tiny",
                    "tag": "latest",
                    "ref": "tiny:latest",
                    "digest": digest,
                    "size": len(blob),
                    "kind": kind,
                }
            ]
        }
        body = {
            "truncated": blob[: len(blob) // 2],
            "tampered": blob[:100] + bytes([blob[100] ^ 1]) + blob[101:],
            "longer": blob + b"\0" * 512,
            "cut": blob[: len(blob) // 2],
        }[mode]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/v1/registry":
                    data = json.dumps(listing).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header(DIGEST_HEADER, digest)
                # "cut": announce the whole length, then hang up half way.
                declared = len(blob) if mode == "cut" else len(body)
                self.send_header("Content-Length", str(declared))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("mode", ["truncated", "tampered", "longer", "cut"])
def test_a_damaged_download_is_never_installed(
    mode: str, client_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_image(tmp_path / "source", "tiny", monkeypatch)
    blob = tmp_path / "tiny.tar"
    pack(source.rootfs, blob)
    monkeypatch.setenv("SANDLOT_HOME", str(client_home))
    hostile = Hostile(blob.read_bytes(), mode)
    c = RegistryClient(hostile.url, "sl_x_y")
    try:
        with pytest.raises(ImageError, match="nothing was installed|longer than announced"):
            c.pull("tiny")
    finally:
        c.close()
        hostile.close()
    assert store.all_images() == []
    assert local_images(client_home) == [], "a partial download was left in the store"


# -- named snapshots ---------------------------------------------------------------------------


def test_a_snapshot_is_listed_to_its_key_and_pulled_verified(
    registry: tuple[Server, str, Any], client_home: Path, tmp_path: Path
) -> None:
    srv, key, _ = registry
    with Sandbox.create(base_url=srv.url, api_key=key) as box:
        box.run_code("answer = 42")
        box.create_snapshot("answer")
    c = RegistryClient(srv.url, key)
    try:
        snaps = [e for e in c.entries() if e.get("kind") == "snapshot"]
        digest = snaps[0]["digest"]
        assert {e["ref"] for e in snaps} == {"answer:latest", f"answer:{digest[7:19]}"}
        assert all(e["tiers"] == ["wasm"] and e["size"] > 0 for e in snaps)
        keys = KeyStore(srv.data / "server.db")
        _, other = keys.create("other")
        keys.close()
        with _Closing(srv.url, other) as o:
            assert not [e for e in o.entries() if e.get("kind") == "snapshot"]
            with pytest.raises(NotFound):
                o.pull("answer")
        info = c.pull(f"answer:{digest[7:19]}")
        assert (info.name, info.tier) == ("answer", "wasm")
        assert [s.name for s in Sandbox.list_snapshots()] == ["answer"]
        with Sandbox.create(snapshot="answer") as here:  # a local wasm sandbox
            assert here.run_code("answer").text == "42"
        with pytest.raises(InvalidArgument, match="exists"):
            c.pull("answer")
    finally:
        c.close()
    # The CLI, into another home.
    env = {**os.environ, "SANDLOT_HOME": str(tmp_path / "cli"), "SANDLOT_API_KEY": key}
    env.pop("SANDLOT_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "pull", "answer", "--from", srv.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "pulled snapshot answer" in done.stderr and "verified" in done.stderr
    assert (tmp_path / "cli" / "snapshots" / "answer" / "meta.json").is_file()


class _Closing:
    def __init__(self, url: str, key: str) -> None:
        self.client = RegistryClient(url, key)

    def __enter__(self) -> RegistryClient:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()


@pytest.mark.parametrize("mode", ["truncated", "tampered", "longer", "cut"])
def test_a_damaged_snapshot_download_is_never_used(
    mode: str, client_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source"
    monkeypatch.setenv("SANDLOT_HOME", str(source))
    with Sandbox.create() as box:
        box.run_code("kept = 1")
        box.create_snapshot("tiny")
    blob = tmp_path / "tiny.tar"
    pack(source / "snapshots" / "tiny", blob)
    monkeypatch.setenv("SANDLOT_HOME", str(client_home))
    hostile = Hostile(blob.read_bytes(), mode, kind="snapshot")
    c = RegistryClient(hostile.url, "sl_x_y")
    try:
        with pytest.raises(ImageError, match="nothing was installed|longer than announced"):
            c.pull("tiny")
    finally:
        c.close()
        hostile.close()
    assert Sandbox.list_snapshots() == []
    left = client_home / "snapshots"
    assert not left.exists() or list(left.iterdir()) == [], "a partial download was left"
