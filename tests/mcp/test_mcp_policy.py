"""What the operator allows an MCP agent (issue 13, item 8): the `host` template only when
listed, only the allowed tiers, at most N sandboxes per session, and agent-named templates
on the strongest allowed tier. Through the real `sandlot mcp --config FILE` over stdio, and
in process for the tier rule's variants."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp.shared.memory import create_connected_server_and_client_session
from sandlot_mcp_client import SERVER, Client, open_client, server_env, stdio_transport, text_of

from sandlot.mcp import McpConfig, SandboxRegistry, build_server

_PDA = "python-data-analysis"

CONFIG = """\
tiers = ["wasm", "process"]
templates = ["python-data-analysis", "base", "host"]
max_sandboxes_per_session = 3
agent_picks_tier = true
"""


@pytest.fixture(scope="module")
def default_client() -> Iterator[Client]:
    """A session with `sandlot mcp` as it comes: no config."""
    yield from open_client(stdio_transport())


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A session with `sandlot mcp --config` allowing host, wasm and process, 3 per session."""
    path = tmp_path_factory.mktemp("mcp") / "mcp.toml"
    path.write_text(CONFIG)
    yield from open_client(stdio_transport("--config", str(path)))


def _sid(text: str) -> str:
    return text.splitlines()[0]


def test_host_template_is_refused_by_default(default_client: Client) -> None:
    r = default_client.call("create_sandbox", template="host")
    assert r.isError, text_of(r)
    assert "NotAllowed: template 'host' is not allowed by this server's operator" in text_of(r)
    assert "Traceback" not in text_of(r)
    r = default_client.call("list_sandboxes")
    assert "tier=process" not in text_of(r)  # nothing was started


def test_agent_cannot_pick_the_tier_by_default(default_client: Client) -> None:
    r = default_client.call("create_sandbox", template="base", tier="process")
    assert r.isError and "does not let agents pick the tier" in text_of(r), text_of(r)


def test_default_tool_descriptions_name_the_tiers_and_the_cap(default_client: Client) -> None:
    tools = {t.name: t for t in default_client.list_tools()}
    text = tools["create_sandbox"].description or ""
    for tier in ("wasm", "process", "gvisor", "microvm"):
        assert f"- {tier}: " in text
    assert "any template but 'host'" in text and "at most 8 sandboxes" in text
    assert "tier" in tools["create_sandbox"].inputSchema["properties"]


def test_host_template_is_allowed_when_configured(configured: Client) -> None:
    r = configured.call("create_sandbox", template="host")
    assert not r.isError, text_of(r)
    assert "tier process" in text_of(r)
    sid = _sid(text_of(r))
    r = configured.call("run_command", command="echo on-the-host-userland", sandbox_id=sid)
    assert "on-the-host-userland" in text_of(r)
    assert not configured.call("close_sandbox", sandbox_id=sid).isError


def test_a_disallowed_tier_is_refused(configured: Client) -> None:
    r = configured.call("create_sandbox", template="base", tier="gvisor")
    assert r.isError, text_of(r)
    assert (
        "tier 'gvisor' is not allowed by this server's operator (allowed: wasm, process)"
        in text_of(r)
    )
    r = configured.call("create_sandbox", template="base", tier="wasm")  # an allowed one
    assert not r.isError and "tier wasm" in text_of(r), text_of(r)
    assert not configured.call("close_sandbox", sandbox_id=_sid(text_of(r))).isError


def test_sessions_hold_at_most_the_cap(configured: Client) -> None:
    made = []
    for _ in range(3):
        r = configured.call("create_sandbox")
        assert not r.isError, text_of(r)
        made.append(_sid(text_of(r)))
    r = configured.call("create_sandbox")
    assert r.isError, text_of(r)
    assert (
        "this session already holds 3 sandboxes, the most this server allows; "
        "close one with close_sandbox" in text_of(r)
    )
    r = configured.call("run_python", code="1")  # the default sandbox needs a slot too
    assert r.isError and "already holds 3 sandboxes" in text_of(r)
    assert "3 of the 3 sandboxes" in text_of(configured.call("list_sandboxes"))
    assert not configured.call("close_sandbox", sandbox_id=made.pop()).isError
    r = configured.call("create_sandbox")  # closing one freed its slot
    assert not r.isError, text_of(r)
    made.append(_sid(text_of(r)))
    for sid in made:
        configured.call("close_sandbox", sandbox_id=sid)


