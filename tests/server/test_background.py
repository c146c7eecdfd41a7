"""Background commands over HTTP: a handle at once, polling with an offset cursor, a
resumable event stream, kill, stdin refused, and a sandbox deleted under a running one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .test_api import err, sse

COUNT = "for i in 1 2 3; do echo line$i; sleep 0.3; done; echo oops >&2; exit 3"


@pytest.fixture
def sid(api: httpx.Client) -> Iterator[str]:
    """A sandbox of its own: a background command holds its sandbox's call slot."""
    r = api.post("/v1/sandboxes", json={})
    assert r.status_code == 201, r.text
    yield str(r.json()["id"])
    api.delete(f"/v1/sandboxes/{r.json()['id']}")


def start(api: httpx.Client, sid: str, cmd: str, **extra: Any) -> str:
    began = time.monotonic()
    r = api.post(f"/v1/sandboxes/{sid}/commands", json={"cmd": cmd, "background": True, **extra})
    assert r.status_code == 202, r.text
    assert time.monotonic() - began < 2.0, "a background start waited for the command"
    body = r.json()
    assert body["state"] == "running" and body["sandbox_id"] == sid
    return str(body["id"])


def wait_done(api: httpx.Client, path: str, limit: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        body: dict[str, Any] = api.get(path).json()
        if body["state"] != "running":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def test_poll_with_an_offset_cursor(api: httpx.Client, sid: str) -> None:
    cid = start(api, sid, COUNT)
    path = f"/v1/sandboxes/{sid}/commands/{cid}"
    first = api.get(path).json()
    assert first["state"] == "running" and first["exit_code"] is None
    done = wait_done(api, path)
    assert done["state"] == "exited" and done["exit_code"] == 3
    assert done["stdout"] == "line1\nline2\nline3\n" and done["stderr"] == "oops\n"
    assert done["result"]["exit_code"] == 3 and done["error"] is None
    # The cursor: from the offset of the last event, only that event; past the end, none.
    last = done["events"][-1]
    tail = api.get(path, params={"offset": last["offset"]}).json()
    assert [e["text"] for e in tail["events"]] == [last["text"]]
    assert api.get(path, params={"offset": done["next_offset"]}).json()["events"] == []
    assert done["dropped"] == 0
    # The sandbox is free again, its shell state intact.
    r = api.post(f"/v1/sandboxes/{sid}/commands", json={"cmd": "echo after"})
    assert r.json()["stdout"] == "after\n"


def test_events_stream_live_and_resume(api: httpx.Client, sid: str) -> None:
    cid = start(api, sid, COUNT)
    path = f"/v1/sandboxes/{sid}/commands/{cid}/events"
    with api.stream("GET", path) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse(r)
    kinds = [e[1] for e in events]
    assert kinds[-1] == "result" and events[-1][2]["exit_code"] == 3
    out = [e for e in events if e[1] == "stdout"]
    assert "".join(e[2]["text"] for e in out) == "line1\nline2\nline3\n"
    assert out[-1][0] - out[0][0] > 0.3, "events came in one lump, not as produced"
    # Resume: Last-Event-ID skips what the client already has.
    with api.stream("GET", path, headers={"Last-Event-ID": "0"}) as r:
        again = sse(r)
    assert len(again) == len(events) - 1 and again[-1][1] == "result"


def test_kill_stops_it_and_the_sandbox_lives_on(api: httpx.Client, sid: str) -> None:
    api.post(f"/v1/sandboxes/{sid}/code", json={"code": "kept = 41"})
    cid = start(api, sid, "echo started; sleep 30; echo never")
    path = f"/v1/sandboxes/{sid}/commands/{cid}"
    deadline = time.monotonic() + 10
    while "started" not in api.get(path).json()["stdout"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    began = time.monotonic()
    r = api.delete(path)
    assert r.status_code == 200, r.text
    assert time.monotonic() - began < 6
    body = r.json()
    assert body["state"] == "killed" and "never" not in body["stdout"]
    assert body["error"]["type"] == "Interrupted"
    assert api.delete(path).json()["state"] == "killed"  # a second kill: same answer
    r = api.post(f"/v1/sandboxes/{sid}/code", json={"code": "kept + 1"})
    assert r.json()["results"][0]["text"] == "42"


def test_stdin_mid_run_is_unsupported(api: httpx.Client, sid: str) -> None:
    cid = start(api, sid, "sleep 5")
    r = api.post(f"/v1/sandboxes/{sid}/commands/{cid}/stdin", json={"data": "x\n"})
    assert r.status_code == 409 and err(r)["type"] == "Unsupported"
    assert "stdin" in err(r)["message"]
    api.delete(f"/v1/sandboxes/{sid}/commands/{cid}")
    # stdin given when starting works.
    cid = start(api, sid, "cat", stdin="fed\n")
    assert wait_done(api, f"/v1/sandboxes/{sid}/commands/{cid}")["stdout"] == "fed\n"


def test_unknown_and_foreign_commands(api: httpx.Client, api_b: httpx.Client, sid: str) -> None:
    r = api.get(f"/v1/sandboxes/{sid}/commands/cmd_nope")
    assert r.status_code == 404 and err(r)["type"] == "NotFound"
    cid = start(api, sid, "echo mine")
    for method in ("GET", "DELETE"):
        r = api_b.request(method, f"/v1/sandboxes/{sid}/commands/{cid}")
        assert r.status_code == 404, r.text
    wait_done(api, f"/v1/sandboxes/{sid}/commands/{cid}")


def test_deleting_a_sandbox_kills_its_running_command(api: httpx.Client) -> None:
    sid = api.post("/v1/sandboxes", json={}).json()["id"]
    cid = start(api, sid, "sleep 60")
    began = time.monotonic()
    assert api.delete(f"/v1/sandboxes/{sid}").status_code == 204
    assert time.monotonic() - began < 10
    r = api.get(f"/v1/sandboxes/{sid}/commands/{cid}")
    assert r.status_code == 404 and err(r)["reason"] == "closed"


def test_kill_on_the_process_tier_is_done_or_said_unsupported(api: httpx.Client) -> None:
    r = api.post("/v1/sandboxes", json={"tier": "process"})
    if r.status_code != 201:
        pytest.skip(f"no process tier here: {r.text}")
    sid = r.json()["id"]
    try:
        cid = start(api, sid, "sleep 30", timeout=8)
        time.sleep(0.5)
        began = time.monotonic()
        r = api.delete(f"/v1/sandboxes/{sid}/commands/{cid}")
        assert time.monotonic() - began < 7
        if r.status_code == 200:
            assert r.json()["state"] == "killed"
        else:
            assert r.status_code == 409 and err(r)["type"] == "Unsupported", r.text
            assert "process" in err(r)["message"]
    finally:
        api.delete(f"/v1/sandboxes/{sid}")
