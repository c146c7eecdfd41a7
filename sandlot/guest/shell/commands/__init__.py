"""Registry of in-process Unix commands; each is a generator (sh, argv, stdin) -> status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..io import Gen, Input

Command = Callable[[Any, list[str], Input], Gen]
COMMANDS: dict[str, Command] = {}


def command(*names: str) -> Callable[[Command], Command]:
    def deco(f: Command) -> Command:
        for n in names:
            COMMANDS[n] = f
        return f

    return deco


from . import (  # noqa: E402,F401  # noqa: E402,F401
    archive,
    awk,
    cpcmd,
    dates,
    ddcmd,
    diff,
    files,
    find,
    grep,
    jq,
    misc,
    modes,
    more,
    sed,
    statcmd,
    text,
)
