"""Template images for the Linux tiers: recipes, a content-addressed store, builds, imports.

The tiers call `ensure(template)` for a rootfs that holds the guest agent at
`/opt/sandlot/sandlot_guest`. A missing image is built only when the caller passes
`build=True` or the user set `SANDLOT_AUTO_BUILD=1`; otherwise `ImageMissing` says which
command builds it. See docs/images.md.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Callable
from pathlib import Path

from ..errors import ImageError, ImageMissing, InvalidArgument, NotFound
from . import agent, builder, oci, store
from .recipe import Recipe, recipe, templates
from .store import Image, store_root

Progress = Callable[[str], None]

__all__ = [
    "Image",
    "Recipe",
    "build",
    "ensure",
    "find",
    "import_oci",
    "list_images",
    "recipe",
    "remove",
    "store_root",
    "templates",
]

_IMPORT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$"


def _quiet(_: str) -> None:
    pass


def _template_or_none(name: str) -> Recipe | None:
    try:
        return recipe(name)
    except NotFound:
        return None


def find(name: str) -> Image | None:
    """The built image of the template's current recipe, else the newest image imported
    under that name; None when there is neither (an image of an older recipe is not used)."""
    r = _template_or_none(name)
    if r is not None:
        image = store.by_digest(r.digest)
        if image is not None and image.source == "build":
            return image
    imported = [i for i in store.all_images() if i.name == name and i.source == "import"]
    return max(imported, key=lambda i: i.created) if imported else None


def _auto_build() -> bool:
    return os.environ.get("SANDLOT_AUTO_BUILD", "").strip().lower() in ("1", "true", "yes")


def _refresh_agent(image: Image) -> None:
    """Bring the image's agent up to date with this sandlot's sources, in place."""
    if agent.installed_digest(image.rootfs) == agent.agent_digest():
        return
    try:
        with store.lock(image.digest):
            if agent.installed_digest(image.rootfs) != agent.agent_digest():
                agent.install(image.rootfs, trusted_python=image.source == "build")
    except OSError as e:
        again = (
            f"sandlot image build {image.name}"
            if image.source == "build"
            else f"sandlot image import FILE --name {image.name}"
        )
        raise ImageError(
            f"image {image.name!r} holds an older guest agent and refreshing it failed "
            f"({e}); `{again}` as the store's owner refreshes it"
        ) from None


def ensure(name: str, *, build: bool = False, progress: Progress | None = None) -> Image:
    """The image for `name`, with the current guest agent in it.

    Missing: built when `build=True` or `SANDLOT_AUTO_BUILD=1`, else ImageMissing.
    """
    image = find(name)
    if image is None:
        r = _template_or_none(name)
        if r is None:
            known = ", ".join(t.name for t in templates())
            raise NotFound(
                f"no template or imported image named {name!r}; templates: {known} "
                "(`sandlot image import FILE --name NAME` adds an image)"
            )
        if not (build or _auto_build()):
            raise ImageMissing(
                f"the image for template {name!r} is not built on this host: run "
                f"`sandlot image build {name}` (as root), or set SANDLOT_AUTO_BUILD=1 to "
                "build it on first use"
            )
        return _build(r, progress or _quiet, force=False)
    _refresh_agent(image)
    return image


def build(name: str, *, progress: Progress | None = None, force: bool = False) -> Image:
    """Build the template `name` (reusing an image of the same recipe unless `force`)."""
    return _build(recipe(name), progress or _quiet, force=force)


def _build(r: Recipe, progress: Progress, *, force: bool) -> Image:
    digest = r.digest
    if not force:
        existing = store.by_digest(digest)
        if existing is not None:
            _refresh_agent(existing)
            progress(f"reusing {r.name} {existing.short_digest}")
            return existing
    builder.check_host()
    with store.lock(digest):
        store.sweep()
        if not force:
            existing = store.by_digest(digest)
            if existing is not None:  # another process built it while we waited
                _refresh_agent(existing)
                return existing
        with store.Staging(digest) as staging:
            builder.build_rootfs(r, staging.rootfs, progress)
            image = staging.commit(name=r.name, source="build", recipe=r)
    progress(f"built {r.name} {image.short_digest} ({image.size / 1e6:.0f} MB)")
    return image


def import_oci(
    path: str | Path, name: str | None = None, *, progress: Progress | None = None
) -> Image:
    """Import an OCI layout or `docker save` tarball; the same tarball is imported once."""
    emit = progress or _quiet
    path = Path(path)
    if name is not None and not re.match(_IMPORT_NAME, name):
        raise InvalidArgument(f"image name {name!r}: use letters, digits and . _ : / @ + -")
    if not path.is_file():
        raise NotFound(f"no file {path}")
    emit(f"reading {path}")
    try:
        with tarfile.open(path, mode="r:*") as tar:
            src = oci.Source(tar, path)
            digest = src.digest
            suggested = src.suggested_name
    except (OSError, tarfile.TarError) as e:
        raise ImageError(f"import {path}: cannot read the tarball: {e}") from None
    final_name = name or _sanitize(suggested) or f"imported-{digest[:12]}"
    with store.lock(digest):
        store.sweep()
        existing = store.by_digest(digest)
        if existing is not None:
            emit(f"already imported as {existing.name} {existing.short_digest}")
            if existing.name != final_name and name is not None:
                existing = store.rename(existing, final_name)
            _refresh_agent(existing)
            return existing
        with store.Staging(digest) as staging:
            oci.import_into(path, staging.rootfs, progress=emit)
            emit("installing the guest agent")
            agent.install(staging.rootfs, trusted_python=False)
            image = staging.commit(
                name=final_name, source="import", recipe=None, extra={"file": str(path)}
            )
    emit(f"imported {image.name} {image.short_digest} ({image.size / 1e6:.1f} MB)")
    return image


def _sanitize(name: str | None) -> str | None:
    if not name:
        return None
    clean = re.sub(r"[^A-Za-z0-9._:/@+-]", "-", name).lstrip("._:/@+-")[:128]
    return clean or None


def list_images() -> list[Image]:
    """Every complete image in the store, by name then newest first."""
    return store.all_images()


def remove(name_or_digest: str) -> None:
    """Remove the images of that name, or the one whose digest starts with the given prefix."""
    store.remove(name_or_digest)
