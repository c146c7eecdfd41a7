"""The SDK's behavioural tests, run on a local sandbox and on one behind a live server.

The cases are the SDK suite's own functions (tests/test_run_code.py, test_commands.py,
test_files.py, and test_saved.py's pause/connect, fork, snapshot and background cases),
imported unchanged: in this module their `sbx` / `used` fixtures are parametrised over a
local factory and a remote one (the session's uvicorn server, through $SANDLOT_URL), so
"a remote sandbox behaves exactly like a local one" is checked case by case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import test_commands as commands_cases
import test_files as files_cases
import test_run_code as run_code_cases
import test_saved as saved_cases

from sandlot import Sandbox
from sandlot.sdk import saved
from sandlot.server import KeyStore

from .conftest import Live

Factory = Callable[[], Sandbox]


def _cases(module: object, fixture: str, skip: frozenset[str] = frozenset()) -> dict[str, object]:
    """The module's test functions that take `fixture` (the ones a factory can serve)."""
    found = {}
    for name, fn in vars(module).items():
        code = getattr(fn, "__code__", None)
        if name.startswith("test_") and name not in skip and code is not None:
            if fixture in code.co_varnames[: code.co_argcount]:
                found[name] = fn
    return found


# -- the factories ---------------------------------------------------------------------------


@pytest.fixture(params=["local", "remote"])
def factory(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Factory:
    """Local: a store of the test's own. Remote: $SANDLOT_URL and a fresh API key of the
    test's own in the environment, so the cases' plain `Sandbox.create()`,
    `Sandbox.connect(id)`, `Sandbox.create(snapshot=)` and `list_snapshots()` all go to
    the server, and one test's snapshots are no other's (they belong to the key)."""
    if request.param == "local":
        monkeypatch.delenv("SANDLOT_URL", raising=False)
        monkeypatch.setenv("SANDLOT_HOME", str(tmp_path))
        return Sandbox.create
    live: Live = request.getfixturevalue("live")
    keys = KeyStore(live.data_dir / "server.db")
    try:
        _, key = keys.create("parity")
    finally:
        keys.close()
    monkeypatch.setenv("SANDLOT_URL", live.url)
    monkeypatch.setenv("SANDLOT_API_KEY", key)
    return Sandbox.create


@pytest.fixture
def store(factory: Factory) -> Path:
    """Where saved sandboxes go: this host's store, or (the server running in this
    process) the server's, which keeps paused sandboxes under the same layout."""
    return saved.data_root()


@pytest.fixture
def sbx(factory: Factory) -> Iterator[Sandbox]:
    with factory() as sandbox:
        yield sandbox


@pytest.fixture
def used(factory: Factory) -> Iterator[Sandbox]:
    """test_saved's fixture, from either factory."""
    with factory() as sandbox:
        sandbox.run_code("import random\nx = 41\nitems = [1, 2]")
        sandbox.commands.run("export GREETING=hi; cd /tmp")
        sandbox.files.write("notes/a.txt", "kept")
        yield sandbox


# -- the cases -------------------------------------------------------------------------------

globals().update(_cases(run_code_cases, "sbx"))
globals().update(_cases(commands_cases, "sbx"))
globals().update(_cases(files_cases, "sbx"))
# All of test_saved's cases but two that edit a snapshot's files in this host's store (the
# server keeps a key's snapshots under names of its own; the same code checks them there).
globals().update(
    _cases(
        saved_cases,
        "used",
        skip=frozenset(
            {
                "test_tampered_memory_image_is_refused",
                "test_snapshot_from_another_guest_build_is_refused",
            }
        ),
    )
)
