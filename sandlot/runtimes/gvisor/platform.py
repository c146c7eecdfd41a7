"""What this host's runsc can do: the platform to run on, the overlay flag it knows, and the
root filesystem a template gets (a built image, or the host's userland)."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InvalidArgument
from ..linux import userland
from . import bundle

if TYPE_CHECKING:
    from ...images.store import Image

PLATFORM_ENV = "SANDLOT_GVISOR_PLATFORM"
PLATFORMS = ("ptrace", "systrap")


@lru_cache(maxsize=1)
def _flags_text() -> str:
    """`runsc flags` (the global flags and their help), or "" without runsc."""
    if shutil.which("runsc") is None:
        return ""
    try:
        done = subprocess.run(["runsc", "flags"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


def choose() -> str:
    """The platform: ptrace unless $SANDLOT_GVISOR_PLATFORM names another we can trust.

    Never kvm: on these hosts /dev/kvm is PVM (paravirtual nested KVM) and runsc's kvm
    platform hangs there, so a forced kvm is refused rather than left to hang."""
    wanted = os.environ.get(PLATFORM_ENV, "").strip() or "ptrace"
    if wanted == "kvm":
        raise InvalidArgument(
            f"{PLATFORM_ENV}=kvm is refused: gVisor's kvm platform hangs on hosts whose "
            "/dev/kvm is paravirtual (PVM), as here; use ptrace (the default) or systrap"
        )
    if wanted not in PLATFORMS:
        raise InvalidArgument(f"{PLATFORM_ENV}={wanted!r}: the platforms are ptrace, systrap")
    if wanted == "systrap" and "systrap" not in _flags_text():
        raise InvalidArgument(
            f"{PLATFORM_ENV}=systrap: this runsc has no systrap platform (it is in runsc "
            "builds from 2023 on, e.g. bookworm-backports); use ptrace"
        )
    return wanted


@lru_cache(maxsize=1)
def overlay_flags() -> tuple[str, ...]:
    """A writable in-memory layer over the read-only root only. Older runsc has just
    `--overlay`, which would also cover the binds and hide the guest's files from the host,
    so there the root is plainly read-only."""
    return ("--overlay2=root:memory",) if "-overlay2" in _flags_text() else ()


def root_for(template: str, skeleton: str, image: Image | None) -> bundle.Root:
    """The guest's `/` for `template`: its image (as `userland.find_image` found it) when
    built; the host's userland in `skeleton` for `host` (and, as on the process tier,
    `python-data-analysis` without an image when the host can serve it)."""
    if image is not None:
        return bundle.image_root(Path(image.rootfs))
    userland.check_template(template)
    os.makedirs(skeleton, mode=0o755)
    return bundle.host_root(skeleton)
