"""What each sandbox tried on the network: one record per connection or request, allowed
or refused and why, with its bytes. Kept per attachment, bounded."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

Kind = Literal["connect", "http", "fetch", "dns"]
MAX_RECORDS = 10_000  # a flood of refusals cannot grow the host's memory without end


@dataclass(frozen=True)
class ConnectionRecord:
    """One connection tried: when, where, whether it was allowed (and why not), and the
    bytes it carried up (sandbox to host) and down."""

    time: float
    host: str
    port: int
    allowed: bool
    reason: str
    bytes_up: int
    bytes_down: int
    kind: Kind


class ConnectionLog:
    """An attachment's records, appended from the gateway's thread, read from any."""

    def __init__(self) -> None:
        self._records: deque[ConnectionRecord] = deque(maxlen=MAX_RECORDS)
        self._lock = threading.Lock()

    def add(
        self,
        kind: Kind,
        host: str,
        port: int,
        reason: str,
        *,
        started: float | None = None,
        up: int = 0,
        down: int = 0,
    ) -> None:
        record = ConnectionRecord(
            started or time.time(), host, port, reason == "allowed", reason, up, down, kind
        )
        with self._lock:
            self._records.append(record)

    def records(self) -> list[ConnectionRecord]:
        with self._lock:
            return list(self._records)
