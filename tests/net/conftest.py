"""The `internet` fixture: the test internet for this session (skips where the host
cannot make network namespaces)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.net import internet as test_internet


@pytest.fixture(scope="session")
def internet() -> Iterator[test_internet.Internet]:
    try:
        with test_internet.internet() as net:
            yield net
    except test_internet.Unavailable as e:
        pytest.skip(str(e))
