"""What this server can start: tiers, templates and images, for `GET /v1/templates`.

A client choosing a template wants to know, before it asks, which tiers here would serve it
and whether its image is already built. The image store (`sandlot.images`) is optional to
the server: without it only the tiers' own template lists are known.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from ..runtimes.registry import all_tiers

log = logging.getLogger("sandlot.server")


class TierOut(BaseModel):
    name: str
    available: bool
    reason: str
    capabilities: list[str]
    templates: list[str] | None  # None: any template with an image


class ImageOut(BaseModel):
    name: str
    digest: str
    size: int
    created: float
    source: str


class TemplateOut(BaseModel):
    name: str
    description: str
    tiers: list[str]  # tiers available here that serve it
    image: ImageOut | None  # its built (or imported) image, if any


class CatalogOut(BaseModel):
    tiers: list[TierOut]
    templates: list[TemplateOut]
    images: list[ImageOut]


def _image_out(image: Any) -> ImageOut:
    return ImageOut(
        name=str(image.name),
        digest=str(image.digest),
        size=int(image.size),
        created=float(image.created),
        source=str(image.source),
    )


def catalog() -> CatalogOut:
    tiers: list[TierOut] = []
    serves: dict[str, frozenset[str] | None] = {}
    for t in all_tiers():
        avail = t.availability()
        names = sorted(t.templates) if t.templates is not None else None
        tiers.append(
            TierOut(
                name=t.name,
                available=avail.ok,
                reason=avail.reason,
                capabilities=sorted(t.capabilities),
                templates=names,
            )
        )
        if avail.ok:
            serves[t.name] = t.templates

    def tiers_for(name: str, recipe_tiers: tuple[str, ...] | None) -> list[str]:
        """A tier with a template list of its own (wasm) is the judge of it; the Linux
        tiers serve what the recipe names them for, from its image."""

        def serves_it(tier: str, served: frozenset[str] | None) -> bool:
            if served is not None:
                return name in served
            return recipe_tiers is None or tier in recipe_tiers

        return [tier for tier, served in serves.items() if serves_it(tier, served)]

    templates: list[TemplateOut] = []
    images: list[ImageOut] = []
    try:
        from .. import images as store
    except ImportError:  # a sandlot without the image store: the tiers' lists only
        store = None  # type: ignore[assignment]
    if store is not None:
        try:
            found = store.list_images()
            for recipe in store.templates():
                image = store.find(recipe.name)
                templates.append(
                    TemplateOut(
                        name=recipe.name,
                        description=recipe.description,
                        tiers=tiers_for(recipe.name, tuple(recipe.tiers)),
                        image=_image_out(image) if image is not None else None,
                    )
                )
            images = [_image_out(i) for i in found]
        except OSError as e:  # an unreadable store must not take the listing down
            log.warning("cannot read the image store: %s", e)
    known = {t.name for t in templates}
    for name in sorted({n for s in serves.values() if s is not None for n in s} - known):
        templates.append(
            TemplateOut(name=name, description="", tiers=tiers_for(name, None), image=None)
        )
    return CatalogOut(tiers=tiers, templates=templates, images=images)
