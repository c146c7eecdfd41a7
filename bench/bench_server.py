#!/usr/bin/env python
"""Load bench for `sandlot serve`: N concurrent HTTP clients against the same work in-process.

    python bench/bench_server.py                   # N = 1, 4, 16; 20 calls per client
    python bench/bench_server.py --clients 1 4 --calls 10 --json out.json

Each client does one unit of work: create a sandbox, make `--calls` calls into it
(`run_code` of a small expression that reads and updates state), delete it. The server is a
real `sandlot serve` child process on loopback with a temporary data folder and key; its
clients are httpx clients, one per thread. The baseline is the same unit of work through
the local SDK in this process (`Sandbox.create()`, `run_code`, `close()`), with the same
number of threads, measured in the same run. Reported per N and mode: wall time,
throughput (calls per second, all clients together), p50/p95/p99 of create, call and delete,
and errors (which must be zero); the server/local ratio of the medians is the server's cost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from benchstats import percentile

from sandlot import Sandbox
from sandlot.server import KeyStore

now = time.perf_counter
OPS = ("create", "call", "delete")


def pct(xs: list[float], q: float) -> float:
    return percentile(sorted(xs), q) if xs else float("nan")


class Tally:
    """Latencies by operation and errors, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {op: [] for op in OPS}
        self.errors: list[str] = []

    def timed(self, op: str, fn: Callable[[], Any]) -> Any:
        t = now()
        result = fn()
        with self.lock:
            self.times[op].append(now() - t)
        return result

    def failed(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def http_unit(url: str, key: str, calls: int, tally: Tally) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        try:
            r = tally.timed("create", lambda: c.post("/v1/sandboxes", json={}))
            r.raise_for_status()
            sid = r.json()["id"]
            c.post(f"/v1/sandboxes/{sid}/code", json={"code": "n = 0"}).raise_for_status()
            for i in range(calls):
                r = tally.timed(
                    "call",
                    lambda i=i: c.post(f"/v1/sandboxes/{sid}/code", json={"code": f"n += {i}; n"}),
                )
                if r.status_code != 200 or r.json()["error"] is not None:
                    tally.failed(f"call: {r.status_code} {r.text[:200]}")
            r = tally.timed("delete", lambda: c.delete(f"/v1/sandboxes/{sid}"))
            if r.status_code != 204:
                tally.failed(f"delete: {r.status_code} {r.text[:200]}")
        except Exception as e:  # counted, not fatal: the bench reports errors
            tally.failed(f"{type(e).__name__}: {e}")


def local_unit(calls: int, tally: Tally) -> None:
    try:
        sbx = tally.timed("create", Sandbox.create)
        sbx.run_code("n = 0")
        for i in range(calls):
            ex = tally.timed("call", lambda i=i: sbx.run_code(f"n += {i}; n"))
            if ex.error is not None:
                tally.failed(f"call: {ex.error}")
        tally.timed("delete", sbx.close)
    except Exception as e:
        tally.failed(f"{type(e).__name__}: {e}")


def drive(n: int, unit: Callable[[Tally], None]) -> dict[str, Any]:
    tally = Tally()
    threads = [threading.Thread(target=unit, args=(tally,)) for _ in range(n)]
    t = now()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = now() - t
    out: dict[str, Any] = {
        "wall_s": wall,
        "calls_per_s": len(tally.times["call"]) / wall,
        "errors": len(tally.errors),
        "error_samples": tally.errors[:3],
    }
    for op in OPS:
        xs = tally.times[op]
        out[op] = {"n": len(xs), "p50": pct(xs, 0.5), "p95": pct(xs, 0.95), "p99": pct(xs, 0.99)}
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path, max_clients: int) -> tuple[subprocess.Popen[bytes], str, str]:
    store = KeyStore(data / "server.db")
    _, key = store.create("bench")
    store.close()
    port = free_port()
    cmd = [sys.executable, "-m", "sandlot.cli.main", "serve", "--port", str(port)]
    cmd += ["--data", str(data), "--max-sandboxes-per-key", str(max(16, max_clients))]
    log = open(data / "serve.log", "wb")  # noqa: SIM115 - the child writes it until the end
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return proc, url, key
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"sandlot serve did not start: {(data / 'serve.log').read_text()}")
        time.sleep(0.1)


def ms(x: float) -> str:
    return f"{x * 1e3:7.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    results: dict[str, Any] = {
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "calls": args.calls,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="sandlot-bench-") as tmp:
        proc, url, key = start_server(Path(tmp), max(args.clients))
        try:
            # Warm both paths once (module cache, first-sandbox costs) before timing.
            drive(1, lambda t: http_unit(url, key, 1, t))
            drive(1, lambda t: local_unit(1, t))
            for n in args.clients:
                server = drive(n, lambda t: http_unit(url, key, args.calls, t))
                local = drive(n, lambda t: local_unit(args.calls, t))
                results["runs"].append({"clients": n, "server": server, "local": local})
        finally:
            proc.terminate()
            proc.wait(30)

    print(f"{args.calls} calls per client; latencies in ms; ratio = server p50 / local p50\n")
    head = f"{'N':>3} {'mode':<6} {'wall s':>7} {'calls/s':>8} "
    head += " ".join(f"{op + ' p50':>10} {'p95':>7} {'p99':>7}" for op in OPS) + "  errors"
    print(head)
    for run in results["runs"]:
        for mode in ("server", "local"):
            r = run[mode]
            line = f"{run['clients']:>3} {mode:<6} {r['wall_s']:7.2f} {r['calls_per_s']:8.1f} "
            line += " ".join(
                f"{ms(r[op]['p50']):>10} {ms(r[op]['p95'])} {ms(r[op]['p99'])}" for op in OPS
            )
            print(f"{line}  {r['errors']}")
            for sample in r["error_samples"]:
                print(f"      error: {sample}")
        ratios = "  ".join(
            f"{op} {run['server'][op]['p50'] / run['local'][op]['p50']:.2f}x"
            for op in OPS
            if run["local"][op]["p50"] > 0
        )
        tput = run["server"]["calls_per_s"] / run["local"]["calls_per_s"]
        print(f"{'':>3} ratio  {ratios}  throughput {tput:.2f}x\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if any(run[m]["errors"] for run in results["runs"] for m in ("server", "local")):
        raise SystemExit("errors: see above")


if __name__ == "__main__":
    main()
