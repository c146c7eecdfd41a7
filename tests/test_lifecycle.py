"""Creating, selecting, expiring and closing sandboxes; argument checking."""

from __future__ import annotations

import os
import time

import pytest

from sandlot import (
    InvalidArgument,
    Limits,
    NotFound,
    Sandbox,
    SandboxClosed,
    Unsatisfiable,
)


def test_close_is_idempotent_and_frees_the_root_folder() -> None:
    sbx = Sandbox.create()
    root = sbx._core._box._root_dir  # type: ignore[union-attr,attr-defined]
    assert os.path.isdir(root)
    sbx.close()
    sbx.close()
    assert not os.path.exists(root)
    with pytest.raises(SandboxClosed, match="closed"):
        sbx.run_code("1")
    with pytest.raises(SandboxClosed):
        sbx.files.read("x")


def test_sandbox_expires_after_its_timeout() -> None:
    sbx = Sandbox.create(timeout=0.5)
    assert sbx.run_code("1").text == "1"
    time.sleep(0.7)
    with pytest.raises(SandboxClosed, match="expired"):
        sbx.run_code("1")
    assert sbx.closed


def test_set_timeout_extends_life() -> None:
    with Sandbox.create(timeout=0.5) as sbx:
        sbx.set_timeout(30)
        time.sleep(0.7)
        assert sbx.run_code("2").text == "2"


def test_requirements_no_tier_here_meets_are_unsatisfiable() -> None:
    # The GPU is the process tier's, strong isolation gvisor's and microvm's: none has both.
    with pytest.raises(Unsatisfiable) as info:
        Sandbox.create(requires={"isolation=strong", "gpu"})
    message = str(info.value)
    assert "gpu, isolation=strong" in message and "no tier provides" in message


def test_forcing_a_tier_that_lacks_a_capability() -> None:
    with pytest.raises(Unsatisfiable, match="wasm does not provide subprocess"):
        Sandbox.create(requires=["subprocess"], tier="wasm")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"requires": {"teleport"}}, "unknown requirement"),
        ({"tier": "mainframe"}, "unknown tier"),
        ({"timeout": -1}, "timeout must be a positive"),
        ({"timeout": float("nan")}, "timeout must be a positive"),
        ({"envs": {"A": 1}}, "envs must map"),
        ({"limits": {"wall_time": 1}}, "sandlot.Limits"),
        ({"template": ""}, "template must be"),
    ],
)
def test_bad_arguments_are_typed_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        Sandbox.create(**kwargs)  # type: ignore[arg-type]


def test_templates_take_part_in_tier_selection() -> None:
    with pytest.raises(Unsatisfiable, match="wasm has no form of template 'cpp-algorithm'"):
        Sandbox.create("cpp-algorithm", tier="wasm")
    # Without a forced tier, wasm steps aside; whichever tier is tried next explains itself.
    with pytest.raises((NotFound, Unsatisfiable)) as info:
        Sandbox.create("no-such-template")
    assert "no-such-template" in str(info.value)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="memory_bytes"):
        Limits(memory_bytes=1024)
    with pytest.raises(InvalidArgument, match="output_bytes"):
        Limits(output_bytes=0)


def test_bad_call_arguments(shared_sbx: Sandbox) -> None:
    with pytest.raises(InvalidArgument, match="code must be a str"):
        shared_sbx.run_code(b"1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="timeout"):
        shared_sbx.run_code("1", timeout=0)
    with pytest.raises(InvalidArgument):
        shared_sbx.run_code("x" * (5 << 20))


def test_two_sandboxes_are_isolated() -> None:
    with Sandbox.create(envs={"WHO": "a"}) as a, Sandbox.create(envs={"WHO": "b"}) as b:
        a.run_code("secret = 'only-a'")
        a.files.write("/tmp/a.txt", "from a")
        a.run_code("open('/home/user/mine.txt', 'w').write('a')")
        assert b.run_code("'secret' in globals()").text == "False"
        assert not b.files.exists("/tmp/a.txt")
        assert b.run_code("import os; os.path.exists('/home/user/mine.txt')").text == "False"
        assert b.run_code("import os; os.environ['WHO']").text == "'b'"


def test_a_dropped_sandbox_leaves_no_folder() -> None:
    import gc

    sbx = Sandbox.create()
    sbx.run_code("1")
    root = sbx._core._box._root_dir  # type: ignore[union-attr,attr-defined]
    del sbx
    gc.collect()
    assert not os.path.exists(root)


def test_exiting_with_live_sandboxes_is_clean(tmp_path: object) -> None:
    import subprocess
    import sys

    script = (
        "from sandlot import Sandbox\n"
        "a = Sandbox.create(); a.run_code('x = 1')\n"
        "b = Sandbox.create(); b.run_code('import pandas')\n"
        "print(a._core._box._root_dir, b._core._box._root_dir)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for root in done.stdout.split():
        assert not os.path.exists(root)
