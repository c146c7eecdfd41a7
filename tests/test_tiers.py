"""The SDK's behaviour, written once and run on every tier this host has.

Each test takes a `make` factory for one tier; a tier this host lacks is skipped with the
reason `sandlot doctor` gives (CI installs bubblewrap, runsc, debootstrap and QEMU, so
there every tier runs). Tier-specific behaviour lives in each tier's own test folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sandlot
from sandlot import Limits, Sandbox
from sandlot.runtimes.registry import tier_named

TIERS = ("wasm", "process", "gvisor", "microvm")
Make = Callable[..., Sandbox]


def _template_for(tier: str) -> str:
    if tier == "process":
        return "host"  # the host's userland: no image needed
    return "base" if tier in ("gvisor", "microvm") else "python-data-analysis"


@pytest.fixture(params=TIERS, scope="module")
def tier(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    runtime = tier_named(name)
    if not runtime.implemented:
        pytest.skip(f"the {name} tier is not in this version")
    avail = runtime.availability()
    if not avail.ok:
        pytest.skip(f"{name} tier unavailable here: {avail.reason} (fix: {avail.fix})")
    return name


@pytest.fixture
def make(tier: str) -> Iterator[Make]:
    """Create sandboxes of this tier; all are closed after the test."""
    made: list[Sandbox] = []

    def create(**kwargs: Any) -> Sandbox:
        kwargs.setdefault("template", _template_for(tier))
        sbx = Sandbox.create(tier=tier, **kwargs)
        made.append(sbx)
        return sbx

    yield create
    for sbx in made:
        sbx.close()


@pytest.fixture(scope="module")
def shared(tier: str) -> Iterator[Sandbox]:
    """One sandbox per tier for the tests that don't need a clean one."""
    with Sandbox.create(tier=tier, template=_template_for(tier)) as sbx:
        yield sbx


def test_command_result_and_exit_status(shared: Sandbox) -> None:
    r = shared.commands.run("echo out; echo err >&2; exit 3")
    assert (r.stdout, r.stderr, r.exit_code) == ("out\n", "err\n", 3)
    assert r.timings.total > 0


def test_shell_state_persists_but_per_call_settings_do_not(shared: Sandbox) -> None:
    shared.commands.run("export KEEP=1; cd /tmp")
    assert shared.commands.run("echo $KEEP; pwd").stdout == "1\n/tmp\n"
    r = shared.commands.run("echo $ONCE; pwd", envs={"ONCE": "x"}, cwd="/home/user")
    assert r.stdout == "x\n/home/user\n"
    assert shared.commands.run("echo [$ONCE]; pwd").stdout == "[]\n/tmp\n"
    shared.commands.run("cd /home/user")


def test_create_envs_reach_commands_and_code(make: Make) -> None:
    sbx = make(envs={"SANDLOT_GREETING": "hello there"})
    assert sbx.commands.run("echo $SANDLOT_GREETING").stdout == "hello there\n"
    ex = sbx.run_code("import os; os.environ['SANDLOT_GREETING']")
    assert ex.text == "'hello there'"


def test_stdin_reaches_the_command(shared: Sandbox) -> None:
    assert shared.commands.run("tr a-z A-Z", stdin="hello\n").stdout == "HELLO\n"


def test_output_streams_before_the_command_ends(shared: Sandbox) -> None:
    seen: list[float] = []
    start = time.monotonic()
    shared.commands.run(
        "echo first; sleep 0.5; echo second",
        on_stdout=lambda _: seen.append(time.monotonic() - start),
    )
    assert seen and seen[0] < time.monotonic() - start - 0.3


def test_run_code_keeps_state_and_returns_rich_results(shared: Sandbox) -> None:
    shared.run_code("x = 20")
    ex = shared.run_code("print('hi'); x * 2 + 2")
    assert ex.text == "42" and ex.logs.stdout == "hi\n" and ex.error is None
    bad = shared.run_code("1 / 0")
    assert bad.error is not None and bad.error.name == "ZeroDivisionError"
    assert "ZeroDivisionError" in bad.error.traceback


def test_figures_come_back_as_png(shared: Sandbox) -> None:
    if shared.run_code("import matplotlib").error is not None:
        pytest.skip(f"template {shared.template!r} on {shared.tier} has no matplotlib")
    ex = shared.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    assert ex.error is None
    assert any(r.png and r.png.startswith(b"\x89PNG") for r in ex.results)


