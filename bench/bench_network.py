#!/usr/bin/env python
"""Network through the gateway against direct, per tier, in one run (issue 14's table).

    python bench/bench_network.py                 # every tier with the "network" capability here
    python bench/bench_network.py --quick         # fewer rounds, one download each: ~1-2 min
    python bench/bench_network.py --tiers process,gvisor --json out.json

A loopback HTTP server on the host (its own process: `net_client.py serve`) serves
`/small` (2 bytes) and `/big?bytes=N`. The same stdlib client (net_client.py) runs twice,
interleaved in blocks: on the host straight to the server (direct), and in a sandbox whose
policy allows
127.0.0.1, through its tier's path to the gateway (process/gvisor: the jail's forwarder
and the attachment's Unix socket; microvm: QEMU's guestfwd; wasm: the fetch bridge, with
urllib on both sides). Both ends are on this host's loopback, so the difference is the
gateway's path alone. Timings are taken inside the client, so no sandbox call overhead is
in them.

Figures: connection setup (connect + small GET + its whole response; median, p95, and
what the gateway adds), and the throughput of a 100 MB download by absolute-URI HTTP and
through a CONNECT tunnel (raw relay), as a ratio of direct. Targets: <= 2 ms added per
connection, >= 0.8x direct on process/gvisor (and microvm), the wasm bridge >= 0.5x. The
run stops starting new work past --time-limit seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchstats import PYTHON, summary

from sandlot import Sandbox
from sandlot.runtimes.registry import tier_named

CLIENT = Path(__file__).with_name("net_client.py")
TEMPLATES = {"process": "host", "gvisor": "base", "microvm": "base", "wasm": None}
WASM_MAX = 32 << 20  # the fetch bridge's bodies stay under its 64 MiB max_body
TARGET_ADDED_MS = 2.0
TARGET_RATIO = {"wasm": 0.5}
DEFAULT_RATIO = 0.8


def _direct(target: str, rounds: int, big: int, downloads: int, mode: str) -> dict[str, Any]:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "no_proxy": "*"}  # no host proxy
    argv = [PYTHON, str(CLIENT), target, str(rounds), str(big), str(downloads), mode]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=True)
    return dict(json.loads(done.stdout))


def _through(
    sbx: Sandbox, tier: str, target: str, rounds: int, big: int, downloads: int
) -> dict[str, Any]:
    args = [target, str(rounds), str(big), str(downloads)]
    if tier == "wasm":  # no sockets: urllib, served by the host's fetch bridge
        code = (
            "import runpy, sys\n"
            f"sys.argv = ['net_client.py', *{[*args, 'urllib']!r}]\n"
            "runpy.run_path('net_client.py', run_name='__main__')\n"
        )
        ran = sbx.run_code(code, timeout=600)
        if ran.error is not None:
            raise RuntimeError(f"client failed on wasm: {ran.error}")
        return dict(json.loads(ran.logs.stdout))
    done = sbx.commands.run(f"python3 net_client.py {' '.join(args)} proxy env", timeout=600)
    if done.exit_code != 0:
        raise RuntimeError(f"client failed on {tier}: {done.stderr}")
    return dict(json.loads(done.stdout))


def bench_tier(
    tier: str, target: str, rounds: int, big: int, downloads: int, blocks: int
) -> dict[str, Any]:
    """Direct and through-the-gateway samples, alternating in `blocks` blocks."""
    if tier == "wasm":
        big = min(big, WASM_MAX)
    direct: dict[str, list[float]] = {"latency": [], "http": [], "connect": []}
    through: dict[str, list[float]] = {"latency": [], "http": [], "connect": []}
    per = max(1, rounds // blocks)
    mode = "urllib" if tier == "wasm" else "direct"
    with Sandbox.create(
        template=TEMPLATES[tier], tier=tier, network={"allow_out": ["127.0.0.1"]}
    ) as sbx:
        sbx.files.write("net_client.py", CLIENT.read_text())
        for block in range(blocks):
            sides = [("direct", direct), ("through", through)]
            for side, into in sides if block % 2 == 0 else reversed(sides):
                if side == "direct":
                    got = _direct(target, per, big, downloads, mode)
                else:
                    got = _through(sbx, tier, target, per, big, downloads)
                for k, v in got.items():
                    into[k].extend(v)
    return {"bytes": big, "direct": direct, "through": through}


def figures(tier: str, raw: dict[str, Any]) -> dict[str, Any]:
    d, t = raw["direct"], raw["through"]
    lat_d, lat_t = summary(d["latency"]), summary(t["latency"])
    out: dict[str, Any] = {
        "latency_direct": lat_d,
        "latency_gateway": lat_t,
        "added_ms_median": (lat_t["median"] - lat_d["median"]) * 1e3,
        "added_ms_p95": (lat_t["p95"] - lat_d["p95"]) * 1e3,
        "bytes": raw["bytes"],
    }
    want = TARGET_RATIO.get(tier, DEFAULT_RATIO)
    for kind in ("http", "connect"):
        if t[kind] and d[kind]:
            md, mt = statistics.median(d[kind]), statistics.median(t[kind])
            out[f"{kind}_direct_MBps"] = md / 1e6
            out[f"{kind}_gateway_MBps"] = mt / 1e6
            out[f"{kind}_ratio"] = mt / md
            out[f"{kind}_meets_{want}x"] = mt / md >= want
    out[f"added_meets_{TARGET_ADDED_MS}ms"] = out["added_ms_median"] <= TARGET_ADDED_MS
    return out


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print(
        f"{'tier':<9}{'direct ms':>10}{'gw ms':>8}{'gw p95':>8}{'added':>8}"
        f"{'http MB/s d/gw':>18}{'x':>6}{'tunnel MB/s':>13}{'x':>6}"
    )
    for tier, f in results.items():
        if "error" in f:
            print(f"{tier:<9}{f['error']}")
            continue
        http = f"{f.get('http_direct_MBps', 0):.0f}/{f.get('http_gateway_MBps', 0):.0f}"
        tunnel = f"{f['connect_gateway_MBps']:.0f}" if "connect_gateway_MBps" in f else "-"
        tunnel_x = f"{f['connect_ratio']:.2f}" if "connect_ratio" in f else "-"
        print(
            f"{tier:<9}{f['latency_direct']['median'] * 1e3:>10.2f}"
            f"{f['latency_gateway']['median'] * 1e3:>8.2f}{f['latency_gateway']['p95'] * 1e3:>8.2f}"
            f"{f['added_ms_median']:>8.2f}{http:>18}{f.get('http_ratio', 0):>6.2f}"
            f"{tunnel:>13}{tunnel_x:>6}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 connections, 1 download each")
    ap.add_argument("--rounds", type=int, help="connections per side (default 100; 20 quick)")
    ap.add_argument("--downloads", type=int, help="downloads per kind per block (default 2)")
    ap.add_argument("--bytes", type=int, default=100_000_000, help="download size (100 MB)")
    ap.add_argument("--tiers", help="comma-separated (default: those with 'network' here)")
    ap.add_argument("--time-limit", type=float, help="seconds (default 600; 240 quick)")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()
    rounds = args.rounds or (20 if args.quick else 100)
    downloads = args.downloads or (1 if args.quick else 2)
    blocks = 1 if args.quick else 2
    limit = args.time_limit or (240.0 if args.quick else 600.0)
    deadline = time.monotonic() + limit
    names = args.tiers.split(",") if args.tiers else list(TEMPLATES)
    tiers = []
    for t in names:
        rt = tier_named(t)
        if "network" not in rt.capabilities:
            print(f"{t}: no 'network' capability here: skipped", file=sys.stderr)
        elif not rt.availability().ok:
            print(f"{t}: not available here ({rt.availability().reason}): skipped", file=sys.stderr)
        else:
            tiers.append(t)
    server = subprocess.Popen([PYTHON, str(CLIENT), "serve"], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    target = f"127.0.0.1:{server.stdout.readline().strip()}"  # its own process: no shared GIL
    results: dict[str, dict[str, Any]] = {}
    raw: dict[str, Any] = {}
    for tier in tiers:
        if time.monotonic() > deadline:
            results[tier] = {"error": f"skipped: past the {limit:.0f} s time limit"}
            continue
        print(f"{tier}: measuring", file=sys.stderr)
        try:
            raw[tier] = bench_tier(tier, target, rounds, args.bytes, downloads, blocks)
            results[tier] = figures(tier, raw[tier])
        except Exception as e:  # one tier failing leaves the others' figures
            results[tier] = {"error": f"{type(e).__name__}: {e}"[:300]}
    server.kill()
    server.wait()
    print_table(results)
    if args.json:
        meta = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join(sys.argv),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load": os.getloadavg(),
        }
        doc = {"meta": meta, "results": results, "samples": raw}
        Path(args.json).write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
