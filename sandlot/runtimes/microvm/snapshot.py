"""Memory snapshots: taken once per VM shape from a cold boot, restored for every sandbox.

A snapshot is QEMU's migration stream (RAM + device state) in one file, plus a JSON note
of its SHA-256 and size. Restoring starts QEMU with the same command line and
`-incoming exec:cat FILE`, waits for the state to load, sends `cont`, and then, before the
VM is used, sets the guest's clock and reseeds its RNG: every restore of one snapshot
starts from the same memory, so without this they would share random state and wake in
the past.

Integrity: the digest is checked in full the first time a process uses a snapshot file and
again whenever its size, mtime or ctime changes (a cheap `stat` on every restore), so a
truncated or altered file is refused (`SnapshotCorrupt`) without hashing ~100 MB per start.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ...errors import ImageError, SandboxError
from . import store
from .channel import Channel, ChannelClosed, Deadline
from .vmm import VM, Shape, VMDied

BOOT_TIMEOUT = float(os.environ.get("SANDLOT_MICROVM_BOOT_TIMEOUT", "180"))
RESTORE_TIMEOUT = 60.0
Progress = Callable[[str], None]


class SnapshotCorrupt(ImageError):
    """A snapshot file does not match its recorded digest (truncated or tampered with)."""


@dataclass(frozen=True)
class Snapshot:
    memory: Path
    digest: str
    size: int

    @property
    def note(self) -> Path:
        return self.memory.with_name(self.memory.name + ".json")


_verified: dict[Path, tuple[int, int, int, int]] = {}
_verified_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def write(vm: VM, memory: Path) -> Snapshot:
    """Save `vm` (which stays paused) to `memory` and record its digest beside it."""
    work = memory.with_name(f".{memory.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        vm.save(work)
        digest = store.file_digest(work)
        size = work.stat().st_size
        os.replace(work, memory)
    finally:
        work.unlink(missing_ok=True)
    snap = Snapshot(memory, digest, size)
    snap.note.write_text(json.dumps({"digest": digest, "size": size, "created": time.time()}))
    with _verified_lock:
        _verified[memory] = _stamp(memory)
    return snap


def load(memory: Path) -> Snapshot:
    note = memory.with_name(memory.name + ".json")
    try:
        meta = json.loads(note.read_text())
        return Snapshot(memory, str(meta["digest"]), int(meta["size"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SnapshotCorrupt(f"snapshot {memory} has no readable digest note: {e}") from None


def verify(snap: Snapshot) -> None:
    try:
        stamp = _stamp(snap.memory)
    except OSError as e:
        raise SnapshotCorrupt(f"snapshot {snap.memory} is missing: {e}") from None
    with _verified_lock:
        if _verified.get(snap.memory) == stamp:
            return
    if stamp[1] != snap.size:
        raise SnapshotCorrupt(
            f"snapshot {snap.memory} is {stamp[1]} bytes, its note says {snap.size}: truncated"
        )
    if store.file_digest(snap.memory) != snap.digest:
        raise SnapshotCorrupt(f"snapshot {snap.memory} does not match its SHA-256 digest")
    with _verified_lock:
        _verified[snap.memory] = stamp


def freshen(channel: Channel, timeout: float = 30) -> None:
    """Set the guest clock and reseed its RNG (both requests sent at once, then awaited)."""
    clock = channel.request({"op": "clock", "time": time.time()})
    seed = base64.b64encode(os.urandom(64)).decode()
    reseed = channel.request({"op": "reseed", "seed": seed})
    until = time.monotonic() + timeout
    for wanted, what in ((clock, "set the clock"), (reseed, "reseed its RNG")):
        reply = channel.reply(wanted, None, until)
        if reply.get("ok") is not True:
            raise SandboxError(f"the restored VM could not {what}: {reply.get('error')}")


def restore(shape: Shape, snap: Snapshot) -> tuple[VM, Channel]:
    """A running VM from `snap`, its clock set and RNG reseeded."""
    verify(snap)
    vm = VM(shape, incoming=snap.memory)
    try:
        assert vm.agent is not None
        vm.wait_incoming(RESTORE_TIMEOUT)
        vm.qmp("cont")
        channel = Channel(vm.agent)
        try:
            freshen(channel)
        except (ChannelClosed, Deadline) as e:
            raise VMDied(f"the restored VM's agent did not answer ({e}): {vm.why_dead()}") from None
        return vm, channel
    except BaseException:
        vm.kill()
        raise


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    with open(path.with_name(path.name + ".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


_thread_locks: dict[str, threading.Lock] = {}


def template(shape: Shape, progress: Progress | None = None) -> Snapshot:
    """The snapshot of a freshly booted VM of `shape`: reused when intact, else (re)built."""
    key = hashlib.sha256(shape.key().encode()).hexdigest()[:24]
    memory = store.snapshot_root(shape.memory_mib << 20) / f"{key}.mem"
    lock = _thread_locks.setdefault(key, threading.Lock())
    with lock, _build_lock(memory):
        if memory.exists():
            try:
                snap = load(memory)
                verify(snap)
                return snap
            except SnapshotCorrupt:
                memory.unlink(missing_ok=True)  # rebuilt below
        if progress:
            progress("booting the microvm template (once per image and kernel)")
        return boot_and_save(shape, memory)


def boot_and_save(shape: Shape, memory: Path) -> Snapshot:
    vm = VM(shape)
    try:
        assert vm.agent is not None
        channel = Channel(vm.agent)
        try:
            channel.call({"op": "ping"}, BOOT_TIMEOUT)
            channel.call({"op": "exec", "cmd": "true", "output_bytes": 1024}, BOOT_TIMEOUT)
        except (ChannelClosed, Deadline) as e:
            raise VMDied(f"the VM did not boot to its agent ({e!r}): {vm.why_dead()}") from None
        return write(vm, memory)
    finally:
        vm.kill()
