"""sbx.files and sbx.artifacts: the host side and the guest see one filesystem."""

from __future__ import annotations

import pytest

from sandlot import InvalidArgument, NotFound, Sandbox


def test_write_read_round_trip(sbx: Sandbox) -> None:
    info = sbx.files.write("/home/user/a.txt", "héllo")
    assert info.path == "/home/user/a.txt" and info.type == "file" and info.size == 6
    assert sbx.files.read("/home/user/a.txt") == "héllo"
    assert sbx.files.read("a.txt", format="bytes") == "héllo".encode()
    sbx.files.write("bin.dat", b"\x00\xff")
    assert sbx.files.read("bin.dat", format="bytes") == b"\x00\xff"


def test_host_writes_are_seen_by_the_guest_and_back(sbx: Sandbox) -> None:
    sbx.files.write("/tmp/in.txt", "from host")
    assert sbx.run_code("open('/tmp/in.txt').read()").text == "'from host'"
    sbx.run_code("open('out.txt', 'w').write('from guest')")
    assert sbx.files.read("/home/user/out.txt") == "from guest"


def test_list_exists_info_rename_remove_make_dir(sbx: Sandbox) -> None:
    assert sbx.files.make_dir("proj/src") is True
    assert sbx.files.make_dir("proj/src") is False
    sbx.files.write("proj/src/main.py", "print(1)")
    sbx.files.write("proj/README", "r")
    names = [e.path for e in sbx.files.list("proj", depth=2)]
    assert names == ["/home/user/proj/README", "/home/user/proj/src", "/home/user/proj/src/main.py"]
    assert [e.name for e in sbx.files.list("proj")] == ["README", "src"]
    assert sbx.files.exists("proj/README") and not sbx.files.exists("proj/nope")
    assert sbx.files.get_info("proj/src").type == "dir"
    moved = sbx.files.rename("proj/README", "proj/README.md")
    assert moved.path == "/home/user/proj/README.md"
    sbx.files.remove("proj")
    assert not sbx.files.exists("proj")
    with pytest.raises(NotFound):
        sbx.files.remove("proj")


def test_bad_paths_are_typed_errors(sbx: Sandbox) -> None:
    with pytest.raises(InvalidArgument):
        sbx.files.read("a\0b")
    with pytest.raises(InvalidArgument):
        sbx.files.read("")
    with pytest.raises(InvalidArgument):
        sbx.files.read(123)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="format"):
        sbx.files.read("x", format="json")  # type: ignore[call-overload]
    with pytest.raises(InvalidArgument):
        sbx.files.write("x", 3.5)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="/home/user/missing"):
        sbx.files.read("missing")


def test_artifacts_are_listed_and_read(sbx: Sandbox) -> None:
    sbx.run_code(
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2]); plt.savefig('/tmp/outputs/plot.png'); plt.close('all')\n"
        "import os; os.makedirs('/tmp/outputs/tables', exist_ok=True)\n"
        "open('/tmp/outputs/tables/t.csv', 'w').write('a,b\\n')\n"
    )
    names = sorted(e.path for e in sbx.artifacts.list())
    assert names == ["/tmp/outputs/plot.png", "/tmp/outputs/tables/t.csv"]
    assert sbx.artifacts.read("plot.png").startswith(b"\x89PNG")
    assert sbx.artifacts.read("tables/t.csv") == b"a,b\n"
    with pytest.raises(InvalidArgument, match="outside"):
        sbx.artifacts.read("../../etc/passwd")
    with pytest.raises(NotFound):
        sbx.artifacts.read("nope.png")
