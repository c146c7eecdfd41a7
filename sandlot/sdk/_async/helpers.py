"""What differs between the two faces: how a core call is made, and how callbacks run."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

StreamCallback = Callable[[str], Any] | Callable[[str], Awaitable[Any]]


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking core method on a worker thread, keeping the event loop free."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def callback(cb: StreamCallback | None) -> Callable[[str], None] | None:
    """Adapt a user callback (plain or async) so the core can call it from its thread."""
    if cb is None:
        return None
    loop = asyncio.get_running_loop()

    def run(chunk: str) -> None:
        result = cb(chunk)
        if inspect.isawaitable(result):
            asyncio.run_coroutine_threadsafe(_await(result), loop).result()

    return run


async def _await(aw: Awaitable[Any]) -> Any:
    return await aw
