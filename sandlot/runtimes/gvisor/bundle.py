"""The OCI bundle of one gvisor sandbox: `config.json` and, without an image, a root skeleton.

The root is read-only on the host; runsc's `--overlay2=root:memory` gives the guest a
writable layer over it in the sandbox's own memory (so `touch /x` works and vanishes at the
end). `/home/user` and `/tmp` are binds of the sandbox's host folder, which `files.*` reads
and writes directly. With a built template image (`sandlot.images`) the root is the image's
rootfs; otherwise the host's userland is bound read-only into a skeleton, as on the process
tier (`linux/userland.py`: /usr and its companions, an allowlist of /etc, the agent).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..guest_paths import HOME, TMP
from ..linux import jail, userland
from . import compat

INIT_MOUNT = "/opt/sandlot-init/init.py"
INIT_SOURCE = Path(__file__).with_name("guest_init.py")
GENERATED_ETC = {
    "passwd": f"root:x:0:0:root:{HOME}:/bin/bash\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
    **jail.NETWORK_ETC,
}


@dataclass
class Root:
    """Where the guest's `/` comes from, and how its agent starts there."""

    path: str  # the host folder that becomes `/` (read-only)
    mounts: list[dict[str, Any]] = field(default_factory=list)  # binds of the host userland
    python_args: tuple[str, ...] = ("/usr/bin/python3", "-I")
    sys_path: tuple[str, ...] = ()  # site folders the agent adds itself (it starts with -S)

    @property
    def system_root(self) -> str:
        """Where the guest's system files (its CAs) are on the host: the image's root, or
        the host's own `/` when the guest runs the host's userland."""
        return "/" if self.mounts else self.path


def _bind(source: str, destination: str, *, writable: bool = False) -> dict[str, Any]:
    options = ["rbind", "rw" if writable else "ro", "nosuid", "nodev"]
    return {"destination": destination, "type": "bind", "source": source, "options": options}


def image_root(rootfs: Path) -> Root:
    """A built template image: its own python3 with `site`, its agent at /opt/sandlot."""
    return Root(str(rootfs))


def host_root(skeleton: str) -> Root:
    """The host's userland, read-only, in the (empty) folder `skeleton`: symlinks where the
    host has them (/bin -> usr/bin), binds for the rest, generated passwd/group/hosts."""
    mounts: list[dict[str, Any]] = []
    os.makedirs(os.path.join(skeleton, "etc"), exist_ok=True)
    generated = {"/etc/" + name for name in GENERATED_ETC}
    for host, target in userland.host_top_level() + userland.host_etc():
        if host in generated:
            continue
        if target is not None:
            os.symlink(target, os.path.join(skeleton, host.lstrip("/")))
        else:
            mounts.append(_bind(host, host))
    for name, text in GENERATED_ETC.items():
        with open(os.path.join(skeleton, "etc", name), "w") as f:
            f.write(text)
    mounts.append(_bind(userland.guest_dir(), userland.GUEST_MOUNT))
    return Root(
        skeleton,
        mounts,
        python_args=(userland.PYTHON, "-I", "-S"),
        sys_path=userland.site_path(),
    )


def config(
    root: Root,
    folder: str,
    *,
    envs: Mapping[str, str],
    agent: dict[str, Any],
    overlay: bool,
    preload: tuple[str, str] | None = None,
    net: jail.NetBinds | None = None,
) -> dict[str, Any]:
    """config.json: the init (guest_init.py) runs the agent as root *of the sandbox* with no
    capabilities; only `folder`'s home/user and tmp are writable, no network but loopback.
    `preload`: (a shared object, an ld.so.preload naming it) bound into every sandbox.
    `net`: the gateway's socket (runsc must run with --host-uds=open) and CA bundle."""
    env = jail.guest_env("root", {**jail.network_env(net), **envs})
    init_config = {"agent_path": userland.GUEST_MOUNT, "agent": agent}
    no_caps: dict[str, list[str]] = {
        k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")
    }
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        *root.mounts,
        _bind(str(INIT_SOURCE), INIT_MOUNT),
        _bind(os.path.join(folder, HOME.lstrip("/")), HOME, writable=True),
        _bind(os.path.join(folder, TMP.lstrip("/")), TMP, writable=True),
    ]
    if preload is not None:
        mounts += [_bind(preload[0], compat.SHIM_MOUNT), _bind(preload[1], "/etc/ld.so.preload")]
    if net is not None:
        mounts.append(_bind(net.socket, jail.NET_SOCKET))
        if net.ca_bundle is not None:
            mounts.append(_bind(net.ca_bundle, jail.CA_BUNDLE))
    return {
        "ociVersion": "1.0.0",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": [*root.python_args, INIT_MOUNT, json.dumps(init_config)],
            "env": [f"{k}={v}" for k, v in env.items()],
            "cwd": HOME,
            "capabilities": no_caps,
            "noNewPrivileges": True,
        },
        # runsc puts its overlay over writable mounts only; the host folder stays unwritten
        "root": {"path": root.path, "readonly": not overlay},
        "hostname": "sandbox",
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        },
    }
