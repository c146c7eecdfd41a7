"""The content-addressed local image store.

Layout under `store_root()`::

    images/<digest>/rootfs/       the image's root filesystem
    images/<digest>/image.json    name, digest, recipe, size, created, source (written last)
    images/.tmp-<pid>-<rand>/     an image being built or imported (never read as an image)
    images/.trash-<pid>-<rand>/   an image being removed
    images/.locks/<digest>.lock   held while an image of that digest is built or changed

An image appears only by renaming a complete work folder into place, so a reader never sees
a half-built one; work folders whose process died are swept up by the next store operation.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ImageError, InvalidArgument, NotFound
from .recipe import Recipe, from_dict

META = "image.json"
_WORK_PREFIXES = (".tmp-", ".trash-")


@dataclass(frozen=True)
class Image:
    """One image in the store. `source` is "build" (from a recipe) or "import" (OCI)."""

    name: str
    digest: str
    rootfs: Path
    size: int
    created: float
    source: str
    recipe: Recipe | None

    @property
    def short_digest(self) -> str:
        return self.digest[:12]

    @property
    def path(self) -> Path:
        """The image's folder (rootfs and image.json)."""
        return self.rootfs.parent


def store_root() -> Path:
    """`$SANDLOT_HOME`, else `~/.local/share/sandlot`."""
    home = os.environ.get("SANDLOT_HOME")
    return Path(home) if home else Path.home() / ".local" / "share" / "sandlot"


def images_dir() -> Path:
    d = store_root() / "images"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, deepest first (from /proc/self/mountinfo)."""
    real = os.path.realpath(path)
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4:
                    point = _unescape(fields[4])
                    if point == real or point.startswith(real + "/"):
                        found.append(point)
    except OSError:
        return []
    return sorted(found, key=len, reverse=True)


def unmount_under(path: Path) -> None:
    """Detach whatever is mounted inside `path` (debootstrap mounts /proc, /sys and maybe
    host devices into its target and leaves them mounted when it is killed); refuse to go
    on while anything stays mounted, so a delete never reaches into the host's /proc or /dev.
    """
    for point in mounts_under(path):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=60, check=False)
    left = mounts_under(path)
    if left:
        raise ImageError(
            f"refusing to delete {path}: {', '.join(left)} is still mounted there "
            "(unmount it, then try again)"
        )


def remove_tree(path: Path) -> None:
    """rmtree that also works on trees with read-only folders (as OCI layers may hold),
    and never descends into something mounted inside the tree."""
    if path.is_dir() and not path.is_symlink():
        unmount_under(path)

    def fix(func: Any, p: str, exc: BaseException) -> None:
        if isinstance(exc, FileNotFoundError):
            return
        parent = os.path.dirname(p)
        with contextlib.suppress(OSError):
            os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(p) and not os.path.islink(p):
            with contextlib.suppress(OSError):
                os.chmod(p, stat.S_IRWXU)
        func(p)

    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=fix)
    else:
        shutil.rmtree(path, onerror=lambda f, p, ei: fix(f, p, ei[1]))


def tree_size(path: Path) -> int:
    """Disk usage in bytes (like `du -s`), each hard-linked inode counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for d, dirs, files in os.walk(path):
        for n in dirs + files:
            try:
                st = os.lstat(os.path.join(d, n))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += st.st_blocks * 512
    return total


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> None:
    """Remove work folders left by processes that died mid-build (or mid-removal)."""
    root = images_dir()
    for entry in root.iterdir():
        if not entry.name.startswith(_WORK_PREFIXES):
            continue
        try:
            pid = int(entry.name.split("-")[1])
        except (IndexError, ValueError):
            pid = -1
        if pid != os.getpid() and (pid <= 0 or not _pid_alive(pid)):
            remove_tree(entry)


