"""A built `base` image for any test folder that needs a real Linux rootfs.

`built_base_image()` builds `base` once per process (about 1.5 min the first time on a
host, then reused from the content-addressed store in milliseconds) into the store that was
in effect when the test run started: `$SANDLOT_HOME` or `~/.local/share/sandlot`, never a
test's temporary one, so later runs reuse it too. It skips the calling test, with the
reason, where this host cannot build (no debootstrap, not root, no Debian mirror).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from urllib.parse import urlparse

import pytest

from sandlot import images
from sandlot.images import Image

_HOME_AT_START = os.environ.get("SANDLOT_HOME")
_lock = threading.Lock()
_built: Image | None = None


def cannot_build_reason() -> str | None:
    """Why this host cannot build images, or None when it can."""
    if shutil.which("debootstrap") is None and not os.path.exists("/usr/sbin/debootstrap"):
        return "debootstrap is not installed (apt-get install debootstrap)"
    if os.geteuid() != 0:
        return "building images needs root"
    mirror = urlparse(images.recipe("base").mirror)
    try:
        socket.create_connection((mirror.hostname or "", mirror.port or 80), timeout=5).close()
    except OSError as e:
        return f"the Debian mirror {mirror.hostname} is unreachable: {e}"
    return None


def built_base_image() -> Image:
    """The `base` image, built on first call; skips the test where it can't be built."""
    global _built
    with _lock:
        if _built is not None and _built.rootfs.is_dir():
            return _built
        saved = os.environ.get("SANDLOT_HOME")
        if _HOME_AT_START is None:
            os.environ.pop("SANDLOT_HOME", None)
        else:
            os.environ["SANDLOT_HOME"] = _HOME_AT_START
        try:
            found = images.find("base")
            if found is None:
                reason = cannot_build_reason()
                if reason is not None:
                    pytest.skip(f"no built base image and cannot build one: {reason}")
            _built = images.ensure("base", build=True)
        finally:
            if saved is None:
                os.environ.pop("SANDLOT_HOME", None)
            else:
                os.environ["SANDLOT_HOME"] = saved
        return _built