def _session_with(config: McpConfig, *calls: tuple[str, dict[str, object]]) -> list[str]:
    """The text of each tool call's result, in one in-process session under `config`."""
    registry = SandboxRegistry()
    server = build_server(registry=registry, config=config)
    texts: list[str] = []

    async def scenario() -> None:
        async with create_connected_server_and_client_session(server) as session:
            for name, args in calls:
                r = await session.call_tool(name, args)
                texts.append(("ERROR " if r.isError else "") + text_of(r))
        assert len(registry) == 0

    anyio.run(scenario)
    return texts


def test_agent_named_template_goes_to_the_strongest_allowed_tier() -> None:
    config = McpConfig(tiers=("wasm", "process"))
    named, default, listing = _session_with(
        config,
        ("create_sandbox", {"template": "base"}),
        ("run_python", {"code": "1"}),
        ("list_sandboxes", {}),
    )
    assert "template base, tier process" in named, named  # wasm serves base, process is stronger
    assert "(default)" in listing
    (default_row,) = [line for line in listing.splitlines() if "(default)" in line]
    assert "tier=wasm" in default_row  # the server's own default template: the lightest


def test_operator_may_keep_wasm_templates_on_wasm() -> None:
    config = McpConfig(tiers=("wasm", "process"), agent_templates_on_wasm=True)
    (named,) = _session_with(config, ("create_sandbox", {"template": "base"}))
    assert "template base, tier wasm" in named, named


def test_nothing_allowed_can_serve_is_an_explained_refusal() -> None:
    (r,) = _session_with(
        McpConfig(tiers=("wasm",)), ("create_sandbox", {"template": "go-algorithm"})
    )
    assert r.startswith("ERROR NotAllowed: no tier this server's operator allows (allowed: wasm)")
    assert "go-algorithm" in r and "wasm has no form of template" in r


def _no_image(template: str) -> None:
    from sandlot import images

    if images.find(template) is not None or os.environ.get("SANDLOT_AUTO_BUILD"):
        pytest.skip(f"{template}'s image is built here: no host-userland fallback to refuse")


def test_host_userland_fallback_counts_as_the_host_template() -> None:
    _no_image("python-data-analysis")
    tiers = ("wasm", "process", "gvisor")
    # gvisor and process would serve it from the host's /usr: not without `host` allowed
    (r,) = _session_with(McpConfig(tiers=tiers), ("create_sandbox", {"template": _PDA}))
    assert f"template {_PDA}, tier wasm" in r, r
    allowed = McpConfig(tiers=tiers, templates=(_PDA, "host"))
    (r,) = _session_with(allowed, ("create_sandbox", {"template": _PDA}))
    assert f"template {_PDA}, tier gvisor" in r, r
    (r,) = _session_with(McpConfig(tiers=("process",)), ("run_python", {"code": "1"}))
    assert r.startswith("ERROR NotAllowed: no tier this server's operator allows"), r
    assert "process would serve 'python-data-analysis' from the host's own userland" in r


def test_config_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('tiers = ["wasm", "vmware"]\n')
    done = subprocess.run(
        [*SERVER, "--config", str(bad)], env=server_env(), capture_output=True, text=True
    )
    assert done.returncode == 2 and "'vmware' is not a tier" in done.stderr
    bad.write_text("max_sandboxes = 3\n")
    with pytest.raises(ValueError, match="unknown setting"):
        McpConfig.from_file(bad)
    bad.write_text('agent_picks_tier = "yes"\n')
    with pytest.raises(ValueError, match="agent_picks_tier must be true or false"):
        McpConfig.from_file(bad)
    bad.write_text("max_sandboxes_per_session = true\n")
    with pytest.raises(ValueError, match="must be a whole number"):
        McpConfig.from_file(bad)
    bad.write_text('templates = ["base", "host"]\ndefault_template = "base"\n')
    assert McpConfig.from_file(bad, sandbox_timeout=60.0).template_allowed("host")
    with pytest.raises(ValueError, match="default_template 'python-data-analysis'"):
        McpConfig(templates=("base",))
    assert McpConfig().max_sandboxes_per_session == 8
    assert not McpConfig().template_allowed("host")
