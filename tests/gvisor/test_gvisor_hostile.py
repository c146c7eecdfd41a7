"""Hostile code on the gvisor tier: each attack is contained, with a typed error where the
call is stopped; the host, the sandbox's later calls and other sandboxes are unaffected, and
nothing of a sandbox (runsc processes, state, cgroups, mounts) outlives it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from typing import Any

import pytest

from sandlot import LimitExceeded, Limits, Sandbox, SandboxError, TimeoutError
from sandlot.runtimes.gvisor import sandbox as gvisor_sandbox
from sandlot.runtimes.linux import disk, stale


def _host_pids_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def _box(sbx: Sandbox) -> Any:
    return sbx._core._box


def test_the_kernel_is_gvisors(gsbx: Sandbox) -> None:
    r = gsbx.commands.run("uname -r; dmesg | head -1")
    release, first = r.stdout.split("\n")[:2]
    assert release != os.uname().release
    assert "gVisor" in first


def test_host_files_are_invisible_and_the_root_is_read_only(gsbx: Sandbox) -> None:
    marker = f"sandlot-secret-{uuid.uuid4().hex}"
    with tempfile.NamedTemporaryFile(prefix=marker, dir="/tmp") as secret:
        r = gsbx.commands.run(f"cat {secret.name}; ls /work; ls -A /tmp")
        assert marker not in r.stdout and r.stderr.count("No such file") == 2
    assert gsbx.commands.run("ls /home").stdout == "user\n"
    # writes to / land in the sandbox's in-memory overlay: the host's root folder (an image's
    # rootfs, or the host userland's skeleton) and the host's /usr stay untouched
    with open(os.path.join(_box(gsbx).state_dir, "bundle", "config.json")) as f:
        root = json.load(f)["root"]["path"]
    r = gsbx.commands.run("touch /usr/x-sandlot && echo hi > /x-sandlot && cat /x-sandlot")
    assert r.stdout == "hi\n" or "Read-only file system" in r.stderr
    assert not os.path.exists("/usr/x-sandlot")
    assert not os.path.exists(os.path.join(root, "x-sandlot"))
    assert not os.path.exists(os.path.join(root, "usr/x-sandlot"))


def test_proc_1_shows_nothing_of_the_host(gsbx: Sandbox) -> None:
    r = gsbx.commands.run(r"tr '\0' '\n' < /proc/1/environ; tr '\0' ' ' < /proc/1/cmdline")
    keys = {line.split("=", 1)[0] for line in r.stdout.splitlines() if "=" in line}
    assert keys <= {"HOME", "USER", "LOGNAME", "PATH", "LANG", "SHELL", "TMPDIR"}
    assert "sandlot-gvisor-" not in r.stdout and "/root" not in r.stdout


def test_the_network_is_unreachable(gsbx: Sandbox) -> None:
    code = (
        "import socket\n"
        "print(sorted(n for _, n in socket.if_nameindex()))\n"
        "for host in ('1.1.1.1', '10.0.0.1'):\n"
        "    try:\n"
        "        socket.create_connection((host, 53), timeout=3); print('connected')\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
    )
    out = gsbx.run_code(code).logs.stdout.splitlines()
    assert out[0] == "['lo']" and "connected" not in out


def test_a_memory_bomb_is_a_limit_and_the_state_is_kept(gsbx: Sandbox) -> None:
    gsbx.run_code("before = 1")
    with pytest.raises(LimitExceeded) as info:
        gsbx.run_code("x = bytearray(8 << 30)")
    assert info.value.limit == "memory"
    r = gsbx.commands.run("python3 -c 'x = bytearray(8 << 30)'")
    assert r.exit_code != 0 and "MemoryError" in r.stderr
    assert gsbx.run_code("before").text == "1"


def test_memory_beyond_the_cgroup_is_contained() -> None:
    """Several processes each under the address-space limit but together over the memory
    limit: the host kernel's OOM killer ends the sandbox inside its cgroup, the call is a
    LimitExceeded, and a fresh agent follows (files kept)."""
    with Sandbox.create(
        tier="gvisor", template="base", limits=Limits(memory_bytes=256 << 20)
    ) as sbx:
        sbx.files.write("/home/user/keep", "kept")
        hog = "python3 -c 'import time; b = bytearray(200 << 20); time.sleep(20)'"
        with pytest.raises(LimitExceeded) as info:
            sbx.commands.run(f"for i in 1 2 3 4; do {hog} & done; wait", timeout=30)
        assert info.value.limit == "memory"
        assert sbx.files.read("/home/user/keep") == "kept"
        assert sbx.commands.run("echo alive").stdout == "alive\n"


def test_a_fork_bomb_is_bounded_and_the_sandbox_lives_on() -> None:
    with Sandbox.create(tier="gvisor", template="base") as sbx:
        box = _box(sbx)
        sbx.run_code("kept = 7")
        with pytest.raises(TimeoutError):
            sbx.commands.run("bomb() { bomb | bomb & }; bomb; sleep 30", timeout=5)
        assert all(box._cgroups.pids()), "the sandbox's cgroups still hold it"
        r = sbx.commands.run("echo alive")
        assert r.stdout == "alive\n"
        assert sbx.run_code("kept").text == "7"


def test_nothing_is_left_after_close() -> None:
    sbx = Sandbox.create(tier="gvisor", template="base")
    box = _box(sbx)
    sbx.commands.run("sleep 600 &")
    state, cid, cgroups = box.state_dir, box.container_id, list(box._cgroups.paths)
    assert _host_pids_with(cid)
    sbx.close()
    assert not os.path.exists(state)
    assert not any(os.path.exists(p) for p in cgroups)
    assert not _host_pids_with(cid) and not _host_pids_with(state)


def test_a_killed_agent_is_a_typed_error_and_a_fresh_agent_follows() -> None:
    with Sandbox.create(tier="gvisor", template="base") as sbx:
        box = _box(sbx)
        sbx.files.write("/home/user/keep", "kept")
        first = box.container_id
        with pytest.raises(SandboxError, match="died"):
            sbx.run_code("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
        assert box.container_id != first and not _host_pids_with(first)
        assert sbx.commands.run("cat ~/keep").stdout == "kept"


def test_leftovers_of_a_killed_host_process_are_swept() -> None:
    script = (
        "import os, signal\n"
        "from sandlot import Sandbox\n"
        "s = Sandbox.create(template='base', tier='gvisor')\n"
        "s.commands.run('sleep 600 &')\n"
        "b = s._core._box\n"
        "print(b.state_dir, b.container_id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL
    state, cid = done.stdout.split()
    assert os.path.isdir(state)
    with open(os.path.join(state, "cgroups")) as f:
        cgroups = [p for p in f.read().split("\n") if p]
    stale.sweep.cache_clear()
    assert gvisor_sandbox.sweep() >= 1
    assert not os.path.exists(state)
    assert not any(os.path.exists(p) for p in cgroups)
    assert not _host_pids_with(cid)


def test_a_disk_fill_stops_at_the_cap() -> None:
    """The writable folders are a tmpfs of half the memory limit (32 MiB here) and no file
    may pass that size (RLIMIT_FSIZE): a big file is stopped by the rlimit, many files by
    the tmpfs."""
    with Sandbox.create(
        tier="gvisor", template="base", limits=Limits(memory_bytes=64 << 20)
    ) as sbx:
        box = _box(sbx)
        if not box._jail.mounted:
            pytest.skip(f"the sandbox's folders are not size-capped here: {box.notes}")
        r = sbx.commands.run("head -c 100M /dev/zero > /tmp/big", timeout=60)
        assert "File size limit exceeded" in r.stderr or "File too large" in r.stderr
        r = sbx.commands.run("for i in 1 2 3; do head -c 15M /dev/zero > ~/f$i; done; rm /tmp/big")
        assert "No space left" in r.stderr
        sbx.commands.run("rm -f ~/f*")
        assert sbx.commands.run("echo fine > ~/ok && cat ~/ok").stdout == "fine\n"


def test_disk_bytes_sets_the_cap() -> None:
    with Sandbox.create(tier="gvisor", template="base", limits=Limits(disk_bytes=48 << 20)) as sbx:
        box = _box(sbx)
        assert sbx.commands.run("ulimit -f").stdout.strip() == str(48 << 10)
        if not box._jail.mounted:
            pytest.skip(f"the sandbox's folders are not size-capped here: {box.notes}")
        st = os.statvfs(box._jail.root_dir)
        assert st.f_blocks * st.f_frsize == 48 << 20
        r = sbx.commands.run("for i in 1 2; do head -c 30M /dev/zero > ~/f$i; done")
        assert "No space left" in r.stderr


def test_an_output_flood_is_capped(gsbx: Sandbox) -> None:
    r = gsbx.commands.run("yes flood | head -c 50M", timeout=60)
    assert 0 < len(r.stdout) <= Limits().output_bytes and "stdout" in r.truncated
    assert gsbx.commands.run("echo calm").stdout == "calm\n"


def test_kill_minus_one_is_survived() -> None:
    with Sandbox.create(tier="gvisor", template="base") as sbx:
        try:
            sbx.commands.run("kill -9 -1")
        except SandboxError:
            pass  # it took the agent too: a typed error, and a fresh agent follows
        assert sbx.commands.run("echo alive").stdout == "alive\n"


@pytest.mark.parametrize("capped", [True, False])
def test_a_very_deep_tree_is_freed_on_close(capped: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the tmpfs (a host that may not mount), close removes the guest's files
    # itself: 1,100 levels must neither raise (RecursionError) nor stay behind.
    if not capped:
        monkeypatch.setattr(disk, "mount_capped", lambda path, size: "no tmpfs on this host")
    # envs no warm spare has: the sandbox is made now, under the patch
    sbx = Sandbox.create(tier="gvisor", envs={"FRESH": uuid.uuid4().hex})
    state = _box(sbx)._jail.state_dir
    ex = sbx.run_code(
        "import os\nos.chdir(os.path.expanduser('~'))\n"
        "for _ in range(1100):\n    os.mkdir('d')\n    os.chdir('d')\n"
        "os.getcwd().count('/')",
        timeout=120,
    )
    assert ex.text == "1102", ex
    assert capped or not _box(sbx)._jail.mounted
    sbx.close()
    assert not os.path.exists(state)
