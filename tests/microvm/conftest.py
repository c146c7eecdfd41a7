"""Microvm fixtures: real QEMU (TCG on these hosts), the `base` image, one template
snapshot shared by the whole session (only the first sandbox pays the cold boot).

Skipped, with the reason, where qemu-system-x86_64 is missing or no `base` image can be
had (no debootstrap, not root, no Debian mirror)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandlot import Sandbox
from sandlot.runtimes.microvm.runtime import MicroVMRuntime
from sandlot.runtimes.registry import tier_named

TEMPLATE = "base"


@pytest.fixture(autouse=True, scope="session")
def _needs_microvm() -> None:
    available = tier_named("microvm").availability()
    if not available.ok:
        pytest.skip(f"microvm tier unavailable here: {available.reason} ({available.fix})")
    from tests.image_fixture import built_base_image

    built_base_image()


@pytest.fixture(scope="session")
def runtime() -> MicroVMRuntime:
    found = tier_named("microvm")
    assert isinstance(found, MicroVMRuntime)
    return found


@pytest.fixture
def vsbx() -> Iterator[Sandbox]:
    """A fresh microvm sandbox, closed afterwards."""
    with Sandbox.create(tier="microvm", template=TEMPLATE) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def shared_vsbx() -> Iterator[Sandbox]:
    with Sandbox.create(tier="microvm", template=TEMPLATE) as sandbox:
        yield sandbox
