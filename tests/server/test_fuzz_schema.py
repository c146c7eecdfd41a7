"""schemathesis against the app's own OpenAPI document, over real HTTP: never a 5xx, and
every 4xx is the one JSON error shape (a validation error names its field).

Bounded on purpose (a few examples per operation, no deadline): this is a regression net
for the contract, not an overnight fuzz run. Cases that name a sandbox get a real one of
a key of their own, so they reach past the 404 into the handlers.
`SANDLOT_FUZZ_EXAMPLES=200` makes a longer, random run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from sandlot.server import KeyStore, ServerConfig, create_app  # noqa: E402

from .conftest import Live  # noqa: E402

MAX_CALL_SECONDS = 3.0  # a fuzzed command line may be `yes`; no case waits its 60 s default


class Fuzzer:
    """A key and a sandbox for the fuzzer; the sandbox comes back if a case ended it."""

    def __init__(self, live: Live, key: str) -> None:
        self.url = live.url
        self.headers = {"Authorization": f"Bearer {key}"}
        self.client = httpx.Client(base_url=live.url, headers=self.headers, timeout=60)
        self.box = ""

    def sandbox(self) -> str:
        if not self.box or self.client.get(f"/v1/sandboxes/{self.box}").status_code != 200:
            r = self.client.post("/v1/sandboxes", json={"timeout": 600})
            assert r.status_code == 201, r.text
            self.box = str(r.json()["id"])
        return self.box

    def prepare(self, case: Any) -> None:
        """Point the case at the live sandbox and keep its calls short."""
        path = case.operation.path
        if "sandbox_id" in (case.path_parameters or {}) and not (
            case.method.upper() == "DELETE" and path == "/v1/sandboxes/{sandbox_id}"
        ):
            case.path_parameters["sandbox_id"] = self.sandbox()
        body = case.body
        if isinstance(body, dict) and path.endswith(("/code", "/commands")):
            if _number(body.get("timeout")) and body["timeout"] > MAX_CALL_SECONDS:
                body["timeout"] = MAX_CALL_SECONDS
            limits = body.get("limits")
            if isinstance(limits, dict) and _number(limits.get("wall_time")):
                limits["wall_time"] = min(limits["wall_time"], MAX_CALL_SECONDS)
            if "timeout" not in body:
                body["timeout"] = MAX_CALL_SECONDS

    def tidy(self) -> None:
        """Close every sandbox the cases created but the fuzzer's own."""
        for s in self.client.get("/v1/sandboxes").json()["sandboxes"]:
            if s["id"] != self.box:
                self.client.delete(f"/v1/sandboxes/{s['id']}")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@pytest.fixture(scope="module")
def fuzzer(live: Live) -> Iterator[Fuzzer]:
    store = KeyStore(live.data_dir / "server.db")
    _, key = store.create("schemathesis")
    store.close()
    f = Fuzzer(live, key)
    yield f
    f.box = ""
    f.tidy()
    f.client.close()


def _own_document() -> dict[str, Any]:
    """The OpenAPI document the app serves (built here: collection needs it before the
    server starts; the test_api suite checks the live one is served)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = KeyStore(Path(tmp) / "server.db")
        try:
            return create_app(ServerConfig(data_dir=Path(tmp)), keys=store).openapi()
        finally:
            store.close()


schema = schemathesis.openapi.from_dict(_own_document())


def check_response(r: Any, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    if r.status_code < 400:
        return
    body = r.json()
    assert set(body) == {"error"}, f"{what}: {body}"
    error = body["error"]
    assert isinstance(error.get("type"), str) and isinstance(error.get("message"), str), what
    if r.status_code == 422 and error["type"] == "InvalidArgument" and "fields" in error:
        assert error["fields"] and all(f["field"] and f["problem"] for f in error["fields"]), what


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SANDLOT_FUZZ_EXAMPLES", "6")),
    deadline=None,
    derandomize="SANDLOT_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_contract(case: Any, fuzzer: Fuzzer) -> None:
    fuzzer.prepare(case)
    r = case.call(base_url=fuzzer.url, headers=fuzzer.headers, timeout=30)
    what = f"{case.method} {case.formatted_path} {str(case.body)[:200]}"
    check_response(r, what)
    if r.status_code < 300:
        case.validate_response(r, checks=[not_a_server_error, response_schema_conformance])
    if case.method.upper() == "POST" and case.operation.path.endswith(
        ("/v1/sandboxes", "/fork", "/resume")
    ):
        fuzzer.tidy()
