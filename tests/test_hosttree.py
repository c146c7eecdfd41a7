"""hostfs's whole-tree operations on guest-shaped trees: links never followed, any depth,
a bounded number of fds (real files in a temporary folder)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from sandlot.errors import ImageError
from sandlot.runtimes.hostfs import copy_tree, remove_tree, tree_size, walk_tree
from sandlot.sdk.registry_client import pack, unpack

DEEP = 1_100


def _deep(top: Path, levels: int = DEEP) -> None:
    """`levels` nested folders `d` under `top`, a file at the bottom (made by fd: the path
    would be too long for the host's path-string calls)."""
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=fd)
            below = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = below
        leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"bottom")
        os.close(leaf)
    finally:
        os.close(fd)


def _shape(top: Path) -> list[tuple[str, str]]:
    """Every entry below `top` as (relative path, kind or link target or content)."""
    fd = os.open(top, os.O_RDONLY)
    found = []
    try:
        for e in walk_tree(fd):
            path = "/".join([*e.parents, e.name])
            if stat.S_ISLNK(e.st.st_mode):
                found.append((path, "-> " + os.readlink(e.name, dir_fd=e.dir_fd)))
            elif stat.S_ISDIR(e.st.st_mode):
                found.append((path, "dir"))
            else:
                found.append((path, f"file {e.st.st_size}"))
    finally:
        os.close(fd)
    return sorted(found)


@pytest.fixture
def guest(tmp_path: Path) -> Path:
    """A guest's tree with siblings at every level, links out of it, a FIFO."""
    g = tmp_path / "guest"
    for sub in ("home/user/notes", "tmp/outputs", "usr/local/lib"):
        (g / sub).mkdir(parents=True)
    (g / "home/user/notes/a.txt").write_text("alpha")
    (g / "tmp/outputs/plot.png").write_bytes(b"\x89PNG" + b"\0" * 100)
    os.chmod(g / "tmp/outputs/plot.png", 0o640)
    os.symlink("../" * 30 + "etc", g / "home/user/up")
    os.symlink("/etc/passwd", g / "tmp/abs")
    os.mkfifo(g / "tmp/fifo")
    return g


