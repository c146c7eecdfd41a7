"""`kill -9` from the host of each runsc process behind a gvisor sandbox, mid-call: the
Sentry (`runsc-sandbox`), the gofer (`runsc-gofer`) and the attached `runsc run` that owns
them. The caller gets a typed error in bounded time, none of the killed runsc's processes
outlives it, the sandbox goes on with a fresh container (its files kept), another sandbox is
untouched, and closing leaves nothing."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sandlot import Sandbox, SandboxError
from sandlot.runtimes.gvisor.sandbox import GvisorSandbox
from tests.faults import CallInFlight, processes_naming


@pytest.mark.timeout(240)
@pytest.mark.parametrize("which", ["runsc-sandbox", "runsc-gofer", "runsc"])
def test_kill_9_of_a_runsc_process_mid_call(which: str) -> None:
    with (
        Sandbox.create(tier="gvisor", template="base") as sbx,
        Sandbox.create(tier="gvisor", template="base") as other,
    ):
        box = sbx._core._box
        assert isinstance(box, GvisorSandbox)
        state, first = box.state_dir, box.container_id
        sbx.files.write("/home/user/keep", "kept")
        other.run_code("y = 6")
        call = CallInFlight(lambda: sbx.run_code("import time; time.sleep(60)", timeout=90))
        time.sleep(2.0)  # the call is in the guest by now
        before = processes_naming(state)
        targets = [pid for pid, name in before.items() if name == which]
        if not targets:
            call.outcome(120)
            pytest.skip(f"no {which} process runs mid-call here: {sorted(before.values())}")
        began = time.monotonic()
        os.kill(targets[0], signal.SIGKILL)
        outcome = call.outcome(60)
        assert time.monotonic() - began < 30
        assert isinstance(outcome, SandboxError), outcome

        deadline = time.monotonic() + 10
        while set(before) & set(processes_naming(state)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not set(before) & set(processes_naming(state)), (
            "the killed runsc's processes live on"
        )
        assert box.container_id != first
        assert other.run_code("y * 7").text == "42"
        kept = sbx.commands.run("cat ~/keep")
        assert (kept.stdout, kept.exit_code) == ("kept", 0), (
            kept,
            sbx.files.read("/home/user/keep"),
        )
        assert sbx.run_code("1 + 1").text == "2"
    assert not os.path.exists(state)
    assert not processes_naming(state)
