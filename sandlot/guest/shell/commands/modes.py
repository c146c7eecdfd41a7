"""chmod-style modes: octal or GNU symbolic clauses ([ugoa]*([-+=]([rwxXst]*|[ugo]))+),
applied the way coreutils' mode_adjust does, and the chmod command built on it."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from typing import Any

from ..io import Gen, Input
from . import command
from .util import enc

_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007, "a": 0o7777}
_PERM = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}
_CLAUSE = re.compile(r"([ugoa]*)((?:[-+=](?:[rwxXst]*|[ugo]))+)")
_ACTION = re.compile(r"([-+=])([rwxXst]*|[ugo])")


def valid(spec: str) -> bool:
    if re.fullmatch(r"[0-7]{1,4}|[0-7]{5,}", spec):
        return int(spec, 8) <= 0o7777
    return all(_CLAUSE.fullmatch(c) for c in spec.split(","))


def apply_mode(spec: str, old: int, isdir: bool, umask: int) -> int:
    """The new permission bits (07777) for mode spec applied to old; ValueError if invalid."""
    old &= 0o7777
    if re.fullmatch(r"[0-7]+", spec):
        new = int(spec, 8)
        if new > 0o7777:
            raise ValueError(spec)
        if isdir and len(spec.lstrip("0")) <= 3:  # directories keep set-id bits
            new |= old & 0o6000
        return new
    mode = old
    for clause in spec.split(","):
        m = _CLAUSE.fullmatch(clause)
        if not m:
            raise ValueError(spec)
        affected = 0
        for w in m.group(1):
            affected |= _WHO[w]
        omit = 0 if affected else umask & 0o777
        affected = affected or 0o7777
        for op, perm in _ACTION.findall(m.group(2)):
            if perm in ("u", "g", "o"):
                shift = {"u": 6, "g": 3, "o": 0}[perm]
                b = (mode >> shift) & 7
                value = b << 6 | b << 3 | b
            else:
                value = 0
                for c in perm:
                    if c == "X":
                        if isdir or mode & 0o111:
                            value |= 0o111
                    else:
                        value |= _PERM[c]
            value &= affected & ~omit
            if op == "+":
                mode |= value
            elif op == "-":
                mode &= ~value
            else:
                keep = ~affected | omit
                if isdir:
                    keep |= 0o6000 & ~(value & 0o6000) if "s" not in perm else 0
                mode = (mode & keep) | value
    return mode & 0o7777


def _ls(m: int) -> str:
    from .files import _mode_str

    return str(_mode_str(m))[1:]


@command("chmod")
def chmod(sh: Any, args: list[str], inp: Input) -> Gen:
    opts: set[str] = set()
    rest: list[str] = []
    ref = None
    a = args[1:]
    i = 0
    long = {"--recursive": "R", "--verbose": "v", "--changes": "c", "--silent": "f", "--quiet": "f"}
    while i < len(a):
        x = a[i]
        i += 1
        if x == "--":
            rest += a[i:]
            break
        if x in long:
            opts.add(long[x])
        elif x.startswith("--reference="):
            ref = x.split("=", 1)[1]
        elif re.fullmatch(r"-[Rvcf]+", x) and not rest:
            opts.update(x[1:])
        elif re.fullmatch(r"-[Rvcf]+", x) and len(rest) >= 1 and not valid(x):
            opts.update(x[1:])
        else:
            rest.append(x)
    if ref is None:
        if not rest:
            yield (2, b"chmod: missing operand\n")
            return 1
        spec, paths = rest[0], rest[1:]
        if not valid(spec):
            yield (2, enc(f"chmod: invalid mode: '{spec}'\n"))
            return 1
    else:
        try:
            spec = f"{os.stat(sh.resolve(ref)).st_mode & 0o7777:o}"
        except OSError as e:
            yield (2, enc(f"chmod: failed to get attributes of '{ref}': {e.strerror}\n"))
            return 1
        paths = rest
    if not paths:
        yield (2, enc(f"chmod: missing operand after '{spec}'\n"))
        return 1
    umask = getattr(sh, "umask", 0o022)
    st = 0
    for p in paths:
        for item in _chmod_one(sh, p, spec, opts, umask, top=True):
            if item[0] < 0:
                st = 1
            else:
                yield item
    return st


def _chmod_one(
    sh: Any, top_path: str, spec: str, opts: set[str], umask: int, top: bool
) -> Iterator[tuple[int, bytes]]:
    stack = [top_path]
    while stack:
        p = stack.pop()
        full = sh.resolve(p)
        sh.budget.tick()
        try:
            lst = os.lstat(full)
            if stat.S_ISLNK(lst.st_mode) and p != top_path:
                continue  # links met while recursing are skipped
            s = os.stat(full)
        except OSError as e:
            if "f" not in opts:
                why = e.strerror
                yield (2, enc(f"chmod: cannot access '{p}': {why}\n"))
            yield (-1, b"")
            continue
        isdir = stat.S_ISDIR(s.st_mode)
        old = s.st_mode & 0o7777
        new = apply_mode(spec, old, isdir, umask)
        try:
            if new != old:
                os.chmod(full, new)
        except OSError as e:
            if "f" not in opts:
                yield (2, enc(f"chmod: changing permissions of '{p}': {e.strerror}\n"))
            yield (-1, b"")
            continue
        if "v" in opts or ("c" in opts and new != old):
            if new != old:
                msg = f"mode of '{p}' changed from {old:04o} ({_ls(old)}) to {new:04o} ({_ls(new)})"
            else:
                msg = f"mode of '{p}' retained as {old:04o} ({_ls(old)})"
            yield (1, enc(msg + "\n"))
        if "R" in opts and isdir and not stat.S_ISLNK(lst.st_mode):
            try:
                names = sorted(os.listdir(full), reverse=True)
            except OSError:
                continue
            base = p if p.endswith("/") else p + "/"
            stack.extend(base + n for n in names)
