"""The sandlot guest protocol, shared by the host and every guest: the one place that names
its operations, their fields, its events and its frames.

A request is a JSON object with an "op" and its arguments. While it runs, the guest emits
events, each a JSON object with an "ev": "stdout"/"stderr" chunks as they are produced, then
exactly one "done" carrying the reply. Frames are one JSON object each; a transport decides
how frames travel (wasm host calls; on byte streams, the marked frames of `framing.py`).
"""

from __future__ import annotations

import json
from itertools import accumulate, count
from operator import sub
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
# The wasm guest asks the host to make one HTTP(S) request (it has no sockets), answered at
# once with the response (`guest/agent/net_bridge.py`, `runtimes/wasm/net.py`).
EV_FETCH = "fetch"
FETCH_FIELDS = frozenset({"method", "url", "headers", "body", "follow_redirects", "timeout"})

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


MAX_FRAME_DEPTH = 128  # a frame nested deeper is refused (a reply's own JSON is far less deep)
MAX_FRAME_ITEMS = 1 << 20  # a frame with more values is refused (each costs the host ~60+ bytes)


class FrameOverBudget(ValueError):
    """A frame whose structure would make its decoder build more than it may."""


_MARKS = b'"[]{},:'  # a JSON text's structure, and the quotes around its strings
_NOT_MARKS = bytes(c for c in range(256) if c not in _MARKS)
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # summed: 2 per opener seen


_FEW_QUOTES = 256  # up to this many, strings are skipped in place (else cut out: copies)
Segment = tuple[bytes, int, int]  # bytes[start:end], unsliced


def _marks(frame: bytes) -> bytes:
    """The structural characters of `frame` and the quotes of its strings, in order."""
    if b"\\" in frame and b'\\"' in frame:  # escaped quotes: first the escaped backslashes go
        frame = frame.replace(b"\\\\", b"").replace(b'\\"', b"")
    return frame.translate(None, _NOT_MARKS)  # one C pass; what is left is small


def _outside_strings(marks: bytes) -> list[Segment]:
    """The parts of `marks` that lie outside its strings."""
    if marks.count(b'"') > _FEW_QUOTES:
        outside = b"".join(marks.split(b'"')[::2])
        return [(outside, 0, len(outside))]
    segments, at = [], 0
    while (opening := marks.find(b'"', at)) >= 0:
        segments.append((marks, at, opening))
        at = marks.find(b'"', opening + 1) + 1
        if not at:  # an unterminated string: no parser reads past its start
            return segments
    segments.append((marks, at, len(marks)))
    return segments


def _count(segments: list[Segment], chars: bytes) -> int:
    return sum(data.count(c, start, end) for data, start, end in segments for c in chars)


def _depth(brackets: bytes, limit: int) -> int:
    """How deep `brackets` (only []{}, balanced) nest, exactly where that is over `limit`.

    Each round of cutting the empty pairs, `[]` then `{}`, takes one or two levels off, so
    a text that is gone within limit // 2 rounds is within the limit (the usual case, a few
    C passes); only else is the depth summed bracket by bracket."""
    text = brackets
    for _ in range(limit // 2):
        text = text.replace(b"[]", b"").replace(b"{}", b"")
        if not text:
            return 0
    # after n brackets, 2 * openers - n is the depth there
    return max(map(sub, accumulate(brackets.translate(_STEPS)), count(1)), default=0)


def check_budget(frame: bytes, items: int = MAX_FRAME_ITEMS, depth: int = MAX_FRAME_DEPTH) -> None:
    """Refuse a frame that would hold more than `items` values or nest deeper than `depth`,
    before it is parsed: a small frame can expand ~20-fold into objects (a 32 MiB frame of
    `[]` is ~700 MiB of lists) and a deep one exhausts the stack of whatever walks it.

    Items are counted as the openers, commas and colons outside strings (each starts at
    most one value or key), on a copy of the frame's structural characters alone; a frame
    shorter than `items` bytes with at most `depth` openers is let through uncopied."""
    small = len(frame) < items  # each item takes a byte of the frame, each level an opener
    if small and (len(frame) <= 2 * depth or frame.count(b"[") + frame.count(b"{") <= depth):
        return  # the usual frame: two C passes at most, no copy
    marks = _marks(frame)
    strings = marks.count(b'"') // 2
    if strings > items:  # each string is a value or a key: refused before they are cut out
        raise FrameOverBudget(
            f"frame with too many items: {strings}, more than the limit of {items}"
        )
    outside = _outside_strings(marks)
    found = 1 + _count(outside, b"[{,:")
    if found > items:
        raise FrameOverBudget(f"frame with too many items: {found}, more than the limit of {items}")
    if _count(outside, b"[{") <= depth:
        return
    brackets = b"".join(data[start:end].translate(None, b",:") for data, start, end in outside)
    deepest = _depth(brackets, depth)
    if deepest > depth:
        raise FrameOverBudget(
            f"frame that nests too deeply: {deepest} levels, more than the limit of {depth}"
        )


def decode(
    frame: bytes, items: int = MAX_FRAME_ITEMS, depth: int = MAX_FRAME_DEPTH
) -> dict[str, Any]:
    """Parse one frame; raises ValueError for anything but a JSON object, and its subclass
    FrameOverBudget, before parsing, for one over the size, item or depth budget."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    check_budget(frame, items, depth)
    try:
        value = json.loads(frame)
    except RecursionError:  # nested too deep to parse: as malformed as any other bad frame
        raise ValueError("frame nests too deeply") from None
    if not isinstance(value, dict):
        raise ValueError("frame is not a JSON object")
    return value
