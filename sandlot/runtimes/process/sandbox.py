"""One process sandbox: a bubblewrap jail around a long-lived guest agent, spoken to over
pipes with the same protocol as the wasm guest.

- the jail's `/` is the template image's rootfs, bound read-only (`root.resolve`), or
  for `template="host"` a fresh tmpfs with the host's userland bound read-only in it;
  `/home/user` and `/tmp` are private host folders bound writable (kept across an agent
  restart, removed at close; `linux/jail.py`). The jail never sees the folders' parents,
  so nothing it does there can redirect a bind at the next start;
- Landlock (`sandlot_guest/agent/landlock.py`, where the kernel has ABI 2+): before the
  agent reads a request, it restricts itself and every process it starts to writing
  beneath /home/user, /tmp and /dev/shm (plus using existing files in /dev and /proc);
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
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from ...guest.agent import landlock
from ..base import SandboxSpec
from ..guest_paths import HOME, TMP
from ..hostfs import SandboxRoot
from ..linux import jail, userland
from ..linux.cgroups import Cgroups
from ..pipes import AgentPipes, PipeSandbox
from . import seccomp
from .root import (
    GENERATED_ETC,
    Root,
    etc_binds,
    gpu_devices,
    net_mount_point,
    resolve,
    top_level_binds,
)


@lru_cache(maxsize=1)
def landlock_note() -> str:
    """Why the sandboxes of this host run without Landlock, or "" when they have it.
    Probed here: the jail runs on the same kernel, under the same seccomp filters."""
    why = landlock.unavailable_reason()
    return f"no Landlock: {why} (the mount namespace still confines the filesystem)" if why else ""


PREFIX = "sandlot-process-"
UID = 1000
MAX_PIDS = 256
BOOT = (
    "import sys; sys.path.insert(0, {mount!r}); {landlock}"
    "from {pkg}.agent import pipe_main as m; del sys; m.main()"
)
BOOT_LANDLOCK = "from {pkg}.agent import landlock as l; l.enforce_from_argv(sys.argv); del l; "
# What the agent and the code it runs may write once Landlock applies (landlock.py).
LANDLOCK_RULES = {"write": [HOME, TMP, "/dev/shm"], "devices": ["/dev"], "proc": ["/proc"]}


def _spawn(argv: list[str], pass_fds: tuple[int, ...], event_r: int) -> AgentPipes:
    """Start one run of the jail (the bwrap process) with the agent's pipes."""
    # bwrap's --die-with-parent is tied to the *thread* that started it: start every jail
    # from one long-lived thread, so a sandbox made on a short-lived thread (a spare, an
    # async worker) does not die with it.
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
        env=jail.LAUNCH_ENV,
    )
    return AgentPipes(spawn.result(), event_r)


def _memfd_of(path: str) -> int:
    """A memfd holding the file at `path`, rewound, for bwrap to copy from."""
    fd = os.memfd_create("sandlot-etc", 0)
    with open(path, "rb") as f:
        os.write(fd, f.read())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


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


