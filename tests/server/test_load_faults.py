"""`kill -9` of a real `sandlot serve` while calls run on every local tier it serves, with a
library user's live sandboxes sharing its temp folder.

What must hold: every caller blocked in a call gets a typed `SandboxError` in bounded time
(none hangs); the jails the server ran die with it; the restart removes the server's own
sandbox folders and nothing of the neighbour's, whose sandboxes keep working; the killed
sandboxes answer `SandboxClosed` (lost: server restarted) through the remote SDK, a paused
one resumes with its state; after a clean stop nothing the server started is alive.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from sandlot import Sandbox
from sandlot.errors import SandboxClosed, SandboxError
from sandlot.runtimes.linux import stale
from sandlot.runtimes.process.sandbox import PREFIX
from sandlot.runtimes.registry import tier_named
from sandlot.sdk.core import drain_warm
from sandlot.server import KeyStore
from tests.faults import CallInFlight

from .test_faults import Server, alive, descendants

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CALL_BOUND_S = 15  # a call to a server that died must fail within this


def local_tiers() -> list[str]:
    return ["wasm"] + (["process"] if tier_named("process").availability().ok else [])


def folder_of(sbx: Sandbox) -> str:
    """The name of a local sandbox's state folder."""
    box: Any = sbx._core._box
    return str(os.path.basename((box._folder if hasattr(box, "_folder") else box._jail).state_dir))


def sandbox_folders(tmp: Path) -> set[str]:
    return {n for n in os.listdir(tmp) if n.startswith("sandlot-")}


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, str, Path]]:
    """A server whose TMPDIR is also this process's temp folder (so a sweep that judged
    folders by their place alone would take the neighbour's too)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    drain_warm()  # a warm spare an earlier test left would sit in another temp folder
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    store = KeyStore(tmp_path / "server.db")
    _, key = store.create("load-faults")
    store.close()
    env = {"SANDLOT_HOME": str(tmp_path / "home"), "TMPDIR": str(tmp)}
    srv = Server(tmp_path, "--max-sandboxes-per-key", "16", env=env)
    srv.start()
    yield srv, key, tmp
    srv.stop()
    stale.sweep.cache_clear()  # what an earlier, killed server left here
    stale.sweep(PREFIX)
    stale.sweep.cache_clear()


def test_kill_9_with_calls_running_on_every_tier(served: tuple[Server, str, Path]) -> None:
    srv, key, tmp = served
    assert srv.proc is not None
    tiers = local_tiers()
    neighbours = {tier: Sandbox.create(tier=tier) for tier in tiers}  # a library user's
    for sbx in neighbours.values():
        sbx.run_code("z = 3")
    theirs = {folder_of(sbx) for sbx in neighbours.values()}
    assert theirs <= sandbox_folders(tmp)

    paused = Sandbox.create(base_url=srv.url, api_key=key)
    paused.run_code("x = 41")
    paused_id = paused.pause()
    remote = [Sandbox.create(base_url=srv.url, api_key=key, tier=t) for t in tiers for _ in "ab"]
    assert {s.tier for s in remote} == set(tiers)
    ours = set(owned_by(tmp, srv.proc.pid))
    assert len(ours) >= len(remote)
    calls = [
        CallInFlight(partial(s.run_code, "import time; time.sleep(60)", timeout=90)) for s in remote
    ]
    time.sleep(2.0)  # every call is in its sandbox by now
    jails = descendants(srv.proc.pid)
    if "process" in tiers:
        assert jails, "the process tier's jails should be children of the server"
    killed_at = time.monotonic()
    srv.kill9()
    outcomes = [c.outcome(max(killed_at + CALL_BOUND_S - time.monotonic(), 0.1)) for c in calls]
    assert all(isinstance(o, SandboxError) for o in outcomes), outcomes

    deadline = time.monotonic() + 10
    while any(alive(p) for p in jails) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in jails if alive(p)], "jails outlived their server"

    srv.start()  # the restart sweeps the dead server's leftovers before it serves
    assert not sandbox_folders(tmp) & ours, "the dead server's sandbox folders were kept"
    assert theirs <= sandbox_folders(tmp), "the sweep took a live neighbour's folders"
    for tier, sbx in neighbours.items():
        assert sbx.run_code("z * 14").text == "42", tier

    for sbx in remote:
        with pytest.raises(SandboxClosed, match="restarted"):
            sbx.run_code("1")
        sbx.close()
    resumed = Sandbox.connect(paused_id, base_url=srv.url, api_key=key)
    assert resumed.run_code("x + 1").text == "42"
    resumed.close()
    fresh = {t: Sandbox.create(base_url=srv.url, api_key=key, tier=t) for t in tiers}
    assert [s.run_code("6 * 7").text for s in fresh.values()] == ["42"] * len(tiers)
    for sbx in fresh.values():
        sbx.close()

    started = descendants(srv.proc.pid)
    srv.stop()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in started if alive(p)], "processes outlived a clean stop"
    for sbx in neighbours.values():
        sbx.close()
    assert not sandbox_folders(tmp) & theirs
    # What the server left after its clean stop: test_a_clean_stop_leaves_no_sandbox_folder.


def owned_by(tmp: Path, pid: int) -> list[str]:
    """The sandbox folders whose owner stamp names process `pid` (one being made has none yet)."""

    def owner(name: str) -> str:
        try:
            return (tmp / name / "owner").read_text().split()[0]
        except (OSError, IndexError):
            return ""

    return sorted(n for n in sandbox_folders(tmp) if owner(n) == str(pid))


def test_a_clean_stop_leaves_no_sandbox_folder(served: tuple[Server, str, Path]) -> None:
    srv, key, tmp = served
    assert srv.proc is not None
    if "process" not in local_tiers():
        pytest.skip("the process tier (the one with warm spares) is unavailable here")
    with Sandbox.create(base_url=srv.url, api_key=key, tier="process") as sbx:
        assert sbx.run_code("6 * 7").text == "42"
    pid = srv.proc.pid
    srv.stop()
    assert owned_by(tmp, pid) == [], f"exit {srv.proc.returncode}"
