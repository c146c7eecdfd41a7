"""Hostile code: every limit hit is a typed error, and the sandbox lives on with its state."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from host_memory import peak_growth_mib

from sandlot import (
    GuestProtocolError,
    LimitExceeded,
    Limits,
    NotFound,
    Sandbox,
    SandboxError,
    TimeoutError,
)
from sandlot.runtimes.hostfs import remove_tree


def test_infinite_loop_times_out_and_state_survives(sbx: Sandbox) -> None:
    sbx.run_code("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3]})\nkept = 41")
    with pytest.raises(TimeoutError, match="1 s limit"):
        sbx.run_code("while True: pass", timeout=1)
    assert sbx.run_code("kept + 1").text == "42"
    assert sbx.run_code("int(df.a.sum())").text == "6"
    # and again: recovery is repeatable, and later state is checkpointed too
    sbx.run_code("kept = 100")
    with pytest.raises(TimeoutError):
        sbx.run_code("import time\nwhile True: time.sleep(0.01)", timeout=0.5)
    assert sbx.run_code("kept").text == "100"


def test_state_from_a_timed_out_call_is_not_kept(sbx: Sandbox) -> None:
    sbx.run_code("n = 1")
    with pytest.raises(TimeoutError):
        sbx.run_code("n = 2\nwhile True: pass", timeout=0.5)
    assert sbx.run_code("n").text == "1"


def test_memory_bomb_is_a_limit_and_state_survives() -> None:
    with Sandbox.create(limits=Limits(memory_bytes=256 << 20)) as sbx:
        sbx.run_code("kept = 'still here'")
        with pytest.raises(LimitExceeded) as info:
            sbx.run_code("x = bytearray(1 << 30)")
        assert info.value.limit == "memory" and "256 MiB" in str(info.value)
        with pytest.raises(LimitExceeded):
            sbx.run_code("blocks = []\nwhile True: blocks.append(bytearray(1 << 24))")
        assert sbx.run_code("kept").text == "'still here'"


def test_output_flood_is_truncated_and_flagged() -> None:
    with Sandbox.create(limits=Limits(output_bytes=10_000)) as sbx:
        ex = sbx.run_code("for i in range(100000): print('flood', i)")
        assert ex.truncated == ("stdout",)
        assert len(ex.logs.stdout.encode()) <= 10_000
        assert ex.logs.stdout.startswith("flood 0\n")
        ex = sbx.run_code("import os\nfor i in range(1000): os.write(1, b'x' * 10000)")
        assert "stdout" in ex.truncated and len(ex.logs.stdout.encode()) <= 10_000
        assert sbx.run_code("'fine'").text == "'fine'"


def test_huge_single_result_is_capped(sbx: Sandbox) -> None:
    ex = sbx.run_code("'y' * 5_000_000")
    assert ex.text is not None and len(ex.text) <= (1 << 20)


def test_deep_recursion_is_an_ordinary_error(sbx: Sandbox) -> None:
    ex = sbx.run_code("def f(n): return f(n + 1)\nf(0)")
    assert ex.error is not None and ex.error.name == "RecursionError"
    assert sbx.run_code("3").text == "3"


def test_source_too_deep_for_the_guest_compiler(sbx: Sandbox) -> None:
    sbx.run_code("kept = 7")
    deep = "x = " + "(" * 5000 + "1" + ")" * 5000
    try:
        ex = sbx.run_code(deep)
    except LimitExceeded as e:
        assert e.limit == "stack"
    else:
        assert ex.error is not None and ex.error.name in (
            "SyntaxError",
            "RecursionError",
            "MemoryError",
        )
    chain = "if x == 0: pass\n" + "".join(f"elif x == {i}: pass\n" for i in range(1, 30000))
    try:
        ex = sbx.run_code("x = 5\n" + chain)
    except LimitExceeded as e:
        assert e.limit == "stack"
    assert sbx.run_code("kept").text == "7"


def test_os_exit_does_not_lose_the_sandbox(sbx: Sandbox) -> None:
    sbx.run_code("kept = 'x'")
    with pytest.raises(SandboxError, match="ended the interpreter|crashed"):
        sbx.run_code("import os; os._exit(3)")
    assert sbx.run_code("kept").text == "'x'"


def test_guest_cannot_see_host_files(sbx: Sandbox) -> None:
    ex = sbx.run_code("open('/etc/passwd').read()")
    assert ex.error is not None and ex.error.name in ("FileNotFoundError", "PermissionError")
    ex = sbx.run_code("import os; sorted(os.listdir('/'))")
    assert ex.text is not None and "etc" not in ex.text and "root" not in ex.text


def test_guest_made_symlinks_cannot_leak_host_files(sbx: Sandbox) -> None:
    # What the guest itself can make (relative targets), and what it might leave by any
    # other means (planted straight into its folder): neither reaches the host's /etc.
    sbx.run_code(
        "import os\n"
        "for name, target in [('rel', '../../../../../../etc/passwd'), ('abs', '/etc/passwd')]:\n"
        "    try:\n"
        "        os.symlink(target, name)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    root = sbx._core._box._root_dir  # type: ignore[union-attr]
    planted = os.path.join(root, "home/user/planted")
    os.symlink("/etc/passwd", planted)
    os.symlink("/", os.path.join(root, "home/user/hostroot"))
    for name in ("rel", "abs", "planted", "hostroot/etc/passwd"):
        with pytest.raises(NotFound):
            sbx.files.read(name)
    sbx.files.write("hostroot/tmp/sandlot-escape-probe", "x")
    assert not os.path.exists("/tmp/sandlot-escape-probe")
    assert os.path.exists(os.path.join(root, "tmp/sandlot-escape-probe"))


def test_path_escapes_stay_inside(sbx: Sandbox) -> None:
    for path in ("../../../../etc/passwd", "/home/user/../../../etc/passwd", "/../etc/passwd"):
        with pytest.raises(NotFound):
            sbx.files.read(path)
    sbx.files.write("../../../../../tmp/inside.txt", "ok")
    assert sbx.run_code("open('/tmp/inside.txt').read()").text == "'ok'"


def test_malformed_frames_from_the_guest_are_contained(sbx: Sandbox) -> None:
    sbx.run_code("kept = 1")
    ex = sbx.run_code(
        "import _host\nfor junk in (b'', b'[1]', b'{bad', b'\\xff' * 100):\n"
        "    _host.call(junk)\n'ok'"
    )
    assert ex.text == "'ok'"
    # a forged reply with the wrong types is refused with a protocol error, not a crash
    forged = (
        "import _host, json\n"
        "_host.call(json.dumps({'ev': 'done', 'reply': {'results': 'nope'}}).encode())\n"
        "import os; os._exit(0)"
    )
    with pytest.raises((GuestProtocolError, SandboxError)):
        sbx.run_code(forged)
    assert sbx.run_code("kept").text == "1"


# Code that sends through the door one frame of 32 MiB made in place of `unit` repeated,
# between `head` and `tail` (padded to whole units), then ends normally (its reply is 'after').
BIG_DOOR_FRAME = (
    "import _host\n"
    "head, tail, unit = {head!r}, {tail!r}, {unit!r}\n"
    "head += b' ' * (-len(head) % len(unit))\n"
    "tail = b' ' * (-len(tail) % len(unit)) + tail\n"
    "frame = bytearray(unit) * ((32 << 20) // len(unit))\n"
    "frame[: len(head)] = head\n"
    "frame[-len(tail) :] = tail\n"
    "_host.call(frame)\n"
    "del frame\n"
    "'after'"
)
EMPTY_LISTS = BIG_DOOR_FRAME.format(head=b'{"ev":"done","reply":{"x":[', tail=b"[]]}}", unit=b"[],")
ONE_STRING = BIG_DOOR_FRAME.format(head=b'{"ev":"pad","x":"', tail=b'"}', unit=b"abc")


def test_a_frame_that_would_expand_on_the_host_is_refused_unparsed(sbx: Sandbox) -> None:
    # 32 MiB of `[]` would be ~1 GiB of host objects, whatever the sandbox's own limit; as a
    # forged reply it is dropped unparsed, like any bad frame on the door, and the real one
    # comes
    sbx.run_code("kept = 5")
    for code in (ONE_STRING, EMPTY_LISTS):  # the guest's own memory grows to hold them
        assert sbx.run_code(code).text == "'after'"
    refusal, refused = peak_growth_mib(lambda: sbx.run_code(EMPTY_LISTS))
    assert refusal.text == "'after'"
    parse, plain = peak_growth_mib(lambda: sbx.run_code(ONE_STRING))  # as big, parsed, dropped
    assert parse.text == "'after'"
    assert refused < plain + 32, f"refusing cost {refused} MiB, a plain frame {plain} MiB"
    assert sbx.run_code("kept").text == "5"


def test_a_frame_nested_too_deep_is_refused_unparsed(sbx: Sandbox) -> None:
    # 900 deep parses, but little host code that walks a result could take it
    sbx.run_code("kept = 6")
    for depth in (10_000, 900, 124):
        nested = b"[" * depth + b"]" * depth
        forged = (
            "import _host\n"
            '_host.call(b\'{"ev":"done","reply":{"results":[{"json":\' '
            f"+ {nested!r} + b'}}]}}}}')\n'after'"
        )
        assert sbx.run_code(forged).text == ("'after'" if depth > 124 else None)
        assert sbx.run_code("kept").text == "6"


def test_a_reply_over_the_budget_of_the_sandboxs_memory_is_a_protocol_error() -> None:
    code = "class Big:\n    def _repr_json_(self):\n        return [0] * 600_000\nBig()"
    with Sandbox.create(limits=Limits(memory_bytes=128 << 20)) as sbx:
        sbx.run_code("kept = 7")
        with pytest.raises(GuestProtocolError, match="too many items: 600.*limit of 524288"):
            sbx.run_code(code)
        assert sbx.run_code("kept").text == "7"
    with Sandbox.create() as sbx:  # 1 GiB: within its budget
        assert sbx.run_code(code).results[0].json == [0] * 600_000


def test_a_big_reply_is_within_the_budget(sbx: Sandbox) -> None:
    # 20 MiB of text full of commas, colons and brackets: all inside one string
    ex = sbx.run_code(
        "class Page:\n"
        "    def _repr_html_(self):\n"
        "        return 'word, [x]: {y} .' * (20 << 16)\n"
        "Page()"
    )
    assert ex.error is None and ex.results[0].html == "word, [x]: {y} ." * (20 << 16)


def test_read_of_a_huge_file_is_a_limit() -> None:
    with Sandbox.create(limits=Limits(file_read_bytes=1000)) as sbx:
        sbx.run_code("open('big.bin', 'wb').write(b'0' * 5000)")
        with pytest.raises(LimitExceeded) as info:
            sbx.files.read("big.bin")
        assert info.value.limit == "file_size"


@pytest.mark.slow
def test_cpu_fuel_exhaustion_is_a_limit_and_state_survives() -> None:
    # The fuel-metered runtime is a separate compile (cached after the first; CI warms it).
    with Sandbox.create(limits=Limits(cpu_fuel=2_000_000_000)) as sbx:
        sbx.run_code("kept = 5")
        with pytest.raises(LimitExceeded) as info:
            sbx.run_code("while True: pass")
        assert info.value.limit == "cpu"
        assert sbx.run_code("kept").text == "5"


def test_timeout_on_the_very_first_call(sbx: Sandbox) -> None:
    # No checkpoint exists yet: the sandbox returns to a fresh boot, and works.
    with pytest.raises(TimeoutError):
        sbx.run_code("while True: pass", timeout=0.3)
    assert sbx.run_code("import os; os.getcwd()").text == "'/home/user'"
    sbx.run_code("after = 1")
    with pytest.raises(TimeoutError):
        sbx.run_code("while True: pass", timeout=0.3)
    assert sbx.run_code("after").text == "1"


def test_per_call_limits_override_the_sandbox_limits(sbx: Sandbox) -> None:
    ex = sbx.run_code("print('z' * 5000)", limits=Limits(output_bytes=100))
    assert ex.truncated == ("stdout",) and len(ex.logs.stdout) <= 100
    assert sbx.run_code("print('z' * 5000)").truncated == ()
    with pytest.raises(TimeoutError, match="0.3 s"):
        sbx.run_code("while True: pass", limits=Limits(wall_time=0.3))
    from sandlot import InvalidArgument

    with pytest.raises(InvalidArgument, match="per-sandbox"):
        sbx.run_code("1", limits=Limits(memory_bytes=128 << 20))
    with pytest.raises(InvalidArgument, match="cpu_fuel"):
        sbx.run_code("1", limits=Limits(cpu_fuel=1000))


def test_a_frame_nested_too_deep_for_the_parser_is_contained(sbx: Sandbox) -> None:
    sbx.run_code("kept = 2")
    ex = sbx.run_code(
        "import _host\n"
        "try:\n"
        "    _host.call(b'{\"ev\":' + b'[' * 200000 + b']' * 200000 + b'}')\n"
        "except OSError:\n"
        "    pass\n"
        "'survived'"
    )
    assert ex.text == "'survived'"
    assert sbx.run_code("kept").text == "2"


def test_only_file_operations_reach_the_files(sbx: Sandbox) -> None:
    from sandlot import InvalidArgument

    with pytest.raises(InvalidArgument, match="unknown file operation"):
        sbx._core.files_op("close")
    assert sbx.files.exists("/home/user")


def test_the_frame_budget_counts_only_structure_outside_strings() -> None:
    from sandlot.guest.agent.protocol import FrameOverBudget, check_budget

    # in strings, even behind escaped quotes and backslashes, brackets and commas are text
    text = b'{"a":"\\\\\\"[[[[,,,,:\\\\","b":"' + b"[" * 300 + b'"}'
    check_budget(text, items=5, depth=1)
    with pytest.raises(FrameOverBudget, match="too many items: 5, more than the limit of 4"):
        check_budget(b'{"a":[1,2]}', items=4)
    check_budget(b'{"a":[1,2]}', items=5)
    with pytest.raises(FrameOverBudget, match="nests too deeply: 3 levels"):
        check_budget(b'{"a":[{"b":1}],"c":"' + b"}" * 300 + b'"}', depth=2)
    check_budget(b'{"a":[{}],"b":[[]]}' + b" " * 300, depth=3)
    # 300 strings: each a value or a key, cut out before counting
    many = b'{"k":[' + b",".join(b'"[%d]"' % i for i in range(300)) + b"]}"
    check_budget(many, items=303, depth=2)
    with pytest.raises(FrameOverBudget, match="too many items: 303"):
        check_budget(many, items=302)


def test_the_protocol_refuses_deep_nesting_as_a_malformed_frame() -> None:
    # Every tier's host parses guest frames with this; a RecursionError must not escape it.
    from sandlot.guest.agent import protocol

    with pytest.raises(ValueError, match="nests too deeply"):
        protocol.decode(b"[" * 200000 + b"]" * 200000)


def test_a_reply_survives_closed_stdout_and_forged_reply_marks(sbx: Sandbox) -> None:
    # The guest's reply normally rides at the end of its stdout behind a mark: code that
    # closes fd 1, or writes a mark and a forged reply of its own, must not change the result.
    sbx.run_code("kept = 4")
    forged = (
        "import os\n"
        'os.write(1, b\'\\x00\\x1esandlot-reply\\x1e{"ev": "done", "reply": '
        '{"results": "nope"}}\\x00\')\n'
        "'real'"
    )
    assert sbx.run_code(forged).text == "'real'"
    assert sbx.commands.run("echo fine").stdout == "fine\n"
    ex = sbx.run_code("import os\nos.close(1)\n'still here'")
    assert ex.text == "'still here'" and ex.error is None
    assert sbx.run_code("kept").text == "4"
    assert sbx.commands.run("echo after").stdout == "after\n"


FILL = (
    "import errno, os\n"
    "got = 'room'\n"
    "try:\n"
    "    with open('/home/user/fill', 'wb') as f:\n"
    "        for _ in range({mib}):\n"
    "            f.write(b'x' * (1 << 20))\n"
    "            f.flush()\n"
    "except OSError as e:\n"
    "    got = 'ENOSPC' if e.errno == errno.ENOSPC else repr(e)\n"
    "got"
)


def _capped(sbx: Sandbox) -> str:
    """The wasm sandbox's host folder, skipping where this host cannot mount its cap."""
    box: Any = sbx._core._box
    if not box._folder.mounted:
        pytest.skip(f"no size-capped folder on this host: {box.notes}")
    return str(box._root_dir)


