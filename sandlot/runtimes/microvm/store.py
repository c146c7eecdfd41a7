"""Where the microvm tier keeps what it builds: kernels and disks under the data root
(`$SANDLOT_HOME`, default `~/.local/share/sandlot`), memory snapshots in /dev/shm when they
fit there, and per-VM runtime files (sockets, logs) in a private temporary folder."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ...errors import ImageError
from ..linux import stale

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
    """A fresh private folder for one VM's socket and log (removed at the VM's end),
    stamped with this process as its owner for the sweep."""
    global _swept
    if not _swept:
        _swept = True
        sweep_run_dirs()
    folder = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
    (folder / "owner").write_text(stale.owner_line())
    return folder


def sweep_run_dirs(min_age: float = 60.0) -> int:
    """Remove run folders left by a process that was killed before it could; how many.
    A stamped folder goes once its owner is dead, with any QEMU still running from it
    (one dies with its owner, PR_SET_PDEATHSIG; this is for one that did not); an
    unstamped one (an older sandlot's) once older than `min_age` with no QEMU
    listening on its QMP socket."""
    base = Path(tempfile.gettempdir())
    now = time.time()
    removed = 0
    for folder in base.glob(RUN_PREFIX + "*"):
        try:
            made = folder.stat()
            if made.st_uid != os.getuid():
                continue
            owner: str | None = (folder / "owner").read_text()
        except FileNotFoundError:
            owner = None
        except OSError:
            continue
        if owner is not None:
            if stale.owner_alive(owner):
                continue
            _kill_qemus_of(folder)
        elif now - made.st_mtime < min_age or _listening(folder / "qmp.sock"):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _listening(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _kill_qemus_of(folder: Path) -> None:
    """SIGKILL each QEMU whose command line names `folder` (its sockets, its log)."""
    mark = str(folder) + "/"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "qemu" in os.path.basename(argv[0]) and any(mark in a for a in argv[1:]):
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)


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
