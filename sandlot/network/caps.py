"""Per-sandbox caps on the network: connections at once, bytes in all, and a rate. Hitting
one is an explained refusal, in the words the sandbox and its log see."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class NetCaps:
    """What one sandbox may use of the network.

    max_connections: connections open at once (the next is refused).
    max_bytes: bytes up and down over the sandbox's life (the connection that crosses it
        is cut at it, and later ones are refused).
    max_rate: bytes per second, up and down together (None: unlimited).
    head_timeout: seconds a client has to send a request head or TLS hello (slowloris).
    idle_timeout: seconds a connection may carry nothing either way before it is cut (a
        client gone while its upstream waits would hold its slot for ever).
    """

    max_connections: int = 64
    max_bytes: int = 1 << 30
    max_rate: int | None = None
    head_timeout: float = 10.0
    idle_timeout: float = 120.0


class Cut(Exception):
    """The connection ends here, for the reason in str(): it is logged, and nothing more
    is said to a client that is no longer speaking HTTP to the gateway."""


class CapExceeded(Cut):
    """A cap was hit; str() is the sandlot message."""


def size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


class Usage:
    """An attachment's running use against its caps. Touched on the gateway's loop only."""

    def __init__(self, caps: NetCaps) -> None:
        self.caps = caps
        self.open = 0
        self.used = 0
        self._debt = 0.0  # token bucket, kept as how far ahead of the rate we are
        self._since = time.monotonic()

    def spent_message(self) -> str:
        return f"sandlot: this sandbox has used its {size_text(self.caps.max_bytes)} of network"

    def admit(self) -> str | None:
        """Count a new connection in, or say why not."""
        if self.open >= self.caps.max_connections:
            return f"sandlot: this sandbox's {self.caps.max_connections} connections are in use"
        if self.used >= self.caps.max_bytes:
            return self.spent_message()
        self.open += 1
        return None

    def release(self) -> None:
        self.open -= 1

    async def take(self, n: int) -> int:
        """How many of n bytes may pass now (fewer: the byte cap is reached), after
        waiting out the rate."""
        allowed = max(0, min(n, self.caps.max_bytes - self.used))
        self.used += allowed
        rate = self.caps.max_rate
        if rate is not None and allowed:
            now = time.monotonic()
            self._debt = max(0.0, self._debt - (now - self._since) * rate) + allowed
            self._since = now
            if self._debt > rate:  # a second's burst, then the rate
                await asyncio.sleep((self._debt - rate) / rate)
        return allowed
