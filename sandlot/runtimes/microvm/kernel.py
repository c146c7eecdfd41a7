"""The guest kernel and its initramfs.

Debian's own kernel package (`linux-image-amd64`'s current dependency), unpacked with
`dpkg-deb` into sandlot's store, never installed on the host. Its config has virtio,
virtio-mmio, virtio-blk, virtio-console and ext4 as modules (`=m`), so the VM boots with a
small initramfs: a static C /init (see `init_c.py`) plus exactly those modules and their
dependencies, in load order from the package's `modules.dep`. The initramfs also carries
the host's current guest agent, bound over `/opt/sandlot` in the guest, so the agent inside
always matches the host that speaks to it, whatever image the disk came from.

`SANDLOT_MICROVM_KERNEL=custom` picks sandlot's own kernel instead (`custom_kernel.py`:
built from Debian's `linux-source-6.1` with everything built in): its initramfs is the same
but with an empty module list. It is built only on request (`sandlot image build --kernel
--custom-kernel`); asked for and not built, opening a sandbox says how to build it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ...errors import ImageError
from . import custom_kernel, init_c, store

Progress = Callable[[str], None]

PACKAGE = "linux-image-amd64"
# What the guest needs from the kernel, by module name; dependencies are added from
# modules.dep. crc32c_generic: ext4's metadata checksums ask the crypto API for crc32c,
# which with no modprobe in the guest must already be loaded.
MODULES = (
    "virtio_mmio",
    "virtio_blk",
    "virtio_console",
    "virtio-rng",
    "virtio_net",  # the NIC every VM has (network.py); net_failover and failover come with it
    "crc32c_generic",
    "ext4",
)
AGENT_PACKAGE = "sandlot_guest"
CHOICES = ("debian", "custom")
_override: str | None = None  # set by `selected()`, over the environment


@dataclass(frozen=True)
class Kernel:
    """An unpacked kernel: its image, its chosen modules in load order, and the initramfs."""

    version: str
    vmlinuz: Path
    initrd: Path

    @property
    def digest(self) -> str:
        return self.initrd.name.removeprefix("initrd-").removesuffix(".cpio")


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 600) -> str:
    return store.run_step("building the microvm kernel", argv, cwd, timeout)


def _package_name() -> str:
    """The versioned package `linux-image-amd64` points at (e.g. linux-image-6.1.0-56-amd64)."""
    for line in _run(["apt-cache", "depends", PACKAGE]).splitlines():
        word = line.strip().removeprefix("Depends:").strip()
        if word.startswith("linux-image-") and word != PACKAGE:
            return word
    raise ImageError(f"apt-cache knows no kernel behind {PACKAGE}; run apt-get update")


def _depends(ko: Path) -> list[str]:
    """A module's dependencies, from the `depends=` string in its .modinfo section (the
    package ships no modules.dep: depmod makes that at install time)."""
    data = ko.read_bytes()
    at = data.find(b"\0depends=")
    if at < 0:
        return []
    value = data[at + 9 : data.index(b"\0", at + 9)].decode()
    return [d for d in value.split(",") if d]


def _load_order(moddir: Path, wanted: tuple[str, ...]) -> list[Path]:
    """Module files with every dependency before its user."""
    by_name = {ko.name.split(".ko")[0].replace("-", "_"): ko for ko in moddir.rglob("*.ko")}
    order: list[Path] = []

    def visit(name: str) -> None:
        key = name.replace("-", "_")
        if key not in by_name:
            raise ImageError(f"the kernel package has no module {name}")
        ko = by_name[key]
        if ko in order:
            return
        for dep in _depends(ko):
            visit(dep)
        order.append(ko)

    for name in wanted:
        visit(name)
    return order


def _unpacked_dir(package: str) -> Path:
    """kernels/NAME+DIGEST: the digest of the module list, so a sandlot that loads another
    module (virtio_net, for the NIC) unpacks again rather than booting without it."""
    wanted = hashlib.sha256("\n".join(MODULES).encode()).hexdigest()[:12]
    return store.tier_dir("kernels") / f"{package}+{wanted}"


def _unpack(package: str, progress: Progress | None) -> Path:
    """Download the package and keep vmlinuz and the modules we load under kernels/NAME+."""
    final = _unpacked_dir(package)
    if (final / "modules.order").exists():
        return final
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise ImageError("the microvm kernel comes from Debian's package: apt-get is missing")
    if progress:
        progress(f"downloading {package}")
    with tempfile.TemporaryDirectory(prefix="sandlot-kernel-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # apt's download user may write here
        _run(["apt-get", "download", "-q", package], cwd=work)
        debs = sorted(work.glob("*.deb"))
        if not debs:
            raise ImageError(f"apt-get download {package} left no .deb")
        if progress:
            progress(f"unpacking {debs[0].name}")
        tree = work / "x"
        _run(["dpkg-deb", "-x", str(debs[0]), str(tree)])
        vmlinuz = sorted((tree / "boot").glob("vmlinuz-*"))
        moddirs = sorted((tree / "lib" / "modules").glob("*"))
        if not vmlinuz or not moddirs:
            raise ImageError(f"{debs[0].name} holds no vmlinuz or no modules")
        order = _load_order(moddirs[0], MODULES)
        out = Path(tempfile.mkdtemp(prefix=f".{package}-", dir=final.parent))
        (out / "lib").mkdir()
        shutil.copyfile(vmlinuz[0], out / "vmlinuz")
        names = []
        for ko in order:
            shutil.copyfile(ko, out / "lib" / ko.name)
            names.append(ko.name)
        (out / "version").write_text(moddirs[0].name + "\n")
        (out / "modules.order").write_text("\n".join(names) + "\n")
        store.publish(out, final)
    return final


def _agent_files() -> list[tuple[str, bytes]]:
    """The guest agent package as (path inside the initramfs, bytes)."""
    from ... import guest

    src = Path(guest.__file__).parent
    files = [src / "__init__.py", *sorted((src / "agent").glob("*.py"))]
    return [
        (f"sandlot/{AGENT_PACKAGE}/{f.relative_to(src).as_posix()}", f.read_bytes()) for f in files
    ]


def _compile_init(work: Path) -> bytes:
    if shutil.which("gcc") is None:
        raise ImageError("building the microvm initramfs needs gcc: apt-get install gcc libc6-dev")
    (work / "init.c").write_text(init_c.SOURCE)
    _run(["gcc", "-static", "-Os", "-s", "-o", str(work / "init"), str(work / "init.c")])
    return (work / "init").read_bytes()


class _Cpio:
    """A `newc` cpio archive, written from Python: no host tools, reproducible bytes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 0

    def add(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        self.ino += 1
        encoded = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.parts.append(_pad(header + encoded))
        self.parts.append(_pad(data))

    def bytes(self) -> bytes:
        self.add("TRAILER!!!", 0)
        return b"".join(self.parts)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _initrd(kdir: Path, progress: Progress | None) -> Path:
    agent = _agent_files()
    h = hashlib.sha256(init_c.SOURCE.encode())
    h.update((kdir / "modules.order").read_bytes())
    for name, data in agent:
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    final = kdir / f"initrd-{h.hexdigest()[:16]}.cpio"
    if final.exists():
        return final
    if progress:
        progress("building the microvm initramfs")
    with tempfile.TemporaryDirectory(prefix="sandlot-initrd-") as tmp:
        init = _compile_init(Path(tmp))
    cpio = _Cpio()
    for d in ("dev", "proc", "root", "lib", "sandlot"):
        cpio.add(d, stat.S_IFDIR | 0o755)
    cpio.add("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    cpio.add("init", stat.S_IFREG | 0o755, init)
    order = (kdir / "modules.order").read_text()
    cpio.add("modules", stat.S_IFREG | 0o644, order.encode())
    for name in order.split():
        cpio.add(f"lib/{name}", stat.S_IFREG | 0o644, (kdir / "lib" / name).read_bytes())
    made: set[str] = set()
    for name, data in agent:
        parent = name.rsplit("/", 1)[0]
        parts = parent.split("/")
        for i in range(2, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in made:
                made.add(sub)
                cpio.add(sub, stat.S_IFDIR | 0o755)
        cpio.add(name, stat.S_IFREG | 0o644, data)
    work = final.with_name(f".{final.name}.{os.getpid()}")
    work.write_bytes(cpio.bytes())
    store.publish(work, final)
    return final


_PACKAGE_NAME = re.compile(r"linux-image-[0-9][A-Za-z0-9.+~-]*")  # a file name, never a path


def _chosen_package(refresh: bool) -> str:
    """The kernel package in use: asked of apt once (about 2 s) and remembered in the store,
    so opening a sandbox does not ask again; `refresh` asks again (a newer kernel)."""
    note = store.tier_dir("kernels") / "chosen"
    if not refresh:
        with contextlib.suppress(OSError):
            name = note.read_text().strip()
            if _PACKAGE_NAME.fullmatch(name) and (_unpacked_dir(name) / "modules.order").exists():
                return name
    name = _package_name()
    work = note.with_name(f".chosen.{os.getpid()}")
    work.write_text(name + "\n")
    store.publish(work, note)
    return name


def choice() -> str:
    """Which kernel: "debian" (the default) or "custom" (`SANDLOT_MICROVM_KERNEL`)."""
    value = _override or os.environ.get("SANDLOT_MICROVM_KERNEL", "").strip().lower() or "debian"
    if value not in CHOICES:
        raise ImageError(f"SANDLOT_MICROVM_KERNEL={value!r}: expected one of {', '.join(CHOICES)}")
    return value


@contextlib.contextmanager
def selected(which: str) -> Iterator[None]:
    """Use kernel `which` within the block (this process), whatever the environment says."""
    global _override
    if which not in CHOICES:
        raise ImageError(f"no kernel {which!r}: expected one of {', '.join(CHOICES)}")
    before, _override = _override, which
    try:
        yield
    finally:
        _override = before


def _kernel_in(kdir: Path, progress: Progress | None) -> Kernel:
    return Kernel(
        version=(kdir / "version").read_text().strip(),
        vmlinuz=kdir / "vmlinuz",
        initrd=_initrd(kdir, progress),
    )


@functools.lru_cache(maxsize=len(CHOICES))
def _ready_kernel(which: str) -> Kernel:
    if which == "custom":
        return _kernel_in(custom_kernel.require_built(), None)
    return _kernel_in(_unpacked_dir(_chosen_package(refresh=False)), None)


def build_custom(progress: Progress | None = None) -> Kernel:
    """Build sandlot's own kernel (once per fragment and source version: many minutes) and
    its initramfs."""
    _ready_kernel.cache_clear()
    return _kernel_in(custom_kernel.ensure_built(progress), progress)


def ensure_kernel(progress: Progress | None = None, refresh: bool = False) -> Kernel:
    """The guest kernel and initramfs, downloaded and built once, then taken from the store
    (and, within a process, from memory: every sandbox open asks for it). With
    `SANDLOT_MICROVM_KERNEL=custom`, sandlot's own kernel, which `refresh` builds if it is
    missing and which is otherwise never built here (see `custom_kernel.require_built`)."""
    which = choice()
    if not refresh:
        with contextlib.suppress(OSError):
            return _ready_kernel(which)
    if which == "custom":
        return build_custom(progress) if refresh else _ready_kernel(which)
    _ready_kernel.cache_clear()
    return _kernel_in(_unpack(_chosen_package(refresh), progress), progress)