def test_disk_fill_past_disk_bytes_is_enospc_and_room_comes_back() -> None:
    with (
        Sandbox.create(limits=Limits(disk_bytes=64 << 20)) as sbx,
        Sandbox.create(limits=Limits(disk_bytes=64 << 20)) as other,
    ):
        root = _capped(sbx)
        free_before = os.statvfs(tempfile.gettempdir()).f_bavail
        assert os.statvfs(root).f_blocks * os.statvfs(root).f_frsize == 64 << 20
        assert sbx.run_code(FILL.format(mib=200)).text == "'ENOSPC'"  # ENOSPC in the guest
        assert os.statvfs(tempfile.gettempdir()).f_bavail >= free_before - 1024
        assert sbx.run_code("1 + 1").text == "2"  # the sandbox lives on
        r = sbx.commands.run("echo more > /home/user/more")
        assert r.exit_code != 0
        assert other.run_code(FILL.format(mib=8)).text == "'room'"  # others keep their room
        sbx.run_code("import os\nos.remove('/home/user/fill')")
        assert sbx.run_code(FILL.format(mib=16)).text == "'room'"
        sbx.files.remove("/home/user/fill")
        sbx.files.write("/home/user/ok.txt", "fine")
        assert sbx.commands.run("cat /home/user/ok.txt").stdout == "fine"


