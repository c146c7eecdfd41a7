"""A microvm's network: QEMU's user network, restricted to one guestfwd, and the host's
gateway attachment behind it.

Every VM has the same NIC (`netdev_argv`, part of every shape, so templates, pools and
VMs started ahead serve networked sandboxes and others alike): slirp with `restrict=on`
forwards nothing but 10.0.2.100:3128, and that to `net_relay.py`, which connects to the
run folder's `net.sock`. The policy lives on the host: a networked sandbox links its
attachment's Unix socket there (`VMNetwork.join`, again for each VM it runs in after a
restore or a crash); a VM without network has no link, so the relay's connect fails and
the guest's connection is closed at once. The guest's init gives eth0 10.0.2.15/32 and a
route to 10.0.2.100 alone (`init_c.py`): anywhere else is no route, at once; root in the
guest adding routes reaches only slirp, which drops what `restrict` does not forward.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InvalidArgument, NotFound, SandboxError
from ...guest.agent import protocol
from ...network.log import ConnectionRecord
from ..base import SandboxSpec
from ..guest_files import GuestFiles
from ..linux import jail
from .channel import Channel

if TYPE_CHECKING:
    from ...network.gateway import Attachment
    from .vmm import VM

PROXY_HOST = "10.0.2.100"  # slirp's guestfwd address (in its 10.0.2.0/24)
PROXY_PORT = 3128
PROXY = f"http://{PROXY_HOST}:{PROXY_PORT}"
LINK = "net.sock"  # in the VM's run folder: the attachment's socket, while it has one
RELAY = Path(__file__).with_name("net_relay.py")
SETUP_TIMEOUT = 30.0


def netdev_argv(run: Path) -> list[str]:
    """The NIC and its backend; the relay's path names this VM's run folder (a per-VM
    backend path, like the chardevs': migration does not record it)."""
    words = (sys.executable, "-I", "-S", str(RELAY), str(run / LINK))
    cmd = " ".join(shlex.quote(w) for w in words).replace(",", ",,")  # QEMU's option escape
    return [
        "-netdev",
        f"user,id=net,restrict=on,ipv6=off,guestfwd=tcp:{PROXY_HOST}:{PROXY_PORT}-cmd:{cmd}",
        "-device", "virtio-net-device,netdev=net",
    ]  # fmt: skip


class _ChannelFiles:
    """File requests straight on a VM's channel (before it is a sandbox's)."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def file_call(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._channel.call(request, SETUP_TIMEOUT)


class VMNetwork:
    """A networked sandbox's gateway attachment, linked into each VM it runs in; closed
    with the sandbox (first, so nothing of it reaches out while it goes)."""

    def __init__(self, spec: SandboxSpec, label: str) -> None:
        from ...network.gateway import gateway

        assert spec.network is not None
        self._spec = spec
        self.attachment: Attachment = gateway().attach(spec.network, spec.secrets, label=label)
        self._links: list[Path] = []

    def join(self, vm: VM, channel: Channel) -> None:
        """Link the attachment into `vm`'s relay and give its agent the proxy variables
        (the sandbox's own envs win) and, with secrets, the CA bundle."""
        link = vm.run / LINK
        link.unlink(missing_ok=True)
        link.symlink_to(self.attachment.unix_socket())
        self._links.append(link)
        ca = self.attachment.ca_pem()
        if ca is not None:
            self._write_bundle(GuestFiles(_ChannelFiles(channel)), ca)
        bundle = jail.CA_BUNDLE if ca is not None else None
        net_env = jail.network_env(jail.NetBinds(str(link), bundle), PROXY)
        envs = {k: v for k, v in net_env.items() if k not in self._spec.envs}
        reply = channel.call(protocol.request(protocol.OP_ENV, envs=envs), SETUP_TIMEOUT)
        if not reply.get("ok"):
            raise SandboxError(f"the microvm guest refused the network's envs: {reply}")

    def _write_bundle(self, files: GuestFiles, ca: bytes) -> None:
        """The guest's system CAs and the sandbox's own, whose leaf certs the gateway shows
        for the hosts that have secrets (a fresh CA per attachment: written at each join)."""
        system = b""
        for name in jail.SYSTEM_CAS:
            try:
                system = files.read("/" + name, max_bytes=8 << 20).rstrip(b"\n") + b"\n"
                break
            except (NotFound, InvalidArgument):
                continue
        files.make_dir(jail.NET_DIR)
        files.write(jail.CA_BUNDLE, system + ca)

    def log(self) -> list[ConnectionRecord]:
        return self.attachment.log()

    def close(self) -> None:
        self.attachment.close()
        for link in self._links:
            link.unlink(missing_ok=True)
        self._links.clear()
