"""sandlot's own guest kernel, built from Debian's `linux-source-6.1` with the config
fragment beside this file (`guest-kernel.config`): everything the guest needs built in, no
modules, so its initramfs holds only the C /init and the guest agent.

Opt-in (`SANDLOT_MICROVM_KERNEL=custom`, built by `sandlot image build --kernel
--custom-kernel`): the build takes many minutes, so it never happens implicitly. Layout in
the store (`microvm/kernels/`):

    source-<package version>/linux-source-6.1/   the unpacked tree, shared by every build
    source-<package version>/build/              kbuild's objects (O=), kept: a changed
                                                  fragment recompiles only what it touches
    custom-<package version>-<fragment digest>/  vmlinuz, version, config, modules.order
                                                  (empty), build-seconds, and its initrds

The cache key is the fragment's digest and the source package's version: a changed
fragment or a newer `linux-source-6.1` is a new kernel (and so new template snapshots).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ...errors import ImageError, ImageMissing
from . import store

Progress = Callable[[str], None]

SOURCE_PACKAGE = "linux-source-6.1"
FRAGMENT = Path(__file__).with_name("guest-kernel.config")
BUILD_COMMAND = "sandlot image build --kernel --custom-kernel"
# What the build needs on the host besides gcc and make (Debian package names).
BUILD_DEPS = ("build-essential", "bc", "bison", "flex", "libelf-dev", "libssl-dev")
_OPTION = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_VERSION = re.compile(r"[0-9][A-Za-z0-9.+~:-]*")


def parse_fragment(text: str) -> dict[str, str]:
    """The fragment's `CONFIG_X=value` lines as a dict (comments and blanks skipped)."""
    options: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _OPTION.match(line)
        if m is None:
            raise ImageError(f"{FRAGMENT.name}:{n}: not a CONFIG_X=value line: {line!r}")
        if m.group(1) in options:
            raise ImageError(f"{FRAGMENT.name}:{n}: {m.group(1)} is set twice")
        options[m.group(1)] = m.group(2)
    return options


