"""What a process sandbox's `/` is: a template image's rootfs, or the host's userland.

- A template with a built (or imported) image in `sandlot.images`: the image's rootfs is
  bound read-only as `/` and the image's own python3 runs the agent it carries at
  `/opt/sandlot`. `SANDLOT_AUTO_BUILD=1` builds a missing template image on first use.
- `template="host"` (trusted code): the host's own /usr (and /bin, /lib*, … as the host has
  them) read-only, plus a short allowlist of /etc: nothing else of the host's filesystem.
- `python-data-analysis` (the SDK's default template) without a built image falls back to
  the host's userland when the host's python3 has its modules, and the sandbox's `notes`
  say so; every other template without an image is `ImageMissing`.
"""

from __future__ import annotations

import compileall
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from ...errors import ImageError, ImageMissing, NotFound

PYTHON = "/usr/bin/python3"
GUEST_PACKAGE = "sandlot_guest"
GUEST_MOUNT = "/opt/sandlot"

# Top-level paths bound read-only (or re-created as the same symlink) when the host has them.
TOP_LEVEL = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")

# The part of the host's /etc a userland needs; secrets (shadow, ssh keys, …) stay out.
ETC_ALLOW = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "matplotlibrc",
    "mime.types",
    "bash.bashrc",
    "profile",
    "inputrc",
    "nsswitch.conf",
    "protocols",
    "services",
    "os-release",
    "debian_version",
    "fonts",
    "magic",
    "environment",
    "gcc",
)
ETC_GLOBS = ("python3*",)

# What each SDK template needs of the host's python3 to be served by the host userland.
TEMPLATE_MODULES: dict[str, tuple[str, ...]] = {
    "host": (),
    "base": (),
    "python-data-analysis": ("numpy", "pandas", "scipy", "matplotlib", "sklearn"),
}
DEBIAN_PACKAGES = {
    "numpy": "python3-numpy",
    "pandas": "python3-pandas",
    "scipy": "python3-scipy",
    "matplotlib": "python3-matplotlib",
    "sklearn": "python3-sklearn",
}


def top_level_binds() -> list[str]:
    """bwrap arguments for /usr and its companions, mirroring the host's layout."""
    args: list[str] = []
    for name in TOP_LEVEL:
        host = "/" + name
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    return args


def gpu_devices() -> list[str]:
    """The host's GPU device nodes (NVIDIA, DRI), bound into every jail when present: the
    userland (drivers' libraries, nvidia-smi) comes with /usr."""
    found = sorted(p for p in glob.glob("/dev/nvidia*") if not os.path.isdir(p))
    if os.path.isdir("/dev/nvidia-caps"):
        found.append("/dev/nvidia-caps")
    if os.path.isdir("/dev/dri"):
        found.append("/dev/dri")
    return found


def etc_binds() -> list[str]:
    names = [n for n in ETC_ALLOW if os.path.lexists("/etc/" + n)]
    for pattern in ETC_GLOBS:
        names += [os.path.basename(p) for p in glob.glob("/etc/" + pattern)]
    args: list[str] = []
    for name in sorted(set(names)):
        host = "/etc/" + name
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        else:
            args += ["--ro-bind", host, host]
    return args


