"""A size-capped filesystem for a sandbox's writable folders, where the host allows it.

The sandbox's `/home/user` and `/tmp` live in one host folder. When sandlot may mount
(root with CAP_SYS_ADMIN, as on these hosts), that folder is a tmpfs of
`Limits.disk_cap` bytes, so filling it stops at the cap with ENOSPC instead of filling the
host's disk. A tmpfs lives in memory and its pages are charged to the memory cgroup of
whoever writes them, so files and processes share the sandbox's memory: the default is
half the memory limit ($SANDLOT_PROCESS_DISK_BYTES overrides that default on the Linux
tiers). Elsewhere it is a plain folder and only RLIMIT_FSIZE bounds each file (the
sandbox's notes say so). The wasm tier mounts the same tmpfs under its folder.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import lru_cache

from ...models import Limits


def disk_bytes(limits: Limits) -> int:
    """The cap on a Linux-tier sandbox's writable folders."""
    given = os.environ.get("SANDLOT_PROCESS_DISK_BYTES")
    return int(given) if given and limits.disk_bytes is None else limits.disk_cap


MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 0x2


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def mount_capped(path: str, size: int) -> str | None:
    """Mount a tmpfs of `size` bytes at `path`; None when done, else why not."""
    if sys.platform != "linux":
        return f"{sys.platform}: the sandbox's folders are not size-capped (RLIMIT_FSIZE only)"
    if os.geteuid() != 0:
        return "not root: the sandbox's folders are not size-capped (RLIMIT_FSIZE only)"
    options = f"size={size},mode=0755".encode()
    rc = _libc().mount(
        b"sandlot", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, ctypes.c_char_p(options)
    )
    if rc != 0:
        err = ctypes.get_errno()
        return f"could not mount a size-capped tmpfs ({os.strerror(err)}): RLIMIT_FSIZE only"
    return None


def unmount(path: str) -> None:
    _libc().umount2(path.encode(), MNT_DETACH)
