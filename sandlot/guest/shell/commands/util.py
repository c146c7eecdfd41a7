"""Option parsing and input helpers shared by the commands."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ..io import Input


class UsageError(Exception):
    pass


def enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def dec(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def c_locale(sh: Any) -> bool:
    """Whether LC_ALL / LC_CTYPE / LANG (the first one set) names the C locale: then letters,
    word characters and case are ASCII only.  Unset means the sandbox's UTF-8 default."""
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        v = sh.get_str(name)
        if v:
            return v in ("C", "POSIX")
    return False


def parse_opts(
    args: list[str], spec: str, longs: dict[str, str] | None = None, stop_at_operand: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """GNU-ish getopt: spec letters, 'x:' takes a value; repeated flags count.

    longs map --name[=] to a letter.
    """
    opts: dict[str, Any] = {}
    operands: list[str] = []
    longs = longs or {}
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            operands.extend(args[i:])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a[2:].partition("=")
            key = longs.get(name)
            if key is None:
                matches = [k for k in longs if k.startswith(name)]
                if len(matches) == 1:
                    key = longs[matches[0]]
            if key is None:
                raise UsageError(f"unrecognized option '{a}'")
            if key.endswith(":"):
                if not eq:
                    if i >= len(args):
                        raise UsageError(f"option '{a}' requires an argument")
                    val = args[i]
                    i += 1
                opts[key[:-1]] = val
            else:
                opts[key] = opts.get(key, 0) + 1
            continue
        if a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                k = spec.find(c)
                if k < 0:
                    raise UsageError(f"invalid option -- '{c}'")
                if k + 1 < len(spec) and spec[k + 1] == ":":
                    val = a[j + 1 :]
                    if not val:
                        if i >= len(args):
                            raise UsageError(f"option requires an argument -- '{c}'")
                        val = args[i]
                        i += 1
                    if c in opts and isinstance(opts[c], list):
                        opts[c].append(val)
                    else:
                        opts[c] = val
                        opts.setdefault("_" + c, []).append(val)
                    break
                opts[c] = opts.get(c, 0) + 1
                j += 1
            continue
        operands.append(a)
        if stop_at_operand:
            operands.extend(args[i:])
            break
    return opts, operands


def read_fifo(path: str) -> bytes:
    """What a named pipe holds right now, without waiting for a writer (the shell runs
    commands one after another, so a writer that has not started never will)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    out = []
    try:
        while True:
            try:
                b = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not b:
                break
            out.append(b)
    finally:
        os.close(fd)
    return b"".join(out)


def is_fifo(path: str) -> bool:
    import stat

    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def open_input(sh: Any, name: str, inp: Input) -> Input:
    """An Input for a file operand ('-' is stdin); raises OSError with a GNU-style message."""
    if name == "-":
        return inp
    path = sh.resolve(name)
    if os.path.isdir(path):
        raise OSError(f"{name}: Is a directory")
    if name in ("/dev/stdin", "/dev/fd/0"):
        return inp
    if is_fifo(path):
        return Input(read_fifo(path))
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise OSError(f"{name}: No such file or directory") from None
    except PermissionError:
        raise OSError(f"{name}: Permission denied") from None
    return Input(_chunks(sh, f))


def _chunks(sh: Any, f: Any) -> Iterator[bytes]:
    """Read a file lazily so endless sources (/dev/urandom, /dev/zero) stream."""
    try:
        while True:
            sh.budget.tick()
            b = f.read(65536)
            if not b:
                return
            yield b
    finally:
        f.close()


def inputs(sh: Any, files: list[str], inp: Input) -> Iterator[tuple[str, Input | str]]:
    """(name, Input) per operand, or (name, error message) when it cannot be opened."""
    for f in files or ["-"]:
        try:
            yield f, open_input(sh, f, inp)
        except OSError as e:
            yield f, str(e)


def split_lines(data: bytes, sep: bytes = b"\n") -> list[bytes]:
    """Lines without separators; a final unterminated line is kept."""
    if not data:
        return []
    parts = data.split(sep)
    if parts[-1] == b"":
        parts.pop()
    return parts
