"""A wasm sandbox's folder on the host, capped at `Limits.disk_cap`.

The guest writes its files through wasmtime's WASI grants straight into a host folder, so
only the filesystem under that folder can stop a write in the middle. Where this host may
mount (Linux, root), the guest's root is the size-capped tmpfs the Linux tiers use
(`linux/disk.py`, about 1 ms to mount and unmount; a loop-mounted ext4 image costs ~30 ms):
a write past the cap is ENOSPC in the guest. Its pages are host memory, up to the cap.
Elsewhere the folder is plain: the sandbox measures it before each call and refuses the
call with `LimitExceeded("disk")` while it is over; removing files makes room again.

    sandlot-wasm-XXXXXXXX/   mode 0700; `owner` where the stale sweep runs (Linux)
      root/                  the guest's `/`: home/user, tmp/outputs
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
from collections.abc import Iterator
from functools import cache

from ...errors import LimitExceeded
from ..hostfs import remove_tree, tree_size
from ..linux import disk, stale

PREFIX = "sandlot-wasm-"


class CappedFolder:
    """The state folder and the capped `root/` of one wasm sandbox."""

    def __init__(self, cap: int) -> None:
        on_linux = sys.platform == "linux"
        if on_linux:
            stale.sweep(PREFIX)  # tmpfs and folders of killed host processes
        self.cap = cap
        self.state_dir = tempfile.mkdtemp(prefix=PREFIX)
        os.chmod(self.state_dir, 0o700)
        self.root_dir = os.path.join(self.state_dir, "root")
        os.mkdir(self.root_dir, 0o755)
        why_not = disk.mount_capped(self.root_dir, cap)
        self.mounted = why_not is None
        self.note = "" if why_not is None else _fallback_note(why_not, f"{cap} bytes")
        if on_linux:  # written last: a sweep skips the folder until then
            with open(os.path.join(self.state_dir, "owner"), "w") as f:
                f.write(stale.owner_line())

    def check(self) -> None:
        """Refuse the next call while the files are over the cap (where none is mounted)."""
        if not self.mounted:
            self._refuse_over("run code again")

    def check_saveable(self) -> None:
        """Refuse a save whose copy would write more than the cap: a sparse file takes no
        room in the tmpfs, but a save writes it whole (and a restore could not hold it)."""
        self._refuse_over("save, fork or pause it")

    def _refuse_over(self, to: str) -> None:
        used = tree_size(self.root_dir)  # apparent sizes: what a copy writes
        if used > self.cap:
            raise LimitExceeded(
                "disk",
                f"the sandbox's files take {used} bytes (sparse files counted whole), over "
                f"its disk_bytes={self.cap}: remove some (sbx.files.remove) to {to}",
            )

    @contextlib.contextmanager
    def full_is_limit(self, what: str) -> Iterator[None]:
        """A full folder while the host writes into it (a restore) is the typed limit."""
        try:
            yield
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            raise LimitExceeded(
                "disk", f"{what} do not fit in disk_bytes={self.cap} (raise Limits(disk_bytes=...))"
            ) from None

    def remove(self) -> None:
        """Free the mount and remove the folder (close, a failed start, a dropped sandbox)."""
        if os.path.ismount(self.root_dir):
            disk.unmount(self.root_dir)
        remove_tree(self.state_dir, ignore_errors=True)  # fd-based: any depth, no links


def host_notes() -> list[str]:
    """What this host cannot give a wasm sandbox's folder (for `isolation_notes`)."""
    why_not = _can_mount()
    return [] if why_not is None else [_fallback_note(why_not, "Limits.disk_bytes")]


@cache
def _can_mount() -> str | None:
    """Whether a capped tmpfs mounts here (tried once, ~1 ms); None if so, else why not."""
    probe = tempfile.mkdtemp(prefix=PREFIX + "probe-")
    try:
        why_not = disk.mount_capped(probe, 1 << 20)
        if why_not is None:
            disk.unmount(probe)
        return why_not
    finally:
        os.rmdir(probe)


def _fallback_note(why_not: str, cap: str) -> str:
    return (
        f"no disk quota ({why_not.split(':')[0]}): the sandbox's files are measured before "
        f"each call, which is refused with LimitExceeded('disk') once they pass {cap}; a "
        "call's writes are not stopped while it runs"
    )
