"""Background commands over HTTP: a handle at once, polling with an offset cursor, a
resumable event stream, kill, stdin refused, and a sandbox deleted under a running one."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandlot import Interrupted, Sandbox

from .conftest import Live
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


# -- the kill race: a kill that meets the command's own end ---------------------------------


def test_rest_kill_racing_the_exit_is_decided(api: httpx.Client, sid: str) -> None:
    """DELETE at every moment around a short command's end: always 200 with the final
    state, killed (Interrupted) or exited (its whole result), and a later read agrees."""
    seen = set()
    for i in range(24):
        cid = start(api, sid, f"sleep 0.0{i % 8}; echo done")
        time.sleep(random.uniform(0, 0.12))
        r = api.delete(f"/v1/sandboxes/{sid}/commands/{cid}")
        assert r.status_code == 200, r.text
        body = r.json()
        seen.add(body["state"])
        if body["state"] == "killed":
            assert body["error"]["type"] == "Interrupted" and body["result"] is None
        else:
            assert body["state"] == "exited", body
            assert (body["exit_code"], body["stdout"]) == (0, "done\n")
        again = api.get(f"/v1/sandboxes/{sid}/commands/{cid}").json()
        assert (again["state"], again["exit_code"]) == (body["state"], body["exit_code"])
    r = api.post(f"/v1/sandboxes/{sid}/commands", json={"cmd": "echo alive"})
    assert r.json()["stdout"] == "alive\n"
    assert seen, seen


def test_remote_handle_kill_racing_the_exit_is_decided(live: Live) -> None:
    """The remote SDK's handle: kill() is True exactly when wait() raises Interrupted,
    False when wait() gives the command's own result; never a hang, never a stray kill."""
    with Sandbox.create(base_url=live.url, api_key=live.key) as box:
        box.run_code("kept = 1")
        outcomes = set()
        for i in range(24):
            handle = box.commands.run(f"sleep 0.0{i % 8}; echo done", background=True)
            time.sleep(random.uniform(0, 0.12))
            began = time.monotonic()
            stopped = handle.kill()
            assert time.monotonic() - began < 6
            if stopped:
                with pytest.raises(Interrupted):
                    handle.wait(10)
            else:
                result = handle.wait(10)
                assert (result.exit_code, result.stdout) == (0, "done\n")
            assert handle.kill() is False  # a second kill: it has ended
            outcomes.add(stopped)
            # the next call is never hit by a kill meant for the one before
            assert box.run_code("kept + 1").text == "2"
        assert outcomes, outcomes


def test_a_kill_reaches_its_own_call_only(live: Live, api: httpx.Client) -> None:
    """An interrupt naming a call that ended, or one queued behind another, touches no
    other call: the queued one never runs, the running one finishes."""
    with Sandbox.create(base_url=live.url, api_key=live.key) as box:
        first = box.commands.run("sleep 1; echo first", background=True)
        queued = box.commands.run("echo second", background=True)
        assert queued.kill() is True  # it waited for the sandbox: it never runs
        with pytest.raises(Interrupted, match="before it ran"):
            queued.wait(1)
        assert first.wait(10).stdout == "first\n"
        # A stale call id (a call long ended) while another call runs: nothing is stopped.
        running = box.commands.run("sleep 1; echo third", background=True)
        time.sleep(0.3)
        r = api.post(f"/v1/sandboxes/{box.id}/interrupt", json={"call_id": "call_stale"})
        assert r.status_code == 200 and r.json() == {"interrupted": False}
        assert running.wait(10).stdout == "third\n"
    # Over REST: a call interrupted before it was made ends Interrupted without running.
    sid = api.post("/v1/sandboxes", json={}).json()["id"]
    try:
        api.post(f"/v1/sandboxes/{sid}/interrupt", json={"call_id": "call_early"})
        r = api.post(
            f"/v1/sandboxes/{sid}/commands", json={"cmd": "echo ran", "call_id": "call_early"}
        )
        assert r.status_code == 409 and err(r)["type"] == "Interrupted", r.text
        r = api.post(f"/v1/sandboxes/{sid}/interrupt", json={"call_id": "bad id!"})
        assert r.status_code == 422 and "call_id" in err(r)["message"]
    finally:
        api.delete(f"/v1/sandboxes/{sid}")
