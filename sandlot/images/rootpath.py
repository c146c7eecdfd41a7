"""Paths inside a rootfs, resolved the way the guest would see them (chroot semantics).

The host writes into image folders that hold untrusted symlinks (an OCI layer may ship
`etc -> /etc` and then `etc/passwd`). Every write goes through `resolve()`, which follows
symlinks itself with the rootfs as `/`, so no path it returns can lie outside the rootfs.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ImageError

_MAX_LINKS = 40  # as the Linux kernel's limit on nested symlinks


def split(path: str) -> list[str]:
    """The components of a path inside the image; `..` is kept for `resolve` to clamp."""
    return [p for p in path.split("/") if p not in ("", ".")]


def resolve(root: Path, path: str, *, follow_last: bool = True) -> Path:
    """The host path of `path` in the image rooted at `root`.

    Symlinks are followed within the image: an absolute target restarts at `root`, and `..`
    never climbs above it. With follow_last=False the last component is left as is (so the
    caller can replace or create a symlink there).
    """
    todo = split(path)
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        here = root.joinpath(*done, part)
        if (todo or follow_last) and here.is_symlink():
            links += 1
            if links > _MAX_LINKS:
                raise ImageError(f"too many levels of symbolic links resolving {path!r}")
            target = os.readlink(here)
            if target.startswith("/"):
                done = []
            todo = split(target) + todo
            continue
        done.append(part)
    return root.joinpath(*done)


def inside(root: Path, host_path: Path) -> bool:
    """Whether `host_path` lies lexically within `root` (a last line of defence)."""
    try:
        host_path.relative_to(root)
    except ValueError:
        return False
    return ".." not in host_path.relative_to(root).parts


def write_file(root: Path, path: str, content: bytes, mode: int = 0o644) -> Path:
    """Create or replace a regular file at `path` in the image, parents as needed."""
    parent = resolve(root, os.path.dirname("/" + path.lstrip("/")))
    target = parent / os.path.basename(path)
    if not inside(root, target):  # pragma: no cover - resolve() cannot return that
        raise ImageError(f"refusing to write {path!r}: it resolves outside the image")
    _mkdirs(root, parent)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.chmod(target, mode)
    return target


def _mkdirs(root: Path, folder: Path) -> None:
    """mkdir -p for a folder already resolved inside `root` (a component that is a symlink
    at this point was created by a racing writer; refuse rather than follow it)."""
    rel = folder.relative_to(root).parts
    here = root
    for part in rel:
        here = here / part
        if here.is_symlink():
            raise ImageError(f"{here} became a symlink while writing into the image")
        if not here.exists():
            here.mkdir(mode=0o755)
