"""What `/proc/self/mountinfo` tells a process-tier guest about the host (issue 13, item 11).

A bind mount's line names the path of its source inside the source's filesystem; bwrap
cannot change that (only the kernel writes the line), so the guest reads where on the
host each bound folder lives. docs/security.md lists what that is; this test pins it to
that list, so a new bind of some other host path fails here first:

- a host folder bound at its own path (/usr, /etc/ssl, ... on the host userland): the
  path says nothing the guest does not see anyway;
- the sandbox's own state folder (`<tmp>/sandlot-process-*`: its generated /etc files);
- sandlot's own store: the image's rootfs, the agent's compiled folder in its cache;
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
            or source.startswith(own_state)
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
        # Other sandboxes' folders are never named, nor the host's home beyond sandlot's.
        others = [s for s, _, _ in binds if "sandlot-process-" in s]
        assert len({s.split("/etc/")[0] for s in others}) <= 1, others
