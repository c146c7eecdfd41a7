"""Every operation in the app's own OpenAPI document, fed wrong input: never a 5xx.

A lean stand-in for schemathesis (not installed here): for each path and method, the
empty request, hostile query values, and each body field set to each wrong kind of value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandlot.server import KeyStore

from .conftest import Live

ODD_STRINGS = ["", "\x00", "../" * 40, "x" * 20_000, "-1", "%ff", "\ud7ff\u202e"]
ODD_VALUES: list[Any] = [None, "x", -1, 0, 10**30, 1.5, True, [], {}, ["x"], {"a": None}]


@pytest.fixture(scope="module")
def fuzz(live: Live) -> Iterator[tuple[httpx.Client, str]]:
    """A key of its own and one sandbox, so nothing here disturbs the other tests."""
    store = KeyStore(live.data_dir / "server.db")
    _, key = store.create("fuzz")
    store.close()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=60) as c:
        sid = c.post("/v1/sandboxes", json={}).json()["id"]
        yield c, sid
        for s in c.get("/v1/sandboxes").json()["sandboxes"]:
            c.delete(f"/v1/sandboxes/{s['id']}")


def _check(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400:
        assert "error" in r.json(), what


def test_no_5xx_for_any_operation(fuzz: tuple[httpx.Client, str]) -> None:
    client, sid = fuzz
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    operations = 0
    for template, item in spec["paths"].items():
        for method, op in item.items():
            deleting_sandbox = method == "delete" and template == "/v1/sandboxes/{sandbox_id}"
            path = template.replace("{sandbox_id}", "sbx_nope" if deleting_sandbox else sid)
            params = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            ref = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
                .get("$ref")
            )
            fields = list(schemas[ref.rsplit("/", 1)[1]]["properties"]) if ref else []
            operations += 1
            what = f"{method.upper()} {template}"
            _check(client.request(method, path), what + " (empty)")
            for name in params:
                for odd in ODD_STRINGS:
                    _check(client.request(method, path, params={name: odd}), f"{what} {name}")
            if ref:
                bodies: list[Any] = [[], "x", 5, None]
                for body in bodies:
                    _check(client.request(method, path, json=body), f"{what} body={body!r}")
                _check(client.request(method, path, content=b"\xff{"), f"{what} bad bytes")
                for name in fields:
                    for odd in ODD_VALUES:
                        r = client.request(method, path, json={name: odd})
                        _check(r, f"{what} {name}={odd!r}")
                        if template.endswith("/timeout"):
                            # a valid odd value (1.5 s) really shortens the sandbox's life
                            client.post(path, json={"timeout": 300})
    assert operations >= 15
    # The sandbox survived all that.
    assert (
        client.post(f"/v1/sandboxes/{sid}/code", json={"code": "1 + 1"}).json()["results"][0][
            "text"
        ]
        == "2"
    )


def test_a_forged_reply_nested_deep_is_no_5xx(fuzz: tuple[httpx.Client, str]) -> None:
    # Guest code forges the reply of its call, its result's JSON 960 deep (past what the
    # server's encoder takes, a 500 before): the host refuses the frame unparsed, so no
    # encoder meets it, and the call's real reply comes instead.
    client, sid = fuzz
    nested = "[" * 960 + "]" * 960
    code = (
        "import _host\n"
        f'_host.call(b\'{{"ev":"done","reply":{{"results":[{{"json":{nested}}}]}}}}\')\n'
        "'after'"
    )
    r = client.post(f"/v1/sandboxes/{sid}/code", json={"code": code})
    _check(r, "a reply nested 960 deep")
    assert [res["text"] for res in r.json()["results"]] == ["'after'"]
