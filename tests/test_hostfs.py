"""SandboxRoot: host-side file operations that never leave the sandbox's root directory."""

from __future__ import annotations

import functools
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandlot.errors import InvalidArgument, LimitExceeded, NotFound, SandboxClosed, SandboxError
from sandlot.runtimes.hostfs import MAX_LIST_ENTRIES, SandboxRoot

SECRET = b"host secret: must never be read through the sandbox"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "home" / "user").mkdir(parents=True)
    (r / "tmp").mkdir()
    return r


@pytest.fixture
def fs(root: Path) -> Iterator[SandboxRoot]:
    with SandboxRoot(root) as sr:
        yield sr


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A host file outside the sandbox root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    f = outside / "secret.txt"
    f.write_bytes(SECRET)
    return f


def home(root: Path) -> Path:
    return root / "home" / "user"


def within(seconds: float, fn: Callable[[], Any]) -> Any:
    """Run fn in a daemon thread; fail (rather than hang) when it blocks."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"call blocked for more than {seconds}s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# -- round trips and paths ---------------------------------------------------------------


def test_write_read_round_trip(fs: SandboxRoot, root: Path) -> None:
    info = fs.write("/home/user/a.txt", b"hello")
    assert info.path == "/home/user/a.txt"
    assert info.name == "a.txt"
    assert info.type == "file"
    assert info.size == 5
    assert (home(root) / "a.txt").read_bytes() == b"hello"
    assert fs.read("/home/user/a.txt", max_bytes=100) == b"hello"


def test_write_str_is_utf8_and_replaces(fs: SandboxRoot, root: Path) -> None:
    fs.write("/tmp/t.txt", "first, longer content")
    fs.write("/tmp/t.txt", "héllo")
    assert (root / "tmp" / "t.txt").read_bytes() == "héllo".encode()


def test_write_creates_parents(fs: SandboxRoot, root: Path) -> None:
    info = fs.write("/data/deep/er/x.bin", b"\x00\x01")
    assert info.path == "/data/deep/er/x.bin"
    assert (root / "data" / "deep" / "er" / "x.bin").read_bytes() == b"\x00\x01"


def test_write_creates_many_parents(fs: SandboxRoot, root: Path) -> None:
    path = "/".join(["p"] * 200) + "/f"
    assert fs.write(path, b"deep").path == "/home/user/" + path
    assert fs.read(path, max_bytes=10) == b"deep"
    assert fs.make_dir(path + ".d/" + "/".join(["q"] * 200)) is True


def test_write_leaves_no_temp_files(fs: SandboxRoot, root: Path) -> None:
    fs.write("a", b"1")
    fs.write("a", b"2")
    assert sorted(p.name for p in home(root).iterdir()) == ["a"]


def test_write_keeps_existing_mode(fs: SandboxRoot, root: Path) -> None:
    script = home(root) / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    fs.write("run.sh", "#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


def test_relative_paths_are_under_home(fs: SandboxRoot, root: Path) -> None:
    info = fs.write("notes/x.txt", b"x")
    assert info.path == "/home/user/notes/x.txt"
    assert (home(root) / "notes" / "x.txt").read_bytes() == b"x"
    assert fs.read("./notes/../notes/x.txt", max_bytes=10) == b"x"
    assert fs.get_info("notes").path == "/home/user/notes"


def test_custom_home(root: Path) -> None:
    (root / "work").mkdir()
    with SandboxRoot(root, home="/work") as sr:
        assert sr.write("f", b"1").path == "/work/f"
    assert (root / "work" / "f").read_bytes() == b"1"


def test_dotdot_never_goes_above_root(fs: SandboxRoot, root: Path, tmp_path: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_bytes(b"guest passwd")
    assert fs.read("../../../../etc/passwd", max_bytes=100) == b"guest passwd"
    assert fs.read("/../../etc/passwd", max_bytes=100) == b"guest passwd"
    assert fs.get_info("/home/user/../../..").path == "/"
    info = fs.write("/home/user/../../../../escaped.txt", b"x")
    assert info.path == "/escaped.txt"
    assert (root / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()


def test_dotdot_to_host_file_is_not_found(fs: SandboxRoot, secret: Path) -> None:
    # <tmp>/root/home/user/../../../outside/secret.txt is the secret on the host.
    with pytest.raises(NotFound):
        fs.read("../../../outside/secret.txt", max_bytes=1000)


def test_list_root_and_get_info_root(fs: SandboxRoot) -> None:
    assert [e.path for e in fs.list("/")] == ["/home", "/tmp"]
    info = fs.get_info("/")
    assert info.type == "dir"
    assert info.path == "/"


# -- symlinks ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../../../etc/passwd"])
def test_symlink_to_etc_passwd_stays_inside(fs: SandboxRoot, root: Path, target: str) -> None:
    os.symlink(target, home(root) / "p")
    with pytest.raises(NotFound) as exc:
        fs.read("p", max_bytes=1 << 20)
    assert "/home/user/p" in str(exc.value)
    assert str(root) not in str(exc.value)
    # The guest's own /etc/passwd is what the link means.
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_bytes(b"guest passwd")
    assert fs.read("p", max_bytes=1 << 20) == b"guest passwd"


def test_symlink_to_host_secret_is_never_read(fs: SandboxRoot, root: Path, secret: Path) -> None:
    os.symlink(str(secret), home(root) / "abs")
    rel = os.path.relpath(secret, home(root))  # ../../../outside/secret.txt on the host
    os.symlink(rel, home(root) / "rel")
    for name in ("abs", "rel"):
        with pytest.raises(NotFound):
            fs.read(name, max_bytes=1 << 20)
    # Writing through them lands inside the root, never on the secret.
    fs.write("abs", b"guest data")
    fs.write("rel", b"guest data")
    assert secret.read_bytes() == SECRET
    assert (root / str(secret).lstrip("/")).read_bytes() == b"guest data"
    assert (root / "outside" / "secret.txt").read_bytes() == b"guest data"


def test_symlinked_intermediate_dir_to_host_root(fs: SandboxRoot, root: Path) -> None:
    os.symlink("/", home(root) / "hostroot")
    name = f"sandlot-escape-{uuid.uuid4().hex}"
    host_file = Path("/tmp") / name
    try:
        info = fs.write(f"hostroot/tmp/{name}", b"x")
        assert info.path == f"/tmp/{name}"
        assert (root / "tmp" / name).read_bytes() == b"x"
        assert not host_file.exists()
        assert fs.read(f"hostroot/tmp/{name}", max_bytes=10) == b"x"
        fs.make_dir(f"hostroot/tmp/{name}.d/sub")
        assert not Path(f"/tmp/{name}.d").exists()
        assert (root / "tmp" / f"{name}.d" / "sub").is_dir()
    finally:
        for p in (host_file, Path(f"/tmp/{name}.d/sub"), Path(f"/tmp/{name}.d")):
            if p.is_dir():
                p.rmdir()
            elif p.exists():
                p.unlink()


def test_relative_intermediate_symlink_above_root(
    fs: SandboxRoot, root: Path, tmp_path: Path
) -> None:
    # On the host, home/user/up/x is <tmp>/outside/x; for the guest it is /outside/x.
    (tmp_path / "outside").mkdir()
    os.symlink("../../../outside", home(root) / "up")
    info = fs.write("up/x", b"x")
    assert info.path == "/outside/x"
    assert not (tmp_path / "outside" / "x").exists()
    assert (root / "outside" / "x").read_bytes() == b"x"


def test_symlink_inside_root_is_followed(fs: SandboxRoot, root: Path) -> None:
    (root / "data").mkdir()
    (root / "data" / "f").write_bytes(b"data")
    os.symlink("/data", home(root) / "d")
    os.symlink("../../data/f", home(root) / "f")
    assert fs.read("d/f", max_bytes=10) == b"data"
    assert fs.read("f", max_bytes=10) == b"data"
    assert fs.write("d/g", b"g").path == "/data/g"
    assert [e.name for e in fs.list("d")] == ["f", "g"]


def test_get_info_reports_symlink_itself(fs: SandboxRoot, root: Path) -> None:
    os.symlink("/etc/passwd", home(root) / "p")
    info = fs.get_info("p")
    assert info.type == "symlink"
    assert info.symlink_target == "/etc/passwd"
    assert info.path == "/home/user/p"
    assert fs.exists("p")  # a dangling symlink exists (lstat)


@pytest.mark.parametrize("links", [[("a", "b"), ("b", "a")], [("self", "self")]])
def test_symlink_loops(fs: SandboxRoot, root: Path, links: list[tuple[str, str]]) -> None:
    for name, target in links:
        os.symlink(target, home(root) / name)
    name = links[0][0]
    for call in (
        lambda: fs.read(name, max_bytes=10),
        lambda: fs.write(name, b"x"),
        lambda: fs.list(name),
        lambda: fs.read(f"{name}/x", max_bytes=10),
    ):
        with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
            call()
    assert fs.get_info(name).type == "symlink"
    assert not fs.exists(f"{name}/x")


def test_long_symlink_chain_under_limit(fs: SandboxRoot, root: Path) -> None:
    (home(root) / "end").write_bytes(b"end")
    prev = "end"
    for i in range(30):
        os.symlink(prev, home(root) / f"l{i}")
        prev = f"l{i}"
    assert fs.read(prev, max_bytes=10) == b"end"


def test_symlink_dotdot_clamped_at_root(fs: SandboxRoot, root: Path) -> None:
    os.symlink("../../../../../../../..", home(root) / "up")
    assert fs.get_info("up/tmp").path == "/tmp"
    assert [e.path for e in fs.list("up")] == ["/home", "/tmp"]


# -- odd files ---------------------------------------------------------------------------


def test_fifo_read_is_refused_without_blocking(fs: SandboxRoot, root: Path) -> None:
    os.mkfifo(home(root) / "fifo")
    os.symlink("fifo", home(root) / "to-fifo")
    for name in ("fifo", "to-fifo"):
        with pytest.raises(InvalidArgument, match="not a regular file"):
            within(5, functools.partial(fs.read, name, max_bytes=10))
    assert fs.get_info("fifo").type == "other"


def test_fifo_write_does_not_block(fs: SandboxRoot, root: Path) -> None:
    os.mkfifo(home(root) / "fifo")
    within(5, lambda: fs.write("fifo", b"data"))
    assert (home(root) / "fifo").read_bytes() == b"data"


def test_huge_file_is_limited(fs: SandboxRoot, root: Path) -> None:
    with open(home(root) / "huge", "wb") as f:
        f.truncate(1 << 30)  # sparse
    with pytest.raises(LimitExceeded) as exc:
        fs.read("huge", max_bytes=1 << 20)
    assert exc.value.limit == "file_size"
    assert "/home/user/huge" in str(exc.value)


def test_read_limit_is_exact(fs: SandboxRoot) -> None:
    fs.write("f", b"12345")
    assert fs.read("f", max_bytes=5) == b"12345"
    with pytest.raises(LimitExceeded):
        fs.read("f", max_bytes=4)
    assert fs.read("f", max_bytes=1 << 30) == b"12345"
    fs.write("empty", b"")
    assert fs.read("empty", max_bytes=0) == b""


def test_read_directory_is_invalid(fs: SandboxRoot) -> None:
    with pytest.raises(InvalidArgument, match="is a directory"):
        fs.read("/home", max_bytes=10)
    with pytest.raises(InvalidArgument, match="is a directory"):
        fs.read("/", max_bytes=10)
    with pytest.raises(InvalidArgument, match="is a directory"):
        fs.write("/home", b"x")


def test_odd_byte_names(fs: SandboxRoot, root: Path) -> None:
    raw = os.fsencode(home(root)) + b"/odd\xffname"
    with open(raw, "wb") as f:
        f.write(b"odd")
    os.mkdir(os.fsencode(home(root)) + b"/dir\xfe")
    entries = fs.list("/home/user")
    names = [e.name for e in entries]
    assert os.fsdecode(b"odd\xffname") in names
    assert os.fsdecode(b"dir\xfe") in names
    odd = next(e for e in entries if e.name == os.fsdecode(b"odd\xffname"))
    assert odd.path == "/home/user/" + os.fsdecode(b"odd\xffname")
    assert fs.read(odd.path, max_bytes=10) == b"odd"
    fs.write(os.fsdecode(b"dir\xfe") + "/inner", b"in")
    assert open(os.fsencode(home(root)) + b"/dir\xfe/inner", "rb").read() == b"in"
    with pytest.raises(NotFound) as exc:
        fs.read(os.fsdecode(b"missing\xff"), max_bytes=10)
    str(exc.value).encode("utf-8")  # printable: no lone surrogates in messages


# -- invalid paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["a\x00b", "", "/home/user/\x00", "x" * 4097, "/" + "a/" * 2100, "\ud800"],
)
def test_invalid_paths(fs: SandboxRoot, path: str) -> None:
    for call in (
        lambda: fs.read(path, max_bytes=10),
        lambda: fs.write(path, b"x"),
        lambda: fs.get_info(path),
        lambda: fs.exists(path),
        lambda: fs.remove(path),
        lambda: fs.make_dir(path),
        lambda: fs.list(path),
    ):
        with pytest.raises(InvalidArgument):
            call()


def test_path_must_be_str(fs: SandboxRoot) -> None:
    with pytest.raises(InvalidArgument, match="must be a str"):
        fs.read(b"/etc/passwd", max_bytes=10)  # type: ignore[arg-type]


def test_nul_message_names_path(fs: SandboxRoot) -> None:
    with pytest.raises(InvalidArgument, match="NUL") as exc:
        fs.read("evil\x00path", max_bytes=1)
    assert "evil" in str(exc.value)


def test_long_component_is_invalid(fs: SandboxRoot) -> None:
    with pytest.raises(InvalidArgument, match="too long"):
        fs.write("y" * 300, b"x")


def test_messages_never_name_host_root(fs: SandboxRoot, root: Path) -> None:
    os.symlink("loop", home(root) / "loop")
    (home(root) / "file").write_bytes(b"x")
    calls: list[Callable[[], object]] = [
        lambda: fs.read("missing", max_bytes=1),
        lambda: fs.read("loop", max_bytes=1),
        lambda: fs.list("file"),
        lambda: fs.read("file/below", max_bytes=1),
        lambda: fs.remove("missing"),
        lambda: fs.rename("missing", "x"),
        lambda: fs.rename("file", "no/such/dir/x"),
        lambda: fs.write("y" * 300, b"x"),
        lambda: fs.get_info("missing/x"),
    ]
    for call in calls:
        with pytest.raises(SandboxError) as exc:
            call()
        assert str(root) not in str(exc.value)
        assert str(root.parent) not in str(exc.value)
        assert exc.value.__cause__ is None


def test_missing_is_not_found(fs: SandboxRoot) -> None:
    with pytest.raises(NotFound, match="/home/user/nope"):
        fs.read("nope", max_bytes=10)
    with pytest.raises(NotFound):
        fs.get_info("nope")
    with pytest.raises(NotFound):
        fs.list("nope")
    assert not fs.exists("nope")
    assert not fs.exists("nope/deeper")


def test_file_as_intermediate_component(fs: SandboxRoot) -> None:
    fs.write("f", b"x")
    with pytest.raises(NotFound, match="not a directory"):
        fs.read("f/x", max_bytes=10)
    assert not fs.exists("f/x")
    with pytest.raises(InvalidArgument, match="not a directory"):
        fs.list("f")


# -- remove, rename, make_dir --------------------------------------------------------------


def test_remove_symlink_keeps_target(fs: SandboxRoot, root: Path) -> None:
    (home(root) / "target").write_bytes(b"keep")
    (home(root) / "tdir").mkdir()
    (home(root) / "tdir" / "f").write_bytes(b"keep")
    os.symlink("target", home(root) / "link")
    os.symlink("tdir", home(root) / "dlink")
    fs.remove("link")
    fs.remove("dlink")
    assert not os.path.lexists(home(root) / "link")
    assert not os.path.lexists(home(root) / "dlink")
    assert (home(root) / "target").read_bytes() == b"keep"
    assert (home(root) / "tdir" / "f").read_bytes() == b"keep"


def test_remove_tree_never_follows_symlinks(fs: SandboxRoot, root: Path, secret: Path) -> None:
    d = home(root) / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "f").write_bytes(b"x")
    os.symlink(secret.parent, d / "sub" / "out")
    os.symlink(secret, d / "secret")
    fs.remove("d")
    assert not d.exists()
    assert secret.read_bytes() == SECRET


def test_remove_missing_and_root(fs: SandboxRoot) -> None:
    with pytest.raises(NotFound):
        fs.remove("nope")
    with pytest.raises(InvalidArgument):
        fs.remove("/")
    with pytest.raises(InvalidArgument):
        fs.remove("/home/user/../../..")


def test_remove_very_deep_tree(fs: SandboxRoot, root: Path) -> None:
    fd = os.open(home(root), os.O_RDONLY)
    try:
        os.mkdir("deep", dir_fd=fd)
        cur = os.open("deep", os.O_RDONLY, dir_fd=fd)
        for _ in range(300):
            os.mkdir("d", dir_fd=cur)
            with open(os.open("f", os.O_WRONLY | os.O_CREAT, dir_fd=cur), "wb") as f:
                f.write(b"x")
            nxt = os.open("d", os.O_RDONLY, dir_fd=cur)
            os.close(cur)
            cur = nxt
        os.close(cur)
    finally:
        os.close(fd)
    assert len(fs.list("deep", depth=20)) == 40  # "d" and "f" on each level
    with pytest.raises(LimitExceeded) as exc:
        fs.list("deep", depth=1000)
    assert exc.value.limit == "entries"
    fs.remove("deep")
    assert not (home(root) / "deep").exists()
    assert sorted(p.name for p in home(root).iterdir()) == []


def test_rename(fs: SandboxRoot, root: Path) -> None:
    fs.write("a.txt", b"a")
    info = fs.rename("a.txt", "/tmp/b.txt")
    assert info.path == "/tmp/b.txt"
    assert info.type == "file"
    assert not (home(root) / "a.txt").exists()
    assert (root / "tmp" / "b.txt").read_bytes() == b"a"
    with pytest.raises(NotFound):
        fs.rename("a.txt", "c.txt")
    with pytest.raises(NotFound):
        fs.rename("/tmp/b.txt", "/no/such/dir/c.txt")
    with pytest.raises(InvalidArgument):
        fs.rename("/", "/tmp/root")


def test_rename_over_an_escape(fs: SandboxRoot, root: Path, tmp_path: Path) -> None:
    os.symlink("/", home(root) / "hostroot")
    os.symlink("../../../outside-r", home(root) / "up")
    (tmp_path / "outside-r").mkdir()
    (root / "outside-r").mkdir()
    name = f"sandlot-rename-{uuid.uuid4().hex}"
    try:
        fs.write("a.txt", b"a")
        assert fs.rename("a.txt", f"hostroot/tmp/{name}").path == f"/tmp/{name}"
        assert not Path("/tmp", name).exists()
        assert (root / "tmp" / name).read_bytes() == b"a"
        fs.rename(f"/tmp/{name}", "up/moved")
        assert not (tmp_path / "outside-r" / "moved").exists()
        assert (root / "outside-r" / "moved").read_bytes() == b"a"
        fs.rename("../../../../../outside-r/moved", "../../../../b")
        assert (root / "b").read_bytes() == b"a"
        assert not (tmp_path / "b").exists()
    finally:
        if Path("/tmp", name).exists():
            Path("/tmp", name).unlink()


def test_rename_moves_symlink_itself(fs: SandboxRoot, root: Path) -> None:
    (home(root) / "t").write_bytes(b"t")
    os.symlink("t", home(root) / "l")
    info = fs.rename("l", "l2")
    assert info.type == "symlink"
    assert info.symlink_target == "t"
    assert (home(root) / "t").read_bytes() == b"t"
    assert os.readlink(home(root) / "l2") == "t"


def test_make_dir_idempotent(fs: SandboxRoot, root: Path) -> None:
    assert fs.make_dir("a/b/c") is True
    assert (home(root) / "a" / "b" / "c").is_dir()
    assert fs.make_dir("a/b/c") is False
    assert fs.make_dir("a/b") is False
    assert fs.make_dir("/") is False
    os.symlink("a", home(root) / "la")
    assert fs.make_dir("la") is False
    fs.write("f", b"x")
    with pytest.raises(InvalidArgument):
        fs.make_dir("f")
    with pytest.raises(NotFound):
        fs.make_dir("f/sub")


# -- list --------------------------------------------------------------------------------


def test_list_depth(fs: SandboxRoot, root: Path) -> None:
    fs.write("a/b/c/f.txt", b"f")
    fs.write("z.txt", b"zz")
    os.symlink("/", home(root) / "link")
    one = fs.list("/home/user")
    assert [(e.path, e.type) for e in one] == [
        ("/home/user/a", "dir"),
        ("/home/user/link", "symlink"),
        ("/home/user/z.txt", "file"),
    ]
    assert next(e for e in one if e.name == "link").symlink_target == "/"
    assert next(e for e in one if e.name == "z.txt").size == 2
    two = fs.list("/home/user", depth=2)
    assert [e.path for e in two] == [
        "/home/user/a",
        "/home/user/a/b",
        "/home/user/link",
        "/home/user/z.txt",
    ]
    deep = fs.list(".", depth=10)
    assert [e.path for e in deep] == [
        "/home/user/a",
        "/home/user/a/b",
        "/home/user/a/b/c",
        "/home/user/a/b/c/f.txt",
        "/home/user/link",
        "/home/user/z.txt",
    ]
    with pytest.raises(InvalidArgument):
        fs.list(".", depth=0)


@pytest.mark.slow
def test_list_entry_cap(fs: SandboxRoot, root: Path) -> None:
    d = home(root) / "many"
    d.mkdir()
    for i in range(MAX_LIST_ENTRIES):
        os.close(os.open(d / f"f{i}", os.O_WRONLY | os.O_CREAT))
    assert len(fs.list("many")) == MAX_LIST_ENTRIES
    (d / "one-more").touch()
    with pytest.raises(LimitExceeded) as exc:
        fs.list("many")
    assert exc.value.limit == "entries"


# -- lifetime and races ------------------------------------------------------------------


def test_root_must_exist(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as exc:
        SandboxRoot(tmp_path / "nope")
    assert str(tmp_path) not in str(exc.value)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(InvalidArgument):
        SandboxRoot(tmp_path / "file")


def test_close_releases_fd(root: Path) -> None:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.exists():
        pytest.skip("needs /proc")
    before = len(list(fd_dir.iterdir()))
    sr = SandboxRoot(root)
    assert len(list(fd_dir.iterdir())) == before + 1
    sr.write("a", b"a")
    sr.list("/", depth=5)
    assert len(list(fd_dir.iterdir())) == before + 1
    sr.close()
    sr.close()
    assert len(list(fd_dir.iterdir())) == before
    with pytest.raises(SandboxClosed):
        sr.read("a", max_bytes=1)


def test_concurrent_symlink_swap_never_escapes(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    h = home(root)
    # On the host, "../../../outside" from home/user is <tmp>/outside; for the guest it
    # is /outside inside the root.
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            try:
                os.rename(h / "d", h / "real")
            except OSError:
                pass
            time.sleep(0.003)
            try:
                os.symlink("../../../outside", h / "tmp-link")
                os.rename(h / "tmp-link", h / "d")
            except OSError:
                pass
            time.sleep(0.003)
            try:
                os.unlink(h / "d")
                os.rename(h / "real", h / "d")
            except OSError:
                pass

    (h / "d").mkdir()
    t = threading.Thread(target=swap, daemon=True)
    t.start()
    try:
        with SandboxRoot(root) as sr:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                try:
                    sr.write("d/x", b"x")
                    sr.read("d/x", max_bytes=10)
                    sr.list("d")
                except SandboxError:
                    pass
    finally:
        stop.set()
        t.join()
    assert not (outside / "x").exists()


def test_symlink_dotdot_from_deep_dir(fs: SandboxRoot, root: Path) -> None:
    # Resolving `..` a long way up reopens directories dropped to bound open fds.
    deep = "/".join(["d"] * 100)
    fs.make_dir(deep)
    fs.write("/".join(["d"] * 10) + "/f", b"level 10")
    os.symlink("../" * 90 + "f", home(root) / deep / "up")
    assert fs.read(deep + "/up", max_bytes=100) == b"level 10"
    os.symlink("../" * 90, home(root) / deep / "updir")
    level10 = "/home/user/" + "/".join(["d"] * 10)
    assert [e.path for e in fs.list(deep + "/updir")] == [level10 + "/d", level10 + "/f"]


def test_no_fd_leaks(fs: SandboxRoot, root: Path) -> None:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.exists():
        pytest.skip("needs /proc")
    os.symlink("loop", home(root) / "loop")
    os.mkfifo(home(root) / "fifo")
    fs.make_dir("/".join(["d"] * 80))
    before = len(list(fd_dir.iterdir()))
    for _ in range(3):
        fs.write("/".join(["d"] * 80) + "/f", b"x")
        fs.read("/".join(["d"] * 80) + "/f", max_bytes=10)
        fs.list(".", depth=100)
        for call in (
            lambda: fs.read("loop", max_bytes=1),
            lambda: fs.read("fifo", max_bytes=1),
            lambda: fs.read("missing/x", max_bytes=1),
            lambda: fs.write("/home", b"x"),
            lambda: fs.list("fifo"),
        ):
            with pytest.raises(SandboxError):
                call()
    fs.remove("d")
    assert len(list(fd_dir.iterdir())) == before
