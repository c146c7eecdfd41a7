"""Hostile code on the process tier: each attack is contained, with a typed error where the
call is stopped, and the host and the other sandboxes are unaffected."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from typing import Any

import pytest
from host_memory import peak_growth_mib

from sandlot import (
    GuestProtocolError,
    LimitExceeded,
    Limits,
    Sandbox,
    SandboxError,
    TimeoutError,
)
from sandlot.guest.agent import framing
from sandlot.runtimes.linux import disk
from sandlot.runtimes.linux.cgroups import Cgroups
from sandlot.runtimes.process.root import gpu_devices


def _host_pids_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_host_files_are_invisible() -> None:
    marker = f"sandlot-secret-{uuid.uuid4().hex}"
    with (
        tempfile.NamedTemporaryFile(prefix=marker, dir="/tmp") as secret,
        Sandbox.create(template="host", tier="process") as sbx,
    ):
        listing = sbx.commands.run("ls -A /tmp /root 2>&1").stdout
        assert marker not in listing and "outputs" in listing
        r = sbx.commands.run(f"cat {secret.name}; cat /etc/shadow; ls /work /var /run /sys")
        assert r.stdout == "" and r.stderr.count("No such file") == 6
        assert sbx.commands.run("ls /home").stdout == "user\n"
        r = sbx.commands.run("ls /proc | grep -c '^[0-9]'")
        assert int(r.stdout) < 10  # only the sandbox's own processes


def test_userland_is_read_only(psbx: Sandbox) -> None:
    r = psbx.commands.run("touch /usr/x; echo > /etc/passwd; mkdir /opt/sandlot/x; touch /x")
    assert r.stderr.count("Read-only file system") + r.stderr.count("Permission denied") >= 3
    assert not os.path.exists("/usr/x")


@pytest.mark.parametrize(
    "cmd", ["unshare -U true", "unshare -r true", "unshare -n true", "mount -t tmpfs none /tmp"]
)
def test_escape_commands_fail(psbx: Sandbox, cmd: str) -> None:
    r = psbx.commands.run(cmd)
    assert r.exit_code != 0
    assert "Operation not permitted" in r.stderr or "must be superuser" in r.stderr


def test_escape_system_calls_are_refused(psbx: Sandbox) -> None:
    calls = {
        "ptrace": (101, 0),  # PTRACE_TRACEME
        "keyctl": (250, 0),
        "add_key": (248, 0),
        "request_key": (249, 0),
        "bpf": (321, 0),
        "mount": (165, 0),
        "umount2": (166, 0),
        "pivot_root": (155, 0),
        "unshare(NEWUSER)": (272, 0x10000000),
        "clone(NEWUSER)": (56, 0x10000000 | 17),  # SIGCHLD
        "setns": (308, 0),
    }
    ex = psbx.run_code(
        "import ctypes, errno\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "out = {}\n"
        f"for name, (nr, arg) in {calls!r}.items():\n"
        "    ctypes.set_errno(0)\n"
        "    r = libc.syscall(nr, ctypes.c_long(arg), 0, 0, 0, 0)\n"
        "    out[name] = (r, errno.errorcode.get(ctypes.get_errno()))\n"
        "out"
    )
    assert ex.error is None, ex.error
    out = eval(ex.text or "{}")
    assert out == {name: (-1, "EPERM") for name in calls}


def test_seccomp_and_no_capabilities(psbx: Sandbox) -> None:
    status = psbx.commands.run("grep -E '^(Seccomp|CapEff|CapBnd|NoNewPrivs):' /proc/self/status")
    fields = dict(line.split(":\t") for line in status.stdout.splitlines())
    assert fields["Seccomp"] == "2"
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapBnd"], 16) == 0


def test_network_is_unreachable(psbx: Sandbox) -> None:
    r = psbx.commands.run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
    assert r.stdout.split() == ["lo"]
    ex = psbx.run_code(
        "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('1.1.1.1', 80))"
    )
    assert ex.error is not None and ex.error.name in ("OSError", "TimeoutError")


def test_fork_bomb_is_contained() -> None:
    with Sandbox.create(template="host", tier="process") as sbx:
        with pytest.raises(TimeoutError):  # the command's whole process group is killed
            sbx.commands.run("bomb() { bomb | bomb & }; bomb; sleep 60", timeout=4)
        assert subprocess.run(["true"]).returncode == 0  # the host can still fork
        assert sbx.commands.run("echo alive").stdout == "alive\n"
        # a bomb left running by a command that ended stops at the pids limit; the next
        # command clears the sandbox of it, and says so
        sbx.commands.run("bomb() { bomb | bomb & }; bomb; sleep 2", timeout=10)
        r = sbx.commands.run("echo again", timeout=20)
        assert r.stdout == "again\n"
        assert subprocess.run(["true"]).returncode == 0


def test_memory_bomb_in_code_is_limited(small_psbx: Sandbox) -> None:
    small_psbx.run_code("kept = 7")
    with pytest.raises(LimitExceeded) as info:
        small_psbx.run_code("x = []\nwhile True: x.append(bytearray(10 << 20))")
    assert info.value.limit == "memory"
    assert small_psbx.run_code("kept").text == "7"


def test_memory_bomb_across_processes_is_limited(small_psbx: Sandbox) -> None:
    cgroups: Cgroups = small_psbx._core._box._cgroups  # type: ignore[union-attr]
    if cgroups.memory_path is None:
        pytest.skip(f"no writable memory cgroup on this host: {cgroups.notes}")
    script = (
        "import os, time\n"
        "for i in range(12):\n"
        "    if os.fork() == 0:\n"
        "        b = bytearray(100 << 20); time.sleep(5); os._exit(0)\n"
        "time.sleep(3)\n"
    )
    small_psbx.files.write("/tmp/bomb.py", script)
    try:
        small_psbx.commands.run("python3 /tmp/bomb.py; echo done", timeout=20)
    except SandboxError:
        pass
    assert small_psbx.commands.run("echo alive").stdout == "alive\n"


def test_infinite_loop_times_out_and_keeps_state(psbx: Sandbox) -> None:
    psbx.run_code("kept = 1")
    with pytest.raises(TimeoutError, match="kept"):
        psbx.run_code("while True: pass", timeout=1)
    assert psbx.run_code("kept + 1").text == "2"


def test_loop_that_ignores_interrupts_is_killed_and_state_reset(psbx: Sandbox) -> None:
    psbx.files.write("/home/user/f.txt", "kept")
    psbx.run_code("lost = 1")
    code = (
        "import time\nwhile True:\n    try:\n        time.sleep(100)\n"
        "    except BaseException:\n        pass\n"
    )
    with pytest.raises(TimeoutError, match="Python state was reset"):
        psbx.run_code(code, timeout=1)
    assert psbx.run_code("'lost' in globals()").text == "False"
    assert psbx.files.read("/home/user/f.txt") == "kept"
    assert psbx.commands.run("echo ok").stdout == "ok\n"


def test_command_timeout_kills_its_process_group(psbx: Sandbox) -> None:
    psbx.run_code("kept = 3")
    with pytest.raises(TimeoutError):
        psbx.commands.run("sleep 100 & sleep 100", timeout=1)
    assert psbx.commands.run("pgrep -c sleep || true").stdout.strip() == "0"
    assert psbx.run_code("kept").text == "3"


def test_kill_all_is_survived(psbx: Sandbox) -> None:
    try:
        psbx.commands.run("kill -9 -1")
    except SandboxError as e:
        assert "restarted" in str(e)
    assert psbx.commands.run("echo back").stdout == "back\n"


def test_sandboxes_cannot_see_each_other() -> None:
    with (
        Sandbox.create(template="host", tier="process") as a,
        Sandbox.create(template="host", tier="process") as b,
    ):
        a.commands.run("echo mine > /tmp/a.txt; echo mine > ~/a.txt; sleep 30 &")
        r = b.commands.run("ls /tmp ~; ps -e -o comm=")
        assert "a.txt" not in r.stdout and "sleep" not in r.stdout


def test_close_leaves_no_process_or_folder() -> None:
    marker = f"{uuid.uuid4().int % 10**6 + 10**6}"
    sbx = Sandbox.create(template="host", tier="process")
    box = sbx._core._box
    state_dir = box._state_dir  # type: ignore[union-attr]
    cgroups = list(box._cgroups.paths)  # type: ignore[union-attr]
    sbx.commands.run(f"setsid sleep {marker} & nohup sleep {marker} >/dev/null 2>&1 &")
    assert _host_pids_with(f"sleep\0{marker}")
    sbx.close()
    assert not _host_pids_with(f"sleep\0{marker}")
    assert not os.path.exists(state_dir)
    assert not any(os.path.exists(p) for p in cgroups)


def test_disk_fill_is_limited_per_file(psbx: Sandbox) -> None:
    r = psbx.commands.run("ulimit -f")
    assert r.stdout.strip() != "unlimited"


def test_limits_apply_inside() -> None:
    with Sandbox.create(
        template="host", tier="process", limits=Limits(memory_bytes=300 << 20)
    ) as sbx:
        r = sbx.commands.run("ulimit -v; ulimit -u; ulimit -c")
        address_space = "unlimited" if gpu_devices() else str(300 << 10)  # GPUs: cgroup only
        assert r.stdout.split() == [address_space, "256", "0"]


def test_code_that_forges_protocol_garbage_gets_a_typed_error(psbx: Sandbox) -> None:
    psbx.files.write("/home/user/f.txt", "kept")
    with pytest.raises(GuestProtocolError):
        psbx.run_code(
            "import json, os, sys\n"
            "os.write(json.loads(sys.argv[1])['event_fd'], b'not json\\n')\n"
            "import time; time.sleep(1)"
        )
    assert psbx.run_code("1 + 1").text == "2"
    assert psbx.files.read("/home/user/f.txt") == "kept"


def test_code_that_forges_a_done_reply_is_ignored(psbx: Sandbox) -> None:
    # a well-formed frame, as the agent's own, but without the request's id
    forged = framing.pack({"ev": "done", "reply": {"results": "nope"}})
    ex = psbx.run_code(
        f"import json, os, sys\nos.write(json.loads(sys.argv[1])['event_fd'], {forged!r})\n'real'"
    )
    assert ex.text == "'real'"
    assert psbx.run_code("2 + 2").text == "4"


# Code that writes on its event pipe one frame of 32 MiB: `unit` repeated between `head`
# and `tail`, then ends normally (its reply is 'after').
BIG_EVENT_FRAME = (
    "import json, os, sys\n"
    "payload = {head!r} + {unit!r} * ((32 << 20) // {size}) + {tail!r}\n"
    "frame = memoryview(b'%s%08x%s\\n' % ({mark!r}, len(payload), payload))\n"
    "del payload\n"
    "while frame:\n"
    "    frame = frame[os.write(json.loads(sys.argv[1])['event_fd'], frame) :]\n"
    "del frame\n"
    "'after'"
)


def _big_event_frame(head: bytes, unit: bytes, tail: bytes) -> str:
    return BIG_EVENT_FRAME.format(
        head=head, unit=unit, size=len(unit), tail=tail, mark=framing.MARK
    )


def test_a_frame_that_would_expand_on_the_host_is_refused_unparsed(psbx: Sandbox) -> None:
    # 32 MiB of `[]` would be ~740 MiB of host objects, whatever the sandbox's own limit
    psbx.files.write("/home/user/f.txt", "kept")
    empty_lists = _big_event_frame(b'{"ev":"done","reply":{"x":[', b"[],", b"[]]}}")
    one_string = _big_event_frame(b'{"ev":"pad","x":"', b"abc", b'"}')

    def refuse() -> None:
        with pytest.raises(GuestProtocolError, match="too many items: 2236"):
            psbx.run_code(empty_lists)

    _, refused = peak_growth_mib(refuse)
    parse, plain = peak_growth_mib(lambda: psbx.run_code(one_string))  # as big, parsed, dropped
    assert parse.text == "'after'"
    assert refused < plain + 16, f"refusing cost {refused} MiB, a plain frame {plain} MiB"
    assert psbx.run_code("1 + 1").text == "2"
    assert psbx.files.read("/home/user/f.txt") == "kept"


def test_a_frame_nested_too_deep_is_refused_unparsed(psbx: Sandbox) -> None:
    for depth in (10_000, 900):
        nested = b"[" * depth + b"]" * depth
        payload = b'{"ev":"stdout","data":' + nested + b"}"
        forged = b"%s%08x%s\n" % (framing.MARK, len(payload), payload)
        code = f"import json, os, sys\nos.write(json.loads(sys.argv[1])['event_fd'], {forged!r})"
        with pytest.raises(GuestProtocolError, match=f"nests too deeply: {depth + 1} levels"):
            psbx.run_code(code + "\nimport time; time.sleep(1)")
        assert psbx.run_code("2 + 2").text == "4"


def test_a_big_reply_is_within_the_budget(psbx: Sandbox) -> None:
    # 20 MiB of JSON-looking text, its quotes escaped: all of it inside one string
    text = '[{"a": 1}], ' * ((20 << 20) // 12)
    ex = psbx.run_code(
        f"type('Page', (), {{'_repr_html_': lambda _: {text[:12]!r} * {len(text) // 12}}})()"
    )
    assert ex.error is None and ex.results[0].html == text


def test_agent_that_dies_is_a_typed_error_and_restarts(psbx: Sandbox) -> None:
    psbx.run_code("lost = 1")
    with pytest.raises(SandboxError, match="restarted"):
        psbx.run_code("import os; os._exit(3)")
    assert psbx.run_code("'lost' in globals()").text == "False"
    with pytest.raises(SandboxError, match="restarted"):
        psbx.run_code("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert psbx.commands.run("echo ok").stdout == "ok\n"


def test_output_flood_is_capped_without_hanging() -> None:
    limits = Limits(output_bytes=10_000)
    with Sandbox.create(template="host", tier="process", limits=limits) as sbx:
        r = sbx.commands.run("head -c 200000000 /dev/zero | tr '\\0' x", timeout=60)
        assert len(r.stdout) == 10_000 and r.truncated == ("stdout",)
        ex = sbx.run_code("import os\nfor _ in range(2000): os.write(1, b'y' * 10000)")
        assert len(ex.logs.stdout) <= 10_000 and "stdout" in ex.truncated


def test_host_unix_sockets_are_unreachable(psbx: Sandbox) -> None:
    ex = psbx.run_code(
        "import os, socket, stat\n"
        "found = []\n"
        "for top in sorted(set(os.listdir('/')) - {'usr', 'proc', 'sys'}):\n"
        "    for d, _, names in os.walk('/' + top):\n"
        "        found += [os.path.join(d, n) for n in names\n"
        "                  if stat.S_ISSOCK(os.lstat(os.path.join(d, n)).st_mode)]\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect('\\0/tmp/.X11-unix/X0')\n"
        "    ok = True\n"
        "except OSError:\n"
        "    ok = False\n"
        "(found, ok)"
    )
    assert ex.error is None, ex.error
    assert ex.text == "([], False)"


def test_disk_fill_stops_at_the_cap(psbx: Sandbox) -> None:
    box: Any = psbx._core._box
    if not box._jail.mounted:
        pytest.skip(f"the sandbox's folders are not size-capped here: {box.notes}")
    r = psbx.commands.run(
        "head -c 3G /dev/zero > /tmp/fill; echo rc=$?; head -c 1M /dev/zero > ~/more; echo rc=$?",
        timeout=120,
    )
    assert "No space left" in r.stderr or "File too large" in r.stderr
    psbx.commands.run("rm -f /tmp/fill ~/more")
    assert psbx.commands.run("echo fine > ~/ok && cat ~/ok").stdout == "fine\n"


def test_disk_bytes_is_the_cap_of_the_writable_folders_and_of_each_file() -> None:
    limits = Limits(disk_bytes=64 << 20)
    with (
        Sandbox.create(template="host", tier="process", limits=limits) as sbx,
        Sandbox.create(template="host", tier="process", limits=limits) as other,
    ):
        box: Any = sbx._core._box
        assert sbx.commands.run("ulimit -f").stdout.strip() == str(64 << 10)  # 1 KiB blocks
        if not box._jail.mounted:
            pytest.skip(f"the sandbox's folders are not size-capped here: {box.notes}")
        st = os.statvfs(box._jail.root_dir)
        assert st.f_blocks * st.f_frsize == 64 << 20
        ex = sbx.run_code(
            "import errno\n"
            "open('/tmp/a', 'wb').write(b'x' * (40 << 20))\n"
            "try:\n"
            "    open('/home/user/b', 'wb').write(b'x' * (40 << 20))\n"
            "    got = 'room'\n"
            "except OSError as e:\n"
            "    got = errno.errorcode[e.errno]\n"
            "got"
        )
        assert ex.text == "'ENOSPC'", ex
        assert other.commands.run("head -c 40M /dev/zero > /tmp/x && echo ok").stdout == "ok\n"
        sbx.commands.run("rm -f /tmp/a /home/user/b")
        assert sbx.commands.run("head -c 40M /dev/zero > ~/c && echo ok").stdout == "ok\n"


def test_host_environment_does_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDLOT_TEST_SECRET", "hunter2")
    monkeypatch.setenv("SANDLOT_PROCESS_SPARES", "0")  # a spare may predate the variable
    with Sandbox.create(template="host", tier="process") as sbx:
        r = sbx.commands.run(
            r"env; for p in /proc/[0-9]*; do cat $p/environ 2>/dev/null | tr '\0' '\n'; done"
        )
        assert "hunter2" not in r.stdout and "SANDLOT_TEST_SECRET" not in r.stdout
        assert sbx.run_code("import os; 'SANDLOT_TEST_SECRET' in os.environ").text == "False"


def test_leftovers_of_a_killed_host_process_are_swept() -> None:
    from sandlot.runtimes.linux import stale
    from sandlot.runtimes.process.sandbox import PREFIX

    script = (
        "import os, signal\n"
        "from sandlot import Sandbox\n"
        "s = Sandbox.create(template='host', tier='process')\n"
        "s.commands.run('sleep 60 &')\n"
        "print(s._core._box._state_dir, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "SANDLOT_PROCESS_SPARES": "0"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    state_dir = done.stdout.strip()
    assert state_dir and os.path.isdir(state_dir)
    with open(os.path.join(state_dir, "cgroups")) as f:
        cgroups = [p for p in f.read().split("\n") if p]
    stale.sweep.cache_clear()
    assert stale.sweep(PREFIX) >= 1
    assert not os.path.exists(state_dir)
    assert not any(os.path.exists(p) for p in cgroups)


def test_the_jail_shows_no_host_paths(psbx: Sandbox) -> None:
    r = psbx.commands.run(r"for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline; echo; done")
    assert "sandlot-process-" not in r.stdout and "/.cache/" not in r.stdout


@pytest.mark.parametrize("capped", [True, False])
def test_a_very_deep_tree_is_freed_on_close(capped: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the tmpfs (a host that may not mount: not root), close removes the guest's
    # files itself: 1,100 levels must neither raise (RecursionError) nor stay behind.
    if not capped:
        monkeypatch.setattr(disk, "mount_capped", lambda path, size: "no tmpfs on this host")
    # envs no warm spare has: the sandbox is made now, under the patch
    sbx = Sandbox.create(template="host", tier="process", envs={"FRESH": uuid.uuid4().hex})
    state = sbx._core._box._jail.state_dir  # type: ignore[union-attr]
    r = sbx.commands.run(
        "cd ~ && for i in $(seq 1100); do mkdir d && cd d || exit 1; done; echo bottom > leaf"
        " && chmod 0 ~/d/d && echo made",
        timeout=120,
    )
    assert r.stdout == "made\n", r
    assert capped or not sbx._core._box._jail.mounted  # type: ignore[union-attr]
    sbx.close()
    assert not os.path.exists(state)
