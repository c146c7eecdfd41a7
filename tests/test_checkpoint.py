"""Memory checkpoints (incremental where the kernel tracks writes): after every call the copy
equals the guest's memory, and a killed call brings back exactly the last good state."""

from __future__ import annotations

import ctypes
import hashlib
import random
from collections.abc import Iterator

import pytest

from sandlot import Sandbox, TimeoutError
from sandlot.runtimes.wasm import dirty
from sandlot.runtimes.wasm.checkpoint import MemoryCheckpoint, _memory
from sandlot.runtimes.wasm.dirty import REFRESH
from sandlot.runtimes.wasm.sandbox import WasmSandbox

SCRIBBLE = """
import random as _r
_g = _r.Random({seed})
for _ in range({writes}):
    blob[_g.randrange(len(blob))] = _g.randrange(256)
kept[{i}] = bytes(_g.randrange(256) for _ in range(_g.randrange(1, 5000)))
grow.append(bytearray({grow}))
"""


def _box(sbx: Sandbox) -> WasmSandbox:
    box = sbx._core._box
    assert isinstance(box, WasmSandbox)
    return box


def _checkpoint(sbx: Sandbox) -> MemoryCheckpoint:
    cp = _box(sbx)._checkpoint
    cp.wait()
    return cp


def _live_memory(sbx: Sandbox) -> bytes:
    store, memory = _memory(_box(sbx)._session)
    return ctypes.string_at(memory.data_ptr(store), memory.data_len(store))


def _copy(cp: MemoryCheckpoint) -> bytes:
    assert cp.taken
    return bytes(cp.view())


def _model(blob: bytearray, seed: int, writes: int) -> bytes:
    g = random.Random(seed)
    for _ in range(writes):
        blob[g.randrange(len(blob))] = g.randrange(256)
    return bytes(g.randrange(256) for _ in range(g.randrange(1, 5000)))


@pytest.fixture
def scribbler() -> Iterator[Sandbox]:
    with Sandbox.create() as sbx:
        sbx.run_code("blob = bytearray(8 << 20)\nkept = {}\ngrow = []")
        yield sbx


def test_the_copy_equals_memory_after_every_call(scribbler: Sandbox) -> None:
    sbx = scribbler
    for i in range(12):
        if i % 4 == 3:  # the file layer, not Python code, writes into the guest's memory
            sbx.files.write(f"/tmp/chunk{i}", bytes([i]) * 300_000)
            sbx.run_code(
                f"with open('/tmp/chunk{i}', 'rb') as f: f.readinto(memoryview(blob)[{i}<<16:])"
            )
        elif i % 3 == 2:
            sbx.commands.run(f"v{i}=$(seq 1 {i * 50} | tail -1); export V{i}=x")
        else:
            sbx.run_code(SCRIBBLE.format(seed=i, writes=3000, i=i, grow=(1 << 20) * i))
        cp = _checkpoint(sbx)
        assert _copy(cp) == _live_memory(sbx), f"checkpoint differs from memory after call {i}"
    same = sbx.run_code("bytes(blob[11 << 16 : (11 << 16) + 300_000]) == bytes([11]) * 300_000")
    assert same.text == "True"
    cp = _checkpoint(sbx)
    if dirty.supported():
        assert cp.incremental_copies >= 10, (cp.incremental_copies, cp.full_copies)


def test_killed_calls_bring_back_all_earlier_state(scribbler: Sandbox) -> None:
    """Many calls writing scattered memory, a kill mid-scribble, then every earlier write
    must be there (and none of the killed call's); twice, so the re-armed tracking after a
    restore is checked too."""
    sbx = scribbler
    blob = bytearray(8 << 20)
    kept: dict[int, bytes] = {}
    i = 0
    for kill in range(2):
        for _ in range(15):
            i += 1
            if i % 4 == 0:
                sbx.commands.run(f"s{i}=${{s{i - 4}:-0}}{i}")
            else:
                sbx.run_code(SCRIBBLE.format(seed=i, writes=2000, i=i, grow=(1 << 19) * (i % 5)))
                kept[i] = _model(blob, i, 2000)
        with pytest.raises(TimeoutError):
            sbx.run_code(
                "import random as _r\n"
                "for _ in range(200000): blob[_r.randrange(len(blob))] = 7\n"
                "kept.clear(); grow.append(bytearray(32 << 20))\n"
                "while True: pass",
                timeout=1.5,
            )
        digest = sbx.run_code("import hashlib; hashlib.sha256(blob).hexdigest()").text
        assert digest == repr(hashlib.sha256(blob).hexdigest()), f"blob lost after kill {kill}"
        got = sbx.run_code("sorted((k, hashlib.sha256(v).hexdigest()) for k, v in kept.items())")
        want = sorted((k, hashlib.sha256(v).hexdigest()) for k, v in kept.items())
        assert got.text == repr(want)
        last = i - i % 4
        assert sbx.commands.run(f"echo $s{last}").stdout.strip() == "0" + "".join(
            str(k) for k in range(4, last + 1, 4)
        )
        cp = _checkpoint(sbx)
        assert _copy(cp) == _live_memory(sbx)


def test_hot_pages_are_copied_on_every_call_and_relearnt(scribbler: Sandbox) -> None:
    """Pages written on every call are left unprotected (no fault per first write); they
    must still be in every copy, across the periodic re-protection, and a killed call that
    wrote them must not survive."""
    sbx = scribbler
    hot_sizes = []
    for i in range(REFRESH + 6):
        sbx.run_code(f"blob[:1 << 16] = bytes([{i}]) * (1 << 16)")  # the same 16 pages
        cp = _checkpoint(sbx)
        assert _copy(cp) == _live_memory(sbx), f"checkpoint differs from memory after call {i}"
        if cp._tracker is not None:
            hot_sizes.append(len(cp._tracker.hot))
    if hot_sizes:  # where the kernel tracks writes
        assert max(hot_sizes) >= 16 and 0 in hot_sizes[REFRESH - 3 :], hot_sizes
    with pytest.raises(TimeoutError):
        sbx.run_code("blob[:1 << 16] = b'x' * (1 << 16)\nwhile True: pass", timeout=1.5)
    assert sbx.run_code("set(blob[:1 << 16])").text == f"{{{REFRESH + 5}}}"
