"""Warm spares are keyed by the whole `SandboxSpec`: a spare made for one configuration is
never handed to a sandbox asking for another, whichever one field differs, and an equal
spec (a new object) does get it. Real process sandboxes, all on the host's userland."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields, replace

import pytest

from sandlot import Limits
from sandlot.models import NetworkPolicy, Secrets
from sandlot.runtimes.base import SandboxSpec
from sandlot.runtimes.process.root import Root
from sandlot.runtimes.process.sandbox import ProcessSandbox
from sandlot.runtimes.process.spares import Spares

BASE = SandboxSpec("host", Limits(memory_bytes=256 << 20), {"WHICH": "first"})
# One spec per field of SandboxSpec (and per field of its Limits that a tier reads), each
# differing from BASE in that field alone.
ONE_FIELD_OFF = {
    "template": replace(BASE, template="base"),
    "limits.memory_bytes": replace(BASE, limits=replace(BASE.limits, memory_bytes=300 << 20)),
    "limits.wall_time": replace(BASE, limits=replace(BASE.limits, wall_time=7.0)),
    "envs": replace(BASE, envs={"WHICH": "second"}),
    "network": replace(BASE, network=NetworkPolicy(("example.org",))),
    "secrets": replace(BASE, secrets=Secrets({"api.example.com": {"Authorization": "Bearer x"}})),
}
HOST = Root("host")  # one root for all: only the spec differs


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spares]:
    monkeypatch.setenv("SANDLOT_PROCESS_SPARES", "1")
    spares = Spares()
    yield spares
    spares.close_all()


def _spare_for(pool: Spares, spec: SandboxSpec) -> ProcessSandbox:
    """Open (and close) a sandbox for `spec`; the spare it leaves behind, once started."""
    pool.open_on(spec, HOST).close()
    future = pool._ready[(spec, HOST)]
    return future.result(timeout=60)


def test_every_field_of_the_spec_is_varied_here() -> None:
    """A field added to SandboxSpec needs its variant above (and is in the key already)."""
    varied = {name.split(".")[0] for name in ONE_FIELD_OFF}
    assert {f.name for f in fields(SandboxSpec)} <= varied


@pytest.mark.parametrize("field", sorted(ONE_FIELD_OFF))
def test_a_spare_is_never_handed_to_a_spec_differing_in_one_field(pool: Spares, field: str) -> None:
    other = ONE_FIELD_OFF[field]
    assert other != BASE and hash(other) != hash(BASE)
    spare = _spare_for(pool, BASE)
    box = pool.open_on(other, HOST)
    try:
        assert box is not spare and box._spec == other
        assert pool._ready[(BASE, HOST)].result() is spare  # still waiting for its own spec
        r = box.run_command(
            "echo $WHICH; ulimit -v",
            limits=other.limits,
            stdin="",
            on_stdout=None,
            on_stderr=None,
        )
        assert r.stdout.split() == [other.envs["WHICH"], str(other.limits.memory_bytes >> 10)]
    finally:
        box.close()


def test_an_equal_spec_gets_the_spare(pool: Spares) -> None:
    spare = _spare_for(pool, BASE)
    same = SandboxSpec("host", Limits(memory_bytes=256 << 20), {"WHICH": "first"})
    box = pool.open_on(same, HOST)
    try:
        assert box is spare
    finally:
        box.close()
