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
    assert o("fmt -w 10", tmp_path, b"one two three four five\n") == "one two\nthree\nfour five\n"
    assert o("fmt -w 9", tmp_path, b"1 2 3 4 5 6 7 8 9 0\n") == "1 2 3 4\n5 6 7 8\n9 0\n"
    assert o("fmt", tmp_path, b"a  b.  c\nd\n") == "a  b.  c d\n"
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


def test_gzip_family(tmp_path: Path) -> None:
    assert o("echo hello | gzip | zcat", tmp_path) == "hello\n"
    assert o("echo hi > f && gzip f && ls && gunzip f.gz && cat f", tmp_path) == "f.gz\nhi\n"
    assert o("echo x > g && gzip -k g && ls g g.gz && zcat g.gz", tmp_path) == "g\ng.gz\nx\n"
    assert (
        o("printf a | gzip > 1.gz; printf b | gzip > 2.gz; cat 1.gz 2.gz | gunzip -c", tmp_path)
        == "ab"
    )
    assert run("echo notgz | gunzip -c", tmp_path)[2] == 1


def test_tar(tmp_path: Path) -> None:
    script = (
        "mkdir -p d/e && echo hi > d/e/f && tar czf a.tgz d && rm -rf d && tar tzf a.tgz && "
        "tar xzf a.tgz && cat d/e/f && tar cf - d | tar tf - | wc -l && "
        "mkdir out && tar xf a.tgz -C out && cat out/d/e/f && tar -xOzf a.tgz d/e/f"
    )
    assert o(script, tmp_path) == "d/\nd/e/\nd/e/f\nhi\n3\nhi\nhi\n"
    assert "d/e/f" in o("tar cvf x.tar d", tmp_path)
    out, err, st = run("tar xf missing.tar", tmp_path)
    assert st == 2 and "Cannot open" in err


def test_zip_unzip(tmp_path: Path) -> None:
    script = (
        "mkdir -p d && echo one > d/a && echo two > b && zip -qr z.zip d b && rm -rf d b && "
        "unzip -Z1 z.zip && unzip -q z.zip && cat d/a b && unzip -p z.zip b"
    )
    assert o(script, tmp_path) == "d/\nd/a\nb\none\ntwo\ntwo\n"


def test_xxd(tmp_path: Path) -> None:
    assert o("printf 'hello world!!!!!!' | xxd", tmp_path) == (
        "00000000: 6865 6c6c 6f20 776f 726c 6421 2121 2121  hello world!!!!!\n"
        "00000010: 21                                       !\n"
    )
    assert o("printf abc | xxd -p", tmp_path) == "616263\n"
    assert o("printf abc | xxd -p | xxd -r -p", tmp_path) == "abc"
    assert o("printf abc | xxd | xxd -r", tmp_path) == "abc"
    assert o("printf ab | xxd -i", tmp_path) == "  0x61, 0x62\n"


def test_file(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("hello\n")
    (tmp_path / "e").write_bytes(b"")
    (tmp_path / "s.sh").write_text("#!/bin/sh\necho\n")
    (tmp_path / "b").write_bytes(b"\x00\x01\x02")
    assert o("file t.txt e s.sh b .", tmp_path) == (
        "t.txt: ASCII text\ne: empty\ns.sh: POSIX shell script, ASCII text executable\nb: data\n"
        ".: directory\n"
    )
    assert o("echo x | gzip > z.gz; file -b z.gz", tmp_path).startswith("gzip compressed data")


def test_bc(tmp_path: Path) -> None:
    assert o("echo '1+2*3' | bc", tmp_path) == "7\n"
    assert o("echo 'scale=4; 10/3' | bc", tmp_path) == "3.3333\n"
    assert o("echo '2^100' | bc", tmp_path) == "1267650600228229401496703205376\n"
    assert o("echo 'x=3; y=x*2; y; x++; x' | bc", tmp_path) == "6\n3\n4\n"
    assert o("echo 'sqrt(16); scale=3; sqrt(2)' | bc", tmp_path) == "4\n1.414\n"
    assert (
        o(
            "echo 'define f(n) { if (n < 2) return n; return f(n-1) + f(n-2) }; f(15)' | bc",
            tmp_path,
        )
        == "610\n"
    )
    assert o("echo 's(0); c(0); l(1); e(1)' | bc -l", tmp_path) == (
        "0\n1.00000000000000000000\n0\n2.71828182845904523536\n"
    )
    assert o("echo 'for (i = 0; i < 3; i++) i' | bc", tmp_path) == "0\n1\n2\n"
    assert o("echo 'obase=16; 255' | bc", tmp_path) == "FF\n"
    assert o('echo \'print "a=", 5, "\\n"\' | bc', tmp_path) == "a=5\n"
    assert o("echo '-1/4; 5 % 3; 1 > 2; 1 && 0' | bc", tmp_path) == "0\n2\n0\n0\n"


def test_sqlite3(tmp_path: Path) -> None:
    o(
        "sqlite3 t.db \"create table t(a int, b text); insert into t values (1, 'x'), (2, NULL);\"",
        tmp_path,
    )
    assert o("sqlite3 t.db 'select * from t'", tmp_path) == "1|x\n2|\n"
    assert o("sqlite3 -header -csv t.db 'select * from t'", tmp_path) == "a,b\n1,x\n2,\n"
    assert (
        o("sqlite3 -json t.db 'select * from t'", tmp_path)
        == '[{"a":1,"b":"x"},\n{"a":2,"b":null}]\n'
    )
    assert o("echo 'select count(*) from t;' | sqlite3 t.db", tmp_path) == "2\n"
    assert (
        o("printf '.headers on\\n.mode csv\\nselect a from t;\\n' | sqlite3 t.db", tmp_path)
        == "a\n1\n2\n"
    )
    assert o("echo .tables | sqlite3 t.db", tmp_path) == "t\n"
    out, err, st = run("sqlite3 t.db 'select * from nope'", tmp_path)
    assert st == 1 and "no such table" in err


def test_base32_tsort(tmp_path: Path) -> None:
    assert o("echo simple | base32", tmp_path) == "ONUW24DMMUFA====\n"
    assert o("echo simple | base32 | base32 -d", tmp_path) == "simple\n"
    assert o("echo 'a b b c c d' | tsort", tmp_path) == "a\nb\nc\nd\n"
    assert run("echo 'a b b a' | tsort", tmp_path)[2] == 1


def test_uuencode_uudecode(tmp_path: Path) -> None:
    assert o("printf abc | uuencode test", tmp_path) == "begin 644 test\n#86)C\n`\nend\n"
    assert o("printf abc | uuencode -m test", tmp_path) == "begin-base64 644 test\nYWJj\n====\n"
    assert o("printf hello | uuencode f | uudecode -o -", tmp_path) == "hello"
    assert o("printf hi | uuencode -m out.txt | uudecode && cat out.txt", tmp_path) == "hi"
