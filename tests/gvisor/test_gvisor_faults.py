"""`kill -9` from the host of each runsc process behind a gvisor sandbox, mid-call: the
Sentry (`runsc-sandbox`), the gofer (`runsc-gofer`) and the attached `runsc run` that owns
them. The caller gets a typed error in bounded time, none of the killed runsc's processes
outlives it, the sandbox goes on with a fresh container (its files kept), another sandbox is
untouched, and closing leaves nothing."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sandlot import Sandbox, SandboxError
from sandlot.runtimes.gvisor.sandbox import GvisorSandbox


def _runsc_processes(state_dir: str) -> dict[int, str]:
    """pid -> argv[0] of every live process whose command line names the sandbox's state."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if not zombie and any(state_dir.encode() in a for a in argv):
            found[int(pid)] = argv[0].decode(errors="replace")
    return found


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
        outcome: list[BaseException | str] = []

        def long_call() -> None:
            try:
                sbx.run_code("import time; time.sleep(60)", timeout=90)
                outcome.append("returned")
            except BaseException as e:  # noqa: BLE001 - the test inspects it
                outcome.append(e)

        caller = threading.Thread(target=long_call)
        caller.start()
        time.sleep(2.0)  # the call is in the guest by now
        before = _runsc_processes(state)
        targets = [pid for pid, name in before.items() if name == which]
        if not targets:
            caller.join(120)
            pytest.skip(f"no {which} process runs mid-call here: {sorted(before.values())}")
        began = time.monotonic()
        os.kill(targets[0], signal.SIGKILL)
        caller.join(60)
        assert not caller.is_alive(), f"the call hung after kill -9 of {which}"
        assert time.monotonic() - began < 30
        assert isinstance(outcome[0], SandboxError), outcome

        deadline = time.monotonic() + 10
        while set(before) & set(_runsc_processes(state)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not set(before) & set(_runsc_processes(state)), (
            "the killed runsc's processes live on"
        )
        assert box.container_id != first
        assert other.run_code("y * 7").text == "42"
        assert sbx.commands.run("cat ~/keep").stdout == "kept"
        assert sbx.run_code("1 + 1").text == "2"
    assert not os.path.exists(state)
    assert not _runsc_processes(state)
