"""Runs the oils-spec corpus.

Per-file pass counts must not drop below tests/shell/oils_baseline.json.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from .oils import BASELINE, CORPUS, run_file

FILES = sorted(CORPUS.glob("*.test.sh")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not FILES, reason=f"oils-spec corpus not found at {CORPUS}")
def test_oils_spec_baseline() -> None:
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    start = time.monotonic()
    results = {}
    lim = sys.getrecursionlimit()
    sys.setrecursionlimit(max(lim, 5000))
    try:
        for f in FILES:
            p, n, _ = run_file(f)
            results[f.name] = (p, n)
    finally:
        sys.setrecursionlimit(lim)
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
