"""GNU find: the expression is parsed once into a small tree (and/or lists, not, primaries built
from a dispatch table) and evaluated per file; the walk uses an explicit stack."""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from typing import Any

from .. import pattern as P
from ..io import Gen, Input
from . import command
from .util import enc

Test = Callable[["Ctx"], bool]


class FindError(Exception):
    pass


class Ctx:
    __slots__ = ("path", "full", "depth", "root", "_st", "_lst", "follow", "prune")

    def __init__(self, path: str, full: str, depth: int, root: str, follow: bool) -> None:
        self.path, self.full, self.depth, self.root, self.follow = path, full, depth, root, follow
        self._st: Any = None
        self._lst: Any = None
        self.prune = False

    def lst(self) -> os.stat_result:
        if self._lst is None:
            self._lst = os.lstat(self.full)
        return self._lst

    def st(self) -> os.stat_result:
        """stat per -P/-L: a dangling link under -L is the link itself."""
        if self._st is None:
            if self.follow:
                try:
                    self._st = os.stat(self.full)
                except OSError:
                    self._st = self.lst()
            else:
                self._st = self.lst()
        return self._st

    def base(self) -> str:
        p = self.path.rstrip("/")
        return os.path.basename(p) if p else self.path


_TYPES = {
    "f": stat.S_ISREG,
    "d": stat.S_ISDIR,
    "l": stat.S_ISLNK,
    "p": stat.S_ISFIFO,
    "s": stat.S_ISSOCK,
    "b": stat.S_ISBLK,
    "c": stat.S_ISCHR,
}


def _num(spec: str) -> Callable[[float], bool]:
    """find's numeric argument: +n more than n, -n less than n, n exactly."""
    sign = spec[:1] if spec[:1] in "+-" else ""
    n = float(spec[len(sign) :])
    if sign == "+":
        return lambda v: v > n
    if sign == "-":
        return lambda v: v < n
    return lambda v: v == n


def _perm_mode(spec: str) -> int:
    if re.fullmatch(r"[0-7]+", spec):
        return int(spec, 8)
    mode = 0
    for clause in spec.split(","):
        m = re.fullmatch(r"([ugoa]*)([-+=])([rwxXst]*)", clause)
        if not m:
            raise FindError(f"invalid mode '{spec}'")
        who = m.group(1) or "a"
        bits = 0
        for c in m.group(3):
            for w in "ugo" if "a" in who else who:
                sh = {"u": 6, "g": 3, "o": 0}[w]
                bits |= {"r": 4, "w": 2, "x": 1, "X": 1}.get(c, 0) << sh
                if c == "s" and w in "ug":
                    bits |= 0o4000 if w == "u" else 0o2000
                if c == "t":
                    bits |= 0o1000
        mode = mode | bits if m.group(2) != "-" else mode & ~bits
    return mode


def _b_perm(arg: str, ctx: Any) -> Test:
    kind = arg[:1] if arg[:1] in "-/+" else ""
    want = _perm_mode(arg[len(kind) :])
    if kind == "-":
        return lambda c: c.st().st_mode & want == want
    if kind in "/+" and kind:
        return lambda c: not want or bool(c.st().st_mode & want)
    return lambda c: c.st().st_mode & 0o7777 == want


def _b_type(arg: str, ctx: Any, link: bool = False) -> Test:
    fns = []
    for t in arg.split(","):
        if t not in _TYPES:
            raise FindError(f"Unknown argument to -type: {t}")
        fns.append(_TYPES[t])

    def test(c: Ctx) -> bool:
        try:
            m = (os.stat(c.full) if link else c.st()).st_mode
        except OSError:
            m = c.lst().st_mode
        return any(f(m) for f in fns)

    return test


