"""The host side of one Linux-tier sandbox: a private state folder under the temp dir.

    <prefix>XXXXXXXX/     mode 0700; the jail never sees it nor its parents
      root/               what `files` sees: a size-capped tmpfs where sandlot may mount
        home/user/        bound writable as /home/user
        tmp/outputs/      tmp/ bound writable as /tmp
      cgroups, owner      for the sweep of a killed host's leftovers (stale.py)
      ca-bundle.pem       with network secrets: the guest's CAs and the sandbox's own
      ...                 the tier's own (process: etc/; gvisor: bundle/, runsc/)

The jail's processes run in its own cgroups (memory, pids), entered before anything of it
starts; closing the sandbox, or dropping it unclosed, kills what is left and removes it all.
Also here: what the guest agent starts with on every Linux tier (environment, rlimits), and
a networked sandbox's attachment to the host's gateway (`attach_network`): its Unix socket
is bound into the jail at /run/sandlot/net.sock, where the agent's forwarder
(`guest/agent/net_forward.py`) splices 127.0.0.1:3128 to it; closed first at removal, so a
sandbox on its way out has no network (fail closed).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ...models import Limits
from ...network.log import ConnectionRecord
from ..guest_paths import HOME, OUTPUTS, TMP
from ..hostfs import SandboxRoot, remove_tree
from . import disk, stale
from .cgroups import Cgroups

if TYPE_CHECKING:
    from ...network.gateway import Attachment
    from ..base import SandboxSpec

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NOFILE = 4096
# The environment of the jail's launcher (bwrap, runsc): never the host's (tokens, keys, ...),
# which the code could read in /proc/1/environ where the launcher stays as pid 1.
LAUNCH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
# Generated /etc files that every jail gets alike (passwd and group differ by tier).
NETWORK_ETC = {
    "hostname": "sandbox\n",
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
}
_FOLDERS = ((os.path.dirname(HOME), 0o755), (HOME, 0o755), (TMP, 0o1777), (OUTPUTS, 0o755))
NET_DIR = "/run/sandlot"  # in the guest: what the host binds there, read-only
NET_SOCKET = NET_DIR + "/net.sock"
CA_BUNDLE = NET_DIR + "/ca-bundle.pem"
PROXY = "http://127.0.0.1:3128"  # net_forward.LISTEN
# Where Debian, Fedora and Alpine keep their bundle of system CAs (relative to a root).
SYSTEM_CAS = (
    "etc/ssl/certs/ca-certificates.crt",
    "etc/pki/tls/certs/ca-bundle.crt",
    "etc/ssl/cert.pem",
)


def _system_cas(guest_root: str) -> bytes:
    """The guest's bundle of system CAs, read from the host side; b"" if it has none. A
    path that leads out of `guest_root` (an imported image's symlink to a host file) is
    never read: the bundle is readable inside the sandbox."""
    top = os.path.realpath(guest_root)
    for name in SYSTEM_CAS:
        real = os.path.realpath(os.path.join(top, name))
        if top != "/" and not real.startswith(top + "/"):
            continue
        with contextlib.suppress(OSError):
            with open(real, "rb") as f:
                return f.read().rstrip(b"\n") + b"\n"
    return b""


class _Killable(Protocol):
    def kill(self) -> None: ...


def guest_env(user: str, envs: Mapping[str, str]) -> dict[str, str]:
    """The agent's environment: a login's basics for `user`, then the spec's envs."""
    basics = {"HOME": HOME, "USER": user, "LOGNAME": user, "PATH": PATH, "LANG": "C.UTF-8"}
    return {**basics, "SHELL": "/bin/bash", "TMPDIR": TMP, **envs}


@dataclass(frozen=True)
class NetBinds:
    """What a networked jail is given, as host paths (bound at NET_SOCKET and CA_BUNDLE)."""

    socket: str
    ca_bundle: str | None  # only with secrets: the sandbox's CA intercepts their hosts


def network_env(net: NetBinds | None, proxy_url: str = PROXY) -> dict[str, str]:
    """The proxy variables every common client honours (curl, pip, git, requests,
    urllib), and with secrets the CA bundle for those that bring their own trust store.
    Loopback stays direct: the sandbox's own servers are its own. (`proxy_url`: the
    microvm's proxy is slirp's guestfwd address, not a forwarder on loopback.)"""
    if net is None:
        return {}
    proxy = {
        name: proxy_url
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
    }
    direct = "localhost,127.0.0.1,::1"
    env = {**proxy, "all_proxy": proxy_url, "NO_PROXY": direct, "no_proxy": direct}
    if net.ca_bundle is not None:
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE"):
            env[name] = CA_BUNDLE
        env["GIT_SSL_CAINFO"] = CA_BUNDLE
    return env


def rlimits(limits: Limits, nproc: int) -> dict[str, int]:
    """The rlimits the agent sets at its start: no file beyond the writable folders' cap."""
    size = disk.disk_bytes(limits)
    return {"as": limits.memory_bytes, "nofile": NOFILE, "nproc": nproc, "fsize": size, "core": 0}


class Jail:
    """One sandbox's state folder, writable folders and cgroups. `tidy(state_dir)` removes
    the tier's own leftovers (runsc's containers) before the rest, here and in the sweep."""

    def __init__(self, prefix: str, tidy: Callable[[str], None] | None = None) -> None:
        stale.sweep(prefix, tidy)
        self._tidy = tidy
        self.state_dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.state_dir, 0o700)
        self.root_dir = os.path.join(self.state_dir, "root")
        self.cgroups: Cgroups | None = None
        self.network: Attachment | None = None
        self._disk_note = ""
        self._finalizer: weakref.finalize[[_Killable | None], object] | None = None

    def path(self, *parts: str) -> str:
        """A path in the state folder (the tier's own files)."""
        return os.path.join(self.state_dir, *parts)

    def host_path(self, guest: str) -> str:
        """Where the guest's writable folder `guest` (HOME, TMP) is on the host."""
        return os.path.join(self.root_dir, guest.lstrip("/"))

    @property
    def mounted(self) -> bool:
        """Whether `root/` is a size-capped tmpfs (else only RLIMIT_FSIZE bounds each file)."""
        return os.path.ismount(self.root_dir)

    @property
    def notes(self) -> list[str]:
        """What this host could not give the jail (writable cgroups, a size-capped disk)."""
        notes = list(self.cgroups.notes) if self.cgroups is not None else []
        return notes + ([self._disk_note] if self._disk_note else [])

    def make_folders(self, limits: Limits) -> None:
        """`root/` (a tmpfs capped by `disk.py` where the host allows) and the guest's
        writable folders in it."""
        os.makedirs(self.root_dir, mode=0o755)
        self._disk_note = disk.mount_capped(self.root_dir, disk.disk_bytes(limits)) or ""
        os.chmod(self.root_dir, 0o755)
        for guest, mode in _FOLDERS:
            os.makedirs(self.host_path(guest), exist_ok=True)
            os.chmod(self.host_path(guest), mode)

    def attach_network(self, spec: SandboxSpec, guest_root: str) -> NetBinds | None:
        """The sandbox's attachment to the host's gateway, when its spec grants a network;
        with secrets, a CA bundle of the guest's system CAs (found under `guest_root`, the
        folder that is its `/`) and the sandbox's own, whose leaf certs the gateway shows
        for the hosts that have secrets."""
        if spec.network is None:
            return None
        from ...network.gateway import gateway

        self.network = gateway().attach(
            spec.network, spec.secrets, label=os.path.basename(self.state_dir)
        )
        ca = self.network.ca_pem()
        if ca is None:
            return NetBinds(self.network.unix_socket(), None)
        bundle = self.path("ca-bundle.pem")
        with open(bundle, "wb") as out:
            out.write(_system_cas(guest_root))
            out.write(ca)
        os.chmod(bundle, 0o644)
        return NetBinds(self.network.unix_socket(), bundle)

    def network_log(self) -> list[ConnectionRecord]:
        return self.network.log() if self.network is not None else []

    @property
    def network_lost(self) -> bool:
        """Whether its attachment has closed under it (the gateway stopped): a spare in
        that state is not handed out."""
        return self.network is not None and self.network.closed

    def confine(self, memory_bytes: int, max_pids: int) -> Cgroups:
        """Make the jail's cgroups, and stamp the folder as this host process's."""
        self.cgroups = Cgroups(f"sandlot-{uuid.uuid4().hex[:12]}", memory_bytes, max_pids)
        with open(self.path("cgroups"), "w") as f:
            f.write("\n".join(self.cgroups.paths))
        with open(self.path("owner"), "w") as f:
            f.write(stale.owner_line())  # written last: a sweep skips it until then
        return self.cgroups

    def in_cgroups(self, argv: list[str]) -> list[str]:
        """`argv` started from inside the jail's cgroups, so nothing of it runs outside."""
        procs = self.cgroups.procs_files if self.cgroups is not None else []
        if not procs:
            return argv
        script = "".join(f"echo $$ > {shlex.quote(p)} && " for p in procs) + 'exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *argv]

    def guard(self, sandbox: object, agent: _Killable | None = None) -> None:
        """If `sandbox` is dropped without close(), kill `agent` and remove it all."""
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(sandbox, self._remove, agent)

    def remove(self) -> None:
        """Kill what is left in the jail and remove it all (its agent is stopped already)."""
        if self._finalizer is not None:
            self._finalizer.detach()
        self._remove(None)

    def _remove(self, agent: _Killable | None) -> None:
        if self.network is not None:  # first: nothing of the sandbox reaches out meanwhile
            with contextlib.suppress(RuntimeError, TimeoutError, OSError):  # gateway gone
                self.network.close()
        if self.cgroups is not None:
            self.cgroups.kill_all()
        if agent is not None:
            agent.kill()
        if self._tidy is not None:
            self._tidy(self.state_dir)
        if self.cgroups is not None:
            self.cgroups.remove()
        if self.mounted:
            disk.unmount(self.root_dir)
        remove_tree(self.state_dir, ignore_errors=True)  # by fd: any depth, no link followed


class Jailed:
    """A Linux-tier sandbox's `files`, `notes` and close (mixed in before its transport's
    base class): close stops its agent, closes its files and removes its jail, and is what
    a failed start undoes too."""

    _jail: Jail
    _files: SandboxRoot  # made with the jail's folders

    @property
    def files(self) -> SandboxRoot:
        return self._files

    @property
    def notes(self) -> list[str]:
        """What this host could not give the sandbox (e.g. no writable cgroups)."""
        return self._jail.notes + self._tier_notes()

    def _tier_notes(self) -> list[str]:
        """The tier's own notes (its root, Landlock, runsc's quirks)."""
        return []

    def network_log(self) -> list[ConnectionRecord]:
        """What the sandbox tried on the network (empty: it has none)."""
        return self._jail.network_log()

    def _stop_agent(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._discard()

    def _discard(self) -> None:
        self._stop_agent()
        files: SandboxRoot | None = getattr(self, "_files", None)  # none before the folders
        if files is not None:
            files.close()
        self._jail.remove()
