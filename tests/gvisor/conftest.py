"""gvisor-tier fixtures: real runsc sandboxes.

Every test here is skipped, with the reason, where runsc is missing or cannot start a
sandbox (CI installs runsc so they run there).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandlot import Sandbox
from sandlot.runtimes.gvisor.runtime import probe


@pytest.fixture(autouse=True, scope="package")
def _needs_gvisor_tier() -> None:
    available = probe()
    if not available.ok:
        pytest.skip(f"gvisor tier unavailable here: {available.reason} ({available.fix})")


@pytest.fixture(scope="package")
def gsbx() -> Iterator[Sandbox]:
    """One gvisor sandbox shared by the tests that don't depend on a fresh state (a
    sandbox start costs about a second under ptrace)."""
    with Sandbox.create(tier="gvisor", template="base") as sandbox:
        yield sandbox
