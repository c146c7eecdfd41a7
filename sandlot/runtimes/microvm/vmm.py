"""One QEMU process: its command line, its QMP monitor, its agent socket, its end.

The command line depends only on the VM's *shape* (kernel, initramfs, disk, memory, vCPUs,
accelerator), never on the sandbox: a snapshot taken from one VM restores into any VM of
the same shape (`-incoming` needs the same devices in the same order). Per-VM paths (the
sockets, the console log, the NIC's guestfwd relay target) are backends, which migration
does not record.

Guest RAM is always the memory backend "mem", in one of three forms (`Ram`): a template
VM's RAM is a file (share=on) that becomes the template snapshot; a sandbox restored from
the template maps that file privately (share=off: copy-on-write, so every VM of a template
shares the pages it has not written, and nothing of the RAM is copied at restore); a VM
restored from a full migration stream (pause, fork, named snapshots) has anonymous RAM.
`x-ignore-shared` keeps the file-backed RAM out of the template's migration stream, which
is then only the device state (tens of KiB).

QMP goes through the `qemu.qmp` library's asyncio client, on one event-loop thread shared
by every VM; QEMU processes are started from one long-lived thread too, because each gets
PR_SET_PDEATHSIG, which fires when the *thread* that forked it ends (a pool's refill thread
would otherwise take its VMs with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from qemu.qmp import ExecInterruptedError, QMPClient

from ...errors import SandboxError
from . import network, store

QEMU = "qemu-system-x86_64"
# TCG's translation cache: QEMU 7.2 reserves 1 GiB by default, which costs start-up time
# and RSS per VM; 128 MiB holds a sandbox's hot code (measured: start ~90 → ~75 ms).
TCG_TB_MIB = 128
T = TypeVar("T")
# Under TCG the kernel cannot calibrate the TSC (no PIT/HPET reference on microvm) and
# stalls; giving it the frequency and trusting it boots straight through. QEMU's TCG TSC
# counts host TSC ticks, so the host's frequency is the right one.
BASE_CMDLINE = (
    "console=ttyS0 panic=-1 reboot=t pci=off no_timer_check tsc=reliable quiet random.trust_cpu=off"
)


class VMDied(SandboxError):
    """The QEMU process ended (killed, crashed, the guest panicked or powered off)."""


@dataclass(frozen=True)
class Shape:
    """Everything that must match between a snapshot and the VM restoring it."""

    vmlinuz: Path
    initrd: Path
    disk: Path
    memory_mib: int
    vcpus: int
    accel: str  # "kvm" or "tcg"

    def key(self) -> str:
        """Names the template snapshot: the parts, and the command line they make (a
        change of devices or options in a new sandlot must not restore an old snapshot)."""
        parts = (self.vmlinuz, self.initrd, self.disk, self.memory_mib, self.vcpus, self.accel)
        line = " ".join(self.argv(Path("/run"), Ram(), incoming=False))
        return "|".join(str(p) for p in parts) + "|" + line

    def argv(self, run: Path, ram: Ram, incoming: bool) -> list[str]:
        cmdline = f"{BASE_CMDLINE} tsc_early_khz={_host_tsc_khz()}"
        argv = [
            QEMU,
            "-name", "sandlot",
            "-M", "microvm,acpi=on,rtc=on,pit=on,pic=on,isa-serial=on",
            "-accel", self.accel if self.accel == "kvm" else f"tcg,tb-size={TCG_TB_MIB}",
            "-cpu", "host" if self.accel == "kvm" else "max",
            "-m", f"{self.memory_mib}M",
            "-smp", str(self.vcpus),
            "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-sandbox", "on,obsolete=deny,elevateprivileges=allow,resourcecontrol=deny",
            "-kernel", str(self.vmlinuz),
            "-initrd", str(self.initrd),
            "-append", cmdline,
            "-serial", f"file:{run / 'console.log'}",
            "-drive", f"id=root,file={self.disk},format=raw,if=none,readonly=on",
            "-device", "virtio-blk-device,drive=root",
            "-chardev", f"socket,id=agent,path={run / 'agent.sock'},server=on,wait=off",
            "-chardev", f"socket,id=wake,path={run / 'wake.sock'},server=on,wait=off",
            "-device", "virtio-serial-device,max_ports=3",
            "-device", "virtserialport,chardev=agent,name=sandlot",
            "-device", "virtserialport,chardev=wake,name=sandlot-wake",
            "-device", "virtio-rng-device",
            *network.netdev_argv(run),
            "-qmp", f"unix:{run / 'qmp.sock'},server=on,wait=off",
        ]  # fmt: skip
        size = f"size={self.memory_mib}M"
        if ram.file is None:
            argv += ["-object", f"memory-backend-ram,id=mem,{size}"]
        else:
            share = "on" if ram.shared else "off"
            argv += [
                "-object",
                f"memory-backend-file,id=mem,{size},mem-path={ram.file},share={share}",
            ]
        argv += ["-machine", "memory-backend=mem"]
        if incoming:
            argv += ["-S", "-incoming", "defer"]
        return argv


@dataclass(frozen=True)
class Ram:
    """Where a VM's RAM lives: anonymous (file None), a template's file it writes
    (shared), or a template's file mapped copy-on-write (not shared)."""

    file: Path | None = None
    shared: bool = False


