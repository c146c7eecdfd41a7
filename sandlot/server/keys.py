"""API keys: created once, shown once, stored only as salted SHA-256 hashes in SQLite.

A key reads `sl_<id>_<secret>`; the id finds the row without scanning, and the secret is
compared in constant time against its hash, so the database alone never lets anyone in.
WAL mode lets `sandlot keys` and a running server use the file at the same time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgument, NotFound
from .store import open_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    created REAL NOT NULL,
    revoked REAL
)
"""


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed: never its secret."""

    id: str
    name: str
    created: float
    revoked: float | None


def _hash(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("utf-8")).digest()


class KeyStore:
    """The server's API keys, in `<data dir>/server.db`."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._db = open_db(path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, name: str = "") -> tuple[str, str]:
        """A new key: (its id, the whole key). The key is not kept; show it once."""
        if not isinstance(name, str) or len(name) > 200:
            raise InvalidArgument("a key's name must be a str of at most 200 characters")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        with self._lock:
            self._db.execute(
                "INSERT INTO api_keys (id, name, salt, hash, created) VALUES (?, ?, ?, ?, ?)",
                (key_id, name, salt, _hash(salt, secret), time.time()),
            )
        return key_id, f"sl_{key_id}_{secret}"

    def verify(self, key: str) -> str | None:
        """The id of a live key matching `key`, else None."""
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "sl" or not parts[1] or not parts[2]:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT salt, hash FROM api_keys WHERE id = ? AND revoked IS NULL", (parts[1],)
            ).fetchone()
        if row is None:
            return None
        salt, stored = row
        return parts[1] if hmac.compare_digest(_hash(salt, parts[2]), stored) else None

    def list(self) -> list[KeyInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, created, revoked FROM api_keys ORDER BY created"
            ).fetchall()
        return [KeyInfo(*r) for r in rows]

    def revoke(self, key_id: str) -> None:
        """Refuse the key from now on (its live sandboxes run out their timeouts)."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (time.time(), key_id),
            )
        if cur.rowcount == 0:
            raise NotFound(f"no live API key with id {key_id!r}")

    def has_keys(self) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM api_keys WHERE revoked IS NULL LIMIT 1")
            return row.fetchone() is not None
