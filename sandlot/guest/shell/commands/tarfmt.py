"""GNU tar's archive format, written byte for byte as GNU tar 1.34 writes it, and --transform."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from typing import Any

from .util import enc

BLOCK = 512
RECORD = 20 * BLOCK


def _num(n: int, width: int) -> bytes:
    """An octal field with its NUL, or GNU's base-256 form when it does not fit."""
    s = b"%0*o" % (width - 1, max(n, 0))
    if len(s) <= width - 1:
        return s + b"\0"
    return bytes([0x80]) + n.to_bytes(width - 1, "big")


def _pad(b: bytes, width: int) -> bytes:
    return b[:width].ljust(width, b"\0")


def header(
    name: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    typeflag: bytes,
    linkname: bytes = b"",
    uname: str = "",
    gname: str = "",
    dev: tuple[int, int] | None = None,
) -> bytes:
    """One member's header blocks, with ././@LongLink blocks first for long names."""
    out = b""
    if len(linkname) > 100:
        out += _longlink(linkname, b"K")
    if len(name) > 100:
        out += _longlink(name, b"L")
    out += _block(name, mode, uid, gid, size, mtime, typeflag, linkname, uname, gname, dev)
    return out


def _longlink(data: bytes, flag: bytes) -> bytes:
    data += b"\0"
    blk = _block(b"././@LongLink", 0o644, 0, 0, len(data), 0, flag, b"", "root", "root", None)
    return blk + data + b"\0" * (-len(data) % BLOCK)


def _block(
    name: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    typeflag: bytes,
    linkname: bytes,
    uname: str,
    gname: str,
    dev: tuple[int, int] | None,
) -> bytes:
    h = bytearray(
        _pad(name, 100)
        + _num(mode, 8)
        + _num(uid, 8)
        + _num(gid, 8)
        + _num(size, 12)
        + _num(mtime, 12)
        + b" " * 8
        + typeflag
        + _pad(linkname, 100)
        + b"ustar  \0"
        + _pad(enc(uname), 32)
        + _pad(enc(gname), 32)
        + (_num(dev[0], 8) + _num(dev[1], 8) if dev else b"\0" * 16)
    )
    h += b"\0" * (BLOCK - len(h))
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def finish(n: int) -> bytes:
    """Two zero blocks, then padding to a whole 10 KiB record (n bytes written so far)."""
    end = n + 2 * BLOCK
    return b"\0" * (2 * BLOCK + (-end % RECORD))


# ---------------------------------------------------------------------------- owners


def user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError, OSError):
        return "root" if uid == 0 else ""


def group_name(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError, OSError):
        return "root" if gid == 0 else ""


def user_id(name: str) -> int | None:
    try:
        import pwd

        return pwd.getpwnam(name).pw_uid
    except (ImportError, KeyError, OSError):
        return 0 if name == "root" else None


def group_id(name: str) -> int | None:
    try:
        import grp

        return grp.getgrnam(name).gr_gid
    except (ImportError, KeyError, OSError):
        return 0 if name == "root" else None


def owner_spec(spec: str, group: bool) -> tuple[str, int] | None:
    """--owner/--group NAME[:ID] or ID: (name, id), None when NAME is unknown."""
    name, colon, num = spec.partition(":")
    if colon and num.isdigit():
        return name, int(num)
    if name.isdigit():
        n = int(name)
        return (group_name(n) if group else user_name(n)), n
    i = group_id(name) if group else user_id(name)
    return None if i is None else (name, i)


# ---------------------------------------------------------------------------- --transform


class Transform:
    """GNU tar --transform: sed `s` expressions applied to member names.

    Each expression has a scope: r (regular names), s (symlink targets), h (hard link
    targets); `flags=` sets the default scope of the expressions after it.
    """

    def __init__(self) -> None:
        self.rules: list[tuple[re.Pattern[str], str, int, str]] = []

    def add(self, text: str) -> None:
        from .grep import bre_to_python, ere_to_python

        default = "rsh"
        i = 0
        while i < len(text):
            if text[i] == ";":
                i += 1
                continue
            if text.startswith("flags=", i):
                j = text.find(";", i)
                j = len(text) if j < 0 else j
                default = ""
                for c in text[i + 6 : j]:
                    default = _scope(default, c)
                i = j
                continue
            if text[i] != "s" or i + 1 >= len(text):
                raise ValueError(f"Invalid transform expression: {text[i:]}")
            d = text[i + 1]
            i += 2
            parts: list[str] = []
            for _ in range(2):
                buf = []
                while i < len(text) and text[i] != d:
                    if text[i] == "\\" and i + 1 < len(text):
                        if text[i + 1] == d:
                            buf.append(d)
                        else:
                            buf.append(text[i : i + 2])
                        i += 2
                        continue
                    buf.append(text[i])
                    i += 1
                if i >= len(text):
                    raise ValueError("Invalid transform expression: missing delimiter")
                parts.append("".join(buf))
                i += 1
            j = text.find(";", i)
            j = len(text) if j < 0 else j
            fl = text[i:j]
            i = j
            scope = default
            count = 1
            ere = False
            ic = 0
            digits = ""
            for c in fl:
                if c == "g":
                    count = 0
                elif c == "i":
                    ic = re.IGNORECASE
                elif c == "x":
                    ere = True
                elif c.isdigit():
                    digits += c
                elif c in "rRsShH":
                    scope = _scope(scope, c)
                else:
                    raise ValueError(f"Unknown transform flag: {c}")
            nth = int(digits) if digits else 0
            rx = re.compile(ere_to_python(parts[0]) if ere else bre_to_python(parts[0]), ic)
            self.rules.append((rx, parts[1], count if not nth else -nth, scope))

    def __bool__(self) -> bool:
        return bool(self.rules)

    def apply(self, name: str, kind: str) -> str:
        """kind: 'r' a member name, 's' a symlink target, 'h' a hard link target."""
        from .sed import _expand_rep

        for rx, rep, count, scope in self.rules:
            if kind not in scope:
                continue
            if count < 0:  # only the nth match
                n = 0

                def one(m: re.Match[str], want: int = -count, rep: str = rep) -> str:
                    nonlocal n
                    n += 1
                    return _expand_rep(rep, m) if n == want else m.group(0)

                name = rx.sub(one, name)
            else:
                name = rx.sub(lambda m, rep=rep: _expand_rep(rep, m), name, count=count)
        return name


