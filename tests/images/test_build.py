"""A real debootstrap build of `base` (slow; shared with every test folder through
tests/image_fixture.py), and debootstrap's progress lines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from image_fixture import built_base_image, cannot_build_reason
from typer.testing import CliRunner

from sandlot import images
from sandlot.cli.main import app
from sandlot.errors import ImageError
from sandlot.images import agent
from sandlot.images.builder import DebootstrapProgress

# Lines as debootstrap 1.0.128 prints them for `--variant=minbase bookworm`.
DEBOOTSTRAP_OUTPUT = """\
I: Retrieving InRelease
I: Checking Release signature
I: Retrieving adduser 3.134
I: Validating adduser 3.134
I: Retrieving apt 2.6.1
I: Validating apt 2.6.1
I: Extracting adduser...
I: Installing core packages...
I: Unpacking required packages...
I: Unpacking libc6:amd64...
I: Configuring required packages...
I: Configuring apt...
I: Base system installed successfully.
"""


def test_debootstrap_progress_lines() -> None:
    out: list[str] = []
    p = DebootstrapProgress(out.append)
    for line in DEBOOTSTRAP_OUTPUT.splitlines():
        p.line(line)
    assert out == [
        "Retrieving InRelease",
        "Checking Release signature",
        "retrieving 1: adduser",
        "validating 1/1: adduser",
        "retrieving 2: apt",
        "validating 2/2: apt",
        "extracting 1/2: adduser",
        "Installing core packages...",
        "Unpacking required packages...",
        "unpacking 1/2: libc6",
        "Configuring required packages...",
        "configuring 1/2: apt",
        "Base system installed successfully.",
    ]


@pytest.mark.slow
def test_build_base_for_real() -> None:
    image = built_base_image()
    root = image.rootfs
    assert (root / "usr/bin/python3").exists() and (root / "usr/bin/bash").exists()
    assert (root / "opt/sandlot/sandlot_guest/agent/pipe_main.py").is_file()
    assert (root / "opt/sandlot/AGENT_DIGEST").read_text().strip() == agent.agent_digest()
    assert image.source == "build" and image.digest == images.recipe("base").digest
    assert not list((root / "var/cache/apt/archives").glob("*.deb"))  # tidied
    # The agent imports under the image's own python3 (chroot: we are root to have built it).
    done = subprocess.run(
        ["chroot", str(root), "/usr/bin/python3", "-I", "-c",
         "import sys; sys.path.insert(0, '/opt/sandlot'); import sandlot_guest.agent.protocol"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # The same recipe again is a lookup, not a build.
    saved = os.environ.get("SANDLOT_HOME")
    os.environ["SANDLOT_HOME"] = str(image.path.parent.parent)
    try:
        start = time.monotonic()
        again = images.build("base")
        took = time.monotonic() - start
        assert again.digest == image.digest and again.created == image.created
        assert took < 0.5, f"reusing a built image took {took:.2f} s"
        assert images.ensure("base") == again
        listed = CliRunner().invoke(app, ["image", "list"])
        assert (
            listed.exit_code == 0
            and "base" in listed.output
            and image.short_digest in listed.output
        )
    finally:
        if saved is None:
            os.environ.pop("SANDLOT_HOME", None)
        else:
            os.environ["SANDLOT_HOME"] = saved


@pytest.mark.slow
def test_failed_build_names_the_step_and_leaves_nothing(store_home: Path) -> None:
    reason = cannot_build_reason()
    if reason is not None:
        pytest.skip(reason)
    (store_home / "templates").mkdir(exist_ok=True)
    (store_home / "templates" / "broken.toml").write_text(
        'name = "broken"\n[packages]\napt = ["sandlot-no-such-package"]\n'
    )
    lines: list[str] = []
    with pytest.raises(ImageError, match="step debootstrap failed") as e:
        images.build("broken", progress=lines.append)
    assert "sandlot-no-such-package" in str(e.value)  # the last lines of its output
    assert lines  # progress was reported on the way
    assert images.list_images() == []
    assert not [p for p in (store_home / "images").iterdir() if p.name.startswith(".t")]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
def test_killed_build_stops_debootstrap_and_leaves_nothing(store_home: Path) -> None:
    reason = cannot_build_reason()
    if reason is not None:
        pytest.skip(reason)
    (store_home / "templates").mkdir(exist_ok=True)
    (store_home / "templates" / "killed.toml").write_text(
        'name = "killed"\n[packages]\napt = ["bash"]\n'
    )
    script = "from sandlot import images; images.build('killed', progress=print)"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", script], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "SANDLOT_HOME": str(store_home)},
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 240
    for line in proc.stdout:
        if line.startswith("retrieving 5:") or time.monotonic() > deadline:
            break
    proc.kill()  # no chance to clean up: the work folder stays behind
    proc.wait()
    images_dir = store_home / "images"
    assert [p for p in images_dir.iterdir() if p.name.startswith(".tmp-")]
    # debootstrap got SIGTERM when its parent died, and stops.
    until = time.monotonic() + 60
    while _processes_mentioning(str(images_dir)) and time.monotonic() < until:
        time.sleep(0.5)
    assert _processes_mentioning(str(images_dir)) == []
    assert images.find("killed") is None
    assert images.list_images() == []
    assert not [p for p in images_dir.iterdir() if p.name.startswith(".t")]