def test_files_and_commands_share_one_filesystem(shared: Sandbox) -> None:
    shared.files.write("/home/user/data/in.txt", "a\nb\n")
    assert shared.commands.run("wc -l < /home/user/data/in.txt").stdout.strip() == "2"
    shared.commands.run("echo made > /home/user/data/out.txt")
    assert shared.files.read("/home/user/data/out.txt") == "made\n"
    names = {e.name for e in shared.files.list("/home/user/data")}
    assert names == {"in.txt", "out.txt"}
    assert shared.files.get_info("/home/user/data/in.txt").size == 4
    shared.files.rename("/home/user/data/in.txt", "/home/user/data/moved.txt")
    assert not shared.files.exists("/home/user/data/in.txt")
    shared.files.remove("/home/user/data")
    assert not shared.files.exists("/home/user/data")
    assert shared.run_code("open('/tmp/py.txt', 'w').write('py')").error is None
    assert shared.files.read("/tmp/py.txt") == "py"


def test_files_refuse_to_leave_the_sandbox(shared: Sandbox, tmp_path: Any) -> None:
    secret = tmp_path / "host-secret.txt"
    secret.write_text("the host's own words")
    shared.commands.run(f"ln -sf {secret} /home/user/link")
    try:
        text = shared.files.read("/home/user/link")
    except sandlot.SandboxError:
        return  # refused: fine
    assert "the host's own words" not in text  # if readable at all, it is the guest's file
    assert "the host's own words" not in shared.commands.run(f"cat {secret}").stdout


def test_artifacts_are_listed(shared: Sandbox) -> None:
    shared.commands.run("mkdir -p /tmp/outputs && echo r > /tmp/outputs/report.txt")
    assert "report.txt" in {e.name for e in shared.artifacts.list()}
    assert shared.artifacts.read("report.txt") == b"r\n"


def test_timeout_stops_the_command_and_the_sandbox_lives_on(make: Make) -> None:
    sbx = make()
    sbx.commands.run("export KEPT=yes")
    sbx.run_code("kept = 1")
    with pytest.raises(sandlot.TimeoutError):
        sbx.commands.run("while true; do :; done", timeout=1.5)
    assert sbx.commands.run("echo $KEPT").stdout == "yes\n"
    with pytest.raises(sandlot.TimeoutError):
        sbx.run_code("while True: pass", timeout=1.5)
    assert sbx.run_code("kept").text == "1"


def test_output_cap_truncates_and_says_so(make: Make) -> None:
    sbx = make(limits=Limits(output_bytes=1000))
    r = sbx.commands.run("seq 1 100000")
    assert len(r.stdout.encode()) <= 1000 and "stdout" in r.truncated


def test_close_ends_the_sandbox(make: Make) -> None:
    sbx = make()
    sbx.close()
    sbx.close()  # idempotent
    with pytest.raises(sandlot.SandboxClosed):
        sbx.commands.run("true")


def test_sandboxes_do_not_see_each_other(make: Make) -> None:
    a, b = make(), make()
    a.files.write("/tmp/secret.txt", "a's")
    assert not b.files.exists("/tmp/secret.txt")
    assert b.commands.run("cat /tmp/secret.txt").exit_code != 0


def test_background_command_can_be_killed(make: Make) -> None:
    sbx = make()
    sbx.run_code("kept = 2")
    handle = sbx.commands.run("echo started; while true; do :; done", background=True)
    deadline = time.monotonic() + 30
    while "started" not in handle.stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert handle.kill()
    with pytest.raises(sandlot.Interrupted):
        handle.wait(30)
    assert sbx.run_code("kept").text == "2"
    assert sbx.commands.run("echo after").stdout == "after\n"


def test_pause_fork_and_snapshots_or_a_clear_unsupported(make: Make) -> None:
    sbx = make()
    sbx.run_code("kept = 3")
    try:
        kids = sbx.fork(1)
    except sandlot.Unsupported as e:
        assert sbx.tier in ("process", "gvisor") and "microvm" in str(e)
        with pytest.raises(sandlot.Unsupported):
            sbx.pause()
        with pytest.raises(sandlot.Unsupported):
            sbx.create_snapshot("s")
        return
    assert kids[0].run_code("kept").text == "3"
    kids[0].close()
    sid = sbx.pause()
    with Sandbox.connect(sid) as back:
        assert back.run_code("kept").text == "3"
