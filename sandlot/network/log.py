"""What each sandbox tried on the network: one record per connection or request, allowed
or refused and why, with its bytes. Kept per attachment, bounded. A connection's record
is there from the moment the policy decides, its bytes and reason kept current, so a
log read right after a client finished shows all it did."""

from __future__ import annotations

import threading
import time
from collections import deque

from ..models import ConnectionKind as Kind
from ..models import ConnectionRecord as ConnectionRecord  # re-exported: tiers import it here

MAX_RECORDS = 10_000  # a flood of refusals cannot grow the host's memory without end


class Counts:
    """A connection's bytes so far, and when one last moved."""

    def __init__(self) -> None:
        self.up = 0
        self.down = 0
        self.last = time.monotonic()


class Entry:
    """A connection's record while it lasts, changed on the gateway's loop only."""

    def __init__(self, kind: Kind, started: float | None = None) -> None:
        self.kind: Kind = kind
        self.started = started or time.time()
        self.host = ""
        self.port = 0
        self.reason = "allowed"
        self.counts = Counts()
        self.opened = False  # past the policy: a later error is the transport's
        self.ended = False

    @property
    def shown(self) -> bool:
        """In the log once the policy let it through, refused it, or it ended: never as
        "allowed" while still undecided."""
        return self.opened or self.ended or self.reason != "allowed"

    def record(self) -> ConnectionRecord:
        return ConnectionRecord(
            self.started,
            self.host,
            self.port,
            self.reason == "allowed",
            self.reason,
            self.counts.up,
            self.counts.down,
            self.kind,
        )


class ConnectionLog:
    """An attachment's records, written from the gateway's thread, read from any."""

    def __init__(self) -> None:
        self._entries: deque[Entry] = deque(maxlen=MAX_RECORDS)
        self._lock = threading.Lock()

    def begin(self, kind: Kind) -> Entry:
        """A connection's entry (shown once decided, see `Entry.shown`)."""
        entry = Entry(kind)
        with self._lock:
            self._entries.append(entry)
        return entry

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
        """A finished record at once (a refusal before any target, a fetch's hop)."""
        entry = Entry(kind, started)
        entry.host, entry.port, entry.reason, entry.ended = host, port, reason, True
        entry.counts.up, entry.counts.down = up, down
        with self._lock:
            self._entries.append(entry)

    def records(self) -> list[ConnectionRecord]:
        with self._lock:
            entries = list(self._entries)
        return [e.record() for e in entries if e.shown]
