"""`sandlot mcp` through the `mcp` SDK's own client, over stdio and streamable HTTP."""

from __future__ import annotations

import base64
import uuid

from sandlot_mcp_client import Client, http_transport, images_of, open_client, text_of

TOOLS = {
    "run_python",
    "run_command",
    "read_file",
    "write_file",
    "list_files",
    "create_sandbox",
    "list_sandboxes",
    "close_sandbox",
}


def test_tools_are_listed_with_typed_schemas(client: Client) -> None:
    tools = {t.name: t for t in client.list_tools()}
    assert set(tools) == TOOLS
    for t in tools.values():
        assert t.description and len(t.description) > 40, t.name
        assert "ctx" not in t.inputSchema.get("properties", {}), t.name
    run = tools["run_python"].inputSchema
    assert run["required"] == ["code"]
    assert run["properties"]["code"]["type"] == "string"
    assert set(run["properties"]) == {"code", "timeout", "sandbox_id"}
    assert all(run["properties"][p].get("description") for p in run["properties"])
    listing = tools["list_files"].inputSchema["properties"]
    assert listing["path"]["default"] == "." and listing["depth"]["default"] == 1
    assert tools["close_sandbox"].inputSchema["required"] == ["sandbox_id"]
    assert tools["read_file"].annotations and tools["read_file"].annotations.readOnlyHint


def test_run_python_keeps_state_and_reports_output(client: Client) -> None:
    r = client.call("run_python", code="mcp_x = 41\nprint('hello')")
    assert not r.isError and "hello" in text_of(r)
    r = client.call("run_python", code="mcp_x + 1")
    assert not r.isError and "[result]\n42" in text_of(r)
    r = client.call("run_python", code="1 / 0")
    assert not r.isError  # an exception in the code is a result, not a tool failure
    assert "ZeroDivisionError" in text_of(r)


def test_matplotlib_figure_is_image_content(client: Client) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"
    r = client.call("run_python", code=code)
    assert not r.isError, text_of(r)
    (img,) = images_of(r)
    assert img.mimeType == "image/png"
    assert base64.b64decode(img.data).startswith(b"\x89PNG\r\n\x1a\n")


def test_run_command(client: Client) -> None:
    r = client.call("run_command", command="echo hi-from-shell")
    assert not r.isError, text_of(r)
    assert "exit code: 0" in text_of(r) and "hi-from-shell" in text_of(r)
    r = client.call("run_command", command="pwd")
    assert "/" in text_of(r) and "exit code: 0" in text_of(r)


def test_files_write_read_list(client: Client) -> None:
    name = f"notes-{uuid.uuid4().hex[:6]}.txt"
    r = client.call("write_file", path=f"mcpdir/{name}", content="line one\nline two\n")
    assert not r.isError and "wrote 18 bytes" in text_of(r)
    r = client.call("read_file", path=f"mcpdir/{name}")
    assert text_of(r) == "line one\nline two\n"
    r = client.call("list_files", path="mcpdir")
    assert name in text_of(r)
    r = client.call("run_python", code=f"open('mcpdir/{name}').read().count('line')")
    assert "[result]\n2" in text_of(r)  # the same filesystem as run_python
    r = client.call("read_file", path="mcpdir/missing.txt")
    assert r.isError and "NotFound" in text_of(r)


def test_timeout_is_an_error_and_the_sandbox_lives_on(client: Client) -> None:
    client.call("run_python", code="kept = 'still here'")
    r = client.call("run_python", code="while True:\n    pass", timeout=1)
    assert r.isError and "TimeoutError" in text_of(r)
    r = client.call("run_python", code="kept")
    assert not r.isError and "still here" in text_of(r)


def test_sandbox_lifecycle_and_bad_ids(client: Client) -> None:
    r = client.call("create_sandbox")
    assert not r.isError, text_of(r)
    sid = text_of(r).splitlines()[0]
    r = client.call("run_python", code="only_here = 7", sandbox_id=sid)
    assert not r.isError
    r = client.call("run_python", code="only_here")  # the default sandbox is another one
    assert "NameError" in text_of(r)
    r = client.call("list_sandboxes")
    assert sid in text_of(r) and "(default)" in text_of(r)
    r = client.call("close_sandbox", sandbox_id=sid)
    assert not r.isError and sid in text_of(r)
    assert sid not in text_of(client.call("list_sandboxes"))
    for tool, args in [
        ("run_python", {"code": "1"}),
        ("read_file", {"path": "x"}),
        ("close_sandbox", {}),
    ]:
        r = client.call(tool, **args, sandbox_id=sid)
        assert r.isError and "NotFound" in text_of(r), (tool, text_of(r))
    r = client.call("run_python", code="1 + 1", timeout=-1)
    assert r.isError  # a schema violation is a tool error too, not a crash
    assert not client.call("run_python", code="2").isError


def test_http_sessions_have_separate_default_sandboxes(http_url: str) -> None:
    for c in open_client(http_transport(http_url)):
        c.call("run_python", code="secret = 'a'")
        for other in open_client(http_transport(http_url)):
            r = other.call("run_python", code="secret")
            assert "NameError" in text_of(r)