@lru_cache(maxsize=1)
def _host_tsc_khz() -> int:
    """The host's TSC frequency in kHz: the kernel's own figure where it exports one, else
    the first CPU's nominal MHz (close enough for a guest whose wall clock is set by us)."""
    with contextlib.suppress(OSError, ValueError):
        return int(Path("/sys/devices/system/cpu/cpu0/tsc_freq_khz").read_text())
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    return 2_000_000


_made_once = threading.Lock()


@lru_cache(maxsize=1)
def _loop_unlocked() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="sandlot-qmp", daemon=True).start()
    return loop


def _loop() -> asyncio.AbstractEventLoop:
    """The one event loop every QMP client of this process lives on. Made under a lock:
    two threads restoring at once (a caller and `ahead`'s starter) used to make a loop each,
    and a client connected on one then had its commands run on the other: no reply, ever
    (a 30 s timeout, seen on a process's first restore)."""
    with _made_once:
        return _loop_unlocked()


def _on_loop(coro: Coroutine[Any, Any, T], timeout: float) -> T:
    future: Future[T] = asyncio.run_coroutine_threadsafe(coro, _loop())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


async def _hand_over(client: QMPClient, fd: int, name: str) -> None:
    """Pass `fd` to QEMU under `name` (SCM_RIGHTS on the monitor socket, then getfd)."""
    client.send_fd_scm(fd)
    await client.execute("getfd", {"fdname": name})


@lru_cache(maxsize=1)
def _spawner_unlocked() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandlot-microvm-spawn")


