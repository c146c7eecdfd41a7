"""One process sandbox: a bubblewrap jail around a long-lived guest agent, spoken to over
pipes with the same protocol as the wasm guest.

- the jail's `/` is a fresh tmpfs at each start; the host's userland is bound read-only in
  it, and `/home/user` and `/tmp` are private host folders bound writable (kept across an
  agent restart, removed at close). The jail never sees the folders' parents, so nothing it
  does there can redirect a bind at the next start;
- every namespace is unshared (no network but lo, own pids, ipc, uts, cgroup, user),
  capabilities dropped, a seccomp filter loaded, rlimits set by the agent at its start,
  and cgroup memory/pids limits where the host lets us make cgroups;
- a call writes one request line to the agent's stdin and reads events from a pipe the
  agent keeps for them; what the agent's fd 1/2 receive (C code, child processes) is kept
  as output too;
- at a call's deadline the agent gets SIGINT: the code sees KeyboardInterrupt (a command's
  process group is killed) and the sandbox keeps its Python state. If the agent does not
  answer within a grace period, the whole sandbox's processes are killed and a fresh agent
  started: files are kept, the Python state is reset, and the error says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from ...errors import GuestProtocolError, LimitExceeded, SandboxError, TimeoutError
from ...guest.agent import protocol
from ...models import CommandResult, Execution, Limits, Timings
from .. import replies
from ..base import OutputCallback, SandboxSpec
from ..hostfs import SandboxRoot
from ..output import OutputSink
from . import disk, seccomp, stale, userland
from .cgroups import Cgroups

HOME = "/home/user"
UID = 1000
BOOT_TIMEOUT = 30.0
INTERRUPT_GRACE = 2.0  # how long an interrupted call may take to answer before a restart
MAX_PIDS = 256
NOFILE = 4096
READ_CHUNK = 64 << 10
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BOOT = (
    "import sys; sys.path.insert(0, {mount!r}); "
    "from {pkg}.agent import pipe_main as m; del sys; m.main()"
)
JAIL_LAUNCH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


class _AgentGone(Exception):
    """The agent's event pipe ended before the reply (it died, or was killed)."""


