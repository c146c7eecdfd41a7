"""KVM or TCG: which accelerator this host's QEMU can really use, probed once and cached.

`/dev/kvm` being there is not enough. On PVM hosts (paravirtualized nested KVM, the
`kvm_pvm` module) `/dev/kvm` opens but only PVM-aware guest kernels run; a stock kernel
never boots. So: no usable /dev/kvm → TCG; PVM → TCG; otherwise boot the guest kernel under
KVM with no root disk and look for it reaching the point of mounting root (it then panics,
and QEMU exits with `-no-reboot`). The answer is cached on disk, keyed by the host kernel
and the QEMU version, because a boot probe costs seconds.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from . import store

PROBE_SECONDS = 20.0


@dataclass(frozen=True)
class Accel:
    name: str  # "kvm" or "tcg"
    reason: str


def _qemu_version() -> str:
    try:
        out = subprocess.run(
            ["qemu-system-x86_64", "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "none"
    return out.splitlines()[0] if out else "unknown"


def _kvm_boots(vmlinuz: Path) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="sandlot-kvm-probe-") as tmp:
        log = Path(tmp) / "console.log"
        argv = [
            "qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host",
            "-m", "128M", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-kernel", str(vmlinuz), "-append", "console=ttyS0 panic=-1 reboot=t",
            "-serial", f"file:{log}",
        ]  # fmt: skip
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_SECONDS)
        except subprocess.TimeoutExpired:
            return False, f"a stock kernel did not boot under KVM within {PROBE_SECONDS:g} s"
        except OSError as e:
            return False, f"QEMU could not start under KVM: {e}"
        text = log.read_text(errors="replace") if log.exists() else ""
        if "VFS:" in text or "Kernel panic" in text:
            return True, "KVM boots a stock kernel"
        why = (done.stderr.strip().splitlines() or ["no console output"])[-1]
        return False, f"a stock kernel did not boot under KVM: {why}"


def _probe(vmlinuz: Path | None) -> Accel:
    if not os.path.exists("/dev/kvm"):
        return Accel("tcg", "no /dev/kvm on this host: QEMU emulates the CPU (TCG), slowly")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Accel("tcg", "/dev/kvm is not usable by this user: TCG (add the user to 'kvm')")
    if os.path.isdir("/sys/module/kvm_pvm"):
        return Accel(
            "tcg",
            "/dev/kvm is PVM (paravirtualized nested KVM, kvm_pvm), which cannot boot a "
            "stock kernel: TCG",
        )
    if vmlinuz is None:
        return Accel("kvm", "/dev/kvm is present (not yet proven by a boot)")
    ok, why = _kvm_boots(vmlinuz)
    return Accel("kvm" if ok else "tcg", why if ok else f"{why}: TCG")


@lru_cache(maxsize=4)
def choose(vmlinuz: Path | None = None) -> Accel:
    """The accelerator for this host, from the on-disk cache when the host is unchanged."""
    override = os.environ.get("SANDLOT_MICROVM_ACCEL")
    if override in ("kvm", "tcg"):
        return Accel(override, "forced by SANDLOT_MICROVM_ACCEL")
    key = f"{platform.release()}|{_qemu_version()}|{vmlinuz}"
    cache = store.tier_dir() / "accel.json"
    try:
        saved = json.loads(cache.read_text())
        if saved.get("key") == key:
            return Accel(saved["name"], saved["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = _probe(vmlinuz)
    if vmlinuz is not None or found.name == "tcg":
        work = cache.with_name(f".accel.{os.getpid()}")
        work.write_text(json.dumps({"key": key, **asdict(found)}))
        os.replace(work, cache)
    return found


def tcg_notes(accel_name: str, why: str = "") -> list[str]:
    """What a VM lacks when QEMU emulates its CPU: not isolation, but speed (TCG is a
    memory-safe translator, tens of times slower than KVM)."""
    if accel_name == "kvm":
        return []
    because = f" ({why})" if why else ""
    return [f"no usable KVM{because}: the guest's CPU is emulated by QEMU's TCG, much slower"]
