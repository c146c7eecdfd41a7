#!/usr/bin/env python
"""Benchmark the microvm tier (QEMU microvm; TCG on PVM hosts, KVM where it boots).

    python bench/bench_microvm.py              # default rounds (about 2 minutes under TCG)
    python bench/bench_microvm.py --quick      # fewer rounds
    python bench/bench_microvm.py --json out.json

Figures (median and p95 of each): cold boot to agent-ready; snapshot save; restore to
agent-ready (QEMU start, state load, cont, clock + reseed through init's wake port) and the
first run_code after it; pool acquire and the first run_code on a pooled VM; calls into a
live VM (agent ping, `true`, run_code("1+1")); fork(1) and fork(2), pause and resume, all
through the SDK; idle QEMU memory (RSS and PSS) and how many idle VMs would fit in 4 GiB.
Baselines in the same run: `python3 -c pass` on the host, and a bare QEMU of the same shape
from start to QMP-ready (the fixed cost in every restore).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchstats import print_results, summary, timed

from sandlot import Sandbox
from sandlot.guest.agent import protocol
from sandlot.models import Limits
from sandlot.runtimes.base import SandboxSpec
from sandlot.runtimes.microvm import accel, snapshot, store
from sandlot.runtimes.microvm.channel import Channel
from sandlot.runtimes.microvm.runtime import MicroVMRuntime
from sandlot.runtimes.microvm.sandbox import MicroVMSandbox
from sandlot.runtimes.microvm.vmm import VM, Ram

now = time.perf_counter
MiB = 1 << 20
PING = protocol.request(protocol.OP_PING)
FIRST_CALL = protocol.request(protocol.OP_RUN_CODE, code="1", output_bytes=1024)


def mem_kib(pid: int) -> tuple[int, int]:
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--template", default="base")
    ap.add_argument("--json")
    args = ap.parse_args()
    r = 5 if args.quick else 15
    runtime = MicroVMRuntime()
    spec = SandboxSpec(args.template, Limits(), {})
    shape = runtime.shape(spec)
    snap = snapshot.template(shape)  # built outside the measurements
    res: dict[str, Any] = {"host": platform.node(), "accel": accel.choose().name}

    res["baseline python3 -c pass"] = summary(
        timed(lambda: subprocess.run([sys.executable, "-S", "-c", "pass"], check=True), r)
    )
    res["baseline qemu start to QMP ready"] = summary(timed(lambda: VM(shape).kill(), r))

    boots = []
    work = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    for n in range(1 if args.quick else 2):
        t = now()
        vm = VM(shape, Ram(work / f"ram{n}", shared=True))
        assert vm.agent is not None
        Channel(vm.agent).call(PING, 300)
        boots.append(now() - t)
        if n == 0:
            for label, in_file in (("template, RAM stays in its file", True), ("full", False)):
                saves = []
                for i in range(r):
                    t = now()
                    vm.save(work / f"s{i}.state", ram_in_file=in_file)
                    saves.append(now() - t)
                    (work / f"s{i}.state").unlink()
                    vm.qmp("cont")
                res[f"save: stop + migrate ({label})"] = summary(saves)
            vm.qmp("stop")
            t = now()
            store.file_digest(work / "ram0")
            res["save: SHA-256 of the 1 GiB RAM file (once)"] = summary([now() - t])
            vm.qmp("cont")
        vm.kill()
    shutil.rmtree(work, ignore_errors=True)
    res["template snapshot: stream KiB"] = snap.size / 1024
    res["template snapshot: RAM file allocated MiB"] = (
        os.stat(snap.ram).st_blocks * 512 / MiB if snap.ram else 0
    )
    res["cold boot to agent-ready"] = summary(boots)

    for label, ahead_on in (("QEMU started ahead", "1"), ("QEMU started by the restore", "0")):
        os.environ["SANDLOT_MICROVM_AHEAD"] = ahead_on
        restores, firsts = [], []
        for i in range(r + 1):
            time.sleep(0.2)  # a sandbox's life: the QEMU behind it has started meanwhile
            t = now()
            vm, channel = snapshot.restore(shape, snap)
            ready = now()
            channel.call(FIRST_CALL, 30)
            if i:  # the first has no QEMU started ahead of it
                restores.append(ready - t)
                firsts.append(now() - ready)
            vm.kill()
        res[f"restore to agent-ready ({label})"] = summary(restores)
        res[f"then its first run_code('1') ({label})"] = summary(firsts)
    os.environ.pop("SANDLOT_MICROVM_AHEAD", None)

    pool = runtime.pool(shape)
    takes: list[float] = []
    pooled_firsts: list[float] = []
    for _ in range(r):
        deadline = time.monotonic() + 60
        while pool.ready_count() == 0 and time.monotonic() < deadline:
            pool.refill()
            time.sleep(0.05)
        t = now()
        got = pool.take()
        takes.append(now() - t)
        if got is not None:
            t = now()
            got[1].call(FIRST_CALL, 30)
            pooled_firsts.append(now() - t)
            got[0].kill()
    pool.close()
    res["pool acquire"] = summary(takes)
    res["then its first run_code('1') (pooled VMs are warmed)"] = summary(pooled_firsts)

    vm, channel = snapshot.restore(shape, snap)
    box = MicroVMSandbox(spec, shape, vm, channel, lambda: snapshot.restore(shape, snap))
    lim = Limits()
    box.run_command("true", limits=lim, stdin="", on_stdout=None, on_stderr=None)
    res["call ping"] = summary(timed(lambda: channel.call(PING, 30), r * 4))
    res["call true"] = summary(
        timed(
            lambda: box.run_command("true", limits=lim, stdin="", on_stdout=None, on_stderr=None),
            r * 2,
        )
    )
    res["call run_code 1+1"] = summary(
        timed(lambda: box.run_code("1+1", limits=lim, on_stdout=None, on_stderr=None), r * 2)
    )
    box.close()

    # fork through the public SDK (Sandbox.fork reaches the tier's parallel restores)
    parent = Sandbox.create(tier="microvm", template=args.template)
    parent.run_code("kept = 1")
    for n in (1, 2):
        forks = []
        for _ in range(3 if args.quick else 5):
            t = now()
            kids = parent.fork(n)
            forks.append(now() - t)
            for k in kids:
                k.close()
        res[f"fork({n}) (SDK: Sandbox.fork)"] = summary(forks)
    parent.close()

    # pause (the whole VM saved to the store, its QEMU ended) and resume, through the SDK
    pauses, resumes = [], []
    for _ in range(3 if args.quick else 5):
        sbx = Sandbox.create(tier="microvm", template=args.template)
        sbx.run_code("kept = list(range(100_000))")
        t = now()
        sandbox_id = sbx.pause()
        pauses.append(now() - t)
        t = now()
        again = Sandbox.connect(sandbox_id)
        resumes.append(now() - t)
        assert again.run_code("len(kept)").text == "100000"
        again.close()
    res["pause (SDK: save to the store, end the VM)"] = summary(pauses)
    res["resume (SDK: Sandbox.connect)"] = summary(resumes)

    idle = [snapshot.restore(shape, snap) for _ in range(4)]
    time.sleep(3)
    mems = [mem_kib(v.pid) for v, _ in idle]
    for v, _ in idle:
        v.kill()
    rss = statistics.median(m[0] for m in mems) / 1024
    pss = statistics.median(m[1] for m in mems) / 1024
    res["idle VM RSS MiB"] = rss
    res["idle VM PSS MiB"] = pss
    res["idle VMs in 4 GiB (by PSS)"] = int(4096 // pss) if pss else None

    print_results(res, args.json, 44)


if __name__ == "__main__":
    main()
