"""The SDK's behavioural tests, run on a local sandbox and on one behind a live server.

The cases are the SDK suite's own functions (tests/test_run_code.py, test_commands.py,
test_files.py, and the background-command cases of test_saved.py), imported unchanged: in
this module their `sbx` / `used` fixtures are parametrised over a local factory and a
remote one (`Sandbox.create(base_url=..., api_key=...)` against the session's uvicorn
server), so "a remote sandbox behaves exactly like a local one" is checked case by case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import test_commands as commands_cases
import test_files as files_cases
import test_run_code as run_code_cases
import test_saved as saved_cases

from sandlot import Sandbox

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
def factory(request: pytest.FixtureRequest) -> Factory:
    if request.param == "local":
        return Sandbox.create
    live: Live = request.getfixturevalue("live")
    return lambda: Sandbox.create(base_url=live.url, api_key=live.key)


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
globals().update(
    {
        name: fn
        for name, fn in _cases(saved_cases, "used").items()
        if "background" in name  # pause/fork/snapshots have no server routes yet
    }
)
