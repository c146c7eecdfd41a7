"""The microvm tier's `Runtime`: the strongest isolation sandlot has (a kernel of its own).

Available where `qemu-system-x86_64` is installed; KVM is used when it can really boot a
guest, TCG otherwise (see `accel.py`; `availability().reason` says which and why). The
template's image decides at open(): `ImageMissing` names the command that builds it.
Building the kernel, the disk and the template snapshot happens on the first open of a
template and is cached (kernel and disk in the store, the snapshot in /dev/shm).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from ...errors import ImageMissing, SandboxError
from ...guest.agent import protocol
from ...models import Limits
from ..base import Availability, SandboxSpec
from ..linux import LINUX
from . import accel, ahead, disk, kernel, snapshot, store, writable
from .channel import Channel
from .pool import Pool, pool_size
from .sandbox import MicroVMSandbox, restore_saved
from .vmm import QEMU, VM, Shape

MIN_MEMORY_MIB = 256
MAX_MEMORY_MIB = 16 << 10


def _dev_rootfs_digest(root: Path) -> str:
    """A cheap identity for a rootfs folder given by path (development and tests)."""
    h = hashlib.sha256(str(root.resolve()).encode())
    for sub in sorted(root.iterdir()):
        st = sub.lstat()
        h.update(f"{sub.name}:{st.st_mtime_ns}:{st.st_size}".encode())
    return "dev-" + h.hexdigest()


def rootfs_for(template: str) -> tuple[Path, str]:
    """The template's rootfs and its digest: `$SANDLOT_MICROVM_ROOTFS` when set (a folder,
    for development), else the image store's."""
    given = os.environ.get("SANDLOT_MICROVM_ROOTFS")
    if given:
        root = Path(given)
        return root, _dev_rootfs_digest(root)
    try:
        from ... import images
    except ImportError:  # pragma: no cover - images ship with sandlot
        raise ImageMissing(f"no image store: run `sandlot image build {template}`") from None
    image = images.ensure(template)
    return image.rootfs, image.digest


class MicroVMRuntime:
    name = "microvm"
    capabilities = LINUX | {"isolation=strong", "network"}  # network: network.py
    implemented = True
    templates: frozenset[str] | None = None  # the image store decides, at open()

    def __init__(self) -> None:
        self._pools: dict[Shape, Pool] = {}
        self._lock = threading.Lock()

    def availability(self) -> Availability:
        if shutil.which(QEMU) is None:
            return Availability(
                False, f"{QEMU} is not installed", "apt-get install qemu-system-x86"
            )
        for tool, fix in (
            ("gcc", "apt-get install gcc libc6-dev"),
            ("mkfs.ext4", "apt-get install e2fsprogs"),
        ):
            if shutil.which(tool) is None:
                return Availability(False, f"{tool} is needed to build the VM's boot files", fix)
        return Availability(True, f"accelerator {accel.choose().name}: {accel.choose().reason}")

    def isolation_notes(self) -> list[str]:
        return accel.tcg_notes(accel.choose().name, accel.choose().reason)

    def sweep_stale(self) -> int:
        """Run folders (QMP socket, log) of VMs whose host process died: its QEMUs died
        with it (PR_SET_PDEATHSIG), so a folder no QEMU listens behind is left over."""
        return store.sweep_run_dirs()

    def prepare(self, template: str | None, progress: kernel.Progress | None = None) -> str:
        """Build what the first sandbox would otherwise wait for: the kernel and initramfs,
        and, given a template, its root disk and snapshot (a cold boot). Says what it has."""
        k = kernel.ensure_kernel(progress, refresh=True)
        done = f"kernel {k.version}: {k.vmlinuz.parent}"
        if template is not None:
            spec = SandboxSpec(template, Limits(), {})
            shape = self.shape(spec, progress)
            snap = snapshot.template(shape, progress)
            done += f"; {template} snapshot ({shape.memory_mib} MiB VM): {snap.memory}"
        return done

    def shape(self, spec: SandboxSpec, progress: kernel.Progress | None = None) -> Shape:
        rootfs, digest = rootfs_for(spec.template)
        k = kernel.ensure_kernel(progress)
        if progress:
            progress(f"root disk of {spec.template}")
        root_disk = disk.ensure_disk(rootfs, digest)
        memory = min(MAX_MEMORY_MIB, max(MIN_MEMORY_MIB, spec.limits.memory_bytes >> 20))
        vcpus = max(1, int(os.environ.get("SANDLOT_MICROVM_VCPUS", "1")))
        return Shape(k.vmlinuz, k.initrd, root_disk, memory, vcpus, accel.choose().name)

    def _fresh(self, shape: Shape) -> tuple[VM, Channel]:
        """A new VM from the template snapshot (rebuilt once if it is found corrupt)."""
        snap = snapshot.template(shape)
        try:
            return snapshot.restore(shape, snap)
        except snapshot.SnapshotCorrupt:
            return snapshot.restore(shape, snapshot.template(shape))

    def _pooled(self, shape: Shape) -> tuple[VM, Channel]:
        """A fresh VM whose agent has already answered a first call: under TCG the first
        call after a restore costs ~100 ms of code translation, paid here in the pool's
        background thread rather than by the caller's first `run_code`."""
        vm, channel = self._fresh(shape)
        try:
            channel.call(protocol.request(protocol.OP_WARM), snapshot.RESTORE_TIMEOUT)
        except BaseException:
            vm.kill()
            raise
        return vm, channel

    def drain(self) -> None:
        """Kill the pooled VMs and the QEMUs started ahead."""
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()
        ahead.close_all()

    def pool(self, shape: Shape) -> Pool:
        with self._lock:
            found = self._pools.get(shape)
            if found is None:
                found = self._pools[shape] = Pool(lambda: self._pooled(shape), pool_size())
            return found

    def open(self, spec: SandboxSpec) -> MicroVMSandbox:
        shape = self.shape(spec)
        ready = self.pool(shape).take()
        vm, channel = ready if ready is not None else self._fresh(shape)
        _with_envs(*writable.resize(vm, channel, spec.limits, shape.memory_mib), spec)
        return MicroVMSandbox(spec, shape, vm, channel, lambda: self._fresh_for(spec, shape))

    def _fresh_for(self, spec: SandboxSpec, shape: Shape) -> tuple[VM, Channel]:
        """A fresh VM for `spec` in place of a lost one: the template's, with its envs."""
        fresh = writable.resize(*self._fresh(shape), spec.limits, shape.memory_mib)
        return _with_envs(*fresh, spec)

    def restore(
        self, directory: Path, spec: SandboxSpec, tier_meta: dict[str, Any] | None = None
    ) -> MicroVMSandbox:
        """A sandbox from a folder `MicroVMSandbox.save` wrote (pause/resume, snapshots,
        fork); it gets its own clock and RNG seed."""
        shape = self.shape(spec)
        return restore_saved(directory, spec, lambda: self._fresh_for(spec, shape))


def _with_envs(vm: VM, channel: Channel, spec: SandboxSpec) -> tuple[VM, Channel]:
    """Give a VM restored from the template the sandbox's own environment variables (a
    saved sandbox's are in its memory already); the VM is killed if that fails."""
    if spec.envs:
        try:
            request = protocol.request(protocol.OP_ENV, envs=dict(spec.envs))
            reply = channel.call(request, snapshot.RESTORE_TIMEOUT)
            if not reply.get("ok"):
                raise SandboxError(f"the microvm guest refused the sandbox's envs: {reply}")
        except BaseException:
            vm.kill()
            raise
    return vm, channel
