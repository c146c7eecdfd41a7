#!/usr/bin/env python
"""The microvm tier's two kernels side by side, in one process, rounds interleaved.

    python bench/bench_microvm_kernels.py            # both kernels (the custom one built)
    python bench/bench_microvm_kernels.py --rounds 30 --json out.json

For Debian's kernel and sandlot's own (`sandlot image build --kernel --custom-kernel`):
vmlinuz and initramfs sizes, the custom kernel's recorded build time, and, round by round
with the two kernels alternating (so both see the same load on a shared host), the median
and p95 of: restore to agent-ready (QEMU started by the restore), the first
`run_code("1")` after it (the guest runs freshly restored code under TCG), and
`commands.run("true")` in the live VM. bench_microvm.py gives the rest per kernel (cold
boot, idle RSS/PSS) when run under `SANDLOT_MICROVM_KERNEL=debian|custom`.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from benchstats import print_results, summary

from sandlot.models import Limits
from sandlot.runtimes.base import SandboxSpec
from sandlot.runtimes.microvm import kernel, snapshot
from sandlot.runtimes.microvm.runtime import MicroVMRuntime
from sandlot.runtimes.microvm.sandbox import MicroVMSandbox
from sandlot.runtimes.microvm.snapshot import Snapshot
from sandlot.runtimes.microvm.vmm import Shape

now = time.perf_counter
KERNELS = ("debian", "custom")


def one_round(spec: SandboxSpec, shape: Shape, snap: Snapshot, out: dict[str, list[float]]) -> None:
    lim = Limits()
    t0 = now()
    vm, channel = snapshot.restore(shape, snap)
    box = MicroVMSandbox(spec, shape, vm, channel, lambda: snapshot.restore(shape, snap))
    t1 = now()
    try:
        assert box.run_code("1", limits=lim, on_stdout=None, on_stderr=None).text == "1"
        t2 = now()
        for _ in range(3):
            t = now()
            box.run_command("true", limits=lim, stdin="", on_stdout=None, on_stderr=None)
            out["true"].append(now() - t)
    finally:
        box.close()
    out["restore"].append(t1 - t0)
    out["first"].append(t2 - t1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--template", default="base")
    ap.add_argument("--json")
    args = ap.parse_args()
    runtime = MicroVMRuntime()
    spec = SandboxSpec(args.template, Limits(), {})
    os.environ["SANDLOT_MICROVM_AHEAD"] = "0"  # no QEMU left over between kernels
    setups: dict[str, tuple[Shape, Snapshot]] = {}
    res: dict[str, Any] = {}
    for which in KERNELS:
        with kernel.selected(which):
            shape = runtime.shape(spec)
            setups[which] = (shape, snapshot.template(shape))  # built outside the timings
            k = kernel.ensure_kernel()
        res[f"{which}: kernel"] = k.version
        res[f"{which}: vmlinuz KiB"] = k.vmlinuz.stat().st_size // 1024
        res[f"{which}: initramfs KiB"] = k.initrd.stat().st_size // 1024
        built = k.vmlinuz.parent / "build-seconds"
        if built.exists():
            res[f"{which}: last build s (make -j2 bzImage, nice 19)"] = int(built.read_text())
    samples = {w: {"restore": [], "first": [], "true": []} for w in KERNELS}
    for i in range(args.rounds):
        for which in KERNELS if i % 2 == 0 else reversed(KERNELS):
            time.sleep(0.2)
            one_round(spec, *setups[which], samples[which])
    for which in KERNELS:
        got = samples[which]
        res[f"{which}: restore to agent-ready (no QEMU ahead)"] = summary(got["restore"])
        res[f'{which}: first run_code("1") after restore'] = summary(got["first"])
        res[f'{which}: commands.run("true") in a live VM'] = summary(got["true"])

    print_results(res, args.json, 52)


if __name__ == "__main__":
    main()
