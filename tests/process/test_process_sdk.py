"""The SDK on the process tier: run_code, real bash, files, selection and limits."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from sandlot import AsyncSandbox, Limits, NotFound, Sandbox
from sandlot.runtimes.linux import userland
from sandlot.runtimes.process.root import gpu_devices
from sandlot.runtimes.registry import select


def test_selection_prefers_wasm_and_picks_process_for_subprocess() -> None:
    assert select(()).name == "wasm"
    assert select({"python", "files"}).name == "wasm"
    for need in ("subprocess", "pip", "compilers"):
        assert select({need}).name == "process"


def test_requires_subprocess_creates_a_process_sandbox() -> None:
    with Sandbox.create(template="host", requires={"subprocess"}) as sbx:
        assert sbx.tier == "process"
        assert sbx.commands.run("echo ok").stdout == "ok\n"


def test_default_template_is_served_or_says_how_to_get_it() -> None:
    from sandlot import images

    missing = userland.missing_modules(userland.TEMPLATE_MODULES["python-data-analysis"])
    if missing and images.find("python-data-analysis") is None:  # no image, no host fallback
        with pytest.raises(NotFound, match="sandlot image build python-data-analysis"):
            Sandbox.create(tier="process")
        return
    with Sandbox.create(requires={"subprocess"}) as sbx:
        assert sbx.tier == "process"
        ex = sbx.run_code("import pandas as pd\npd.DataFrame({'a': [1, 2]}).a.sum()")
        assert ex.error is None and ex.text == "3"
        ex = sbx.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()")
        assert ex.error is None
        assert any(r.png and r.png.startswith(b"\x89PNG") for r in ex.results)


def test_unknown_template_is_not_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SANDLOT_HOME", str(tmp_path))  # an empty store, whatever this host built
    with pytest.raises(NotFound, match="sandlot image build cpp-algorithm"):
        Sandbox.create(template="cpp-algorithm", tier="process")


def test_run_code_keeps_state(psbx: Sandbox) -> None:
    assert psbx.run_code("x = 41").text is None
    ex = psbx.run_code("x + 1")
    assert ex.text == "42" and ex.execution_count == 2
    ex = psbx.run_code("print('out'); import sys; print('err', file=sys.stderr); 1/0")
    assert ex.logs.stdout == "out\n" and ex.logs.stderr == "err\n"
    assert ex.error is not None and ex.error.name == "ZeroDivisionError"
    assert "1/0" in ex.error.traceback
    assert psbx.run_code("x").text == "41"


def test_run_code_raw_fd_output_and_subprocess(psbx: Sandbox) -> None:
    ex = psbx.run_code(
        "import os, subprocess\nos.system('echo from-shell')\n"
        "subprocess.run(['echo', 'child'], check=True).returncode"
    )
    assert ex.text == "0"
    assert "from-shell\n" in ex.logs.stdout and "child\n" in ex.logs.stdout


def test_commands_run_real_bash(psbx: Sandbox) -> None:
    r = psbx.commands.run("echo $BASH_VERSION")
    assert r.exit_code == 0 and r.stdout[:1].isdigit()
    r = psbx.commands.run("seq 1 100 | grep 7 | wc -l")
    assert r.stdout.strip() == "19"
    r = psbx.commands.run("echo oops >&2; exit 3")
    assert r.exit_code == 3 and r.stderr == "oops\n"
    assert psbx.commands.run("tr a-z A-Z", stdin="hello").stdout == "HELLO"
    assert psbx.commands.run("id -un; pwd").stdout == "user\n/home/user\n"


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed on this host")
def test_compile_and_run_c(psbx: Sandbox) -> None:
    assert psbx.commands.run("gcc --version").exit_code == 0
    psbx.files.write("/home/user/hi.c", '#include <stdio.h>\nint main(){puts("hi c");}\n')
    r = psbx.commands.run("gcc -O1 -o hi hi.c && ./hi")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "hi c\n"


def test_shell_state_persists_between_commands(psbx: Sandbox) -> None:
    psbx.commands.run("cd /tmp; X=5; export Y=6; f() { echo fn-$1; }")
    r = psbx.commands.run('pwd; echo "$X $Y"; f a; printenv Y')
    assert r.stdout == "/tmp\n5 6\nfn-a\n6\n"
    # per-call cwd and envs don't persist
    assert psbx.commands.run("pwd; echo $Z", cwd="/usr", envs={"Z": "1"}).stdout == "/usr\n1\n"
    assert psbx.commands.run("pwd; echo $Z").stdout == "/tmp\n\n"


def test_output_streams_as_it_arrives(psbx: Sandbox) -> None:
    seen: list[tuple[float, str]] = []
    start = time.monotonic()
    psbx.commands.run(
        "for i in 1 2 3; do echo $i; sleep 0.4; done",
        on_stdout=lambda t: seen.append((time.monotonic() - start, t)),
    )
    ended = time.monotonic() - start
    assert "".join(t for _, t in seen) == "1\n2\n3\n"
    assert seen[0][0] < ended - 0.6  # the first line came well before the command ended


def test_output_is_capped_and_marked_truncated() -> None:
    limits = Limits(output_bytes=1000)
    with Sandbox.create(template="host", tier="process", limits=limits) as sbx:
        r = sbx.commands.run("yes | head -c 100000")
        assert len(r.stdout) == 1000 and "stdout" in r.truncated
        ex = sbx.run_code("print('x' * 100000)")
        assert len(ex.logs.stdout) <= 1000 and "stdout" in ex.truncated


def test_files_are_shared_with_the_sandbox(psbx: Sandbox) -> None:
    psbx.files.write("/home/user/data.txt", "from host")
    assert psbx.commands.run("cat data.txt").stdout == "from host"
    psbx.commands.run("mkdir -p /tmp/outputs && echo art > /tmp/outputs/a.txt")
    assert psbx.files.read("/tmp/outputs/a.txt") == "art\n"
    assert [e.name for e in psbx.artifacts.list()] == ["a.txt"]
    assert psbx.run_code("open('data.txt').read()").text == "'from host'"


def test_envs_reach_code_and_commands() -> None:
    with Sandbox.create(template="host", tier="process", envs={"GREETING": "hi"}) as sbx:
        assert sbx.commands.run("echo $GREETING").stdout == "hi\n"
        assert sbx.run_code("import os; os.environ['GREETING']").text == "'hi'"


def test_async_sandbox_on_the_process_tier() -> None:
    async def main() -> tuple[str, str | None]:
        async with await AsyncSandbox.create(template="host", tier="process") as sbx:
            r = await sbx.commands.run("echo async")
            ex = await sbx.run_code("6 * 7")
            return r.stdout, ex.text

    assert asyncio.run(main()) == ("async\n", "42")


def test_a_spare_is_a_fresh_sandbox() -> None:
    with Sandbox.create(template="host", tier="process") as first:
        first.commands.run("echo one > /tmp/mark; X=1")
        first.run_code("marker = 1")
    time.sleep(0.5)  # the spare made after `first` has started
    start = time.perf_counter()
    with Sandbox.create(template="host", tier="process") as second:
        took = time.perf_counter() - start
        r = second.commands.run("ls /tmp; echo ${X:-unset}")
        assert r.stdout == "outputs\nunset\n", r
        assert second.run_code("'marker' in globals()").text == "False"
    assert took < 1.0


def test_spares_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDLOT_PROCESS_SPARES", "0")
    with Sandbox.create(template="host", tier="process", envs={"ONLY": "here"}) as sbx:
        assert sbx.commands.run("echo $ONLY").stdout == "here\n"


@pytest.mark.skipif(not gpu_devices(), reason="this host has no GPU device nodes")
def test_gpu_is_visible() -> None:
    with Sandbox.create(template="host", requires={"gpu"}) as sbx:
        assert sbx.tier == "process"
        r = sbx.commands.run("ls /dev/nvidia* /dev/dri 2>/dev/null | head -3; nvidia-smi -L")
        assert r.exit_code == 0, r.stderr
        assert "GPU" in r.stdout


def test_background_processes_outlive_the_command_without_holding_it(psbx: Sandbox) -> None:
    start = time.monotonic()
    r = psbx.commands.run("(while true; do echo tick; sleep 0.01; done) & echo started")
    assert r.exit_code == 0 and r.stdout.startswith("started\n")
    assert time.monotonic() - start < 5
    assert psbx.commands.run("pgrep -c bash || true").stdout.strip() != "0"
    assert psbx.commands.run("echo next").stdout.endswith("next\n")
