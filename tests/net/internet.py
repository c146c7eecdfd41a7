"""A small internet for the network tests, offline: a network namespace holding
198.18.0.2 and .10-.20 (the benchmark range, which nothing else on the host uses: the
TEST-NET ranges can be the machine's own network, as they are on these hosts), joined to
the host by a veth whose host end is 198.18.0.1, with DNS, HTTP, HTTPS (a CA of the
test's own), a raw TCP echo, a package index serving a wheel built here, and a fake
search API (see servers.py). While it runs, SANDLOT_NET_RESOLVER and
SANDLOT_NET_EXTRA_CA point the gateway at it. Never any address outside loopback and
this namespace.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sandlot.network import tls

NET = "198.18.0"
DNS = f"{NET}.2"
HOSTS = {
    "example.org": f"{NET}.10",
    "api.example.com": f"{NET}.11",
    "other.example.net": f"{NET}.12",
    "private.example.com": f"{NET}.13",
    "index.example.org": f"{NET}.14",
    "search.example.org": f"{NET}.15",
    "www.example.com": f"{NET}.16",
}
NAMES = HOSTS | {"rebind.example.com": "127.0.0.1", "inside.example.com": "10.0.0.5"}
PROJECT = "sandlot-demo"
LOCK = "/tmp/sandlot-test-internet.lock"  # one test internet per host at a time
PREFIX = "sandlot-test-"


@dataclass(frozen=True)
class Internet:
    netns: str
    ca_path: Path  # the test CA's PEM: HTTPS servers' certs chain to it
    wheel: Path
    hosts: dict[str, str]
    dns: str = DNS
    index_url: str = "http://index.example.org/simple/"
    search_url: str = "http://search.example.org/search"
    echo_port: int = 7


class Unavailable(Exception):
    """This host cannot make network namespaces (not root): the tests skip, saying so."""


def _ip(*args: str, netns: str | None = None) -> None:
    cmd = ["ip", *args] if netns is None else ["ip", "netns", "exec", netns, "ip", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def build_wheel(folder: Path, version: str = "1.0") -> Path:
    """A minimal pure-Python wheel: one module, METADATA, WHEEL and RECORD."""
    module = PROJECT.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": b'WHERE = "the sandlot test index"\n',
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PROJECT}\nVersion: {version}\n".encode()
        ),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: sandlot-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(data)}")
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


@contextlib.contextmanager
def _host_lock(timeout: float = 600.0) -> Iterator[None]:
    with open(LOCK, "w") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Unavailable("another test internet held the host too long") from None
                time.sleep(1)
        yield


def _sweep_stale() -> None:
    """Under the lock, any test namespace is a dead run's: remove it (its veth goes too)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30)
    for line in out.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def _make_netns(name: str, tag: str) -> None:
    host_end, ns_end = f"slt-h{tag}", f"slt-n{tag}"
    _ip("netns", "add", name)
    _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
    _ip("link", "set", ns_end, "netns", name)
    _ip("addr", "add", f"{NET}.1/24", "dev", host_end)
    _ip("link", "set", host_end, "up")
    _ip("link", "set", "lo", "up", netns=name)
    for last in [2, *range(10, 21)]:
        _ip("addr", "add", f"{NET}.{last}/24", "dev", ns_end, netns=name)
    _ip("link", "set", ns_end, "up", netns=name)


def _start_servers(name: str, folder: Path, wheel: Path) -> subprocess.Popen[str]:
    ca = tls.make_ca("sandlot test internet CA")
    (folder / "ca.pem").write_bytes(ca.cert_pem())
    cert, key = tls.issue(ca, HOSTS)
    (folder / "server.pem").write_bytes(cert + key)
    config = {
        "cert": str(folder / "server.pem"),
        "names": NAMES,
        "dns": DNS,
        "wheel": str(wheel),
        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "project": PROJECT,
        "index_host": "index.example.org",
        "search_host": "search.example.org",
    }
    (folder / "config.json").write_text(json.dumps(config))
    root = Path(__file__).resolve().parents[2]
    cmd = ["ip", "netns", "exec", name, sys.executable, "-m", "tests.net.servers"]
    proc = subprocess.Popen(
        [*cmd, str(folder / "config.json")], cwd=root, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the test internet's servers did not start")
    return proc


@contextlib.contextmanager
def _running() -> Iterator[Internet]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise Unavailable("the test internet needs root and `ip` (network namespaces)")
    tag = secrets.token_hex(3)
    name = f"{PREFIX}{tag}"
    with _host_lock(), tempfile.TemporaryDirectory(prefix="sandlot-internet-") as tmp:
        _sweep_stale()
        folder = Path(tmp)
        proc: subprocess.Popen[str] | None = None
        saved = {k: os.environ.get(k) for k in ("SANDLOT_NET_RESOLVER", "SANDLOT_NET_EXTRA_CA")}
        try:
            try:
                _make_netns(name, tag)
            except subprocess.CalledProcessError as e:
                raise Unavailable(f"ip netns is not permitted here: {e.stderr!r}") from e
            wheel = build_wheel(folder)
            proc = _start_servers(name, folder, wheel)
            os.environ["SANDLOT_NET_RESOLVER"] = DNS
            os.environ["SANDLOT_NET_EXTRA_CA"] = str(folder / "ca.pem")
            yield Internet(name, folder / "ca.pem", wheel, dict(HOSTS))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            if proc is not None:
                proc.kill()
                proc.wait(10)
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


_shared: list[Internet] = []
_users = 0
_stack = contextlib.ExitStack()


@contextlib.contextmanager
def internet() -> Iterator[Internet]:
    """The test internet, shared by every user in this process (one per host at a time)."""
    global _users
    if not _shared:
        _shared.append(_stack.enter_context(_running()))
    _users += 1
    try:
        yield _shared[0]
    finally:
        _users -= 1
        if _users == 0:
            _shared.clear()
            _stack.close()
