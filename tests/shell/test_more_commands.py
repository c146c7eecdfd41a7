"""The extra commands (comm join column fmt expand unexpand split cmp patch strings truncate
checksums df, archives, xxd, file, bc, sqlite3) through the in-process shell."""

# ruff: noqa: E501
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandlot.guest.shell import Shell


@pytest.fixture(autouse=True)
def _keep_cwd() -> object:
    old = os.getcwd()
    yield
    os.chdir(old)


def run(script: str, tmp_path: Path, stdin: bytes = b"") -> tuple[str, str, int]:
    sh = Shell(cwd=str(tmp_path), env={"HOME": str(tmp_path), "PATH": "/bin"}, timeout=10)
    out: list[bytes] = []
    err: list[bytes] = []
    st = sh.run(script, stdin=stdin, out=out.append, err=err.append)
    return b"".join(out).decode("utf-8", "replace"), b"".join(err).decode(), st


def o(script: str, tmp_path: Path, stdin: bytes = b"") -> str:
    return run(script, tmp_path, stdin)[0]


def test_comm(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a\nb\nd\n")
    (tmp_path / "b").write_text("b\nc\nd\n")
    assert o("comm a b", tmp_path) == "a\n\t\tb\n\tc\n\t\td\n"
    assert o("comm -12 a b", tmp_path) == "b\nd\n"
    assert o("comm -3 a b", tmp_path) == "a\n\tc\n"


def test_join(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1 x\n2 y\n3 z\n")
    (tmp_path / "b").write_text("1 p\n3 q\n4 r\n")
    assert o("join a b", tmp_path) == "1 x p\n3 z q\n"
    assert o("join -a1 a b", tmp_path) == "1 x p\n2 y\n3 z q\n"
    assert o("join -v2 a b", tmp_path) == "4 r\n"
    assert o("join -o 1.2,2.2 a b", tmp_path) == "x p\nz q\n"
    (tmp_path / "c").write_text("k:1\n")
    (tmp_path / "d").write_text("k:2\n")
    assert o("join -t: c d", tmp_path) == "k:1:2\n"


def test_column(tmp_path: Path) -> None:
    assert o("column -t", tmp_path, b"a bb c\nddd e f\n") == "a    bb  c\nddd  e   f\n"
    assert o("column -t -s,", tmp_path, b"x,y\nlong,z\n") == "x     y\nlong  z\n"


def test_fmt_expand_unexpand(tmp_path: Path) -> None:
    assert o("fmt -w 10", tmp_path, b"one two three four five\n") == "one two\nthree four\nfive\n"
    assert o("expand", tmp_path, b"a\tb\n") == "a       b\n"
    assert o("expand -t 4", tmp_path, b"\tx\n") == "    x\n"
    assert o("unexpand", tmp_path, b"        x\n") == "\tx\n"
    assert o("unexpand -a", tmp_path, b"ab      cd\n") == "ab\tcd\n"


def test_split(tmp_path: Path) -> None:
    assert o("seq 1 10 | split -l 3 && ls && cat xad", tmp_path) == "xaa\nxab\nxac\nxad\n10\n"
    assert o("printf abcdef | split -b 4 - p && cat pab", tmp_path) == "ef"
    assert o("seq 1 4 | split -d -l 2 - n && ls n*", tmp_path) == "n00\nn01\n"


def test_cmp(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("abc\n")
    (tmp_path / "b").write_text("abd\n")
    assert run("cmp a a", tmp_path)[2] == 0
    assert run("cmp a b", tmp_path) == ("a b differ: byte 3, line 1\n", "", 1)
    assert run("cmp -s a b", tmp_path) == ("", "", 1)
    assert o("cmp -l a b", tmp_path) == "3 143 144\n"


def test_patch(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("one\ntwo\nthree\n")
    diff = "--- f.txt\n+++ f.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
    (tmp_path / "p.diff").write_text(diff)
    assert (
        o("patch -p0 < p.diff && cat f.txt", tmp_path) == "patching file f.txt\none\nTWO\nthree\n"
    )
    assert o("patch -R -p0 -i p.diff >/dev/null && cat f.txt", tmp_path) == "one\ntwo\nthree\n"
    (tmp_path / "n.diff").write_text("--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+x\n+y\n")
    assert o("patch -p1 < n.diff >/dev/null; cat new.txt", tmp_path) == "x\ny\n"


def test_strings_truncate(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(b"\x00\x01hello\x00ab\x00world!\xff")
    assert o("strings bin", tmp_path) == "hello\nworld!\n"
    assert o("strings -n 2 -t d bin", tmp_path) == "      2 hello\n      8 ab\n     11 world!\n"
    assert o("truncate -s 5 t && wc -c < t && truncate -s +3 t && wc -c < t", tmp_path) == "5\n8\n"


def test_checksums(tmp_path: Path) -> None:
    assert o("printf abc | cksum", tmp_path) == "1219131554 3\n"
    assert o("printf abc | sha1sum", tmp_path) == "a9993e364706816aba3e25717850c26c9cd0d89d  -\n"
    assert o("printf abc | sha512sum", tmp_path).startswith("ddaf35a193617aba")
    assert o("printf abc > f; sha256sum f > s; sha256sum -c s", tmp_path) == "f: OK\n"
    assert "Use%" in o("df", tmp_path)