@contextlib.contextmanager
def lock(digest: str) -> Iterator[None]:
    """Serialise builds and changes of one digest across processes."""
    locks = images_dir() / ".locks"
    locks.mkdir(exist_ok=True)
    with open(locks / f"{digest}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _work_dir(kind: str) -> Path:
    d = images_dir() / f".{kind}-{os.getpid()}-{secrets.token_hex(6)}"
    d.mkdir(mode=0o755)
    return d


class Staging:
    """A work folder that becomes the image `digest` on `commit`, or vanishes.

    Use as a context manager; leaving it without a commit (an error, Ctrl-C) removes the
    folder, and a killed process leaves a folder `sweep()` removes later.
    """

    def __init__(self, digest: str) -> None:
        self.digest = digest
        self.dir = _work_dir("tmp")
        self.rootfs = self.dir / "rootfs"
        self.committed = False

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            remove_tree(self.dir)

    def commit(
        self, *, name: str, source: str, recipe: Recipe | None, extra: dict[str, Any] | None = None
    ) -> Image:
        """Write image.json and rename the folder into place (replacing an older image of
        the same digest, as `build --force` does). The caller holds `lock(digest)`."""
        if not self.rootfs.is_dir():
            raise ImageError(f"internal: staging for {self.digest[:12]} has no rootfs")
        meta: dict[str, Any] = {
            "name": name,
            "digest": self.digest,
            "recipe": recipe.model_dump(mode="json") if recipe else None,
            "size": tree_size(self.rootfs),
            "created": time.time(),
            "source": source,
        }
        if extra:
            meta.update(extra)
        write_json_atomic(self.dir / META, meta)
        final = images_dir() / self.digest
        old: Path | None = None
        if final.exists():
            old = _work_dir("trash") / "old"
            os.rename(final, old)
        os.rename(self.dir, final)
        self.committed = True
        if old is not None:
            remove_tree(old.parent)
        image = read_image(final)
        if image is None:  # pragma: no cover - we just wrote it
            raise ImageError(f"image {self.digest[:12]} did not read back after commit")
        return image


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_image(folder: Path) -> Image | None:
    """The image in `folder`, or None when it is not a complete image."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        rec = meta.get("recipe")
        recipe = from_dict(rec, source=str(folder / META)) if rec else None
        image = Image(
            name=str(meta["name"]),
            digest=str(meta["digest"]),
            rootfs=folder / "rootfs",
            size=int(meta["size"]),
            created=float(meta["created"]),
            source=str(meta["source"]),
            recipe=recipe,
        )
    except (OSError, ValueError, KeyError, TypeError, InvalidArgument):
        return None
    if image.digest != folder.name or not image.rootfs.is_dir():
        return None
    return image


def all_images() -> list[Image]:
    """Every complete image, by name then newest first."""
    root = images_dir()
    sweep()
    found = []
    for entry in root.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        image = read_image(entry)
        if image is not None:
            found.append(image)
    found.sort(key=lambda i: (i.name, -i.created))
    return found


def by_digest(digest: str) -> Image | None:
    if not digest or "/" in digest or digest.startswith("."):
        return None
    return read_image(images_dir() / digest)


def rename(image: Image, name: str) -> Image:
    """Give an image another name (importing the same tarball under a new name)."""
    meta = json.loads((image.path / META).read_text(encoding="utf-8"))
    meta["name"] = name
    write_json_atomic(image.path / META, meta)
    new = read_image(image.path)
    if new is None:  # pragma: no cover
        raise ImageError(f"image {image.short_digest} did not read back after renaming")
    return new


def remove(name_or_digest: str) -> list[Image]:
    """Remove every image of that name, or the one image whose digest starts with it.

    Each is first renamed out of place (atomic), then deleted.
    """
    images = all_images()
    chosen = [i for i in images if i.name == name_or_digest]
    if (
        not chosen
        and len(name_or_digest) >= 4
        and all(c in "0123456789abcdef" for c in name_or_digest)
    ):
        chosen = [i for i in images if i.digest.startswith(name_or_digest)]
        if len(chosen) > 1:
            raise InvalidArgument(
                f"digest prefix {name_or_digest!r} matches {len(chosen)} images; give more of it"
            )
    if not chosen:
        raise NotFound(f"no image named {name_or_digest!r} and no digest starting with it")
    for image in chosen:
        with lock(image.digest):
            trash = _work_dir("trash")
            try:
                os.rename(image.path, trash / "old")
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
            remove_tree(trash)
    return chosen
