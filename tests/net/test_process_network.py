"""Network by policy on the process tier (bubblewrap): the checks of
`linux_tier_checks.py`, on the host's userland."""

from __future__ import annotations

import pytest

from sandlot.runtimes.process.runtime import probe
from tests.net.linux_tier_checks import LinuxTierNetwork

pytestmark = pytest.mark.skipif(not probe().ok, reason=f"process tier: {probe().reason}")


class TestProcessNetwork(LinuxTierNetwork):
    tier = "process"