def _spawner() -> ThreadPoolExecutor:
    with _made_once:
        return _spawner_unlocked()


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _connect(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> socket.socket:
    """Connect to one of QEMU's server sockets once it is listening."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.connect(str(path))
            return sock
        except OSError:
            sock.close()
            if proc.poll() is not None:
                raise VMDied(f"QEMU exited with status {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise VMDied(f"QEMU did not open {path.name} within {timeout:g} s") from None
            time.sleep(0.002)


class VM:
    """A running QEMU: `qmp()` for the monitor, `agent` for the guest's port."""

    def __init__(
        self,
        shape: Shape,
        ram: Ram | None = None,
        incoming: Path | None = None,
        *,
        wait_for_state: bool = False,
    ) -> None:
        """Start QEMU; with `incoming`, load that saved state into it. With `wait_for_state`
        (and no `incoming`), leave it waiting for `migrate_in` (a VM started ahead)."""
        ram = ram or Ram()
        if shutil.which(QEMU) is None:
            raise SandboxError(f"{QEMU} is not installed (apt-get install qemu-system-x86)")
        self.shape = shape
        self.ram = ram
        self.run = store.run_dir()
        self.proc: subprocess.Popen[bytes] | None = None
        self._qmp: QMPClient | None = None
        self.agent: socket.socket | None = None
        self.waker: socket.socket | None = None  # init's wake port (see init_c.py)
        waiting = incoming is not None or wait_for_state
        try:
            with open(self.run / "qemu.err", "wb") as err:
                self.proc = (
                    _spawner()
                    .submit(
                        subprocess.Popen,
                        shape.argv(self.run, ram, waiting),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=err,
                        start_new_session=True,
                        preexec_fn=_die_with_parent,
                    )
                    .result()
                )
            qmp_sock = _connect(self.run / "qmp.sock", self.proc, 30)
            client = QMPClient("sandlot")
            _on_loop(client.connect(qmp_sock), 30)
            self._qmp = client
            self.agent = _connect(self.run / "agent.sock", self.proc, 30)
            self.waker = _connect(self.run / "wake.sock", self.proc, 30)
            if incoming is not None:
                self.migrate_in(incoming)
        except BaseException:
            self.kill()
            raise

    def migrate_in(self, state: Path) -> None:
        """Start loading a saved state into this VM (started waiting for one)."""
        self._ignore_shared(self.ram.file is not None)
        self._hand_file(state, os.O_RDONLY, "state")
        self.qmp("migrate-incoming", uri="fd:state")

    def _hand_file(self, path: Path, flags: int, name: str) -> None:
        """Open `path` here and hand the descriptor to QEMU as `fd:<name>` (`getfd`): no
        shell and `cat` that an `exec:` URI would start, no pipe between them and QEMU."""
        fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
        try:
            if self._qmp is None or not self.alive():
                raise VMDied(self.why_dead())
            _on_loop(_hand_over(self._qmp, fd, name), 30)
        finally:
            os.close(fd)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def qmp(self, command: str, timeout: float = 30, **args: Any) -> Any:
        if self._qmp is None or not self.alive():
            raise VMDied(self.why_dead())
        try:
            return _on_loop(self._qmp.execute(command, args or None), timeout)
        except ExecInterruptedError:  # the monitor hung up: QEMU is ending, say why
            raise VMDied(f"QEMU's monitor closed during {command}: {self.why_dead()}") from None
        except Exception as e:
            if not self.alive():
                raise VMDied(self.why_dead()) from None
            raise SandboxError(f"QEMU refused {command}: {e}") from None

    def _ignore_shared(self, on: bool) -> None:
        capability = {"capability": "x-ignore-shared", "state": on}
        self.qmp("migrate-set-capabilities", capabilities=[capability])

    def save(self, path: Path, *, ram_in_file: bool = False, timeout: float = 120) -> None:
        """Pause the VM and write its device state, and its RAM unless `ram_in_file` (a
        template, whose RAM file is the rest of the snapshot), to `path`. It stays paused."""
        self.qmp("stop")
        self._ignore_shared(ram_in_file)
        self.qmp("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
        self._hand_file(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "save")
        self.qmp("migrate", uri="fd:save")
        deadline = time.monotonic() + timeout
        while True:
            status = self.qmp("query-migrate").get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise SandboxError(f"saving the VM failed: migration {status}")
            if time.monotonic() > deadline:
                self.qmp("migrate_cancel")
                raise SandboxError(f"saving the VM took more than {timeout:g} s")
            time.sleep(0.002)

    def wait_incoming(self, timeout: float = 60) -> None:
        """Wait until an `-incoming` restore has loaded the whole state."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.qmp("query-status")
            if status.get("status") == "paused" or status.get("running"):
                return
            if time.monotonic() > deadline:
                raise SandboxError(f"restoring the VM took more than {timeout:g} s")
            time.sleep(0.001)

    def why_dead(self) -> str:
        code = None
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=1)  # its sockets close a moment before it ends
        detail = ""
        for name in ("qemu.err", "console.log"):
            with contextlib.suppress(OSError):
                text = (self.run / name).read_text(errors="replace").strip()
                if text:
                    detail += f"; {name}: …{text[-600:]}"
        if code is None:
            how = "is running but its agent stopped answering"
        else:
            how = "was killed" if code < 0 else f"exited with status {code}"
        return f"the VM's QEMU process {how}{detail}"

    def kill(self) -> None:
        """End QEMU and remove its sockets and log. Idempotent."""
        client, self._qmp = self._qmp, None
        if client is not None:
            with contextlib.suppress(Exception):
                _on_loop(client.disconnect(), 5)
        for sock in (self.agent, self.waker):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self.agent = self.waker = None
        if self.proc is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        shutil.rmtree(self.run, ignore_errors=True)
