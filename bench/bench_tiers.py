#!/usr/bin/env python
"""Every tier side by side, against a bare Python process, in one run.

    python bench/bench_tiers.py                     # every tier this host has
    python bench/bench_tiers.py --tiers wasm,process --rounds 10 --json out.json

For each tier (template: python-data-analysis on wasm, host on process, base on gvisor
and microvm): create + first `commands.run("true")` + close; `commands.run("true")` and
`run_code("1+1")` into a live sandbox; idle memory per sandbox (the drop in the host's
MemAvailable with 4 live sandboxes, divided by 4: it counts every process and page a tier
uses, QEMU and the gVisor sentry included). The baseline, measured between the same
rounds: `subprocess.run([python3, "-c", "pass"])`. Median and p95; ratios of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from benchstats import bare_python, summary

from sandlot import Sandbox
from sandlot.runtimes.registry import tier_named

now = time.perf_counter
TEMPLATES = {
    "wasm": "python-data-analysis",
    "process": "host",
    "gvisor": "base",
    "microvm": "base",
}


def create_first_close(tier: str) -> float:
    t = now()
    with Sandbox.create(tier=tier, template=TEMPLATES[tier]) as sbx:
        sbx.commands.run("true")
        took = now() - t
    return took


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) << 10
    return 0


def idle_memory(tier: str, n: int = 4) -> float:
    before = mem_available()
    boxes = [Sandbox.create(tier=tier, template=TEMPLATES[tier]) for _ in range(n)]
    try:
        for b in boxes:
            b.run_code("1+1")
        time.sleep(0.5)
        return (before - mem_available()) / n
    finally:
        for b in boxes:
            b.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--tiers", default=",".join(TEMPLATES))
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()

    tiers = []
    for name in args.tiers.split(","):
        avail = tier_named(name).availability()
        if avail.ok:
            tiers.append(name)
        else:
            print(f"skipping {name}: {avail.reason}", file=sys.stderr)
    for name in tiers:  # warm every cache (compiled modules, images, snapshots) first
        create_first_close(name)

    cold: dict[str, list[float]] = {t: [] for t in ["bare", *tiers]}
    for _ in range(args.rounds):
        cold["bare"].append(bare_python())
        for name in tiers:
            cold[name].append(create_first_close(name))

    live: dict[str, dict[str, list[float]]] = {}
    memory: dict[str, float] = {}
    for name in tiers:
        live[name] = {"true": [], "1+1": []}
        with Sandbox.create(tier=name, template=TEMPLATES[name]) as sbx:
            sbx.run_code("1+1")
            for _ in range(args.rounds * 4):
                t = now()
                sbx.commands.run("true")
                live[name]["true"].append(now() - t)
                t = now()
                sbx.run_code("1+1")
                live[name]["1+1"].append(now() - t)
        memory[name] = idle_memory(name)

    base = summary(cold["bare"])
    print(f"tiers bench: {args.rounds} rounds, {os.cpu_count()} cpus; ms, median (p95)")
    print(f"baseline: bare python3 -c pass {base['median'] * 1e3:.1f} ({base['p95'] * 1e3:.1f})")
    head = f"{'tier':<9}{'create+true+close':>22}{'x bare':>8}{'true live':>16}"
    print(head + f"{'1+1 live':>16}{'idle MiB':>10}")
    out: dict[str, object] = {"bare": base, "rounds": args.rounds}
    for name in tiers:
        c, t, r = summary(cold[name]), summary(live[name]["true"]), summary(live[name]["1+1"])
        out[name] = {"create": c, "true": t, "run_code": r, "idle_bytes": memory[name]}

        def fmt(s: dict[str, float]) -> str:
            return f"{s['median'] * 1e3:.1f} ({s['p95'] * 1e3:.1f})"

        print(
            f"{name:<9}{fmt(c):>22}{c['median'] / base['median']:>8.1f}{fmt(t):>16}"
            f"{fmt(r):>16}{memory[name] / (1 << 20):>10.1f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
