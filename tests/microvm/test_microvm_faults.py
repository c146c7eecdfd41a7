"""`kill -9` of the QEMU behind one of two microvm sandboxes, mid-call: the caller gets a
typed error in bounded time, nothing of the killed VM is left (its process, its run folder),
the sandbox goes on in a replacement VM (restored from its template: files and state reset,
as the error says), and the other sandbox is untouched."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from sandlot import Sandbox, SandboxError
from sandlot.errors import NotFound
from sandlot.runtimes.microvm.sandbox import MicroVMSandbox

from .conftest import TEMPLATE


def _processes_naming(path: Path) -> list[int]:
    """Live (not zombie) processes whose command line names `path`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                named = str(path).encode() in f.read()
            with open(f"/proc/{pid}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if named and not zombie:
            found.append(int(pid))
    return found


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
        assert _processes_naming(run) == [pid]
        outcome: list[BaseException | str] = []

        def long_call() -> None:
            try:
                sbx.run_code("import time; time.sleep(60)", timeout=90)
                outcome.append("returned")
            except BaseException as e:  # noqa: BLE001 - the test inspects it
                outcome.append(e)

        caller = threading.Thread(target=long_call)
        caller.start()
        time.sleep(1.5)  # the call is in the guest by now
        began = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        caller.join(60)
        assert not caller.is_alive(), "the call hung after kill -9 of its QEMU"
        assert time.monotonic() - began < 15
        assert isinstance(outcome[0], SandboxError), outcome
        assert "was killed" in str(outcome[0]) and "files and Python state were reset" in str(
            outcome[0]
        )
        assert not _processes_naming(run) and not run.exists()

        assert _box(other).vm is other_vm and other.run_code("y * 7").text == "42"
        assert _box(sbx).vm is not vm
        with pytest.raises(NotFound):  # the reset the error announced
            sbx.files.read("/home/user/keep")
        assert sbx.run_code("1 + 1").text == "2"
        runs = [_box(sbx).vm.run, other_vm.run]
    for path in runs:
        assert not path.exists() and not _processes_naming(path)
