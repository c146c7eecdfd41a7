"""The virtio-serial transport: the agent inside a microvm guest, started by its init.

The port is the `virtserialport` named "sandlot" (`/dev/virtio-ports/sandlot` with udev,
found through /sys without it). It carries the same frames as the pipe transport
(`framing.py`): requests in, events out (`stdout`/`stderr` chunks, then one `done` with
the request's id). The agent and its serve loop are `linux_agent`'s (file operations
included); this file only moves frames, plus the requests that only a VM needs:

- `interrupt`: the host's deadline passed; the running request gets KeyboardInterrupt
  (the pipe transport uses SIGINT from the host, which cannot reach into a VM). It has no
  reply of its own;
- `clock` {"time"}: set the wall clock (a restored VM wakes with the snapshot's time);
- `reseed` {"seed": base64}: mix host randomness into the kernel's pool and force a crng
  reseed, and reseed Python's `random` (and numpy's, if imported): clones of one snapshot
  must never share random bytes;
- `warm`: run each kind of call once in throwaway state, before a template is saved (what
  they import is then in every restore), and say which seeded Python generators are loaded.

A template's restores are woken (clock, kernel RNG) by init's own port instead
(`init_c.py`); `clock` and `reseed` serve restores of saved sandboxes.

A reader thread takes requests off the port, so an `interrupt` arrives while a request
runs. fd 1 and 2 are pipes drained by a thread: what C code or child processes write
there comes back as output of the call it happens in (or the next one).
"""

from __future__ import annotations

import base64
import fcntl
import os
import queue
import signal
import struct
import sys
import threading
import time
from typing import Any

from . import linux_agent, protocol
from .framing import FrameInput, FrameWriter

PORT_NAME = "sandlot"
RNDADDENTROPY = 0x40085203
RNDRESEEDCRNG = 0x5207
RAW_CAP = 1 << 20  # raw fd 1/2 output kept between drains
HOME = "/home/user"
PYTHON_PRNGS = ("random", "numpy.random")  # module-level generators `reseed` reseeds
_INTERRUPT = b'"%s"' % protocol.OP_INTERRUPT.encode()  # what may be an interrupt request


def find_port() -> str:
    for path in (f"/dev/virtio-ports/{PORT_NAME}",):
        if os.path.exists(path):
            return path
    base = "/sys/class/virtio-ports"
    for _ in range(500):
        for entry in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            try:
                with open(os.path.join(base, entry, "name")) as f:
                    if f.read().strip() == PORT_NAME:
                        return f"/dev/{entry}"
            except OSError:
                continue
        time.sleep(0.01)
    raise SystemExit(f"no virtio-serial port named {PORT_NAME}")


class RawOutput:
    """fd 1 and 2 as pipes, read continuously so that writers never block on them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parts: list[tuple[str, bytes]] = []
        self.size = 0
        for fd, name in ((1, protocol.EV_STDOUT), (2, protocol.EV_STDERR)):
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            threading.Thread(target=self._pump, args=(r, name), daemon=True).start()

    def _pump(self, fd: int, name: str) -> None:
        while True:
            data = os.read(fd, 1 << 16)
            if not data:
                return
            with self.lock:
                if self.size < RAW_CAP:
                    self.parts.append((name, data[: RAW_CAP - self.size]))
                    self.size += len(data)

    def take(self) -> list[tuple[str, bytes]]:
        time.sleep(0)  # let a pump that has data take its turn first
        with self.lock:
            parts, self.parts, self.size = self.parts, [], 0
        return parts


def _clock(request: dict[str, Any]) -> dict[str, Any]:
    value = request.get("time")
    if not isinstance(value, (int, float)):
        return protocol.error("ProtocolError", "clock needs a number 'time'")
    time.clock_settime(time.CLOCK_REALTIME, float(value))
    return {"ok": True, "time": time.time()}


def _reseed(request: dict[str, Any]) -> dict[str, Any]:
    seed = base64.b64decode(request.get("seed", ""))
    if len(seed) < 16:
        return protocol.error("ProtocolError", "reseed needs at least 16 bytes of 'seed'")
    with open("/dev/urandom", "wb") as f:
        arg = struct.pack("ii", len(seed) * 8, len(seed)) + seed
        fcntl.ioctl(f.fileno(), RNDADDENTROPY, arg)
        fcntl.ioctl(f.fileno(), RNDRESEEDCRNG)
    for name in PYTHON_PRNGS:
        module = sys.modules.get(name)
        if module is not None:
            module.seed(int.from_bytes(os.urandom(16), "big") % (1 << 32))
    return {"ok": True}


def _set_env(request: dict[str, Any]) -> dict[str, Any]:
    """The sandbox's `envs`: a VM restored from a template has the template's environment,
    so the host sends the sandbox's own; commands inherit it, code sees it in os.environ."""
    envs = request.get("envs")
    if not isinstance(envs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "\0" not in k + v and "=" not in k
        for k, v in envs.items()
    ):
        return protocol.error("ProtocolError", "env needs 'envs', an object of str to str")
    os.environ.update(envs)
    return {"ok": True}


