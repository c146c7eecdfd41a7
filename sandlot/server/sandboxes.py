"""The server's live sandboxes, who owns each, when each expires, and why a gone one went.

Each sandbox is a `SandboxCore`, exactly what a library user gets. The table adds what a
shared service needs on top: ownership by API key, a per-key cap, a deadline the reaper
enforces without waiting for the next call, and tombstones so a reaped or deleted sandbox
answers "gone, because ..." instead of a bare "not found".
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument, LimitExceeded, NotFound, SandboxClosed
from ..sdk.core import SandboxCore
from .store import LOST, SandboxRow, SandboxStore

MAX_TOMBSTONES = 10_000

REASONS = {
    "expired": "it expired (its timeout passed; use timeout= or set_timeout())",
    "closed": "it was closed",
    "killed": "it was killed when the server stopped",
    "paused": "it is paused (POST …/resume brings it back)",
    LOST: "the server restarted (a crash, or kill -9) while it ran; live sandboxes do not "
    "survive that, create a new one",
}


@dataclass
class Entry:
    core: SandboxCore
    owner: str
    deadline: float  # wall clock, for expires_at and the reaper
    created: float = field(default_factory=time.time)


class SandboxTable:
    """Thread-safe: request handlers run on worker threads, the reaper on the event loop."""

    def __init__(self, max_per_key: int, store: SandboxStore | None = None) -> None:
        self._max_per_key = max_per_key
        self._store = store
        self._lock = threading.Lock()
        self._live: dict[str, Entry] = {}
        self._pending: dict[str, int] = {}  # creations in flight per key, for the cap
        self._gone: OrderedDict[str, tuple[str, str, str]] = OrderedDict()  # owner, tier, why

    def reserve(self, owner: str) -> None:
        """Claim one of the key's slots before the (slow) create; `release` gives it back."""
        with self._lock:
            held = sum(1 for e in self._live.values() if e.owner == owner)
            held += self._pending.get(owner, 0)
            if held >= self._max_per_key:
                raise LimitExceeded(
                    "sandboxes",
                    f"this API key already holds {held} live sandboxes, the most the server "
                    f"allows ({self._max_per_key}); close one first",
                )
            self._pending[owner] = self._pending.get(owner, 0) + 1

    def release(self, owner: str) -> None:
        with self._lock:
            self._pending[owner] -= 1
            if not self._pending[owner]:
                del self._pending[owner]

    def add(self, core: SandboxCore, owner: str, timeout: float) -> Entry:
        entry = Entry(core=core, owner=owner, deadline=time.time() + timeout)
        if self._store is not None:
            self._store.started(
                core.id,
                owner,
                core.tier,
                core.template,
                dict(core.metadata),
                entry.created,
                entry.deadline,
            )
        with self._lock:
            self._live[core.id] = entry
            self._gone.pop(core.id, None)  # a resumed sandbox is no longer gone
        return entry

    def extend(self, entry: Entry, seconds: float) -> None:
        entry.deadline = time.time() + seconds
        if self._store is not None:
            self._store.extended(entry.core.id, entry.deadline)

    def get(self, sandbox_id: str, owner: str) -> Entry:
        """The owner's live sandbox, or SandboxClosed (gone, with why) / NotFound."""
        with self._lock:
            entry = self._live.get(sandbox_id)
            if entry is not None and entry.owner == owner:
                return entry
            gone = self._gone.get(sandbox_id)
        if gone is not None and gone[0] == owner:
            raise gone_error(sandbox_id, gone[2])
        row = self._store.get(sandbox_id) if self._store is not None else None
        if row is not None and row.owner == owner and row.state != "running" and row.reason:
            raise gone_error(sandbox_id, row.reason)
        # Another key's sandbox is indistinguishable from one that never existed.
        raise NotFound(f"no sandbox {sandbox_id!r} (for this API key)")

    def owned_by(self, owner: str) -> list[Entry]:
        with self._lock:
            return [e for e in self._live.values() if e.owner == owner]

    def remove(self, sandbox_id: str, reason: str) -> Entry | None:
        """Take a sandbox out of the table (leaving a tombstone); the caller closes it."""
        with self._lock:
            entry = self._live.pop(sandbox_id, None)
            if entry is None:
                return None
            self._gone[sandbox_id] = (entry.owner, entry.core.tier, reason)
            while len(self._gone) > MAX_TOMBSTONES:
                self._gone.popitem(last=False)
        if self._store is not None:
            if reason == "paused":
                self._store.paused(sandbox_id)
            else:
                self._store.ended(sandbox_id, reason)
        return entry

    def paused_row(self, sandbox_id: str, owner: str) -> SandboxRow:
        """The owner's paused sandbox's record, else the error `get` would give."""
        row = self._store.get(sandbox_id) if self._store is not None else None
        if row is not None and row.owner == owner and row.state == "paused":
            return row
        with self._lock:
            live = self._live.get(sandbox_id)
        if live is not None and live.owner == owner:
            raise InvalidArgument(f"sandbox {sandbox_id} is running, not paused")
        why = ""
        try:
            self.get(sandbox_id, owner)
        except SandboxClosed as e:  # gone, and why
            why = f": {REASONS.get(closed_reason(e), closed_reason(e))}"
        except NotFound:
            pass
        raise NotFound(f"no paused sandbox {sandbox_id!r} (for this API key){why}")

    def expired(self, now: float) -> list[str]:
        with self._lock:
            return [i for i, e in self._live.items() if e.deadline <= now]

    def all_ids(self) -> list[str]:
        with self._lock:
            return list(self._live)

    def counts(self, owner: str | None = None) -> Iterator[tuple[str, str, int]]:
        """(tier, state, count) for the metrics: live ones, and gone ones by reason; of
        one key's sandboxes only when `owner` is given."""
        tally: dict[tuple[str, str], int] = {}
        with self._lock:
            for e in self._live.values():
                if owner is None or e.owner == owner:
                    k = (e.core.tier, "running")
                    tally[k] = tally.get(k, 0) + 1
            for who, tier, why in self._gone.values():
                if owner is None or who == owner:
                    tally[(tier, why)] = tally.get((tier, why), 0) + 1
        for (tier, state), n in sorted(tally.items()):
            yield tier, state, n


def gone_error(sandbox_id: str, reason: str) -> SandboxClosed:
    err = SandboxClosed(f"sandbox {sandbox_id} is gone: {REASONS.get(reason, reason)}")
    err.reason = reason  # type: ignore[attr-defined]
    return err


def closed_reason(err: SandboxClosed) -> str:
    """Why a sandbox the core itself found closed is gone."""
    given: Any = getattr(err, "reason", None)
    if isinstance(given, str):
        return given
    return "expired" if "expired" in str(err) else "closed"
