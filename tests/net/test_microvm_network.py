"""Network by policy on the microvm tier (QEMU under TCG): slirp restricted to the one
guestfwd, 10.0.2.100:3128, relayed to the sandbox's gateway attachment. A real VM each,
a real gateway, the test internet; few tests, since every VM costs a restore under TCG.

The `base` image has python3 but neither curl nor iproute2: the guest's clients here are
urllib and raw sockets, and root's routes are added with ioctl(SIOCADDRT).
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import signal
import time
from collections.abc import Iterator

import pytest

from sandlot import Sandbox
from sandlot.network.gateway import gateway
from sandlot.runtimes.microvm.sandbox import MicroVMSandbox
from tests.microvm.conftest import TEMPLATE, _needs_microvm  # noqa: F401 (skips without QEMU)
from tests.net.internet import Internet

SECRET = "sk-test-" + secrets.token_hex(12)  # a value nothing in the sandbox may ever see
POLICY = {"allow_out": ["example.org", "api.example.com"]}
SECRETS = {"api.example.com": {"Authorization": f"Bearer {SECRET}"}}
TEST_CA = "/tmp/test-ca.pem"  # the test servers' CA, for hosts the gateway passes through
DENIED = "sandlot: other.example.net is not in this sandbox's allow_out"

FETCH = """
import urllib.request, urllib.error
def fetch(url, cafile=None):
    import ssl
    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        return urllib.request.urlopen(url, timeout=30, context=ctx).read().decode()
    except urllib.error.HTTPError as e:
        return f"{e.code} {e.read().decode()}"
    except OSError as e:
        return f"error {type(e).__name__}"
"""

# Connections anywhere but the proxy: each (address, outcome, quick?) as a tuple of str.
ELSEWHERE = """
import socket, time
def elsewhere(targets, wait):
    out = []
    for addr in targets:
        t = time.monotonic()
        try:
            socket.create_connection(addr, timeout=wait).close()
            got = "connected"
        except OSError as e:
            got = type(e).__name__
        out.append((f"{addr[0]}:{addr[1]}", got, time.monotonic() - t < wait))
    return out
"""

# Root in the guest gives eth0 a route to all of 10.0.2.0/24 and a default route via
# slirp's host alias, 10.0.2.2 (struct rtentry on x86_64: dst at 8, gateway 24, genmask
# 40, flags 56, dev pointer 88).
ADD_ROUTES = """
import ctypes, fcntl, socket, struct
def add_route(dst, mask, gateway=None):
    sa = lambda ip: struct.pack("HH4s8x", socket.AF_INET, 0, socket.inet_aton(ip))
    dev = ctypes.create_string_buffer(b"eth0")
    rt = bytearray(120)
    rt[8:24], rt[40:56] = sa(dst), sa(mask)
    if gateway:
        rt[24:40] = sa(gateway)
    rt[56:58] = struct.pack("H", 0x1 | (0x2 if gateway else 0))  # RTF_UP, RTF_GATEWAY
    rt[88:96] = struct.pack("P", ctypes.addressof(dev))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x890B, bytes(rt))  # SIOCADDRT
