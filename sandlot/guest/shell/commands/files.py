"""Filesystem commands (ls, mkdir, rm, cp, mv, touch, ln, find, ...).

They work relative to the shell's cwd.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from typing import Any

from ..io import Gen, Input
from . import command
from .util import UsageError, enc, parse_opts


def _err(name: str, msg: str) -> tuple[int, bytes]:
    return (2, enc(f"{name}: {msg}\n"))


def _strerr(e: OSError) -> str:
    return e.strerror or str(e)


@command("mkdir")
def mkdir(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, paths = parse_opts(args[1:], "pvm:", {"parents": "p", "verbose": "v", "mode": "m:"})
    except UsageError as e:
        yield _err("mkdir", str(e))
        return 1
    st = 0
    mode = None
    if "m" in opts:
        from .modes import apply_mode

        try:
            mode = apply_mode(opts["m"], 0o777, True, getattr(sh, "umask", 0o022))
        except ValueError:
            yield _err("mkdir", f"invalid mode '{opts['m']}'")
            return 1
    for p in paths:
        full = sh.resolve(p)
        try:
            if "p" in opts:
                os.makedirs(full, exist_ok=True)
            else:
                os.mkdir(full)
            if mode is not None:
                os.chmod(full, mode)
            if "v" in opts:
                yield (1, enc(f"mkdir: created directory '{p}'\n"))
        except OSError as e:
            yield _err("mkdir", f"cannot create directory '{p}': {_strerr(e)}")
            st = 1
    return st


@command("mkfifo")
def mkfifo(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, paths = parse_opts(args[1:], "m:", {"mode": "m:"})
    except UsageError as e:
        yield _err("mkfifo", str(e))
        return 1
    if not paths:
        yield _err("mkfifo", "missing operand")
        return 1
    st = 0
    mode = int(opts["m"], 8) if "m" in opts else 0o666
    for p in paths:
        try:
            os.mkfifo(sh.resolve(p), mode)
            if "m" in opts:
                os.chmod(sh.resolve(p), mode)
        except (OSError, AttributeError) as e:
            msg = _strerr(e) if isinstance(e, OSError) else "Operation not supported"
            yield _err("mkfifo", f"cannot create fifo '{p}': {msg}")
            st = 1
    return st


@command("rmdir")
def rmdir(sh: Any, args: list[str], inp: Input) -> Gen:
    st = 0
    for p in [a for a in args[1:] if not a.startswith("-")]:
        try:
            os.rmdir(sh.resolve(p))
        except OSError as e:
            yield _err("rmdir", f"failed to remove '{p}': {_strerr(e)}")
            st = 1
    return st


@command("rm")
def rm(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, paths = parse_opts(
            args[1:], "rRfvid", {"recursive": "r", "force": "f", "verbose": "v"}
        )
    except UsageError as e:
        yield _err("rm", str(e))
        return 1
    st = 0
    rec = "r" in opts or "R" in opts
    if not paths and "f" not in opts:
        yield _err("rm", "missing operand")
        return 1
    for p in paths:
        full = sh.resolve(p)
        if not os.path.lexists(full):
            if "f" not in opts:
                yield _err("rm", f"cannot remove '{p}': No such file or directory")
                st = 1
            continue
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                if rec:
                    shutil.rmtree(full)
                elif "d" in opts:
                    os.rmdir(full)
                else:
                    yield _err("rm", f"cannot remove '{p}': Is a directory")
                    st = 1
                    continue
            else:
                os.unlink(full)
            if "v" in opts:
                yield (1, enc(f"removed '{p}'\n"))
        except OSError as e:
            yield _err("rm", f"cannot remove '{p}': {_strerr(e)}")
            st = 1
    return st


def _copy(src: str, dst: str, rec: bool) -> None:
    if os.path.isdir(src) and not os.path.islink(src):
        if not rec:
            raise IsADirectoryError(src)
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst, follow_symlinks=True)


@command("mv")
def cp_mv(sh: Any, args: list[str], inp: Input) -> Gen:
    name = args[0]
    try:
        opts, paths = parse_opts(
            args[1:],
            "rRafivnpTt:uPL",
            {
                "recursive": "r",
                "force": "f",
                "verbose": "v",
                "no-clobber": "n",
                "archive": "a",
                "target-directory": "t:",
            },
        )
    except UsageError as e:
        yield _err(name, str(e))
        return 1
    if "t" in opts:
        paths.append(opts["t"])
    if len(paths) < 2:
        yield _err(
            name,
            f"missing destination file operand after '{paths[0]}'"
            if paths
            else "missing file operand",
        )
        return 1
    *srcs, dst = paths
    dfull = sh.resolve(dst)
    isdir = os.path.isdir(dfull) and "T" not in opts
    if len(srcs) > 1 and not isdir:
        yield _err(name, f"target '{dst}' is not a directory")
        return 1
    st = 0
    rec = any(k in opts for k in "rRa")
    for s in srcs:
        sfull = sh.resolve(s)
        target = os.path.join(dfull, os.path.basename(sfull.rstrip("/"))) if isdir else dfull
        if not os.path.lexists(sfull):
            yield _err(name, f"cannot stat '{s}': No such file or directory")
            st = 1
            continue
        if "n" in opts and os.path.lexists(target):
            continue
        if "i" in opts and os.path.lexists(target):
            shown = os.path.join(dst, os.path.basename(s.rstrip("/"))) if isdir else dst
            yield (2, enc(f"{name}: overwrite '{shown}'? "))
            if not inp.readline().strip().lower().startswith(b"y"):
                continue
        try:
            if name == "mv":
                if os.path.isdir(target) and not os.path.isdir(sfull):
                    raise IsADirectoryError(target)
                shutil.move(sfull, target)
            else:
                if os.path.isdir(sfull) and not rec:
                    yield _err(name, f"-r not specified; omitting directory '{s}'")
                    st = 1
                    continue
                _copy(sfull, target, rec)
            if "v" in opts:
                shown = os.path.relpath(target, sh.cwd) if not dst.startswith("/") else target
                yield (1, enc(f"'{s}' -> '{shown}'\n"))
        except OSError as e:
            yield _err(name, f"cannot {'move' if name == 'mv' else 'copy'} '{s}': {_strerr(e)}")
            st = 1
    return st


@command("ln")
def ln(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, paths = parse_opts(args[1:], "sfnvrT", {"symbolic": "s", "force": "f"})
    except UsageError as e:
        yield _err("ln", str(e))
        return 1
    if not paths:
        yield _err("ln", "missing file operand")
        return 1
    if len(paths) == 1:
        paths.append(os.path.basename(paths[0]))
    *srcs, dst = paths
    st = 0
    for s in srcs:
        d = sh.resolve(dst)
        if os.path.isdir(d) and "n" not in opts and "T" not in opts:
            d = os.path.join(d, os.path.basename(s))
        try:
            if "f" in opts and os.path.lexists(d):
                os.unlink(d)
            if "s" in opts:
                os.symlink(s, d)
            else:
                os.link(sh.resolve(s), d)
        except OSError as e:
            yield _err(
                "ln",
                f"failed to create {'symbolic ' if 's' in opts else 'hard '}link "
                f"'{dst}': {_strerr(e)}",
            )
            st = 1
    return st


def _mode_str(m: int) -> str:
    """`ls -l`'s ten characters, with setuid/setgid/sticky folded in as GNU prints them."""
    t = "-"
    for test, ch in (
        (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"), (stat.S_ISFIFO, "p"),
        (stat.S_ISSOCK, "s"), (stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"),
    ):  # fmt: skip
        if test(m):
            t = ch
    bits = ""
    for who, special, ch in (
        (2, stat.S_ISUID, "s"),
        (1, stat.S_ISGID, "s"),
        (0, stat.S_ISVTX, "t"),
    ):
        r = m >> (who * 3)
        x = "x" if r & 1 else "-"
        if m & special:
            x = ch if r & 1 else ch.upper()
        bits += ("r" if r & 4 else "-") + ("w" if r & 2 else "-") + x
    return t + bits


def _owner(uid: int, numeric: bool, group: bool = False) -> str:
    if numeric:
        return str(uid)
    try:
        if group:
            import grp

            return grp.getgrgid(uid).gr_name
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError, OSError):
        return "root" if uid == 0 else str(uid)


def _ls_time(mtime: float) -> str:
    """GNU: month day time for the last six months, month day year otherwise."""
    now = time.time()
    t = time.localtime(mtime)
    if now - 15778476 < mtime <= now + 60:
        return time.strftime("%b %e %H:%M", t)
    return time.strftime("%b %e  %Y", t)


def _human(n: int) -> str:
    for unit in ("", "K", "M", "G", "T"):
        if n < 1024:
            return f"{n}{unit}" if unit == "" else f"{n:.1f}{unit}" if n < 10 else f"{n:.0f}{unit}"
        n = n / 1024  # type: ignore[assignment]
    return f"{n:.0f}P"


def _columns(names: list[str], across: bool, width: int) -> str:
    """GNU's -C/-x layout: the most columns that fit `width`, two spaces between them."""
    n = len(names)
    if not n:
        return ""

    def layout(cols: int) -> tuple[list[list[str]], list[int]] | None:
        rows = -(-n // cols)
        if across:
            grid = [names[r * cols : (r + 1) * cols] for r in range(rows)]
        else:
            if cols > 1 and (cols - 1) * rows >= n:
                return None  # an empty last column: GNU never picks such a layout
            grid = [
                [names[c * rows + r] for c in range(cols) if c * rows + r < n] for r in range(rows)
            ]
        widths = [max(len(g[c]) for g in grid if c < len(g)) for c in range(cols)]
        # GNU starts every column 3 wide and rejects a layout only when a column grows
        # the line to `width` or more
        line = sum(max(3, w + 2) for w in widths[:-1]) + max(3, widths[-1])
        if cols > 1 and line >= width and line != 3 * cols:
            return None
        return grid, widths

    best = layout(1)
    for cols in range(2, min(n, -(-width // 3)) + 1):
        got = layout(cols)
        if got is not None:
            best = got
    if best is None:
        return ""
    grid, widths = best
    return "".join(
        "".join(x.ljust(widths[i] + 2) if i < len(row) - 1 else x for i, x in enumerate(row)) + "\n"
        for row in grid
    )


@command("ls")
def ls(sh: Any, args: list[str], inp: Input) -> Gen:
    """ls as GNU prints it to a pipe: one name a line unless -C/-x/-m; -l with aligned
    columns, owner names, and the six-month date rule; names in code-point order (C.UTF-8)."""
    try:
        opts, paths = parse_opts(
            args[1:],
            "laA1RdhrtSFpCxmkgnoiUw:qNZcufX",
            {
                "all": "a",
                "almost-all": "A",
                "recursive": "R",
                "directory": "d",
                "human-readable": "h",
                "reverse": "r",
                "classify": "F",
                "numeric-uid-gid": "n",
                "width": "w:",
                "full-time": "T",
                "group-directories-first": "\x01",
                "sort": "\x02:",
            },
        )
    except UsageError as e:
        yield _err("ls", str(e))
        return 2
    sort_word = opts.pop("\x02", None)
    if sort_word is not None:
        key = {"none": "U", "size": "S", "time": "t", "extension": "X"}.get(sort_word)
        if key is None and sort_word != "name":
            yield _err("ls", f"invalid argument '{sort_word}' for '--sort'")
            return 2
        if key:
            opts[key] = 1
    if any(k in opts for k in "gnoT"):
        opts["l"] = 1
    if "f" in opts:  # -f: -a -U, and no long listing
        opts["a"] = opts["U"] = 1
        opts.pop("l", None)
    # -u access time, -c status change time: shown by -l, sorted on by -t (or alone)
    tkey = "st_atime" if "u" in opts else "st_ctime" if "c" in opts else "st_mtime"
    if tkey != "st_mtime" and "l" not in opts:
        opts["t"] = 1
    st = 0
    paths = paths or ["."]
    files, dirs = [], []
    for p in paths:
        full = sh.resolve(p)
        if not os.path.lexists(full):
            yield _err("ls", f"cannot access '{p}': No such file or directory")
            st = 2
        elif os.path.isdir(full) and "d" not in opts:
            dirs.append(p)
        else:
            files.append(p)

    def suffix(full: str) -> str:
        if "F" in opts or "p" in opts:
            if os.path.isdir(full):
                return "/"
            if "F" in opts and os.path.islink(full):
                return "@"
            if "F" in opts and os.access(full, os.X_OK):
                return "*"
        return ""

    def render(items: list[tuple[str, str]]) -> str:
        """items: (label, full path) in display order."""
        if "l" not in opts:
            labels = [
                (f"{os.lstat(f).st_ino} " if "i" in opts else "")
                + ("? " if "Z" in opts else "")
                + (re.sub(r"[^\x20-\x7e\x80-\U0010ffff]", "?", lb) if "q" in opts else lb)
                + suffix(f)
                for lb, f in items
            ]
            width = int(opts.get("w") or sh.get_str("COLUMNS") or 80)
            if "m" in opts:
                return ", ".join(labels) + "\n" if labels else ""
            if "C" in opts or "x" in opts:
                return _columns(labels, "x" in opts, width)
            return "".join(x + "\n" for x in labels)
        rows = []
        for label, full in items:
            s = os.lstat(full)
            size = _human(s.st_size) if "h" in opts else str(s.st_size)
            if stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
                size = f"{os.major(s.st_rdev)}, {os.minor(s.st_rdev)}"
            link = f" -> {os.readlink(full)}" if stat.S_ISLNK(s.st_mode) else ""
            cols = [f"{s.st_ino}"] if "i" in opts else []
            cols += [_mode_str(s.st_mode), str(s.st_nlink)]
            if "g" not in opts:
                cols.append(_owner(s.st_uid, "n" in opts))
            if "o" not in opts:
                cols.append(_owner(s.st_gid, "n" in opts, group=True))
            if "Z" in opts:
                cols.append("?")
            cols.append(size)
            secs = getattr(s, tkey)
            when = _ls_time(secs)
            if "T" in opts:
                frac = f"{getattr(s, tkey + '_ns') % 10**9:09d}"
                lt = time.localtime(secs)
                when = time.strftime("%Y-%m-%d %H:%M:%S.", lt) + frac + time.strftime(" %z", lt)
            rows.append((cols, f"{when} {label}{suffix(full)}{link}"))
        if not rows:
            return ""
        ncol = len(rows[0][0])
        w = [max(len(r[0][i]) for r in rows) for i in range(ncol)]
        left = {i for i in range(ncol) if i >= (2 if "i" in opts else 1) and i < ncol - 1}
        left.discard(1 + (1 if "i" in opts else 0))  # the link count is right-aligned
        out = []
        for cols, rest in rows:
            cells = [c.ljust(w[i]) if i in left else c.rjust(w[i]) for i, c in enumerate(cols)]
            out.append(" ".join(cells) + " " + rest + "\n")
        return "".join(out)

    def order(names: list[str], base: str) -> list[str]:
        if "U" in opts:
            return names
        names.sort()
        if "t" in opts:
            names.sort(key=lambda n: -getattr(os.lstat(os.path.join(base, n)), tkey + "_ns"))
        elif "S" in opts:
            names.sort(key=lambda n: -os.lstat(os.path.join(base, n)).st_size)
        elif "X" in opts:  # by extension (what follows the last dot), then name
            names.sort(key=lambda n: n.rpartition(".")[2] if "." in n else "")
        if "r" in opts:
            names.reverse()
        if "\x01" in opts:  # directories first, each group in its order
            names.sort(key=lambda n: not os.path.isdir(os.path.join(base, n)))
        return names

    text = render([(f, sh.resolve(f)) for f in order(files, sh.cwd)])
    if text:
        yield (1, enc(text))

    def listdir(p: str, header: bool) -> Iterator[tuple[int, bytes]]:
        full = sh.resolve(p)
        try:
            names = os.listdir(full)
        except OSError as e:
            yield _err("ls", f"cannot open directory '{p}': {_strerr(e)}")
            return
        if "a" in opts:
            names += [".", ".."]
        elif "A" not in opts:
            names = [n for n in names if not n.startswith(".")]
        names = order(names, full)
        head = f"{p}:\n" if header else ""
        if "l" in opts:
            total = sum(os.lstat(os.path.join(full, n)).st_blocks for n in names) // 2
            head += f"total {total}\n"
        yield (1, enc(head + render([(n, os.path.join(full, n)) for n in names])))
        if "R" in opts:
            for n in names:
                if n in (".", ".."):
                    continue
                sub = os.path.join(full, n)
                if os.path.isdir(sub) and not os.path.islink(sub):
                    yield (1, b"\n")
                    yield from listdir(p.rstrip("/") + "/" + n, True)

    for i, d in enumerate(order(dirs, sh.cwd)):
        if i or files:
            yield (1, b"\n")
        yield from listdir(d, len(paths) > 1 or "R" in opts)
    return st


def _drive(g: Any, res: list[int]) -> Iterator[tuple[int, bytes]]:
    """Run a command generator to completion, forwarding output and recording its status."""
    try:
        while True:
            yield next(g)
    except StopIteration as e:
        res.append(e.value if isinstance(e.value, int) else 0)


@command("basename")
def basename(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    multi = False
    suffix = None
    while a and a[0].startswith("-") and len(a[0]) > 1:
        x = a.pop(0)
        if x in ("-a", "--multiple"):
            multi = True
        elif x == "-s":
            suffix = a.pop(0)
            multi = True
        elif x == "--":
            break
    if not a:
        yield _err("basename", "missing operand")
        return 1
    if not multi and len(a) == 2:
        suffix = a.pop()
    for p in a:
        b = os.path.basename(p.rstrip("/")) or ("/" if p.startswith("/") else "")
        if suffix and b.endswith(suffix) and b != suffix:
            b = b[: -len(suffix)]
        yield (1, enc(b + "\n"))
    return 0


@command("dirname")
def dirname(sh: Any, args: list[str], inp: Input) -> Gen:
    if len(args) < 2:
        yield _err("dirname", "missing operand")
        return 1
    for p in args[1:]:
        s = p.rstrip("/") or "/"
        d = os.path.dirname(s) if "/" in s else "."
        yield (1, enc((d.rstrip("/") or "/") + "\n"))
    return 0


def _canon(path: str, mode: str, follow: bool = True) -> str | None:
    """GNU canonicalisation: mode 'e' all components exist, 'E' all but the last, 'm' none."""
    if not follow:
        return os.path.normpath(path)
    r = os.path.realpath(path)
    if mode == "e" and not os.path.exists(r):
        return None
    if mode == "E" and not os.path.isdir(os.path.dirname(r)):
        return None
    return r


@command("realpath", "readlink")
def realpath(sh: Any, args: list[str], inp: Input) -> Gen:
    """GNU realpath/readlink: -e -m (-f/-E), -s, -z, -n, -q, --relative-to/--relative-base."""
    name = args[0]
    mode = "E" if name == "realpath" else ""
    flags: set[str] = set()
    rel_to = rel_base = None
    paths: list[str] = []
    it = iter(args[1:])
    for x in it:
        if x.startswith("--relative-to"):
            rel_to = x.split("=", 1)[1] if "=" in x else next(it, ".")
        elif x.startswith("--relative-base"):
            rel_base = x.split("=", 1)[1] if "=" in x else next(it, ".")
        elif x in ("--canonicalize-existing",):
            mode = "e"
        elif x in ("--canonicalize-missing",):
            mode = "m"
        elif x in ("--canonicalize",):
            mode = "E"
        elif x in ("--no-symlinks", "--strip"):
            flags.add("s")
        elif x == "--zero":
            flags.add("z")
        elif x.startswith("-") and len(x) > 1 and not x.startswith("--"):
            for c in x[1:]:
                if c in "emf":
                    mode = "E" if c == "f" else c
                else:
                    flags.add(c)
        else:
            paths.append(x)
    end = "\0" if "z" in flags else "" if "n" in flags else "\n"
    st = 0
    for p in paths:
        full = sh.resolve(p)
        if name == "readlink" and not mode:
            if os.path.islink(full):
                yield (1, enc(os.readlink(full) + end))
            else:
                st = 1
            continue
        r = _canon(full, mode, "s" not in flags)
        if r is None:
            if "q" not in flags:
                yield _err(name, f"{p}: No such file or directory")
            st = 1
            continue
        if rel_to is not None or rel_base is not None:
            base = _canon(sh.resolve(rel_to or rel_base or "."), "m") or "/"
            bound = _canon(sh.resolve(rel_base), "m") if rel_base else None
            if bound is None or r == bound or r.startswith(bound.rstrip("/") + "/"):
                if bound is None or base == bound or base.startswith(bound.rstrip("/") + "/"):
                    r = os.path.relpath(r, base)
        yield (1, enc(r + end))
    return st


def _du_human(n: int) -> str:
    """GNU's -h: powers of 1024, rounded up, one decimal below 10."""
    if n < 1024:
        return str(n)
    x = float(n)
    for unit in "KMGTPE":
        x /= 1024
        if x < 1024 or unit == "E":
            break
    if x < 10:
        v = math.ceil(x * 10 - 1e-9) / 10
        if v < 10:
            return f"{v:.1f}{unit}"
    v = math.ceil(x - 1e-9)
    if v >= 1024 and unit != "E":
        return f"1.0{'KMGTPE'['KMGTPE'.index(unit) + 1]}"
    return f"{v}{unit}"


@command("du")
def du(sh: Any, args: list[str], inp: Input) -> Gen:
    """GNU du: disk usage of each directory (post-order), -a files too, -s totals only,
    -d/--max-depth, -c, -k/-m/-b/-h/--apparent-size, -L/-H/-P, hard links counted once."""
    import fnmatch

    flags: set[str] = set()
    deref = "P"  # P: no symlink followed; L: all; H: command-line ones
    depth: int | None = None
    excludes: list[str] = []
    paths: list[str] = []
    longs = {
        "all": "a",
        "summarize": "s",
        "total": "c",
        "human-readable": "h",
        "bytes": "b",
        "apparent-size": "A",
        "dereference": "L",
        "dereference-args": "H",
        "no-dereference": "P",
        "one-file-system": "x",
        "separate-dirs": "S",
        "count-links": "l",
        "null": "0",
    }
    rest = args[1:]
    i = 0
    while i < len(rest):
        a = rest[i]
        i += 1
        if a == "--":
            paths.extend(rest[i:])
            break
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            if name in ("max-depth", "exclude"):
                if not eq:
                    if i >= len(rest):
                        yield _err("du", f"option '--{name}' requires an argument")
                        return 1
                    val, i = rest[i], i + 1
                if name == "exclude":
                    excludes.append(val)
                elif not val.isdigit():
                    yield _err("du", f"invalid maximum depth '{val}'")
                    return 1
                else:
                    depth = int(val)
            elif name in longs:
                c = longs[name]
                if c in "LHP":
                    deref = c
                else:
                    flags.add(c)
            else:
                yield _err("du", f"unrecognized option '{a}'")
                return 1
            continue
        if a.startswith("-") and len(a) > 1:
            for j, c in enumerate(a[1:], 1):
                if c == "d":
                    val = a[j + 1 :]
                    if not val:
                        if i >= len(rest):
                            yield _err("du", "option requires an argument -- 'd'")
                            return 1
                        val, i = rest[i], i + 1
                    if not val.isdigit():
                        yield _err("du", f"invalid maximum depth '{val}'")
                        return 1
                    depth = int(val)
                    break
                if c in "LHP":
                    deref = c
                elif c == "D":
                    deref = "H"
                elif c in "asckmhbxSl0":
                    flags.add(c)
                else:
                    yield _err("du", f"invalid option -- '{c}'")
                    return 1
            continue
        paths.append(a)
    if "s" in flags:
        depth = 0
    apparent = "A" in flags or "b" in flags
    unit = 1 if "b" in flags else 1024 * 1024 if "m" in flags else 1024
    end = "\0" if "0" in flags else "\n"

    def show(n: int, name: str) -> bytes:
        v = _du_human(n) if "h" in flags else str(-(-n // unit))
        return enc(f"{v}\t{name}{end}")

    def size(st: os.stat_result) -> int:
        if apparent:
            return st.st_size
        blocks = getattr(st, "st_blocks", None)
        if blocks is None or (blocks == 0 and st.st_size and not stat.S_ISLNK(st.st_mode)):
            return -(-st.st_size // 4096) * 4096  # no block counts here: whole 4 KiB pages
        return int(blocks) * 512

    seen: set[tuple[int, int]] = set()
    st_code = 0
    total = 0
    out: list[tuple[int, bytes]] = []

    def walk(full: str, shown: str, level: int, top: bool) -> int:
        nonlocal st_code
        sh.budget.tick()
        follow = deref == "L" or (deref == "H" and top)
        try:
            st = os.stat(full) if follow else os.lstat(full)
        except OSError as e:
            out.append(_err("du", f"cannot access '{shown}': {e.strerror}"))
            st_code = 1
            return 0
        key = (st.st_dev, st.st_ino)
        if key in seen and "l" not in flags:
            return 0
        seen.add(key)
        n = size(st)
        if not stat.S_ISDIR(st.st_mode):
            if "a" in flags and (depth is None or level <= depth) or top:
                out.append((1, show(n, shown)))
            return n
        try:
            names = os.listdir(full)
        except OSError as e:
            out.append(_err("du", f"cannot read directory '{shown}': {e.strerror}"))
            st_code = 1
            names = []
        sub_total = 0
        for nm in names:
            if excludes and any(fnmatch.fnmatch(nm, x) for x in excludes):
                continue
            child = walk(
                os.path.join(full, nm),
                shown + nm if shown.endswith("/") else shown + "/" + nm,
                level + 1,
                False,
            )
            sub_total += child
        own = n + (0 if "S" in flags else sub_total)
        if depth is None or level <= depth:
            out.append((1, show(own, shown)))
        return n + sub_total

    for p in paths or ["."]:
        shown = p.rstrip("/") + "/" if p.endswith("//") and p.strip("/") else p
        total += walk(sh.resolve(p), shown, 0, True)
        yield from out
        out.clear()
    if "c" in flags:
        yield (1, show(total, "total"))
    return st_code


@command("mktemp")
def mktemp(sh: Any, args: list[str], inp: Input) -> Gen:
    """GNU mktemp: TEMPLATE (≥3 trailing X's), -d -u -q -t, -p DIR / --tmpdir[=DIR], --suffix."""
    import secrets

    flags: set[str] = set()
    dir_arg: str | None = None
    suffix: str | None = None
    operands: list[str] = []
    rest = args[1:]
    i = 0
    while i < len(rest):
        a = rest[i]
        i += 1
        if a == "--":
            operands.extend(rest[i:])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a[2:].partition("=")
            if name in ("directory", "dry-run", "quiet"):
                flags.add({"directory": "d", "dry-run": "u", "quiet": "q"}[name])
            elif name == "tmpdir":
                flags.add("p")
                dir_arg = val if eq else None
            elif name == "suffix":
                if not eq:
                    if i >= len(rest):
                        yield _err("mktemp", "option '--suffix' requires an argument")
                        return 1
                    val = rest[i]
                    i += 1
                suffix = val
            else:
                yield _err("mktemp", f"unrecognized option '{a}'")
                return 1
            continue
        if a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                if c == "p":
                    val = a[j + 1 :]
                    if not val:
                        if i >= len(rest):
                            yield _err("mktemp", "option requires an argument -- 'p'")
                            return 1
                        val = rest[i]
                        i += 1
                    flags.add("p")
                    dir_arg = val
                    break
                if c not in "dqut":
                    yield _err("mktemp", f"invalid option -- '{c}'")
                    return 1
                flags.add(c)
                j += 1
            continue
        operands.append(a)
    quiet = "q" in flags

    def fail(msg: str) -> Iterator[tuple[int, bytes]]:
        if not quiet:
            yield (2, enc(f"mktemp: {msg}\n"))

    if len(operands) > 1:
        yield (2, enc("mktemp: too many templates\n"))
        return 1
    use_dir = "p" in flags or "t" in flags
    if operands:
        template = operands[0]
    else:
        template = "tmp.XXXXXXXXXX"
        use_dir = True
    if suffix is not None:
        if not template.endswith("X"):
            yield from fail(f"with --suffix, template '{template}' must end in X")
            return 1
        template += suffix
        body = template[: len(template) - len(suffix)]
    else:
        k = template.rfind("X")
        body = template[: k + 1] if k >= 0 else template
        suffix = template[len(body) :]
    if "/" in suffix:
        yield from fail(f"invalid suffix '{suffix}', contains directory separator")
        return 1
    nx = len(body) - len(body.rstrip("X"))
    if nx < 3:
        yield from fail(f"too few X's in template '{template}'")
        return 1
    env_dir = sh.get_str("TMPDIR") or ""
    if use_dir:
        if "t" in flags:
            base = env_dir or dir_arg or "/tmp"
            if "/" in template:
                yield from fail(f"invalid template, '{template}', contains directory separator")
                return 1
        else:
            base = dir_arg or env_dir or "/tmp"
            if template.startswith("/"):
                yield from fail(
                    f"invalid template, '{template}'; with --tmpdir, it may not be absolute"
                )
                return 1
        template = base + template if base.endswith("/") else base + "/" + template
        body = template[: len(template) - len(suffix)]
    stem = body[: len(body) - nx]
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    err = ""
    for _ in range(100):
        name = stem + "".join(secrets.choice(chars) for _ in range(nx)) + suffix
        full = sh.resolve(name)
        try:
            if "u" in flags:
                if os.path.lexists(full):
                    continue
            elif "d" in flags:
                os.mkdir(full, 0o700)
            else:
                os.close(os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        except OSError as e:
            err = _strerr(e)
            break
        yield (1, enc(name + "\n"))
        return 0
    else:
        err = "File exists"
    what = "directory" if "d" in flags else "file"
    yield from fail(f"failed to create {what} via template '{template}': {err}")
    return 1
