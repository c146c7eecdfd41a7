"""What `/proc/self/mountinfo` tells a process-tier guest about the host (issue 13, item 11).

A bind mount's line names the path of its source inside the source's filesystem; bwrap
cannot change that (only the kernel writes the line), so the guest reads where on the
host each bound folder lives. Where bwrap can avoid a bind it does: the generated /etc
files are copied in (`--ro-bind-data`), so the sandbox's state folder is not named.
docs/security.md lists what is left; this test pins it to that list, so a new bind of
some other host path fails here first:

- a host folder bound at its own path (/usr, /etc/ssl, ... on the host userland): the
  path says nothing the guest does not see anyway;
- sandlot's own store: the image's rootfs, the agent's compiled folder in its cache;
- the sandbox's own writable folders only where no tmpfs could be mounted for them (not
  root): `<tmp>/sandlot-process-*/root/...`;
- tmpfs, proc, devtmpfs and devpts mounts, whose paths are their own.
"""

from __future__ import annotations

import os
import re
import tempfile

import pytest

from sandlot import Sandbox

# Sandlot's image store and cache, wherever $SANDLOT_HOME/$SANDLOT_CACHE put them.
SANDLOT_STORE = re.compile(r"/images/[0-9a-f]{64}/rootfs$|/process-guest-[0-9a-f]{16}$")


def _binds(sbx: Sandbox) -> list[tuple[str, str, str]]:
    """(source path in its filesystem, mount point, filesystem type) of each mount."""
    r = sbx.commands.run("cat /proc/self/mountinfo")
    assert r.exit_code == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        out.append((fields[3], fields[4], fstype))
    return out


def _undocumented(binds: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    own_state = os.path.join(tempfile.gettempdir(), "sandlot-process-")
    return [
        (source, target, fstype)
        for source, target, fstype in binds
        if not (
            fstype in ("tmpfs", "proc", "devtmpfs", "devpts", "mqueue")
            or source == target
            or (source.startswith(own_state) and target in ("/home/user", "/tmp"))
            or SANDLOT_STORE.search(source)
        )
    ]


@pytest.mark.parametrize("template", ["host", "base"])
def test_mountinfo_shows_only_the_documented_host_paths(template: str) -> None:
    try:
        sbx = Sandbox.create(template=template, tier="process")
    except Exception as e:  # noqa: BLE001 - the image may not be built here
        pytest.skip(f"no {template!r} for the process tier here: {e}")
    with sbx:
        binds = _binds(sbx)
        assert any(t == "/home/user" for _, t, _ in binds), binds
        assert _undocumented(binds) == [], binds
        etc = [(s, t) for s, t, _ in binds if t in ("/etc/passwd", "/etc/hosts")]
        assert len(etc) == 2 and not [s for s, _ in etc if "sandlot-process-" in s], etc
        assert sbx.commands.run("id -un; hostname").stdout == "user\nsandbox\n"
