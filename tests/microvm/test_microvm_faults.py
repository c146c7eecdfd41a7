"""`kill -9` of the QEMU behind one of two microvm sandboxes, mid-call: the caller gets a
typed error in bounded time, nothing of the killed VM is left (its process, its run folder),
the sandbox goes on in a replacement VM (restored from its template: files and state reset,
as the error says), and the other sandbox is untouched."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sandlot import Sandbox, SandboxError
from sandlot.errors import NotFound
from sandlot.runtimes.microvm.sandbox import MicroVMSandbox
from tests.faults import CallInFlight, processes_naming

from .conftest import TEMPLATE


def _box(sbx: Sandbox) -> MicroVMSandbox:
    box = sbx._core._box
    assert isinstance(box, MicroVMSandbox)
    return box


@pytest.mark.timeout(300)
def test_kill_9_of_qemu_mid_call_spares_the_other_sandbox_and_leaves_nothing() -> None:
    with (
        Sandbox.create(tier="microvm", template=TEMPLATE) as sbx,
        Sandbox.create(tier="microvm", template=TEMPLATE) as other,
    ):
        sbx.files.write("/home/user/keep", "kept")
        other.run_code("y = 6")
        vm, other_vm = _box(sbx).vm, _box(other).vm
        pid, run = vm.pid, vm.run
        assert list(processes_naming(str(run))) == [pid]
        call = CallInFlight(lambda: sbx.run_code("import time; time.sleep(60)", timeout=90))
        time.sleep(1.5)  # the call is in the guest by now
        began = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        outcome = call.outcome(60)
        assert time.monotonic() - began < 15
        assert isinstance(outcome, SandboxError), outcome
        assert "was killed" in str(outcome) and "files and Python state were reset" in str(outcome)
        assert not processes_naming(str(run)) and not run.exists()

        assert _box(other).vm is other_vm and other.run_code("y * 7").text == "42"
        assert _box(sbx).vm is not vm
        with pytest.raises(NotFound):  # the reset the error announced
            sbx.files.read("/home/user/keep")
        assert sbx.run_code("1 + 1").text == "2"
        runs = [_box(sbx).vm.run, other_vm.run]
    for path in runs:
        assert not path.exists() and not processes_naming(str(path))