def test_copy_tree_keeps_links_as_links_and_leaves_fifos_out(guest: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy_tree(guest, copy)
    want = [entry for entry in _shape(guest) if entry[0] != "tmp/fifo"]
    assert _shape(copy) == want
    assert (copy / "home/user/up").is_symlink() and (copy / "tmp/abs").is_symlink()
    assert os.stat(copy / "tmp/outputs/plot.png").st_mode & 0o777 == 0o640
    got, was = os.stat(copy / "home/user/notes/a.txt"), os.stat(guest / "home/user/notes/a.txt")
    assert got.st_mtime_ns == was.st_mtime_ns


def test_tree_size_counts_files_only_never_what_a_link_points_to(
    guest: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(1 << 40)
    os.symlink(big, guest / "big")
    assert tree_size(guest) == len("alpha") + 104


def test_a_very_deep_tree_is_walked_copied_measured_and_removed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _deep(src)
    (src / "side").mkdir()  # a sibling walked after the deep branch
    (src / "side" / "x").write_text("x")
    fd = os.open(src, os.O_RDONLY)
    try:
        open_fds = []
        for n, _ in enumerate(walk_tree(fd)):
            if n % 100 == 0:
                open_fds.append(len(os.listdir("/proc/self/fd")))
    finally:
        os.close(fd)
    assert max(open_fds) < min(open_fds) + 100  # bounded, whatever the depth
    copy = tmp_path / "copy"
    copy_tree(src, copy)
    assert _shape(copy) == _shape(src)
    assert tree_size(copy) == len("bottom") + 1
    remove_tree(copy)
    remove_tree(src)
    assert not copy.exists() and not src.exists()


def test_remove_tree_removes_links_not_what_they_point_to(guest: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("host file")
    os.symlink(outside, guest / "home/user/door")
    os.chmod(guest / "usr/local", 0)  # a folder the guest made unreadable
    remove_tree(guest)
    assert not os.path.lexists(guest)
    assert (outside / "keep").read_text() == "host file"
    remove_tree(guest)  # already gone: nothing to do
    link = tmp_path / "link"
    os.symlink(outside, link)
    remove_tree(link)  # a link given itself is removed, not followed
    assert not os.path.lexists(link) and (outside / "keep").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_remove_tree_as_the_owner_gets_through_folders_made_unreadable() -> None:
    # As a host user (not root): a guest that chmod 0'd its folders (process tier) must
    # not leave them behind at close.
    owned = Path(tempfile.mkdtemp(prefix="sandlot-test-owned-"))  # nobody can reach /tmp
    try:
        (owned / "box" / "a" / "b").mkdir(parents=True)
        (owned / "box" / "a" / "b" / "f").write_text("x")
        _deep(owned / "box" / "a", levels=200)
        for folder, _dirs, files in os.walk(owned):
            for name in [folder, *(os.path.join(folder, n) for n in files)]:
                os.lchown(name, 65534, 65534)
        os.chmod(owned / "box" / "a" / "b", 0o500)  # read-only: its file cannot be unlinked
        os.chmod(owned / "box" / "a", 0)  # not even listable
        code = "import sys; from sandlot.runtimes.hostfs import remove_tree as r; r(sys.argv[1])"
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
            + ["-c", code, str(owned / "box")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert not os.path.lexists(owned / "box")
    finally:
        remove_tree(owned)


def _tar(tmp_path: Path, members: list[tuple[str, bytes, str | None]]) -> Path:
    """A tar of (name, content, link target or None) members, no folder members."""
    blob = tmp_path / "snapshot.tar"
    with tarfile.open(blob, "w") as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return blob


def test_a_snapshot_tar_round_trips_a_deep_tree_by_fd(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    (entry / "state" / "root" / "home").mkdir(parents=True)
    (entry / "meta.json").write_text("{}")
    _deep(entry / "state" / "root" / "home")
    os.symlink("home/d", entry / "state" / "root" / "inside")
    blob = tmp_path / "blob.tar"
    pack(entry, blob)
    started = time.monotonic()
    unpack(blob, tmp_path / "back", snapshot=True)
    assert time.monotonic() - started < 10  # tarfile's filter took ~43 s for this
    assert _shape(tmp_path / "back") == _shape(entry)
    remove_tree(tmp_path / "back")
    remove_tree(entry)


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([("state/root/a", b"x", None), ("state/root/a", b"y", None)], "twice"),
        ([("state/root/l", b"", "/etc"), ("state/root/l/x", b"x", None)], "outside"),
        ([("state/root/l", b"", "../../../x")], "outside"),
        ([("meta.json", b"", "state/root/x")], "outside the guest's files"),
        ([("state/root/../../x", b"x", None)], "unsafe member"),
    ],
    ids=["twice", "abs-link-then-through-it", "up-link", "link-outside-state-root", "dotdot"],
)
def test_a_snapshot_tar_is_refused_before_anything_leaves_it(
    tmp_path: Path, members: list[tuple[str, bytes, str | None]], why: str
) -> None:
    with pytest.raises(ImageError, match=why):
        unpack(_tar(tmp_path, members), tmp_path / "entry", snapshot=True)
    assert not os.path.lexists(tmp_path / "x") and not os.path.lexists("/etc/x")


def test_a_snapshot_tar_without_folder_members_still_unpacks(tmp_path: Path) -> None:
    members = [("meta.json", b"{}", None), ("state/root/home/user/a.txt", b"alpha", None)]
    link: list[tuple[str, bytes, str | None]] = [("state/root/l", b"", "home/user/a.txt")]
    unpack(_tar(tmp_path, members + link), tmp_path / "s", snapshot=True)
    assert (tmp_path / "s" / "state" / "root" / "l").read_text() == "alpha"  # inside: kept
