"""Memory snapshots: taken once per VM shape from a cold boot, restored for every sandbox.

A snapshot is QEMU's migration stream in one file (`state`), plus, for a template, the
guest's RAM as a file of its own (`ram`, see `vmm.Ram`), and a JSON note of their SHA-256
digests and sizes. Restoring starts QEMU with the same command line and `-incoming`, loads
the stream, sends `cont`, and then, before the VM is used, sets the guest's clock and
reseeds its RNG: every restore of one snapshot starts from the same memory, so without
this they would share random state and wake in the past.

Integrity: the note records each file's digest and its stamp (inode, size, mtime, ctime)
once it is complete. A restore `stat`s the files: a stamp that matches is trusted (any
write, truncation or replacement of the file changes its ctime, which no one but root can
set back), anything else is hashed in full and refused (`SnapshotCorrupt`) on a mismatch.
So a restore never hashes a 1 GiB RAM file, and a changed file is still never used.
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
from ...guest.agent import protocol
from ..frames import Deadline, LinkClosed
from . import ahead, store
from .channel import Channel
from .vmm import VM, Ram, Shape, VMDied

BOOT_TIMEOUT = float(os.environ.get("SANDLOT_MICROVM_BOOT_TIMEOUT", "180"))
RESTORE_TIMEOUT = 60.0
Progress = Callable[[str], None]


class SnapshotCorrupt(ImageError):
    """A snapshot file does not match its recorded digest (truncated or tampered with)."""


@dataclass(frozen=True)
class Snapshot:
    memory: Path  # the migration stream
    digest: str
    size: int
    ram: Path | None = None  # a template's RAM file, mapped copy-on-write by restores
    ram_digest: str = ""
    ram_size: int = 0
    # A template whose agent held no seeded Python generator when saved: a restore needs
    # only the clock and the kernel's RNG, which init's wake port does (see `wake`).
    fast_wake: bool = False

    @property
    def note(self) -> Path:
        return self.memory.with_name(self.memory.name + ".json")

    def parts(self) -> list[tuple[Path, str, int]]:
        own = [(self.memory, self.digest, self.size)]
        return own + ([(self.ram, self.ram_digest, self.ram_size)] if self.ram else [])


_verified: dict[Path, tuple[int, int, int, int]] = {}
_verified_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def write(
    vm: VM, memory: Path, ram: Path | None = None, *, fast_wake: bool = False, digest: bool = True
) -> Snapshot:
    """Save `vm` (which stays paused) to `memory` and record its digest beside it; `ram`:
    the VM's RAM file (a template), kept out of the stream and digested as part of it.
    Without `digest` the note has none: the stamp alone vouches for the file (a changed
    file is then always refused, as a digest that matches nothing)."""
    work = memory.with_name(f".{memory.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        vm.save(work, ram_in_file=ram is not None)
        sha256 = store.file_digest(work) if digest else ""
        size = work.stat().st_size
        os.replace(work, memory)
    finally:
        work.unlink(missing_ok=True)
    snap = Snapshot(memory, sha256, size)
    if ram is not None:
        snap = Snapshot(
            memory, sha256, size, ram, store.file_digest(ram), ram.stat().st_size, fast_wake
        )
    note = {"digest": sha256, "size": size, "created": time.time(), "fast_wake": snap.fast_wake}
    if snap.ram is not None:
        note.update(ram=snap.ram.name, ram_digest=snap.ram_digest, ram_size=snap.ram_size)
    snap.note.write_text(json.dumps(note))
    record_stamps(snap)
    return snap


def load(memory: Path) -> Snapshot:
    note = memory.with_name(memory.name + ".json")
    try:
        meta = json.loads(note.read_text())
        ram = memory.with_name(Path(str(meta["ram"])).name) if meta.get("ram") else None
        return Snapshot(
            memory,
            str(meta["digest"]),
            int(meta["size"]),
            ram,
            str(meta.get("ram_digest", "")),
            int(meta.get("ram_size", 0)),
            meta.get("fast_wake") is True,
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SnapshotCorrupt(f"snapshot {memory} has no readable digest note: {e}") from None


def verify(snap: Snapshot) -> None:
    noted = _noted_stamps(snap)
    for path, digest, size in snap.parts():
        _verify_file(path, digest, size, noted.get(path.name))


def _noted_stamps(snap: Snapshot) -> dict[str, list[int]]:
    try:
        stamps = json.loads(snap.note.read_text()).get("stamps", {})
        return stamps if isinstance(stamps, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def record_stamps(snap: Snapshot) -> None:
    """Note the files' stamps as they are now (call when nothing writes them any more)."""
    note = json.loads(snap.note.read_text())
    note["stamps"] = {path.name: list(_stamp(path)) for path, _, _ in snap.parts()}
    work = snap.note.with_name(f".{snap.note.name}.{os.getpid()}")
    work.write_text(json.dumps(note))
    os.replace(work, snap.note)


def _verify_file(path: Path, digest: str, size: int, noted: list[int] | None) -> None:
    try:
        stamp = _stamp(path)
    except OSError as e:
        raise SnapshotCorrupt(f"snapshot file {path} is missing: {e}") from None
    with _verified_lock:
        if _verified.get(path) == stamp or (noted is not None and list(stamp) == noted):
            _verified[path] = stamp
            return
    if stamp[1] != size:
        raise SnapshotCorrupt(
            f"snapshot file {path} is {stamp[1]} bytes, its note says {size}: truncated"
        )
    if store.file_digest(path) != digest:
        raise SnapshotCorrupt(f"snapshot file {path} does not match its SHA-256 digest")
    with _verified_lock:
        _verified[path] = stamp


