"""The server's registry: its image store's images, and each API key's named snapshots,
as `name:tag` entries and tar blobs.

A snapshot (`kind: "snapshot"`) is listed only to the key that made it, under the name the
key gave it, tagged like an image; its blob is a tar of its folder (`meta.json`, `state/`),
packed on first listing and kept while the snapshot is.

Each image is offered under two tags: the first 12 hex digits of its store digest, and
`latest` for the newest image of its name. Its blob (a tar of the rootfs) is packed once,
on first listing, into `<data>/registry/` and kept while the image is; the listing gives
the blob's size and sha256 so a client can check what it downloads. Pushes, when the
server allows them, are verified against the digest the client sends and installed into
the server's store with the same code a pull uses. A pushed snapshot (`?kind=snapshot`)
becomes the pushing key's snapshot of that name, unpacked in a work folder beside the
snapshot store with the snapshot member filter and renamed in only when whole; it never
replaces one the key has (`SnapshotExists`, answered 409).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from .. import wire
from ..errors import ImageError, InvalidArgument, LimitExceeded, NotFound, Unsupported
from ..runtimes.hostfs import remove_tree, tree_size
from ..sdk.registry_client import install, pack, unpack

log = logging.getLogger("sandlot.server")

# Snapshot tiers whose saved state is safe to take from a client (see install_snapshot).
PUSHABLE_TIERS = ("wasm",)
IMAGE_TIERS = ("process", "gvisor", "microvm")
"""The tiers that run an image's rootfs (the default for an image without a recipe)."""


class RegistryEntry(BaseModel):
    name: str
    tag: str
    ref: str
    digest: str  # sha256:<hex> of the blob
    size: int  # bytes of the blob
    image_digest: str  # the image's digest in the server's store
    tiers: list[str]
    source: str
    created: float
    kind: str = "image"  # or "snapshot"


class RegistryList(BaseModel):
    entries: list[RegistryEntry]


def _images() -> list[Any]:
    try:
        from .. import images
    except ImportError:  # a sandlot without the image store: nothing to offer
        return []
    return list(images.list_images())


