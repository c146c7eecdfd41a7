"""One gvisor sandbox: `runsc run` of a per-sandbox OCI bundle, its init running the one
guest agent, spoken to over the container's stdio pipes (`runtimes/pipes.py`).

- a private state folder per sandbox (`/tmp/sandlot-gvisor-*`, `linux/jail.py`): `root/`
  (its home/user and tmp, bound writable, size-capped tmpfs, what `files` sees), `bundle/`
  (config.json and the root skeleton), `runsc/` (runsc's `--root`), `owner` and `cgroups`
  for the sweeper;
- the guest kernel is gVisor's Sentry on the ptrace platform (kvm hangs on PVM hosts);
  no network (`--network=none`: loopback only), read-only root under an in-memory overlay;
  with a network policy, the gateway's Unix socket is bound at /run/sandlot/net.sock and
  runsc may connect to it (`--host-uds=open`: the Sentry opens host sockets of its mounts
  only), where the agent's forwarder on 127.0.0.1:3128 leads (`linux/jail.py`);
- memory and pids limits: sandlot's own cgroups (as on the process tier), entered before
  runsc starts so the Sentry, its gofer and their stubs are all inside (`--ignore-cgroups`
  keeps runsc from making its own, which it removes before we could read an OOM kill);
- at a deadline `runsc kill ID INT` reaches the init, which forwards it to the agent;
- stopping: `runsc kill` (the attached `runsc run` then removes the container), kill what is
  left in the cgroups, `runsc delete --force` if state remains, remove everything else.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import struct
import subprocess
import uuid
from typing import TYPE_CHECKING

from ..base import SandboxSpec
from ..guest_paths import HOME
from ..hostfs import SandboxRoot
from ..linux import jail, stale
from ..linux.cgroups import Cgroups
from ..pipes import AgentPipes, PipeSandbox
from . import bundle, compat, platform

if TYPE_CHECKING:
    from ...images.store import Image

PREFIX = "sandlot-gvisor-"
MAX_PIDS = (
    4096  # host tasks: the Sentry's, the gofer's and runsc's threads, one stub per guest process
)
# guest processes and threads (RLIMIT_NPROC, enforced by the Sentry). On the ptrace
# platform each costs ~20 host tasks (stub threads), so this keeps MAX_PIDS out of reach:
# at MAX_PIDS the Sentry could not make a thread and the whole sandbox would die.
GUEST_NPROC = 96
# The cgroup holds runsc, its gofer and the Sentry besides the code (~70 MiB RSS idle): the
# limit is the code's memory limit plus this, so a small Limits(memory_bytes=) stays usable.
RUNTIME_MEMORY = 128 << 20
FRAME_HEAD = 5  # tag byte + 4-byte length, as guest_init.py writes raw output
STREAMS = {ord("o"): "stdout", ord("e"): "stderr"}


class _MuxedPipes(AgentPipes):
    """The container's stderr carries the agent's fd 1 and fd 2, framed by the init."""

    def __init__(self, proc: subprocess.Popen[bytes], event_r: int) -> None:
        assert proc.stderr is not None
        super().__init__(proc, event_r, {proc.stderr.fileno(): "stderr"})
        self._raw = bytearray()

    def split_raw(self, fd: int, data: bytes) -> list[tuple[str, str]]:
        self._raw += data
        out: list[tuple[str, str]] = []
        while len(self._raw) >= FRAME_HEAD:
            stream = STREAMS.get(self._raw[0])
            (size,) = struct.unpack(">I", self._raw[1:FRAME_HEAD])
            if stream is None or size > 1 << 20:  # not the init's framing: runsc's own words
                out.append(("stderr", self._raw.decode("utf-8", "replace")))
                self._raw.clear()
                break
            if len(self._raw) < FRAME_HEAD + size:
                break
            chunk = bytes(self._raw[FRAME_HEAD : FRAME_HEAD + size])
            del self._raw[: FRAME_HEAD + size]
            out.append((stream, chunk.decode("utf-8", "replace")))
        return out


def runsc(root: str, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """One runsc management command on a sandbox's private state root."""
    return subprocess.run(
        ["runsc", "--root", root, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=jail.LAUNCH_ENV,
        check=False,
    )


def remove_containers(runsc_root: str) -> None:
    """`runsc delete --force` every container a state root knows (killing what runs)."""
    with contextlib.suppress(OSError):
        if not os.listdir(runsc_root):  # all deleted already: no runsc call needed
            os.rmdir(runsc_root)
    if not os.path.isdir(runsc_root):
        return
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        listed = runsc(runsc_root, "list", "-quiet").stdout.split()
        for cid in listed:
            runsc(runsc_root, "kill", cid, "KILL")
            runsc(runsc_root, "delete", "--force", cid)
    shutil.rmtree(runsc_root, ignore_errors=True)


def _remove_state_containers(state: str) -> None:
    remove_containers(os.path.join(state, "runsc"))


def sweep() -> int:
    """Remove the leftovers of gvisor sandboxes whose host process died (SIGKILL, a crash)
    before it could: containers, cgroups, tmpfs, folders. Once per host process."""
    return stale.sweep(PREFIX, _remove_state_containers)


class GvisorSandbox(jail.Jailed, PipeSandbox):
    """A live gvisor sandbox. Not thread-safe: the SDK core serialises calls."""

    tier = "gvisor"

    def __init__(self, spec: SandboxSpec, image: Image | None) -> None:
        """`image`: what `userland.find_image(spec.template)` found (None: the host's
        userland), resolved once by the caller, which keys its spares by it."""
        self._spec = spec
        self._agent = None
        self._cgroups: Cgroups | None = None
        self._notes: list[str] = []
        self._cid = ""
        self._net: jail.NetBinds | None = None
        self._platform = platform.choose()
        self._jail = jail.Jail(PREFIX, _remove_state_containers)
        self._jail.guard(self)
        self._state_dir = self._jail.state_dir
        self._runsc_root = self._jail.path("runsc")
        self._bundle_dir = self._jail.path("bundle")
        try:
            skeleton = os.path.join(self._bundle_dir, "rootfs")
            root = platform.root_for(spec.template, skeleton, image)
            self._jail.make_folders(spec.limits)
            self._net = self._jail.attach_network(spec, root.system_root)
            os.makedirs(self._bundle_dir, mode=0o755, exist_ok=True)
            self._files = SandboxRoot(self._jail.root_dir, home=HOME)
            self._cgroups = self._jail.confine(spec.limits.memory_bytes + RUNTIME_MEMORY, MAX_PIDS)
            self._write_config(root)
            self._start()
        except BaseException:
            self._discard()
            raise

    def _tier_notes(self) -> list[str]:
        return self._notes

    @property
    def container_id(self) -> str:
        return self._cid

    @property
    def state_dir(self) -> str:
        return self._state_dir

    # -- lifecycle -------------------------------------------------------------------------

    def _write_config(self, root: bundle.Root) -> None:
        limits = self._spec.limits
        agent = {
            "home": HOME,
            "sys_path": list(root.sys_path),
            "rlimits": jail.rlimits(limits, GUEST_NPROC),
        }
        spec = bundle.config(
            root,
            self._jail.root_dir,
            envs=self._spec.envs,
            agent=agent,
            overlay=bool(platform.overlay_flags()),
            preload=self._preload(),
            net=self._net,
        )
        with open(os.path.join(self._bundle_dir, "config.json"), "w") as f:
            json.dump(spec, f)

    def _preload(self) -> tuple[str, str] | None:
        """The statx shim, where this runsc needs it (compat.py)."""
        shim, note = compat.statx_shim()
        if note:
            self._notes.append(note)
        if shim is None:
            return None
        listing = os.path.join(self._bundle_dir, "ld.so.preload")
        with open(listing, "w") as f:
            f.write(compat.SHIM_MOUNT + "\n")
        return shim, listing

    def _argv(self) -> list[str]:
        argv = [
            "runsc",
            "--root", self._runsc_root,
            f"--platform={self._platform}",
            "--network=none",  # loopback only: the gateway's socket is the one way out
            *(["--host-uds=open"] if self._net is not None else []),
            *platform.overlay_flags(),
            "--ignore-cgroups",
            "run",
            "--bundle", self._bundle_dir,
            self._cid,
        ]  # fmt: skip
        return self._jail.in_cgroups(argv)  # runsc's Sentry and gofer are made inside them

    def _start(self) -> None:
        self._cid = f"sandlot-{uuid.uuid4().hex[:12]}"
        event_r, event_w = os.pipe()
        try:
            proc = subprocess.Popen(
                self._argv(),
                stdin=subprocess.PIPE,
                stdout=event_w,
                stderr=subprocess.PIPE,
                close_fds=True,
                start_new_session=True,  # Ctrl-C at the host's terminal doesn't reach it
                env=jail.LAUNCH_ENV,
            )
            agent = _MuxedPipes(proc, event_r)
        except BaseException:
            os.close(event_r)
            raise
        finally:
            os.close(event_w)
        self._jail.guard(self, agent)
        if self._cgroups is not None:
            self._cgroups.reset_oom()
        self._boot(agent)

    def _stop_agent(self) -> None:
        """`runsc kill` (the attached `runsc run` then ends and removes the container, in
        ~30 ms); whatever is left of the cgroups is killed, and `runsc delete --force` runs
        when the container's state is still there. Killing runsc's processes *before*
        `runsc kill` would make `delete --force` wait ~1 s for a controller that is gone."""
        agent, self._agent = self._agent, None
        if agent is not None:
            ended = False
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                if runsc(self._runsc_root, "kill", self._cid, "KILL", timeout=5).returncode == 0:
                    agent.proc.wait(timeout=5)
                    ended = True
            if not ended and self._cgroups is not None:
                self._cgroups.kill_all()
            agent.kill()
        if self._cgroups is not None:
            self._cgroups.kill_all()
        if self._cid and glob.glob(os.path.join(glob.escape(self._runsc_root), f"*{self._cid}*")):
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                runsc(self._runsc_root, "delete", "--force", self._cid)

    def alive(self) -> bool:
        return not self._jail.network_lost and super().alive()

    # -- what the shared transport asks of the tier --------------------------------------

    def _oom_killed(self) -> bool:
        return self._cgroups is not None and self._cgroups.oom_killed()

    def _interrupt(self) -> None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            # a failure leaves the call to its grace period, then to a restart
            runsc(self._runsc_root, "kill", self._cid, "INT", timeout=5)
