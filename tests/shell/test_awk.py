"""awk through the in-process shell (host CPython, tmp cwd)."""

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
    sh = Shell(
        cwd=str(tmp_path), env={"HOME": str(tmp_path), "PATH": "/bin", "FOO": "bar"}, timeout=10
    )
    out: list[bytes] = []
    err: list[bytes] = []
    st = sh.run(script, stdin=stdin, out=out.append, err=err.append)
    return b"".join(out).decode(), b"".join(err).decode(), st


def o(script: str, tmp_path: Path, stdin: bytes = b"") -> str:
    return run(script, tmp_path, stdin)[0]


CASES = [
    ("awk '{print $2}'", b"a b c\nd e f\n", "b\ne\n"),
    ("awk -F: '{print $NF}'", b"a:b:c\n", "c\n"),
    ("awk -F, -v OFS=- '{$1=$1; print}'", b"a,b,c\n", "a-b-c\n"),
    ("awk '/b/'", b"abc\nxyz\nb\n", "abc\nb\n"),
    ("awk 'NR==2,NR==3'", b"1\n2\n3\n4\n", "2\n3\n"),
    ("awk '/start/,/end/ {print NR}'", b"x\nstart\ny\nend\nz\n", "2\n3\n4\n"),
    ("awk '{s += $1} END {print s, NR}'", b"1\n2\n3.5\n", "6.5 3\n"),
    (
        'awk \'BEGIN {x["a"]=1; x["b"]=2; delete x["a"]; for (k in x) print k, x[k]; print length(x)}\'',
        b"",
        "b 2\n1\n",
    ),
    (
        'awk \'BEGIN { printf "%5d|%-5s|%05.1f|%e|%x|%o|%c|%%\\n", 42, "ab", 3.14159, 1234.5, 255, 8, "hello" }\'',
        b"",
        "   42|ab   |003.1|1.234500e+03|ff|10|h|%\n",
    ),
    (
        'awk \'BEGIN { print substr("hello", 0), substr("hello", -1, 3), substr("hello", 2) }\'',
        b"",
        "hello h ello\n",
    ),
    (
        'awk \'BEGIN { s = "aaa"; n = gsub(/a/, "<&>", s); print n, s; t = "x.y"; sub(".", "\\\\&", t); print t }\'',
        b"",
        "3 <a><a><a>\n&.y\n",
    ),
    ('awk \'BEGIN { s = "abc"; gsub(/x*/, "-", s); print s }\'', b"", "-a-b-c-\n"),
    (
        "awk 'function fact(n) { return n <= 1 ? 1 : n * fact(n - 1) } BEGIN { print fact(10) }'",
        b"",
        "3628800\n",
    ),
    (
        "awk 'function fill(a, n,   i) { for (i = 1; i <= n; i++) a[i] = i * i } "
        "BEGIN { fill(sq, 4); print sq[3], length(sq) }'",
        b"",
        "9 4\n",
    ),
    ("awk '{ $3 = \"X\"; print; print NF }'", b"a b\n", "a b X\n3\n"),
    ("awk '{ NF = 2; print }'", b"a b c d\n", "a b\n"),
    ("awk '{ $0 = \"x y z\"; print $2, NF }'", b"a\n", "y 3\n"),
    (
        'awk \'BEGIN { RS = "" } { print NR ": " $1 "/" $NF }\'',
        b"a b\nc\n\n\nd e\n",
        "1: a/c\n2: d/e\n",
    ),
    ("awk 'BEGIN { RS = \";\" } { print }'", b"a;b;c", "a\nb\nc\n"),
    (
        'awk \'BEGIN { print 1 == 1.0, "10" < "9", 10 < 9, "abc" ~ /b/, "abc" !~ "^b" }\'',
        b"",
        "1 1 0 1 1\n",
    ),
    ("awk '$1 == 10'", b"10\n10.0\n1e1\nx\n", "10\n10.0\n1e1\n"),
    ("awk '{ print ($1 < $2) }'", b"9 10\nabc abd\n", "1\n1\n"),
    (
        "awk 'BEGIN { x = 5; print x++ + ++x, x--, x; print 2 ^ 3 ^ 2, -2 ^ 2, 7 % 3, 2 ** 3 }'",
        b"",
        "12 7 6\n512 -4 1 8\n",
    ),
    (
        "awk 'BEGIN { a[1,2] = 3; for (k in a) { split(k, p, SUBSEP); print p[1], p[2] }; print ((1,2) in a) }'",
        b"",
        "1 2\n1\n",
    ),
    (
        'awk \'BEGIN { print length("abc"), index("hello", "ll"), toupper("ab"), tolower("CD") }\'',
        b"",
        "3 3 AB cd\n",
    ),
    ("awk 'BEGIN { if (match(\"foobar\", /o+b/)) print RSTART, RLENGTH }'", b"", "2 3\n"),
    ("awk 'BEGIN { n = split(\"a1b2c\", p, /[0-9]/); print n, p[1] p[2] p[3] }'", b"", "3 abc\n"),
    ("awk 'BEGIN { print int(3.9), int(-3.9), sqrt(16), exp(0), log(1) }'", b"", "3 -3 4 1 0\n"),
    ('awk \'BEGIN { printf "%s %d\\n", sprintf("%03d", 7), "12abc" }\'', b"", "007 12\n"),
    ("awk 'NR == 1 { next } { print }'", b"a\nb\nc\n", "b\nc\n"),
    ("awk '{ print; exit 3 } END { print \"end\" }'", b"a\nb\n", "a\nend\n"),
    (
        "awk 'BEGIN { while (i < 3) { i++; if (i == 2) continue; print i }; do { j++ } while (j < 5); print j }'",
        b"",
        "1\n3\n5\n",
    ),
    ("awk 'BEGIN { for (i = 0; i < 10; i++) if (i == 3) break; print i }'", b"", "3\n"),
    ("awk 'BEGIN { print ENVIRON[\"FOO\"], ARGC, ARGV[1] }' x", b"", "bar 2 x\n"),
    ("awk -v n=3 'BEGIN { print n * 2 }'", b"", "6\n"),
    ("awk '{ print FILENAME, FNR, NR }' a b", b"", "a 1 1\nb 1 2\nb 2 3\n"),
    ("awk 'BEGIN { while ((getline line < \"a\") > 0) n++; print n, line }'", b"", "1 1\n"),
    ("awk '{ getline; print }'", b"1\n2\n3\n4\n", "2\n4\n"),
    ("awk '{ getline x; print $0 \"-\" x }'", b"1\n2\n", "1-2\n"),
    (
        'awk \'BEGIN { print "hi" > "out.txt"; print "more" >> "out.txt"; close("out.txt"); '
        'while ((getline l < "out.txt") > 0) print "got", l }\'',
        b"",
        "got hi\ngot more\n",
    ),
    (
        "awk 'BEGIN { print 0.1 + 0.2, 1e6, 1e20, 100000 * 100000, 1/3 }'",
        b"",
        "0.3 1000000 100000000000000000000 10000000000 0.333333\n",
    ),
    (
        'awk \'BEGIN { OFMT = "%.2f"; x = 3.14159; print x; y = x ""; print y }\'',
        b"",
        "3.14\n3.14159\n",
    ),
    ("awk 'BEGIN { print length() }'", b"", "0\n"),
    ("awk '{ print length }'", b"abcd\n", "4\n"),
    ('awk \'BEGIN { print substr("hello", 2, 100) ; print index("", "a") }\'', b"", "ello\n0\n"),
    ('awk \'BEGIN { "echo hi" | getline x; print x; print system("exit 3") }\'', b"", "hi\n3\n"),
    ("awk '{ print | \"sort -r\" }'", b"a\nc\nb\n", "c\nb\na\n"),
    ("awk 'BEGIN { printf \"%*d|%-*d|%.*f\\n\", 4, 1, 3, 2, 1, 2.55 }'", b"", "   1|2  |2.5\n"),
    ("awk -f prog.awk", b"x y\n", "y\n"),
    ("awk 'BEGIN { FS = \",\" } { print $2 }'", b"a,b\n", "b\n"),
    ("awk '{ sub(/^ +/, \"\"); print }'", b"   x\n", "x\n"),
    ('awk \'BEGIN { a = "x"; a = a a a; print a; print 1 " " 2, 3 4 }\'', b"", "xxx\n1 2 34\n"),
    ("awk '!seen[$0]++'", b"a\nb\na\nc\nb\n", "a\nb\nc\n"),
    ("awk 'END { print $0, NF }'", b"a b\nc d e\n", "c d e 3\n"),
    (
        'awk \'BEGIN { x[1]; if (1 in x) print "yes"; if (!(2 in x)) print "no" }\'',
        b"",
        "yes\nno\n",
    ),
    ("awk '{ $5 = \"e\"; print; print NF }' OFS=:", b"a b\n", "a:b:::e\n5\n"),
    ('awk \'BEGIN { print tolower(123), (1 > 2 ? "y" : "n") }\'', b"", "123 n\n"),
    ('awk \'BEGIN { printf("%d %s\\n", 1, "a") }\'', b"", "1 a\n"),
    ('awk \'BEGIN { x = "3x"; print x + 1, +"1e2", -"" }\'', b"", "4 100 0\n"),
    ("awk '/a/ { n++ } END { print n+0 }'", b"a\nb\na\n", "2\n"),
    ('awk \'BEGIN { s = sprintf("%c%c", 72, "i"); print s }\'', b"", "Hi\n"),
    ("awk '{ print $1 > \"/dev/stderr\" }' ", b"x\n", ""),
    ("awk 'BEGIN { n = split(\"\", a); print n, length(a) }'", b"", "0 0\n"),
    ('awk \'BEGIN { print index("abc", "") ; print "a" > "/dev/stdout" }\'', b"", "0\na\n"),
]


