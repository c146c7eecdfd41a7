"""Import an OCI image layout tarball or a `docker save` tarball as a rootfs.

The tarball is untrusted. Layers are applied in order by our own code (never
`tarfile.extractall`): a member named absolutely or with `..` fails the import, every path
is resolved inside the rootfs with `rootpath.resolve` (so `link -> /etc` then `link/x`
lands in the image's /etc, not the host's), device nodes are skipped, and set-uid/set-gid
bits are dropped (the rootfs lives on the host, where a set-uid file would be a way up).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..errors import ImageError
from .rootpath import inside, resolve, split
from .store import remove_tree

Progress = Callable[[str], None]

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_MEDIA_INDEX = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


class _Hashing:
    """A read-only stream that hashes what passes through it (to check a layer's digest)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        return data

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return "sha256:" + self.hash.hexdigest()


class Source:
    """What an image tarball holds: its identity, a suggested name, and its layers."""

    def __init__(self, tar: tarfile.TarFile, path: Path) -> None:
        self.tar = tar
        self.path = path
        self.names = {self._norm(m.name): m for m in tar.getmembers()}
        self.layers: list[tuple[str, str | None]] = []  # (member name, expected digest)
        self.digest = ""
        self.suggested_name: str | None = None
        if "index.json" in self.names:
            self._read_oci()
        elif "manifest.json" in self.names:
            self._read_docker()
        else:
            raise ImageError(
                f"import {path}: neither an OCI layout (index.json) nor a `docker save` "
                "tarball (manifest.json)"
            )

    @staticmethod
    def _norm(name: str) -> str:
        return "/".join(split(name))

    def read(self, name: str, limit: int = 16 << 20) -> bytes:
        m = self.names.get(self._norm(name))
        if m is None or not m.isfile():
            raise ImageError(f"import {self.path}: the tarball has no file {name!r}")
        if m.size > limit:
            raise ImageError(f"import {self.path}: {name!r} is implausibly large ({m.size} B)")
        f = self.tar.extractfile(m)
        assert f is not None
        return f.read()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except ValueError as e:
            raise ImageError(f"import {self.path}: {name!r} is not valid JSON: {e}") from None

    @staticmethod
    def _blob(digest: str) -> str:
        m = re.fullmatch(r"(sha256|sha512):([0-9a-f]{64,128})", str(digest))
        if not m:
            raise ImageError(f"malformed blob digest {digest!r}")
        return f"blobs/{m.group(1)}/{m.group(2)}"

    def _read_oci(self) -> None:
        desc = self._pick(self.json("index.json"))
        for _ in range(4):  # an index may point at a nested index (multi-platform)
            if desc.get("mediaType") not in _MEDIA_INDEX:
                break
            desc = self._pick(self.json(self._blob(desc["digest"])))
        raw = self.read(self._blob(desc["digest"]))
        self.digest = hashlib.sha256(raw).hexdigest()
        if "sha256:" + self.digest != desc["digest"]:
            raise ImageError(f"import {self.path}: the manifest does not match its digest")
        manifest = json.loads(raw)
        notes = desc.get("annotations") or {}
        # docker 25+ writes an OCI layout with a manifest.json beside it: its tag is fuller
        # than the layout's ref.name ("latest").
        tags: list[str] = []
        if "manifest.json" in self.names:
            with contextlib.suppress(ImageError, AttributeError, IndexError, TypeError):
                tags = list(self.json("manifest.json")[0].get("RepoTags") or [])
        self.suggested_name = (
            (tags[0] if tags else None)
            or notes.get("io.containerd.image.name")
            or notes.get("org.opencontainers.image.ref.name")
        )
        for layer in manifest.get("layers", []):
            media = str(layer.get("mediaType", ""))
            if "zstd" in media:
                raise ImageError(
                    f"import {self.path}: zstd-compressed layers are not supported; "
                    "re-export with gzip (e.g. `skopeo copy --dest-compress-format gzip`)"
                )
            self.layers.append((self._blob(layer["digest"]), str(layer["digest"])))

    def _pick(self, index: Any) -> dict[str, Any]:
        manifests = index.get("manifests") if isinstance(index, dict) else None
        if not manifests:
            raise ImageError(f"import {self.path}: the image index lists no manifests")

        def score(d: dict[str, Any]) -> int:
            p = d.get("platform") or {}
            return int(p.get("os") in (None, "linux")) + int(
                p.get("architecture") in (None, "amd64")
            )

        best: dict[str, Any] = max(manifests, key=score)
        return best

    def _read_docker(self) -> None:
        manifest = self.json("manifest.json")
        if not isinstance(manifest, list) or not manifest:
            raise ImageError(f"import {self.path}: manifest.json lists no image")
        entry = manifest[0]
        config = self.read(entry["Config"])
        self.digest = hashlib.sha256(config).hexdigest()
        tags = entry.get("RepoTags") or []
        self.suggested_name = tags[0] if tags else None
        self.layers = [(str(name), None) for name in entry.get("Layers", [])]

    def open_layer(self, name: str) -> IO[bytes]:
        m = self.names.get(self._norm(name))
        if m is None or not m.isfile():
            raise ImageError(f"import {self.path}: layer {name!r} is missing from the tarball")
        f = self.tar.extractfile(m)
        assert f is not None
        return f


def apply_layer(
    root: Path, stream: IO[bytes], *, label: str, as_root: bool, progress: Progress
) -> None:
    """Apply one layer (a tar, gzip'ed or not) onto `root`, whiteouts included."""
    added: set[str] = set()
    dir_modes: list[tuple[Path, int, float]] = []
    skipped = 0
    try:
        layer = tarfile.open(fileobj=stream, mode="r|*")
    except tarfile.TarError as e:
        raise ImageError(f"{label}: not a tar archive: {e}") from None
    with layer:
        try:
            for m in layer:
                try:
                    skipped += _apply_member(root, layer, m, added, dir_modes, as_root, label)
                except OSError as e:  # e.g. a path through a file a lower layer made
                    raise ImageError(f"{label}: cannot apply {m.name!r}: {e.strerror}") from None
        except tarfile.TarError as e:
            raise ImageError(f"{label}: corrupt layer: {e}") from None
    for path, mode, mtime in reversed(dir_modes):  # deepest last-seen first
        with contextlib.suppress(OSError):
            os.chmod(path, mode)
            os.utime(path, (mtime, mtime))
    if skipped:
        progress(f"{label}: skipped {skipped} device node(s)")


def _checked_name(name: str, label: str) -> list[str]:
    if name.startswith("/") or "\0" in name:
        raise ImageError(f"{label}: refusing absolute member path {name!r}")
    parts = split(name)
    if ".." in parts:
        raise ImageError(f"{label}: refusing member path with '..': {name!r}")
    return parts


def _apply_member(
    root: Path,
    layer: tarfile.TarFile,
    m: tarfile.TarInfo,
    added: set[str],
    dir_modes: list[tuple[Path, int, float]],
    as_root: bool,
    label: str,
) -> int:
    parts = _checked_name(m.name, label)
    if not parts:  # the layer's "./" itself
        return 0
    rel = "/".join(parts)
    base = parts[-1]
    parent = resolve(root, "/".join(parts[:-1]))
    if not inside(root, parent):  # pragma: no cover - resolve() cannot return that
        raise ImageError(f"{label}: {m.name!r} resolves outside the image")
    if base == OPAQUE:
        if parent.is_dir():
            _prune(root, parent, "/".join(parts[:-1]), added)
        return 0
    if base.startswith(WHITEOUT):
        gone = base[len(WHITEOUT) :]
        if gone not in ("", ".", ".."):  # Path() would fold "x/." into "x": check the text
            remove_tree(parent / gone)
        return 0
    if m.ischr() or m.isblk():
        return 1
    _makedirs(root, parent)
    target = parent / base
    added.add(rel)
    mode = m.mode & 0o1777  # no set-uid / set-gid on the host
    if m.isdir():
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            remove_tree(target)
        if not target.exists():
            target.mkdir(mode=0o700)
        os.chmod(target, 0o755 | stat.S_IWUSR)  # writable until the layer is done
        dir_modes.append((target, mode, float(m.mtime)))
    else:
        if target.is_symlink() or target.exists():
            remove_tree(target)
        if m.isfile():
            src = layer.extractfile(m)
            assert src is not None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.chmod(target, mode)
        elif m.issym():
            os.symlink(m.linkname, target)
        elif m.islnk():
            lparts = _checked_name(m.linkname, label)
            lparent = resolve(root, "/".join(lparts[:-1]))
            source = lparent / lparts[-1] if lparts else lparent
            if not inside(root, source) or not source.is_file() or source.is_symlink():
                raise ImageError(
                    f"{label}: hard link {m.name!r} -> {m.linkname!r} has no regular file "
                    "inside the image to point at"
                )
            os.link(source, target, follow_symlinks=False)
            return 0
        elif m.isfifo():
            os.mkfifo(target, mode)
        else:
            return 1
    if as_root:
        with contextlib.suppress(OSError):
            os.lchown(target, m.uid, m.gid)
            if not m.issym() and not m.isdir():
                os.chmod(target, mode)  # chown clears set-id bits; mode has none anyway
    if not m.isdir():
        with contextlib.suppress(OSError):
            os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)
    return 0


