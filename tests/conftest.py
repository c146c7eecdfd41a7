"""Shared fixtures: real wasm sandboxes (no mocks of the isolation layer)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandlot import Sandbox


@pytest.fixture
def sbx() -> Iterator[Sandbox]:
    """A fresh sandbox per test, closed afterwards."""
    with Sandbox.create() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def shared_sbx() -> Iterator[Sandbox]:
    """One sandbox for a module's tests that don't depend on a clean state."""
    with Sandbox.create() as sandbox:
        yield sandbox
