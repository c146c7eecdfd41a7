"""The microvm tier on real QEMU: boot, calls, files, restore hygiene (clock, randomness),
snapshot integrity, limits and faults, cleanup, fork and pause."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sandlot import Sandbox, SandboxError
from sandlot.errors import GuestProtocolError, InvalidArgument, LimitExceeded, NotFound
from sandlot.errors import TimeoutError as SandboxTimeout
from sandlot.models import Limits
from sandlot.runtimes.base import SandboxSpec
from sandlot.runtimes.microvm import snapshot
from sandlot.runtimes.microvm.pool import Pool
from sandlot.runtimes.microvm.runtime import MicroVMRuntime
from sandlot.runtimes.microvm.sandbox import STATE_FILE, MicroVMSandbox, VMLost, restore_saved

from .conftest import TEMPLATE


def box(sbx: Sandbox) -> MicroVMSandbox:
    found: Any = sbx._core._box
    assert isinstance(found, MicroVMSandbox)
    return found


def test_boots_to_the_agent_and_runs_commands_and_code(shared_vsbx: Sandbox) -> None:
    r = shared_vsbx.commands.run("uname -sr; id -u; echo err >&2; exit 3")
    assert r.stdout.startswith("Linux 6.") and r.stdout.endswith("\n0\n")
    assert (r.stderr, r.exit_code) == ("err\n", 3)
    assert shared_vsbx.run_code("1 + 1").text == "2"
    shared_vsbx.run_code("kept = 41")
    assert shared_vsbx.run_code("kept + 1").text == "42"
    ex = shared_vsbx.run_code("import subprocess; subprocess.run(['echo', 'from a child'])")
    assert "from a child" in ex.logs.stdout  # fd 1 of a child process comes back too


def test_loopback_is_up_and_has_no_way_out(shared_vsbx: Sandbox) -> None:
    code = (
        "import socket, threading\n"
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "port = server.getsockname()[1]\n"
        "threading.Thread(target=lambda: server.accept()[0].sendall(b'hi'), daemon=True).start()\n"
        "with socket.create_connection(('127.0.0.1', port), timeout=5) as c:\n"
        "    got = c.recv(2)\n"
        "try:\n"
        "    socket.create_connection(('10.0.2.2', 80), timeout=2)\n"
        "    out = 'reached'\n"
        "except OSError as e:\n"
        "    out = type(e).__name__\n"
        "got, out"
    )
    assert shared_vsbx.run_code(code).text == "(b'hi', 'OSError')"  # no network device


def test_root_is_read_only_and_home_tmp_are_writable(shared_vsbx: Sandbox) -> None:
    r = shared_vsbx.commands.run("touch /usr/x 2>&1; touch /home/user/ok /tmp/ok && echo yes")
    assert "Read-only file system" in r.stdout and r.stdout.endswith("yes\n")


def test_files_through_the_agent(shared_vsbx: Sandbox) -> None:
    files = shared_vsbx.files
    info = files.write("/home/user/d/a.txt", "hello")
    assert (info.type, info.size, info.path) == ("file", 5, "/home/user/d/a.txt")
    assert files.read("d/a.txt") == "hello"  # relative to /home/user
    assert shared_vsbx.commands.run("cat /home/user/d/a.txt").stdout == "hello"
    assert [e.name for e in files.list("/home/user/d")] == ["a.txt"]
    assert files.exists("/home/user/d/a.txt") and not files.exists("/home/user/nope")
    assert files.rename("/home/user/d/a.txt", "/home/user/d/b.txt").name == "b.txt"
    assert files.make_dir("/home/user/e") and not files.make_dir("/home/user/e")
    assert files.get_info("/home/user/e").type == "dir"
    files.remove("/home/user/d")
    assert not files.exists("/home/user/d")
    with pytest.raises(NotFound):
        files.read("/home/user/missing")
    with pytest.raises(InvalidArgument, match="read-only"):
        files.write("/etc/x", "no")
    files.write("/tmp/big", b"x" * 2000)
    with pytest.raises(LimitExceeded):
        box(shared_vsbx).files.read("/tmp/big", max_bytes=1000)


def test_restored_sandboxes_never_share_randomness() -> None:
    seen_bytes, seen_floats = set(), set()
    for _ in range(2):
        with Sandbox.create(tier="microvm", template=TEMPLATE) as sbx:
            r = sbx.commands.run("head -c 16 /dev/urandom | od -An -tx1")
            seen_bytes.add(r.stdout)
            seen_floats.add(sbx.run_code("import random; random.random()").text)
    assert len(seen_bytes) == 2 and len(seen_floats) == 2


def test_clock_is_set_on_restore(shared_vsbx: Sandbox) -> None:
    guest = float(shared_vsbx.run_code("import time; time.time()").text or 0)
    assert abs(guest - time.time()) < 5


def test_a_template_restore_wakes_through_init_and_warms_the_pooled_vm(
    shared_vsbx: Sandbox,
) -> None:
    # The template agent held no seeded Python generator, so its restores are woken (clock,
    # kernel RNG) by init's wake port; the agent's `random` seeds itself from the reseeded
    # kernel when first imported (test above).
    template = snapshot.template(box(shared_vsbx).shape)
    assert template.fast_wake
    assert "random" not in shared_vsbx.run_code("import sys; sorted(sys.modules)").text.split("'")


def _wake_line(vm: Any, line: bytes) -> bytes:
    sock = vm.waker
    sock.settimeout(30)
    sock.sendall(line)
    answer = b""
    while not answer.endswith(b"\n"):
        answer += sock.recv(512)
    return answer


def test_the_wake_port_refuses_garbage_and_stays_up(shared_vsbx: Sandbox) -> None:
    shape = box(shared_vsbx).shape
    vm, _ = snapshot.restore(shape, snapshot.template(shape))
    try:
        assert _wake_line(vm, b"garbage\n").startswith(b"err malformed")
        assert _wake_line(vm, b"1 2 " + b"zz" * 64 + b"\n") == b"err the seed is not hex\n"
        assert _wake_line(vm, b"9" * 5000 + b"\n") == b"err the line is too long\n"
        snapshot.wake(vm)  # and the port still serves
    finally:
        vm.kill()


def test_code_in_the_guest_cannot_speak_on_the_wake_port(shared_vsbx: Sandbox) -> None:
    code = (
        "import os, errno\n"
        "base = '/sys/class/virtio-ports'\n"
        "names = {open(f'{base}/{p}/name').read().strip(): p for p in os.listdir(base)}\n"
        "try:\n"
        "    os.open('/dev/' + names['sandlot-wake'], os.O_RDWR)\n"
        "    got = 'opened'\n"
        "except OSError as e:\n"
        "    got = errno.errorcode[e.errno]\n"
        "got"
    )
    assert shared_vsbx.run_code(code).text == "'EBUSY'"  # init's server holds it open


def _flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_tampered_or_truncated_snapshot_is_refused(shared_vsbx: Sandbox) -> None:
    shape = box(shared_vsbx).shape
    good = snapshot.template(shape)
    assert good.ram is not None
    work = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        state, ram = work / "t.state", work / "t.ram"
        shutil.copyfile(good.memory, state)
        subprocess.run(["cp", "--sparse=always", str(good.ram), str(ram)], check=True)
        copy = snapshot.Snapshot(state, good.digest, good.size, ram, good.ram_digest, good.ram_size)
        snapshot.verify(copy)  # an intact copy passes
        _flip_byte(ram, 4096)
        with pytest.raises(snapshot.SnapshotCorrupt, match="digest"):
            snapshot.restore(shape, copy)
        _flip_byte(ram, 4096)
        snapshot.verify(copy)
        os.truncate(state, good.size // 2)
        with pytest.raises(snapshot.SnapshotCorrupt, match="truncated"):
            snapshot.restore(shape, copy)
    finally:
        shutil.rmtree(work)


@pytest.mark.slow
def test_a_corrupt_template_snapshot_is_rebuilt(shared_vsbx: Sandbox) -> None:
    # A shape of its own (more memory): the session's template, which other sandboxes and
    # other processes restore from, is never touched.
    shape = dataclasses.replace(box(shared_vsbx).shape, memory_mib=384)
    first = snapshot.template(shape)
    with open(first.memory, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(snapshot.SnapshotCorrupt):
        snapshot.restore(shape, first)
    rebuilt = snapshot.template(shape)  # refused, then a cold boot makes a new one
    vm, channel = snapshot.restore(shape, rebuilt)
    try:
        assert channel.call({"op": "ping"}, 30).get("ok") is True
    finally:
        vm.kill()
    for path, _, _ in rebuilt.parts():
        path.unlink()
    rebuilt.note.unlink()


def test_timeout_interrupts_and_keeps_state(shared_vsbx: Sandbox) -> None:
    shared_vsbx.run_code("before = 'kept'")
    with pytest.raises(SandboxTimeout, match="interrupted"):
        shared_vsbx.run_code("import time; time.sleep(30)", timeout=1)
    with pytest.raises(SandboxTimeout):
        shared_vsbx.commands.run("sleep 30", timeout=1)
    assert shared_vsbx.run_code("before").text == "'kept'"
    assert shared_vsbx.commands.run("echo alive").stdout == "alive\n"


def test_vm_killed_from_outside_is_a_typed_error_then_replaced(vsbx: Sandbox) -> None:
    vm = box(vsbx).vm
    result: list[BaseException] = []

    def call() -> None:
        try:
            vsbx.commands.run("sleep 20")
        except BaseException as e:
            result.append(e)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(1.0)
    began = time.monotonic()
    os.kill(vm.pid, signal.SIGKILL)
    worker.join(30)
    assert result and isinstance(result[0], VMLost) and isinstance(result[0], SandboxError)
    assert "was killed" in str(result[0])
    assert time.monotonic() - began < 15  # the error comes quickly; the replacement is a restore
    assert not vm.run.exists()
    assert vsbx.commands.run("echo again").stdout == "again\n"


def test_garbage_on_the_agent_channel_is_refused(vsbx: Sandbox) -> None:
    # The port opens only once (the agent holds it), but run_code runs inside the agent's
    # process, so the code can write to the agent's own descriptor.
    code = (
        "import os\n"
        "fd = next(int(n) for n in os.listdir('/proc/self/fd')\n"
        "          if os.readlink(f'/proc/self/fd/{n}').startswith('/dev/vport'))\n"
        "os.write(fd, b'this is not json\\n')\n"
        "import time; time.sleep(1)\n"
    )
    with pytest.raises(GuestProtocolError):
        vsbx.run_code(code)
    assert vsbx.run_code("2 * 3").text == "6"  # a fresh VM answers


def test_a_flood_on_the_agent_channel_is_cut_off_at_the_frame_cap(vsbx: Sandbox) -> None:
    # One endless line: the host must not buffer it without bound.
    code = (
        "import os\n"
        "fd = next(int(n) for n in os.listdir('/proc/self/fd')\n"
        "          if os.readlink(f'/proc/self/fd/{n}').startswith('/dev/vport'))\n"
        "chunk = b'x' * (1 << 20)\n"
        "for _ in range(256):\n"
        "    os.write(fd, chunk)\n"
    )
    began = time.monotonic()
    with pytest.raises(GuestProtocolError):
        vsbx.run_code(code, timeout=120)
    assert time.monotonic() - began < 120
    assert vsbx.run_code("2 * 3").text == "6"  # a fresh VM answers


def test_an_agent_that_stops_reading_is_a_timeout_then_replaced(vsbx: Sandbox) -> None:
    vsbx.files.write("/tmp/before", "x")
    began = time.monotonic()
    with pytest.raises(SandboxTimeout, match="reset"):
        # The agent's own process stops: it neither reads nor answers any more.
        vsbx.run_code("import os, signal; os.kill(os.getpid(), signal.SIGSTOP)", timeout=2)
    assert time.monotonic() - began < 30
    assert vsbx.commands.run("echo fine").stdout == "fine\n"
    assert not vsbx.files.exists("/tmp/before")  # a fresh VM, and the error said so


def test_guest_kernel_panic_is_a_typed_error_then_replaced(vsbx: Sandbox) -> None:
    vsbx.files.write("/tmp/before", "x")
    began = time.monotonic()
    with pytest.raises(VMLost, match="replaced"):
        vsbx.commands.run("echo c > /proc/sysrq-trigger; sleep 30")
    assert time.monotonic() - began < 20
    assert not vsbx.files.exists("/tmp/before")  # a fresh VM
    assert vsbx.commands.run("echo fine").stdout == "fine\n"


def test_filling_guest_memory_is_a_memory_error_and_state_is_kept(vsbx: Sandbox) -> None:
    vsbx.run_code("kept = 'yes'")
    with pytest.raises(LimitExceeded) as info:
        vsbx.run_code("hog = []\nwhile True:\n    hog.append(bytearray(32 << 20))")
    assert info.value.limit == "memory"
    assert vsbx.run_code("del hog; kept").text == "'yes'"
    r = vsbx.commands.run("python3 -c 'x = bytearray(4 << 30)' 2>&1 | tail -1")
    assert "MemoryError" in r.stdout


def test_filling_the_writable_disk_stops_at_its_cap_and_the_vm_lives_on(vsbx: Sandbox) -> None:
    vsbx.run_code("kept = 'yes'")
    r = vsbx.commands.run(
        "fallocate -l 4G /tmp/fill; echo $?; fallocate -l 440M /tmp/fill; echo $?; "
        "head -c 64M /dev/zero > /home/user/more; echo $?; df -m /tmp | tail -1"
    )
    lines = r.stdout.splitlines()
    assert lines[:3] == ["1", "0", "1"], r.stdout  # too big at once; then it fills up
    assert r.stderr.count("No space left on device") == 2, r.stderr
    used_mib = int(lines[-1].split()[2])
    assert 440 < used_mib <= 1024 // 2  # half of the VM's 1 GiB, shared by /tmp and /home
    assert vsbx.run_code("kept").text == "'yes'"  # the agent was not the OOM killer's victim
    vsbx.commands.run("rm /tmp/fill /home/user/more")
    assert vsbx.commands.run("echo room > /tmp/again && cat /tmp/again").stdout == "room\n"


def test_disk_bytes_resizes_the_writable_area_and_a_fork_keeps_it() -> None:
    with Sandbox.create(
        tier="microvm", template=TEMPLATE, limits=Limits(disk_bytes=96 << 20)
    ) as sbx:
        r = sbx.commands.run("df -B1 /tmp | tail -1; head -c 120M /dev/zero > /tmp/fill")
        assert int(r.stdout.split()[1]) == 96 << 20, r.stdout
        assert "No space left on device" in r.stderr
        sbx.commands.run("rm /tmp/fill")
        (kid,) = sbx.fork(1)
        with kid:
            r = kid.commands.run("df -B1 /home | tail -1")
            assert int(r.stdout.split()[1]) == 96 << 20, r.stdout
        assert sbx.commands.run("head -c 64M /dev/zero > ~/f && echo ok").stdout == "ok\n"


def test_close_leaves_no_qemu_or_files() -> None:
    sbx = Sandbox.create(tier="microvm", template=TEMPLATE)
    vm = box(sbx).vm
    pid, run = vm.pid, vm.run
    assert (run / "agent.sock").exists()
    sbx.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not run.exists()


def test_fork_gives_independent_copies(shared_vsbx: Sandbox) -> None:
    shared_vsbx.run_code("import random; base = 'parent'")
    shared_vsbx.files.write("/home/user/f.txt", "parent")
    kids = shared_vsbx.fork(2)
    try:
        kids[0].files.write("/home/user/f.txt", "kid0")
        kids[0].run_code("base = 'kid0'")
        assert kids[1].files.read("/home/user/f.txt") == "parent"
        assert kids[1].run_code("base").text == "'parent'"
        assert shared_vsbx.files.read("/home/user/f.txt") == "parent"
        draws = {k.run_code("random.random()").text for k in kids}
        assert len(draws) == 2
    finally:
        for k in kids:
            k.close()
    assert shared_vsbx.run_code("base").text == "'parent'"  # the parent runs on


def test_sdk_fork_takes_the_tiers_parallel_path(
    shared_vsbx: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sandbox.fork(n) must reach MicroVMSandbox.fork (a ForksItself), whose restores run
    # on a pool of "sandlot-fork" threads, not n restores one after another on this thread
    from sandlot.runtimes.microvm import sandbox as microvm_sandbox

    threads: list[str] = []
    real = microvm_sandbox.restore_saved

    def spy(*args: Any, **kwargs: Any) -> MicroVMSandbox:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(microvm_sandbox, "restore_saved", spy)
    kids = shared_vsbx.fork(2)
    try:
        assert len(threads) == 2
        assert all(name.startswith("sandlot-fork") for name in threads), threads
        assert [k.run_code("1 + 1").text for k in kids] == ["2", "2"]
    finally:
        for k in kids:
            k.close()


def test_a_saved_state_without_digest_is_refused_once_changed(shared_vsbx: Sandbox) -> None:
    # a fork's private state skips the SHA-256: its stamp alone vouches for it
    work = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        box(shared_vsbx).save(work, digest=False)
        state = work / STATE_FILE
        assert state.exists()
        _flip_byte(state, state.stat().st_size // 2)
        spec = SandboxSpec(TEMPLATE, Limits(), {})
        with pytest.raises(snapshot.SnapshotCorrupt, match="digest"):
            restore_saved(
                work,
                spec,
                lambda: snapshot.restore(
                    box(shared_vsbx).shape, snapshot.template(box(shared_vsbx).shape)
                ),
            )
    finally:
        shutil.rmtree(work)


def test_pause_and_resume_keep_files_and_state() -> None:
    sbx = Sandbox.create(tier="microvm", template=TEMPLATE)
    sbx.run_code("answer = 42")
    sbx.files.write("/tmp/note", "still here")
    sandbox_id = sbx.pause()
    with Sandbox.connect(sandbox_id) as again:
        assert again.run_code("answer").text == "42"
        assert again.files.read("/tmp/note") == "still here"


def test_resume_from_another_process_keeps_running_processes() -> None:
    sbx = Sandbox.create(tier="microvm", template=TEMPLATE)
    # a process left running by a command, counting in a file: it must go on after resume
    sbx.commands.run("(n=0; while :; do n=$((n+1)); echo $n > /tmp/count; sleep 0.2; done) &")
    sbx.run_code("answer = 42")
    time.sleep(1)
    before = int(sbx.files.read("/tmp/count"))
    sandbox_id = sbx.pause()
    script = (
        "import sys, time\n"
        "from sandlot import Sandbox\n"
        f"with Sandbox.connect({sandbox_id!r}) as s:\n"
        "    first = int(s.files.read('/tmp/count'))\n"
        "    time.sleep(2)\n"
        "    print(s.run_code('answer').text, first, int(s.files.read('/tmp/count')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    answer, first, later = done.stdout.split()
    assert answer == "42"
    assert int(first) >= before  # resumed where it was paused, not restarted
    assert int(later) > int(first)  # and the background loop still runs


def test_named_snapshot_starts_sandboxes_with_their_own_randomness() -> None:
    name = f"mvm-test-{os.getpid()}"
    with Sandbox.create(tier="microvm", template=TEMPLATE) as sbx:
        sbx.run_code("import random; greeting = 'from the snapshot'")
        sbx.files.write("/home/user/kept.txt", "kept")
        info = sbx.create_snapshot(name)
        assert info.tier == "microvm"
        assert sbx.run_code("greeting").text == "'from the snapshot'"  # it runs on
    try:
        draws = set()
        for _ in range(2):
            with Sandbox.create(snapshot=name) as started:
                assert started.run_code("greeting").text == "'from the snapshot'"
                assert started.files.read("/home/user/kept.txt") == "kept"
                draws.add(started.run_code("random.random()").text)
        assert len(draws) == 2
    finally:
        Sandbox.delete_snapshot(name)


def test_pools_stay_within_their_memory_budget(
    runtime: MicroVMRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    shape = runtime.shape(SandboxSpec(TEMPLATE, Limits(), {}))
    monkeypatch.setenv("SANDLOT_MICROVM_POOL_MEMORY", "1M")  # less than one idle VM
    starved = Pool(lambda: runtime._fresh(shape), size=2)
    try:
        starved.refill()
        deadline = time.monotonic() + 20
        while not starved.held_back and time.monotonic() < deadline:
            time.sleep(0.05)
        assert starved.held_back and starved.ready_count() == 0
        monkeypatch.setenv("SANDLOT_MICROVM_POOL_MEMORY", "4G")
        starved._wake.set()
        deadline = time.monotonic() + 120
        while starved.ready_count() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert starved.ready_count() == 2 and not starved.held_back
        held = starved.held_bytes()
        assert 0 < held < 2 * 1024 << 20  # measured, and well below two whole VMs
        taken = starved.take()
        assert taken is not None and taken[0].alive()
        taken[0].kill()
    finally:
        starved.close()