class _Agent:
    """One run of the jail: the bwrap process and its pipes."""

    def __init__(self, argv: list[str], pass_fds: tuple[int, ...], event_r: int) -> None:
        # bwrap's --die-with-parent is tied to the *thread* that started it: start every
        # jail from one long-lived thread, so a sandbox made on a short-lived thread (a
        # spare, an async worker) does not die with it.
        spawn = _spawner().submit(
            subprocess.Popen,
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=pass_fds,
            close_fds=True,
            start_new_session=True,  # Ctrl-C at the host's terminal doesn't reach it
            # bwrap stays in the jail as its pid 1, whose environment the code can read in
            # /proc/1/environ: it must not carry the host's (tokens, keys, ...).
            env=JAIL_LAUNCH_ENV,
        )
        self.proc: subprocess.Popen[bytes] = spawn.result()
        self.event_r = event_r
        self.buffer = bytearray()
        self.host_pid: int | None = None
        self.sequence = 0  # the id of the last request; its reply carries it back
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for fd in (event_r, self.proc.stdout.fileno(), self.proc.stderr.fileno()):
            os.set_blocking(fd, False)

    def send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(protocol.encode(request) + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as e:
            raise _AgentGone(f"the agent is not reading requests ({e})") from e

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                if f is not None:
                    f.close()
        with contextlib.suppress(OSError):
            os.close(self.event_r)


@lru_cache(maxsize=1)
def _spawner() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandlot-process-spawn")


def _options_through_fd(argv: list[str], fd: int) -> list[str]:
    """bwrap's options moved into `fd` (`--args FD`): bwrap stays in the jail as its pid 1,
    and its command line, readable there, would show the host's paths."""
    start = argv.index("bwrap") + 1
    end = argv.index("--", start)
    data = b"".join(a.encode() + b"\0" for a in argv[start:end])
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return [*argv[:start], "--args", str(fd), *argv[end:]]


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def _ns_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        return None
    return None


class ProcessSandbox:
    """A live process sandbox. Not thread-safe: the SDK core serialises calls."""

    def __init__(self, spec: SandboxSpec) -> None:
        self._spec = spec
        self._agent: _Agent | None = None
        self._cgroups: Cgroups | None = None
        self._mounted = False
        self._disk_note = ""
        stale.sweep()
        self._state_dir = tempfile.mkdtemp(prefix=stale.PREFIX)
        self._root_dir = os.path.join(self._state_dir, "root")
        self._finalizer = weakref.finalize(self, _cleanup, self._state_dir, [None], [None])
        try:
            userland.check_template(spec.template)
            self._guest_dir = userland.guest_dir()
            self._prepare_root()
            self._files = SandboxRoot(self._root_dir, home=HOME)
            self._cgroups = Cgroups(
                f"sandlot-{uuid.uuid4().hex[:12]}", spec.limits.memory_bytes, MAX_PIDS
            )
            with open(os.path.join(self._state_dir, "cgroups"), "w") as f:
                f.write("\n".join(self._cgroups.paths))
            with open(os.path.join(self._state_dir, "owner"), "w") as f:
                f.write(stale.owner_line())  # written last: a sweep skips it until then
            self._finalizer.detach()
            self._finalizer = weakref.finalize(
                self, _cleanup, self._state_dir, [None], [self._cgroups]
            )
            self._start()
        except BaseException:
            self._discard()
            raise

    @property
    def files(self) -> SandboxRoot:
        return self._files

    @property
    def notes(self) -> list[str]:
        """What this host could not give the sandbox (e.g. no writable cgroups)."""
        notes = list(self._cgroups.notes) if self._cgroups is not None else []
        return notes + ([self._disk_note] if self._disk_note else [])

    # -- lifecycle -------------------------------------------------------------------------

    def _prepare_root(self) -> None:
        """The host side of the sandbox: `root/` is what `files` sees (its `home/user` and
        `tmp` are bound writable into the jail); `etc/` holds the few generated files."""
        os.chmod(self._state_dir, 0o700)
        os.makedirs(self._root_dir, mode=0o755)
        why_not = disk.mount_capped(self._root_dir, disk.disk_bytes(self._spec.limits.memory_bytes))
        self._mounted = why_not is None
        if why_not is not None:
            self._disk_note = why_not
        for sub, mode in (
            ("root", 0o755),
            ("root/home", 0o755),
            ("root/home/user", 0o755),
            ("root/tmp", 0o1777),
            ("root/tmp/outputs", 0o755),
            ("etc", 0o755),
        ):
            os.makedirs(os.path.join(self._state_dir, sub), exist_ok=True)
            os.chmod(os.path.join(self._state_dir, sub), mode)
        generated = {
            "passwd": f"root:x:0:0:root:/root:/bin/bash\nuser:x:{UID}:{UID}::{HOME}:/bin/bash\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": f"root:x:0:\nuser:x:{UID}:\nnogroup:x:65534:\n",
            "hostname": "sandbox\n",
            "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
        }
        for name, text in generated.items():
            with open(os.path.join(self._state_dir, "etc", name), "w") as f:
                f.write(text)

    def _argv(self, seccomp_fd: int, event_fd: int) -> list[str]:
        limits = self._spec.limits
        env = {
            "HOME": HOME,
            "USER": "user",
            "LOGNAME": "user",
            "PATH": PATH,
            "LANG": "C.UTF-8",
            "SHELL": "/bin/bash",
            "TMPDIR": "/tmp",
            **self._spec.envs,
        }
        gpus = userland.gpu_devices()
        rlimits = {
            "as": limits.memory_bytes,
            "nofile": NOFILE,
            "nproc": MAX_PIDS,
            "fsize": disk.disk_bytes(limits.memory_bytes),  # no file beyond the folders' cap
            "core": 0,
        }
        if gpus:  # GPU drivers map far more address space than memory: the cgroup limits it
            del rlimits["as"]
        config = {
            "event_fd": event_fd,
            "home": HOME,
            "sys_path": list(userland.site_path()),
            "rlimits": rlimits,
        }
        argv = [
            "bwrap",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop", "ALL",
            "--uid", str(UID),
            "--gid", str(UID),
            "--hostname", "sandbox",
            *userland.top_level_binds(),
            *userland.etc_binds(),
            *self._own_binds(),
            "--ro-bind", self._guest_dir, userland.GUEST_MOUNT,
            "--proc", "/proc",
            "--dev", "/dev",
            *[arg for dev in gpus for arg in ("--dev-bind", dev, dev)],
            "--seccomp", str(seccomp_fd),
            "--clearenv",
        ]  # fmt: skip
        for key, value in env.items():
            argv += ["--setenv", key, value]
        boot = BOOT.format(mount=userland.GUEST_MOUNT, pkg=userland.GUEST_PACKAGE)
        argv += ["--chdir", HOME, "--", userland.PYTHON, "-I", "-S", "-c", boot, json.dumps(config)]
        assert self._cgroups is not None
        procs = self._cgroups.procs_files
        if procs:  # enter the cgroups first, so that nothing of the sandbox runs outside them
            script = "".join(f"echo $$ > {shlex.quote(p)} && " for p in procs) + 'exec "$@"'
            argv = ["/bin/sh", "-c", script, "sh", *argv]
        return argv

    def _own_binds(self) -> list[str]:
        args = []
        for sub in ("home/user", "tmp"):
            args += ["--bind", os.path.join(self._root_dir, sub), "/" + sub]
        etc = os.path.join(self._state_dir, "etc")
        for name in sorted(os.listdir(etc)):
            args += ["--ro-bind", os.path.join(etc, name), "/etc/" + name]
        return args

    def _start(self) -> None:
        program = seccomp.program()
        seccomp_fd = os.memfd_create("sandlot-seccomp", 0)
        args_fd = os.memfd_create("sandlot-bwrap-args", 0)
        event_r, event_w = os.pipe()
        try:
            os.write(seccomp_fd, program)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            argv = _options_through_fd(self._argv(seccomp_fd, event_w), args_fd)
            agent = _Agent(argv, (seccomp_fd, event_w, args_fd), event_r)
        except BaseException:
            os.close(event_r)
            raise
        finally:
            os.close(event_w)
            os.close(seccomp_fd)
            os.close(args_fd)
        self._agent = agent
        self._finalizer.detach()
        self._finalizer = weakref.finalize(
            self, _cleanup, self._state_dir, [agent], [self._cgroups]
        )
        if self._cgroups is not None:
            self._cgroups.reset_oom()
        try:
            sink = OutputSink(64 << 10)
            reply = self._exchange({"op": protocol.OP_PING}, sink, BOOT_TIMEOUT, interrupt=False)
        except (_AgentGone, TimeoutError, GuestProtocolError) as e:
            detail = sink.text("stderr")[-2000:] or str(e)
            self._stop_agent()
            raise SandboxError(f"the process sandbox failed to start: {detail}") from None
        ns_pid = reply.get("pid")
        if isinstance(ns_pid, int):
            for pid in _descendants(agent.proc.pid):
                if _ns_pid(pid) == ns_pid:
                    agent.host_pid = pid
                    break

    def _stop_agent(self) -> None:
        agent, self._agent = self._agent, None
        if agent is not None:
            agent.kill()
        if self._cgroups is not None:
            self._cgroups.kill_all()

    def _restart(self) -> None:
        self._stop_agent()
        self._start()

    def alive(self) -> bool:
        """Whether the agent is running (a spare checks this before it is handed out)."""
        return self._agent is not None and self._agent.proc.poll() is None

    def close(self) -> None:
        self._discard()

    def _discard(self) -> None:
        self._stop_agent()
        files = getattr(self, "_files", None)
        if files is not None:
            files.close()
        if self._cgroups is not None:
            self._cgroups.remove()
        if self._mounted:
            disk.unmount(self._root_dir)
        shutil.rmtree(self._state_dir, ignore_errors=True)
        self._finalizer.detach()

    # -- calls -----------------------------------------------------------------------------

    def run_code(
        self,
        code: str,
        *,
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> Execution:
        request = {"op": protocol.OP_RUN_CODE, "code": code, "output_bytes": limits.output_bytes}
        reply, sink, timings = self._call(request, limits, on_stdout, on_stderr)
        with self._restart_on_protocol_error():
            return replies.execution(reply, sink, timings, self._spec.limits.memory_bytes)

    def run_command(
        self,
        cmd: str,
        *,
        limits: Limits,
        stdin: str,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> CommandResult:
        request = {
            "op": protocol.OP_EXEC,
            "cmd": cmd,
            "stdin": stdin,
            "output_bytes": limits.output_bytes,
        }
        reply, sink, timings = self._call(request, limits, on_stdout, on_stderr)
        with self._restart_on_protocol_error():
            return replies.command_result(reply, sink, timings)

    @contextlib.contextmanager
    def _restart_on_protocol_error(self) -> Iterator[None]:
        """A reply the host can't accept: start a fresh agent, so the next call can't be
        answered by what is left of this one."""
        try:
            yield
        except GuestProtocolError:
            self._restart()
            raise

    def _call(
        self,
        request: dict[str, Any],
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> tuple[dict[str, Any], OutputSink, Timings]:
        start = time.perf_counter()
        if self._agent is None:  # a restart failed earlier: try once more
            self._start()
        sink = OutputSink(limits.output_bytes, on_stdout, on_stderr)
        began = time.perf_counter()
        try:
            reply = self._exchange(request, sink, limits.wall_time)
        except _Interrupted as e:
            if e.answered:
                raise TimeoutError(
                    f"the call ran past its {limits.wall_time:g} s limit and was interrupted; "
                    "the sandbox and its Python state are kept (pass timeout= for a longer "
                    "limit)"
                ) from None
            self._restart()
            raise TimeoutError(
                f"the call ran past its {limits.wall_time:g} s limit and did not stop when "
                "interrupted, so the sandbox's processes were killed and its agent restarted: "
                "files are kept, the Python state was reset (pass timeout= for a longer limit)"
            ) from None
        except (KeyboardInterrupt, GuestProtocolError):
            self._restart()  # what is left of this call must not answer the next one
            raise
        except _AgentGone as e:
            oom = self._cgroups is not None and self._cgroups.oom_killed()
            self._restart()
            if oom:
                raise LimitExceeded(
                    "memory",
                    f"the sandbox used its {self._spec.limits.memory_bytes >> 20} MiB of "
                    "memory and the kernel killed it; the agent was restarted: files are "
                    "kept, the Python state was reset (raise Limits(memory_bytes=...))",
                ) from None
            raise SandboxError(
                f"the sandbox's agent died during the call ({e}); it was restarted: files "
                "are kept, the Python state was reset"
            ) from None
        ended = time.perf_counter()
        if sink.callback_error is not None:
            raise sink.callback_error
        timings = Timings(queued=began - start, run=ended - began, total=ended - start)
        return reply, sink, timings

    def _exchange(
        self,
        request: dict[str, Any],
        sink: OutputSink,
        wall_time: float,
        *,
        interrupt: bool = True,
    ) -> dict[str, Any]:
        """Send one request; collect events and raw output until the reply."""
        agent = self._agent
        if agent is None:
            raise _AgentGone("no agent")
        assert agent.proc.stdout is not None and agent.proc.stderr is not None
        raw = {agent.proc.stdout.fileno(): "stdout", agent.proc.stderr.fileno(): "stderr"}
        _drain_raw(raw, sink)  # what background processes wrote between calls
        agent.sequence += 1
        agent.send({**request, "id": agent.sequence})
        deadline = time.monotonic() + wall_time
        interrupted = False
        with selectors.DefaultSelector() as sel:
            sel.register(agent.event_r, selectors.EVENT_READ)
            for fd in raw:
                sel.register(fd, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    if not interrupt:
                        raise TimeoutError("no answer from the agent")
                    if interrupted:
                        raise _Interrupted(answered=False)
                    interrupted = True
                    self._interrupt()
                    deadline = time.monotonic() + INTERRUPT_GRACE
                    continue
                for key, _ in sel.select(timeout=left):
                    fd = int(key.fd)
                    try:
                        data = os.read(fd, READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if fd in raw:
                        if data:
                            sink.add(raw[fd], data.decode("utf-8", "replace"))
                        else:
                            sel.unregister(fd)
                        continue
                    if not data:
                        _drain_raw(raw, sink)
                        raise _AgentGone("its event pipe closed")
                    reply = self._events(agent, data, sink)
                    if reply is not None:
                        _drain_raw(raw, sink)
                        if interrupted:
                            raise _Interrupted(answered=True)
                        return reply

    def _events(self, agent: _Agent, data: bytes, sink: OutputSink) -> dict[str, Any] | None:
        agent.buffer += data
        reply = None
        while True:
            end = agent.buffer.find(b"\n")
            if end < 0:
                if len(agent.buffer) > protocol.MAX_FRAME_BYTES:
                    raise GuestProtocolError("the guest sent a frame larger than the limit")
                return reply
            frame = bytes(agent.buffer[:end])
            del agent.buffer[: end + 1]
            try:
                message = protocol.decode(frame)
            except ValueError as e:
                raise GuestProtocolError(f"malformed frame from the guest: {e}") from None
            event = message.get("ev")
            if event in (protocol.EV_STDOUT, protocol.EV_STDERR):
                text = message.get("data")
                if isinstance(text, str):
                    sink.add(event, text)
            elif event == protocol.EV_DONE:
                if message.get("id") != agent.sequence:
                    continue  # not this request's reply: forged by the code, dropped
                value = message.get("reply")
                if not isinstance(value, dict):
                    raise GuestProtocolError("the guest's reply is not an object")
                reply = value
                if agent.buffer:
                    raise GuestProtocolError("the guest sent frames after its reply")
                return reply

    def _interrupt(self) -> None:
        agent = self._agent
        if agent is not None and agent.host_pid is not None:
            with contextlib.suppress(OSError):
                os.kill(agent.host_pid, signal.SIGINT)


class _Interrupted(Exception):
    def __init__(self, answered: bool) -> None:
        super().__init__()
        self.answered = answered


def _drain_raw(raw: dict[int, str], sink: OutputSink) -> None:
    for fd, name in raw.items():
        while True:
            try:
                data = os.read(fd, READ_CHUNK)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            sink.add(name, data.decode("utf-8", "replace"))


def _cleanup(root: str, agents: list[_Agent | None], cgroups: list[Cgroups | None]) -> None:
    """For a sandbox dropped without close(): no process or folder outlives it."""
    for agent in agents:
        if agent is not None:
            agent.kill()
    for cg in cgroups:
        if cg is not None:
            cg.remove()
    if os.path.ismount(os.path.join(root, "root")):
        disk.unmount(os.path.join(root, "root"))
    shutil.rmtree(root, ignore_errors=True)
