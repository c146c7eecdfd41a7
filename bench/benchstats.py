"""What every bench reports: median and p95 of a list of samples, and the bare-process
baseline. One definition, so figures from different benches mean the same thing."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

PYTHON = "/usr/bin/python3"


def percentile(xs: list[float], q: float) -> float:
    """The q-quantile with linear interpolation between closest ranks (xs sorted)."""
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(samples: list[float]) -> dict[str, Any]:
    """n, median, p95, min and max (None when there are no samples)."""
    xs = sorted(samples)
    if not xs:
        return {"n": 0, "median": None, "p95": None, "min": None, "max": None}
    return {
        "n": len(xs),
        "median": statistics.median(xs),
        "p95": percentile(xs, 0.95),
        "min": xs[0],
        "max": xs[-1],
    }


def timed(fn: Any, rounds: int) -> list[float]:
    """Seconds taken by each of `rounds` calls of fn()."""
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bare_python() -> float:
    """The baseline: seconds to run a bare `python3 -c pass` process."""
    t = time.perf_counter()
    subprocess.run([PYTHON, "-c", "pass"], check=True)
    return time.perf_counter() - t


def print_table(
    names: dict[str, str], figures: dict[str, dict[str, Any]], ratio_keys: tuple[str, ...]
) -> None:
    """Figures as rows of median and p95 (ms), with `x bare` (the "bare" figure's median)
    for the keys in `ratio_keys`."""
    base = figures["bare"]["median"]
    print(f"{'figure':<34}{'median ms':>10}{'p95 ms':>10}{'x bare':>8}")
    for key, label in names.items():
        f = figures[key]
        ratio = f"{f['median'] / base:>8.2f}" if key in ratio_keys else ""
        print(f"{label:<34}{f['median'] * 1e3:>10.1f}{f['p95'] * 1e3:>10.1f}{ratio}")


def print_results(res: dict[str, Any], json_path: str | None, width: int = 44) -> None:
    """One line per figure: a summary as median and p95 in ms, anything else as it is; and
    the whole dict as JSON at `json_path` when given."""
    for key, value in res.items():
        if isinstance(value, dict):
            med, p95 = value["median"] * 1000, value["p95"] * 1000
            print(f"{key:{width}s} median {med:9.1f} ms   p95 {p95:9.1f} ms   n={value['n']}")
        else:
            print(f"{key:{width}s} {value}")
    if json_path:
        Path(json_path).write_text(json.dumps(res, indent=2))
