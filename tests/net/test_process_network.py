"""Network by policy on the process tier (bubblewrap): the checks of
`linux_tier_checks.py`, on the host's userland."""

from __future__ import annotations

import pytest

from sandlot.runtimes.process.runtime import probe
from tests.net.linux_tier_checks import LinuxTierNetwork


@pytest.fixture(autouse=True, scope="module")
def _needs_process_tier() -> None:
    available = probe()
    if not available.ok:
        pytest.skip(f"process tier unavailable here: {available.reason} ({available.fix})")


class TestProcessNetwork(LinuxTierNetwork):
    tier = "process"
