"""Each test module of the image store gets its own empty store (`SANDLOT_HOME`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def store_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("sandlot-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SANDLOT_HOME", str(home))
        mp.delenv("SANDLOT_AUTO_BUILD", raising=False)
        yield home
