"""The server's registry: its image store's images as `name:tag` entries and tar blobs.

Each image is offered under two tags: the first 12 hex digits of its store digest, and
`latest` for the newest image of its name. Its blob (a tar of the rootfs) is packed once,
on first listing, into `<data>/registry/` and kept while the image is; the listing gives
the blob's size and sha256 so a client can check what it downloads. Pushes, when the
server allows them, are verified against the digest the client sends and installed into
the server's store with the same code a pull uses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..errors import ImageError, LimitExceeded, NotFound, Unsupported
from ..runtimes.remote import registry as wire_registry

log = logging.getLogger("sandlot.server")

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
            log.info("packing image %s %s for the registry", image.name, image.digest[:12])
            sha, size = wire_registry.pack(image.rootfs, path)
            meta.write_text(json.dumps({"sha256": sha, "size": size}))
            return path, sha, size

    def entries(self) -> list[tuple[RegistryEntry, Path]]:
        found: list[tuple[RegistryEntry, Path]] = []
        seen: set[str] = set()
        keep: set[str] = set()
        for image in _images():  # by name, newest first
            if not wire_registry.NAME_RE.match(image.name):
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
        self._prune(keep)
        return found

    def _prune(self, keep: set[str]) -> None:
        """Blobs of images no longer in the store go."""
        with contextlib.suppress(OSError):
            for f in self.dir.iterdir():
                stem = f.name.split(".", 1)[0]
                if stem not in keep and f.suffix in (".tar", ".json"):
                    f.unlink(missing_ok=True)

    def find(self, name: str, tag: str) -> tuple[RegistryEntry, Path]:
        for entry, path in self.entries():
            if entry.name == name and entry.tag == tag:
                return entry, path
        raise NotFound(f"no image {name}:{tag} in this registry")

    def check_push(self, name: str, tag: str, digest: str, declared: str) -> str:
        """The sha256 a push must have, after the checks that need no body."""
        if not self.allow_push:
            raise Unsupported("this server does not accept pushes (start it with --allow-push)")
        wire_registry.parse_ref(f"{name}:{tag}")
        want = digest.removeprefix("sha256:")
        if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
            raise ImageError(f"a push needs a {wire_registry.DIGEST_HEADER}: sha256:<hex> header")
        if declared.isdigit() and int(declared) > self.max_push_bytes:
            raise self.too_big()
        return want

    def too_big(self) -> LimitExceeded:
        return LimitExceeded(
            "file_size", f"the image is larger than this server accepts ({self.max_push_bytes} B)"
        )

    def incoming(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.dir / f".push-{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}"