class ProcessSandbox(jail.Jailed, PipeSandbox):
    """A live process sandbox. Not thread-safe: the SDK core serialises calls."""

    tier = "process"

    def __init__(self, spec: SandboxSpec, root: Root | None = None) -> None:
        self._spec = spec
        self._net: jail.NetBinds | None = None
        self._agent = None
        self._cgroups: Cgroups | None = None
        self._jail = jail.Jail(PREFIX)
        self._jail.guard(self)
        self._state_dir = self._jail.state_dir
        try:
            self._root = root if root is not None else resolve(spec.template)
            self._guest_dir = userland.guest_dir() if self._root.rootfs is None else ""
            self._prepare_root()
            self._net = self._attach_network()
            self._files = SandboxRoot(self._jail.root_dir, home=HOME)
            self._cgroups = self._jail.confine(spec.limits.memory_bytes, MAX_PIDS)
            self._start()
        except BaseException:
            self._discard()
            raise

    def _tier_notes(self) -> list[str]:
        notes = [self._root.note] if self._root.note else []
        return notes + ([landlock_note()] if landlock_note() else [])

    @property
    def root(self) -> Root:
        """Where this sandbox's `/` comes from (an image's rootfs, or the host's userland)."""
        return self._root

    # -- lifecycle -------------------------------------------------------------------------

    def _prepare_root(self) -> None:
        """The host side of the sandbox (`linux/jail.py`): `root/` is what `files` sees
        (its `home/user` and `tmp` are bound writable into the jail); `etc/` holds the few
        generated files."""
        self._jail.make_folders(self._spec.limits)
        os.makedirs(self._jail.path("etc"), mode=0o755)
        os.chmod(self._jail.path("etc"), 0o755)
        generated = {
            "passwd": f"root:x:0:0:root:/root:/bin/bash\nuser:x:{UID}:{UID}::{HOME}:/bin/bash\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": f"root:x:0:\nuser:x:{UID}:\nnogroup:x:65534:\n",
            **jail.NETWORK_ETC,
        }
        for name, text in generated.items():
            with open(self._jail.path("etc", name), "w") as f:
                f.write(text)

    def _attach_network(self) -> jail.NetBinds | None:
        """The gateway's socket (and CA bundle) for a networked spec; an image's root
        needs a folder to mount them on."""
        if self._spec.network is None:
            return None
        if self._root.rootfs is not None:
            net_mount_point(Path(self._root.rootfs))
        return self._jail.attach_network(self._spec, self._root.rootfs or "/")

    def _argv(self, seccomp_fd: int, event_fd: int, etc_fds: dict[str, int]) -> list[str]:
        limits = self._spec.limits
        env = jail.guest_env("user", {**jail.network_env(self._net), **self._spec.envs})
        gpus = gpu_devices()
        rlimits = jail.rlimits(limits, MAX_PIDS)
        if gpus:  # GPU drivers map far more address space than memory: the cgroup limits it
            del rlimits["as"]
        config = {
            "event_fd": event_fd,
            "home": HOME,
            "sys_path": list(self._root.sys_path),
            "rlimits": rlimits,
            "landlock": None if landlock_note() else LANDLOCK_RULES,
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
            *self._root_binds(etc_fds),
            "--proc", "/proc",
            "--dev", "/dev",
            *[arg for dev in gpus for arg in ("--dev-bind", dev, dev)],
            "--seccomp", str(seccomp_fd),
            "--clearenv",
        ]  # fmt: skip
        for key, value in env.items():
            argv += ["--setenv", key, value]
        pkg = userland.GUEST_PACKAGE
        landlock_line = BOOT_LANDLOCK.format(pkg=pkg) if config["landlock"] else ""
        boot = BOOT.format(mount=userland.GUEST_MOUNT, pkg=pkg, landlock=landlock_line)
        argv += ["--chdir", HOME, "--", *self._root.python_args, "-c", boot, json.dumps(config)]
        return self._jail.in_cgroups(argv)

    def _root_binds(self, etc_fds: dict[str, int]) -> list[str]:
        """`/`: the image's rootfs read-only, or the host's userland on bwrap's tmpfs; then
        the sandbox's own writable folders and generated /etc files over it. Those are
        copied in from `etc_fds` (`--ro-bind-data`), not bound from the state folder: the
        guest's mountinfo would name that folder, a bind's source being its host path."""
        root = self._root
        if root.rootfs is not None:
            args = ["--ro-bind", root.rootfs, "/"]
            etc_names = root.etc  # the image's mount points (its root is read-only)
        else:
            args = [*top_level_binds(), *etc_binds()]
            etc_names = GENERATED_ETC
        for guest in (HOME, TMP):
            args += ["--bind", self._jail.host_path(guest), guest]
        for name in etc_names:
            args += ["--perms", "0644", "--ro-bind-data", str(etc_fds[name]), "/etc/" + name]
        if root.rootfs is None:
            args += ["--ro-bind", self._guest_dir, userland.GUEST_MOUNT]
        if self._net is not None:  # a tmpfs of its own: the root may be read-only
            args += ["--tmpfs", jail.NET_DIR, "--ro-bind", self._net.socket, jail.NET_SOCKET]
            if self._net.ca_bundle is not None:
                args += ["--ro-bind", self._net.ca_bundle, jail.CA_BUNDLE]
        return args

    def _start(self) -> None:
        program = seccomp.program()
        seccomp_fd = os.memfd_create("sandlot-seccomp", 0)
        args_fd = os.memfd_create("sandlot-bwrap-args", 0)
        event_r, event_w = os.pipe()
        etc_fds: dict[str, int] = {}
        try:
            os.write(seccomp_fd, program)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            for name in GENERATED_ETC:
                etc_fds[name] = _memfd_of(self._jail.path("etc", name))
            argv = _options_through_fd(self._argv(seccomp_fd, event_w, etc_fds), args_fd)
            agent = _spawn(argv, (seccomp_fd, event_w, args_fd, *etc_fds.values()), event_r)
        except BaseException:
            os.close(event_r)
            raise
        finally:
            for fd in (event_w, seccomp_fd, args_fd, *etc_fds.values()):
                os.close(fd)
        self._jail.guard(self, agent)
        if self._cgroups is not None:
            self._cgroups.reset_oom()
        ns_pid = self._boot(agent).get("pid")
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

    def alive(self) -> bool:
        return not self._jail.network_lost and super().alive()

    # -- what the shared transport asks of the tier --------------------------------------

    def _oom_killed(self) -> bool:
        return self._cgroups is not None and self._cgroups.oom_killed()

    def _interrupt(self) -> None:
        agent = self._agent
        if agent is not None and agent.host_pid is not None:
            with contextlib.suppress(OSError):
                os.kill(agent.host_pid, signal.SIGINT)
