"""What a process sandbox's `/` is: a template image's rootfs, or the host's userland.

- A template with a built (or imported) image: the image's rootfs is bound read-only as
  `/` and the image's own python3 runs the agent it carries at `/opt/sandlot`.
- `template="host"` (and `python-data-analysis` without an image, where the host's python3
  has its modules; the sandbox's `notes` say so): the host's userland, read-only, on
  bwrap's tmpfs (`linux/userland.py` says which parts).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ...errors import ImageError, ImageMissing, NotFound
from ..guest_paths import HOME, TMP
from ..linux import userland
from ..linux.userland import PYTHON

GENERATED_ETC = ("passwd", "group", "hostname", "hosts")


@dataclass(frozen=True)
class Root:
    """Where a process sandbox's `/` comes from, and how its agent starts there."""

    template: str
    rootfs: str | None = None  # an image's rootfs, bound read-only as `/`; None: the host's
    digest: str = ""  # the image's
    etc: tuple[str, ...] = GENERATED_ETC  # generated /etc files the image has mount points for
    note: str = ""  # said in the sandbox's notes (a fallback to the host's userland)

    @property
    def key(self) -> tuple[str, str]:
        """Which userland this is: a host root is never an image's, nor one image another's."""
        return ("image", self.digest) if self.rootfs is not None else ("host", "")

    @property
    def python_args(self) -> tuple[str, ...]:
        # The host's python3 starts without `site` (a third of its start) and is given its
        # site folders; an image's keeps `site`, which knows the image's own layout.
        return (PYTHON, "-I") if self.rootfs is not None else (PYTHON, "-I", "-S")

    @property
    def sys_path(self) -> tuple[str, ...]:
        return () if self.rootfs is not None else userland.site_path()


def _binds(entries: list[tuple[str, str | None]]) -> list[str]:
    args: list[str] = []
    for host, target in entries:
        args += ["--symlink", target, host] if target is not None else ["--ro-bind", host, host]
    return args


def top_level_binds() -> list[str]:
    """bwrap arguments for /usr and its companions, mirroring the host's layout."""
    return _binds(userland.host_top_level())


def etc_binds() -> list[str]:
    """bwrap arguments for the allowed part of the host's /etc."""
    return _binds(userland.host_etc())


def gpu_devices() -> list[str]:
    """The host's GPU device nodes (NVIDIA, DRI), bound into every jail when present: the
    userland (drivers' libraries, nvidia-smi) comes with /usr."""
    found = sorted(p for p in glob.glob("/dev/nvidia*") if not os.path.isdir(p))
    if os.path.isdir("/dev/nvidia-caps"):
        found.append("/dev/nvidia-caps")
    if os.path.isdir("/dev/dri"):
        found.append("/dev/dri")
    return found


def _host_python() -> None:
    if not os.path.exists(PYTHON):
        raise NotFound(
            f"template 'host' runs the host's userland, which has no {PYTHON}: "
            "apt-get install python3"
        )


def resolve(template: str) -> Root:
    """The root for `template`: its image (built on first use with SANDLOT_AUTO_BUILD=1),
    the host's userland for `host` (and `python-data-analysis` without an image, where the
    host can serve it), else ImageMissing / NotFound saying how to get one."""
    if template == "host":
        _host_python()
        return Root("host")
    try:
        image, missing_image = userland.find_image(template)
    except ImageMissing:
        raise
    except NotFound as e:
        raise NotFound(f"{e}; template='host' runs the host's own userland") from None
    if image is None:
        return _host_fallback(template, missing_image)
    rootfs = Path(image.rootfs)
    if not (rootfs / "opt/sandlot/sandlot_guest/agent/pipe_main.py").is_file() or not (
        os.path.lexists(rootfs / "usr/bin/python3")
    ):
        raise ImageError(
            f"image {image.name!r} ({image.short_digest}) has no python3 or no guest agent at "
            f"/opt/sandlot; the process tier runs the agent with the image's /usr/bin/python3"
        )
    etc = image_mount_points(rootfs)
    return Root(template, str(rootfs), image.digest, etc)


def _host_fallback(template: str, missing_image: str) -> Root:
    _host_python()
    missing = userland.missing_modules(userland.TEMPLATE_MODULES[template])
    if missing:
        pkgs = " ".join(userland.DEBIAN_PACKAGES.get(m, m) for m in missing)
        raise ImageMissing(
            f"{missing_image}. Without the image, the process tier serves {template!r} from "
            f"the host's userland only when the host's {PYTHON} has {', '.join(missing)} "
            f"(apt-get install {pkgs}); template='host' runs the host's userland as it is"
        )
    return Root(
        template,
        note=(
            f"template {template!r} has no built image here: served from the host's userland "
            f"(its {PYTHON} and /usr, read-only); `sandlot image build {template}` gives the "
            "image's own root"
        ),
    )


def _real_dirs(rootfs: Path, parts: list[str]) -> bool:
    """Whether each of rootfs/parts[0]/parts[1]/… is a folder and none is a symlink (an
    imported image's symlinks must not steer where sandlot creates or mounts)."""
    here = rootfs
    for part in parts:
        here = here / part
        if here.is_symlink() or not here.is_dir():
            return False
    return True


@lru_cache(maxsize=16)
def net_mount_point(rootfs: Path) -> None:
    """Make /run/sandlot in the image, where a networked sandbox's gateway socket is
    mounted (on a tmpfs of its own); made once, only for images that get a network.
    ImageError when it can't be had (a symlink there, or not the image store's owner)."""
    if _real_dirs(rootfs, ["run", "sandlot"]):
        return
    try:
        if not _real_dirs(rootfs, ["run"]):
            os.mkdir(rootfs / "run", 0o755)
        os.mkdir(rootfs / "run" / "sandlot", 0o755)
    except OSError as e:
        raise ImageError(
            f"image at {rootfs} lacks /run/sandlot, where a networked sandbox's gateway "
            f"socket is mounted, and it could not be made ({e}); rebuild or re-import the "
            "image as the image store's owner"
        ) from None


@lru_cache(maxsize=16)
def image_mount_points(rootfs: Path) -> tuple[str, ...]:
    """Make sure the image has what bwrap mounts over (its root is read-only in the jail,
    where no mount point can be made): /home/user, /tmp, /proc, /dev as folders, and the
    generated /etc files as files. Missing ones are created (empty) once, as runsc does for
    its binds; returns the generated /etc files that can be bound. ImageError when a folder
    can't be had (the image store is not this user's, or the image has a symlink there)."""
    lacking = []
    for folder in (HOME.lstrip("/"), TMP.lstrip("/"), "proc", "dev", "etc"):
        parts = folder.split("/")
        if _real_dirs(rootfs, parts):
            continue
        if _real_dirs(rootfs, parts[:-1]) and not os.path.lexists(rootfs / folder):
            try:
                os.mkdir(rootfs / folder, 0o755)
                continue
            except OSError:
                pass
        lacking.append("/" + folder)
    if lacking:
        raise ImageError(
            f"image at {rootfs} lacks {', '.join(lacking)} as plain folders, which the process "
            "tier mounts over (its root is read-only); rebuild or re-import it as the image "
            "store's owner"
        )
    etc = []
    for name in GENERATED_ETC:
        path = rootfs / "etc" / name
        if not os.path.lexists(path):
            try:
                with open(path, "x"):
                    pass
                os.chmod(path, 0o644)
            except OSError:
                continue
        if path.is_file() and not path.is_symlink():
            etc.append(name)
    return tuple(etc)
