"""Registry of in-process Unix commands; each is a generator (sh, argv, stdin) -> status.

The command modules are imported on first use, not with the shell: importing all of them
inside the wasm guest costs about 300 ms (module bodies, compiled regexes), which every
sandbox's first `commands.run` would pay even for `cd` or `true`. `_index.py` says which
module defines each command's final implementation; `python -m
sandlot.guest.shell.commands` rewrites it, and a test fails when it is out of date.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..io import Gen, Input
from ._index import INDEX

Command = Callable[[Any, list[str], Input], Gen]
MODULES = sorted(set(INDEX.values()))


def _short(module: str) -> str:
    return module.rsplit(".", 1)[-1]


class _Commands(dict[str, Command]):
    """A dict of commands whose modules load when one of their names is looked up.

    Every registration is also kept per defining module, so a lookup returns what the
    index's module registered, whatever order the modules happened to load in."""

    def __init__(self) -> None:
        super().__init__()
        self._by_module: dict[tuple[str, str], Command] = {}
        self._loaded: set[str] = set()

    def __setitem__(self, name: str, f: Command) -> None:
        self._by_module[(_short(getattr(f, "__module__", "") or ""), name)] = f
        super().__setitem__(name, f)

    def _load(self, module: str) -> None:
        if module not in self._loaded:
            importlib.import_module(f"{__name__}.{module}")
            self._loaded.add(module)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        module = INDEX.get(name)
        if module is not None:
            self._load(module)
            found = self._by_module.get((module, name))
            if found is not None:
                return found
        return super().get(name, default)

    def __getitem__(self, name: str) -> Command:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found  # type: ignore[no-any-return]

    def __contains__(self, name: object) -> bool:
        return name in INDEX or super().__contains__(name)

    def load_all(self) -> None:
        for module in MODULES:
            self._load(module)


COMMANDS = _Commands()


def command(*names: str) -> Callable[[Command], Command]:
    def deco(f: Command) -> Command:
        for n in names:
            COMMANDS[n] = f
        return f

    return deco


def build_index() -> dict[str, str]:
    """Import every command module (in the historical order) and say, per name, which
    module's function ended up registered."""
    for module in _ALL_MODULES:
        importlib.import_module(f"{__name__}.{module}")
    index = {}
    for name, f in sorted(dict.items(COMMANDS)):
        module = getattr(f, "__module__", "") or ""
        if not module.startswith(__name__ + "."):
            raise RuntimeError(f"command {name!r} is defined outside the commands: {module!r}")
        index[name] = _short(module)
    return index


# The modules `build_index` imports, in the order the registry always had (others, such
# as calc, are imported by these).
_ALL_MODULES = (
    "archive", "awk", "cpcmd", "dates", "ddcmd", "diff", "files", "find", "grep", "jq",
    "misc", "modes", "more", "netcmds", "sed", "statcmd", "text",
)  # fmt: skip
