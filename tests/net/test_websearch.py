"""`websearch-tools` end to end on the process tier, against the test internet's fake
search API: the recipe's allowlist applied, the endpoint passed in, the commands on PATH
(served from the host's userland when the image is not built), a provider's key kept as a
secret outside the sandbox."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandlot import Sandbox
from sandlot.guest.agent.web_tools import html_to_page
from sandlot.mcp.policy import McpConfig, NotAllowed, plan
from sandlot.runtimes.gvisor.runtime import probe as gvisor_probe
from sandlot.sdk.template_network import recipe_policy
from sandlot.server import KeyStore, ServerConfig
from tests.net.internet import Internet
from tests.process.conftest import _needs_process_tier  # noqa: F401  (autouse: skips without bwrap)
from tests.server.conftest import serving

TEMPLATE = "websearch-tools"


@pytest.fixture
def configured(internet: Internet, monkeypatch: pytest.MonkeyPatch) -> Iterator[Internet]:
    monkeypatch.setenv("SANDLOT_SEARCH_URL", internet.search_url)
    monkeypatch.delenv("SANDLOT_SEARCH_HEADER", raising=False)
    yield internet


def test_recipe_allowlist_is_the_policy() -> None:
    policy = recipe_policy(TEMPLATE)
    assert policy is not None and policy.allow_out == ("*",)
    assert recipe_policy("base") is None and recipe_policy("host") is None


def test_websearch_and_fetch_commands(configured: Internet) -> None:
    with Sandbox.create(template=TEMPLATE, tier="process") as sbx:
        found = sbx.commands.run('websearch "sandlot"')
        assert found.exit_code == 0, found.stderr
        assert "1. Result 1 for sandlot" in found.stdout
        assert "http://example.org/result/2" in found.stdout
        page = sbx.commands.run("fetch http://example.org/")
        assert page.exit_code == 0, page.stderr
        assert page.stdout.strip() == "hello from example.org"
        helpers = sbx.run_code(
            "from sandlot_guest.agent.web_tools import websearch, fetch\n"
            "print([r.url for r in websearch('x')]); print(fetch('http://example.org/').text)"
        )
        assert helpers.error is None, helpers.error
        assert helpers.logs.stdout == (
            "['http://example.org/result/1', 'http://example.org/result/2']\n"
            "hello from example.org\n"
        )
        hosts = {r.host for r in sbx.network.log()}
        assert {"search.example.org", "example.org"} <= hosts


def test_websearch_on_gvisor(configured: Internet) -> None:
    """The same tools under gVisor (the host-userland fallback without a built image)."""
    available = gvisor_probe()
    if not available.ok:
        pytest.skip(f"gvisor tier unavailable here: {available.reason} ({available.fix})")
    with Sandbox.create(template=TEMPLATE, tier="gvisor") as sbx:
        done = sbx.commands.run('websearch "sandlot" && fetch http://example.org/')
        assert done.exit_code == 0, done.stderr
        assert "2. Result 2 for sandlot" in done.stdout
        assert done.stdout.endswith("hello from example.org\n")


def test_websearch_without_an_endpoint_says_what_to_configure(
    internet: Internet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDLOT_SEARCH_URL", raising=False)
    with Sandbox.create(template=TEMPLATE, tier="process") as sbx:
        done = sbx.commands.run("websearch anything")
        assert done.exit_code == 2
        assert "no search endpoint is configured" in done.stderr
        assert "SANDLOT_SEARCH_URL" in done.stderr and "[websearch]" in done.stderr
        assert sbx.commands.run("fetch http://example.org/").exit_code == 0


def test_callers_network_replaces_the_recipes(configured: Internet) -> None:
    with Sandbox.create(
        template=TEMPLATE, tier="process", network={"allow_out": ["api.example.com"]}
    ) as sbx:
        assert sbx.commands.run("websearch q").exit_code == 0  # the endpoint's host is added
        refused = sbx.commands.run("fetch http://other.example.net/")
        assert refused.exit_code == 1
        assert "sandlot: other.example.net is not in this sandbox's allow_out" in refused.stderr


def test_search_key_is_a_secret_outside_the_sandbox(
    configured: Internet, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-search-" + secrets.token_hex(8)
    monkeypatch.setenv("SANDLOT_SEARCH_HEADER", f"X-Api-Key: {key}")
    with Sandbox.create(template=TEMPLATE, tier="process") as sbx:
        seen = sbx.commands.run("curl -sS http://search.example.org/headers; echo; env")
        assert seen.exit_code == 0, seen.stderr
        headers = json.loads(seen.stdout.splitlines()[0])
        assert headers["X-Api-Key"] == key  # added by the gateway on the way out
        assert key not in seen.stdout.split("\n", 1)[1]  # never in the sandbox's env
        other = sbx.commands.run("curl -sS http://example.org/headers")
        assert key not in other.stdout


def test_mcp_refuses_a_networked_template_unless_the_operator_allows_it() -> None:
    with pytest.raises(NotAllowed, match="has network on"):
        plan(McpConfig(), TEMPLATE, None)


def test_html_becomes_text_and_links() -> None:
    html = (
        "<html><head><title>T</title><style>x{}</style></head><body><h1>Head</h1>"
        "<p>One <b>two</b></p><script>no()</script><ul><li><a href='/a'>A</a></li></ul>"
        "</body></html>"
    )
    page = html_to_page(html, "http://example.org/dir/")
    assert page.title == "T"
    assert page.text == "# Head\n\nOne two\n\n- A"
    assert page.links == ["http://example.org/a"]


def test_a_server_keeps_one_websearch_sandbox_per_key(internet: Internet, tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "server.db")
    keys = [store.create(name)[1] for name in ("a", "b")]
    cfg = ServerConfig(data_dir=tmp_path, websearch={"search_url": internet.search_url})
    body = {"template": TEMPLATE, "tier": "process"}
    try:
        with serving(cfg, store) as (url, _app):
            ids = []
            for key in (keys[0], keys[0], keys[1]):
                auth = {"Authorization": f"Bearer {key}"}
                with httpx.Client(base_url=url, headers=auth, timeout=60) as api:
                    made = api.post("/v1/sandboxes", json=body)
                    assert made.status_code == 201, made.text
                    ids.append(made.json()["id"])
                    ran = api.post(f"/v1/sandboxes/{ids[-1]}/commands", json={"cmd": "websearch q"})
                    assert "Result 1 for q" in ran.json()["stdout"], ran.text
            assert ids[0] == ids[1] != ids[2]  # the same key's is handed out again
    finally:
        store.close()
        os.environ.pop("SANDLOT_SEARCH_URL", None)
