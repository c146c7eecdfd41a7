"""A microvm host process killed with `kill -9`: its QEMUs die with it, and the tier's
`sweep_stale()` (which `sandlot serve` runs at start) removes their run folders at once,
by the owner stamp, and kills a QEMU that somehow outlived its owner (issue 13, item 9)."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sandlot.runtimes.linux import stale
from sandlot.runtimes.microvm import store
from sandlot.runtimes.microvm.runtime import MicroVMRuntime

CHILD = """
import sys, time
from sandlot import Sandbox
sbx = Sandbox.create("base", tier="microvm")
assert sbx.commands.run("echo up").stdout == "up\\n"
print("ready", flush=True)
time.sleep(600)
"""


def _run_dirs_of(pid: int) -> list[str]:
    found = []
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), store.RUN_PREFIX + "*")):
        try:
            if Path(folder, "owner").read_text().split()[0] == str(pid):
                found.append(folder)
        except (OSError, IndexError):
            continue
    return found


def _qemus_naming(folder: str) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(folder.encode() + b"/" in a for a in argv[1:]):
            pids.append(int(pid))
    return pids


@pytest.mark.slow
def test_a_killed_owner_leaves_no_qemu_and_its_run_folder_is_swept() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == b"ready\n", child.stderr.read() if child.stderr else b""
        folders = _run_dirs_of(child.pid)
        assert folders, "the VM's run folder should carry its owner's stamp"
        assert all(_qemus_naming(f) for f in folders), "a QEMU runs from each"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    deadline = time.monotonic() + 15
    while any(_qemus_naming(f) for f in folders) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [f for f in folders if _qemus_naming(f)], "QEMUs outlived their owner"
    assert all(os.path.isdir(f) for f in folders), "the run folders outlive a kill -9"
    assert MicroVMRuntime().sweep_stale() >= len(folders)  # at once: no 60 s wait
    assert not [f for f in folders if os.path.lexists(f)]


def test_a_qemu_that_outlived_its_owner_is_killed_and_a_live_owners_folder_kept(
    tmp_path: Path,
) -> None:
    dead = Path(tempfile.mkdtemp(prefix=store.RUN_PREFIX))
    (dead / "owner").write_text("999999999 0\n")  # no such process
    mine = Path(tempfile.mkdtemp(prefix=store.RUN_PREFIX))
    (mine / "owner").write_text(stale.owner_line())
    # A stand-in for an orphaned QEMU: its argv[0] says qemu and it names the folder.
    orphan = subprocess.Popen(
        ["qemu-system-x86_64", "-c", "import time; time.sleep(600)", f"{dead}/qmp.sock"],
        executable=sys.executable,
    )
    try:
        assert store.sweep_run_dirs() >= 1
        assert orphan.wait(10) == -signal.SIGKILL
        assert not dead.exists()
        assert mine.is_dir(), "a live owner's run folder is never swept"
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
        for folder in (dead, mine):
            if folder.exists():
                for f in folder.iterdir():
                    f.unlink()
                folder.rmdir()
