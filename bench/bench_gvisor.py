#!/usr/bin/env python
"""Benchmark sandlot's gvisor tier (runsc) against a bare Python process.

    python bench/bench_gvisor.py                 # default rounds (about a minute on 2 cores)
    python bench/bench_gvisor.py --rounds 5      # fewer
    python bench/bench_gvisor.py --template host --json out.json

Measured in one run, bare and cold interleaved so that the machine's load hits both alike:
- bare: `subprocess.run([python3, "-c", "pass"])` with the host's /usr/bin/python3;
- cold: `Sandbox.create(tier="gvisor")` + first `commands.run("true")` with no spare
  (SANDLOT_GVISOR_SPARES off): bundle, `runsc run` (gofer + Sentry on the ptrace platform),
  the guest's python3 start, agent imports, the call;
- spare: the same with a spare started ahead (the tier's default) and given time to start,
  as between a real program's creates;
- close: `sbx.close()` (runsc kill, cgroups, state removed);
- run_code("1+1") and commands.run("true") into a live sandbox (request lines over pipes);
- idle memory: RSS of every host process in the sandbox's cgroup (runsc, gofer, Sentry,
  stubs; shared pages counted in each, so an upper bound).
Median and p95 of each; ratios are of medians against bare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

from benchstats import bare_python, print_table, summary

from sandlot import Sandbox
from sandlot.runtimes.gvisor import compat
from sandlot.runtimes.gvisor import platform as gv_platform
from sandlot.runtimes.linux.userland import PYTHON

now = time.perf_counter


def create_and_first(template: str) -> tuple[float, float]:
    t = now()
    sbx = Sandbox.create(template=template, tier="gvisor")
    sbx.commands.run("true")
    took = now() - t
    t = now()
    sbx.close()
    return took, now() - t


def rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) << 10
        except OSError:
            pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--template", default="base")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()

    create_and_first(args.template)  # probe, agent, shim: cached outside the measurements
    bare_python()
    samples: dict[str, list[float]] = {"bare": [], "cold": [], "spare": [], "close": []}
    for _ in range(args.rounds):
        samples["bare"].append(bare_python())
        os.environ["SANDLOT_GVISOR_SPARES"] = "0"
        cold, close = create_and_first(args.template)
        samples["cold"].append(cold)
        samples["close"].append(close)
        os.environ["SANDLOT_GVISOR_SPARES"] = "1"
        create_and_first(args.template)  # leaves a spare starting
        time.sleep(1.5)  # ... and lets it finish, as between a program's creates
        samples["spare"].append(create_and_first(args.template)[0])
        time.sleep(1.5)
    os.environ["SANDLOT_GVISOR_SPARES"] = "0"

    calls: dict[str, list[float]] = {"run_code": [], "command": []}
    with Sandbox.create(template=args.template, tier="gvisor") as sbx:
        sbx.run_code("1+1")
        sbx.commands.run("true")
        for _ in range(args.rounds * 10):
            t = now()
            sbx.run_code("1+1")
            calls["run_code"].append(now() - t)
            t = now()
            sbx.commands.run("true")
            calls["command"].append(now() - t)
        box: Any = sbx._core._box
        time.sleep(0.5)
        idle_rss = rss(box._cgroups.pids())

    figures = {k: summary(v) for k, v in {**samples, **calls}.items()}
    runsc = subprocess.run(["runsc", "--version"], capture_output=True, text=True).stdout
    print(
        f"gvisor tier bench: {args.rounds} rounds, template {args.template!r}, "
        f"{platform.node()}, {os.cpu_count()} cpus, python {sys.version.split()[0]} host, "
        f"{runsc.splitlines()[0]} (date {compat.runsc_date()}), platform {gv_platform.choose()}"
    )
    names = {
        "bare": f"bare {PYTHON} -c pass",
        "cold": "create + first command (cold)",
        "spare": "create + first command (spare)",
        "close": "close",
        "run_code": "run_code('1+1') live",
        "command": "commands.run('true') live",
    }
    print_table(names, figures, ("cold", "spare"))
    print(f"idle memory of one sandbox (RSS of its cgroup's processes): {idle_rss >> 20} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"figures": figures, "idle_rss": idle_rss, "rounds": args.rounds}, f, indent=2
            )


if __name__ == "__main__":
    main()
