"""Runs GNU bash's regression suite through the sandbox shell (see tests/shell/bash_suite.py).

Per-file counts of bash's output lines reproduced must not drop below bash_baseline.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .bash_suite import BASELINE, CORPUS, REFERENCE

# A fresh interpreter, as for the other corpora: nothing an earlier test changed (cwd,
# handlers, umask, open fds) can move a line. Two workers share the files.
_CHILD = """
import json, sys
from tests.shell import bash_suite as b
names = sorted(b.reference())
part = [n for i, n in enumerate(names) if i % 2 == int(sys.argv[1])]
print(json.dumps(b.measure(part, exact=True)))
"""
# Lines that print $RANDOM, pids or times shift how the rest lines up: any file may move by this.
NOISE = 2
# Files whose last lines race the wall clock on a loaded machine (a sleep, `read -t`, or a
# script that still runs into the per-file limit).
TIMING_SLACK = dict.fromkeys(
    "read trap procsub dynvar new-exp assoc builtins getopts test func".split(), 3
)
TIMING_SLACK = {f"{k}.tests": v for k, v in TIMING_SLACK.items()}


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"bash tests not found at {CORPUS}")
def test_bash_suite_baseline() -> None:
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=root,
            env=env,
        )
        for i in range(2)
    ]
    results: dict[str, tuple[int, int]] = {}
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        results.update({k: (v[0], v[1]) for k, v in json.loads(out.splitlines()[-1]).items()})
    assert set(results) == set(json.loads(REFERENCE.read_text()))
    m = sum(v[0] for v in results.values())
    n = sum(v[1] for v in results.values())
    print(f"\nbash suite: {m}/{n} lines = {100 * m / n:.1f}%")
    regressions = {
        k: (v[0], baseline[k])
        for k, v in results.items()
        if k in baseline and v[0] < baseline[k] - NOISE - TIMING_SLACK.get(k, 0)
    }
    assert not regressions, f"bash suite regressions (lines, baseline): {regressions}"
