"""Network by policy on the wasm tier: the guest has no sockets, so urllib, http.client and
the shell's curl and wget go through the fetch bridge (a door frame the host answers with
`network.fetch` on the sandbox's attachment). Real sandboxes, a real gateway, the test
internet; no mocks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandlot import Limits, Sandbox
from sandlot.models import NetworkPolicy, Secrets
from sandlot.network.gateway import gateway
from sandlot.runtimes.base import SandboxSpec
from sandlot.runtimes.wasm.net import NO_NETWORK
from sandlot.runtimes.wasm.runtime import WasmRuntime
from sandlot.runtimes.wasm.sandbox import MEMORY_FILE
from tests.net.internet import Internet
from tests.net.linux_tier_checks import DENIED, POLICY, SECRET, SECRETS, records_for

MEMORY = 256 << 20  # the bridge keeps a response to an eighth of it: 32 MiB


@pytest.fixture(scope="module")
def net_sbx(internet: Internet) -> Iterator[Sandbox]:
    with Sandbox.create(
        tier="wasm", network=POLICY, secrets=SECRETS, limits=Limits(memory_bytes=MEMORY)
    ) as sbx:
        yield sbx


def sh(sbx: Sandbox, cmd: str) -> tuple[int, str, str]:
    r = sbx.commands.run(cmd, timeout=60)
    return r.exit_code, r.stdout, r.stderr


def py(sbx: Sandbox, code: str) -> str:
    ex = sbx.run_code(code, timeout=60)
    assert ex.error is None, ex.error.traceback if ex.error else ""
    return ex.text or ""


def test_the_wasm_tier_is_chosen_for_a_network_and_has_no_network_by_default(
    internet: Internet,
) -> None:
    with Sandbox.create(tier="wasm") as sbx:
        out = py(
            sbx,
            "import urllib.request, urllib.error\n"
            "try:\n"
            "    urllib.request.urlopen('http://example.org/')\n"
            "    got = 'reached'\n"
            "except urllib.error.URLError as e:\n"
            "    got = str(e.reason)\n"
            "got",
        )
        assert NO_NETWORK in out
        code, _, err = sh(sbx, "curl -sS http://example.org/")
        assert code == 7 and NO_NETWORK in err
        assert sbx.network.log() == []
    with Sandbox.create(network={"allow_out": ["example.org"]}) as chosen:
        assert chosen.tier == "wasm"  # the lightest tier that enforces a policy


def test_urllib_and_http_client_reach_allowed_hosts(net_sbx: Sandbox) -> None:
    out = py(
        net_sbx,
        "import urllib.request\n"
        "a = urllib.request.urlopen('http://example.org/', timeout=20).read().decode()\n"
        "b = urllib.request.urlopen('https://example.org/data.json').read().decode()\n"
        "req = urllib.request.Request('https://example.org/echo', data=b'posted', method='POST')\n"
        "c = urllib.request.urlopen(req).read().decode()\n"
        "(a, b, c)",
    )
    assert eval(out) == ("hello from example.org\n", '{"host": "example.org"}', "posted")
    out = py(
        net_sbx,
        "import http.client\n"
        "conn = http.client.HTTPSConnection('example.org', timeout=20)\n"
        "conn.request('GET', '/data.json', headers={'X-Test': '1'})\n"
        "r = conn.getresponse()\n"
        "first = (r.status, r.reason, r.getheader('content-type'), r.read().decode())\n"
        "conn.request('POST', '/echo', body=b'x' * 70000)\n"  # the same connection again
        "second = len(conn.getresponse().read())\n"
        "plain = http.client.HTTPConnection('example.org')\n"
        "plain.request('GET', '/')\n"
        "(first, second, plain.getresponse().read().decode())",
    )
    first, second, plain = eval(out)
    assert first == (200, "OK", "application/json", '{"host": "example.org"}')
    assert second == 70000 and plain == "hello from example.org\n"
    ports = {r.port for r in records_for(net_sbx, "example.org") if r.allowed}
    assert ports == {80, 443}


def test_bodies_sent_in_blocks_and_in_chunks(net_sbx: Sandbox) -> None:
    out = py(
        net_sbx,
        "import http.client, io\n"
        "conn = http.client.HTTPConnection('example.org', timeout=20)\n"
        "conn.request('POST', '/echo', body=io.BytesIO(b'b' * 3_000_000), "
        "headers={'Content-Length': '3000000'})\n"  # sent 8 KiB at a time
        "blocks = conn.getresponse().read()\n"
        "conn.request('POST', '/echo', body=iter([b'one,', b'two']), encode_chunked=True)\n"
        "(blocks == b'b' * 3_000_000, conn.getresponse().read())",
    )
    assert out == "(True, b'one,two')"


def test_requests_is_not_in_the_guest() -> None:
    with Sandbox.create(tier="wasm") as sbx:  # so urllib and http.client are what there is
        assert (
            py(sbx, "import importlib.util; importlib.util.find_spec('requests') is None") == "True"
        )


def test_curl_and_wget_reach_allowed_hosts(net_sbx: Sandbox) -> None:
    code, out, err = sh(
        net_sbx,
        "curl -sS http://example.org/ && curl -sS https://example.org/data.json && "
        "curl -s -o /tmp/d.json -w '%{http_code}\\n' https://example.org/data.json && "
        "cat /tmp/d.json && curl -sS -X POST -H 'Content-Type: text/plain' -d hi "
        "https://example.org/echo",
    )
    assert code == 0, err
    assert out == ('hello from example.org\n{"host": "example.org"}200\n{"host": "example.org"}hi')
    code, out, err = sh(
        net_sbx,
        "cd /tmp && wget -q https://example.org/data.json && cat data.json && "
        "wget -q -O - http://example.org/ && wget -q -O page http://example.org/ && cat page",
    )
    assert code == 0, err
    assert out == '{"host": "example.org"}' + "hello from example.org\n" * 2
    code, out, err = sh(net_sbx, "curl -si http://example.org/")
    assert out.startswith("HTTP/1.1 200 OK\r\n") and out.endswith(
        "\r\n\r\nhello from example.org\n"
    )


def test_denied_hosts_are_told_why(net_sbx: Sandbox) -> None:
    out = py(
        net_sbx,
        "import urllib.request, urllib.error\n"
        "try:\n"
        "    urllib.request.urlopen('https://other.example.net/')\n"
        "except urllib.error.HTTPError as e:\n"
        "    got = (e.code, e.read().decode())\n"
        "got",
    )
    assert eval(out) == (403, DENIED + "\n")
    code, out, err = sh(net_sbx, "curl -s http://other.example.net/")
    assert code == 0 and out.strip() == DENIED
    code, out, err = sh(net_sbx, "curl -sSf https://other.example.net/")
    assert code == 22 and out == ""
    assert err.startswith("curl: (22) The requested URL returned error: 403\n") and DENIED in err
    code, out, err = sh(net_sbx, "wget -q -O /tmp/x http://other.example.net/")
    assert code == 8 and "ERROR 403" in err and DENIED in err
    refused = records_for(net_sbx, "other.example.net")
    assert refused and not any(r.allowed for r in refused)
    assert {r.kind for r in refused} == {"fetch"}


def test_a_redirect_to_a_denied_host_is_refused(net_sbx: Sandbox) -> None:
    hop = "https://example.org/redirect?to=http://other.example.net/"
    code, out, err = sh(net_sbx, f"curl -sSL '{hop}'")
    assert out.strip() == DENIED
    code, out, err = sh(net_sbx, f"curl -s -w '%{{http_code}}' '{hop}'")
    assert out.endswith("302")  # without -L: the redirect itself
    out = py(
        net_sbx,
        "import urllib.request, urllib.error\n"
        "try:\n"
        f"    urllib.request.urlopen({hop!r})\n"
        "except urllib.error.HTTPError as e:\n"
        "    got = (e.code, e.read().decode())\n"
        "got",
    )
    assert eval(out) == (403, DENIED + "\n")
    allowed = "http://example.org/redirect?to=https://example.org/data.json"
    code, out, err = sh(net_sbx, f"curl -sSL '{allowed}' && wget -q -O - '{allowed}'")
    assert out == '{"host": "example.org"}' * 2


def test_the_secret_is_added_for_its_host_only(net_sbx: Sandbox) -> None:
    code, out, err = sh(net_sbx, "curl -sS https://api.example.com/headers")
    assert code == 0, err
    assert json.loads(out).get("Authorization") == f"Bearer {SECRET}"
    out = py(
        net_sbx,
        "import urllib.request\n"
        "urllib.request.urlopen('http://example.org/headers').read().decode() + "
        "urllib.request.urlopen('https://example.org/headers').read().decode()",
    )
    assert SECRET not in out and "Authorization" not in out


def test_the_secret_never_enters_the_guest(internet: Internet, tmp_path: Path) -> None:
    """Not in its environment, its files, nor anywhere in its linear memory (dumped from
    the host side: the checkpoint's copy) after requests that carried it."""
    spec = SandboxSpec(
        "base",
        Limits(memory_bytes=MEMORY),
        network=NetworkPolicy.parse(POLICY),
        secrets=Secrets(SECRETS),
    )
    box = WasmRuntime().open(spec)
    try:
        limits = spec.limits
        ex = box.run_code(
            "import os, urllib.request\n"
            "body = urllib.request.urlopen('https://api.example.com/data.json').read()\n"
            "(body, any('sk-test-' in v for v in os.environ.values()))",
            limits=limits,
            on_stdout=None,
            on_stderr=None,
        )
        assert ex.error is None and ex.text == '(b\'{"host": "api.example.com"}\', False)'
        done = box.run_command(
            "curl -sS https://api.example.com/data.json; env; grep -rl sk-test- / ; echo end",
            limits=limits,
            stdin="",
            on_stdout=None,
            on_stderr=None,
        )
        assert done.stdout.endswith("end\n") and "sk-test-" not in done.stdout
        box.save(tmp_path)
        memory = (tmp_path / MEMORY_FILE).read_bytes()
        assert len(memory) > 1 << 20 and b"api.example.com" in memory  # the dump is real
        assert SECRET.encode() not in memory and SECRET.encode("utf-16-le") not in memory
        assert [r.host for r in box.network_log()] == ["api.example.com"] * 2
    finally:
        box.close()


def test_a_big_download_is_cut_at_the_cap(net_sbx: Sandbox) -> None:
    cap = MEMORY // 8
    code, out, err = sh(
        net_sbx, f"curl -s -w ' %{{http_code}}' 'http://example.org/big?bytes={cap + 1}'"
    )
    assert out == f"sandlot: the response is over {cap} bytes\n 403"
    code, out, err = sh(net_sbx, f"curl -s 'http://example.org/big?bytes={cap}' | wc -c")
    assert out.strip() == str(cap)
    cut = [r for r in records_for(net_sbx, "example.org") if "over" in r.reason]
    assert cut and cut[-1].bytes_down > cap


def test_the_log_records_each_request(internet: Internet) -> None:
    with Sandbox.create(tier="wasm", network=POLICY) as sbx:
        sh(sbx, "curl -s http://example.org/; curl -s https://other.example.net/")
        py(sbx, "import urllib.request; urllib.request.urlopen('https://example.org/').read()")
        log = sbx.network.log()
        got = [(r.host, r.port, r.allowed, r.kind) for r in log]
        assert got == [
            ("example.org", 80, True, "fetch"),
            ("other.example.net", 443, False, "fetch"),
            ("example.org", 443, True, "fetch"),
        ]
        assert log[0].bytes_down > 0 and log[1].reason == DENIED
        assert all(r.time <= time.time() for r in log)


def test_fork_and_pause_keep_the_network(internet: Internet) -> None:
    with Sandbox.create(tier="wasm", network=POLICY, secrets=SECRETS) as sbx:
        py(sbx, "import urllib.request")
        (child,) = sbx.fork()
        with child:
            code, out, err = sh(child, "curl -sS https://api.example.com/headers")
            assert json.loads(out).get("Authorization") == f"Bearer {SECRET}"
            assert "hello" in py(
                child, "urllib.request.urlopen('http://example.org/').read().decode()"
            )
            assert sh(child, "curl -s http://other.example.net/")[1].strip() == DENIED
            assert [r.host for r in child.network.log()][:1] == ["api.example.com"]
        assert sbx.network.log() == []  # the fork's requests are its own
        sandbox_id = sbx.pause()
        again = Sandbox.connect(sandbox_id)
        with again:
            code, out, err = sh(again, "curl -sS http://example.org/")
            assert out == "hello from example.org\n", err
            assert "hello" in py(
                again, "urllib.request.urlopen('https://example.org/').read().decode()"
            )


def test_a_request_the_host_will_not_make_is_an_error_not_a_request(net_sbx: Sandbox) -> None:
    out = py(
        net_sbx,
        "import urllib.request, urllib.error\n"
        "req = urllib.request.Request('http://example.org/', "
        "headers={f'X-{i}': '1' for i in range(300)})\n"
        "try:\n"
        "    urllib.request.urlopen(req)\n"
        "    got = 'made'\n"
        "except urllib.error.URLError as e:\n"
        "    got = str(e.reason)\n"
        "got",
    )
    assert "at most 256" in out
    code, out, err = sh(net_sbx, "curl -sS http://example.org/ -H 'X-Bad: a' -H ': none'")
    assert code == 0 and out == "hello from example.org\n"  # a header without a name is left out


def test_a_fetch_frame_over_the_door_budget_is_dropped_unread(net_sbx: Sandbox) -> None:
    out = py(
        net_sbx,
        "import _host\n"
        "frame = b'{\"ev\":\"fetch\",\"headers\":[' + b'0,' * 1_100_000 + b'0]}'\n"
        "_host.call(frame)",
    )
    assert out == "b''"  # 1.1 million items: over the door's budget, never parsed
    assert sh(net_sbx, "curl -sS http://example.org/")[1] == "hello from example.org\n"


def test_no_network_once_the_gateway_is_gone(internet: Internet) -> None:
    """Last in this file: it stops the process's gateway (what a crash of its thread does)."""
    with Sandbox.create(tier="wasm", network=POLICY) as sbx:
        assert sh(sbx, "curl -sS http://example.org/")[1] == "hello from example.org\n"
        gateway().stop()
        started = time.monotonic()
        code, out, err = sh(sbx, "curl -sS http://example.org/")
        assert code == 7 and "hello" not in out and "gateway has stopped" in err
        assert time.monotonic() - started < 10  # refused, never hung
    with Sandbox.create(tier="wasm", network=POLICY) as again:  # a new one: a new gateway
        assert sh(again, "curl -sS http://example.org/")[1] == "hello from example.org\n"
