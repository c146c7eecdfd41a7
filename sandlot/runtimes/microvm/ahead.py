"""QEMU processes started ahead of need, waiting for the state they will restore.

Starting QEMU until its monitor answers takes 60-75 ms here (dynamic linking of ~50
libraries and machine setup: a bare QEMU of the same shape takes as long), a third of a
restore under TCG. So after each restore one QEMU of the same shape and RAM backing is
started in the background, stopped before its first instruction (`-S -incoming defer`)
with no guest memory touched; the next restore of that kind loads its state into it.
An idle one costs its process (about 25 MiB resident) and nothing of the guest.
`SANDLOT_MICROVM_AHEAD=0` turns it off. They die with this process like every VM.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading

from .vmm import VM, Ram, Shape

Key = tuple[Shape, Ram]

_lock = threading.Lock()
_ready: dict[Key, VM] = {}
_starting: set[Key] = set()
MAX_WAITING = 4  # kinds kept waiting at once (a rebuilt template leaves its old kind behind)


def enabled() -> bool:
    return os.environ.get("SANDLOT_MICROVM_AHEAD", "1").strip() not in ("0", "false", "no")


def take(shape: Shape, ram: Ram) -> VM | None:
    """A started QEMU waiting for a state, if one is ready; another starts behind it."""
    if not enabled():
        return None
    key = (shape, ram)
    with _lock:
        vm = _ready.pop(key, None)
    _start_behind(key)
    if vm is not None and not vm.alive():
        vm.kill()
        return None
    return vm


def _start_behind(key: Key) -> None:
    with _lock:
        if key in _starting or key in _ready:
            return
        _starting.add(key)
    threading.Thread(target=_start, args=(key,), name="sandlot-microvm-ahead", daemon=True).start()


def _start(key: Key) -> None:
    vm = None
    try:
        vm = VM(key[0], key[1], wait_for_state=True)
    except Exception:  # noqa: S110  (the next restore starts its own QEMU and reports why)
        pass
    finally:
        with _lock:
            _starting.discard(key)
            if vm is not None:
                old = _ready.pop(key, None)
                if old is None and len(_ready) >= MAX_WAITING:
                    old = _ready.pop(next(iter(_ready)))  # the kind waiting longest
                _ready[key] = vm
                vm = old
    if vm is not None:  # one that was left over
        vm.kill()


@atexit.register
def close_all() -> None:
    with _lock:
        waiting = list(_ready.values())
        _ready.clear()
    for vm in waiting:
        with contextlib.suppress(Exception):
            vm.kill()
