"""schemathesis against the app's own OpenAPI document, over real HTTP: never a 5xx, and
every 4xx is the one JSON error shape (a validation error names its field).

Bounded on purpose (a few examples per operation, no deadline): this is a regression net
for the contract, not an overnight fuzz run. Cases that name a sandbox get a real one of
a key of their own, so they reach past the 404 into the handlers. The stateful run
follows the links schemathesis infers (create -> code, files, pause, resume, fork,
delete ...) on the wasm and the process tier, so calls land on sandboxes in every state.
`SANDLOT_FUZZ_EXAMPLES=200` makes a longer, random run (`SANDLOT_FUZZ_STEPS`: steps per
stateful scenario).
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
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.errors import FlakyStrategyDefinition  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.transport import Response  # noqa: E402
from schemathesis.generation.case import Case  # noqa: E402
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
        shorten(case)

    def tidy(self) -> None:
        """Close every sandbox the cases created but the fuzzer's own."""
        for s in self.client.get("/v1/sandboxes").json()["sandboxes"]:
            if s["id"] != self.box:
                self.client.delete(f"/v1/sandboxes/{s['id']}")


def shorten(case: Any) -> None:
    """Keep a case's calls short: a fuzzed command line may be `yes`."""
    path = case.operation.path
    body = case.body
    if isinstance(body, dict) and path.endswith(("/code", "/commands")):
        if _number(body.get("timeout")) and body["timeout"] > MAX_CALL_SECONDS:
            body["timeout"] = MAX_CALL_SECONDS
        limits = body.get("limits")
        if isinstance(limits, dict) and _number(limits.get("wall_time")):
            limits["wall_time"] = min(limits["wall_time"], MAX_CALL_SECONDS)
        if "timeout" not in body:
            body["timeout"] = MAX_CALL_SECONDS


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
    max_examples=int(os.environ.get("SANDLOT_FUZZ_EXAMPLES", "10")),
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


# -- stateful: sequences that follow the inferred links, on a tier each ---------------------

STATEFUL_EXAMPLES = int(os.environ.get("SANDLOT_FUZZ_EXAMPLES", "10"))
STATEFUL_STEPS = int(os.environ.get("SANDLOT_FUZZ_STEPS", "15"))


def _stateful_machine(fuzzer: Fuzzer, tier: str, problems: list[str]) -> Any:
    """The schema's state machine calling the live server as the fuzzer's key, its creates
    on `tier`, each scenario's sandboxes closed at its end. A step that names no sandbox
    of the scenario (a random id rather than a followed link) gets one of them, in
    whatever state earlier steps left it (running, paused, deleted), so most steps reach
    the handlers. Each step is checked (a 5xx, the error shape, the response schema) into
    `problems`, not raised: hypothesis would replay the sequence to shrink or report it,
    and a live server answers a replay differently."""

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        seen: list[str]

        def setup(self) -> None:
            self.seen = []

        def before_call(self, case: Case[Any]) -> None:
            if case.method.upper() == "POST" and case.operation.path == "/v1/sandboxes":
                if isinstance(case.body, dict):
                    case.body["tier"] = tier
            params = case.path_parameters
            if params and "sandbox_id" in params and params["sandbox_id"] not in self.seen:
                if not self.seen:  # one of the tier's own, made for the scenario
                    r = fuzzer.client.post("/v1/sandboxes", json={"tier": tier})
                    if r.status_code == 201:
                        self.seen.append(r.json()["id"])
                if self.seen:  # which one: derived from the generated id
                    pick = sum(map(ord, str(params["sandbox_id"]))) % len(self.seen)
                    params["sandbox_id"] = self.seen[pick]
            shorten(case)

        def after_call(self, response: Response, case: Case[Any]) -> None:
            super().after_call(response, case)
            if (
                response.status_code >= 300
                or "json" not in response.headers.get("content-type", [""])[0]
            ):
                return
            body = response.json()
            for made in [body, *body.get("sandboxes", [])] if isinstance(body, dict) else []:
                sid = made.get("id") if isinstance(made, dict) else None
                if isinstance(sid, str) and sid.startswith("sbx_") and sid not in self.seen:
                    self.seen.append(sid)

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"base_url": fuzzer.url, "headers": fuzzer.headers, "timeout": 30}

        def validate_response(
            self, response: Response, case: Case[Any], additional_checks: Any = None, **kw: Any
        ) -> None:
            what = f"{case.method} {case.formatted_path} {str(case.body)[:200]}"
            try:
                check_response(response, what)
                checks: list[Any] = [not_a_server_error]
                if response.status_code < 300:
                    checks.append(response_schema_conformance)
                case.validate_response(response, checks=checks)
            except Exception as e:  # noqa: BLE001 - every check's failure is reported
                problems.append(f"{what}: {e}"[:2000])

        def teardown(self) -> None:
            fuzzer.tidy()

    return Machine


@pytest.mark.parametrize("tier", ["wasm", "process"])
def test_sequences_keep_the_contract(tier: str, live: Live) -> None:
    store = KeyStore(live.data_dir / "server.db")
    _, key = store.create(f"schemathesis-{tier}")
    store.close()
    fuzzer = Fuzzer(live, key)
    r = fuzzer.client.post("/v1/sandboxes", json={"tier": tier})
    if r.status_code == 409:
        pytest.skip(f"no {tier} tier here: {r.text[:200]}")
    fuzzer.client.delete(f"/v1/sandboxes/{r.json()['id']}")
    problems: list[str] = []
    try:
        _stateful_machine(fuzzer, tier, problems).run(
            settings=settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=STATEFUL_STEPS,
                deadline=None,
                derandomize="SANDLOT_FUZZ_EXAMPLES" not in os.environ,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],  # a replay is not the same run
            )
        )
    except FlakyStrategyDefinition:
        # Hypothesis replays a prefix of an earlier sequence; against a live server its
        # responses (so the links it may follow) differ. The steps that ran were checked.
        pass
    finally:
        fuzzer.tidy()
        fuzzer.client.close()
    assert not problems, "\n".join(problems[:5])
