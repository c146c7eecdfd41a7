"""Where the microvm tier keeps what it builds: kernels and disks under the data root
(`$SANDLOT_HOME`, default `~/.local/share/sandlot`), memory snapshots in /dev/shm when they
fit there, and per-VM runtime files (sockets, logs) in a private temporary folder."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ...errors import ImageError

SHM = Path("/dev/shm")


def data_root() -> Path:
    return Path(os.environ.get("SANDLOT_HOME") or Path.home() / ".local/share/sandlot")


def tier_dir(*parts: str) -> Path:
    path = data_root().joinpath("microvm", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def snapshot_root(needed: int) -> Path:
    """/dev/shm when it has room for `needed` bytes twice over (restores read it at memory
    speed), else the data root's disk."""
    if SHM.is_dir():
        try:
            if shutil.disk_usage(SHM).free > 2 * needed:
                path = SHM / f"sandlot-microvm-{os.getuid()}"
                path.mkdir(mode=0o700, exist_ok=True)
                return path
        except OSError:
            pass
    return tier_dir("snapshots")


RUN_PREFIX = "sandlot-vm-"
_swept = False


def run_dir() -> Path:
    """A fresh private folder for one VM's socket and log (removed at the VM's end)."""
    global _swept
    if not _swept:
        _swept = True
        sweep_run_dirs()
    return Path(tempfile.mkdtemp(prefix=RUN_PREFIX))


def sweep_run_dirs(min_age: float = 60.0) -> int:
    """Remove run folders left by a process that was killed before it could: those older
    than `min_age` whose QMP socket no QEMU listens on any more; how many."""
    base = Path(tempfile.gettempdir())
    now = time.time()
    removed = 0
    for folder in base.glob(RUN_PREFIX + "*"):
        try:
            if folder.stat().st_uid != os.getuid() or now - folder.stat().st_mtime < min_age:
                continue
        except OSError:
            continue
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(folder / "qmp.sock"))
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)  # no QEMU behind it
            removed += 1
        finally:
            probe.close()
    return removed


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def publish(work: Path, final: Path) -> None:
    """Rename a finished temporary file or folder into place; a racing builder's copy wins."""
    try:
        os.rename(work, final)
    except OSError:
        if work.is_dir():
            shutil.rmtree(work, ignore_errors=True)
        else:
            work.unlink(missing_ok=True)


def run_step(doing: str, argv: list[str], cwd: Path | None = None, timeout: float = 600) -> str:
    """Run one step of building something for the tier (apt-get, dpkg-deb, make...); its
    stdout, or ImageError naming the step and the end of what it printed."""
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ImageError(f"{doing}: {argv[0]} failed: {e}") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-1500:]
        raise ImageError(f"{doing}: {' '.join(argv[:4])} failed: {tail}")
    return done.stdout
