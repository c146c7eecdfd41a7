"""stat: GNU coreutils stat (-c/--format, --printf, -L, -t, -f, the default report)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from typing import Any

from ..io import Gen, Input
from . import command
from .util import UsageError, enc, parse_opts

_DEFAULT = (
    "  File: %N\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\n"
    "Device: %Hd,%Ld\tInode: %-11i Links: %h\n"
    "Access: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\n"
    "Access: %x\nModify: %y\nChange: %z\n Birth: %w\n"
)
_DEFAULT_DEV = _DEFAULT.replace("Links: %h\n", "Links: %-5h Device type: %Hr,%Lr\n")
_TERSE = "%n %s %b %f %u %g %D %i %h %t %T %X %Y %Z %W %o\n"
_FS_DEFAULT = (
    "  File: %N\n    ID: %-8i Namelen: %-7l Type: %T\n"
    "Block size: %-10s Fundamental block size: %S\n"
    "Blocks: Total: %-10b Free: %-10f Available: %a\n"
    "Inodes: Total: %-10c Free: %d\n"
)
_FS_TERSE = "%n %i %l %t %s %S %b %f %a %c %d\n"
_RADIX = {"a": "o", "f": "x", "D": "x", "t": "x", "T": "x"}
_SPEC = re.compile(r"%([-#+ 0']*)(\d*)(?:\.(\d*))?([HL]?[a-zA-Z%]?)")


def _ftype(m: int, size: int) -> str:
    if stat.S_ISREG(m):
        return "regular empty file" if size == 0 else "regular file"
    for test, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character special file"),
        (stat.S_ISBLK, "block special file"),
    ):
        if test(m):
            return name
    return "weird file"


def _quote(s: str) -> str:
    if "'" not in s:
        return f"'{s}'"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _user(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError, OSError):
        return "root" if uid == 0 else "UNKNOWN"


def _group(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError, OSError):
        return "root" if gid == 0 else "UNKNOWN"


def _stamp(sh: Any, sec: float, ns: int) -> str:
    from .dates import to_dt, zone

    d = to_dt(int(sec) if sec >= 0 else sec, zone(sh.get_str("TZ")))
    return d.strftime("%Y-%m-%d %H:%M:%S") + f".{ns % 1_000_000_000:09d} " + d.strftime("%z")


def _render(fmt: str, field: Callable[[str], str | int | None]) -> str:
    out: list[str] = []
    pos = 0
    for m in _SPEC.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, conv = m.group(1), m.group(2), m.group(3), m.group(4)
        if conv == "":
            out.append("%" + flags + width + ("." + prec if prec is not None else ""))
            continue
        if conv == "%":
            out.append("%")
            continue
        v = field(conv)
        if v is None:
            out.append("?")
            continue
        spec = flags.replace("'", "") + width
        if isinstance(v, int):
            kind = _RADIX.get(conv, "d")
            if prec is not None and kind == "d":
                s = _int_prec(v, flags, width, prec)
            else:
                s = f"%{spec}{kind}" % v
        else:
            if prec is not None:
                v = v[: int(prec or 0)]
            s = f"%{flags.replace('0', '').replace(chr(39), '')}{width}s" % v
        out.append(s)
    out.append(fmt[pos:])
    return "".join(out)


def _int_prec(v: int, flags: str, width: str, prec: str) -> str:
    digits = str(abs(v)).rjust(int(prec or 0), "0")
    s = ("-" if v < 0 else "") + digits
    w = int(width or 0)
    return s.ljust(w) if "-" in flags else s.rjust(w)


def _unescape(s: str) -> str:
    def rep(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "01234567":
            return chr(int(e, 8) & 255)
        if e[0] == "x":
            return chr(int(e[1:], 16))
        return {
            "n": "\n",
            "t": "\t",
            "\\": "\\",
            "a": "\a",
            "b": "\b",
            "f": "\f",
            "r": "\r",
            "v": "\v",
            '"': '"',
        }.get(e, "\\" + e)

    return re.sub(r"\\([0-7]{1,3}|x[0-9a-fA-F]{1,2}|.)", rep, s)


@command("stat")
def stat_(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, paths = parse_opts(
            args[1:],
            "c:Lft",
            {
                "format": "c:",
                "printf": "p:",
                "dereference": "L",
                "file-system": "f",
                "terse": "t",
                "cached": "C:",
            },
        )
    except UsageError as e:
        yield (2, enc(f"stat: {e}\nTry 'stat --help' for more information.\n"))
        return 1
    if not paths:
        yield (2, b"stat: missing operand\nTry 'stat --help' for more information.\n")
        return 1
    fs = "f" in opts
    fmt: str | None = None
    if "p" in opts:
        fmt = _unescape(opts["p"])
    elif "c" in opts:
        fmt = opts["c"] + "\n"
    st = 0
    for p in paths:
        full = sh.resolve(p)
        try:
            if fs:
                v = os.statvfs(full)
            else:
                s = os.stat(full) if "L" in opts else os.lstat(full)
        except OSError as e:
            msg = "cannot read file system information for" if fs else "cannot statx"
            yield (2, enc(f"stat: {msg} '{p}': {e.strerror}\n"))
            st = 1
            continue
        if fs:
            f = fmt or (_FS_TERSE if "t" in opts else _FS_DEFAULT)
            vals: dict[str, str | int] = {
                "a": v.f_bavail,
                "b": v.f_blocks,
                "c": v.f_files,
                "d": v.f_ffree,
                "f": v.f_bfree,
                "i": f"{getattr(v, 'f_fsid', 0):x}",
                "l": v.f_namemax,
                "n": p,
                "N": _quote(p),
                "s": v.f_bsize,
                "S": v.f_frsize,
                "t": "0",
                "T": "ext2/ext3",
            }
            yield (1, enc(_render(f, lambda c, vals=vals: vals.get(c))))  # type: ignore[misc]
            continue
        isdev = stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode)
        f = fmt or (_TERSE if "t" in opts else _DEFAULT_DEV if isdev else _DEFAULT)
        yield (1, enc(_render(f, _fields(sh, p, full, s, fmt is None))))
    return st


def _fields(
    sh: Any, p: str, full: str, s: os.stat_result, plain: bool = False
) -> Callable[[str], str | int | None]:
    from .files import _mode_str

    def q(name: str) -> str:
        return name if plain and re.fullmatch(r"[\w.,/+:@%=-]+", name) else _quote(name)

    def field(c: str) -> str | int | None:
        if c == "a":
            return stat.S_IMODE(s.st_mode)
        if c == "A":
            return _mode_str(s.st_mode)
        if c == "b":
            return getattr(s, "st_blocks", 0)
        if c == "B":
            return 512
        if c == "C":
            return None
        if c == "d":
            return s.st_dev
        if c == "D":
            return s.st_dev
        if c == "Hd":
            return os.major(s.st_dev)
        if c == "Ld":
            return os.minor(s.st_dev)
        if c == "Hr":
            return os.major(s.st_rdev)
        if c == "Lr":
            return os.minor(s.st_rdev)
        if c == "f":
            return s.st_mode
        if c == "F":
            return _ftype(s.st_mode, s.st_size)
        if c == "g":
            return s.st_gid
        if c == "G":
            return _group(s.st_gid)
        if c == "h":
            return s.st_nlink
        if c == "i":
            return s.st_ino
        if c == "m":
            return "/"
        if c == "n":
            return p
        if c == "N":
            if stat.S_ISLNK(s.st_mode):
                try:
                    return q(p) + " -> " + q(os.readlink(full))
                except OSError:
                    pass
            return q(p)
        if c == "o":
            return getattr(s, "st_blksize", 4096)
        if c == "s":
            return s.st_size
        if c == "t":
            return os.major(s.st_rdev)
        if c == "T":
            return os.minor(s.st_rdev)
        if c == "u":
            return s.st_uid
        if c == "U":
            return _user(s.st_uid)
        if c == "w":
            bt = getattr(s, "st_birthtime", None)
            if bt is None:
                return "-"
            return _stamp(sh, bt, getattr(s, "st_birthtime_ns", int(bt * 1e9)))
        if c == "W":
            bt = getattr(s, "st_birthtime", None)
            return 0 if bt is None else int(bt)
        for letter, attr in (("x", "atime"), ("y", "mtime"), ("z", "ctime")):
            sec = getattr(s, "st_" + attr)
            ns = getattr(s, "st_" + attr + "_ns")
            if c == letter:
                return _stamp(sh, sec, ns)
            if c == letter.upper():
                return ns // 1_000_000_000
        return None

    return field
