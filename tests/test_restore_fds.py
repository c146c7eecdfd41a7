"""A restored wasm sandbox keeps the files its Python state holds open (issue 12).

The guest's state is its linear memory, but its descriptor table lives in the host: a
restore (after a timeout, a fork, a pause and connect) opens a fresh session that has only
the preopens. Files the guest opened itself and those the runtime opened for it (the fonts
matplotlib keeps open) must be open again, at their numbers and offsets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import sandlot
from sandlot import Sandbox

TEXT = "".join(f"{i:05d}\n" for i in range(4000))  # 24000 bytes: past one 8 KiB buffer

HOLD_FILES = f"""
import os
import matplotlib.pyplot as plt
plt.plot([0, 1]); plt.show()
with open('/home/user/big.txt', 'w') as out:
    out.write({TEXT!r})
gap = open('/home/user/gap.txt', 'w')
f = open('/home/user/big.txt')
head = f.read(3)
raw = open('/home/user/big.txt', 'rb', buffering=0)
raw_head = raw.read(5)
log = open('/home/user/log.txt', 'a')
log.write('one\\n'); log.flush()
w = open('/home/user/w.txt', 'w')
w.write('first\\n'); w.flush()
gap.close()  # a hole below the numbers of f, raw, log and w
"""


@pytest.fixture
def holding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A sandbox whose Python state holds files open (its own and matplotlib's); its saves
    go to a store of the test's own."""
    monkeypatch.setenv("SANDLOT_HOME", str(tmp_path))
    with Sandbox.create() as sbx:
        done = sbx.run_code(HOLD_FILES)
        assert done.error is None, done.error
        assert done.results and done.results[0].png
        yield sbx


def _after_timeout(sbx: Sandbox) -> Sandbox:
    with pytest.raises(sandlot.TimeoutError):
        sbx.run_code("while True: pass", timeout=1)
    return sbx


def _after_fork(sbx: Sandbox) -> Sandbox:
    (kid,) = sbx.fork(1)
    return kid


def _after_pause(sbx: Sandbox) -> Sandbox:
    return Sandbox.connect(sbx.pause())


RESTORES: dict[str, Callable[[Sandbox], Sandbox]] = {
    "timeout": _after_timeout,
    "fork": _after_fork,
    "pause+connect": _after_pause,
}


def _check_files_work(sbx: Sandbox) -> None:
    shown = sbx.run_code("plt.plot([1, 2]); plt.show()")
    assert shown.error is None, shown.error
    assert "Bad file descriptor" not in shown.logs.stderr
    assert shown.results and shown.results[0].png, "plt.show() gave no figure"

    saved = sbx.run_code("plt.savefig('/tmp/outputs/b.png'); os.path.getsize('/tmp/outputs/b.png')")
    assert saved.error is None, saved.error
    assert saved.text is not None and int(saved.text) > 0

    read = sbx.run_code("rest = f.read(); raw_rest = raw.read(); len(rest), len(raw_rest)")
    assert read.error is None, read.error
    assert read.text == f"({len(TEXT) - 3}, {len(TEXT) - 5})"
    same = sbx.run_code(f"head + rest == (raw_head + raw_rest).decode() == {TEXT!r}")
    assert same.text == "True"

    wrote = sbx.run_code("log.write('two\\n'); log.close(); w.write('second\\n'); w.close()")
    assert wrote.error is None, wrote.error
    assert sbx.files.read("log.txt") == "one\ntwo\n"
    assert sbx.files.read("w.txt") == "first\nsecond\n"


@pytest.mark.parametrize("restore", list(RESTORES), ids=list(RESTORES))
def test_restored_sandbox_keeps_its_open_files(holding: Sandbox, restore: str) -> None:
    back = RESTORES[restore](holding)
    try:
        _check_files_work(back)
    finally:
        if back is not holding:
            back.close()


def test_two_timeouts_in_a_row_keep_the_files(holding: Sandbox) -> None:
    """The second restore starts again from the checkpoint the first one came from."""
    _after_timeout(holding)
    _after_timeout(holding)
    _check_files_work(holding)


def test_files_opened_after_a_restore_are_kept_by_the_next(holding: Sandbox) -> None:
    """A file opened after one restore is held again after the next (and a closed one is not
    opened again)."""
    _after_timeout(holding)
    holding.files.write("late.txt", "0123456789")
    assert holding.run_code("f.close(); late = open('/home/user/late.txt'); late.read(4)").text
    (kid,) = holding.fork(1)
    try:
        assert kid.run_code("late.read()").text == "'456789'"
        assert kid.run_code("f.closed").text == "True"
    finally:
        kid.close()


def test_opens_no_wrapper_saw_and_raw_numbers_are_kept(sbx: Sandbox) -> None:
    """A file from the original `_io.open` (found by the audit event and its inode), a number
    from os.open, and a folder; a file deleted meanwhile fails as a closed one would."""
    sbx.files.write("u.txt", "abcdefgh")
    done = sbx.run_code(
        "import _io, os\n"
        "u = _io.open('/home/user/u.txt', 'rb', buffering=0); u.read(2)\n"
        "n = os.open('/home/user/u.txt', os.O_RDONLY); os.read(n, 5)\n"
        "d = os.open('/home/user', os.O_RDONLY | os.O_DIRECTORY)\n"
        "doomed = open('/home/user/doomed.txt', 'w')\n"
        "os.remove('/home/user/doomed.txt')"
    )
    assert done.error is None, done.error
    _after_timeout(sbx)
    assert sbx.run_code("u.read(), os.read(n, 9)").text == "(b'cdefgh', b'fgh')"
    assert sbx.run_code("import stat; stat.S_ISDIR(os.fstat(d).st_mode)").text == "True"
    failed = sbx.run_code("doomed.write('x'); doomed.flush()")
    assert failed.error is not None and "Bad file descriptor" in failed.error.value