@pytest.mark.parametrize("cmd,stdin,expected", CASES)
def test_awk_cases(cmd: str, stdin: bytes, expected: str, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1\n")
    (tmp_path / "b").write_text("x\ny\n")
    (tmp_path / "prog.awk").write_text("# comment\n{\n  print $2\n}\n")
    out, err, st = run(cmd, tmp_path, stdin)
    assert out == expected, err


def test_awk_streams_and_exits(tmp_path: Path) -> None:
    assert o("seq 1 100000 | awk '$1 % 7 == 0' | wc -l", tmp_path) == "14285\n"
    assert o("yes | awk '{print; if (NR==3) exit}'", tmp_path) == "y\ny\ny\n"
    assert o("yes | awk '{print NR}' | head -n 2", tmp_path) == "1\n2\n"


def test_awk_exit_status_and_errors(tmp_path: Path) -> None:
    assert run("awk 'BEGIN { exit 4 }'", tmp_path)[2] == 4
    out, err, st = run("awk 'BEGIN { print 1 +* }'", tmp_path)
    assert st == 2 and "syntax error" in err
    out, err, st = run("awk 'BEGIN { print 1/0 }'", tmp_path)
    assert st == 2 and "division by zero" in err
    assert run("awk '{print}' missing", tmp_path)[2] == 2


def test_awk_infinite_loop_is_stopped(tmp_path: Path) -> None:
    from sandlot.guest.shell import BudgetExceeded

    sh = Shell(cwd=str(tmp_path), timeout=0.5)
    with pytest.raises(BudgetExceeded):
        sh.run("awk 'BEGIN { while (1) x++ }'", out=lambda b: None, err=lambda b: None)


def test_awk_uninitialized_and_strnum(tmp_path: Path) -> None:
    assert o('awk \'BEGIN { if (x == 0 && x == "") print "both" }\'', tmp_path) == "both\n"
    assert o("echo ' 1 ' | awk '{ print ($0 == 1) }'", tmp_path) == "1\n"
    assert o("echo 'abc' | awk '{ print ($1 > 5) }'", tmp_path) == "1\n"