def _makedirs(root: Path, folder: Path) -> None:
    rel = folder.relative_to(root).parts
    here = root
    for part in rel:
        here = here / part
        if here.is_symlink():  # resolve() followed every symlink; this one is new: refuse
            raise ImageError(f"{here} changed under the import")
        if not here.exists():
            here.mkdir(mode=0o755)


def _prune(root: Path, folder: Path, rel: str, added: set[str]) -> None:
    """An opaque folder: drop what lower layers put there, keep this layer's entries."""
    for child in list(folder.iterdir()):
        crel = f"{rel}/{child.name}" if rel else child.name
        if crel not in added:
            remove_tree(child)
        elif child.is_dir() and not child.is_symlink():
            _prune(root, child, crel, added)


def import_into(path: Path, root: Path, *, progress: Progress) -> Source:
    """Apply every layer of the tarball at `path` onto the empty folder `root`."""
    try:
        tar = tarfile.open(path, mode="r:*")
    except (OSError, tarfile.TarError) as e:
        raise ImageError(f"import {path}: cannot read the tarball: {e}") from None
    with tar:
        src = Source(tar, path)
        root.mkdir(mode=0o755, exist_ok=True)
        as_root = os.geteuid() == 0
        for i, (name, expected) in enumerate(src.layers, 1):
            label = f"layer {i}/{len(src.layers)}"
            progress(f"applying {label}")
            raw = _Hashing(src.open_layer(name))
            apply_layer(root, raw, label=label, as_root=as_root, progress=progress)  # type: ignore[arg-type]
            if expected is not None and expected.startswith("sha256:"):
                got = raw.drain()
                if got != expected:
                    raise ImageError(
                        f"import {path}: {label} is {got}, its manifest says {expected}"
                    )
        os.chmod(root, 0o755)
        return src
