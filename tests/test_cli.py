"""The `sandlot` command, run as a user runs it (a real process, real sandboxes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def sandlot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
    )


def test_run_code_prints_and_exits_zero() -> None:
    done = sandlot("run", "-c", "print('hi'); 6 * 7")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\n42\n"


def test_run_file_exits_with_the_guest_status(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint('before')\nsys.exit(3)\n")
    done = sandlot("run", str(script))
    assert done.returncode == 3
    assert done.stdout == "before\n"


def test_run_reports_an_exception_with_status_one() -> None:
    done = sandlot("run", "-c", "raise ValueError('boom')")
    assert done.returncode == 1
    assert "ValueError: boom" in done.stderr


def test_run_timeout_is_explained() -> None:
    done = sandlot("run", "--timeout", "0.5", "-c", "while True: pass")
    assert done.returncode == 1
    assert "TimeoutError" in done.stderr and "0.5 s" in done.stderr


def test_run_needs_exactly_one_source() -> None:
    done = sandlot("run")
    assert done.returncode == 2 and "exactly one" in done.stderr


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    done = sandlot("run", str(tmp_path / "nope.py"))
    assert done.returncode == 2 and "cannot read" in done.stderr


def test_doctor_lists_every_tier() -> None:
    done = sandlot("doctor")
    assert done.returncode == 0, done.stderr
    for tier in ("wasm", "process", "gvisor", "microvm"):
        assert tier in done.stdout
    assert "module cache" in done.stdout


def test_help_everywhere() -> None:
    for args in ([], ["run"], ["doctor"], ["warmup"]):
        done = sandlot(*args, "--help")
        assert done.returncode == 0 and "Usage" in done.stdout
