"""The server's record of its sandboxes, in the same SQLite file as the API keys.

A live sandbox is memory in this process (a wasm store, a jail's processes), so it cannot
outlive a crash; what can is the knowledge that it existed. Each sandbox gets a row when it
is created and its end reason when it goes, so after a `kill -9` the restarted server marks
the rows still `running` as lost and answers `404 sandbox gone` with that reason, instead
of a bare "no such sandbox" the client cannot tell from a typo. Paused sandboxes are saved
on disk, so their rows stay `paused` across restarts until they are resumed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

LOST = "lost: the server restarted and the sandbox could not be kept"
KEEP_ENDED_SECONDS = 7 * 86400.0
"""How long an ended sandbox's row stays to explain a 404 (then it is pruned at start)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sandboxes (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    tier TEXT NOT NULL,
    template TEXT NOT NULL,
    metadata TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    ended REAL
)
"""


def open_db(path: str | Path, schema: str) -> sqlite3.Connection:
    """`server.db` (API key hashes, every key's sandboxes and labels): readable by this
    user only. The file is made 0600 before SQLite opens it (its WAL and shm files copy
    that mode) and its folder 0700; a file or folder made looser before is tightened."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    # Made 0600 only when missing: opening and closing an existing database here would drop
    # every POSIX lock this process's other SQLite connections hold on it (fcntl locks are
    # per process), and another process would then take itself for the last user and delete
    # the WAL that this process still writes to.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    if path.is_symlink():
        raise OSError(f"{path} is a symbolic link; the server's database must be a plain file")
    for made in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(made, 0o600)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute(schema)
    return db


@dataclass(frozen=True)
class SandboxRow:
    id: str
    owner: str
    tier: str
    template: str
    metadata: dict[str, str]
    state: str  # "running", "paused" or "gone"
    reason: str | None
    created: float
    expires: float


class SandboxStore:
    """Rows of `sandboxes` in `<data dir>/server.db`; thread-safe (one locked connection)."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._db = open_db(path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def recover(self, now: float | None = None) -> int:
        """At start: every row still `running` belonged to a server that died without
        closing it; mark it lost. Old ended rows are pruned. Returns how many were lost."""
        now = time.time() if now is None else now
        with self._lock:
            cur = self._db.execute(
                "UPDATE sandboxes SET state = 'gone', reason = ?, ended = ? "
                "WHERE state = 'running'",
                (LOST, now),
            )
            self._db.execute(
                "DELETE FROM sandboxes WHERE state = 'gone' AND ended < ?",
                (now - KEEP_ENDED_SECONDS,),
            )
        return cur.rowcount

    def started(
        self,
        sandbox_id: str,
        owner: str,
        tier: str,
        template: str,
        metadata: dict[str, str],
        created: float,
        expires: float,
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO sandboxes (id, owner, tier, template, metadata, state, "
                "created, expires) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (sandbox_id, owner, tier, template, json.dumps(metadata), created, expires),
            )

    def extended(self, sandbox_id: str, expires: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE sandboxes SET expires = ? WHERE id = ? AND state = 'running'",
                (expires, sandbox_id),
            )

    def ended(self, sandbox_id: str, reason: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE sandboxes SET state = 'gone', reason = ?, ended = ? WHERE id = ?",
                (reason, time.time(), sandbox_id),
            )

    def paused(self, sandbox_id: str) -> None:
        """Saved to the server's store: it outlives restarts until resumed."""
        with self._lock:
            self._db.execute(
                "UPDATE sandboxes SET state = 'paused', reason = 'paused', ended = ? WHERE id = ?",
                (time.time(), sandbox_id),
            )

    def metadata_bytes(self, owner: str) -> int:
        """Bytes of the labels kept for the key's sandboxes, ended ones included (their
        rows stay a week): what its creates have stored here."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(LENGTH(CAST(metadata AS BLOB))), 0) FROM sandboxes "
                "WHERE owner = ?",
                (owner,),
            ).fetchone()
        return int(row[0])

    def paused_ids(self, owner: str) -> list[str]:
        """The key's paused sandboxes, each saved on disk until it is resumed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM sandboxes WHERE owner = ? AND state = 'paused'", (owner,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def get(self, sandbox_id: str) -> SandboxRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, owner, tier, template, metadata, state, reason, created, expires "
                "FROM sandboxes WHERE id = ?",
                (sandbox_id,),
            ).fetchone()
        if row is None:
            return None
        return SandboxRow(row[0], row[1], row[2], row[3], json.loads(row[4]), *row[5:])
