"""The sandlot guest protocol, shared by the host and every guest: the one place that names
its operations, their fields, its events and its frames.

A request is a JSON object with an "op" and its arguments. While it runs, the guest emits
events, each a JSON object with an "ev": "stdout"/"stderr" chunks as they are produced, then
exactly one "done" carrying the reply. Frames are one JSON object each; a transport decides
how frames travel (wasm host calls; on byte streams, the marked frames of `framing.py`).
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1

# Requests (host -> guest), every tier
OP_PING = "ping"
OP_RUN_CODE = "run_code"
OP_EXEC = "exec"
# Requests a Linux guest serves besides (`serve_loop.py`, `file_ops.py`, `serial_main.py`)
OP_INTERRUPT = "interrupt"  # stop the running request; no reply of its own (virtio-serial)
OP_FILE = "file"  # one file operation for the host's `files` API
OP_CLOCK = "clock"  # set the wall clock (a restored VM wakes with its snapshot's time)
OP_RESEED = "reseed"  # mix host randomness into the kernel's pool and Python's generators
OP_WARM = "warm"  # run each kind of call once before a template is saved
OP_ENV = "env"  # set the sandbox's environment variables (a VM restored from a template)

# Every request's fields besides "op" and the "id" a stream transport adds.
OPS: dict[str, frozenset[str]] = {
    OP_PING: frozenset(),
    OP_RUN_CODE: frozenset({"code", "output_bytes"}),
    OP_EXEC: frozenset({"cmd", "stdin", "output_bytes"}),
    OP_INTERRUPT: frozenset(),
    OP_FILE: frozenset({"action", "path", "data", "max_bytes", "depth", "new"}),
    OP_CLOCK: frozenset({"time"}),
    OP_RESEED: frozenset({"seed"}),
    OP_WARM: frozenset(),
    OP_ENV: frozenset({"envs"}),
}

# The actions of OP_FILE and the fields each takes besides "path".
FILE_WRITE = "write"
FILE_READ = "read"
FILE_LIST = "list"
FILE_EXISTS = "exists"
FILE_REMOVE = "remove"
FILE_RENAME = "rename"
FILE_MAKE_DIR = "make_dir"
FILE_INFO = "info"
FILE_ACTIONS: dict[str, frozenset[str]] = {
    FILE_WRITE: frozenset({"data"}),
    FILE_READ: frozenset({"max_bytes"}),
    FILE_LIST: frozenset({"depth"}),
    FILE_EXISTS: frozenset(),
    FILE_REMOVE: frozenset(),
    FILE_RENAME: frozenset({"new"}),
    FILE_MAKE_DIR: frozenset(),
    FILE_INFO: frozenset(),
}

# Events (guest -> host)
EV_STDOUT = "stdout"
EV_STDERR = "stderr"
EV_DONE = "done"
EV_NEXT = "next"  # the guest asks for its request (when it did not come with the call)

# The wasm guest's reply, written last to its turn's stdout: this mark, the frame, a NUL
# (a frame is ASCII JSON, which holds no NUL).
REPLY_MARK = b"\x00\x1esandlot-reply\x1e"
# A frame on a byte stream starts with this mark (`framing.py`).
FRAME_MARK = b"\x1eSL"

MAX_FRAME_BYTES = 64 << 20  # a frame larger than this is refused by the host


def request(op: str, **fields: Any) -> dict[str, Any]:
    """A request for `op`, its fields checked against `OPS` (a typo fails here, at the
    host, rather than as an unknown field in the guest)."""
    unknown = fields.keys() - OPS[op]
    if unknown:
        raise ValueError(f"{op} takes no field {sorted(unknown)}")
    return {"op": op, **fields}


def error(name: str, value: str) -> dict[str, Any]:
    """A reply that says the request failed (`name` as an exception's type name)."""
    return {"error": {"name": name, "value": value, "traceback": ""}}


def encode(message: dict[str, Any]) -> bytes:
    """One frame: compact JSON, UTF-8, with surrogates escaped rather than refused."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def decode(frame: bytes) -> dict[str, Any]:
    """Parse one frame; raises ValueError for anything but a JSON object."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    try:
        value = json.loads(frame)
    except RecursionError:  # nested too deep to parse: as malformed as any other bad frame
        raise ValueError("frame nests too deeply") from None
    if not isinstance(value, dict):
        raise ValueError("frame is not a JSON object")
    return value
