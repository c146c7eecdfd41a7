"""Process-tier fixtures: real bubblewrap sandboxes on this host's userland.

Every test here is skipped, with the reason, where bwrap is missing or user namespaces
don't work (CI installs bubblewrap so they run there).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandlot import Limits, Sandbox
from sandlot.runtimes.process.runtime import probe


@pytest.fixture(autouse=True, scope="module")
def _needs_process_tier() -> None:
    available = probe()
    if not available.ok:
        pytest.skip(f"process tier unavailable here: {available.reason} ({available.fix})")


@pytest.fixture
def psbx() -> Iterator[Sandbox]:
    """A fresh process sandbox on the host userland, closed afterwards."""
    with Sandbox.create(template="host", tier="process") as sandbox:
        yield sandbox


@pytest.fixture
def small_psbx() -> Iterator[Sandbox]:
    """A process sandbox with 256 MiB of memory."""
    limits = Limits(memory_bytes=256 << 20)
    with Sandbox.create(template="host", tier="process", limits=limits) as sandbox:
        yield sandbox
