"""The gvisor tier's `Runtime`: available where runsc is installed and a trivial container
runs (probed once per host process)."""

from __future__ import annotations

import os
import shutil
from functools import lru_cache

from ...errors import SandboxError
from ..base import Availability, SandboxSpec
from ..linux import LINUX, cgroups
from ..linux.spares import Pool
from ..linux.userland import find_image
from .sandbox import GvisorSandbox, sweep

FIX_RUNSC = "apt-get install runsc"


@lru_cache(maxsize=1)
def probe() -> Availability:
    """Start a real sandbox on the host userland and ask its agent for a ping."""
    if shutil.which("runsc") is None:
        return Availability(False, "runsc (gVisor) is not installed", FIX_RUNSC)
    if os.geteuid() != 0:
        return Availability(
            False,
            "runsc needs root here (sandlot does not use its rootless mode yet)",
            "run as root, or use the process tier",
        )
    from ...models import Limits

    try:
        GvisorSandbox(SandboxSpec("host", Limits(memory_bytes=256 << 20), {}), None).close()
    except SandboxError as e:
        return Availability(False, f"runsc could not start a sandbox: {e}", FIX_RUNSC)
    except OSError as e:
        return Availability(False, f"runsc could not start a sandbox: {e}", FIX_RUNSC)
    return Availability(True)


class GvisorRuntime:
    name = "gvisor"
    capabilities = LINUX | {"isolation=strong", "network"}  # network: the host's gateway
    implemented = True
    templates: frozenset[str] | None = None  # images or the host userland decide, at open()

    def __init__(self) -> None:
        # a cold start is ~0.5 s of runsc and a Python start under ptrace: keep one spare
        # per configuration in use, started in the background (SANDLOT_GVISOR_SPARES=0: off)
        self._spares = _Spares(_unkeyed, "SANDLOT_GVISOR_SPARES", "1")

    def availability(self) -> Availability:
        return probe()

    def drain(self) -> None:
        self._spares.drain()

    def isolation_notes(self) -> list[str]:
        return cgroups.host_gaps()

    def sweep_stale(self) -> int:
        """runsc containers, cgroups, tmpfs and folders of killed host processes."""
        return sweep()

    def open(self, spec: SandboxSpec) -> GvisorSandbox:
        return self._spares.open(spec)


class _Spares(Pool[GvisorSandbox]):
    """Keyed by the spec and the image its template resolves to now: a spare started
    before `sandlot image build` rebuilt the template is never handed out after it."""

    def open(self, spec: SandboxSpec) -> GvisorSandbox:
        image, _ = find_image(spec.template)  # once: the key and the sandbox's root
        image_key = (image.digest, str(image.rootfs)) if image is not None else None
        return self._open(spec, (spec, image_key), lambda s: GvisorSandbox(s, image))


def _unkeyed(spec: SandboxSpec) -> GvisorSandbox:
    """A sandbox for `spec` that resolves its template's image itself (`_Spares.open`
    resolves it once, for the spare's key and the sandbox alike)."""
    return GvisorSandbox(spec, find_image(spec.template)[0])
