"""`network=` and `secrets=` through every front end: the SDK's arguments (E2B's shape,
bad entries, secrets kept out of reprs and errors), the CLI's --allow-out, the REST API
(passed through, secrets never echoed) with the remote client, and the MCP operator's
switch. Real sandboxes on the process tier, against the test internet."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandlot import InvalidArgument, Sandbox
from sandlot.mcp.policy import McpConfig, NotAllowed, plan
from sandlot.models import NetworkPolicy, Secrets
from sandlot.runtimes.process.runtime import probe
from sandlot.server import KeyStore, ServerConfig
from tests.net.internet import Internet
from tests.net.linux_tier_checks import records_for
from tests.server.conftest import serving

SECRET = "sk-front-" + "7" * 20
SECRETS = {"api.example.com": {"Authorization": f"Bearer {SECRET}"}}


@pytest.fixture(autouse=True, scope="module")
def _needs_process_tier() -> None:
    available = probe()
    if not available.ok:
        pytest.skip(f"process tier unavailable here: {available.reason} ({available.fix})")


def _curl(sbx: Sandbox, url: str) -> str:
    return sbx.commands.run(f"curl -sS -m 20 {url}", timeout=60).stdout


# -- the SDK ------------------------------------------------------------------------------


def test_e2b_internet_access_shapes(internet: Internet) -> None:
    with Sandbox.create("host", tier="process", network={"allow_internet_access": False}) as sbx:
        assert "HTTP_PROXY" not in sbx.commands.run("env").stdout  # False alone: no network
    with Sandbox.create(
        "host",
        tier="process",
        network={"allow_internet_access": True, "deny_out": ["other.example.net"]},
    ) as sbx:
        assert "hello from www.example.com" in _curl(sbx, "http://www.example.com/")
        assert "deny_out" in _curl(sbx, "http://other.example.net/")
        assert "private address" in _curl(sbx, "http://rebind.example.com/")  # even with "*"


def test_a_policy_value_and_selection_by_capability(internet: Internet) -> None:
    with Sandbox.create("host", network=NetworkPolicy(("example.org",))) as sbx:
        assert sbx.tier in ("process", "gvisor", "microvm", "wasm")  # one that enforces it
        assert "hello from example.org" in _curl(sbx, "http://example.org/")
        assert [r.host for r in records_for(sbx, "example.org")] == ["example.org"]


@pytest.mark.parametrize(
    "network",
    [
        {"allow_out": "example.org"},  # a string, not a list
        {"allow_out": ["exa mple.org"]},
        {"allow_out": ["198.18.0.0/33"]},
        {"allow_out": ["example.org:99999"]},
        {"allow": ["example.org"]},  # unknown key
        {"allow_internet_access": "yes"},
        ["example.org"],
    ],
)
def test_bad_network_is_invalid_before_anything_starts(network: Any) -> None:
    with pytest.raises(InvalidArgument):
        Sandbox.create("host", tier="process", network=network)


def test_secrets_need_a_network_and_never_show() -> None:
    with pytest.raises(InvalidArgument) as caught:
        Sandbox.create("host", tier="process", secrets=SECRETS)
    assert SECRET not in str(caught.value) and "api.example.com" in str(caught.value)
    with pytest.raises(InvalidArgument) as caught:
        Sandbox.create(
            "host",
            tier="process",
            network={"allow_out": ["api.example.com"]},
            secrets={"api.example.com": {"Bad Header": SECRET}},
        )
    assert SECRET not in str(caught.value)
    held = Secrets(SECRETS)
    assert SECRET not in repr(held) and SECRET not in str(held)


def test_secrets_stay_out_of_the_sandbox_and_its_reprs(internet: Internet) -> None:
    with Sandbox.create(
        "host", tier="process", network={"allow_out": ["api.example.com"]}, secrets=SECRETS
    ) as sbx:
        headers = json.loads(_curl(sbx, "https://api.example.com/headers"))
        assert headers["Authorization"] == f"Bearer {SECRET}"  # added by the gateway
        assert SECRET not in repr(sbx)
        assert SECRET not in repr(sbx._core._spec())
        assert all(SECRET not in repr(r) for r in sbx.network.log())


# -- the CLI ------------------------------------------------------------------------------


def _sandlot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
    )


def test_cli_allow_out(internet: Internet) -> None:
    done = _sandlot(
        "exec",
        "--allow-out",
        "example.org",
        "--allow-out",
        "api.example.com",
        "curl -sS -m 20 http://example.org/; curl -s -m 20 http://other.example.net/",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hello from example.org" in done.stdout
    assert "not in this sandbox's allow_out" in done.stdout
    done = _sandlot(
        "run",
        "--allow-out",
        "example.org",
        "-c",
        "import urllib.request; print(urllib.request.urlopen('http://example.org/').read())",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hello from example.org" in done.stdout
    done = _sandlot("exec", "curl -sS -m 5 http://example.org/")  # no flag: no network
    assert done.returncode != 0 and "hello" not in done.stdout
    done = _sandlot("exec", "--allow-out", "exa mple.org", "true")
    assert done.returncode == 1 and "InvalidArgument" in done.stderr


def test_cli_shell_and_root_allow_out(internet: Internet) -> None:
    done = _sandlot("--allow-out", "example.org", stdin="curl -sS -m 20 http://example.org/\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hello from example.org" in done.stdout
    done = _sandlot("--allow-out", "example.org", "exec", "curl -sS -m 20 http://example.org/")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hello from example.org" in done.stdout


# -- the REST API and the remote client ---------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("net-server")
    store = KeyStore(folder / "server.db")
    _, key = store.create()
    with serving(ServerConfig(data_dir=folder), store) as (url, _app):
        yield url, key
    store.close()


def test_rest_passes_network_and_secrets_through_and_never_echoes_them(
    internet: Internet, server: tuple[str, str]
) -> None:
    import httpx

    url, key = server
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as api:
        r = api.post(
            "/v1/sandboxes",
            json={
                "template": "host",
                "tier": "process",
                "network": {"allow_out": ["api.example.com", "example.org"]},
                "secrets": SECRETS,
            },
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        seen = [r.text, api.get(f"/v1/sandboxes/{sid}").text, api.get("/v1/sandboxes").text]
        run = api.post(
            f"/v1/sandboxes/{sid}/commands",
            json={"cmd": "curl -sS -m 20 https://api.example.com/headers"},
        )
        assert run.status_code == 200, run.text
        assert SECRET in run.text  # the upstream echoed what the gateway added
        bad = api.post(
            "/v1/sandboxes",
            json={"template": "host", "secrets": {"api.example.com": {"Bad Header": SECRET}}},
        )
        assert bad.status_code in (400, 422)
        seen.append(bad.text)
        assert api.delete(f"/v1/sandboxes/{sid}").status_code == 204
    assert all(SECRET not in text for text in seen)


def test_remote_client_sends_network_and_secrets(
    internet: Internet, server: tuple[str, str]
) -> None:
    url, key = server
    with Sandbox.create(
        "host",
        tier="process",
        base_url=url,
        api_key=key,
        network={"allow_out": ["api.example.com"]},
        secrets=SECRETS,
    ) as sbx:
        headers = json.loads(_curl(sbx, "https://api.example.com/headers"))
        assert headers["Authorization"] == f"Bearer {SECRET}"
        assert "allow_out" in _curl(sbx, "http://example.org/")
        # the server's gateway log comes back through the remote client
        seen = {(r.host, r.allowed) for r in sbx.network.log()}
        assert ("api.example.com", True) in seen and ("example.org", False) in seen
        assert all(SECRET not in repr(r) for r in sbx.network.log())


# -- the MCP server's operator switch -----------------------------------------------------


def test_mcp_network_only_where_the_operator_allows_it(tmp_path: Path) -> None:
    with pytest.raises(NotAllowed, match="allow_network"):
        plan(McpConfig(), "host", None, networked=True)
    config = McpConfig(templates=("host",), default_template="host", allow_network=True)
    where = plan(config, "host", None, networked=True)
    assert where.tiers and all("network" in _caps(t) for t in where.tiers)
    (tmp_path / "mcp.toml").write_text("allow_network = true\n")
    assert McpConfig.from_file(tmp_path / "mcp.toml").allow_network
    (tmp_path / "mcp.toml").write_text('allow_network = "yes"\n')
    with pytest.raises(ValueError, match="true or false"):
        McpConfig.from_file(tmp_path / "mcp.toml")


def _caps(tier: str) -> frozenset[str]:
    from sandlot.runtimes.registry import tier_named

    return tier_named(tier).capabilities


def _mcp_session(config: McpConfig, *calls: tuple[str, dict[str, Any]]) -> list[str]:
    """The tool calls in one in-process MCP session; each answer's text ("ERROR " first
    when it is a tool error). An argument "SID" is the id the first answer named."""
    import anyio
    from mcp.shared.memory import create_connected_server_and_client_session

    from sandlot.mcp import SandboxRegistry, build_server

    server = build_server(registry=SandboxRegistry(), config=config)
    texts: list[str] = []

    async def scenario() -> None:
        async with create_connected_server_and_client_session(server) as session:
            for name, args in calls:
                sid = texts[0].splitlines()[0] if texts else ""
                given = {k: sid if v == "SID" else v for k, v in args.items()}
                r = await session.call_tool(name, given)
                body = "".join(getattr(c, "text", "") for c in r.content)
                texts.append(("ERROR " if r.isError else "") + body)

    anyio.run(scenario)
    return texts


def test_mcp_create_sandbox_with_allow_out(internet: Internet) -> None:
    create = ("create_sandbox", {"template": "host", "allow_out": ["example.org"]})
    host_ok = {"tiers": ("wasm", "process"), "templates": ("host",), "default_template": "host"}
    (refused,) = _mcp_session(McpConfig(**host_ok), create)
    assert refused.startswith("ERROR") and "allow_network" in refused
    created, fetched, denied = _mcp_session(
        McpConfig(**host_ok, allow_network=True),
        create,
        ("run_command", {"command": "curl -sS -m 20 http://example.org/", "sandbox_id": "SID"}),
        (
            "run_command",
            {"command": "curl -s -m 20 http://other.example.net/", "sandbox_id": "SID"},
        ),
    )
    assert "tier process" in created, created
    assert "hello from example.org" in fetched, fetched
    assert "not in this sandbox's allow_out" in denied, denied
