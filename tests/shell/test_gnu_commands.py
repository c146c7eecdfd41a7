"""diff, mktemp, tar, stat, dd, cp and xargs behave like their GNU counterparts
(diffutils, coreutils, tar 1.34, findutils) through the in-process shell."""

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


def run(script: str, tmp_path: Path, stdin: bytes = b"") -> tuple[bytes, str, int]:
    sh = Shell(
        cwd=str(tmp_path), env={"HOME": str(tmp_path), "PATH": "/bin", "TZ": "UTC"}, timeout=10
    )
    out: list[bytes] = []
    err: list[bytes] = []
    st = sh.run(script, stdin=stdin, out=out.append, err=err.append)
    return b"".join(out), b"".join(err).decode(), st


def o(script: str, tmp_path: Path, stdin: bytes = b"") -> str:
    return run(script, tmp_path, stdin)[0].decode()


def test_diff_formats(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1\n2\n3\n")
    (tmp_path / "b").write_text("1\n3\n4\n")
    assert o("diff a b; echo $?", tmp_path) == "2d1\n< 2\n3a3\n> 4\n1\n"
    assert o("diff -u -L x -L y a b", tmp_path) == (
        "--- x\n+++ y\n@@ -1,3 +1,3 @@\n 1\n-2\n 3\n+4\n"
    )
    assert o("diff -c -L x -L y a b", tmp_path) == (
        "*** x\n--- y\n***************\n*** 1,3 ****\n  1\n- 2\n  3\n--- 1,3 ----\n  1\n  3\n+ 4\n"
    )
    head = o("diff -u a b", tmp_path).splitlines()[0]
    assert head.startswith("--- a\t") and head.endswith(" +0000")  # GNU's timestamp
    assert o("diff --old-line-format='-%l ' --new-line-format='+%l ' "
             "--unchanged-line-format= a b", tmp_path) == "-2 +4 "  # fmt: skip
    assert o("diff -q a b; diff a a; echo $?", tmp_path) == "Files a and b differ\n0\n"
    assert run("diff --oops a b", tmp_path)[2] == 2
    assert run("diff a missing", tmp_path)[2] == 2


def test_diff_recursive_and_whitespace(tmp_path: Path) -> None:
    for d, text in (("l", "x\n"), ("r", "y\n")):
        (tmp_path / d).mkdir()
        (tmp_path / d / "f").write_text(text)
    (tmp_path / "l" / "only").write_text("")
    out = o("diff -r l r", tmp_path)
    assert out == "diff -r l/f r/f\n1c1\n< x\n---\n> y\nOnly in l: only\n"
    (tmp_path / "s1").write_text("a  b\r\n")
    (tmp_path / "s2").write_text("a b\n")
    assert run("diff -b --strip-trailing-cr s1 s2", tmp_path)[2] == 0


def test_diff_big_hunk_is_minimal(tmp_path: Path) -> None:
    (tmp_path / "one").write_text("".join(f"{i}\n" for i in range(1, 20001)))
    (tmp_path / "two").write_text("".join(f"{i}\n" for i in range(1, 20001, 4)))
    out = o("diff -u --label a --label b one two", tmp_path).splitlines()
    assert out[2] == "@@ -1,20000 +1,5000 @@"
    assert sum(1 for x in out if x.startswith("-")) == 15000 + 1  # deletions + '---'


def test_mktemp_templates(tmp_path: Path) -> None:
    assert o("TMPDIR=. mktemp -u", tmp_path).startswith("./tmp.")
    name = o("mktemp -p . fooXXXX.txt", tmp_path).strip()
    assert name.startswith("./foo") and name.endswith(".txt") and len(name) == 13
    assert (tmp_path / name).is_file()
    assert o("TMPDIR=/t mktemp -u -t hi.XXX", tmp_path).startswith("/t/hi.")
    assert run("mktemp -u helloXX", tmp_path)[2] == 1
    assert run("mktemp -q -p /nonexistent-dir", tmp_path)[:3:2] == (b"", 1)


def test_tar_matches_gnu_bytes(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    os.chmod(tmp_path / "file", 0o664)
    data, _, st = run("tar c --owner root --group 0 --mtime @1234567890 file", tmp_path)
    assert st == 0 and len(data) == 10240
    hdr = data[:512]
    assert hdr[:5] == b"file\0" and hdr[100:108] == b"0000664\0"
    assert hdr[136:148] == b"11145401322\0" and hdr[257:265] == b"ustar  \0"
    assert hdr[329:345] == b"\0" * 16  # GNU leaves device numbers empty for files
    assert int(hdr[148:154], 8) == sum(hdr[:148]) + 8 * 32 + sum(hdr[156:])
    long = "d" * 120
    (tmp_path / long).write_bytes(b"x")
    data = run(f"tar c --owner 9999999 --group 0 --mtime @0 {long}", tmp_path)[0]
    assert data[:13] == b"././@LongLink" and data[156:157] == b"L"
    assert data[512 + 512 + 108 : 512 + 512 + 116] == b"\x80\0\0\0\0\x98\x96\x7f"  # base-256


def test_tar_transform_and_list(tmp_path: Path) -> None:
    script = (
        "mkdir uno && ln -s tres uno/dos && touch uno/tres && ln uno/tres uno/quatro && "
        "tar c --mtime @0 --no-recursion uno uno/dos uno/tres uno/quatro "
        "--xform 'flags=rsH;s/uno/one/;s/dos/two/;s/tres/three/;s/quatro/four/' "
        "| tar tv --full-time | sed 's/^.* 00:00:00 //'"
    )
    assert o(script, tmp_path) == ("one/\none/two -> three\none/three\none/four link to uno/tres\n")
    assert o("tar c --mtime @0 -P --no-recursion -C / /// | tar t", tmp_path) == "/\n"


def test_stat_formats(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("abc")
    os.chmod(tmp_path / "f", 0o640)
    os.utime(tmp_path / "f", (946688461, 949456922))
    assert o("stat -c '%s|%a|%04a|%A|%F|%n|%N|%%|%q|%Y' f", tmp_path) == (
        "3|640|0640|-rw-r-----|regular file|f|'f'|%|?|949456922\n"
    )
    assert o("stat -c %y f", tmp_path) == "2000-02-02 02:02:02.000000000 +0000\n"
    assert o("stat --printf '%s\\n' f", tmp_path) == "3\n"
    assert o("stat -c '%-5s|%5s|' f", tmp_path) == "3    |    3|\n"
    assert o("stat f", tmp_path).startswith("  File: f\n  Size: 3 ")


def test_dd(tmp_path: Path) -> None:
    assert o("printf abcdefgh | dd bs=2 skip=1 count=2 status=none", tmp_path) == "cdef"
    assert o("printf abc | dd conv=ucase 2>/dev/null", tmp_path) == "ABC"
    run("printf xy | dd of=out bs=1k seek=2 status=none", tmp_path)
    assert (tmp_path / "out").read_bytes() == b"\0" * 2048 + b"xy"
    err = run("printf abc | dd of=/dev/null bs=2", tmp_path)[1]
    assert err.startswith("1+1 records in\n1+1 records out\n3 bytes copied")


def test_cp_semantics(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("new")
    (tmp_path / "g").write_text("old")
    os.utime(tmp_path / "f", (1, 1))
    assert o("cp -u f g; cat g", tmp_path) == "old"
    assert o("ln -s f l && cp -P l l2 && stat -c %F l2", tmp_path) == "symbolic link\n"
    assert o("cp l l3 && stat -c %F l3", tmp_path) == "regular file\n"
    assert o("mkdir -p b/c d && echo z > b/c/x && cp --parents b/c/x d && cat d/b/c/x",
             tmp_path) == "z\n"  # fmt: skip
    assert run("mkdir e && cp -T f e", tmp_path)[2] == 1
    assert o("cp -p --preserve=mode,mode f h && stat -c %Y h", tmp_path) == "1\n"
    assert "into itself" in run("cp -r b b/c", tmp_path)[1]


def test_xargs_gnu(tmp_path: Path) -> None:
    assert o("xargs -s 13 echo", tmp_path, b"one \ntwo\n three") == "one two\nthree\n"
    assert o("xargs -s 9 echo; echo $?", tmp_path, b"one two three") == "one\ntwo\n1\n"
    assert o("xargs -E END", tmp_path, b"a\nb\nENDE\nEND\nc\n") == "a b ENDE\n"
    assert o("xargs -L 2", tmp_path, b"a b\nc \nd\ne\n") == "a b c d\ne\n"
    assert o("xargs -I{} echo [{}]", tmp_path, b"  x y\nz\n") == "[x y]\n[z]\n"
    assert o("xargs -n 0 2>/dev/null; echo $?", tmp_path, b"a") == "1\n"
    out = o("xargs sh -c 'exit 255' 2>&1; echo $?", tmp_path)
    assert out == "xargs: sh: exited with status 255; aborting\n124\n"
    (tmp_path / "args").write_text("args\n")
    assert o("xargs -a args cat - ", tmp_path, b"in\n") == "in\nargs\n"


def test_uniq_all_repeated_prints_every_line_of_each_run(tmp_path: Path) -> None:
    (tmp_path / "u").write_text("a\na\nb\nc\nc\nc\n")
    assert o("uniq -D u", tmp_path) == "a\na\nc\nc\nc\n"
    assert o("uniq --all-repeated=separate u", tmp_path) == "a\na\n\nc\nc\nc\n"
    assert o("uniq --all-repeated=prepend u", tmp_path) == "\na\na\n\nc\nc\nc\n"
    assert o("printf 'A\\na\\nb\\n' | uniq -D -i", tmp_path) == "A\na\n"
    out, err, status = run("uniq --all-repeated=bogus u", tmp_path)
    assert (out, status) == (b"", 1) and "invalid argument 'bogus'" in err


def test_grep_c_locale_words_are_ascii(tmp_path: Path) -> None:
    (tmp_path / "g").write_bytes("café x\nnaïve\n".encode())
    # in the C locale é and ï are bytes, not letters: "caf" and "na" are whole words
    assert o("LC_ALL=C grep -w caf g; LC_ALL=C grep -ow na g", tmp_path) == "café x\nna\n"
    assert o("LC_ALL=C grep -c '\\bve' g; LANG=C grep -ci NAÏ g", tmp_path) == "1\n0\n"
    # the UTF-8 default: they are letters
    assert o("grep -cw caf g; LANG=C.UTF-8 grep -io NAÏ g", tmp_path) == "0\nnaï\n"


def test_timeout_ends_the_command(tmp_path: Path) -> None:
    script = (
        "timeout .1 sleep 100; echo $?; timeout -s KILL .1 sleep 100; echo $?;"
        " timeout --preserve-status .1 sh -c 'while :; do :; done'; echo $?;"
        " timeout 5 false; echo $?; timeout -s MONKEY 1 true; echo $?"
    )
    out, err, _ = run(script, tmp_path)
    assert out == b"124\n137\n143\n1\n125\n"
    assert "MONKEY" in err
    assert run("timeout -v .1 sleep 9", tmp_path)[1] == (
        "timeout: sending signal TERM to command \u2018sleep\u2019\n"
    )


def test_wc_max_line_length_is_display_width(tmp_path: Path) -> None:
    # tabs to the next multiple of 8, \r starts over, wide chars 2, combining/control 0
    script = (
        r"printf 'abc\td\n' | wc -L; printf 'first\rsecond\n' | wc -L;"
        r" printf '中文\n' | wc -L; printf 'w\xcc\x88\x01\bx\n' | wc -L"
    )
    assert o(script, tmp_path) == "9\n6\n4\n2\n"


def test_sed_gnu_corners(tmp_path: Path) -> None:
    def sed(script: str, stdin: bytes) -> bytes:
        return run(script, tmp_path, stdin)[0]

    # D with a newline left starts the cycle again on the rest, reading nothing
    assert sed("sed -e '/one/,/three/{' -e 'i meep' -e 'N;2D;}'", b"one\ntwo\nthree\n") == (
        b"meep\nmeep\ntwo\nthree\n"
    )
    # N writes what `a` queued before it reads; -z joins, deletes and ends lines with NUL
    assert sed("sed -e 'a woo' -e 'N;$p'", b"one\ntwo") == b"woo\none\ntwo\none\ntwo"
    assert sed("sed -z 'N;D'", b"one\0two") == b"two"
    assert sed("sed -z s/x/y/", b"a\nx\0") == b"a\ny\0"
    # l: octal for other bytes, `$` and a newline even after a last line without one, wraps
    assert sed("sed -n 'N;l'", b"one\ntwo") == b"one\\ntwo$\n"
    assert sed("sed -n 'l 4;l 0'", "a\t\xe9\x01b\n".encode()) == (
        b"a\\t\\\n\\303\\\n\\251\\\n\\001\\\nb$\na\\t\\303\\251\\001b$\n"
    )
    # a jump's label ends at `}`; `$a\` only adds a missing final newline; text escapes
    assert sed("sed -n '/START/{:a;n;/END/q;p;ba}'", b"a\nSTART\nb\nc\nEND\nd") == b"b\nc\n"
    assert sed("sed '$a\\'", b"a\nb") == b"a\nb\n"
    assert sed("sed 'a a\\tb\\qc'", b"x\n") == b"x\na\tbqc\n"
    # -s: each file has its own line numbers; s/text/text/g is a plain replace
    (tmp_path / "f").write_text("one\n")
    assert sed("sed -sn 1p f -", b"two") == b"one\ntwo"
    assert sed("sed 's/x/y/g;s/a/b/2'", b"xaxa\n") == b"yayb\n"


def test_du_lists_directories_like_gnu(tmp_path: Path) -> None:
    from sandlot.guest.shell.commands.files import _du_human

    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "f").write_bytes(b"x" * 3000)
    (tmp_path / "d" / "g").write_bytes(b"y" * 100)
    os.link(tmp_path / "d" / "g", tmp_path / "d" / "g2")  # a hard link counts once
    dsize = os.lstat(tmp_path / "d").st_size
    ssize = os.lstat(tmp_path / "d" / "sub").st_size
    assert o("du -b d", tmp_path) == f"{ssize + 3000}\td/sub\n{dsize + ssize + 3100}\td\n"
    assert o("du -sb d//", tmp_path) == f"{dsize + ssize + 3100}\td/\n"
    assert o("du -ab d/sub", tmp_path) == f"3000\td/sub/f\n{ssize + 3000}\td/sub\n"
    assert o("du -cb d/sub/f d/g | tail -1; du -k nope; echo $?", tmp_path) == "3100\ttotal\n1\n"
    assert [_du_human(n) for n in (0, 1000, 4096, 45056, 1536000, 1048575 * 1024)] == [
        "0", "1000", "4.0K", "44K", "1.5M", "1.0G"
    ]  # fmt: skip


def test_ls_columns_sorts_and_times(tmp_path: Path) -> None:
    for n in "abcdef":
        (tmp_path / n).touch()
    # GNU starts each column 3 wide: `a  d` fits in 4 columns of terminal
    assert o("ls -Cw 4; ls -Cw 3 | wc -l", tmp_path) == "a  d\nb  e\nc  f\n6\n"
    for n, t in (("x.b", 30), ("y.a", 10), ("z", 20)):
        (tmp_path / n).touch()
        os.utime(tmp_path / n, (t, 1000 - t))  # atime, mtime
    (tmp_path / "dir").mkdir()
    os.utime(tmp_path / "dir", (5, 5))
    assert o("ls -X x.b y.a z | tr '\\n' ' '", tmp_path) == "z y.a x.b "
    assert o("ls -tu x.b y.a z | tr '\\n' ' '", tmp_path) == "x.b z y.a "
    assert o("ls -u x.b y.a z | tr '\\n' ' '", tmp_path) == "x.b z y.a "
    assert o("ls -lu --full-time y.a | cut -c24-", tmp_path).endswith(":10.000000000 +0000 y.a\n")
    assert o("ls -r --group-directories-first | head -2", tmp_path) == "dir\nz\n"
    assert o("ls -f | sort | head -2 | tr '\\n' ' '", tmp_path) == ". .. "
