"""The sandlot guest protocol, shared by the host and every guest.

A request is a JSON object with an "op" and its arguments. While it runs, the guest emits
events, each a JSON object with an "ev": "stdout"/"stderr" chunks as they are produced, then
exactly one "done" carrying the reply. Frames are one JSON object each; a transport decides
how frames travel (wasm host calls, pipes, virtio-serial).
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1

# Requests (host -> guest)
OP_PING = "ping"
OP_RUN_CODE = "run_code"
OP_EXEC = "exec"

# Events (guest -> host)
EV_STDOUT = "stdout"
EV_STDERR = "stderr"
EV_DONE = "done"
EV_NEXT = "next"  # the guest asks for its request (when it did not come with the call)

# The wasm guest's reply, written last to its turn's stdout: this mark, the frame, a NUL
# (a frame is ASCII JSON, which holds no NUL).
REPLY_MARK = b"\x00\x1esandlot-reply\x1e"

MAX_FRAME_BYTES = 64 << 20  # a frame larger than this is refused by the host


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
