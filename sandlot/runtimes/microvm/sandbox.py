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

import base64
import binascii
import contextlib
import errno
import json
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ...errors import GuestProtocolError, InvalidArgument, LimitExceeded, SandboxError
from ...errors import TimeoutError as SandboxTimeout
from ...models import EntryInfo, FileType, Limits, Timings
from ..agent_calls import AgentCalls
from ..base import OutputCallback, SandboxSpec
from ..hostfs import _translate
from ..output import OutputSink
from . import snapshot, store
from .channel import Channel, ChannelClosed, Deadline
from .vmm import VM, Shape, VMDied

INTERRUPT_GRACE = 5.0  # TCG is slow to unwind: an interrupted call may take this long
FILE_TIMEOUT = 60.0
STATE_FILE = "memory"
META_FILE = "vm.json"

Replace = Callable[[], tuple[VM, Channel]]


class VMLost(VMDied):
    """The VM died, hung or misbehaved during a call; it was replaced by a fresh one."""


def _kill_vm(vm: VM) -> None:
    vm.kill()


class MicroVMSandbox(AgentCalls):
    """A live microvm sandbox. Not thread-safe: the SDK core serialises calls."""

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
        from .runtime import tcg_notes

        return tcg_notes(self.shape.accel)

    def interrupt(self) -> None:
        """Stop the running call (the SDK calls this from another thread)."""
        channel = self._channel
        try:
            channel.send({"op": "interrupt"})
        except ChannelClosed:
            pass

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

    # -- calls -----------------------------------------------------------------------------

    def _after_bad_reply(self) -> None:
        self._replace()

    def _call(
        self,
        request: dict[str, Any],
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> tuple[dict[str, Any], OutputSink, Timings]:
        start = time.perf_counter()
        if self._vm is None or not self._vm.alive():
            self._lost("was found dead before the call")
        sink = OutputSink(limits.output_bytes, on_stdout, on_stderr)
        began = time.perf_counter()
        channel = self._channel
        try:
            wanted = channel.request(request)
            try:
                reply = channel.reply(wanted, sink, time.monotonic() + limits.wall_time)
            except Deadline:
                channel.send({"op": "interrupt"})
                try:
                    channel.reply(wanted, sink, time.monotonic() + INTERRUPT_GRACE)
                except Deadline:
                    self._replace()
                    raise SandboxTimeout(
                        f"the call ran past its {limits.wall_time:g} s limit and did not stop "
                        "when interrupted, so the VM was replaced by a fresh one: files and "
                        "Python state were reset (pass timeout= for a longer limit)"
                    ) from None
                raise SandboxTimeout(
                    f"the call ran past its {limits.wall_time:g} s limit and was interrupted; "
                    "the sandbox and its state are kept (pass timeout= for a longer limit)"
                ) from None
        except ChannelClosed:
            self._lost("ended during the call")
        except GuestProtocolError:
            self._replace()  # what is left of this call must not answer the next one
            raise
        except KeyboardInterrupt:
            self._replace()
            raise
        ended = time.perf_counter()
        if sink.callback_error is not None:
            raise sink.callback_error
        return reply, sink, Timings(queued=began - start, run=ended - began, total=ended - start)

    def _lost(self, when: str) -> Any:
        why = self._vm.why_dead() if self._vm is not None else "the VM was gone"
        try:
            self._replace()
        except Exception as e:
            raise VMLost(
                f"the sandbox's VM {when} ({why}), and no fresh one started: {e}"
            ) from None
        raise VMLost(
            f"the sandbox's VM {when} ({why}); it was replaced by a fresh one: files and "
            "Python state were reset"
        )

    def file_call(self, request: dict[str, Any]) -> dict[str, Any]:
        """One file operation through the agent (a broken VM is replaced, as for calls)."""
        if self._vm is None or not self._vm.alive():
            self._lost("was found dead before a file operation")
        try:
            return self._channel.call({"op": "file", **request}, FILE_TIMEOUT)
        except (ChannelClosed, Deadline):
            return self._lost("stopped answering during a file operation")  # type: ignore[no-any-return]
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


class GuestFiles:
    """`SandboxFiles` over the agent's `file` requests (paths are the guest's; relative ones
    start at /home/user)."""

    def __init__(self, sandbox: MicroVMSandbox) -> None:
        self._sandbox = sandbox

    def _do(self, action: str, path: str, verb: str, **args: Any) -> dict[str, Any]:
        if not isinstance(path, str) or not path or "\0" in path:
            raise InvalidArgument(f"a path must be a non-empty string without NUL, got {path!r}")
        reply = self._sandbox.file_call({"action": action, "path": path, **args})
        if "oserror" in reply:
            code = reply.get("oserror")
            message = str(reply.get("message", ""))
            if code == errno.EROFS:
                raise InvalidArgument(
                    f"cannot {verb} {path}: read-only (write under /home/user or /tmp)"
                )
            raise _translate(OSError(code if isinstance(code, int) else 0, message), path, verb)
        if "error" in reply:
            raise GuestProtocolError(f"the guest refused the file operation: {reply['error']}")
        return reply

    def write(self, path: str, data: bytes | str) -> EntryInfo:
        payload = data.encode() if isinstance(data, str) else bytes(data)
        reply = self._do("write", path, "write", data=base64.b64encode(payload).decode())
        return _entry(reply.get("info"))

    def read(self, path: str, *, max_bytes: int) -> bytes:
        reply = self._do("read", path, "read", max_bytes=max_bytes)
        if reply.get("too_big"):
            raise LimitExceeded(
                "file_size",
                f"cannot read {path}: it holds {reply.get('size')} bytes, more than the limit "
                f"of {max_bytes} bytes",
            )
        try:
            data = base64.b64decode(str(reply.get("data", "")), validate=True)
        except (binascii.Error, ValueError) as e:
            raise GuestProtocolError("the guest sent file data that is not base64") from e
        if len(data) > max_bytes:
            raise GuestProtocolError("the guest sent more file data than asked for")
        return data

    def list(self, path: str, depth: int = 1) -> list[EntryInfo]:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise InvalidArgument(f"depth must be a positive integer, got {depth!r}")
        entries = self._do("list", path, "list", depth=depth).get("entries")
        if not isinstance(entries, list):
            raise GuestProtocolError("the guest's listing is not a list")
        return [_entry(e) for e in entries]

    def exists(self, path: str) -> bool:
        return bool(self._do("exists", path, "check").get("exists"))

    def remove(self, path: str) -> None:
        self._do("remove", path, "remove")

    def rename(self, old: str, new: str) -> EntryInfo:
        if not isinstance(new, str) or not new or "\0" in new:
            raise InvalidArgument(f"a path must be a non-empty string without NUL, got {new!r}")
        return _entry(self._do("rename", old, "rename", new=new).get("info"))

    def make_dir(self, path: str) -> bool:
        return bool(self._do("make_dir", path, "make directory").get("made"))

    def get_info(self, path: str) -> EntryInfo:
        return _entry(self._do("info", path, "stat").get("info"))


_TYPES: tuple[FileType, ...] = ("file", "dir", "symlink", "other")


def _entry(raw: Any) -> EntryInfo:
    if not isinstance(raw, dict):
        raise GuestProtocolError("the guest sent a malformed file entry")
    kind = raw.get("type")
    name, path, size, modified = (raw.get(k) for k in ("name", "path", "size", "modified"))
    target = raw.get("symlink_target")
    if (
        kind not in _TYPES
        or not isinstance(name, str)
        or not isinstance(path, str)
        or isinstance(size, bool)
        or not isinstance(size, int)
        or not isinstance(modified, (int, float))
        or not (target is None or isinstance(target, str))
    ):
        raise GuestProtocolError("the guest sent a malformed file entry")
    file_type: FileType = next(t for t in _TYPES if t == kind)
    return EntryInfo(name, path, file_type, size, float(modified), target)