class Registry:
    def __init__(self, data_dir: Path, *, allow_push: bool, max_push_bytes: int) -> None:
        self.dir = Path(data_dir) / "registry"
        self.allow_push = allow_push
        self.max_push_bytes = max_push_bytes
        self._lock = threading.Lock()
        self._packing: dict[str, threading.Lock] = {}

    def _blob(self, image: Any) -> tuple[Path, str, int]:
        """The image's tar, packed now if it is not yet: (path, sha256, size)."""
        key = f"{image.digest}-{int(image.created * 1000)}"  # a forced rebuild: a new blob
        return self._packed(key, image.rootfs, f"image {image.name} {image.digest[:12]}")

    def _packed(self, key: str, folder: Path, what: str) -> tuple[Path, str, int]:
        """`folder` packed as `<key>.tar` (once): (path, sha256, size)."""
        path, meta = self.dir / f"{key}.tar", self.dir / f"{key}.json"
        with self._lock:
            lock = self._packing.setdefault(key, threading.Lock())
        with lock:
            try:
                known = json.loads(meta.read_text())
                if path.stat().st_size == known["size"]:
                    return path, str(known["sha256"]), int(known["size"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            log.info("packing %s for the registry", what)
            sha, size = pack(folder, path)
            meta.write_text(json.dumps({"sha256": sha, "size": size}))
            return path, sha, size

    def snapshot_entries(self, owner: str) -> list[tuple[RegistryEntry, Path]]:
        """The key's named snapshots, each as NAME:<12 hex of its blob> and NAME:latest."""
        from ..sdk import saved

        found: list[tuple[RegistryEntry, Path]] = []
        prefix = f"{owner}."
        mine = _short(owner)
        keep: set[str] = set()
        for snap in saved.snapshots():
            if not snap.name.startswith(prefix):
                continue
            name = snap.name.removeprefix(prefix)
            if not wire.NAME_RE.match(name):
                continue
            key = f"snap-{mine}-{_short(name)}-{int(snap.created * 1000)}"
            try:
                path, sha, size = self._packed(
                    key, saved.data_root() / "snapshots" / snap.name, f"snapshot {name}"
                )
            except OSError as e:
                log.warning("cannot pack snapshot %s: %s", snap.name, e)
                continue
            keep.add(key)
            for tag in (sha[:12], "latest"):
                entry = RegistryEntry(
                    name=name,
                    tag=tag,
                    ref=f"{name}:{tag}",
                    digest=f"sha256:{sha}",
                    size=size,
                    image_digest="",
                    tiers=[snap.tier],
                    source="snapshot",
                    created=snap.created,
                    kind="snapshot",
                )
                found.append((entry, path))
        self._prune(keep, f"snap-{mine}-")
        return found

    def entries(self, owner: str | None = None) -> list[tuple[RegistryEntry, Path]]:
        """The images, then (for `owner`) that key's snapshots."""
        images = self.image_entries()
        return images + (self.snapshot_entries(owner) if owner is not None else [])

    def image_entries(self) -> list[tuple[RegistryEntry, Path]]:
        found: list[tuple[RegistryEntry, Path]] = []
        seen: set[str] = set()
        keep: set[str] = set()
        for image in _images():  # by name, newest first
            if not wire.NAME_RE.match(image.name):
                continue  # a name the refs can't carry (a '/' or ':')
            try:
                path, sha, size = self._blob(image)
            except (OSError, ImageError) as e:
                log.warning("cannot pack image %s: %s", image.name, e)
                continue
            keep.add(path.stem)
            tiers = list(image.recipe.tiers) if image.recipe is not None else list(IMAGE_TIERS)
            tags = [image.digest[:12]] + (["latest"] if image.name not in seen else [])
            seen.add(image.name)
            for tag in tags:
                entry = RegistryEntry(
                    name=image.name,
                    tag=tag,
                    ref=f"{image.name}:{tag}",
                    digest=f"sha256:{sha}",
                    size=size,
                    image_digest=image.digest,
                    tiers=tiers,
                    source=image.source,
                    created=image.created,
                )
                found.append((entry, path))
        self._prune(keep, "")
        return found

    def _prune(self, keep: set[str], prefix: str) -> None:
        """Blobs of images (prefix "") or of one key's snapshots no longer here go."""
        with contextlib.suppress(OSError):
            for f in self.dir.iterdir():
                stem = f.name.split(".", 1)[0]
                if stem in keep or f.suffix not in (".tar", ".json"):
                    continue
                if stem.startswith("snap-") if prefix else not stem.startswith("snap-"):
                    if stem.startswith(prefix):
                        f.unlink(missing_ok=True)

    def find(
        self, name: str, tag: str, owner: str | None = None, kind: str | None = None
    ) -> tuple[RegistryEntry, Path]:
        for entry, path in self.entries(owner):
            if entry.name == name and entry.tag == tag and kind in (None, entry.kind):
                return entry, path
        raise NotFound(f"no {kind or 'image or snapshot'} {name}:{tag} in this registry")

    def check_push(self, name: str, tag: str, digest: str, declared: str) -> str:
        """The sha256 a push must have, after the checks that need no body."""
        if not self.allow_push:
            raise Unsupported("this server does not accept pushes (start it with --allow-push)")
        wire.parse_ref(f"{name}:{tag}")
        want = digest.removeprefix("sha256:")
        if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
            raise ImageError(f"a push needs a {wire.DIGEST_HEADER}: sha256:<hex> header")
        if declared.isdigit() and int(declared) > self.max_push_bytes:
            raise self.too_big()
        return want

    def too_big(self) -> LimitExceeded:
        return LimitExceeded(
            "file_size", f"the upload is larger than this server accepts ({self.max_push_bytes} B)"
        )

    def snapshot_staging(self, owner: str, name: str, tag: str, want: str) -> Path:
        """Before a snapshot push's body: its name and tag checked, and that the key has no
        snapshot of that name (`SnapshotExists`). A fresh work folder beside the snapshot
        store, which the caller removes."""
        from ..sdk import saved

        saved.check_snapshot_name(name)
        if tag not in ("latest", want[:12]):
            raise InvalidArgument(
                f"a snapshot is pushed as {name}:latest or {name}:<12 hex of its sha256>"
                f" ({want[:12]}), not {name}:{tag}"
            )
        self._no_snapshot(owner, name)
        return saved.staging("snapshots", f"{owner}.{name}", "push")

    @staticmethod
    def _no_snapshot(owner: str, name: str) -> None:
        from ..sdk import saved

        if os.path.lexists(saved.data_root() / "snapshots" / f"{owner}.{name}"):
            raise SnapshotExists(
                f"this key has a snapshot named {name!r} already; a push never replaces "
                "one: delete it first (DELETE /v1/snapshots/NAME) or push under another name"
            )

    def install_snapshot(self, owner: str, name: str, work: Path) -> None:
        """Make the verified tar `work/blob.tar` the key's snapshot `name`: unpacked with
        the snapshot member filter into `work/entry`, its metadata checked and stamped
        (name, size, created: this server's), then renamed into the store."""
        from ..sdk import saved

        entry = work / "entry"
        unpack(work / "blob.tar", entry, snapshot=True)
        (work / "blob.tar").unlink()
        try:
            meta = json.loads((entry / "meta.json").read_text())
            if not isinstance(meta, dict) or not saved.is_real_dir(entry / "state"):
                raise ValueError("no meta.json object and state/ folder")
            meta["size"] = tree_size(entry)  # by fd: links are not billed as their targets
            meta["created"] = time.time()
            saved.info({**meta, "name": name})  # every field a listing needs
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ImageError(
                f"the upload is not a sandlot snapshot ({e}); nothing was kept"
            ) from None
        if meta.get("tier") not in PUSHABLE_TIERS:
            # A wasm image only ever runs inside the wasm sandbox it restores into; a microvm
            # state is a QEMU migration stream, which QEMU does not treat as hostile input.
            raise Unsupported(
                f"this server accepts pushed snapshots of the {', '.join(PUSHABLE_TIERS)} "
                f"tier only, not {meta.get('tier')!r}: nothing was kept"
            )
        (entry / "meta.json").write_text(json.dumps(meta, indent=1))
        self._no_snapshot(owner, name)
        try:
            saved.adopt("snapshots", f"{owner}.{name}", entry)
        except (InvalidArgument, OSError):  # one that arrived meanwhile
            self._no_snapshot(owner, name)
            raise

    def incoming(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.dir / f".push-{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}"

    async def push(
        self,
        owner: str,
        name: str,
        tag: str,
        kind: str | None,
        body: AsyncIterator[bytes],
        want: str,
    ) -> RegistryEntry:
        """Install an upload whose sha256 must be `want` (`check_push`): an image as `name`,
        tagged by its digest, or with `kind="snapshot"` the key's snapshot `name`. Its entry."""
        if kind == "snapshot":
            work = await run_in_threadpool(self.snapshot_staging, owner, name, tag, want)
            try:
                await _receive(body, work / "blob.tar", want)
                await run_in_threadpool(self.install_snapshot, owner, name, work)
            finally:
                await run_in_threadpool(remove_tree, work, ignore_errors=True)
            return (await run_in_threadpool(self.find, name, "latest", owner, "snapshot"))[0]
        blob = self.incoming()
        try:
            await _receive(body, blob, want)
            await run_in_threadpool(install, blob, name, want, f"push by {owner}")
        finally:
            blob.unlink(missing_ok=True)
        return (await run_in_threadpool(self.find, name, want[:12], None, "image"))[0]


async def _receive(body: AsyncIterator[bytes], blob: Path, want: str) -> None:
    """An upload's bytes into `blob`, which must hash to `want`."""
    sha = hashlib.sha256()
    with open(blob, "wb") as f:
        async for chunk in body:
            sha.update(chunk)
            await run_in_threadpool(f.write, chunk)
    if sha.hexdigest() != want:
        raise ImageError(
            f"the upload's sha256 is {sha.hexdigest()}, not {want}: nothing was installed"
        )


class SnapshotExists(InvalidArgument):
    """A push under the name of one of the key's snapshots: answered 409."""


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
