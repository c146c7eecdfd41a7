"""Build a recipe's rootfs: debootstrap, pip in a chroot, files, then the guest agent.

Runs as root (debootstrap and chroot need it). The recipe is trusted configuration: pip's
build steps run as root in a chroot, which is packaging, not isolation.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ImageError
from . import agent
from .recipe import Recipe
from .rootpath import write_file

Progress = Callable[[str], None]

_STAGES = {
    "Retrieving": "retrieving",
    "Validating": "validating",
    "Extracting": "extracting",
    "Unpacking": "unpacking",
    "Configuring": "configuring",
}
# "I: Retrieving adduser 3.134", "I: Unpacking libc6:amd64...", "I: Configuring apt..."
_PACKAGE_LINE = re.compile(r"^I: (\w+) ([a-z0-9][a-z0-9+.-]*)(:\w+)?(\.\.\.| \S+)\s*$")


class DebootstrapProgress:
    """Turns debootstrap's `I:` lines into "retrieving 12", "unpacking 30/110" and the like.

    The total is only known once every package has been retrieved; before that the count
    stands alone.
    """

    def __init__(self, emit: Progress) -> None:
        self.emit = emit
        self.counts: dict[str, int] = collections.Counter()
        self.total = 0

    def line(self, text: str) -> None:
        m = _PACKAGE_LINE.match(text)
        if m and m.group(1) in _STAGES and (m.group(4) == "..." or not m.group(4).endswith("...")):
            stage = _STAGES[m.group(1)]
            self.counts[stage] += 1
            n = self.counts[stage]
            if stage == "retrieving":
                self.total = max(self.total, n)
                self.emit(f"retrieving {n}: {m.group(2)}")
            else:
                self.emit(f"{stage} {n}/{max(self.total, n)}: {m.group(2)}")
        elif text.startswith(("I: ", "W: ", "E: ")):
            self.emit(text[3:].strip())


def _die_with_parent() -> None:
    """In the child: SIGTERM when the builder dies, so a killed build stops writing into a
    work folder that the next store operation will sweep away."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def _stop(proc: subprocess.Popen[str]) -> None:
    """End a step and everything it started: SIGTERM first, so debootstrap's exit traps
    unmount what it mounted in the target, then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 30.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _run(
    step: str,
    argv: Sequence[str],
    on_line: Progress,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
) -> None:
    """Run one build step, streaming its output lines; ImageError with the last lines."""
    tail: collections.deque[str] = collections.deque(maxlen=15)
    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,  # its own process group, to stop it whole
            preexec_fn=_die_with_parent,
        )
    except OSError as e:
        raise ImageError(f"step {step}: cannot start {argv[0]}: {e.strerror}") from None
    timed_out: list[bool] = []

    def expire() -> None:
        timed_out.append(True)
        _stop(proc)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            on_line(line)
        code = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    finally:
        timer.cancel()
    if code != 0:
        last = "\n  ".join(tail) or "(no output)"
        why = f"still running after {timeout:.0f} s" if timed_out else f"exit status {code}"
        raise ImageError(f"step {step} failed ({why}); its last lines:\n  {last}")


def check_host() -> str:
    """The debootstrap to use; ImageError saying what to do when this host can't build."""
    exe = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None
    )
    if exe is None:
        raise ImageError(
            "building images needs debootstrap, which this host lacks: apt-get install debootstrap"
        )
    if os.geteuid() != 0:
        raise ImageError(
            "building images needs root (debootstrap and chroot): run "
            "`sudo sandlot image build NAME`, or import an image with `sandlot image import`"
        )
    return exe


def build_rootfs(recipe: Recipe, rootfs: Path, progress: Progress) -> None:
    """Fill the empty-or-missing folder `rootfs` from `recipe`."""
    exe = check_host()
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
    }
    progress(f"debootstrap {recipe.suite} with {len(recipe.apt_packages)} extra package(s)")
    parser = DebootstrapProgress(progress)
    _run(
        "debootstrap",
        [
            exe,
            "--variant=minbase",
            f"--include={','.join(recipe.apt_packages)}",
            recipe.suite,
            str(rootfs),
            *([mirror] if (mirror := recipe.resolved_mirror()) else []),
        ],
        parser.line,
        env=env,
    )
    if recipe.packages.pip:
        progress(f"pip install {' '.join(recipe.packages.pip)}")
        resolv = rootfs / "etc" / "resolv.conf"
        had_resolv = resolv.exists() or resolv.is_symlink()
        if not had_resolv and os.path.exists("/etc/resolv.conf"):
            shutil.copyfile("/etc/resolv.conf", resolv)
        try:
            _run(
                "pip",
                [
                    "chroot",
                    str(rootfs),
                    "/usr/bin/python3",
                    "-m",
                    "pip",
                    "install",
                    "--break-system-packages",
                    "--no-cache-dir",
                    "--disable-pip-version-check",
                    "--root-user-action=ignore",
                    "--",
                    *recipe.packages.pip,
                ],
                lambda line: progress("pip: " + line) if line.strip() else None,
                env={**env, "HOME": "/root"},
            )
        finally:
            if not had_resolv:
                resolv.unlink(missing_ok=True)
    for path, content in sorted(recipe.files.items()):
        progress(f"file {path}")
        write_file(rootfs, path, content.encode())
    _tidy(rootfs)
    progress("installing the guest agent")
    agent.install(rootfs, trusted_python=True)


def _tidy(rootfs: Path) -> None:
    """Drop what only the build needed: downloaded .debs and apt's package lists."""
    for pattern in (
        "var/cache/apt/archives/*.deb",
        "var/lib/apt/lists/*_Packages",
        "var/cache/apt/*.bin",
    ):
        for p in rootfs.glob(pattern):
            if p.is_file() and not p.is_symlink():
                p.unlink()