def fragment_digest(text: str | None = None) -> str:
    """The fragment's identity: the SHA-256 of its options (comments do not count)."""
    options = parse_fragment(FRAGMENT.read_text() if text is None else text)
    canonical = "".join(f"{k}={v}\n" for k, v in sorted(options.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()


def cache_name(source_version: str, digest: str) -> str:
    """The store folder of the kernel built from that source with that fragment."""
    return f"custom-{source_version.replace(':', '_')}-{digest[:16]}"


def missing_options(options: dict[str, str], config: str) -> list[str]:
    """The fragment's options that the final .config does not have as asked (Kconfig drops
    an option whose dependencies are off, silently)."""
    final = {}
    for line in config.splitlines():
        m = _OPTION.match(line)
        if m:
            final[m.group(1)] = m.group(2)
    return [k for k, v in options.items() if final.get(k) != v and v != "n"]


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 600) -> str:
    return store.run_step("building the custom kernel", argv, cwd, timeout)


def _make(
    argv: list[str], log: Path, progress: Progress | None = None, timeout: float = 4 * 3600
) -> None:
    """Run a make step with its output appended to `log`; with `progress`, each compiled
    file is reported (at most a few times a second): "compiling: 812 files, kernel/fork.o"."""
    deadline = time.monotonic() + timeout
    shown = 0.0
    count = 0
    try:
        with open(log, "a") as f:
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                f.write(line)
                words = line.split()
                if len(words) == 2 and words[0] in ("CC", "AS", "LD", "AR"):
                    count += 1
                    if progress and time.monotonic() - shown > 0.3:
                        shown = time.monotonic()
                        progress(f"compiling: {count} files, {words[1]}")
                if time.monotonic() > deadline:
                    proc.kill()
            code = proc.wait()
    except OSError as e:
        raise ImageError(f"building the custom kernel: {argv[0]} failed: {e}") from None
    if code != 0:
        tail = log.read_text(errors="replace").strip()[-1500:]
        raise ImageError(f"building the custom kernel: {' '.join(argv[:4])} failed: {tail}")


def _source_version() -> str:
    """The candidate version of linux-source-6.1 (apt-cache policy)."""
    for line in _run(["apt-cache", "policy", SOURCE_PACKAGE]).splitlines():
        word = line.strip()
        if word.startswith("Candidate:"):
            version = word.split(":", 1)[1].strip()
            if _VERSION.fullmatch(version):
                return version
    raise ImageError(f"apt-cache knows no {SOURCE_PACKAGE}; run apt-get update")


def _source_tree(version: str, progress: Progress | None) -> Path:
    """Download and unpack the kernel source once per package version."""
    final = store.tier_dir("kernels") / f"source-{version.replace(':', '_')}"
    tree = final / SOURCE_PACKAGE
    if (tree / "Makefile").exists():
        return tree
    for tool in ("apt-get", "dpkg-deb", "tar", "xz"):
        if shutil.which(tool) is None:
            raise ImageError(f"building the custom kernel needs {tool}")
    with tempfile.TemporaryDirectory(prefix="sandlot-ksrc-", dir=final.parent) as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # apt's download user may write here
        if progress:
            progress(f"downloading {SOURCE_PACKAGE} {version}")
        _run(["apt-get", "download", "-q", f"{SOURCE_PACKAGE}={version}"], cwd=work)
        debs = sorted(work.glob("*.deb"))
        if not debs:
            raise ImageError(f"apt-get download {SOURCE_PACKAGE} left no .deb")
        if progress:
            progress(f"unpacking {debs[0].name}")
        _run(["dpkg-deb", "-x", str(debs[0]), str(work / "deb")])
        tarballs = sorted((work / "deb" / "usr" / "src").glob(f"{SOURCE_PACKAGE}.tar.*"))
        if not tarballs:
            raise ImageError(f"{debs[0].name} holds no {SOURCE_PACKAGE}.tar.*")
        out = work / "out"
        out.mkdir()
        _run(["nice", "-n", "19", "tar", "-xf", str(tarballs[0]), "-C", str(out)], timeout=1800)
        if not (out / SOURCE_PACKAGE / "Makefile").exists():
            raise ImageError(f"{tarballs[0].name} did not unpack to {SOURCE_PACKAGE}/")
        store.publish(out, final)
    return tree


def built(source_version: str | None = None) -> Path | None:
    """The folder of the custom kernel for the current fragment, if it has been built.
    Without a version, the newest one built from this fragment (no apt-cache call)."""
    kernels = store.tier_dir("kernels")
    digest = fragment_digest()
    if source_version is not None:
        found = kernels / cache_name(source_version, digest)
        return found if (found / "vmlinuz").exists() else None
    hits = [d for d in kernels.glob(f"custom-*-{digest[:16]}") if (d / "vmlinuz").exists()]
    return max(hits, key=lambda d: d.stat().st_mtime) if hits else None


def ensure_built(progress: Progress | None = None, jobs: int | None = None) -> Path:
    """Build the custom kernel for the current fragment and source package (once; then the
    store's copy). Returns its folder, laid out like a Debian kernel's for kernel.py."""
    version = _source_version()
    found = built(version)
    if found is not None:
        return found
    for tool in ("make", "gcc", "bison", "flex", "bc"):
        if shutil.which(tool) is None:
            raise ImageError(
                f"building the custom kernel needs {tool}: "
                f"apt-get install --no-install-recommends {' '.join(BUILD_DEPS)}"
            )
    options = parse_fragment(FRAGMENT.read_text())
    final = store.tier_dir("kernels") / cache_name(version, fragment_digest())
    tree = _source_tree(version, progress)
    # One object folder per source version, kept between builds and locked while one runs:
    # after a change to the fragment, kbuild recompiles only what the changed options touch.
    build = tree.parent / "build"
    build.mkdir(exist_ok=True)
    with open(tree.parent / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = built(version)  # a racing builder finished it while we waited
        if found is not None:
            return found
        _compile(tree, build, version, options, final, progress, jobs)
    return final


def _compile(
    tree: Path,
    build: Path,
    version: str,
    options: dict[str, str],
    final: Path,
    progress: Progress | None,
    jobs: int | None,
) -> None:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    log = work / "build.log"
    make = ["nice", "-n", "19", "make", "-C", str(tree), f"O={build}", "ARCH=x86_64"]
    try:
        if progress:
            progress(f"configuring {SOURCE_PACKAGE} {version} (allnoconfig + {FRAGMENT.name})")
        _make([*make, f"KCONFIG_ALLCONFIG={FRAGMENT}", "allnoconfig"], log)
        _make([*make, "olddefconfig"], log)
        config = (build / ".config").read_text()
        lost = missing_options(options, config)
        if lost:
            raise ImageError(
                f"{FRAGMENT.name}: Kconfig did not keep {', '.join(lost)} "
                "(a dependency is off, or the name is wrong for this kernel)"
            )
        n = jobs or os.cpu_count() or 1
        if progress:
            progress(f"compiling the kernel (make -j{n} bzImage, nice 19; many minutes)")
        _make([*make, f"-j{n}", "bzImage"], log, progress)
        release = _run([*make[3:], "-s", "kernelrelease"]).strip()
        out = work / "out"
        out.mkdir()
        shutil.copyfile(build / "arch" / "x86" / "boot" / "bzImage", out / "vmlinuz")
        shutil.copyfile(build / ".config", out / "config")
        (out / "lib").mkdir()
        (out / "modules.order").write_text("")  # all built in: /init loads nothing
        (out / "version").write_text(release + "\n")
        (out / "build-seconds").write_text(f"{time.monotonic() - started:.0f}\n")
        shutil.copyfile(log, out / "build.log")
        store.publish(out, final)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.copyfile(log, final.with_name(f"{final.name}.failed.log"))
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def require_built() -> Path:
    """The built custom kernel's folder, or ImageMissing naming the command that builds it."""
    found = built()
    if found is None:
        raise ImageMissing(
            f"SANDLOT_MICROVM_KERNEL=custom, but the custom kernel for {FRAGMENT.name} "
            f"(digest {fragment_digest()[:16]}) is not built: run `{BUILD_COMMAND}` "
            "(many minutes: it compiles Linux)"
        )
    return found