add_route("10.0.2.0", "255.255.255.0")
add_route("0.0.0.0", "0.0.0.0", "10.0.2.2")
"""


@pytest.fixture(scope="module")
def net_sbx(internet: Internet) -> Iterator[Sandbox]:
    with Sandbox.create(TEMPLATE, tier="microvm", network=POLICY, secrets=SECRETS) as sbx:
        sbx.files.write(TEST_CA, internet.ca_path.read_bytes())
        sbx.run_code(FETCH + ELSEWHERE)
        yield sbx


def _box(sbx: Sandbox) -> MicroVMSandbox:
    box = sbx._core._box
    assert isinstance(box, MicroVMSandbox)
    return box


def _value(sbx: Sandbox, expr: str, timeout: float = 90) -> object:
    ex = sbx.run_code(f"import json\njson.dumps({expr})", timeout=timeout)
    assert ex.error is None, ex.error
    return json.loads(ast.literal_eval(ex.text))  # the repr of the JSON text


def test_allowed_host_and_the_sandlot_refusal(net_sbx: Sandbox) -> None:
    got = _value(
        net_sbx,
        "[fetch('http://example.org/'), "
        f"fetch('https://example.org/data.json', {TEST_CA!r}), "
        "fetch('http://other.example.net/'), "
        f"fetch('https://other.example.net/', {TEST_CA!r})]",
    )
    assert isinstance(got, list)
    assert got[0] == "hello from example.org\n"
    assert json.loads(got[1]) == {"host": "example.org"}
    assert got[2] == f"403 {DENIED}\n"
    assert got[3].startswith("error")  # the CONNECT's 403 is a failed tunnel to urllib
    log = net_sbx.network.log()
    assert any(r.host == "example.org" and r.allowed and r.bytes_down > 0 for r in log)
    refused = [r for r in log if r.host == "other.example.net"]
    assert refused and not any(r.allowed for r in refused)


def test_anywhere_but_the_proxy_gets_nothing_at_once(net_sbx: Sandbox) -> None:
    targets = [("198.18.0.12", 7), ("10.0.2.2", 22), ("10.0.2.3", 53), ("10.0.2.100", 80)]
    got = _value(net_sbx, f"elsewhere({targets!r}, 10)")
    assert isinstance(got, list) and len(got) == len(targets)
    for target, outcome, quick in got:
        assert outcome != "connected" and quick, (target, outcome)
    # names are the gateway's to resolve, never the sandbox's
    ex = net_sbx.run_code("import socket\nsocket.getaddrinfo('example.org', 80)", timeout=30)
    assert ex.error is not None and "gaierror" in ex.error.name


def test_root_adding_routes_gains_nothing(internet: Internet) -> None:
    with Sandbox.create(TEMPLATE, tier="microvm", network=POLICY) as sbx:
        ex = sbx.run_code(ADD_ROUTES + ELSEWHERE + FETCH, timeout=60)
        assert ex.error is None, ex.error
        targets = [("198.18.0.10", 80), ("198.18.0.12", 7), ("10.0.2.2", 22)]
        got = _value(sbx, f"elsewhere({targets!r}, 3)")
        assert isinstance(got, list)
        assert all(outcome != "connected" for _, outcome, _ in got), got
        probe = sbx.run_code(
            "import socket\nu = socket.socket(2, 2)\nu.settimeout(3)\n"
            "u.sendto(b'\\x12\\x34\\x01\\x00\\x00\\x01' + 6 * b'\\x00' + "
            "b'\\x07example\\x03org\\x00\\x00\\x01\\x00\\x01', ('10.0.2.3', 53))\nu.recv(512)",
            timeout=30,
        )
        assert probe.error is not None  # slirp's DNS does not answer a restricted guest
        assert _value(sbx, "fetch('http://example.org/')") == "hello from example.org\n"


def test_secret_for_its_host_only(net_sbx: Sandbox) -> None:
    got = _value(
        net_sbx,
        "[fetch('https://api.example.com/headers'), "
        f"fetch('https://example.org/headers', {TEST_CA!r}), "
        "fetch('http://example.org/headers')]",
    )
    assert isinstance(got, list)
    assert json.loads(got[0]).get("Authorization") == f"Bearer {SECRET}"
    assert all(SECRET not in g and "Authorization" not in g for g in got[1:])
    r = net_sbx.commands.run(
        f"env | grep -c {SECRET}; grep -rlas {SECRET} /proc/[0-9]*/environ /home /tmp /run "
        "2>/dev/null | head; echo done",
        timeout=60,
    )
    assert SECRET not in r.stdout and r.stdout.split()[0] == "0"


def test_no_network_without_a_policy_in_the_same_pool(internet: Internet) -> None:
    with Sandbox.create(TEMPLATE, tier="microvm") as sbx:
        sbx.run_code(FETCH + ELSEWHERE)
        assert _value(sbx, "[k for k in __import__('os').environ if 'proxy' in k.lower()]") == []
        started = time.monotonic()
        got = _value(sbx, "elsewhere([('10.0.2.100', 3128), ('198.18.0.10', 80)], 10)")
        assert isinstance(got, list)
        assert str(_value(sbx, "fetch('http://198.18.0.10/')")).startswith("error")
        assert time.monotonic() - started < 15  # refused, not hung
        # the proxy's port accepts (slirp) and is closed at once: no gateway behind it
        ex = sbx.run_code(
            "import socket\ns = socket.create_connection(('10.0.2.100', 3128), timeout=10)\n"
            "s.sendall(b'GET http://example.org/ HTTP/1.1\\r\\nHost: example.org\\r\\n\\r\\n')\n"
            "s.recv(100)",
            timeout=30,
        )
        assert ex.error is not None or ex.text in ("b''", 'b""')
        assert sbx.network.log() == []


def test_pause_resume_fork_and_a_replaced_vm_keep_the_network(internet: Internet) -> None:
    sbx = Sandbox.create(TEMPLATE, tier="microvm", network=POLICY)
    sbx.run_code(FETCH)
    sandbox_id = sbx.pause()
    with Sandbox.connect(sandbox_id) as again:
        assert _value(again, "fetch('http://example.org/')") == "hello from example.org\n"
        (kid,) = again.fork(1)
        with kid:
            assert _value(kid, "fetch('http://example.org/')") == "hello from example.org\n"
            assert [r.host for r in kid.network.log()] == ["example.org"]
        before = len(again.network.log())
        os.kill(_box(again).vm.pid, signal.SIGKILL)  # a crash: the VM is replaced
        with pytest.raises(Exception, match="replaced by a fresh one"):
            again.run_code("1")
        again.run_code(FETCH)
        assert _value(again, "fetch('http://example.org/')") == "hello from example.org\n"
        assert len(again.network.log()) == before + 1  # the same attachment, its log kept


def test_no_network_once_the_gateway_is_gone(internet: Internet) -> None:
    # last in this file: it stops the gateway every sandbox of this process shares
    with Sandbox.create(TEMPLATE, tier="microvm", network=POLICY) as sbx:
        sbx.run_code(FETCH)
        assert _value(sbx, "fetch('http://example.org/')") == "hello from example.org\n"
        gateway().stop()  # what a crash of the gateway's thread does
        started = time.monotonic()
        assert str(_value(sbx, "fetch('http://example.org/')")).startswith("error")
        assert time.monotonic() - started < 10  # closed at once, never hung
    # a new sandbox of the same spec, from the same pool, gets the new gateway
    with Sandbox.create(TEMPLATE, tier="microvm", network=POLICY) as again:
        again.run_code(FETCH)
        assert _value(again, "fetch('http://example.org/')") == "hello from example.org\n"
