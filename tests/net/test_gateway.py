"""The gateway driven as a sandbox drives it: real curl (and pip) with --proxy at an
attachment's loopback listener, a small client on its Unix socket, and `fetch` for the
wasm bridge, against the test internet. No mock anywhere."""

from __future__ import annotations

import json
import resource
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandlot.models import NetworkPolicy, Secrets
from sandlot.network.caps import NetCaps
from sandlot.network.fetch import FetchRequest, fetch
from sandlot.network.gateway import Attachment, Gateway, gateway
from tests.net.internet import Internet

Attach = Callable[..., Attachment]
SECRET = "Bearer sk-sandlot-test-0123456789"


@pytest.fixture
def attach(internet: Internet) -> Iterator[Attach]:
    """Attachments on the process's gateway, closed after the test."""
    made: list[Attachment] = []

    def make(
        allow: tuple[str, ...],
        deny: tuple[str, ...] = (),
        secrets: dict[str, dict[str, str]] | None = None,
        caps: NetCaps = NetCaps(),  # noqa: B008
    ) -> Attachment:
        att = gateway().attach(
            NetworkPolicy(allow, deny), Secrets(secrets), label="test", caps=caps
        )
        made.append(att)
        return att

    yield make
    for att in made:
        att.close()


def curl(
    att: Attachment, url: str, *args: str, ca: Path | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    host, port = att.tcp_address()
    cmd = ["curl", "-sS", "--max-time", str(timeout), "--proxy", f"http://{host}:{port}"]
    cmd += ["--cacert", str(ca)] if ca is not None else []
    return subprocess.run(
        [*cmd, "-w", "\n%{http_code}", *args, url], capture_output=True, text=True, timeout=60
    )


def connect(att: Attachment, target: str) -> tuple[socket.socket, bytes]:
    """A CONNECT by hand: the socket and the gateway's answer head (and body, if refused)."""
    sock = socket.create_connection(att.tcp_address(), timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    return sock, _read_answer(sock)


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        while chunk := sock.recv(4096):
            data += chunk
    return data


def last_record(att: Attachment, host: str) -> tuple[bool, str]:
    """The host's last record (a connection's is written as it ends: wait a little)."""
    for _ in range(50):
        records = [r for r in att.log() if r.host == host]
        if records:
            break
        time.sleep(0.05)
    assert records, f"no record for {host} in {att.log()}"
    return records[-1].allowed, records[-1].reason


def test_allowed_host_by_http_and_https(attach: Attach, internet: Internet) -> None:
    att = attach(("example.org",))
    plain = curl(att, "http://example.org/data.json")
    assert plain.stdout.split("\n") == ['{"host": "example.org"}', "200"], plain.stderr
    secure = curl(att, "https://example.org/data.json", ca=internet.ca_path)
    assert secure.stdout.split("\n") == ['{"host": "example.org"}', "200"], secure.stderr
    kinds = [(r.kind, r.host, r.port, r.allowed) for r in att.log()]
    assert kinds == [("http", "example.org", 80, True), ("connect", "example.org", 443, True)]
    assert all(r.bytes_down > 0 and r.bytes_up > 0 for r in att.log())


def test_a_denied_host_is_refused_with_the_message(attach: Attach, internet: Internet) -> None:
    att = attach(("example.org",))
    message = "sandlot: other.example.net is not in this sandbox's allow_out"
    plain = curl(att, "http://other.example.net/")
    assert plain.stdout.split("\n") == [message, "", "403"]
    secure = curl(att, "https://other.example.net/", ca=internet.ca_path)
    assert secure.returncode != 0 and "403" in secure.stderr
    sock, answer = connect(att, "other.example.net:443")
    sock.close()
    assert answer.startswith(b"HTTP/1.1 403") and answer.endswith(message.encode() + b"\n")
    assert last_record(att, "other.example.net") == (False, message)


def test_deny_out_wins_over_allow_out_and_wildcards_match(attach: Attach) -> None:
    att = attach(("*.example.com",), ("private.example.com",))
    assert curl(att, "http://api.example.com/").stdout.endswith("\n200")
    assert curl(att, "http://www.example.com/").stdout.endswith("\n200")
    denied = curl(att, "http://private.example.com/")
    assert denied.stdout.split("\n") == [
        "sandlot: private.example.com is in this sandbox's deny_out",
        "",
        "403",
    ]
    bare = curl(att, "http://example.com/")  # *.example.com is its subdomains only
    assert bare.stdout.endswith("\n403")


def test_a_cidr_allows_addresses_not_names(attach: Attach) -> None:
    att = attach(("198.18.0.0/24",), ("198.18.0.12",))
    assert curl(att, "http://198.18.0.10/").stdout == "hello from 198.18.0.10\n\n200"
    assert curl(att, "http://198.18.0.12/").stdout.endswith("is in this sandbox's deny_out\n\n403")
    named = curl(att, "http://example.org/")
    assert named.stdout.endswith("example.org is not in this sandbox's allow_out\n\n403")


def test_raw_tcp_passes_to_an_allowed_address_only(attach: Attach, internet: Internet) -> None:
    att = attach(("198.18.0.10:7", "example.org"))
    sock, answer = connect(att, f"198.18.0.10:{internet.echo_port}")
    assert answer.startswith(b"HTTP/1.1 200")
    sock.sendall(b"\x00\x01 not http, not tls \xff")
    assert sock.recv(100) == b"\x00\x01 not http, not tls \xff"
    sock.close()
    other_port = connect(att, "198.18.0.10:80")[1]  # the entry names port 7 only
    assert other_port.startswith(b"HTTP/1.1 403")
    sock, answer = connect(att, f"example.org:{internet.echo_port}")  # a name: TLS only
    assert answer.startswith(b"HTTP/1.1 200")
    sock.sendall(b"\x00\x01 not http, not tls \xff")
    refused = _read_answer(sock)  # a 403 it may read, never the echo
    sock.close()
    assert refused.startswith(b"HTTP/1.1 403") and b"not http" not in refused
    allowed, reason = last_record(att, "example.org")
    assert not allowed and "TLS only" in reason


@pytest.mark.parametrize(
    ("name", "address"), [("rebind.example.com", "127.0.0.1"), ("inside.example.com", "10.0.0.5")]
)
def test_dns_rebinding_is_refused(attach: Attach, name: str, address: str) -> None:
    att = attach(("*.example.com",))
    answer = curl(att, f"http://{name}/")
    assert answer.stdout.split("\n") == [
        f"sandlot: {name} resolves to a private address ({address}), which allow_out does not name",
        "",
        "403",
    ]
    sock, head = connect(att, f"{name}:443")
    sock.close()
    assert head.startswith(b"HTTP/1.1 403") and b"private address" in head


def test_sni_or_host_that_disagrees_with_the_target_is_refused(
    attach: Attach, internet: Internet
) -> None:
    att = attach(("example.org", "other.example.net"))
    fronted = curl(att, "http://example.org/", "-H", "Host: other.example.net")
    assert fronted.stdout.endswith("is not example.org:80\n\n403")
    sock, answer = connect(att, "example.org:443")
    assert answer.startswith(b"HTTP/1.1 200")
    context = ssl.create_default_context(cafile=str(internet.ca_path))
    with pytest.raises((ssl.SSLError, OSError)):
        context.wrap_socket(sock, server_hostname="other.example.net").recv(1)
    sock.close()
    time.sleep(0.2)
    allowed, reason = last_record(att, "example.org")
    assert not allowed and "TLS server name (other.example.net)" in reason


def _exchange(att: Attachment, data: bytes, wait: float = 1.0) -> bytes:
    """Send `data` on a fresh proxy connection; what comes back within `wait` seconds."""
    with socket.create_connection(att.tcp_address(), timeout=wait) as sock:
        sock.sendall(data)
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except TimeoutError:
            pass
    return got


def test_only_the_framed_body_follows_a_request_head(attach: Attach) -> None:
    """The origin gets one request and its body, never bytes pipelined behind them (the
    raw echo on port 7 shows what it got)."""
    att = attach(("example.org",))
    smuggled = b"GET http://other.example.net/ HTTP/1.1\r\nHost: other.example.net\r\n\r\n"
    plain = b"GET http://example.org:7/ HTTP/1.1\r\nHost: example.org:7\r\n\r\n"
    echoed = _exchange(att, plain + smuggled)
    assert echoed.startswith(b"GET / HTTP/1.1\r\n") and b"other.example.net" not in echoed
    chunked = (
        b"POST http://example.org:7/ HTTP/1.1\r\nHost: example.org:7\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    echoed = _exchange(att, chunked + smuggled)
    assert echoed.endswith(b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    sized = (
        b"POST http://example.org:7/ HTTP/1.1\r\nHost: example.org:7\r\nContent-Length: 5\r\n\r\n"
    )
    assert _exchange(att, sized + b"hello" + smuggled).endswith(b"\r\n\r\nhello")
    old = b"GET http://example.org/data.json HTTP/1.0\r\n\r\n"  # no Host: one is added
    assert _exchange(att, old).endswith(b'{"host": "example.org"}')
    bare = b"GET http://example.org:7/ HTTP/1.1\r\nHost: example.org:7\r\nX: a\nY: b\r\n\r\n"
    assert _exchange(att, bare).startswith(b"HTTP/1.1 400")
    both = sized.replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    refused = _exchange(att, both + b"0\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 400") and b"both Content-Length" in refused


def test_fetch_rechecks_every_redirect(attach: Attach, internet: Internet) -> None:
    att = attach(("example.org", "search.example.org"))
    ok = fetch(att, FetchRequest("GET", "http://example.org/redirect?to=/data.json"))
    assert (ok.status, ok.body, ok.url) == (
        200,
        b'{"host": "example.org"}',
        "http://example.org/data.json",
    )
    to = "http://other.example.net/data.json"
    refused = fetch(att, FetchRequest("GET", f"https://example.org/redirect?to={to}"))
    assert refused.status == 403 and refused.refused
    assert refused.body == b"sandlot: other.example.net is not in this sandbox's allow_out\n"
    found = fetch(att, FetchRequest("GET", f"{internet.search_url}?q=sandlot&format=json"))
    assert json.loads(found.body)["results"][0]["title"] == "Result 1 for sandlot"
    posted = fetch(att, FetchRequest("POST", "https://example.org/echo", body=b"up" * 1000))
    assert (posted.status, posted.body) == (200, b"up" * 1000)
    assert [r.kind for r in att.log()] == ["fetch"] * 6


def test_fetch_keeps_to_the_caps(attach: Attach) -> None:
    att = attach(("example.org",), caps=NetCaps(max_bytes=4 << 20))
    big = "http://example.org/big?bytes=1073741824"
    kept = fetch(att, FetchRequest("GET", big, max_body=1 << 20))
    assert kept.status == 403 and kept.body == b"sandlot: the response is over 1048576 bytes\n"
    spent = fetch(att, FetchRequest("GET", big))
    assert spent.body == b"sandlot: this sandbox has used its 4 MiB of network\n"
    assert sum(r.bytes_up + r.bytes_down for r in att.log()) == 4 << 20
    after = fetch(att, FetchRequest("GET", "http://example.org/"))
    assert after.refused and b"has used its 4 MiB" in after.body


def test_pip_downloads_from_the_test_index(
    attach: Attach, internet: Internet, tmp_path: Path
) -> None:
    att = attach(("index.example.org",))
    host, port = att.tcp_address()
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "-d"]
    got = subprocess.run(
        [*pip, str(tmp_path), "--proxy", f"http://{host}:{port}", "--index-url",
         internet.index_url, "--trusted-host", "index.example.org", "sandlot-demo"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert got.returncode == 0, got.stdout + got.stderr
    assert [p.name for p in tmp_path.iterdir()] == [internet.wheel.name]


def test_the_unix_listener_serves_the_same_proxy(attach: Attach) -> None:
    att = attach(("example.org",))
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(att.unix_socket())
        sock.sendall(b"GET http://example.org/data.json HTTP/1.1\r\nHost: example.org\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b'{"host": "example.org"}')


def test_secrets_reach_their_host_only_and_each_sandbox_has_its_own_ca(
    attach: Attach, internet: Internet, tmp_path: Path
) -> None:
    secrets = {"api.example.com": {"Authorization": SECRET}}
    att = attach(("api.example.com", "example.org"), secrets=secrets)
    ca = att.ca_pem()
    assert ca is not None and SECRET.encode() not in ca
    (tmp_path / "sandbox-ca.pem").write_bytes(ca)
    secure = curl(
        att, "https://api.example.com/headers", "-H", "Authorization: mine",
        ca=tmp_path / "sandbox-ca.pem",
    )  # fmt: skip
    headers = json.loads(secure.stdout.rsplit("\n", 1)[0])
    assert headers["Authorization"] == SECRET and headers["Host"] == "api.example.com"
    plain = json.loads(curl(att, "http://api.example.com/headers").stdout.rsplit("\n", 1)[0])
    assert plain["Authorization"] == SECRET
    passed = curl(att, "https://example.org/headers", ca=internet.ca_path)  # not intercepted
    assert "Authorization" not in json.loads(passed.stdout.rsplit("\n", 1)[0])
    by_fetch = fetch(att, FetchRequest("GET", "https://api.example.com/headers"))
    assert json.loads(by_fetch.body)["Authorization"] == SECRET
    elsewhere = fetch(att, FetchRequest("GET", "https://example.org/headers"))
    assert "Authorization" not in json.loads(elsewhere.body)
    sock, answer = connect(att, "api.example.com:443")  # intercepted: the SNI still counts
    context = ssl.create_default_context(cafile=str(tmp_path / "sandbox-ca.pem"))
    with pytest.raises((ssl.SSLError, OSError)):
        context.wrap_socket(sock, server_hostname="example.org").recv(1)
    sock.close()
    other = attach(("api.example.com",), secrets=secrets)
    assert other.ca_pem() not in (None, ca)
    strange = curl(other, "https://api.example.com/headers", ca=tmp_path / "sandbox-ca.pem")
    assert strange.returncode != 0  # another sandbox's CA vouches for nothing here
    assert all(SECRET not in repr(r) for r in att.log())
    assert SECRET not in repr(Secrets(secrets))


def test_connections_at_once_are_capped(attach: Attach, internet: Internet) -> None:
    att = attach(("198.18.0.10",), caps=NetCaps(max_connections=2))
    held = [connect(att, f"198.18.0.10:{internet.echo_port}") for _ in range(2)]
    assert all(answer.startswith(b"HTTP/1.1 200") for _, answer in held)
    sock, answer = connect(att, f"198.18.0.10:{internet.echo_port}")
    sock.close()
    assert answer.endswith(b"sandlot: this sandbox's 2 connections are in use\n")
    for s, _ in held:
        s.close()
    time.sleep(0.3)
    again, answer = connect(att, f"198.18.0.10:{internet.echo_port}")
    again.close()
    assert answer.startswith(b"HTTP/1.1 200")


def test_the_byte_cap_cuts_a_download_and_refuses_after(attach: Attach) -> None:
    att = attach(("example.org",), caps=NetCaps(max_bytes=1 << 20))
    big = curl(att, "http://example.org/big?bytes=10000000", "-o", "/dev/null")
    assert big.returncode != 0
    record = att.log()[-1]
    assert record.reason == "sandlot: this sandbox has used its 1 MiB of network"
    assert record.bytes_up + record.bytes_down == 1 << 20
    after = curl(att, "http://example.org/")
    assert after.stdout.endswith("has used its 1 MiB of network\n\n403")


def test_the_rate_cap_slows_a_download(attach: Attach) -> None:
    att = attach(("example.org",), caps=NetCaps(max_rate=256 << 10))
    started = time.monotonic()
    got = curl(att, "http://example.org/big?bytes=786432", "-o", "/dev/null")
    elapsed = time.monotonic() - started
    assert got.stdout.endswith("200") and 1.5 < elapsed < 10  # 1 s of burst, then 2 s


def test_a_download_arrives_whole_by_http_and_through_a_tunnel(attach: Attach) -> None:
    """The last bytes still buffered for the client when the upstream ends are sent before
    the client's connection is closed (they were once dropped: downloads cut short)."""
    att = attach(("example.org", "198.18.0.10"))
    size = 50_000_000
    ways = [((), "http://example.org/big"), ((), "http://198.18.0.10/big")]
    ways.append((("-p",), "http://198.18.0.10/big"))  # CONNECT to an address: raw relay
    for tunnel, url in ways:
        got = curl(
            att,
            f"{url}?bytes={size}",
            *tunnel,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
        )
        assert got.returncode == 0, got.stderr
        assert got.stdout == f"200 {size}"


def test_a_closed_attachment_or_a_dead_gateway_refuses(attach: Attach, internet: Internet) -> None:
    att = attach(("example.org",))
    address, path = att.tcp_address(), att.unix_socket()
    assert curl(att, "http://example.org/").stdout.endswith("200")
    att.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5)
    assert not Path(path).exists()
    assert fetch_refused(att)
    mine = Gateway()  # a gateway of its own, killed as a crash would
    doomed = mine.attach(NetworkPolicy(("198.18.0.10",)), label="doomed")
    address, path = doomed.tcp_address(), doomed.unix_socket()
    tunnel, answer = connect(doomed, f"198.18.0.10:{internet.echo_port}")
    assert answer.startswith(b"HTTP/1.1 200")
    mine.stop()
    with tunnel:  # the open connection is cut, not left hanging
        tunnel.settimeout(5)
        assert tunnel.recv(10) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5)
    with socket.socket(socket.AF_UNIX) as unix, pytest.raises(OSError):
        unix.connect(path)


def fetch_refused(att: Attachment) -> bool:
    answer = fetch(att, FetchRequest("GET", "http://example.org/"))
    return answer.status == 403 and b"network is closed" in answer.body


def test_a_flood_of_connections_is_refused_past_the_cap_and_others_are_served(
    attach: Attach, internet: Internet
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    flooded = attach(("198.18.0.10",), caps=NetCaps(max_connections=64))
    neighbour = attach(("example.org",))
    socks: list[socket.socket] = []
    answers: list[bytes] = []
    try:
        for _ in range(500):
            sock, answer = connect(flooded, f"198.18.0.10:{internet.echo_port}")
            socks.append(sock)
            answers.append(answer[:12])
        assert answers.count(b"HTTP/1.1 200") == 64
        assert answers.count(b"HTTP/1.1 403") == 500 - 64
        assert curl(neighbour, "http://example.org/").stdout.endswith("200")
    finally:
        for sock in socks:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_slowloris_is_dropped_after_the_head_timeout(attach: Attach) -> None:
    att = attach(("example.org",), caps=NetCaps(head_timeout=1.0))
    sock = socket.create_connection(att.tcp_address(), timeout=10)
    sock.sendall(b"GET http://example.org/ HTTP/1.1\r\n")
    started = time.monotonic()
    answer = b""
    try:
        for i in range(40):
            sock.sendall(f"X-Slow-{i}: y\r\n".encode())
            time.sleep(0.1)
    except OSError:
        pass  # cut while trickling
    sock.settimeout(5)
    with sock:
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 6
    assert last_record(att, "")[1] == "sandlot: the client was too slow to send its request"


def test_an_idle_connection_is_cut_and_frees_its_slot(attach: Attach, internet: Internet) -> None:
    att = attach(("198.18.0.10",), caps=NetCaps(max_connections=1, idle_timeout=1.0))
    sock, answer = connect(att, f"198.18.0.10:{internet.echo_port}")
    assert answer.startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    sock.settimeout(10)
    with sock:
        assert sock.recv(10) == b"" and time.monotonic() - started < 5
    assert last_record(att, "198.18.0.10")[1] == "sandlot: the connection carried nothing for 1 s"
    again, answer = connect(att, f"198.18.0.10:{internet.echo_port}")
    again.close()
    assert answer.startswith(b"HTTP/1.1 200")


def test_giant_headers_are_refused(attach: Attach) -> None:
    att = attach(("example.org",))
    giant = curl(att, "http://example.org/", "-H", "X-Giant: " + "a" * (100 << 10))
    assert giant.stdout.endswith("sandlot: the request head is too large\n\n431")


def test_a_gigabyte_download_stops_at_the_byte_cap_in_bounded_memory(attach: Attach) -> None:
    att = attach(("example.org",), caps=NetCaps(max_bytes=16 << 20))
    before = _rss()
    got = curl(att, "http://example.org/big?bytes=1073741824", "-o", "/dev/null")
    assert got.returncode != 0
    record = att.log()[-1]
    assert record.bytes_up + record.bytes_down == 16 << 20
    assert "has used its 16 MiB" in record.reason
    assert _rss() - before < 32 << 20


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) << 10
    raise AssertionError("no VmRSS")


def test_the_gateway_serves_from_its_own_daemon_thread(attach: Attach) -> None:
    attach(("example.org",))
    assert gateway() is gateway() and gateway().alive
    assert any(t.name == "sandlot-net" and t.daemon for t in threading.enumerate())
