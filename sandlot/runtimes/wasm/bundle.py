"""The guest agent, packed as a zip the wasm guest imports from a read-only grant.

The zip is made once per version of the guest sources and kept in sandlot's cache, so a
sandbox's creation costs no packing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

GUEST_PACKAGE = "sandlot_guest"  # the name the guest imports the agent by
GUEST_MOUNT = "/opt/sandlot"  # where the bundle's folder appears in the guest
GUEST_ZIP = "guest.zip"


def cache_root() -> Path:
    """sandlot's own cache folder ($SANDLOT_CACHE, else ~/.cache/sandlot)."""
    given = os.environ.get("SANDLOT_CACHE")
    return Path(given) if given else Path.home() / ".cache" / "sandlot"


def _sources() -> list[tuple[str, Path]]:
    guest = Path(__file__).resolve().parents[2] / "guest"
    found = []
    for path in sorted(guest.rglob("*.py")):
        found.append((f"{GUEST_PACKAGE}/{path.relative_to(guest).as_posix()}", path))
    return found


@lru_cache(maxsize=1)
def guest_bundle() -> Path:
    """The folder holding the current guest zip (made on first call)."""
    sources = _sources()
    digest = hashlib.sha256()
    for name, path in sources:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    folder = cache_root() / "guest" / digest.hexdigest()[:24]
    target = folder / GUEST_ZIP
    if target.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
        for name, path in sources:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), path.read_bytes())
    os.replace(tmp, target)
    return folder
