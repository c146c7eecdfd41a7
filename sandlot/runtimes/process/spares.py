"""The process tier's warm spares (`linux/spares.py`), on unless SANDLOT_PROCESS_SPARES=0."""

from __future__ import annotations

from ..base import SandboxSpec
from ..linux.spares import Pool
from .root import Root, resolve
from .sandbox import ProcessSandbox


class Spares(Pool[ProcessSandbox]):
    """The template's root is resolved at each open (an image built or rebuilt since, a
    missing one's error) and is part of the key with the spec: a spare on the host's
    userland is never handed out for an image's root, nor one of an older image for a
    newer one."""

    def __init__(self) -> None:
        super().__init__(ProcessSandbox, "SANDLOT_PROCESS_SPARES", "1")

    def open(self, spec: SandboxSpec) -> ProcessSandbox:
        return self.open_on(spec, resolve(spec.template))

    def open_on(self, spec: SandboxSpec, root: Root) -> ProcessSandbox:
        """A sandbox for `spec` on `root` (resolved by the caller)."""
        return self._open(spec, (spec, root), lambda s: ProcessSandbox(s, root))