def _warm(agent: linux_agent.LinuxAgent) -> dict[str, Any]:
    """Run each kind of call once, in throwaway state, before the template is saved: the
    modules they import load now and so are in every restore's memory (under TCG the first
    `run_code` of a restored VM otherwise costs ~300 ms importing and compiling)."""
    from .python_exec import PythonSession

    PythonSession({"__name__": "__warm__"}).run("x = [i * 2 for i in range(3)]\nx")
    agent.files(protocol.request(protocol.OP_FILE, action=protocol.FILE_INFO, path="."))
    # Seeded generators in this process would be copied into every restore: the host
    # then reseeds them through the agent (`reseed`), not only the kernel's.
    return {"ok": True, "prngs": [m for m in PYTHON_PRNGS if m in sys.modules]}


def _limit_memory() -> None:
    """RLIMIT_AS at most of the VM's memory, as the process tier does with its limit: a
    big allocation in the code is a MemoryError (the state is kept), not the guest's OOM
    killer ending the agent (and so the VM)."""
    import resource

    try:
        with open("/proc/meminfo") as f:
            total = next(int(line.split()[1]) << 10 for line in f if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        return
    limit = max(192 << 20, total * 7 // 8)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    _limit_memory()
    port = os.open(find_port(), os.O_RDWR | os.O_CLOEXEC)
    events = FrameWriter(port)
    requests = FrameInput(port, wait_for_host=True)
    raw = RawOutput()
    agent = linux_agent.start(HOME, [])
    agent.local.update(
        {
            protocol.OP_CLOCK: _clock,
            protocol.OP_RESEED: _reseed,
            protocol.OP_WARM: lambda request: _warm(agent),
            protocol.OP_ENV: _set_env,
        }
    )
    agent.load_shell()
    queued: queue.Queue[bytes | ValueError] = queue.Queue()
    main_thread = threading.main_thread().ident

    def read_requests() -> None:
        """Off the main thread, so that an `interrupt` arrives while a request runs."""
        while True:
            try:
                frame = requests.next()
            except ValueError as e:
                queued.put(e)
                continue
            if frame is not None and _INTERRUPT in frame:
                try:
                    if protocol.decode(frame).get("op") == protocol.OP_INTERRUPT:
                        if linux_agent.busy() and main_thread is not None:
                            signal.pthread_kill(main_thread, signal.SIGINT)
                        continue
                except ValueError:
                    pass
            if frame is not None:
                queued.put(frame)

    def next_request() -> bytes:
        frame = queued.get()
        if isinstance(frame, ValueError):
            raise frame
        return frame

    def flush_raw() -> None:
        for name, data in raw.take():
            events.send({"ev": name, "data": data.decode("utf-8", "replace")})

    threading.Thread(target=read_requests, daemon=True).start()
    linux_agent.serve(agent, next_request, events.send, before_done=flush_raw)
