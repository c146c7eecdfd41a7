"""The root disk: a template's rootfs folder as a read-only ext4 image.

Built by `mkfs.ext4 -d` straight from the folder (no loop mount, no root-only steps), with
no journal (nothing ever writes to it) and no reserved blocks, sized to the content plus
headroom for metadata. One image per template digest, shared read-only by every VM of the
template; what a sandbox writes lives in tmpfs inside its guest (and so in its snapshot).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ...errors import ImageError
from . import store

MIN_BYTES = 64 << 20


def _content_bytes(root: Path) -> int:
    total = 0
    for folder, dirs, files in os.walk(root):
        total += 4096 * (len(dirs) + 1)
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            total += (st.st_size + 4095) // 4096 * 4096
    return total


def ensure_disk(rootfs: Path, digest: str) -> Path:
    """The ext4 image of `rootfs`, made once per `digest` and kept in the store."""
    final = store.tier_dir("disks") / f"{digest[:32]}.ext4"
    if final.exists():
        return final
    if shutil.which("mkfs.ext4") is None:
        raise ImageError("the microvm disk needs mkfs.ext4: apt-get install e2fsprogs")
    size = max(MIN_BYTES, int(_content_bytes(rootfs) * 1.15) + (32 << 20))
    size = (size + (1 << 20) - 1) >> 20 << 20
    work = final.with_name(f".{final.name}.{os.getpid()}")
    argv = [
        "mkfs.ext4", "-q", "-F", "-d", str(rootfs), "-L", "sandlot", "-m", "0",
        "-O", "^has_journal", "-E", "root_owner=0:0", "-T", "default",
        str(work), f"{size >> 20}M",
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        work.unlink(missing_ok=True)
        raise ImageError(f"mkfs.ext4 failed: {e}") from None
    if done.returncode != 0:
        work.unlink(missing_ok=True)
        raise ImageError(f"mkfs.ext4 -d {rootfs} failed: {done.stderr.strip()[-800:]}")
    os.chmod(work, 0o444)
    store.publish(work, final)
    return final
