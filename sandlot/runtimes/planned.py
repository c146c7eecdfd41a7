"""Tiers that are declared but not built yet: they take part in selection and in
`sandlot doctor`, so a requirement only they meet gets an error naming them."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import NoReturn

from ..errors import Unsatisfiable
from .base import Availability, RuntimeSandbox, SandboxSpec

LINUX = frozenset({"python", "shell", "files", "subprocess", "pip", "compilers"})


@dataclass
class PlannedRuntime:
    """A tier whose host facilities we can probe but whose runtime is not written yet."""

    name: str
    capabilities: frozenset[str]
    needs: tuple[tuple[str, str], ...] = field(default=())  # (binary or path, how to get it)
    implemented: bool = False
    templates: frozenset[str] | None = None

    def availability(self) -> Availability:
        for need, fix in self.needs:
            present = os.path.exists(need) if need.startswith("/") else shutil.which(need)
            if not present:
                return Availability(False, f"{need} is not present on this host", fix)
        return Availability(
            False,
            f"the {self.name} tier is not implemented in this version of sandlot",
            "use a requirement the wasm tier meets, or a later sandlot release",
        )

    def open(self, spec: SandboxSpec) -> NoReturn:
        raise Unsatisfiable(self.availability().reason)

    def _unused(self) -> RuntimeSandbox:  # pragma: no cover - keeps the Protocol honest
        raise NotImplementedError


def planned_tiers() -> list[PlannedRuntime]:
    """Tiers declared but not built (registry.py lists the built ones around them)."""
    return []
