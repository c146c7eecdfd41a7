"""server.db shared by the server and `sandlot keys create` in another process: a key made
while the server runs is seen by it (opening the database a second time in the server must
not drop the first connection's locks, or the other process deletes the WAL on close)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sandlot.server.keys import KeyStore
from sandlot.server.store import SandboxStore

MAKE_KEY = (
    "import sys; from sandlot.server.keys import KeyStore; "
    "s = KeyStore(sys.argv[1]); print(s.create('other')[1]); s.close()"
)


def test_a_key_made_by_another_process_is_seen_by_a_running_server(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    keys = KeyStore(db)  # the server's two connections, opened as `sandlot serve` opens them
    records = SandboxStore(db)
    try:
        for _ in range(3):  # the first key alone passed before: the WAL went with its close
            made = subprocess.run(
                [sys.executable, "-c", MAKE_KEY, str(db)],
                capture_output=True,
                text=True,
                check=True,
            )
            key = made.stdout.strip()
            assert keys.verify(key) is not None
            assert (tmp_path / "server.db-wal").exists()
    finally:
        records.close()
        keys.close()
