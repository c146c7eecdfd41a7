"""Runs the oils-spec corpus.

Per-file pass counts must not drop below tests/shell/oils_baseline.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .oils import BASELINE, CORPUS

FILES = sorted(CORPUS.glob("*.test.sh")) if CORPUS.is_dir() else []

# The corpus runs in a fresh interpreter, as the toybox one does: some cases look at the
# process itself (`ls /proc/$$/fd` expects fd 7 closed, which pytest's capture files are
# not), so the counts must not depend on what the test runner holds open or changed.
_CHILD = """
import json, sys
from tests.shell.oils import CORPUS, run_file
sys.setrecursionlimit(5000)
print(json.dumps({f.name: run_file(f)[:2] for f in sorted(CORPUS.glob("*.test.sh"))}))
"""


@pytest.mark.skipif(not FILES, reason=f"oils-spec corpus not found at {CORPUS}")
def test_oils_spec_baseline() -> None:
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).resolve().parents[2],
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = {k: tuple(v) for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
    total_p = sum(p for p, _ in results.values())
    total_n = sum(n for _, n in results.values())
    print(f"\noils-spec: {total_p}/{total_n} passed in {time.monotonic() - start:.1f}s")
    for name, (p, n) in results.items():
        print(f"  {name:32} {p:4}/{n:<4} (baseline {baseline.get(name, 0)})")
    if os.environ.get("OILS_UPDATE_BASELINE"):
        BASELINE.write_text(
            json.dumps({k: v[0] for k, v in results.items()}, indent=1, sort_keys=True) + "\n"
        )
    regressions = {
        k: (v[0], baseline[k]) for k, v in results.items() if k in baseline and v[0] < baseline[k]
    }
    assert not regressions, f"oils-spec regressions (passed, baseline): {regressions}"
