"""What differs between the two faces: how a core call is made, and how callbacks run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

StreamCallback = Callable[[str], Any]


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a core method in the caller's thread."""
    return fn(*args, **kwargs)


def callback(cb: StreamCallback | None) -> Callable[[str], None] | None:
    """A sync callback is called as it is."""
    return cb
