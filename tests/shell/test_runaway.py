"""Hostile and runaway shell input: each must end (a limit, a typed error, a message) and
leave the shell, or the sandbox, working for the next command."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from sandlot import LimitExceeded, Sandbox, TimeoutError
from sandlot.guest.shell import Shell


def run(sh: Shell, script: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    out: list[bytes] = []
    err: list[bytes] = []
    st = sh.run(script, stdin=stdin, out=out.append, err=err.append)
    return st, b"".join(out), b"".join(err)


@pytest.fixture
def sh(tmp_path: object) -> Iterator[Shell]:
    old = os.getcwd()
    yield Shell(env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, cwd=str(tmp_path))
    os.chdir(old)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox.create() as s:
        yield s


def test_yes_into_a_file_ends_and_the_sandbox_lives_on(box: Sandbox) -> None:
    box.commands.run("export KEPT=1; echo data > /tmp/keep")
    start = time.monotonic()
    with pytest.raises((TimeoutError, LimitExceeded)):
        box.commands.run("yes > /tmp/f", timeout=2)
    assert time.monotonic() - start < 30
    r = box.commands.run("rm -f /tmp/f; echo $KEPT; cat /tmp/keep")
    assert r.stdout == "1\ndata\n" and r.exit_code == 0


def test_fork_bomb_ends_with_a_message(box: Sandbox) -> None:
    # `:` is the classic spelling (bash lets a function shadow the `:` builtin)
    for bomb in (":(){ :|:& };:", "bomb(){ bomb|bomb& };bomb"):
        start = time.monotonic()
        try:
            r = box.commands.run(bomb, timeout=20)
        except TimeoutError:  # acceptable end, but the job limit should come first
            pytest.fail(f"{bomb!r} ran into the timeout instead of the job limit")
        assert time.monotonic() - start < 20
        if r.exit_code:
            assert "Resource temporarily unavailable" in r.stderr
    assert box.commands.run("echo alive").stdout == "alive\n"


def test_fork_bomb_in_process(sh: Shell) -> None:
    st, _, err = run(sh, "f(){ f|f& }; f; echo not reached")
    assert st == 254 and b"fork: retry: Resource temporarily unavailable" in err
    assert run(sh, "echo ok") == (0, b"ok\n", b"")


def test_deep_function_recursion_ends_with_a_message(sh: Shell) -> None:
    st, _, err = run(sh, "f(){ f; }; f")
    assert st != 0 and b"maximum function nesting level exceeded" in err
    st, out, _ = run(sh, "g(){ (( $1 )) && g $(( $1 - 1 )); echo -n .; }; g 100")
    assert st == 0 and out == b"." * 101


def test_ten_megabyte_here_doc(sh: Shell) -> None:
    body = ("x" * 99 + "\n") * 100_000
    st, out, _ = run(sh, f"wc -c <<'EOF'\n{body}EOF\n")
    assert st == 0 and out.strip() == str(len(body)).encode()
    st, out, _ = run(sh, f"cat <<EOF | tail -n 1\n{body}EOF\n")
    assert st == 0 and out == b"x" * 99 + b"\n"


def test_dev_zero_streams_into_head(sh: Shell) -> None:
    assert run(sh, "cat /dev/zero | head -c 10 | od -An -tx1") == (
        0,
        b" 00 00 00 00 00 00 00 00 00 00\n",
        b"",
    )
    st, out, _ = run(sh, "head -c 5 /dev/zero | wc -c")
    assert out.strip() == b"5"


def test_background_jobs(sh: Shell) -> None:
    script = """
echo a & echo b & wait
false & p=$!
(exit 3) &
wait $p; echo "p=$?"
wait $p; echo "again=$?"
wait -n; echo "n=$?"
wait -n; echo "empty=$?"
wait 99999; echo "bogus=$?"
sleep 0 & jobs
jobs; echo "[$!]" | grep -c '^\\[[0-9][0-9]*\\]$'
kill %1; echo "kill=$?"
"""
    st, out, err = run(sh, script)
    assert out.decode() == (
        "a\nb\np=1\nagain=1\nn=3\nempty=127\nbogus=127\n"
        "[1]+  Done                    sleep 0\n1\nkill=1\n"
    )
    assert b"wait: pid 99999 is not a child of this shell" in err
    assert b"kill: %1: no such job" in err
