"""Saved sandboxes on disk: paused ones (resumed by id) and named snapshots (started from).

Layout under the data root (`$SANDLOT_HOME`, default `~/.local/share/sandlot`):

    sandboxes/<sandbox id>/meta.json + state/     a paused sandbox, consumed by resume
    snapshots/<name>/meta.json + state/           a named snapshot, reused by every start

`state/` belongs to the tier that wrote it (its `save`/`restore`). An entry is written into
a temporary folder beside its final place and renamed when complete, so a crash mid-save
never leaves a half-written entry that a later resume would trust.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument, NotFound
from ..models import Limits, SnapshotInfo

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SANDBOX_ID = re.compile(r"sbx_[0-9a-f]{16}")


def data_root() -> Path:
    return Path(os.environ.get("SANDLOT_HOME") or Path.home() / ".local/share/sandlot")


def check_snapshot_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidArgument(
            f"snapshot name must be 1-64 letters, digits, '.', '_' or '-' (not first); got {name!r}"
        )
    return name


def _entry(kind: str, key: str) -> Path:
    return data_root() / kind / key


def write(
    kind: str,
    key: str,
    meta: dict[str, Any],
    save_state: Callable[[Path], None],
    *,
    replace: bool = False,
) -> dict[str, Any]:
    """Save one entry atomically; `save_state` fills the given `state/` folder. Returns
    the metadata as written."""
    final = _entry(kind, key)
    if final.exists() and not replace:
        raise InvalidArgument(f"a {kind[:-1]} named {key!r} exists; delete it first")
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        (work / "state").mkdir()
        save_state(work / "state")
        size = sum(f.stat().st_size for f in work.rglob("*") if f.is_file())
        meta = {**meta, "size": size, "created": time.time()}
        (work / "meta.json").write_text(json.dumps(meta, indent=1))
        if final.exists():
            shutil.rmtree(final)
        os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return meta


def adopt(kind: str, key: str, folder: Path) -> dict[str, Any]:
    """Make a complete entry folder (`meta.json`, `state/`, e.g. pulled from a registry)
    the entry `key`, atomically, with its name in meta.json set to `key`; never over an
    existing one. `folder` must be beside the store (same filesystem). Its metadata."""
    final = _entry(kind, key)
    if final.exists():
        raise InvalidArgument(f"a {kind[:-1]} named {key!r} exists; delete it first")
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError) as e:
        raise NotFound(f"saved entry {key!r} is damaged (no readable meta.json)") from e
    if not isinstance(meta, dict) or not isinstance(meta.get("tier"), str):
        raise NotFound(f"saved entry {key!r} is damaged (meta.json names no tier)")
    if not (folder / "state").is_dir():
        raise NotFound(f"saved entry {key!r} is damaged (no state/)")
    meta["name"] = key
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    final.parent.mkdir(parents=True, exist_ok=True)
    os.rename(folder, final)
    return meta


def staging(kind: str, key: str, purpose: str = "pull") -> Path:
    """A fresh work folder beside the store's `kind` entries (removed by the caller)."""
    parent = data_root() / kind
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{key}.{purpose}.", dir=parent))


def read(kind: str, key: str) -> tuple[dict[str, Any], Path]:
    """An entry's metadata and its `state/` folder, or NotFound saying what exists."""
    entry = _entry(kind, key)
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (OSError, ValueError) as e:
        what = "paused sandbox" if kind == "sandboxes" else "snapshot"
        hint = (
            "pause one with sbx.pause()"
            if kind == "sandboxes"
            else "list them with Sandbox.list_snapshots()"
        )
        raise NotFound(f"no {what} {key!r} on this host ({hint})") from e
    if not isinstance(meta, dict):
        raise NotFound(f"saved entry {key!r} is damaged (meta.json is not an object)")
    return meta, entry / "state"


def remove(kind: str, key: str) -> None:
    entry = _entry(kind, key)
    if not entry.exists():
        raise NotFound(f"no {kind[:-1]} {key!r} on this host")
    shutil.rmtree(entry)


def snapshots() -> list[SnapshotInfo]:
    root = data_root() / "snapshots"
    found = []
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if entry.name.startswith(".") or not (entry / "meta.json").is_file():
            continue
        try:
            found.append(info(json.loads((entry / "meta.json").read_text())))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # damaged entries are not offered
    return found


def info(meta: dict[str, Any]) -> SnapshotInfo:
    return SnapshotInfo(
        name=str(meta["name"]),
        tier=str(meta["tier"]),
        template=str(meta["template"]),
        size=int(meta["size"]),
        created=float(meta["created"]),
    )


def limits_to_json(limits: Limits) -> dict[str, Any]:
    """A saved entry's limits: `Limits.to_dict`, the one codec."""
    return limits.to_dict()


def limits_from_json(value: object) -> Limits:
    """A saved entry's limits back (defaults for an entry saved without them)."""
    return Limits.from_dict(value)
