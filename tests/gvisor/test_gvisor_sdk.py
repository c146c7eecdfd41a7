"""The SDK on the gvisor tier: the same calls and results as on every tier, in runsc."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sandlot import NotFound, Sandbox, TimeoutError
from sandlot.runtimes.registry import select


def test_requires_strong_isolation_selects_gvisor() -> None:
    assert select({"isolation=strong", "subprocess"}).name == "gvisor"


def test_run_code_keeps_state(gsbx: Sandbox) -> None:
    gsbx.run_code("x = 41")
    ex = gsbx.run_code("x + 1")
    assert ex.text == "42" and ex.error is None
    ex = gsbx.run_code("print('out'); import sys; print('err', file=sys.stderr); 1/0")
    assert ex.logs.stdout == "out\n" and "err" in ex.logs.stderr
    assert ex.error is not None and ex.error.name == "ZeroDivisionError"


def test_a_figure_comes_back_as_png() -> None:
    try:
        sbx = Sandbox.create(tier="gvisor", template="python-data-analysis")
    except NotFound as e:  # no image, and the host's python3 lacks the packages
        pytest.skip(str(e))
    with sbx:
        ex = sbx.run_code("import matplotlib.pyplot as plt; plt.plot([1, 3, 2]); plt.show()")
        assert ex.error is None, ex.error
        png = ex.results[0].png
        assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_commands_run_in_real_bash(gsbx: Sandbox) -> None:
    r = gsbx.commands.run("echo ${BASH_VERSINFO[0]}; seq 1 1000 | awk '$1 % 7 == 0' | wc -l")
    assert r.stdout.split() == [r.stdout.split()[0], "142"] and int(r.stdout.split()[0]) >= 5
    assert gsbx.commands.run("exit 3").exit_code == 3
    gsbx.commands.run("export N=3; cd /tmp")
    assert gsbx.commands.run("echo $N; pwd").stdout == "3\n/tmp\n"
    assert gsbx.commands.run("ls -d / /usr && stat -c %F /").stdout == "/\n/usr\ndirectory\n"


def test_raw_output_of_child_processes_is_kept(gsbx: Sandbox) -> None:
    ex = gsbx.run_code("import os; os.system('echo to-stdout; echo to-stderr >&2')")
    assert ex.logs.stdout == "to-stdout\n" and ex.logs.stderr == "to-stderr\n"


def test_output_streams_while_the_command_runs(gsbx: Sandbox) -> None:
    seen: list[tuple[float, str]] = []
    start = time.monotonic()
    r = gsbx.commands.run(
        "echo first; sleep 1; echo second",
        on_stdout=lambda s: seen.append((time.monotonic() - start, s)),
    )
    assert r.stdout == "first\nsecond\n"
    assert seen[0][1] == "first\n" and seen[0][0] < seen[-1][0] - 0.5


def test_files_both_ways(gsbx: Sandbox) -> None:
    gsbx.files.write("/home/user/in.txt", "from the host\n")
    assert gsbx.commands.run("cat ~/in.txt").stdout == "from the host\n"
    gsbx.commands.run("echo more >> ~/in.txt; echo a,b > /tmp/outputs/r.csv")
    assert gsbx.files.read("/home/user/in.txt") == "from the host\nmore\n"
    assert [a.path for a in gsbx.artifacts.list()] == ["/tmp/outputs/r.csv"]
    gsbx.files.remove("/home/user/in.txt")
    assert gsbx.commands.run("ls ~/in.txt").exit_code != 0


def test_a_timeout_keeps_the_sandbox_and_its_state(gsbx: Sandbox) -> None:
    gsbx.run_code("kept = 'yes'")
    with pytest.raises(TimeoutError, match="Python state are kept"):
        gsbx.run_code("while True: pass", timeout=1)
    with pytest.raises(TimeoutError):
        gsbx.commands.run("sleep 30", timeout=1)
    assert gsbx.run_code("kept").text == "'yes'"


def test_code_that_ignores_the_interrupt_is_killed_and_the_agent_restarted() -> None:
    with Sandbox.create(tier="gvisor", template="base") as sbx:
        sbx.files.write("/home/user/keep", "kept")
        code = "import time\nwhile True:\n try: time.sleep(5)\n except KeyboardInterrupt: pass"
        with pytest.raises(TimeoutError, match="Python state was reset"):
            sbx.run_code(code, timeout=1)
        assert sbx.commands.run("cat ~/keep").stdout == "kept"
        assert sbx.run_code("2 + 2").text == "4"


def test_envs_reach_the_guest() -> None:
    os.environ["SANDLOT_GVISOR_TEST_SECRET"] = "hunter2"
    try:
        with Sandbox.create(tier="gvisor", template="base", envs={"GREETING": "hi"}) as sbx:
            assert sbx.commands.run("echo $GREETING").stdout == "hi\n"
            r = sbx.commands.run(r"env; for p in /proc/[0-9]*; do tr '\0' '\n' < $p/environ; done")
            assert "hunter2" not in r.stdout and "SANDLOT_GVISOR_TEST_SECRET" not in r.stdout
            assert "GREETING=hi" in r.stdout
    finally:
        del os.environ["SANDLOT_GVISOR_TEST_SECRET"]


def test_the_kvm_platform_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandlot import InvalidArgument
    from sandlot.runtimes.gvisor import platform

    monkeypatch.setenv("SANDLOT_GVISOR_PLATFORM", "kvm")
    with pytest.raises(InvalidArgument, match="hangs on hosts whose /dev/kvm is paravirtual"):
        platform.choose()
    monkeypatch.setenv("SANDLOT_GVISOR_PLATFORM", "ptrace")
    assert platform.choose() == "ptrace"


def test_a_template_without_its_image_names_the_command_that_builds_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sandlot.errors import ImageMissing

    monkeypatch.setenv("SANDLOT_HOME", str(tmp_path))  # an empty store, whatever this host built
    monkeypatch.delenv("SANDLOT_AUTO_BUILD", raising=False)
    with pytest.raises(ImageMissing, match="sandlot image build cpp-algorithm"):
        Sandbox.create(tier="gvisor", template="cpp-algorithm")
