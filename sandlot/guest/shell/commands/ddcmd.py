"""dd: GNU coreutils dd (if= of= bs= ibs= obs= count= skip= seek= conv= iflag= oflag= status=)."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from ..io import Gen, Input
from . import command
from .util import enc, open_input

_MULT = {
    "c": 1,
    "w": 2,
    "b": 512,
    "kB": 1000,
    "K": 1024,
    "k": 1024,
    "MB": 1000**2,
    "M": 1024**2,
    "xM": 1024**2,
    "GB": 1000**3,
    "G": 1024**3,
    "TB": 1000**4,
    "T": 1024**4,
    "PB": 1000**5,
    "P": 1024**5,
    "EB": 1000**6,
    "E": 1024**6,
}
_CONVS = {
    "ascii",
    "ebcdic",
    "ibm",
    "block",
    "unblock",
    "lcase",
    "ucase",
    "sparse",
    "swab",
    "sync",
    "excl",
    "nocreat",
    "notrunc",
    "noerror",
    "fdatasync",
    "fsync",
}


def _size(v: str) -> int:
    """GNU dd numbers: N[suffix], products with x (2x512)."""
    total = 1
    for part in v.split("x"):
        m = re.fullmatch(r"(\d+)([a-zA-Z]*)", part)
        if not m:
            raise ValueError(v)
        suf = m.group(2)
        if suf in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
            suf = suf[0]
        if suf and suf not in _MULT:
            raise ValueError(v)
        total *= int(m.group(1)) * (_MULT[suf] if suf else 1)
    return total


def _human(n: float, binary: bool = False) -> str:
    units = (
        (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
        if binary
        else (("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
    )
    for unit, div in units:
        if n >= div:
            v = n / div
            return f"{v:.1f} {unit}" if v < 10 else f"{v:.0f} {unit}"
    return f"{n:.0f} B"


@command("dd")
def dd(sh: Any, args: list[str], inp: Input) -> Gen:
    o: dict[str, str] = {}
    for a in args[1:]:
        k, eq, v = a.partition("=")
        if not eq or k not in (
            "if",
            "of",
            "bs",
            "ibs",
            "obs",
            "cbs",
            "count",
            "skip",
            "iseek",
            "seek",
            "oseek",
            "conv",
            "iflag",
            "oflag",
            "status",
        ):
            yield (
                2,
                enc(f"dd: unrecognized operand '{a}'\nTry 'dd --help' for more information.\n"),
            )
            return 1
        o[k] = v
    try:
        ibs = _size(o.get("bs", o.get("ibs", "512")))
        obs = _size(o.get("bs", o.get("obs", "512")))
        count = _size(o["count"]) if "count" in o else None
        skip = _size(o.get("skip", o.get("iseek", "0")))
        seek = _size(o.get("seek", o.get("oseek", "0")))
    except ValueError as e:
        yield (2, enc(f"dd: invalid number: '{e}'\n"))
        return 1
    conv = set(filter(None, o.get("conv", "").split(",")))
    iflag = set(filter(None, o.get("iflag", "").split(",")))
    oflag = set(filter(None, o.get("oflag", "").split(",")))
    bad = conv - _CONVS
    if bad:
        yield (2, enc(f"dd: invalid conversion: '{sorted(bad)[0]}'\n"))
        return 1
    status = o.get("status", "")
    started = time.monotonic()
    try:
        src = open_input(sh, o["if"], inp) if "if" in o else inp
    except OSError as e:
        yield (2, enc(f"dd: failed to open '{o['if']}': {str(e).split(': ', 1)[-1]}\n"))
        return 1
    out_f = None
    if "of" in o:
        path = sh.resolve(o["of"])
        flags = os.O_WRONLY | os.O_CREAT
        if "excl" in conv:
            flags |= os.O_EXCL
        if "nocreat" in conv:
            flags &= ~os.O_CREAT
        if "append" in oflag:
            flags |= os.O_APPEND
        try:
            fd = os.open(path, flags, 0o666)
        except OSError as e:
            yield (2, enc(f"dd: failed to open '{o['of']}': {e.strerror}\n"))
            return 1
        out_f = os.fdopen(fd, "wb")
        start = seek if "seek_bytes" in oflag else seek * obs
        if "notrunc" not in conv and "append" not in oflag:
            try:
                if os.path.isfile(path):
                    out_f.truncate(start)
            except OSError:
                pass
        if start:
            out_f.seek(start)
    # skip input
    to_skip = skip if "skip_bytes" in iflag else skip * ibs
    while to_skip > 0:
        sh.budget.tick()
        got = src.read(min(to_skip, 1 << 20))
        if not got:
            break
        to_skip -= len(got)
    full_in = part_in = full_out = part_out = 0
    total = 0
    left = None
    if count is not None:
        left = count if "count_bytes" in iflag else count * ibs
    pending = b""
    outs: list[bytes] = []

    def emit(b: bytes) -> None:
        nonlocal full_out, part_out, total
        if out_f is not None:
            out_f.write(b)
        else:
            outs.append(b)
        total += len(b)
        if len(b) == obs:
            full_out += 1
        elif b:
            part_out += 1

    while left is None or left > 0:
        sh.budget.tick()
        n = ibs if left is None else min(ibs, left)
        blk = src.read(n)
        if not blk:
            break
        if left is not None:
            left -= len(blk)
        if len(blk) == ibs:
            full_in += 1
        else:
            part_in += 1
            if "sync" in conv:
                blk = blk.ljust(ibs, b"\0")
        if "ucase" in conv:
            blk = blk.upper()
        elif "lcase" in conv:
            blk = blk.lower()
        if "swab" in conv:
            ba = bytearray(blk)
            ba[0 : len(ba) - 1 : 2], ba[1::2] = ba[1::2], ba[0 : len(ba) - 1 : 2]
            blk = bytes(ba)
        pending += blk
        while len(pending) >= obs:
            emit(pending[:obs])
            pending = pending[obs:]
        if out_f is None and len(outs) > 16:
            yield (1, b"".join(outs))
            outs.clear()
    if pending:
        emit(pending)
    if out_f is not None:
        out_f.close()
    if outs:
        yield (1, b"".join(outs))
    if status != "none":
        msg = f"{full_in}+{part_in} records in\n{full_out}+{part_out} records out\n"
        if status != "noxfer":
            secs = max(time.monotonic() - started, 1e-9)
            size = f"{total} bytes"
            if total >= 1000:
                size += f" ({_human(total)}"
                if total >= 1024:
                    size += f", {_human(total, True)}"
                size += ")"
            msg += f"{size} copied, {secs:.5g} s, {_human(total / secs)}/s\n"
        yield (2, enc(msg))
    return 0
