"""The virtio-serial transport: the agent inside a microvm guest, started by its init.

The port is the `virtserialport` named "sandlot" (`/dev/virtio-ports/sandlot` with udev,
found through /sys without it). It carries the same JSON lines as the pipe transport:
requests in, events out (`stdout`/`stderr` chunks, then one `done` with the request's id).
The agent is `pipe_main.LinuxAgent`; this file only moves frames, plus the requests that
only a VM needs, answered here and not in `Agent.handle`:

- `interrupt`: the host's deadline passed; the running request gets KeyboardInterrupt
  (the pipe transport uses SIGINT from the host, which cannot reach into a VM). It has no
  reply of its own;
- `clock` {"time"}: set the wall clock (a restored VM wakes with the snapshot's time);
- `reseed` {"seed": base64}: mix host randomness into the kernel's pool and force a crng
  reseed, and reseed Python's `random` (and numpy's, if imported): clones of one snapshot
  must never share random bytes;
- `file` {"action", ...}: file operations for the host's `files` API;
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
import shutil
import signal
import stat
import struct
import sys
import threading
import time
from typing import Any

from . import pipe_main, protocol

PORT_NAME = "sandlot"
RNDADDENTROPY = 0x40085203
RNDRESEEDCRNG = 0x5207
RAW_CAP = 1 << 20  # raw fd 1/2 output kept between drains
HOME = "/home/user"
PYTHON_PRNGS = ("random", "numpy.random")  # module-level generators `reseed` reseeds


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


class Port:
    """The port as a line reader and a locked frame writer."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        self.lock = threading.Lock()
        self.buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(protocol.encode(message) + b"\n")
        with self.lock:
            while data:
                data = data[os.write(self.fd, data) :]

    def readline(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:  # no host connected: wait for one (this happens around restores)
                time.sleep(0.02)
                continue
            self.buffer += chunk
            if len(self.buffer) > protocol.MAX_FRAME_BYTES and b"\n" not in self.buffer:
                self.buffer = b""  # a frame past the limit: dropped, the next is read
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line


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


_busy = False


def _on_sigint(signum: int, frame: Any) -> None:
    if _busy:
        raise KeyboardInterrupt


def _clock(request: dict[str, Any]) -> dict[str, Any]:
    value = request.get("time")
    if not isinstance(value, (int, float)):
        return pipe_main._error("ProtocolError", "clock needs a number 'time'")
    time.clock_settime(time.CLOCK_REALTIME, float(value))
    return {"ok": True, "time": time.time()}


def _reseed(request: dict[str, Any]) -> dict[str, Any]:
    seed = base64.b64decode(request.get("seed", ""))
    if len(seed) < 16:
        return pipe_main._error("ProtocolError", "reseed needs at least 16 bytes of 'seed'")
    with open("/dev/urandom", "wb") as f:
        arg = struct.pack("ii", len(seed) * 8, len(seed)) + seed
        fcntl.ioctl(f.fileno(), RNDADDENTROPY, arg)
        fcntl.ioctl(f.fileno(), RNDRESEEDCRNG)
    for name in PYTHON_PRNGS:
        module = sys.modules.get(name)
        if module is not None:
            module.seed(int.from_bytes(os.urandom(16), "big") % (1 << 32))
    return {"ok": True}


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def _info(path: str) -> dict[str, Any]:
    st = os.lstat(path)
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return {
        "name": os.path.basename(path.rstrip("/")) or "/",
        "path": path,
        "type": _kind(st.st_mode),
        "size": st.st_size,
        "modified": st.st_mtime,
        "symlink_target": target,
    }


def _file(request: dict[str, Any]) -> dict[str, Any]:
    """One file operation; OSErrors come back as {"oserror": errno, "message"}."""
    action = request.get("action")
    path = os.path.join(HOME, str(request.get("path", "")))
    try:
        if action == "write":
            data = base64.b64decode(request.get("data", ""))
            os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            return {"info": _info(path)}
        if action == "read":
            limit = int(request.get("max_bytes", 0))
            with open(path, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise IsADirectoryError(21, "not a regular file")
                data = f.read(limit + 1)
            if len(data) > limit:
                return {"too_big": True, "size": os.path.getsize(path)}
            return {"data": base64.b64encode(data).decode()}
        if action == "list":
            depth = int(request.get("depth", 1))
            if not stat.S_ISDIR(os.stat(path).st_mode):
                raise NotADirectoryError(20, "not a directory")
            entries = []
            todo = [(path, 1)]
            while todo:
                folder, level = todo.pop(0)
                for name in sorted(os.listdir(folder)):
                    child = os.path.join(folder, name)
                    entry = _info(child)
                    entries.append(entry)
                    if entry["type"] == "dir" and level < depth:
                        todo.append((child, level + 1))
            return {"entries": entries}
        if action == "exists":
            return {"exists": os.path.lexists(path)}
        if action == "remove":
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            return {}
        if action == "rename":
            new = os.path.join(HOME, str(request.get("new", "")))
            os.rename(path, new)
            return {"info": _info(new)}
        if action == "make_dir":
            if os.path.isdir(path):
                return {"made": False}
            os.makedirs(path)
            return {"made": True}
        if action == "info":
            return {"info": _info(path)}
    except OSError as e:
        return {"oserror": e.errno or 0, "message": e.strerror or str(e)}
    return pipe_main._error("ProtocolError", f"unknown file action {action!r}")


def _warm(request: dict[str, Any]) -> dict[str, Any]:
    """Run each kind of call once, in throwaway state, before the template is saved: the
    modules they import load now and so are in every restore's memory (under TCG the first
    `run_code` of a restored VM otherwise costs ~300 ms importing and compiling)."""
    from .python_exec import PythonSession

    PythonSession({"__name__": "__warm__"}).run("x = [i * 2 for i in range(3)]\nx")
    _file({"action": "info", "path": "."})
    # Seeded generators in this process would be copied into every restore: the host
    # then reseeds them through the agent (`reseed`), not only the kernel's.
    return {"ok": True, "prngs": [m for m in PYTHON_PRNGS if m in sys.modules]}


LOCAL_OPS = {"clock": _clock, "reseed": _reseed, "file": _file, "warm": _warm}


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
    global _busy
    _limit_memory()
    port = Port(find_port())
    raw = RawOutput()
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    os.makedirs(HOME, exist_ok=True)
    os.makedirs("/tmp/outputs", exist_ok=True)
    os.chdir(HOME)
    pipe_main._setup_path({})
    os.environ.setdefault("MPLBACKEND", f"module://{__package__}.mpl_inline")
    signal.signal(signal.SIGINT, _on_sigint)
    agent = pipe_main.LinuxAgent(pipe_main._fresh_main(), HOME)
    agent.load_shell()
    requests: queue.Queue[bytes] = queue.Queue()
    main_thread = threading.main_thread().ident

    def read_requests() -> None:
        while True:
            line = port.readline()
            if b'"interrupt"' in line:
                try:
                    if protocol.decode(line).get("op") == "interrupt":
                        if _busy and main_thread is not None:
                            signal.pthread_kill(main_thread, signal.SIGINT)
                        continue
                except ValueError:
                    pass
            requests.put(line)

    threading.Thread(target=read_requests, daemon=True).start()
    while True:
        line = requests.get()
        request: Any = None
        try:
            request = protocol.decode(line)
        except ValueError as e:
            reply: dict[str, Any] = pipe_main._error("ProtocolError", f"malformed request: {e}")
        else:
            local = LOCAL_OPS.get(str(request.get("op")))
            try:
                if local is not None:
                    reply = local(request)
                else:
                    _busy = True
                    try:
                        reply = agent.handle(request, port.send)
                    finally:
                        _busy = False
            except KeyboardInterrupt:
                reply = pipe_main._error("KeyboardInterrupt", "interrupted")
                reply["interrupted"] = True
            except MemoryError:
                reply = pipe_main._error("MemoryError", "out of memory")
            except Exception as e:  # the agent's own bug: a reply, not a dead sandbox
                reply = pipe_main._error(type(e).__name__, str(e))
        for name, data in raw.take():
            port.send({"ev": name, "data": data.decode("utf-8", "replace")})
        request_id = request.get("id") if isinstance(request, dict) else None
        port.send({"ev": protocol.EV_DONE, "id": request_id, "reply": reply})
