"""The network checks every Linux tier passes (process, gvisor), against the test internet:
`test_process_network.py` and `test_gvisor_network.py` subclass `LinuxTierNetwork` with
their tier. A real sandbox each, a real gateway, no mocks.

The sandbox's namespace holds only loopback: its one way out is the agent's forwarder on
127.0.0.1:3128 to the gateway's Unix socket, which the proxy variables point at.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator

import pytest

from sandlot import Sandbox
from sandlot import TimeoutError as SandboxTimeout
from sandlot.network.gateway import gateway
from sandlot.network.log import ConnectionRecord
from tests.net.internet import Internet

SECRET = "sk-test-" + secrets.token_hex(12)  # a value nothing in the sandbox may ever see
POLICY = {"allow_out": ["example.org", "index.example.org", "api.example.com"]}
SECRETS = {"api.example.com": {"Authorization": f"Bearer {SECRET}"}}
TEST_CA = "/tmp/test-ca.pem"  # the test servers' CA, for hosts the gateway passes through
DENIED = "sandlot: other.example.net is not in this sandbox's allow_out"


def records_for(sbx: Sandbox, host: str, wait: float = 10.0) -> list[ConnectionRecord]:
    """The log's records for `host`, once there are some: a connection's record is written
    when the gateway sees it end, which may be just after the client has exited."""
    deadline = time.monotonic() + wait
    while True:
        found = [r for r in sbx.network.log() if r.host == host]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


class LinuxTierNetwork:
    """Subclassed per tier (`tier`); the template's userland must have curl and pip."""

    tier: str
    template = "host"

    @pytest.fixture(scope="class")
    @classmethod
    def net_sbx(cls, internet: Internet) -> Iterator[Sandbox]:
        with Sandbox.create(cls.template, tier=cls.tier, network=POLICY, secrets=SECRETS) as sbx:
            sbx.files.write(TEST_CA, internet.ca_path.read_bytes())
            yield sbx

    def run(self, sbx: Sandbox, cmd: str, timeout: float = 60.0) -> tuple[int, str, str]:
        r = sbx.commands.run(cmd, timeout=timeout)
        return r.exit_code, r.stdout, r.stderr

    # -- default deny -------------------------------------------------------------------

    def test_no_network_by_default(self, internet: Internet) -> None:
        with Sandbox.create(self.template, tier=self.tier) as sbx:
            started = time.monotonic()
            code, out, err = self.run(
                sbx,
                "env | grep -i _proxy; test -e /run/sandlot && echo has-run-sandlot; "
                "curl -sS -m 10 http://198.18.0.10/; "
                "curl -sS -m 10 -x http://127.0.0.1:3128 http://example.org/",
            )
            assert time.monotonic() - started < 15  # refused, not hung
            assert code != 0 and "hello" not in out
            assert "proxy" not in out.lower() and "has-run-sandlot" not in out
            assert sbx.network.log() == []

    # -- allowed hosts ------------------------------------------------------------------

    def test_curl_reaches_allowed_hosts(self, net_sbx: Sandbox) -> None:
        code, out, err = self.run(
            net_sbx,
            "curl -sS -m 20 http://example.org/ && "
            f"curl -sS -m 20 --cacert {TEST_CA} https://example.org/data.json",
        )
        assert code == 0, err
        assert "hello from example.org" in out
        assert '{"host": "example.org"}' in out
        allowed = [r for r in records_for(net_sbx, "example.org") if r.allowed]
        assert allowed and all(r.bytes_down > 0 for r in allowed)

    def test_pip_installs_from_the_test_index(self, net_sbx: Sandbox, internet: Internet) -> None:
        # how a user points pip at an index of their own: PIP_INDEX_URL and PIP_TRUSTED_HOST
        code, out, err = self.run(
            net_sbx,
            f"PIP_INDEX_URL={internet.index_url} PIP_TRUSTED_HOST=index.example.org "
            "python3 -m pip install -q --no-cache-dir --disable-pip-version-check "
            "--target /tmp/pkgs sandlot-demo && "
            "PYTHONPATH=/tmp/pkgs python3 -c 'import sandlot_demo; print(sandlot_demo.WHERE)'",
            timeout=120,
        )
        assert code == 0, out + err
        assert "the sandlot test index" in out

    def test_python_urllib_and_requests(self, net_sbx: Sandbox) -> None:
        ex = net_sbx.run_code(
            "import urllib.request\n"
            "urllib.request.urlopen('http://example.org/', timeout=20).read().decode()"
        )
        assert ex.error is None, ex.error
        assert "hello from example.org" in ex.text
        ex = net_sbx.run_code(
            "try:\n    import requests\nexcept ImportError:\n    requests = None\n"
            "repr(requests and requests.get('http://example.org/data.json', timeout=20).json())"
        )
        assert ex.error is None, ex.error
        assert ex.text.strip("'\"") in ("None", "{'host': 'example.org'}")

    # -- refusals -----------------------------------------------------------------------

    def test_denied_host_is_told_why(self, net_sbx: Sandbox) -> None:
        code, out, err = self.run(net_sbx, "curl -s -m 20 http://other.example.net/")
        assert out.strip() == DENIED
        code, out, err = self.run(
            net_sbx, f"curl -sS -m 20 --cacert {TEST_CA} https://other.example.net/"
        )
        assert code != 0 and "403" in err
        refused = records_for(net_sbx, "other.example.net")
        assert refused and not any(r.allowed for r in refused)
        assert all("allow_out" in r.reason for r in refused)

    def test_raw_tcp_to_a_denied_address_is_refused(self, net_sbx: Sandbox) -> None:
        ex = net_sbx.run_code(
            "import socket, time\n"
            "s = socket.create_connection(('127.0.0.1', 3128), timeout=20)\n"
            "s.sendall(b'CONNECT 198.18.0.12:7 HTTP/1.1\\r\\nHost: 198.18.0.12:7\\r\\n\\r\\n')\n"
            "via_proxy = s.recv(4096).decode()\n"
            "t = time.monotonic()\n"
            "try:\n"
            "    socket.create_connection(('198.18.0.12', 7), timeout=20)\n"
            "    direct = 'connected'\n"
            "except OSError as e:\n"
            "    direct = type(e).__name__\n"
            "(via_proxy.split('\\r\\n')[0], direct, time.monotonic() - t < 2)"
        )
        assert ex.error is None, ex.error
        status, direct, quick = eval(ex.text)  # a tuple of str, str, bool
        assert " 403" in status
        assert direct != "connected" and quick

    def test_a_program_ignoring_the_proxy_has_no_route(self, net_sbx: Sandbox) -> None:
        started = time.monotonic()
        code, out, err = self.run(
            net_sbx,
            "curl -sS -m 20 --noproxy '*' http://example.org/; echo rc=$?; "
            "python3 -c \"import socket; socket.getaddrinfo('example.org', 80)\" 2>&1 | tail -1",
        )
        assert time.monotonic() - started < 10  # no route and no resolver: at once
        assert "hello" not in out and "rc=0" not in out
        assert "gaierror" in out  # names are the gateway's to resolve, never the sandbox's

    def test_a_connection_flood_leaves_the_network_usable(self, net_sbx: Sandbox) -> None:
        ex = net_sbx.run_code(
            "import socket\n"
            "held = []\n"
            "for _ in range(700):\n"
            "    try:\n"
            "        held.append(socket.create_connection(('127.0.0.1', 3128), timeout=5))\n"
            "    except OSError:\n"
            "        break\n"
            "count = len(held)\n"
            "for s in held:\n"
            "    s.close()\n"
            "del held\n"
            "count",
            timeout=60,
        )
        assert ex.error is None, ex.error
        assert int(ex.text) > 0
        code, out, err = self.run(net_sbx, "sleep 0.5; curl -sS -m 20 http://example.org/")
        assert "hello from example.org" in out, err

    # -- secrets ------------------------------------------------------------------------

    def test_secret_is_added_for_its_host_only(self, net_sbx: Sandbox) -> None:
        code, out, err = self.run(net_sbx, "curl -sS -m 20 https://api.example.com/headers")
        assert code == 0, err
        assert json.loads(out).get("Authorization") == f"Bearer {SECRET}"
        code, out, err = self.run(
            net_sbx,
            "curl -sS -m 20 http://example.org/headers; echo; "
            f"curl -sS -m 20 --cacert {TEST_CA} https://example.org/headers",
        )
        assert code == 0, err
        assert SECRET not in out and "Authorization" not in out

    def test_secret_is_invisible_inside(self, net_sbx: Sandbox) -> None:
        code, out, err = self.run(
            net_sbx,
            f"env | grep -c {SECRET}; "
            f"grep -rlas {SECRET} /proc/[0-9]*/environ /proc/[0-9]*/cmdline /home /tmp /run /etc"
            " 2>/dev/null | head; echo done",
        )
        assert SECRET not in out and out.split()[0] == "0" and out.split()[-1] == "done"
        ex = net_sbx.run_code(f"import os; any({SECRET!r} in v for v in os.environ.values())")
        assert ex.text == "False"
        assert SECRET not in repr(net_sbx)

    def test_the_network_outlives_an_agent_restart(self, internet: Internet) -> None:
        with Sandbox.create(self.template, tier=self.tier, network=POLICY) as sbx:
            with pytest.raises(SandboxTimeout, match="restarted"):
                sbx.run_code(
                    "import signal, time\n"
                    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                    "time.sleep(100)",
                    timeout=2,
                )
            code, out, err = self.run(sbx, "curl -sS -m 20 http://example.org/")
            assert "hello from example.org" in out, err

    # -- fail closed --------------------------------------------------------------------

    def test_no_network_once_the_gateway_is_gone(self, internet: Internet) -> None:
        with Sandbox.create(self.template, tier=self.tier, network=POLICY) as sbx:
            code, out, _ = self.run(sbx, "curl -sS -m 20 http://example.org/")
            assert "hello from example.org" in out
            gateway().stop()  # what a crash of the gateway's thread does
            started = time.monotonic()
            code, out, err = self.run(sbx, "curl -sS -m 20 http://example.org/; echo rc=$?")
            assert time.monotonic() - started < 10  # refused, never hung
            assert "hello" not in out and "rc=0" not in out
        # a new sandbox of the same spec gets a new gateway: never a spare attached to the old
        with Sandbox.create(self.template, tier=self.tier, network=POLICY) as again:
            code, out, err = self.run(again, "curl -sS -m 20 http://example.org/")
            assert "hello from example.org" in out, err