def _scope(scope: str, c: str) -> str:
    low = c.lower()
    if c.islower():
        return scope if low in scope else scope + low
    return scope.replace(low, "")


# ---------------------------------------------------------------------------- create


class Writer:
    """Walks operands like GNU tar c and yields archive bytes."""

    def __init__(
        self,
        resolve: Callable[[str], str],
        tick: Callable[[], None],
        *,
        owner: tuple[str, int] | None = None,
        group: tuple[str, int] | None = None,
        mtime: int | None = None,
        mode: Callable[[int, bool], int] | None = None,
        recursive: bool = True,
        dereference: bool = False,
        transform: Transform | None = None,
        excluded: Callable[[str], bool] | None = None,
        sort_names: bool = False,
        on_entry: Callable[[dict[str, Any]], None] | None = None,
        numeric: bool = False,
    ) -> None:
        self.resolve, self.tick = resolve, tick
        self.owner, self.group, self.mtime, self.mode = owner, group, mtime, mode
        self.recursive, self.dereference = recursive, dereference
        self.transform = transform or Transform()
        self.excluded = excluded or (lambda n: False)
        self.sort_names = sort_names
        self.on_entry = on_entry
        self.numeric = numeric
        self.links: dict[tuple[int, int], str] = {}
        self.errors: list[str] = []
        self.written = 0

    def add(self, path: str, arcname: str) -> Iterator[bytes]:
        self.tick()
        full = self.resolve(path)
        try:
            st = os.stat(full) if self.dereference else os.lstat(full)
        except OSError as e:
            self.errors.append(f"{path}: Cannot stat: {e.strerror}")
            return
        m = st.st_mode
        isdir = stat.S_ISDIR(m)
        name = arcname
        if self.transform:
            name = self.transform.apply(name.rstrip("/") if isdir else name, "r")
        if isdir and name and not name.endswith("/"):
            name += "/"
        perm = stat.S_IMODE(m)
        if self.mode is not None:
            perm = self.mode(perm, isdir)
        uid, gid = st.st_uid, st.st_gid
        uname = "" if self.numeric else user_name(uid)
        gname = "" if self.numeric else group_name(gid)
        if self.owner is not None:
            uname, uid = self.owner
        if self.group is not None:
            gname, gid = self.group
        mtime = int(st.st_mtime) if self.mtime is None else self.mtime
        linkname = ""
        size = 0
        dev = None
        data: bytes | None = None
        key = (st.st_dev, st.st_ino)
        if not isdir and st.st_nlink > 1 and key in self.links:
            typeflag = b"1"
            linkname = self.links[key]
            if self.transform:
                linkname = self.transform.apply(linkname, "h")
        elif stat.S_ISREG(m):
            typeflag = b"0"
            try:
                with open(full, "rb") as f:
                    data = f.read()
            except OSError as e:
                self.errors.append(f"{path}: Cannot open: {e.strerror}")
                return
            size = len(data)
        elif isdir:
            typeflag = b"5"
        elif stat.S_ISLNK(m):
            typeflag = b"2"
            linkname = os.readlink(full)
            if self.transform:
                linkname = self.transform.apply(linkname, "s")
        elif stat.S_ISFIFO(m):
            typeflag = b"6"
        elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
            typeflag = b"3" if stat.S_ISCHR(m) else b"4"
            dev = (os.major(st.st_rdev), os.minor(st.st_rdev))
        elif stat.S_ISSOCK(m):
            self.errors.append(f"{path}: socket ignored")
            return
        else:
            return
        if not isdir and st.st_nlink > 1 and key not in self.links:
            self.links[key] = arcname
        if self.on_entry:
            self.on_entry(
                {
                    "name": name,
                    "type": typeflag,
                    "mode": perm,
                    "uname": uname or str(uid),
                    "gname": gname or str(gid),
                    "size": size,
                    "mtime": mtime,
                    "linkname": linkname,
                    "dev": dev,
                }
            )
        blk = header(
            enc(name), perm, uid, gid, size, mtime, typeflag, enc(linkname), uname, gname, dev
        )
        self.written += len(blk)
        yield blk
        if data:
            pad = b"\0" * (-len(data) % BLOCK)
            self.written += len(data) + len(pad)
            yield data + pad
        if isdir and self.recursive:
            try:
                names = os.listdir(full)
            except OSError as e:
                self.errors.append(f"{path}: Cannot open: {e.strerror}")
                return
            if self.sort_names:
                names.sort()
            for n in names:
                child = os.path.join(path, n)
                carc = arcname.rstrip("/") + "/" + n if arcname else n
                if self.excluded(carc):
                    continue
                yield from self.add(child, carc)
