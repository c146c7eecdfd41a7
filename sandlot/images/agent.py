"""The guest agent inside an image: `/opt/sandlot/sandlot_guest` plus `/opt/sandlot/AGENT_DIGEST`.

The agent is copied in after the rootfs is made and refreshed in place whenever its sources
change, so editing the agent never costs a new debootstrap. Run it in the guest with
`PYTHONPATH=/opt/sandlot python3 -m sandlot_guest.agent.pipe_main`.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from ..errors import ImageError
from .rootpath import resolve
from .store import remove_tree

GUEST_PACKAGE = "sandlot_guest"
GUEST_DIR = "/opt/sandlot"
DIGEST_FILE = "AGENT_DIGEST"


def _sources() -> tuple[Path, list[Path]]:
    import sandlot.guest as guest

    src = Path(guest.__file__).parent
    return src, [src / "__init__.py", *sorted((src / "agent").glob("*.py"))]


@lru_cache(maxsize=1)
def agent_digest() -> str:
    """sha256 over the agent's file names and contents (the guest/shell is not part of it)."""
    src, files = _sources()
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(src).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def installed_digest(rootfs: Path) -> str | None:
    try:
        return (resolve(rootfs, f"{GUEST_DIR}/{DIGEST_FILE}")).read_text().strip() or None
    except OSError:
        return None


def install(rootfs: Path, *, trusted_python: bool) -> None:
    """Copy the agent into `rootfs` (replacing an older copy) and record its digest.

    Bytecode is compiled by the host's python (used when the guest's version matches) and,
    for images whose python we built ourselves (`trusted_python`), also by the guest's own
    python3 in a chroot. An imported image's binaries are never run on the host.
    """
    opt = resolve(rootfs, GUEST_DIR)
    if opt.is_symlink() or (opt.exists() and not opt.is_dir()):
        opt.unlink()
    opt.mkdir(parents=True, exist_ok=True, mode=0o755)
    os.chmod(opt, 0o755)
    src, files = _sources()
    new = opt / f".{GUEST_PACKAGE}.new"
    remove_tree(new)
    (new / "agent").mkdir(parents=True)
    for f in files:
        shutil.copyfile(f, new / f.relative_to(src))
    guest_path = f"{GUEST_DIR}/{GUEST_PACKAGE}"
    compileall.compile_dir(str(new), ddir=guest_path, quiet=1)
    final = opt / GUEST_PACKAGE
    old = opt / f".{GUEST_PACKAGE}.old"
    remove_tree(old)
    if final.exists() or final.is_symlink():
        os.rename(final, old)
    os.rename(new, final)
    remove_tree(old)
    if trusted_python and os.geteuid() == 0 and (rootfs / "usr/bin/python3").exists():
        # Compile where it will live, so the guest's python writes pycs for its own version.
        subprocess.run(
            ["chroot", str(rootfs), "/usr/bin/python3", "-I", "-m", "compileall", "-q", guest_path],
            capture_output=True,
            timeout=120,
            check=False,
        )
    for d, _, names in os.walk(final):
        os.chmod(d, 0o755)
        for n in names:
            os.chmod(os.path.join(d, n), 0o644)
    digest_file = opt / DIGEST_FILE
    tmp = opt / f".{DIGEST_FILE}.tmp"
    tmp.write_text(agent_digest() + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, digest_file)
    if not (final / "agent" / "pipe_main.py").exists():  # pragma: no cover
        raise ImageError(f"installing the guest agent into {rootfs} failed")
