"""One microvm sandbox: a restored VM, its agent channel, and the calls the SDK makes.

- a call is one request on the agent's port; at its deadline the host sends `interrupt`
  (the guest raises KeyboardInterrupt; a command's process group is killed) and the
  sandbox keeps its state. If no reply comes within a grace period, or the VM dies, or
  its agent sends garbage, the VM is killed and replaced by a fresh restore of the
  template snapshot (files and Python state are reset) and the caller gets a typed error;
- `files` speaks file operations through the agent (the guest's disk is not on the host);
- `save(directory)` writes the whole VM (memory, devices, the tmpfs `/home/user` and
  `/tmp`) to a folder, `MicroVMRuntime.restore` brings it back; `fork(n)` is a save
  restored n times, each clone with its own clock and reseeded RNG.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ...errors import GuestProtocolError, InvalidArgument, SandboxError
from ...guest.agent import framing, protocol
from ...network.log import ConnectionRecord
from ..agent_link import Outcomes, StreamLink
from ..base import SandboxSpec
from ..frames import Deadline, FramedStream, LinkClosed
from ..guest_files import GuestFiles
from . import accel, snapshot, store
from .channel import Channel
from .network import VMNetwork
from .vmm import VM, Shape, VMDied

FILE_TIMEOUT = 60.0
STATE_FILE = "memory"
META_FILE = "vm.json"

Replace = Callable[[], tuple[VM, Channel]]
INTERRUPT = framing.pack(protocol.request(protocol.OP_INTERRUPT))


class VMLost(VMDied):
    """The VM died, hung or misbehaved during a call; it was replaced by a fresh one."""


def _kill_vm(vm: VM) -> None:
    vm.kill()


class MicroVMSandbox(StreamLink):
    """A live microvm sandbox. Not thread-safe: the SDK core serialises calls.

    The virtio-serial transport of the agent link: at a deadline the host sends
    `interrupt`; a VM that does not answer, dies or sends garbage is replaced."""

    interrupt_grace = 5.0  # TCG is slow to unwind: an interrupted call may take this long
    outcomes = Outcomes(
        interrupted="was interrupted; the sandbox and its state are kept",
        recovered="did not stop when interrupted, so the VM was replaced by a fresh one: "
        "files and Python state were reset",
    )

    def __init__(
        self, spec: SandboxSpec, shape: Shape, vm: VM, channel: Channel, fresh: Replace
    ) -> None:
        self._spec = spec
        self.shape = shape
        self._vm: VM | None = vm
        self._channel = channel
        self._fresh = fresh
        self._files = GuestFiles(self)
        self._finalizer = weakref.finalize(self, _kill_vm, vm)
        self._net: VMNetwork | None = None
        if spec.network is not None:
            try:
                self._net = VMNetwork(spec, vm.run.name)
                self._net.join(vm, channel)
            except BaseException:
                self.close()
                raise

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def files(self) -> GuestFiles:
        return self._files

    @property
    def vm(self) -> VM:
        if self._vm is None:
            raise SandboxError("the microvm sandbox is closed")
        return self._vm

    def close(self) -> None:
        net, self._net = self._net, None
        if net is not None:  # first: nothing of the sandbox reaches out meanwhile
            net.close()
        vm, self._vm = self._vm, None
        if vm is not None:
            self._finalizer.detach()
            vm.kill()

    def _replace(self) -> None:
        """A fresh VM from the template in place of a lost one."""
        old, self._vm = self._vm, None
        self._finalizer.detach()
        if old is not None:
            old.kill()
        vm, channel = self._fresh()
        self._vm, self._channel = vm, channel
        self._finalizer = weakref.finalize(self, _kill_vm, vm)
        if self._net is not None:  # the same attachment: its policy, log and caps go on
            self._net.join(vm, channel)

    def network_log(self) -> list[ConnectionRecord]:
        """What the sandbox tried on the network (empty: it has none)."""
        return self._net.log() if self._net is not None else []

    def save(self, directory: Path, *, digest: bool = True) -> dict[str, Any]:
        """Write the whole VM (memory, devices, the tmpfs /home/user and /tmp) to
        `directory`, then let it run on: pause closes it after, fork and snapshots don't.
        `digest=False` (a fork's private state, restored at once and removed): no SHA-256,
        the file is trusted only while its stamp is unchanged."""
        vm = self.vm
        snap = snapshot.write(vm, directory / STATE_FILE, digest=digest)
        meta = {
            "shape": {
                "vmlinuz": str(self.shape.vmlinuz),
                "initrd": str(self.shape.initrd),
                "disk": str(self.shape.disk),
                "memory_mib": self.shape.memory_mib,
                "vcpus": self.shape.vcpus,
                "accel": self.shape.accel,
            },
            "digest": snap.digest,
            "size": snap.size,
        }
        (directory / META_FILE).write_text(json.dumps(meta))
        vm.qmp("cont")
        return {}

    @property
    def notes(self) -> list[str]:
        return accel.tcg_notes(self.shape.accel)

    def interrupt(self) -> None:
        """Stop the running call (the SDK calls this from another thread)."""
        with contextlib.suppress(LinkClosed):
            self._channel.write(INTERRUPT)

    def fork(self, n: int) -> list[MicroVMSandbox]:
        """n new sandboxes continuing from this one's current state (memory and tmpfs)."""
        if n < 1:
            raise InvalidArgument(f"fork needs n >= 1, got {n}")
        work = Path(
            tempfile.mkdtemp(prefix="fork-", dir=store.snapshot_root(self.shape.memory_mib << 20))
        )
        futures: list[Future[MicroVMSandbox]] = []
        try:
            self.save(work, digest=False)  # ~130 ms less; the folder is private and brief
            # the restores at once, a CPU each: loading the stream and waking the guest
            # are CPU-bound (under TCG) in each QEMU of its own
            pool = ThreadPoolExecutor(min(n, os.cpu_count() or 1), "sandlot-fork")
            futures = [pool.submit(restore_saved, work, self._spec, self._fresh) for _ in range(n)]
            pool.shutdown(wait=True)
            failed = next((f.exception() for f in futures if f.exception() is not None), None)
            if failed is not None:
                raise failed
            return [f.result() for f in futures]
        except BaseException:
            for future in futures:  # every clone made (or still being made) is closed
                with contextlib.suppress(BaseException):
                    future.result().close()
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # -- the link's hooks ------------------------------------------------------------------

    def _link_stream(self) -> FramedStream:
        return self._channel

    def _link_ready(self) -> None:
        if self._vm is None or not self._vm.alive():
            raise self._lost("was found dead before the call")

    def _link_interrupt(self) -> bool:
        self._channel.write(INTERRUPT)
        return True

    def _link_recover(self) -> None:
        self._replace()

    def _link_gone(self, error: LinkClosed) -> SandboxError:
        return self._lost("ended during the call")

    def _lost(self, when: str) -> VMLost:
        """Replace a lost VM; the error that says so."""
        why = self._vm.why_dead() if self._vm is not None else "the VM was gone"
        try:
            self._replace()
        except Exception as e:
            return VMLost(f"the sandbox's VM {when} ({why}), and no fresh one started: {e}")
        return VMLost(
            f"the sandbox's VM {when} ({why}); it was replaced by a fresh one: files and "
            "Python state were reset"
        )

    def file_call(self, request: dict[str, Any]) -> dict[str, Any]:
        """One file operation through the agent (a broken VM is replaced, as for calls)."""
        if self._vm is None or not self._vm.alive():
            raise self._lost("was found dead before a file operation")
        try:
            return self._ask(request, None, FILE_TIMEOUT)
        except (LinkClosed, Deadline):
            raise self._lost("stopped answering during a file operation") from None
        except GuestProtocolError:
            self._replace()
            raise


def restore_saved(directory: Path, spec: SandboxSpec, fresh: Replace) -> MicroVMSandbox:
    """A sandbox from a folder written by `save` (its digest checked first)."""
    try:
        meta = json.loads((directory / META_FILE).read_text())
        raw = meta["shape"]
        shape = Shape(
            Path(raw["vmlinuz"]),
            Path(raw["initrd"]),
            Path(raw["disk"]),
            int(raw["memory_mib"]),
            int(raw["vcpus"]),
            str(raw["accel"]),
        )
        snap = snapshot.Snapshot(directory / STATE_FILE, str(meta["digest"]), int(meta["size"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise snapshot.SnapshotCorrupt(
            f"saved microvm state in {directory} is unreadable: {e}"
        ) from None
    for part in (shape.vmlinuz, shape.initrd, shape.disk):
        if not part.exists():
            raise snapshot.SnapshotCorrupt(
                f"saved microvm state needs {part}, which is gone (the kernel or image was removed)"
            )
    vm, channel = snapshot.restore(shape, snap)
    return MicroVMSandbox(spec, shape, vm, channel, fresh)
