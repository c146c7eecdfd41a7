"""Showing a sandbox's output on the terminal as it streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO


def echo_to(stream: TextIO) -> Callable[[str], None]:
    """A streaming callback that shows each chunk as soon as it arrives."""

    def echo(chunk: str) -> None:
        stream.write(chunk)
        stream.flush()

    return echo
