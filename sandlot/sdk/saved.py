"""Saved sandboxes on disk: paused ones (resumed by id) and named snapshots (started from).

Layout under the data root (`$SANDLOT_HOME`, default `~/.local/share/sandlot`):

    sandboxes/<sandbox id>/meta.json + state/     a paused sandbox, consumed by resume
    snapshots/<name>/meta.json + state/           a named snapshot, reused by every start

`state/` belongs to the tier that wrote it (its `save`/`restore`). An entry is written into
a temporary folder beside its final place and renamed when complete, so a crash mid-save
never leaves a half-written entry that a later resume would trust.

A saved `state/` holds a copy of the guest's files, shaped by the guest (links planted to
anywhere, very deep trees): every walk of an entry here measures, removes and checks it
with the fd-based, link-free, iterative tree operations of `runtimes/hostfs.py`.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument, NotFound
from ..models import Limits, SnapshotInfo
from ..runtimes.hostfs import remove_tree, tree_size

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


def _present(path: Path) -> bool:
    """Whether anything is at `path` (a link too, never followed)."""
    return os.path.lexists(path)


def is_real_dir(path: Path) -> bool:
    """Whether `path` is a directory itself, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary folder for a saved state (a fork's), removed with all in it however
    deep or linked the guest made its files."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        remove_tree(folder, ignore_errors=True)


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
    if _present(final) and not replace:
        raise InvalidArgument(f"a {kind[:-1]} named {key!r} exists; delete it first")
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        (work / "state").mkdir()
        save_state(work / "state")
        meta = {**meta, "size": tree_size(work), "created": time.time()}
        (work / "meta.json").write_text(json.dumps(meta, indent=1))
        if _present(final):
            remove_tree(final)
        os.rename(work, final)
    except BaseException:
        remove_tree(work, ignore_errors=True)
        raise
    return meta


def adopt(kind: str, key: str, folder: Path) -> dict[str, Any]:
    """Make a complete entry folder (`meta.json`, `state/`, e.g. pulled from a registry)
    the entry `key`, atomically, with its name in meta.json set to `key`; never over an
    existing one. `folder` must be beside the store (same filesystem). Its metadata."""
    final = _entry(kind, key)
    if _present(final):
        raise InvalidArgument(f"a {kind[:-1]} named {key!r} exists; delete it first")
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError) as e:
        raise NotFound(f"saved entry {key!r} is damaged (no readable meta.json)") from e
    if not isinstance(meta, dict) or not isinstance(meta.get("tier"), str):
        raise NotFound(f"saved entry {key!r} is damaged (meta.json names no tier)")
    if not is_real_dir(folder / "state"):
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
    if not _present(entry):
        raise NotFound(f"no {kind[:-1]} {key!r} on this host")
    remove_tree(entry)


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
