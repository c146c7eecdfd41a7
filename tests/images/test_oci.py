"""OCI and docker-save import: layers, whiteouts, links, and hostile tarballs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sandlot import images
from sandlot.errors import ImageError

from .ocitar import Entry, docker_save, layer, oci_layout


@pytest.fixture(autouse=True)
def _empty_store(store_home: Path) -> None:
    for image in images.list_images():
        images.remove(image.digest)


def _work_dirs() -> list[Path]:
    return [p for p in (images.store_root() / "images").iterdir() if p.name.startswith(".t")]


LOWER = [
    Entry("etc", "dir", mode=0o755),
    Entry("etc/hello", data=b"hello\n"),
    Entry("usr/bin/tool", data=b"#!/bin/sh\necho tool\n", mode=0o755),
    Entry("usr/bin/tool2", "hardlink", link="usr/bin/tool"),
    Entry("bin", "symlink", link="usr/bin"),
    Entry("data/a", data=b"a"),
    Entry("data/b", data=b"b"),
    Entry("opq/old", data=b"old"),
    Entry("opq/sub/deep", data=b"deep"),
    Entry("ro", "dir", mode=0o555),
    Entry("ro/file", data=b"r", mode=0o444),
]
UPPER = [
    Entry("data/.wh.a"),
    Entry("opq/.wh..wh..opq"),
    Entry("opq/new", data=b"new"),
    Entry("etc/hello", data=b"replaced\n"),
    Entry("fifo", "fifo", mode=0o600),
]


def _check_layers(rootfs: Path) -> None:
    assert (rootfs / "etc/hello").read_bytes() == b"replaced\n"
    tool = rootfs / "usr/bin/tool"
    assert stat.S_IMODE(tool.stat().st_mode) == 0o755
    assert os.path.samefile(tool, rootfs / "usr/bin/tool2")
    assert os.readlink(rootfs / "bin") == "usr/bin"
    assert not (rootfs / "data/a").exists() and (rootfs / "data/b").read_bytes() == b"b"
    assert sorted(p.name for p in (rootfs / "opq").iterdir()) == ["new"]
    assert stat.S_IMODE((rootfs / "ro").stat().st_mode) == 0o555
    assert stat.S_ISFIFO((rootfs / "fifo").lstat().st_mode)
    assert (rootfs / "opt/sandlot/sandlot_guest/agent/pipe_main.py").is_file()
    assert (rootfs / "opt/sandlot/AGENT_DIGEST").is_file()


def test_oci_layout(tmp_path: Path) -> None:
    tar = oci_layout(tmp_path / "img.tar", [layer(LOWER), layer(UPPER, gz=True)])
    lines: list[str] = []
    image = images.import_oci(tar, progress=lines.append)
    assert image.source == "import" and image.name == "demo:1" and image.recipe is None
    assert any("layer 2/2" in line for line in lines)
    _check_layers(image.rootfs)
    assert images.find("demo:1") == image
    again = images.import_oci(tar, name="renamed")  # same manifest: same image, new name
    assert again.digest == image.digest and again.name == "renamed"
    assert [i.name for i in images.list_images()] == ["renamed"]
    assert _work_dirs() == []


def test_docker_save(tmp_path: Path) -> None:
    tar = docker_save(tmp_path / "img.tar", [layer(LOWER, gz=True), layer(UPPER)])
    image = images.import_oci(tar)
    assert image.name == "demo:latest"
    _check_layers(image.rootfs)
    images.remove("demo:latest")
    assert images.list_images() == []


def test_layer_digest_checked(tmp_path: Path) -> None:
    tar = oci_layout(tmp_path / "img.tar", [layer(LOWER)], bad_digest=True)
    with pytest.raises(ImageError, match="manifest says"):
        images.import_oci(tar)
    assert images.list_images() == [] and _work_dirs() == []


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "x.tar").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ImageError, match="cannot read"):
        images.import_oci(tmp_path / "x.tar")
    plain = docker_save(tmp_path / "y.tar", [])
    (tmp_path / "z.tar").write_bytes(layer([Entry("hello", data=b"x")]))
    with pytest.raises(ImageError, match="neither an OCI layout"):
        images.import_oci(tmp_path / "z.tar")
    assert images.import_oci(plain, name="empty").size >= 0  # no layers: just the agent


# -- hostile tarballs ---------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the store that a hostile image tries to reach."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "precious").write_text("keep me")
    return d


def _untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["precious"]
    assert (outside / "precious").read_text() == "keep me"


@pytest.mark.parametrize("name", ["../x", "a/../../x", "./../../../x", "/etc/sandlot-pwned"])
def test_traversal_refused(tmp_path: Path, outside: Path, name: str) -> None:
    tar = oci_layout(tmp_path / "evil.tar", [layer([Entry("ok", data=b"1"), Entry(name)])])
    with pytest.raises(ImageError, match="refusing"):
        images.import_oci(tar)
    assert not Path("/etc/sandlot-pwned").exists()
    assert not (tmp_path / "x").exists() and not (images.store_root() / "x").exists()
    assert images.list_images() == [] and _work_dirs() == []
    _untouched(outside)


@pytest.mark.parametrize("link", ["abs", "rel"])
def test_write_through_symlink_stays_inside(tmp_path: Path, outside: Path, link: str) -> None:
    target = str(outside) if link == "abs" else "../" * 30 + str(outside).lstrip("/")
    evil = [
        Entry("esc", "symlink", link=target),
        Entry("esc/pwned", data=b"owned"),  # through the symlink
        Entry("esc/precious", data=b"overwritten"),
        Entry("esc/.wh.precious"),  # a whiteout through the symlink
        Entry("esc2", "symlink", link=target + "/precious"),
    ]
    image = images.import_oci(oci_layout(tmp_path / "evil.tar", [layer(evil), layer(evil[1:2])]))
    _untouched(outside)
    # Neutralised: the writes landed in the image's own copy of that path.
    inner = image.rootfs / str(outside).lstrip("/")
    assert (inner / "pwned").read_bytes() == b"owned"


def test_hardlink_out_of_image_refused(tmp_path: Path, outside: Path) -> None:
    for evil in (
        [Entry("h", "hardlink", link=str(outside / "precious"))],
        [Entry("h", "hardlink", link="../../outside/precious")],
        [Entry("s", "symlink", link=str(outside / "precious")), Entry("h", "hardlink", link="s")],
    ):
        with pytest.raises(ImageError):
            images.import_oci(oci_layout(tmp_path / "evil.tar", [layer(evil)]))
        _untouched(outside)
        assert (outside / "precious").stat().st_nlink == 1
    assert images.list_images() == [] and _work_dirs() == []


def test_devices_skipped_setuid_dropped(tmp_path: Path) -> None:
    evil = [
        Entry("dev/mem", "chr", mode=0o666),
        Entry("suid", data=b"x", mode=0o4755),
        Entry("sgid", data=b"x", mode=0o2755),
    ]
    lines: list[str] = []
    image = images.import_oci(
        oci_layout(tmp_path / "evil.tar", [layer(evil)]), progress=lines.append
    )
    assert not (image.rootfs / "dev/mem").exists()
    assert any("device node" in line for line in lines)
    assert stat.S_IMODE((image.rootfs / "suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((image.rootfs / "sgid").stat().st_mode) == 0o755


def test_whiteout_of_dot_and_dotdot_ignored(tmp_path: Path, outside: Path) -> None:
    # ".wh.." would remove ".", ".wh..." would remove "..": the image's own root or above.
    evil = [Entry("sub/keep", data=b"1"), Entry(".wh.."), Entry("sub/.wh..."), Entry("sub/.wh..")]
    image = images.import_oci(oci_layout(tmp_path / "evil.tar", [layer(evil)]))
    assert (image.rootfs / "sub/keep").read_bytes() == b"1"
    assert images.store_root().is_dir()
    _untouched(outside)


def test_symlink_loop_and_path_through_a_file(tmp_path: Path) -> None:
    loop = [Entry("a", "symlink", link="b"), Entry("b", "symlink", link="a"), Entry("a/x")]
    with pytest.raises(ImageError, match="too many levels"):
        images.import_oci(oci_layout(tmp_path / "loop.tar", [layer(loop)]))
    through = [Entry("f", data=b"1"), Entry("f/x", data=b"2")]
    with pytest.raises(ImageError, match="cannot apply 'f/x'"):
        images.import_oci(oci_layout(tmp_path / "file.tar", [layer(through)]))
    assert images.list_images() == [] and _work_dirs() == []


def test_cli_import_list_rm(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sandlot.cli.main import app

    runner = CliRunner()
    tar = docker_save(tmp_path / "img.tar", [layer(LOWER)])
    done = runner.invoke(app, ["image", "import", str(tar), "--name", "mine"])
    assert done.exit_code == 0, done.output
    listed = runner.invoke(app, ["image", "list"])
    assert listed.exit_code == 0 and "mine" in listed.output and "import" in listed.output
    templates = runner.invoke(app, ["image", "templates"])
    assert templates.exit_code == 0 and "cpp-algorithm" in templates.output
    assert runner.invoke(app, ["image", "rm", "mine"]).exit_code == 0
    gone = runner.invoke(app, ["image", "rm", "mine"])
    assert gone.exit_code == 1 and "NotFound" in gone.output
    bad = runner.invoke(app, ["image", "import", str(tmp_path / "nope.tar")])
    assert bad.exit_code == 1
    unknown = runner.invoke(app, ["image", "build", "no-such-template"])
    assert unknown.exit_code == 1 and "known templates" in unknown.output