def test_disk_cap_defaults_to_half_the_memory_limit_and_close_frees_it() -> None:
    sbx = Sandbox.create(limits=Limits(memory_bytes=256 << 20))
    root = _capped(sbx)
    assert sbx.isolation_notes == []
    st = os.statvfs(root)
    assert st.f_blocks * st.f_frsize == 128 << 20
    sbx.close()
    assert not os.path.ismount(root) and not os.path.exists(root)


def test_forks_and_restores_get_fresh_capped_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDLOT_HOME", str(tmp_path))
    with Sandbox.create(limits=Limits(disk_bytes=32 << 20)) as sbx:
        root = _capped(sbx)
        sbx.files.write("/home/user/kept.txt", "kept")
        (kid,) = sbx.fork(1)
        with kid:
            kid_root = _capped(kid)
            assert kid_root != root and os.path.ismount(kid_root)
            assert kid.files.read("/home/user/kept.txt") == "kept"
            assert kid.run_code(FILL.format(mib=64)).text == "'ENOSPC'"
        assert not os.path.exists(kid_root)
        sid = sbx.pause()
    with Sandbox.connect(sid) as back:
        back_root = _capped(back)
        assert os.statvfs(back_root).f_blocks * os.statvfs(back_root).f_frsize == 32 << 20
        assert back.files.read("/home/user/kept.txt") == "kept"
        assert back.run_code(FILL.format(mib=64)).text == "'ENOSPC'"


