"""Network by policy on the process tier (bubblewrap): the checks of
`linux_tier_checks.py`, on the host's userland."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandlot.runtimes.linux.jail import _system_cas
from sandlot.runtimes.process.runtime import probe
from tests.net.linux_tier_checks import LinuxTierNetwork


@pytest.fixture(autouse=True, scope="module")
def _needs_process_tier() -> None:
    available = probe()
    if not available.ok:
        pytest.skip(f"process tier unavailable here: {available.reason} ({available.fix})")


class TestProcessNetwork(LinuxTierNetwork):
    tier = "process"


def test_ca_bundle_never_follows_an_image_symlink_out_of_its_root(tmp_path: Path) -> None:
    certs = tmp_path / "rootfs/etc/ssl/certs"
    certs.mkdir(parents=True)
    secret = tmp_path / "host-only.pem"
    secret.write_text("HOST SECRET\n")
    (certs / "ca-certificates.crt").symlink_to(secret)  # out of the image's root
    assert _system_cas(str(tmp_path / "rootfs")) == b""
    (certs / "ca-certificates.crt").unlink()
    (certs / "real.pem").write_text("IMAGE CA\n")
    (certs / "ca-certificates.crt").symlink_to("real.pem")  # inside it: fine
    assert _system_cas(str(tmp_path / "rootfs")) == b"IMAGE CA\n"
