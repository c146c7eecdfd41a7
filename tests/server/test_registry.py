"""The snapshot registry over real HTTP: list, pull (verified, atomic), push, and a hostile
registry's truncated or tampered downloads, which must leave nothing installed."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandlot import Sandbox
from sandlot.errors import ImageError, InvalidArgument, LimitExceeded, NotFound
from sandlot.images import store
from sandlot.runtimes.hostfs import remove_tree
from sandlot.sdk.registry_client import DIGEST_HEADER, RegistryClient, pack
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


# -- pushing named snapshots -------------------------------------------------------------------


def _server_snapshots(srv: Server) -> list[str]:
    """Everything in the `registry` server's snapshot store, work folders included."""
    root = srv.data / "home" / "snapshots"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def _key_id(key: str) -> str:
    return key.split("_")[1]


def test_push_a_snapshot_then_start_remotely_from_it(
    registry: tuple[Server, str, Any], client_home: Path
) -> None:
    srv, key, _ = registry
    with Sandbox.create() as box:  # a local wasm sandbox, in the client's home
        box.run_code("pushed = 7")
        box.commands.run("echo kept > note.txt")
        box.create_snapshot("pushed")
    env = {**os.environ, "SANDLOT_HOME": str(client_home), "SANDLOT_API_KEY": key}
    env.pop("SANDLOT_URL", None)
    cli = [sys.executable, "-m", "sandlot.cli.main", "push", "pushed", "--to", srv.url]
    done = subprocess.run(
        [*cli, "--kind", "snapshot"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "push snapshot pushed" in done.stderr and "pushed snapshot pushed" in done.stderr
    c = RegistryClient(srv.url, key)
    try:
        snaps = {e["ref"]: e for e in c.entries() if e.get("kind") == "snapshot"}
        assert "pushed:latest" in snaps and snaps["pushed:latest"]["tiers"] == ["wasm"]
        assert "pushed" in [s.name for s in Sandbox.list_snapshots(base_url=srv.url, api_key=key)]
        with Sandbox.create(snapshot="pushed", base_url=srv.url, api_key=key) as there:
            assert there.run_code("pushed").text == "7"
            assert there.commands.run("cat note.txt").stdout == "kept\n"
        # Never over the key's own snapshot: 409, naming the problem, and it is unchanged.
        with pytest.raises(InvalidArgument, match="already"):
            c.push_snapshot("pushed")
        blob = client_home / "again.tar"
        sha, _size = pack(client_home / "snapshots" / "pushed", blob)
        r = httpx.put(
            f"{srv.url}/v1/registry/pushed/latest/blob",
            params={"kind": "snapshot"},
            content=blob.read_bytes(),
            headers={"Authorization": f"Bearer {key}", DIGEST_HEADER: f"sha256:{sha}"},
        )
        assert r.status_code == 409, r.text
        assert r.json()["error"]["type"] == "InvalidArgument"
        assert "'pushed'" in r.json()["error"]["message"]
        assert {e["ref"]: e for e in c.entries()}["pushed:latest"] == snaps["pushed:latest"]
        # A wrong tag (not latest, not the upload's digest) is refused before anything.
        with pytest.raises(InvalidArgument, match="packs to"):
            c.push_snapshot("pushed", "0123456789ab")
    finally:
        c.close()
    # Another key neither sees it nor overwrites it: its push is a snapshot of its own.
    keys = KeyStore(srv.data / "server.db")
    _, other = keys.create("push-other")
    keys.close()
    with _Closing(srv.url, other) as o:
        assert "pushed:latest" not in {e["ref"] for e in o.entries()}
        with pytest.raises(NotFound):
            Sandbox.create(snapshot="pushed", base_url=srv.url, api_key=other)
        mine = o.push_snapshot("pushed")
        assert mine["ref"] == "pushed:latest" and mine["kind"] == "snapshot"
    assert f"{_key_id(key)}.pushed" in _server_snapshots(srv)
    assert f"{_key_id(other)}.pushed" in _server_snapshots(srv)
    with Sandbox.create(snapshot="pushed", base_url=srv.url, api_key=key) as there:
        assert there.run_code("pushed").text == "7"
    assert not [n for n in _server_snapshots(srv) if n.startswith(".")]
    assert not [n for n in os.listdir(client_home / "snapshots") if n.startswith(".")]


def test_push_snapshot_of_nothing_local(
    registry: tuple[Server, str, Any], client_home: Path
) -> None:
    srv, key, _ = registry
    env = {**os.environ, "SANDLOT_HOME": str(client_home), "SANDLOT_API_KEY": key}
    done = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "push", "ghost", "--to", srv.url]
        + ["--kind", "snapshot"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "NotFound" in done.stderr and "ghost" in done.stderr


def test_a_server_without_allow_push_refuses_snapshots(live: Live) -> None:
    r = httpx.put(
        f"{live.url}/v1/registry/x/latest/blob",
        params={"kind": "snapshot"},
        content=b"",
        headers={"Authorization": f"Bearer {live.key}", DIGEST_HEADER: "sha256:" + "0" * 64},
    )
    assert r.status_code == 409 and r.json()["error"]["type"] == "Unsupported"


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


_META = json.dumps(
    {"name": "x", "tier": "wasm", "template": "python", "size": 1, "created": 1.0}
).encode()
_GOOD = [(_member("meta.json"), _META), (_member("state", tarfile.DIRTYPE), None)]


@pytest.mark.parametrize(
    "evil",
    [
        [(_member("../escaped"), b"x")],
        [(_member("/tmp/sandlot-absolute-escape"), b"x")],
        [(_member("state/leak", tarfile.SYMTYPE, "/etc/passwd"), None)],
        [(_member("state/up", tarfile.SYMTYPE, "../../.."), None)],
        [
            (_member("state/door", tarfile.SYMTYPE, "/tmp"), None),
            (_member("state/door/sandlot-through-a-link"), b"x"),
        ],
        [(_member("state/hard", tarfile.LNKTYPE, "/etc/passwd"), None)],
        [(_member("state/null", tarfile.CHRTYPE), None)],
        [(_member("state/fifo", tarfile.FIFOTYPE), None)],
    ],
    ids=["dotdot", "absolute", "abs-link", "up-link", "through-link", "hardlink", "chr", "fifo"],
)
def test_a_hostile_snapshot_push_is_refused_and_leaves_nothing(
    registry: tuple[Server, str, Any], evil: list[tuple[tarfile.TarInfo, bytes | None]]
) -> None:
    srv, key, _ = registry
    before = _server_snapshots(srv)
    body = _tar(_GOOD + evil)
    r = httpx.put(
        f"{srv.url}/v1/registry/hostile/latest/blob",
        params={"kind": "snapshot"},
        content=body,
        headers={
            "Authorization": f"Bearer {key}",
            DIGEST_HEADER: "sha256:" + hashlib.sha256(body).hexdigest(),
        },
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "ImageError" and "unsafe" in r.json()["error"]["message"]
    assert _server_snapshots(srv) == before, "a hostile push left something behind"
    assert not os.path.lexists("/tmp/sandlot-absolute-escape")
    assert not os.path.lexists("/tmp/sandlot-through-a-link")
    assert not (srv.data / "home" / "escaped").exists()


def test_a_push_that_is_not_a_snapshot_or_is_tampered_leaves_nothing(
    registry: tuple[Server, str, Any],
) -> None:
    srv, key, _ = registry
    before = _server_snapshots(srv)
    auth = {"Authorization": f"Bearer {key}"}
    url = f"{srv.url}/v1/registry/notsnap/latest/blob"
    for body in (_tar([(_member("hello"), b"hi")]), b"not a tar at all" * 100):
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        r = httpx.put(
            url, params={"kind": "snapshot"}, content=body, headers={**auth, DIGEST_HEADER: digest}
        )
        assert r.status_code == 400 and r.json()["error"]["type"] == "ImageError", r.text
    good = _tar(_GOOD)
    r = httpx.put(  # the digest of other bytes
        url,
        params={"kind": "snapshot"},
        content=good + b"\0" * 512,
        headers={**auth, DIGEST_HEADER: "sha256:" + hashlib.sha256(good).hexdigest()},
    )
    assert r.status_code == 400 and "nothing was installed" in r.json()["error"]["message"]
    r = httpx.put(  # a name a snapshot cannot have
        f"{srv.url}/v1/registry/a@b/latest/blob",
        params={"kind": "snapshot"},
        content=good,
        headers={**auth, DIGEST_HEADER: "sha256:" + hashlib.sha256(good).hexdigest()},
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "InvalidArgument", r.text
    assert _server_snapshots(srv) == before


def test_a_pushed_microvm_state_is_refused(registry: tuple[Server, str, Any]) -> None:
    # A QEMU migration stream is not input QEMU treats as hostile: only wasm state is taken.
    srv, key, _ = registry
    before = _server_snapshots(srv)
    meta = json.dumps(
        {"name": "x", "tier": "microvm", "template": "base", "size": 1, "created": 1.0}
    ).encode()
    body = _tar([(_member("meta.json"), meta), (_member("state", tarfile.DIRTYPE), None)])
    r = httpx.put(
        f"{srv.url}/v1/registry/vmstate/latest/blob",
        params={"kind": "snapshot"},
        content=body,
        headers={
            "Authorization": f"Bearer {key}",
            DIGEST_HEADER: "sha256:" + hashlib.sha256(body).hexdigest(),
        },
    )
    assert r.status_code == 409 and r.json()["error"]["type"] == "Unsupported", r.text
    assert "wasm" in r.json()["error"]["message"]
    assert _server_snapshots(srv) == before


def test_an_oversized_snapshot_push_is_refused_and_leaves_nothing(
    tmp_path: Path, client_home: Path
) -> None:
    """A server with a small `max_push_bytes`: a declared length over it is refused before
    the body, a chunked body is cut off when it passes it; neither leaves anything."""
    from sandlot.server import ServerConfig

    from .conftest import serving

    keys = KeyStore(tmp_path / "server.db")
    kid, key = keys.create("small")
    cfg = ServerConfig(data_dir=tmp_path, allow_push=True, max_push_bytes=64 << 10)
    with Sandbox.create() as box:
        box.run_code("big = 1")
        box.create_snapshot("big")
    snaps = client_home / "snapshots"
    try:
        with serving(cfg, keys) as (url, _app):
            with _Closing(url, key) as c, pytest.raises(LimitExceeded, match="larger"):
                c.push_snapshot("big")
            body = (b"\0" * (16 << 10) for _ in range(16))  # 256 KiB, chunked
            r = httpx.put(
                f"{url}/v1/registry/chunked/latest/blob",
                params={"kind": "snapshot"},
                content=body,
                headers={"Authorization": f"Bearer {key}", DIGEST_HEADER: "sha256:" + "a" * 64},
            )
            assert r.status_code == 413 and r.json()["error"]["type"] == "LimitExceeded"
    finally:
        keys.close()
    assert sorted(p.name for p in snaps.iterdir()) == ["big"], "an oversized push left a trace"


def test_a_pushed_and_pulled_snapshot_keeps_a_deep_tree_and_refuses_an_escaping_link(
    registry: tuple[Server, str, Any],
    client_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A guest's 1,100-deep tree is packed, sized, unpacked and removed by fd on both sides
    # (no RecursionError); a link it planted whose `..`s climb out is refused, typed.
    srv, key, _ = registry
    deep = "import os\nfor _ in range(1100):\n    os.mkdir('d')\n    os.chdir('d')\n"
    count = (
        "import os\nn = 0\nwhile os.path.isdir('d'):\n    os.chdir('d')\n    n += 1\n"
        "found = (n, open('leaf').read())\nos.chdir('/home/user')\nfound"
    )
    puller = tmp_path / "puller"
    try:
        with Sandbox.create() as box:
            box.run_code(f"{deep}open('leaf', 'w').write('bottom')\nos.chdir('/home/user')")
            box.create_snapshot("deep")
            box.run_code(f"import os; os.symlink({'../' * 40 + 'etc/passwd'!r}, 'up')")
            box.create_snapshot("linked")
        with _Closing(srv.url, key) as c:
            assert c.push_snapshot("deep")["kind"] == "snapshot"
            with pytest.raises(ImageError, match="unsafe member"):
                c.push_snapshot("linked")
            assert not [
                n for n in _server_snapshots(srv) if n.startswith(f".{_key_id(key)}.linked")
            ]
            monkeypatch.setenv("SANDLOT_HOME", str(puller))
            assert c.pull("deep", kind="snapshot").size > 0
        with Sandbox.create(snapshot="deep") as back:
            assert back.run_code(count).text == "(1100, 'bottom')"
        Sandbox.delete_snapshot("deep", base_url=srv.url, api_key=key)
    finally:
        for home in (client_home, puller):
            remove_tree(home, ignore_errors=True)