FALLBACK = """
from sandlot import LimitExceeded, Limits, Sandbox
with Sandbox.create(limits=Limits(disk_bytes=8 << 20)) as sbx:
    assert any("no disk quota" in n for n in sbx.isolation_notes), sbx.isolation_notes
    sbx.run_code("open('/home/user/fill', 'wb').write(b'x' * (12 << 20))")
    try:
        sbx.run_code("1")
        raise SystemExit("a call over the cap was not refused")
    except LimitExceeded as e:
        assert e.limit == "disk", e
    sbx.files.remove("/home/user/fill")
    assert sbx.run_code("1 + 1").text == "2"
print("ok")
"""


def test_where_no_cap_can_be_mounted_calls_over_disk_bytes_are_refused() -> None:
    # Without CAP_SYS_ADMIN no tmpfs mounts: the sandbox measures its folder instead.
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run without CAP_SYS_ADMIN")
    done = subprocess.run(
        ["setpriv", "--bounding-set=-sys_admin", sys.executable, "-c", FALLBACK],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_killed_host_process_leaves_no_wasm_mount_after_the_sweep() -> None:
    from sandlot.runtimes.linux import stale
    from sandlot.runtimes.wasm.folder import PREFIX

    script = (
        "import os, signal\n"
        "from sandlot import Sandbox\n"
        "s = Sandbox.create()\n"
        "print(s._core._box._folder.state_dir, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    state_dir = done.stdout.strip()
    assert state_dir and os.path.isdir(state_dir)
    mounted = os.path.ismount(os.path.join(state_dir, "root"))
    stale.sweep.cache_clear()
    assert stale.sweep(PREFIX) >= 1
    assert not os.path.exists(state_dir)
    if mounted:
        with open("/proc/self/mountinfo") as f:
            assert state_dir not in f.read()


@pytest.fixture
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A saved-sandbox store of the test's own, removed by fd at its end: a guest's deep
    tree left there by a failure would break pytest's own clean-up of old tmp folders."""
    store = tmp_path / "store"
    monkeypatch.setenv("SANDLOT_HOME", str(store))
    yield store
    remove_tree(store, ignore_errors=True)


def _plant_escape_link(sbx: Sandbox, name: str, target: str) -> None:
    """What guest code itself can do: swap /`name` for a relative link whose `..`s would
    climb out of its root on the host, to `target`."""
    up = "../" * 40 + target.lstrip("/")
    ex = sbx.run_code(
        "import os\n"
        "os.chdir('/')\n"
        f"os.rename('/{name}', '/old{name}')\n"
        f"os.symlink({up!r}, '/{name}')\n"
        f"os.readlink('/{name}')"
    )
    assert ex.error is None and ex.text is not None and ex.text.startswith("'../../"), ex


@pytest.mark.parametrize("planted", ["home", "tmp"])
@pytest.mark.parametrize("how", ["fork", "snapshot", "pause"])
def test_restore_never_follows_a_guest_planted_link_out_of_its_root(
    how: str, planted: str, tmp_path: Path, own_store: Path
) -> None:
    target = tmp_path / "host-folder"
    target.mkdir()
    sbx = Sandbox.create()
    try:
        _plant_escape_link(sbx, planted, str(target))
        if how == "fork":
            (back,) = sbx.fork(1)
        elif how == "snapshot":
            sbx.create_snapshot("planted")
            back = Sandbox.create(snapshot="planted")
        else:
            back = Sandbox.connect(sbx.pause())
        with back:
            # the link resolves inside the sandbox, as the guest sees it
            back.files.write("/probe.txt", "inside")
            assert back.run_code("open('/probe.txt').read()").text == "'inside'"
    finally:
        sbx.close()
    assert list(target.iterdir()) == []  # nothing made in the host's folder


def test_snapshot_size_never_follows_a_link_to_a_host_file(tmp_path: Path, own_store: Path) -> None:
    big = tmp_path / "big-host-file"
    with open(big, "wb") as f:
        f.truncate(1 << 40)  # sparse: 1 TiB that takes no disk
    with Sandbox.create() as sbx:
        sbx.run_code(f"import os; os.symlink({'../' * 40 + str(big).lstrip('/')!r}, 'big')")
        info = sbx.create_snapshot("linked")
    assert info.size < 1 << 30  # the link is billed as a link, not as the host file


DEEP = 1_100
MAKE_DEEP = (
    "import os\n"
    "os.chdir('/home/user')\n"
    f"for _ in range({DEEP}):\n"
    "    os.mkdir('d')\n"
    "    os.chdir('d')\n"
    "open('leaf', 'w').write('bottom')\n"
    "os.chdir('/home/user')\n"
)
COUNT_DEEP = (
    "import os\n"
    "os.chdir('/home/user')\n"
    "levels = 0\n"
    "while os.path.isdir('d'):\n"
    "    os.chdir('d')\n"
    "    levels += 1\n"
    "found = (levels, open('leaf').read())\n"
    "os.chdir('/home/user')\n"
    "found"
)


def test_a_very_deep_tree_saves_restores_and_is_freed_on_close(own_store: Path) -> None:
    sbx = Sandbox.create()
    folder = sbx._core._box._root_dir  # type: ignore[union-attr]
    assert sbx.run_code(MAKE_DEEP).error is None
    info = sbx.create_snapshot("deep")
    assert info.size >= len("bottom")
    (child,) = sbx.fork(1)
    with child:
        assert child.run_code(COUNT_DEEP).text == f"({DEEP}, 'bottom')"
    with Sandbox.create(snapshot="deep") as started:
        assert started.run_code(COUNT_DEEP).text == f"({DEEP}, 'bottom')"
    with Sandbox.connect(sbx.pause()) as back:
        resumed = back._core._box._root_dir  # type: ignore[union-attr]
        assert back.run_code(COUNT_DEEP).text == f"({DEEP}, 'bottom')"
    assert not os.path.exists(folder) and not os.path.exists(resumed)
    Sandbox.delete_snapshot("deep")
    assert not (own_store / "snapshots" / "deep").exists()
    with Sandbox.create() as sbx:
        folder = sbx._core._box._root_dir  # type: ignore[union-attr]
        sbx.run_code(MAKE_DEEP)
    assert not os.path.exists(folder)  # close() freed it all, and raised nothing


def test_a_sparse_file_past_disk_bytes_is_not_saved_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4 GiB of holes take no room in the cap, but a save would write them all to the host.
    monkeypatch.setenv("SANDLOT_HOME", str(tmp_path))
    with Sandbox.create(limits=Limits(disk_bytes=32 << 20)) as sbx:
        sbx.run_code("with open('/home/user/holes', 'wb') as f:\n    f.truncate(4 << 30)")
        with pytest.raises(LimitExceeded) as info:
            sbx.fork(1)
        assert info.value.limit == "disk" and "sparse" in str(info.value)
        with pytest.raises(LimitExceeded):
            sbx.create_snapshot("holes")
        assert sbx.run_code("1 + 1").text == "2"
        sbx.files.remove("/home/user/holes")
        (kid,) = sbx.fork(1)
        kid.close()
