"""Network by policy on the gvisor tier (runsc): the checks of `linux_tier_checks.py`, on
the host's userland. The gateway's socket reaches the Sentry through `--host-uds=open`."""

from __future__ import annotations

import pytest

from sandlot.runtimes.gvisor.runtime import probe
from tests.net.linux_tier_checks import LinuxTierNetwork


@pytest.fixture(autouse=True, scope="module")
def _needs_gvisor_tier() -> None:
    available = probe()
    if not available.ok:
        pytest.skip(f"gvisor tier unavailable here: {available.reason} ({available.fix})")


class TestGvisorNetwork(LinuxTierNetwork):
    tier = "gvisor"
