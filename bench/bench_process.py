#!/usr/bin/env python
"""Benchmark sandlot's process tier (bubblewrap) against a bare Python process.

    python bench/bench_process.py               # default rounds (about 30 s on 2 cores)
    python bench/bench_process.py --rounds 10   # fewer
    python bench/bench_process.py --json out.json
    python bench/bench_process.py --template base   # on the base image's read-only root
    python bench/bench_process.py --interleaved     # Landlock on/off, host/base root, 1 run

Measured in one run, interleaved so that the machine's load hits every figure alike:
- bare: `subprocess.run([python3, "-c", "pass"])` with the same interpreter the sandbox runs
  (the host's /usr/bin/python3), the baseline of the issue's target (<= 1.5x);
- cold: `Sandbox.create(tier="process")` + first `commands.run("true")`, no spare ready
  (SANDLOT_PROCESS_SPARES off): bwrap + interpreter start + agent imports + the call;
- warm: the same with a spare started ahead (the tier's default): the spare is given a
  moment to start before the timed create, as between a real program's creates;
- run_code("1+1") and commands.run("true") into a live sandbox;
- idle memory (RSS, all the sandbox's processes) of one live sandbox.
Median and p95 of each; ratios are of medians against bare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

from benchstats import bare_python, print_table, summary

from sandlot import Sandbox
from sandlot.runtimes.linux.userland import PYTHON
from sandlot.runtimes.process import spares

now = time.perf_counter


def create_and_first(template: str) -> float:
    t = now()
    sbx = Sandbox.create(template=template, tier="process")
    sbx.commands.run("true")
    took = now() - t
    sbx.close()
    return took


def interleaved(rounds: int) -> None:
    """Cold `ProcessSandbox(spec, root)` (resolve, bwrap, agent up to its first ping; no
    spares) alternating between variants in one loop, so the machine's load hits each alike:
    Landlock on vs off on `host`, and `host` vs the `base` image's root."""
    from sandlot.models import Limits
    from sandlot.runtimes.base import SandboxSpec
    from sandlot.runtimes.process import root as userland
    from sandlot.runtimes.process import sandbox as sb

    rules = sb.LANDLOCK_RULES
    variants = {
        "host, Landlock on": ("host", rules),
        "host, Landlock off": ("host", None),
        "base image, Landlock on": ("base", rules),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for i in range(rounds + 1):
        for name, (template, landlock) in variants.items():
            sb.LANDLOCK_RULES = landlock  # type: ignore[assignment]
            t = now()
            box = sb.ProcessSandbox(SandboxSpec(template, Limits(), {}), userland.resolve(template))
            took = now() - t
            box.close()
            if i:  # the first round warms caches
                times[name].append(took)
    sb.LANDLOCK_RULES = rules
    print(f"cold ProcessSandbox, interleaved, {rounds} rounds: median / p95 ms")
    for name, values in times.items():
        f = summary(values)
        print(f"  {name:<28}{f['median'] * 1e3:>8.1f}{f['p95'] * 1e3:>8.1f}")


def rss_of_tree(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) << 10
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                todo += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--template", default="host")
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("--interleaved", action="store_true", help=interleaved.__doc__)
    args = ap.parse_args()
    if args.interleaved:
        interleaved(args.rounds)
        return

    # Warm every cache (probes, compiled agent) outside the measurements.
    create_and_first(args.template)
    bare_python()
    samples: dict[str, list[float]] = {"bare": [], "cold": [], "warm": []}
    for _ in range(args.rounds):
        samples["bare"].append(bare_python())
        os.environ["SANDLOT_PROCESS_SPARES"] = "0"
        samples["cold"].append(create_and_first(args.template))
        os.environ["SANDLOT_PROCESS_SPARES"] = "1"
        create_and_first(args.template)  # leaves a spare starting
        time.sleep(0.25)  # ... and lets it finish, as between a program's creates
        samples["warm"].append(create_and_first(args.template))
        time.sleep(0.25)

    calls: dict[str, list[float]] = {"run_code": [], "command": []}
    with Sandbox.create(template=args.template, tier="process") as sbx:
        sbx.run_code("1+1")
        for _ in range(args.rounds * 4):
            t = now()
            sbx.run_code("1+1")
            calls["run_code"].append(now() - t)
            t = now()
            sbx.commands.run("true")
            calls["command"].append(now() - t)
        box: Any = sbx._core._box
        time.sleep(0.2)
        idle_rss = rss_of_tree(box._agent.proc.pid)
    spares.Spares().close_all()

    figures = {k: summary(v) for k, v in {**samples, **calls}.items()}
    print(
        f"process tier bench: {args.rounds} rounds, {platform.node()}, "
        f"{os.cpu_count()} cpus, python {sys.version.split()[0]} host / {PYTHON} guest, "
        f"template {args.template}"
    )
    names = {
        "bare": f"bare {PYTHON} -c pass",
        "cold": "create + first command (cold)",
        "warm": "create + first command (spare)",
        "run_code": "run_code('1+1') live",
        "command": "commands.run('true') live",
    }
    print_table(names, figures, ("cold", "warm"))
    print(f"idle memory of one sandbox (RSS, all its processes): {idle_rss / (1 << 20):.1f} MiB")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {"figures": figures, "idle_rss": idle_rss, "rounds": args.rounds}, out, indent=2
            )


if __name__ == "__main__":
    main()