@cache
def _missing_modules(modules: tuple[str, ...]) -> tuple[str, ...]:
    if not modules:
        return ()
    probe = "import importlib.util as u, sys\n" + "".join(
        f"u.find_spec({m!r}) or print({m!r})\n" for m in modules
    )
    try:
        done = subprocess.run(
            [PYTHON, "-I", "-c", probe], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return modules
    if done.returncode != 0:
        return modules
    return tuple(done.stdout.split())


@lru_cache(maxsize=1)
def site_path() -> tuple[str, ...]:
    """The site folders the host's python3 puts on sys.path (the agent starts without
    `site`, to start faster, and adds them itself)."""
    probe = "import sys, site; print('\\n'.join(p for p in sys.path if 'packages' in p))"
    try:
        done = subprocess.run(
            [PYTHON, "-I", "-c", probe], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(done.stdout.split("\n")[:-1]) if done.returncode == 0 else ()


def check_template(template: str) -> None:
    """Raise NotFound unless this host's userland can serve `template`."""
    if not os.path.exists(PYTHON):
        raise NotFound(
            f"the process tier runs the host's userland, which has no {PYTHON}: "
            "apt-get install python3"
        )
    if template not in TEMPLATE_MODULES:
        known = ", ".join(sorted(TEMPLATE_MODULES))
        raise NotFound(
            f"template {template!r} has no built image here and only {known} can be served "
            f"from the host's userland: `sandlot image build {template}` builds its image"
        )
    missing = _missing_modules(TEMPLATE_MODULES[template])
    if missing:
        pkgs = " ".join(DEBIAN_PACKAGES.get(m, m) for m in missing)
        raise NotFound(
            f"template {template!r} needs {', '.join(missing)}, which the host's {PYTHON} "
            f"lacks, and it has no built image here: `sandlot image build {template}` builds "
            f"it, or install them on the host (apt-get install {pkgs}), or use template='host'"
        )


# Templates served from the host's userland when their image is not built here: the SDK's
# default, so that `Sandbox.create(requires={"subprocess"})` works on a host with the data
# stack installed and no image store (a note on the sandbox says which userland it got).
HOST_FALLBACK = ("python-data-analysis",)
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
        """What a warm spare must match besides the spec: a host spare is never an image's."""
        return ("image", self.digest) if self.rootfs is not None else ("host", "")

    @property
    def python_args(self) -> tuple[str, ...]:
        # The host's python3 starts without `site` (a third of its start) and is given its
        # site folders; an image's keeps `site`, which knows the image's own layout.
        return (PYTHON, "-I") if self.rootfs is not None else (PYTHON, "-I", "-S")

    @property
    def sys_path(self) -> tuple[str, ...]:
        return () if self.rootfs is not None else site_path()


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
    from ... import images

    if template == "host":
        _host_python()
        return Root("host")
    try:
        image = images.ensure(template)
    except ImageMissing as e:
        if template not in HOST_FALLBACK:
            raise ImageMissing(f"{e}; or use template='host' for the host's own userland") from None
        return _host_fallback(template, str(e))
    except NotFound as e:
        raise NotFound(f"{e}; template='host' runs the host's own userland") from None
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
    missing = _missing_modules(TEMPLATE_MODULES[template])
    if missing:
        pkgs = " ".join(DEBIAN_PACKAGES.get(m, m) for m in missing)
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
def image_mount_points(rootfs: Path) -> tuple[str, ...]:
    """Make sure the image has what bwrap mounts over (its root is read-only in the jail,
    where no mount point can be made): /home/user, /tmp, /proc, /dev as folders, and the
    generated /etc files as files. Missing ones are created (empty) once, as runsc does for
    its binds; returns the generated /etc files that can be bound. ImageError when a folder
    can't be had (the image store is not this user's, or the image has a symlink there)."""
    lacking = []
    for folder in ("home/user", "tmp", "proc", "dev", "etc"):
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


def _guest_sources() -> Path:
    import sandlot.guest as guest

    return Path(guest.__file__).parent


@lru_cache(maxsize=1)
def guest_dir() -> str:
    """A folder holding `sandlot_guest` (the agent only), compiled for the guest's python.

    Kept in sandlot's cache, keyed by the sources' hash, so a sandbox never compiles it.
    """
    src = _guest_sources()
    files = [src / "__init__.py", *sorted((src / "agent").glob("*.py"))]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(src).as_posix().encode() + b"\0" + f.read_bytes())
    cache = Path(os.environ.get("SANDLOT_CACHE") or Path.home() / ".cache" / "sandlot")
    final = cache / f"process-guest-{digest.hexdigest()[:16]}"
    if (final / GUEST_PACKAGE / "agent" / "pipe_main.py").exists():
        return str(final)
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="process-guest-", dir=cache))
    try:
        pkg = work / GUEST_PACKAGE
        (pkg / "agent").mkdir(parents=True)
        for f in files:
            shutil.copyfile(f, pkg / f.relative_to(src))
        done = subprocess.run(
            [
                PYTHON,
                "-I",
                "-m",
                "compileall",
                "-q",
                "-d",
                f"{GUEST_MOUNT}/{GUEST_PACKAGE}",
                str(pkg),
            ],
            capture_output=True,
            timeout=120,
        )
        if done.returncode != 0:  # the agent still runs from source, just slower to start
            compileall.compile_dir(str(pkg), quiet=1)
        for d, _, names in os.walk(work):
            os.chmod(d, 0o755)
            for n in names:
                os.chmod(os.path.join(d, n), 0o644)
        try:
            os.rename(work, final)
        except OSError:  # another process made it meanwhile
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return str(final)
