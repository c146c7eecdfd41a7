"""Run toybox's command tests (../shared/corpora/toybox/*.test) through the in-process shell.

Each .test file runs as a script in a fresh temporary directory; `testing`/`testcmd` become calls
to a test-only command that runs one case in a subshell with its own time budget and records
pass/fail.  Pass counts per file must not fall below tests/shell/toybox_baseline.json
(set TOYBOX_UPDATE_BASELINE=1 to rewrite it with the counts reached).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from sandlot.guest.shell import BudgetExceeded, Shell
from sandlot.guest.shell.commands import COMMANDS
from sandlot.guest.shell.io import Gen, Input
from sandlot.guest.shell.state import Budget

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpora/toybox"
BASELINE = Path(__file__).with_name("toybox_baseline.json")
# Files with cases that race a wall clock (sleep, timeout): one case may flip under load.
TIMING_SLACK = {"test": 1, "xargs": 1, "timeout": 1, "sleep": 1, "date": 1}
CASE_SECONDS = 1.5
FILE_SECONDS = 20.0

PRELUDE = r"""
toyonly() { :; }
optional() { :; }
skipnot() { eval "$@" >/dev/null 2>&1 || SKIPNEXT=1; }
testing() { if [ -n "$SKIPNEXT" ]; then SKIPNEXT=; return 0; fi; __toybox_case "$@"; }
testcmd() { if [ -n "$SKIPNEXT" ]; then SKIPNEXT=; return 0; fi
  __toybox_case "$1" "$CMDNAME $2" "$3" "$4" "$5"; }
"""

_ESC = re.compile(r"\\(0[0-7]{0,3}|x[0-9a-fA-F]{1,2}|[\\abcefnrtv])")


def echo_e(s: str) -> bytes:
    """Decode `echo -ne` escapes (\\c stops the output)."""
    out = bytearray()
    pos = 0
    for m in _ESC.finditer(s):
        out += s[pos : m.start()].encode("utf-8", "surrogateescape")
        pos = m.end()
        e = m.group(1)
        if e[0] == "0":
            out.append(int(e[1:] or "0", 8) & 255)
        elif e[0] == "x":
            out.append(int(e[1:], 16))
        elif e == "c":
            return bytes(out)
        else:
            out += {
                "\\": b"\\",
                "a": b"\a",
                "b": b"\b",
                "e": b"\x1b",
                "f": b"\f",
                "n": b"\n",
                "r": b"\r",
                "t": b"\t",
                "v": b"\v",
            }[e]
    out += s[pos:].encode("utf-8", "surrogateescape")
    return bytes(out)


RESULTS: list[tuple[str, bool]] = []
HAVE_ALARM = hasattr(signal, "setitimer")


class CaseTimeout(BaseException):
    """Raised by SIGALRM: wall-clock guard for commands that block outside the shell's budget."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout()


# cases that would make the shell read an endless device into memory: counted as failures
HAZARDS = re.compile(r"<\s*/dev/(zero|u?random)")


def _case(sh: Any, args: list[str], inp: Input) -> Gen:
    name, cmd, expected, infile, stdin = (args[1:] + [""] * 5)[:5]
    if HAZARDS.search(cmd):
        RESULTS.append((name, False))
        return 0
    path = sh.resolve("input")
    if infile:
        with open(path, "wb") as f:
            f.write(echo_e(infile))
    elif os.path.isfile(path):
        os.remove(path)
    sub = sh.fork()
    sub.budget = Budget(CASE_SECONDS)
    out: list[bytes] = []
    ok = False
    started = time.monotonic()
    file_left = signal.getitimer(signal.ITIMER_REAL)[0] if HAVE_ALARM else 0.0
    if HAVE_ALARM:
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS + 0.5)
    try:
        gen = sub.run_subshell_source(cmd, Input(echo_e(stdin)))
        try:
            while True:
                fd, data = next(gen)
                if fd == 1:
                    out.append(data)
        except StopIteration:
            pass
        ok = b"".join(out) == echo_e(expected)
    except (BudgetExceeded, CaseTimeout):
        ok = False
    except Exception:  # a crash counts as a failure of that case only
        ok = False
    finally:
        if HAVE_ALARM:
            left = file_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(0.01, left) if file_left else 0)
    RESULTS.append((name, ok))
    return 0
    yield (1, b"")  # pragma: no cover


COMMANDS["__toybox_case"] = _case


def _files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(p.stem for p in CORPUS.glob("*.test"))


def run_file(stem: str) -> tuple[int, int]:
    src = (CORPUS / f"{stem}.test").read_text(encoding="utf-8", errors="surrogateescape")
    tmp = tempfile.mkdtemp(prefix=f"toybox-{stem}-")
    old = os.getcwd()
    RESULTS.clear()
    try:
        env = {
            "HOME": tmp,
            "PATH": "/usr/bin:/bin",
            "FILES": str(CORPUS / "files"),
            "CMDNAME": stem,
            "C": stem,
            "LANG": "C.UTF-8",
            "USER": "root",
        }
        sh = Shell(cwd=tmp, env=env, timeout=FILE_SECONDS)
        old_handler = signal.signal(signal.SIGALRM, _on_alarm) if HAVE_ALARM else None
        if HAVE_ALARM:
            signal.setitimer(signal.ITIMER_REAL, FILE_SECONDS)
        try:
            sh.run(PRELUDE + "\n" + src, out=lambda b: None, err=lambda b: None)
        except (BudgetExceeded, CaseTimeout, RecursionError, MemoryError):
            pass
        finally:
            if HAVE_ALARM:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old_handler)
    finally:
        os.chdir(old)
        shutil.rmtree(tmp, ignore_errors=True)
    return sum(ok for _, ok in RESULTS), len(RESULTS)


def _baseline() -> dict[str, int]:
    if BASELINE.exists():
        return json.loads(BASELINE.read_text())
    return {}


_CHILD = """
import json
from tests.shell import test_toybox as t
print(json.dumps({stem: t.run_file(stem) for stem in t._files()}))
"""


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"toybox corpus not found at {CORPUS}")
def test_toybox_corpus() -> None:
    base = _baseline()
    # A fresh interpreter, so no state left by earlier tests (cwd, env, umask, handlers)
    # can move a case: the counts then depend on the shell alone.
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.splitlines()[-1])
    got = {k: v[0] for k, v in counts.items()}
    totals = {k: v[1] for k, v in counts.items()}
    if os.environ.get("TOYBOX_UPDATE_BASELINE"):
        BASELINE.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    report = ", ".join(f"{k} {got[k]}/{totals[k]}" for k in sorted(got))
    print("toybox:", report, "total", sum(got.values()), "/", sum(totals.values()))
    regressions = {
        k: (got.get(k, 0), v) for k, v in base.items() if got.get(k, 0) < v - TIMING_SLACK.get(k, 0)
    }
    assert not regressions, f"toybox regressions (got, baseline): {regressions}"
