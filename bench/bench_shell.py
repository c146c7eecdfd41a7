"""The wasm tier's shell against real bash + coreutils on the host, measured in one run.

    python bench/bench_shell.py [--rounds N] [--quick]

Figures (median and p95 of N rounds; ratio = ours / native median):
- `true` through `sbx.commands.run` (target <= 3 ms median): the whole per-command path
  (SDK, guest protocol, shell parse and run, memory checkpoint), calls back to back.
  Native: `bash -c true` as a subprocess. The same with every written page protected
  again (SANDLOT_WASM_HOT_PAGES=0) and with full checkpoints
  (SANDLOT_WASM_FULL_CHECKPOINTS=1), each in a sandbox of its own, shows what hot pages
  and incremental checkpoints save.
- 1000 x `true` inside one script: the interpreter's per-command cost.
- `grep x | sort | uniq -c | sort -rn | head` over a 20k-line file (target <= 5x native).
- a 1,000-iteration arithmetic `for ((...))` loop (target <= 10x bash).
The shell figures come from a live sandbox; the in-process figures (`inproc`) run the same
pure-Python shell on the host CPython, to tell interpreter cost from wasm cost.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchstats import summary, timed  # noqa: E402

from sandlot import Sandbox  # noqa: E402
from sandlot.guest.shell import Shell  # noqa: E402

TRUE_1000 = "for i in {1..1000}; do true; done"
LOOP = "s=0; for ((i=0; i<1000; i++)); do s=$((s + i * 2 % 7)); done; echo $s"
PIPE = "grep x words.txt | sort | uniq -c | sort -rn | head"


def words() -> str:
    rnd = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    return "".join(
        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(3, 9))) + "\n"
        for _ in range(20_000)
    )


def timed_ms(fn: Callable[[], object], rounds: int) -> list[float]:
    """Milliseconds per call, after rounds // 4 + 1 unmeasured calls: a live sandbox's
    steady state (the checkpoint's hot pages are learnt over the first calls, the host
    settles after the sandbox's creation), not its first calls."""
    for _ in range(rounds // 4 + 1):
        fn()
    return [t * 1000 for t in timed(fn, rounds)]


def stats(xs: list[float]) -> tuple[float, float]:
    s = summary(xs)
    return s["median"], s["p95"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    rounds = 6 if a.quick else a.rounds
    tmp = tempfile.mkdtemp(prefix="bench-shell-")
    data = words()
    Path(tmp, "words.txt").write_text(data)
    bash = shutil.which("bash") or "/bin/bash"

    def native(script: str) -> Callable[[], object]:
        return lambda: subprocess.run([bash, "-c", script], cwd=tmp, capture_output=True)

    old = os.getcwd()
    sh = Shell(cwd=tmp, env={"PATH": "/usr/bin:/bin", "HOME": tmp})
    os.chdir(old)

    def inproc(script: str) -> Callable[[], object]:
        def go() -> None:
            os.chdir(tmp)
            try:
                sh.run(script, out=lambda b: None, err=lambda b: None)
            finally:
                os.chdir(old)

        return go

    rows: list[tuple[str, list[float], list[float], str]] = []
    with Sandbox.create() as sbx:
        sbx.files.write("/tmp/words.txt", data)
        sbx.commands.run("cd /tmp")

        def sandbox(script: str) -> Callable[[], object]:
            return lambda: sbx.commands.run(script)

        print("measuring ...", file=sys.stderr)
        rows.append(
            (
                "`true` via commands.run",
                timed_ms(sandbox("true"), rounds * 5),
                timed_ms(native("true"), rounds * 5),
                "<= 3 ms median",
            )
        )
        box = getattr(sbx, "_core", None)
        checkpoint = getattr(getattr(box, "_box", None), "_checkpoint", None)
        if checkpoint is not None:
            print(
                f"checkpoints: {checkpoint.incremental_copies} incremental, "
                f"{checkpoint.full_copies} full",
                file=sys.stderr,
            )
        for variable, label, note in (
            ("SANDLOT_WASM_HOT_PAGES", "no hot pages", "(every written page re-protected)"),
            ("SANDLOT_WASM_FULL_CHECKPOINTS", "full checkpoints", "(before incremental ones)"),
        ):
            os.environ[variable] = "0" if variable.endswith("HOT_PAGES") else "1"
            try:
                with Sandbox.create() as other:
                    rows.append(
                        (
                            f"`true` via commands.run, {label}",
                            timed_ms(lambda: other.commands.run("true"), rounds * 5),
                            timed_ms(native("true"), rounds * 5),
                            note,
                        )
                    )
            finally:
                del os.environ[variable]
        rows.append(
            (
                "1000 x `true` in one script",
                timed_ms(sandbox(TRUE_1000), rounds),
                timed_ms(native(TRUE_1000), rounds),
                "",
            )
        )
        rows.append(
            (
                "grep \\| sort \\| uniq -c \\| sort -rn \\| head, 20k lines",
                timed_ms(sandbox(PIPE), rounds),
                timed_ms(native(PIPE), rounds),
                "<= 5x native",
            )
        )
        rows.append(
            (
                "1000-iteration arithmetic for loop",
                timed_ms(sandbox(LOOP), rounds),
                timed_ms(native(LOOP), rounds),
                "<= 10x bash",
            )
        )
    for name, script in (("1000 x `true`", TRUE_1000), ("pipeline", PIPE), ("for loop", LOOP)):
        rows.append(
            (
                f"inproc: {name}",
                timed_ms(inproc(script), rounds),
                timed_ms(native(script), rounds),
                "",
            )
        )
    shutil.rmtree(tmp, ignore_errors=True)

    print("| figure | ours median | ours p95 | native median | native p95 | ratio | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, ours, nat, target in rows:
        om, op = stats(ours)
        nm, np_ = stats(nat)
        print(
            f"| {name} | {om:.2f} ms | {op:.2f} ms | {nm:.2f} ms | {np_:.2f} ms "
            f"| {om / nm:.1f}x | {target} |"
        )


if __name__ == "__main__":
    main()
