"""A shim for a bug of older runsc: its statx() refuses AT_NO_AUTOMOUNT with EINVAL.

Debian 12's runsc (2022-12) rejects any statx flag outside AT_EMPTY_PATH,
AT_SYMLINK_NOFOLLOW and the sync bits, and coreutils 9 passes AT_NO_AUTOMOUNT on every
`ls`, `stat`, `cp`…: without help, `ls /` says "cannot access '/': Invalid argument".
gVisor has no automounts, so dropping the flag changes nothing else. The shim is a tiny
shared object preloaded through /etc/ld.so.preload (not $LD_PRELOAD, which the code would
see and could drop), built once with the host's C compiler into sandlot's cache. Where no
compiler is present the sandbox runs without it and its notes say so.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

SHIM_MOUNT = "/opt/sandlot-init/statx-shim.so"
FIXED_SINCE = 20240101  # runsc builds from then on accept the flag (conservative)
SOURCE = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    return syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
}
"""


@lru_cache(maxsize=1)
def runsc_date() -> int:
    """The build date of the installed runsc (20221219 for `0.0~20221219.0`), or 0."""
    try:
        out = subprocess.run(["runsc", "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    found = re.search(r"(20\d{6})", out.stdout)
    return int(found.group(1)) if found else 0


@lru_cache(maxsize=1)
def statx_shim() -> tuple[str | None, str]:
    """(path of the built shim or None, a note when this runsc needs it but it is missing)."""
    if runsc_date() >= FIXED_SINCE:
        return None, ""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None, (
            "this runsc rejects statx(AT_NO_AUTOMOUNT), so `ls`/`stat` fail with EINVAL; "
            "install gcc (for sandlot's shim) or a newer runsc"
        )
    digest = hashlib.sha256(SOURCE.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("SANDLOT_CACHE") or Path.home() / ".cache" / "sandlot")
    final = cache / f"gvisor-statx-{digest}.so"
    if final.exists():
        return str(final), ""
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gvisor-statx-", dir=cache))
    try:
        (work / "shim.c").write_text(SOURCE)
        done = subprocess.run(
            [cc, "-shared", "-fPIC", "-O2", "-o", str(work / "shim.so"), str(work / "shim.c")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            return None, f"could not build the statx shim: {done.stderr.strip()[-300:]}"
        os.chmod(work / "shim.so", 0o755)
        os.replace(work / "shim.so", final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return str(final), ""
