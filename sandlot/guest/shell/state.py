"""Shell variables (scalars, indexed and associative arrays, attributes, dynamic scopes)."""

from __future__ import annotations

import copy
from typing import Any


class Var:
    __slots__ = ("value", "attrs")

    def __init__(self, value: Any = None, attrs: str = "") -> None:
        self.value = (
            value  # None (declared, unset) | str | dict[int,str] ('a') | dict[str,str] ('A')
        )
        self.attrs = set(attrs)

    def __deepcopy__(self, memo: Any) -> Var:
        v = Var(copy.copy(self.value))
        v.attrs = set(self.attrs)
        return v


class ControlFlow(Exception):
    pass


class BreakLoop(ControlFlow):
    def __init__(self, n: int, status: int = 0) -> None:
        self.n = n
        self.status = status  # of the `break` itself: the loop's status when it ends there


class ContinueLoop(ControlFlow):
    def __init__(self, n: int, status: int = 0) -> None:
        self.n = n
        self.status = status


class ReturnFn(ControlFlow):
    def __init__(self, status: int) -> None:
        self.status = status


class ExitShell(ControlFlow):
    def __init__(self, status: int) -> None:
        self.status = status


class AbortCommand(ControlFlow):
    """An expansion error abandons the top-level command (bash's jump to top level)."""

    def __init__(self, status: int) -> None:
        self.status = status


class BudgetExceeded(BaseException):
    """Raised when a run exceeds its deadline; never caught by shell constructs."""


class JobLimit(BaseException):
    """Too many background jobs (a fork bomb): ends the whole run, like BudgetExceeded."""


class Budget:
    """Shared deadline so runaway loops cannot hang the host."""

    def __init__(self, seconds: float | None) -> None:
        import time

        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.ticks = 0
        self.jobs = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.deadline is not None and self.ticks % 256 == 0:
            import time

            if time.monotonic() > self.deadline:
                raise BudgetExceeded()

    def tick_many(self, n: int) -> None:
        """n steps at once (a command's batch of lines): the deadline is checked now."""
        self.ticks += n
        if self.deadline is not None:
            import time

            if time.monotonic() > self.deadline:
                raise BudgetExceeded()
