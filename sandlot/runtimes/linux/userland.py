"""The host's userland as a Linux-tier jail sees it, and the guest agent it runs there.

- `template="host"` (trusted code) and a fallback template without an image run on the
  host's own /usr (and /bin, /lib*, … as the host has them) read-only, plus a short
  allowlist of /etc: nothing else of the host's filesystem (`host_top_level`, `host_etc`).
- A template with a built (or imported) image in `sandlot.images` runs on the image's
  rootfs instead (`find_image`); `SANDLOT_AUTO_BUILD=1` builds a missing one on first use.
- `python-data-analysis` (the SDK's default template) without a built image falls back to
  the host's userland when the host's python3 has its modules; every other template
  without an image is `ImageMissing`.
- On the host's userland the agent comes from `guest_dir()`, compiled once and cached.

Each tier turns these into its own mounts (bwrap arguments, OCI mounts).
"""

from __future__ import annotations

import compileall
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import ImageMissing, NotFound

if TYPE_CHECKING:
    from ...images.store import Image

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
    "websearch-tools": (),  # stdlib only: its tools ship in the agent bundle
}
DEBIAN_PACKAGES = {
    "numpy": "python3-numpy",
    "pandas": "python3-pandas",
    "scipy": "python3-scipy",
    "matplotlib": "python3-matplotlib",
    "sklearn": "python3-sklearn",
}


# Templates served from the host's userland when their image is not built here: the SDK's
# default, so that `Sandbox.create(requires={"subprocess"})` works on a host with the data
# stack installed and no image store (a note on the sandbox says which userland it got).
HOST_FALLBACK = ("python-data-analysis", "websearch-tools")


def _entry(host: str) -> tuple[str, str | None]:
    return host, os.readlink(host) if os.path.islink(host) else None


def host_top_level() -> list[tuple[str, str | None]]:
    """/usr and its companions as the host has them: (path, symlink target or None for a
    folder to bind)."""
    hosts = ["/" + n for n in TOP_LEVEL]
    return [_entry(h) for h in hosts if os.path.islink(h) or os.path.isdir(h)]


def host_etc() -> list[tuple[str, str | None]]:
    """The allowed part of the host's /etc: (path, symlink target or None for a file or
    folder to bind)."""
    names = {n for n in ETC_ALLOW if os.path.lexists("/etc/" + n)}
    for pattern in ETC_GLOBS:
        names.update(os.path.basename(p) for p in glob.glob("/etc/" + pattern))
    return [_entry("/etc/" + n) for n in sorted(names)]


def find_image(template: str) -> tuple[Image | None, str]:
    """(`template`'s built image, "") or, for a template the host's userland may serve
    instead (`host`, a HOST_FALLBACK one), (None, why it has no image). ImageMissing for
    any other template without one, saying how to get it."""
    if template == "host":
        return None, ""
    from ... import images

    try:
        return images.ensure(template), ""  # built on first use with SANDLOT_AUTO_BUILD=1
    except ImageMissing as e:
        if template not in HOST_FALLBACK:
            raise ImageMissing(f"{e}; or use template='host' for the host's own userland") from None
        return None, str(e)


@cache
def missing_modules(modules: tuple[str, ...]) -> tuple[str, ...]:
    """Those of `modules` the host's python3 cannot import (all of them without one)."""
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
    missing = missing_modules(TEMPLATE_MODULES[template])
    if missing:
        pkgs = " ".join(DEBIAN_PACKAGES.get(m, m) for m in missing)
        raise NotFound(
            f"template {template!r} needs {', '.join(missing)}, which the host's {PYTHON} "
            f"lacks, and it has no built image here: `sandlot image build {template}` builds "
            f"it, or install them on the host (apt-get install {pkgs}), or use template='host'"
        )


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
