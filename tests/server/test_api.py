"""The REST API over real HTTP: auth, ownership, lifetimes, streaming, files, errors."""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

import httpx
import pytest

from sandlot.server import KeyStore, ServerConfig, create_app

from .conftest import Live


def sse(r: httpx.Response) -> list[tuple[float, str, Any]]:
    """(arrival time, event, data) for each server-sent event of a streamed response."""
    out = []
    event = "message"
    data: list[str] = []
    for line in r.iter_lines():
        if line == "":
            out.append((time.monotonic(), event, json.loads("\n".join(data))))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    return out


def err(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


# -- auth ----------------------------------------------------------------------------------


def test_health_is_open_and_everything_else_needs_a_key(live: Live) -> None:
    with httpx.Client(base_url=live.url) as anon:
        assert anon.get("/v1/health").json()["status"] == "ok"
        for method, path in [
            ("GET", "/v1/sandboxes"),
            ("POST", "/v1/sandboxes"),
            ("GET", "/metrics"),
            ("GET", "/v1/sandboxes/x/files?path=a"),
        ]:
            r = anon.request(method, path)
            assert r.status_code == 401, (path, r.text)
            assert err(r)["type"] == "Unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
        bad = {"Authorization": f"Bearer {live.key[:-2]}xx"}
        assert anon.get("/v1/sandboxes", headers=bad).status_code == 401
        assert (
            anon.get("/v1/sandboxes", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        assert anon.get("/openapi.json").json()["paths"]["/v1/sandboxes"]


def test_a_key_sees_only_its_own_sandboxes(api_b: httpx.Client, box: str) -> None:
    for method, path in [("GET", ""), ("DELETE", ""), ("GET", "/files/list")]:
        r = api_b.request(method, f"/v1/sandboxes/{box}{path}")
        assert r.status_code == 404 and err(r)["type"] == "NotFound", r.text
    r = api_b.post(f"/v1/sandboxes/{box}/code", json={"code": "1"})
    assert r.status_code == 404
    assert box not in [s["id"] for s in api_b.get("/v1/sandboxes").json()["sandboxes"]]


def test_revoked_keys_are_refused(live: Live) -> None:
    store = KeyStore(live.data_dir / "server.db")
    key_id, key = store.create("short-lived")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=live.url, headers=headers) as c:
        assert c.get("/v1/sandboxes").status_code == 200
        store.revoke(key_id)
        assert c.get("/v1/sandboxes").status_code == 401
    assert [k.revoked is not None for k in store.list() if k.id == key_id] == [True]
    store.close()


# -- lifecycle -----------------------------------------------------------------------------


def test_create_get_list_filter_timeout_delete(api: httpx.Client, box: str) -> None:
    r = api.post("/v1/sandboxes", json={"metadata": {"team": "x"}, "timeout": 60})
    assert r.status_code == 201, r.text
    made = r.json()
    sid = made["id"]
    assert made["tier"] == "wasm" and made["template"] == "python-data-analysis"
    assert set(made) >= {"id", "tier", "template", "metadata", "expires_at"}
    assert api.get(f"/v1/sandboxes/{sid}").json()["metadata"] == {"team": "x"}
    ids = [s["id"] for s in api.get("/v1/sandboxes").json()["sandboxes"]]
    assert sid in ids and box in ids
    only = api.get("/v1/sandboxes", params={"metadata.team": "x"}).json()["sandboxes"]
    assert [s["id"] for s in only] == [sid]
    assert api.get("/v1/sandboxes", params={"metadata.team": "y"}).json()["sandboxes"] == []
    before = made["expires_at"]
    later = api.post(f"/v1/sandboxes/{sid}/timeout", json={"timeout": 600}).json()
    assert later["expires_at"] > before
    r = api.post(f"/v1/sandboxes/{sid}/timeout", json={"timeout": 10**6})
    assert r.status_code == 400 and "3600" in err(r)["message"]
    assert api.delete(f"/v1/sandboxes/{sid}").status_code == 204
    r = api.get(f"/v1/sandboxes/{sid}")
    assert r.status_code == 404
    assert err(r)["type"] == "SandboxClosed" and err(r)["reason"] == "closed"
    assert err(r)["title"] == "sandbox gone"
    assert api.delete(f"/v1/sandboxes/{sid}").status_code == 404
    r = api.get("/v1/sandboxes/sbx_never")
    assert r.status_code == 404 and err(r)["type"] == "NotFound"


def test_an_expired_sandbox_is_reaped_and_says_so(api: httpx.Client) -> None:
    sid = api.post("/v1/sandboxes", json={"timeout": 0.5}).json()["id"]
    time.sleep(1.2)  # past the deadline and at least one reaper sweep (0.2 s)
    assert sid not in [s["id"] for s in api.get("/v1/sandboxes").json()["sandboxes"]]
    for r in (
        api.get(f"/v1/sandboxes/{sid}"),
        api.post(f"/v1/sandboxes/{sid}/code", json={"code": "1"}),
    ):
        assert r.status_code == 404
        e = err(r)
        assert e["type"] == "SandboxClosed" and e["reason"] == "expired"
        assert "expired" in e["message"]


def test_unsatisfiable_and_unknown_template(api: httpx.Client) -> None:
    # No tier gives both a host GPU and a kernel of its own (nor the network, so far).
    impossible = ["gpu", "isolation=strong", "network"]
    r = api.post("/v1/sandboxes", json={"requires": impossible})
    assert r.status_code == 409 and err(r)["type"] == "Unsatisfiable"
    r = api.post("/v1/sandboxes", json={"requires": ["flying"]})
    assert r.status_code == 400 and err(r)["type"] == "InvalidArgument"
    r = api.post("/v1/sandboxes", json={"template": "no-such"})
    assert r.status_code == 404 and err(r)["type"] == "NotFound"


def test_per_key_sandbox_cap(tmp_path: Any) -> None:
    store = KeyStore(tmp_path / "server.db")
    _, key = store.create()
    cfg = ServerConfig(data_dir=tmp_path, max_sandboxes_per_key=1)
    with warnings.catch_warnings():  # starlette's TestClient nags about its httpx use
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    app = create_app(cfg, keys=store)
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {key}"
        first = c.post("/v1/sandboxes", json={})
        assert first.status_code == 201
        r = c.post("/v1/sandboxes", json={})
        assert r.status_code == 429
        assert err(r)["type"] == "LimitExceeded" and err(r)["limit"] == "sandboxes"
        assert c.delete(f"/v1/sandboxes/{first.json()['id']}").status_code == 204
        c.post("/v1/sandboxes", json={})  # left running: the server's shutdown closes it
        assert len(app.state.table.all_ids()) == 1
    assert app.state.table.all_ids() == []
    store.close()


# -- code and commands ---------------------------------------------------------------------


def test_run_code_json_keeps_state(api: httpx.Client, box: str) -> None:
    r = api.post(f"/v1/sandboxes/{box}/code", json={"code": "x = 41\nprint('hi')"})
    assert r.status_code == 200, r.text
    assert r.json()["logs"]["stdout"] == "hi\n"
    ex = api.post(f"/v1/sandboxes/{box}/code", json={"code": "x + 1"}).json()
    assert [res["text"] for res in ex["results"] if res["is_main_result"]] == ["42"]
    ex = api.post(f"/v1/sandboxes/{box}/code", json={"code": "1/0"}).json()
    assert ex["error"]["name"] == "ZeroDivisionError"


def test_run_code_streams_output_before_the_result(api: httpx.Client, box: str) -> None:
    code = "import time, sys\nfor i in range(3):\n    print(i, flush=True); time.sleep(0.3)\n"
    code += "print('oops', file=sys.stderr)\n'done'"
    headers = {"Accept": "text/event-stream"}
    with api.stream("POST", f"/v1/sandboxes/{box}/code", json={"code": code}, headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse(r)
    kinds = [e[1] for e in events]
    assert kinds[-1] == "result" and "stderr" in kinds
    out = "".join(d["text"] for _, k, d in events if k == "stdout")
    assert out == "0\n1\n2\n"
    first_out = next(t for t, k, _ in events if k == "stdout")
    assert events[-1][0] - first_out > 0.4, "stdout came only with the result"
    assert events[-1][2]["results"][0]["text"] == "'done'"


def test_commands_json_and_streamed(api: httpx.Client, box: str) -> None:
    body = {
        "cmd": "echo $GREETING; cat; echo err >&2; exit 3",
        "envs": {"GREETING": "hey"},
        "stdin": "in\n",
    }
    res = api.post(f"/v1/sandboxes/{box}/commands", json=body).json()
    assert (res["stdout"], res["stderr"], res["exit_code"]) == ("hey\nin\n", "err\n", 3)
    with api.stream(
        "POST",
        f"/v1/sandboxes/{box}/commands",
        json={"cmd": "echo a >&2"},
        headers={"Accept": "text/event-stream"},
    ) as r:
        events = sse(r)
    assert [k for _, k, _ in events] == ["stderr", "result"]
    assert events[-1][2]["stderr"] == "a\n"


def test_timeout_is_408_and_the_sandbox_lives_on(api: httpx.Client, box: str) -> None:
    api.post(f"/v1/sandboxes/{box}/code", json={"code": "kept = 7"})
    r = api.post(f"/v1/sandboxes/{box}/code", json={"code": "while True: pass", "timeout": 0.5})
    assert r.status_code == 408
    assert err(r)["type"] == "TimeoutError" and "0.5 s" in err(r)["message"]
    with api.stream(
        "POST",
        f"/v1/sandboxes/{box}/code",
        json={"code": "print('a', flush=True)\nwhile True: pass", "timeout": 0.5},
        headers={"Accept": "text/event-stream"},
    ) as r:
        events = sse(r)
    assert [k for _, k, _ in events] == ["stdout", "error"]
    assert events[-1][2]["error"]["type"] == "TimeoutError"
    ex = api.post(f"/v1/sandboxes/{box}/code", json={"code": "kept"}).json()
    assert ex["results"][0]["text"] == "7"


# -- files ---------------------------------------------------------------------------------


def test_files_round_trip(api: httpx.Client, box: str) -> None:
    base = f"/v1/sandboxes/{box}/files"
    blob = bytes(range(256)) * 1000
    r = api.put(base, params={"path": "data/blob.bin"}, content=blob)
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "/home/user/data/blob.bin" and r.json()["size"] == len(blob)
    assert api.get(base, params={"path": "/home/user/data/blob.bin"}).content == blob
    listed = api.get(base + "/list", params={"path": "data"}).json()
    assert [e["name"] for e in listed] == ["blob.bin"]
    assert api.get(base + "/stat", params={"path": "data"}).json()["type"] == "dir"
    assert api.post(base + "/mkdir", json={"path": "data/sub"}).json() == {"created": True}
    assert api.post(base + "/mkdir", json={"path": "data/sub"}).json() == {"created": False}
    moved = api.post(base + "/rename", json={"old": "data/blob.bin", "new": "data/sub/b"})
    assert moved.json()["path"] == "/home/user/data/sub/b"
    assert api.get(base + "/exists", params={"path": "data/blob.bin"}).json() == {"exists": False}
    # The code sees what was uploaded.
    ex = api.post(
        f"/v1/sandboxes/{box}/code", json={"code": "len(open('data/sub/b','rb').read())"}
    ).json()
    assert ex["results"][0]["text"] == str(len(blob))
    assert api.delete(base, params={"path": "data"}).status_code == 204
    r = api.get(base, params={"path": "data/sub/b"})
    assert r.status_code == 404 and err(r)["type"] == "NotFound"
    assert "/home/user/data/sub/b" in err(r)["message"]


def test_file_errors_are_4xx(api: httpx.Client, box: str, live: Live) -> None:
    base = f"/v1/sandboxes/{box}/files"
    # A host path outside the sandbox: resolved inside the sandbox's root, so not found.
    r = api.get(base, params={"path": f"../../../..{live.data_dir}/server.db"})
    assert r.status_code == 404, r.text
    r = api.get(base, params={"path": str(live.data_dir / "server.db")})
    assert r.status_code == 404
    r = api.get(base, params={"path": "a\0b"})
    assert r.status_code == 400 and err(r)["type"] == "InvalidArgument"
    r = api.put(base, params={"path": "big"}, content=b"x" * ((1 << 20) + 1))
    assert r.status_code == 413
    assert err(r)["type"] == "LimitExceeded" and err(r)["limit"] == "file_size"
    r = api.get(base, params={"path": "/home"})
    assert r.status_code == 400 and "directory" in err(r)["message"]
    r = api.get(base + "/list", params={"path": ".", "depth": 0})
    assert r.status_code == 422 and "depth" in err(r)["message"]


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timeout": "soon"}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"envs": {"A": 1}}, "envs.A"),
        ({"limits": {"memory_bytes": 1}}, "limits.memory_bytes"),
        ({"metadata": ["x"]}, "metadata"),
        ({"templat": "base"}, "templat"),
    ],
)
def test_bad_create_bodies_are_422_naming_the_field(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    r = api.post("/v1/sandboxes", json=body)
    assert r.status_code == 422, r.text
    e = err(r)
    assert e["type"] == "InvalidArgument"
    assert any(f["field"] == f"body.{field}" for f in e["fields"]), e


def test_malformed_json_and_wrong_types_are_422(api: httpx.Client, box: str) -> None:
    r = api.post(
        f"/v1/sandboxes/{box}/code",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422 and err(r)["type"] == "InvalidArgument"
    r = api.post(f"/v1/sandboxes/{box}/code", json={"code": 5})
    assert r.status_code == 422 and "body.code" in err(r)["message"]
    r = api.post(f"/v1/sandboxes/{box}/commands", json={"cmd": "true", "timeout": 0})
    assert r.status_code == 422 and "body.timeout" in err(r)["message"]
    r = api.post(f"/v1/sandboxes/{box}/timeout", json={})
    assert r.status_code == 422 and "body.timeout" in err(r)["message"]
    r = api.get("/v1/no-such-route")
    assert r.status_code == 404 and err(r)["type"] == "NotFound"


# -- metrics -------------------------------------------------------------------------------


def test_metrics(api: httpx.Client, box: str) -> None:
    api.post(f"/v1/sandboxes/{box}/code", json={"code": "1"})
    text = api.get("/metrics").text
    assert 'sandlot_sandboxes{state="running",tier="wasm"}' in text
    assert 'sandlot_create_seconds_count{tier="wasm"}' in text
    assert 'sandlot_call_seconds_count{op="run_code"}' in text
    assert "sandlot_errors_total{" in text


def test_per_call_limits(api: httpx.Client, box: str) -> None:
    body = {"code": "print('y' * 50)", "limits": {"output_bytes": 5}}
    ex = api.post(f"/v1/sandboxes/{box}/code", json=body).json()
    assert ex["truncated"] == ["stdout"] and len(ex["logs"]["stdout"]) <= 5
    body = {"code": "1", "limits": {"memory_bytes": 128 << 20}}
    r = api.post(f"/v1/sandboxes/{box}/code", json=body)
    assert r.status_code == 400 and "per-sandbox" in err(r)["message"]
