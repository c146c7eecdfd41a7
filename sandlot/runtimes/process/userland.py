"""What a process sandbox sees of the host: its read-only userland, and the guest agent.

`template="host"` binds the host's own /usr (and /bin, /lib*, … as the host has them)
read-only, plus a short allowlist of /etc: nothing else of the host's filesystem shows.
The SDK's templates `base` and `python-data-analysis` are served by the same userland when
the host's python3 has what they need; otherwise a typed error says how to get them.
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

from ...errors import NotFound

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
            f"template {template!r} has no image for the process tier; this version serves "
            f"{known} from the host's userland. Template images will be built with "
            f"`sandlot image build {template}` (not in this version yet)"
        )
    missing = _missing_modules(TEMPLATE_MODULES[template])
    if missing:
        pkgs = " ".join(DEBIAN_PACKAGES.get(m, m) for m in missing)
        raise NotFound(
            f"template {template!r} needs {', '.join(missing)}, which the host's {PYTHON} "
            f"lacks: the process tier serves it from the host's userland in this version. "
            f"Install them (apt-get install {pkgs}), use template='host' or 'base', or build "
            f"an image with `sandlot image build {template}` once images exist"
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