def _b_size(arg: str, ctx: Any) -> Test:
    unit = {"c": 1, "w": 2, "k": 1024, "M": 1024**2, "G": 1024**3, "b": 512}.get(arg[-1:], 0)
    num = arg[:-1] if unit else arg
    unit = unit or 512
    cmp = _num(num)
    return lambda c: cmp(-(-c.st().st_size // unit))


def _time_test(field: str, scale: float, now: float) -> Callable[[str, Any], Test]:
    def build(arg: str, ctx: Any) -> Test:
        cmp = _num(arg)
        if scale == 60:
            return lambda c: cmp(-(-(now - getattr(c.st(), field)) // 60))
        return lambda c: cmp((now - getattr(c.st(), field)) // scale)

    return build


def _ref_stat(sh: Any, name: str, follow: bool) -> os.stat_result:
    try:
        full = sh.resolve(name)
        return os.stat(full) if follow else os.lstat(full)
    except OSError as e:
        raise FindError(f"'{name}': {e.strerror}") from None


_XY = {"a": "st_atime", "m": "st_mtime", "c": "st_ctime", "B": "st_ctime"}


def _b_newerxy(xy: str) -> Callable[[str, Any], Test]:
    def build(arg: str, ctx: Any) -> Test:
        field = _XY[xy[0]] + "_ns"
        if xy[1] == "t":
            from .dates import parse_any

            try:
                ref = parse_any(ctx["sh"], arg, time.time())
            except ValueError:
                raise FindError(f"I cannot figure out how to interpret '{arg}' as a date") from None
        else:
            ref = getattr(_ref_stat(ctx["sh"], arg, ctx["follow"]), _XY[xy[1]] + "_ns")
        return lambda c: getattr(c.st(), field) > ref

    return build


def _glob(which: str, fold: bool) -> Callable[[str, Any], Test]:
    def build(arg: str, ctx: Any) -> Test:
        pat = arg.lower() if fold else arg

        def test(c: Ctx) -> bool:
            if which == "base":
                s = c.base()
            elif which == "path":
                s = c.path
            else:
                if not stat.S_ISLNK(c.lst().st_mode):
                    return False
                s = os.readlink(c.full)
            return P.match(pat, s.lower() if fold else s)

        return test

    return build


def _b_regex(fold: bool) -> Callable[[str, Any], Test]:
    def build(arg: str, ctx: Any) -> Test:
        rx = re.compile(arg, re.I if fold else 0)
        return lambda c: rx.fullmatch(c.path) is not None

    return build


def _b_samefile(arg: str, ctx: Any) -> Test:
    ref = _ref_stat(ctx["sh"], arg, True)
    return lambda c: (c.st().st_ino, c.st().st_dev) == (ref.st_ino, ref.st_dev)


def _b_user(arg: str, ctx: Any) -> Test:
    if arg.isdigit():
        uid = int(arg)
    else:
        try:
            import pwd

            uid = pwd.getpwnam(arg).pw_uid
        except (ImportError, KeyError):
            if arg != "root":
                raise FindError(f"'{arg}' is not the name of a known user") from None
            uid = 0
    return lambda c: c.st().st_uid == uid


def _b_group(arg: str, ctx: Any) -> Test:
    if arg.isdigit():
        gid = int(arg)
    else:
        try:
            import grp

            gid = grp.getgrnam(arg).gr_gid
        except (ImportError, KeyError):
            if arg != "root":
                raise FindError(f"'{arg}' is not the name of a known group") from None
            gid = 0
    return lambda c: c.st().st_gid == gid


def _empty(c: Ctx) -> bool:
    m = c.st().st_mode
    if stat.S_ISDIR(m):
        try:
            return not os.listdir(c.full)
        except OSError:
            return False
    return stat.S_ISREG(m) and c.st().st_size == 0


_NOW = time.time()

# primaries taking one argument: name -> builder(arg, ctx) -> test
_ARG1: dict[str, Callable[[str, Any], Test]] = {
    "-name": _glob("base", False),
    "-iname": _glob("base", True),
    "-path": _glob("path", False),
    "-wholename": _glob("path", False),
    "-ipath": _glob("path", True),
    "-iwholename": _glob("path", True),
    "-lname": _glob("link", False),
    "-ilname": _glob("link", True),
    "-regex": _b_regex(False),
    "-iregex": _b_regex(True),
    "-type": _b_type,
    "-xtype": lambda a, ctx: _b_type(a, ctx, link=True),
    "-perm": _b_perm,
    "-size": _b_size,
    "-user": _b_user,
    "-group": _b_group,
    "-uid": lambda a, ctx: (lambda f: lambda c: f(c.st().st_uid))(_num(a)),
    "-gid": lambda a, ctx: (lambda f: lambda c: f(c.st().st_gid))(_num(a)),
    "-links": lambda a, ctx: (lambda f: lambda c: f(c.st().st_nlink))(_num(a)),
    "-inum": lambda a, ctx: (lambda f: lambda c: f(c.st().st_ino))(_num(a)),
    "-samefile": _b_samefile,
    "-newer": _b_newerxy("mm"),
    "-anewer": _b_newerxy("am"),
    "-cnewer": _b_newerxy("cm"),
    "-mtime": _time_test("st_mtime", 86400, _NOW),
    "-atime": _time_test("st_atime", 86400, _NOW),
    "-ctime": _time_test("st_ctime", 86400, _NOW),
    "-mmin": _time_test("st_mtime", 60, _NOW),
    "-amin": _time_test("st_atime", 60, _NOW),
    "-cmin": _time_test("st_ctime", 60, _NOW),
}
for _x in "amcB":
    for _y in "amcBt":
        _ARG1[f"-newer{_x}{_y}"] = _b_newerxy(_x + _y)

_ARG0: dict[str, Test] = {
    "-true": lambda c: True,
    "-false": lambda c: False,
    "-empty": _empty,
    "-executable": lambda c: os.access(c.full, os.X_OK),
    "-readable": lambda c: os.access(c.full, os.R_OK),
    "-writable": lambda c: os.access(c.full, os.W_OK),
    "-nouser": lambda c: False,
    "-nogroup": lambda c: False,
}

# options that take effect globally wherever they appear: name -> argument count
_GLOBAL = {
    "-maxdepth": 1,
    "-mindepth": 1,
    "-depth": 0,
    "-d": 0,
    "-xdev": 0,
    "-mount": 0,
    "-follow": 0,
    "-noleaf": 0,
    "-ignore_readdir_race": 0,
    "-daystart": 0,
    "-regextype": 1,
}

_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _mode_str(m: int) -> str:
    from .files import _mode_str as ms

    return str(ms(m))


def _fmt_time(t: float, k: str) -> str:
    if k == "@":
        return f"{t:.10f}"
    if k in ("", "c"):
        return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(t))
    if k == "+":
        return time.strftime("%Y-%m-%d+%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1e10):010d}"
    return time.strftime("%" + k, time.localtime(t))


def _printf_field(c: Ctx, k: str, sub: str) -> str:
    s = c.st()
    rel = c.path[len(c.root) :].lstrip("/") if c.path.startswith(c.root) else c.path
    simple: dict[str, Callable[[], Any]] = {
        "p": lambda: c.path,
        "f": c.base,
        "P": lambda: rel,
        "H": lambda: c.root,
        "h": lambda: (os.path.dirname(c.path.rstrip("/")) or ".") if "/" in c.path else ".",
        "s": lambda: s.st_size,
        "d": lambda: c.depth,
        "m": lambda: f"{s.st_mode & 0o7777:o}",
        "M": lambda: _mode_str(s.st_mode),
        "U": lambda: s.st_uid,
        "G": lambda: s.st_gid,
        "u": lambda: "root" if s.st_uid == 0 else s.st_uid,
        "g": lambda: "root" if s.st_gid == 0 else s.st_gid,
        "i": lambda: s.st_ino,
        "n": lambda: s.st_nlink,
        "k": lambda: -(-s.st_blocks // 2),
        "b": lambda: s.st_blocks,
        "l": lambda: os.readlink(c.full) if stat.S_ISLNK(c.lst().st_mode) else "",
        "y": lambda: next((t for t, f in _TYPES.items() if f(c.lst().st_mode)), "U"),
        "Y": lambda: next((t for t, f in _TYPES.items() if f(c.st().st_mode)), "U"),
    }
    if k in simple:
        return str(simple[k]())
    tf = {"a": "st_atime", "c": "st_ctime", "t": "st_mtime", "A": "st_atime", "C": "st_ctime"}
    tf["T"] = "st_mtime"
    if k in tf:
        return _fmt_time(getattr(s, tf[k]), sub)
    return "%" + k


_PF = re.compile(r"%([-+ #0]*\d*(?:\.\d+)?)([ACT][a-zA-Z@+]|.)|\\(0[0-7]{0,2}|[0-7]{1,3}|.)", re.S)


def _b_printf(fmt: str) -> Callable[[Ctx], str]:
    def render(c: Ctx) -> str:
        out = []
        pos = 0
        for m in _PF.finditer(fmt):
            out.append(fmt[pos : m.start()])
            pos = m.end()
            if m.group(3) is not None:
                e = m.group(3)
                if e == "c":
                    return "".join(out)
                if e[0] in "01234567":
                    out.append(chr(int(e, 8) & 255))
                else:
                    out.append(_ESC.get(e, "\\" + e))
                continue
            flags, k = m.group(1), m.group(2)
            if k == "%":
                out.append("%")
                continue
            val = _printf_field(c, k[0], k[1:])
            if flags:
                fl = re.match(r"([-+ #0]*)(\d*)(?:\.(\d+))?", flags)
                assert fl is not None
                if fl.group(3) is not None:
                    val = val[: int(fl.group(3))]
                w = int(fl.group(2) or 0)
                val = val.ljust(w) if "-" in fl.group(1) else val.rjust(w)
            out.append(val)
        out.append(fmt[pos:])
        return "".join(out)

    return render


_BIN = "invalid expression; you have used a binary operator '{}' with nothing after it."


class Expr:
    """Recursive-descent parser over the argument list; depth only grows with parentheses."""

    def __init__(self, toks: list[str], ctx: dict[str, Any]) -> None:
        self.toks, self.i, self.ctx = toks, 0, ctx
        self.has_action = False

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Any:
        if not self.toks:
            return None
        node = self.p_or()
        if self.peek() is not None:
            raise FindError(
                f"unexpected extra predicate '{self.peek()}'"
                if self.peek() != ")"
                else "invalid expression; you have too many ')'"
            )
        return node

    def p_or(self) -> Any:
        items = [self.p_and()]
        while self.peek() in ("-o", "-or"):
            self.i += 1
            if self.peek() in (None, ")", "-o", "-or", "-a", "-and"):
                raise FindError(_BIN.format("-o"))
            items.append(self.p_and())
        return items[0] if len(items) == 1 else ("or", items)

    def p_and(self) -> Any:
        items = [self.p_not()]
        while self.peek() not in (None, ")", "-o", "-or"):
            if self.peek() in ("-a", "-and"):
                self.i += 1
                if self.peek() in (None, ")", "-o", "-or", "-a", "-and"):
                    raise FindError(_BIN.format("-a"))
            items.append(self.p_not())
        return items[0] if len(items) == 1 else ("and", items)

    def p_not(self) -> Any:
        neg = False
        while self.peek() in ("!", "-not"):
            self.i += 1
            neg = not neg
        node = self.primary()
        return ("not", node) if neg else node

    def primary(self) -> Any:
        t = self.peek()
        if t is None:
            raise FindError("invalid expression")
        self.i += 1
        if t == "(":
            if self.peek() == ")":
                raise FindError("invalid expression; empty parentheses are not allowed.")
            node = self.p_or()
            if self.peek() != ")":
                raise FindError("invalid expression; expected a ')'")
            self.i += 1
            return node
        if t in _GLOBAL:
            args = self.toks[self.i : self.i + _GLOBAL[t]]
            if len(args) < _GLOBAL[t]:
                raise FindError(f"missing argument to `{t}'")
            self.i += _GLOBAL[t]
            self.ctx["global"][t] = args[0] if args else True
            return ("t", _ARG0["-true"])
        if t in _ARG0:
            return ("t", _ARG0[t])
        if t in _ARG1:
            arg = self.peek()
            if arg is None:
                raise FindError(f"missing argument to `{t}'")
            self.i += 1
            return ("t", _ARG1[t](arg, self.ctx))
        return self.action(t)

    def action(self, t: str) -> Any:
        ctx = self.ctx
        self.has_action = self.has_action or t not in ("-prune",)
        if t in ("-exec", "-execdir", "-ok", "-okdir"):
            j = self.i
            while (
                j < len(self.toks)
                and self.toks[j] != ";"
                and not (self.toks[j] == "+" and j > self.i and self.toks[j - 1] == "{}")
            ):
                j += 1
            if j >= len(self.toks) or j == self.i:
                raise FindError(f"missing argument to `{t}'")
            cmd, term = self.toks[self.i : j], self.toks[j]
            self.i = j + 1
            return ("exec", cmd, term, t.endswith("dir"))
        if t in ("-printf", "-fprintf"):
            if self.peek() is None:
                raise FindError(f"missing argument to `{t}'")
            fmt = self.toks[self.i]
            self.i += 1
            return ("out", _b_printf(fmt))
        simple = {
            "-print": lambda c: c.path + "\n",
            "-print0": lambda c: c.path + "\0",
            "-ls": None,
        }
        if t in simple and simple[t] is not None:
            return ("out", simple[t])
        if t in ("-delete", "-quit", "-prune"):
            if t == "-delete":
                ctx["global"]["-depth"] = True
            return (t,)
        if t.startswith("-"):
            raise FindError(f"unknown predicate `{t}'")
        raise FindError(f"paths must precede expression: `{t}'")


class Finder:
    def __init__(self, sh: Any, follow: bool) -> None:
        self.sh, self.follow = sh, follow
        self.out: list[tuple[int, bytes]] = []
        self.quit = False
        self.plus: dict[int, tuple[list[str], list[str]]] = {}
        self.status = 0

    def ev(self, node: Any, c: Ctx) -> bool:
        k = node[0]
        if k == "t":
            try:
                return bool(node[1](c))
            except OSError:
                return False
        if k == "and":
            return all(self.ev(n, c) for n in node[1])
        if k == "or":
            return any(self.ev(n, c) for n in node[1])
        if k == "not":
            return not self.ev(node[1], c)
        if k == "out":
            self.out.append((1, enc(node[1](c))))
            return True
        if k == "exec":
            return self.run_exec(node, c)
        if k == "-quit":
            self.quit = True
            return True
        if k == "-prune":
            c.prune = True
            return True
        if k == "-delete":
            try:
                if stat.S_ISDIR(c.lst().st_mode):
                    os.rmdir(c.full)
                else:
                    os.unlink(c.full)
            except OSError as e:
                self.out.append((2, enc(f"find: cannot delete '{c.path}': {e.strerror}\n")))
                self.status = 1
                return False
            return True
        return True

    def run_exec(self, node: Any, c: Ctx) -> bool:
        from .files import _drive

        _, cmd, term, indir = node
        path = "./" + c.base() if indir else c.path
        if term == "+":
            self.plus.setdefault(id(node), (cmd, []))[1].append(path)
            return True
        argv = [x.replace("{}", path) for x in cmd]
        sub = self.sh.fork()
        if indir:
            sub.cwd = os.path.dirname(c.full)
        res: list[int] = []
        for item in _drive(sub.run_argv(argv, Input(b"")), res):
            self.out.append(item)
        return res[0] == 0

    def flush_plus(self) -> Iterator[tuple[int, bytes]]:
        from .files import _drive

        for cmd, paths in self.plus.values():
            argv: list[str] = []
            for x in cmd[:-1]:
                argv.append(x)
            argv.extend(paths)
            res: list[int] = []
            yield from _drive(self.sh.fork().run_argv(argv, Input(b"")), res)
            if res[0]:
                self.status = 1
        self.plus.clear()


@command("find")
def find(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    follow = hflag = False
    while a and a[0] in ("-H", "-L", "-P", "-O3", "-D"):
        x = a.pop(0)
        follow, hflag = x == "-L", x == "-H"
    roots = []
    while a and not (a[0].startswith("-") and len(a[0]) > 1) and a[0] not in ("(", "!", ")"):
        roots.append(a.pop(0))
    if a and a[0] == "--":
        a.pop(0)
    ctx: dict[str, Any] = {"sh": sh, "follow": follow, "global": {}}
    parser = Expr(a, ctx)
    try:
        tree = parser.parse()
    except FindError as e:
        yield (2, enc(f"find: {e}\n"))
        return 1
    except (ValueError, re.error) as e:
        yield (2, enc(f"find: {e}\n"))
        return 1
    g = ctx["global"]
    if "-follow" in g:
        follow = True
    maxdepth = int(g.get("-maxdepth", 10**9))
    mindepth = int(g.get("-mindepth", 0))
    post = "-depth" in g or "-d" in g
    if tree is None:
        tree = ("t", _ARG0["-true"])
    if not parser.has_action:
        tree = ("and", [tree, ("out", lambda c: c.path + "\n")])
    f = Finder(sh, follow)
    for root in roots or ["."]:
        if f.quit:
            break
        if root == "":
            yield (2, b"find: '': No such file or directory\n")
            f.status = 1
            continue
        full = sh.resolve(root)
        if not os.path.lexists(full):
            yield (2, enc(f"find: '{root}': No such file or directory\n"))
            f.status = 1
            continue
        root_follow = follow or hflag
        yield from _walk(sh, f, tree, root, full, root_follow, follow, maxdepth, mindepth, post)
    yield from f.flush_plus()
    return f.status


def _walk(
    sh: Any,
    f: Finder,
    tree: Any,
    root: str,
    rfull: str,
    root_follow: bool,
    follow: bool,
    maxdepth: int,
    mindepth: int,
    post: bool,
) -> Iterator[tuple[int, bytes]]:
    # stack of (path, full, depth, visit-after-children?)
    stack: list[tuple[str, str, int, bool]] = [(root, rfull, 0, False)]
    seen: set[tuple[int, int]] = set()
    while stack and not f.quit:
        sh.budget.tick()
        path, full, depth, done = stack.pop()
        c = Ctx(path, full, depth, root, root_follow if depth == 0 else follow)
        if done:
            if depth >= mindepth:
                f.ev(tree, c)
            yield from f.out
            f.out.clear()
            continue
        try:
            s = c.st()
        except OSError as e:
            yield (2, enc(f"find: '{path}': {e.strerror}\n"))
            f.status = 1
            continue
        if c.follow and stat.S_ISLNK(c.lst().st_mode):
            try:
                os.stat(full)
            except OSError as e:
                if e.errno == 40:  # ELOOP
                    yield (2, enc(f"find: '{path}': {e.strerror}\n"))
                    f.status = 1
        isdir = stat.S_ISDIR(s.st_mode)
        if depth >= mindepth and not (post and isdir):
            f.ev(tree, c)
        yield from f.out
        f.out.clear()
        if not isdir or depth >= maxdepth or (c.prune and not post):
            continue
        key = (s.st_dev, s.st_ino)
        if c.follow and key in seen:
            yield (2, enc(f"find: File system loop detected; '{path}' is part of the same loop.\n"))
            continue
        seen.add(key)
        try:
            names = sorted(os.listdir(full))
        except OSError as e:
            yield (2, enc(f"find: '{path}': {e.strerror}\n"))
            f.status = 1
            names = []
        if post:
            stack.append((path, full, depth, True))
        base = path if path.endswith("/") else path + "/"
        for n in reversed(names):
            stack.append((base + n, os.path.join(full, n), depth + 1, False))