def freshen(channel: Channel, timeout: float = 30) -> None:
    """Set the guest clock and reseed its RNG (both requests sent at once, then awaited)."""
    clock = channel.request(protocol.request(protocol.OP_CLOCK, time=time.time()))
    seed = base64.b64encode(os.urandom(64)).decode()
    reseed = channel.request(protocol.request(protocol.OP_RESEED, seed=seed))
    until = time.monotonic() + timeout
    for wanted, what in ((clock, "set the clock"), (reseed, "reseed its RNG")):
        reply = channel.reply(wanted, None, until)
        if reply.get("ok") is not True:
            raise SandboxError(f"the restored VM could not {what}: {reply.get('error')}")


def wake(vm: VM, timeout: float = 30) -> None:
    """Set the guest's clock and reseed its kernel RNG through init's wake port: one line
    each way, served in C by the guest's init (see `init_c.py`), not by the agent."""
    sock = vm.waker
    if sock is None:
        raise VMDied(vm.why_dead())
    now = time.time_ns()
    sock.settimeout(timeout)
    answer = b""
    try:
        sock.sendall(f"{now // 10**9} {now % 10**9} {os.urandom(64).hex()}\n".encode())
        while not answer.endswith(b"\n") and len(answer) < 512:
            chunk = sock.recv(512)
            if not chunk:
                raise VMDied(f"the VM closed its wake port: {vm.why_dead()}")
            answer += chunk
    except OSError as e:  # TimeoutError included
        raise VMDied(f"the VM's wake port did not answer ({e}): {vm.why_dead()}") from None
    if answer != b"ok\n":
        text = answer.decode("utf-8", "replace").strip()[:200]
        raise SandboxError(f"the restored VM could not set its clock and reseed: {text}")


def restore(shape: Shape, snap: Snapshot) -> tuple[VM, Channel]:
    """A running VM from `snap`, its clock set and RNG reseeded."""
    verify(snap)
    ram = Ram(snap.ram, shared=False)
    vm = ahead.take(shape, ram)
    if vm is None:
        vm = VM(shape, ram, incoming=snap.memory)
    else:
        try:
            vm.migrate_in(snap.memory)
        except BaseException:
            vm.kill()
            raise
    try:
        assert vm.agent is not None
        vm.wait_incoming(RESTORE_TIMEOUT)
        vm.qmp("cont")
        channel = Channel(vm.agent)
        try:
            if snap.fast_wake:
                wake(vm)
            else:
                freshen(channel)
        except (LinkClosed, Deadline) as e:
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
    memory = store.snapshot_root(shape.memory_mib << 20) / f"{key}.state"
    lock = _thread_locks.setdefault(key, threading.Lock())
    with lock, _build_lock(memory):
        if memory.exists():
            try:
                snap = load(memory)
                verify(snap)
                return snap
            except SnapshotCorrupt:
                memory.unlink(missing_ok=True)  # rebuilt below
                memory.with_suffix(".ram").unlink(missing_ok=True)
        if progress:
            progress("booting the microvm template (once per image and kernel)")
        _sweep(memory.parent, keep=key)
        return boot_and_save(shape, memory)


STALE_SECONDS = 3600.0


def _sweep(root: Path, keep: str) -> None:
    """Remove template snapshots no one opened for an hour (their lock file's mtime is
    their last use): a new kernel, agent or image leaves the old ones behind, and each RAM
    file can hold up to the VM's memory in /dev/shm. A VM still running from one keeps
    its mapping; only a new restore would need it, and that rebuilds."""
    cutoff = time.time() - STALE_SECONDS
    for lock in root.glob("*.state.lock"):
        key = lock.name.split(".")[0]
        if key == keep:
            continue
        try:
            if lock.stat().st_mtime > cutoff:
                continue
        except OSError:
            continue
        for suffix in (".state", ".ram", ".state.json", ".state.lock"):
            (root / f"{key}{suffix}").unlink(missing_ok=True)


def boot_and_save(shape: Shape, memory: Path) -> Snapshot:
    """Cold-boot a template VM whose RAM is a file, and save it once its agent answers.
    The RAM file is written under a temporary name and renamed into place (restores map
    it; a rename never changes a file a running VM maps)."""
    ram = memory.with_suffix(".ram")
    work_ram = ram.with_name(f".{ram.name}.{os.getpid()}")
    work_ram.unlink(missing_ok=True)
    vm = VM(shape, Ram(work_ram, shared=True))
    try:
        assert vm.agent is not None
        channel = Channel(vm.agent)
        try:
            channel.call(protocol.request(protocol.OP_PING), BOOT_TIMEOUT)
            channel.call(
                protocol.request(protocol.OP_EXEC, cmd="true", output_bytes=1024), BOOT_TIMEOUT
            )
            # what each kind of call imports is loaded before the save, not after a restore
            warm = channel.call(protocol.request(protocol.OP_WARM), BOOT_TIMEOUT)
        except (LinkClosed, Deadline) as e:
            raise VMDied(f"the VM did not boot to its agent ({e!r}): {vm.why_dead()}") from None
        wake(vm)  # init's wake port answers: restores may use it
        vm.qmp("stop")
        os.replace(work_ram, ram)
        snap = write(vm, memory, ram, fast_wake=warm.get("prngs") == [])
        vm.kill()  # before the stamps: QEMU's exit may still touch the RAM file's times
        record_stamps(snap)
        return snap
    finally:
        vm.kill()
        work_ram.unlink(missing_ok=True)
