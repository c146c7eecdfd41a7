"""Environment, system-info and process-ish commands (env, xargs, sleep, date, expr, ...)."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from ..io import Gen, Input
from ..state import Var
from . import command
from .files import _drive
from .util import dec, enc, open_input

LINUX_ONLY = [
    "pip",
    "pip3",
    "apt",
    "apt-get",
    "curl",
    "wget",
    "git",
    "gcc",
    "cc",
    "g++",
    "make",
    "node",
    "npm",
    "npx",
    "docker",
    "ssh",
    "scp",
    "sudo",
    "cargo",
    "rustc",
    "go",
    "java",
    "javac",
    "ruby",
    "perl",
    "tar",
    "gzip",
    "gunzip",
    "zip",
    "unzip",
    "ps",
    "top",
    "kill",
    "pkill",
    "strace",
    "nc",
    "ping",
    "systemctl",
]


def _linux_only(sh: Any, args: list[str], inp: Input) -> Gen:
    yield (
        2,
        enc(
            f"{args[0]}: requires a Linux tier with subprocess support "
            '(requires={"subprocess"}); '
            f"not available in this in-process shell\n"
        ),
    )
    return 127


for _n in LINUX_ONLY:
    if _n != "kill":
        command(_n)(_linux_only)


@command("env")
def env(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    e = sh.env()
    clear = False
    while a and a[0].startswith("-") and a[0] != "-":
        x = a.pop(0)
        if x in ("-i", "--ignore-environment"):
            clear = True
        elif x == "-u" and a:
            e.pop(a.pop(0), None)
        elif x == "--":
            break
    if a and a[0] == "-":
        clear = True
        a.pop(0)
    if clear:
        e = {}
    while a and "=" in a[0] and not a[0].startswith("="):
        k, _, v = a.pop(0).partition("=")
        e[k] = v
    if not a:
        yield (1, enc("".join(f"{k}={v}\n" for k, v in e.items())))
        return 0
    sub = sh.fork()
    scope = {k: Var(v, "x") for k, v in e.items()}
    sub.scopes = [scope]
    return (yield from sub.run_argv(a, inp))


@command("printenv")
def printenv(sh: Any, args: list[str], inp: Input) -> Gen:
    e = sh.env()
    if len(args) == 1:
        yield (1, enc("".join(f"{k}={v}\n" for k, v in e.items())))
        return 0
    st = 0
    for n in args[1:]:
        if n in e:
            yield (1, enc(e[n] + "\n"))
        else:
            st = 1
    return st


@command("sleep")
def sleep(sh: Any, args: list[str], inp: Input) -> Gen:
    total = 0.0
    for a in args[1:]:
        m = re.fullmatch(r"(\d*\.?\d+)([smhd]?)", a)
        if not m:
            yield (2, enc(f"sleep: invalid time interval '{a}'\n"))
            return 1
        total += float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    end = time.monotonic() + total
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(left, 0.05))
        sh.budget.tick_many(256)  # checks the deadline (a `timeout`'s too) every time
    return 0


@command("uname")
def uname(sh: Any, args: list[str], inp: Input) -> Gen:
    info = {
        "s": "Linux",
        "n": "sandlot",
        "r": "6.0.0-wasi",
        "v": "#1",
        "m": "wasm32",
        "o": "GNU/Linux",
    }
    flags = "".join(a[1:] for a in args[1:] if a.startswith("-"))
    if "a" in flags:
        flags = "snrvmo"
    keys = [k for k in "snrvmo" if k in flags] or ["s"]
    yield (1, enc(" ".join(info[k] for k in keys) + "\n"))
    return 0


@command("whoami")
def whoami(sh: Any, args: list[str], inp: Input) -> Gen:
    yield (1, enc((sh.get_str("USER") or "root") + "\n"))
    return 0


@command("hostname")
def hostname(sh: Any, args: list[str], inp: Input) -> Gen:
    yield (1, b"sandlot\n")
    return 0


@command("nproc")
def nproc(sh: Any, args: list[str], inp: Input) -> Gen:
    yield (1, enc(f"{os.cpu_count() or 1}\n"))
    return 0


@command("id")
def id_(sh: Any, args: list[str], inp: Input) -> Gen:
    flags = "".join(a[1:] for a in args[1:] if a.startswith("-") and not a.startswith("--"))
    if any(f in flags for f in "ugG"):  # -u -g -G, with -n names and -r (all root here)
        yield (1, b"root\n" if "n" in flags else b"0\n")
    else:
        yield (1, b"uid=0(root) gid=0(root) groups=0(root)\n")
    return 0


@command("which")
def which(sh: Any, args: list[str], inp: Input) -> Gen:
    from . import COMMANDS

    st = 0
    for n in args[1:]:
        if (n in COMMANDS and n not in LINUX_ONLY) or (
            n in ("python", "python3") and sh.python_runner
        ):
            yield (1, enc(f"/usr/bin/{n}\n"))
        else:
            st = 1
    return st


@command("true")
def true_(sh: Any, args: list[str], inp: Input) -> Gen:
    return 0
    yield


@command("false")
def false_(sh: Any, args: list[str], inp: Input) -> Gen:
    return 1
    yield


@command("xargs")
def xargs(sh: Any, args: list[str], inp: Input) -> Gen:
    """GNU findutils xargs: quoting, -0/-d, -a, -E, -I/-i, -L/-l, -n, -s, -x, -r, -t, -P,
    --process-slot-var; exit 123/124/125/126/127 as GNU sets them."""
    a = args[1:]
    n: int | None = None
    lines: int | None = None
    repl: str | None = None
    delim: str | None = None
    eof: str | None = None
    arg_file: str | None = None
    max_chars: int | None = None
    no_run_empty = verbose = exit_on_size = False
    slot_var: str | None = None
    longs = {
        "null": "0",
        "arg-file": "a=",
        "delimiter": "d=",
        "eof": "E?",
        "replace": "I?",
        "max-lines": "L?",
        "max-args": "n=",
        "max-procs": "P=",
        "max-chars": "s=",
        "no-run-if-empty": "r",
        "verbose": "t",
        "exit": "x",
        "interactive": "p",
        "process-slot-var": "V=",
        "open-tty": "o",
    }

    def bad(msg: str) -> tuple[int, bytes]:
        return (2, enc(f"xargs: {msg}\nTry 'xargs --help' for more information.\n"))

    def num(v: str, opt: str, low: int) -> int:
        if not v.lstrip("-").isdigit():
            raise ValueError(f'invalid number "{v}" for -{opt} option')
        x = int(v)
        if x < low:
            raise ValueError(f"value {x} for -{opt} option should be >= {low}")
        return x

    try:
        while a and a[0].startswith("-") and len(a[0]) > 1:
            x = a.pop(0)
            if x == "--":
                break
            pairs: list[tuple[str, str | None]] = []
            if x.startswith("--"):
                name, eq, val = x[2:].partition("=")
                key = longs.get(name) or next(
                    (v for k, v in longs.items() if k.startswith(name)), None
                )
                if key is None:
                    yield bad(f"unrecognized option '{x}'")
                    return 1
                if key.endswith("="):
                    if not eq:
                        if not a:
                            yield bad(f"option '{x}' requires an argument")
                            return 1
                        val = a.pop(0)
                    pairs.append((key[0], val))
                elif key.endswith("?"):
                    pairs.append((key[0], val if eq else None))
                else:
                    pairs.append((key, None))
            else:
                j = 1
                while j < len(x):
                    c = x[j]
                    j += 1
                    if c in "adnPsIEV":  # required argument
                        val = x[j:]
                        if not val:
                            if not a:
                                yield bad(f"option requires an argument -- '{c}'")
                                return 1
                            val = a.pop(0)
                        pairs.append((c, val))
                        break
                    if c in "eilL" and c != "L":  # optional argument, attached only
                        pairs.append((c, x[j:] or None))
                        break
                    if c == "L":
                        val = x[j:]
                        if not val:
                            if not a:
                                yield bad("option requires an argument -- 'L'")
                                return 1
                            val = a.pop(0)
                        pairs.append(("L", val))
                        break
                    if c not in "0rtxpo":
                        yield bad(f"invalid option -- '{c}'")
                        return 1
                    pairs.append((c, None))
            for c, val in pairs:
                if c == "0":
                    delim = "\0"
                elif c == "a":
                    arg_file = val
                elif c == "d":
                    delim = _unescape_delim(val or "")
                elif c in ("E", "e"):
                    eof = val or None
                elif c in ("I", "i"):
                    repl = val if val is not None else "{}"
                    lines, n = 1, None
                elif c in ("L", "l"):
                    lines = num(val, c, 1) if val is not None else 1
                    n = None
                    repl = None
                elif c == "n":
                    n = num(val or "", "n", 1)
                    lines = None if repl is None else lines
                elif c == "P":
                    num(val or "", "P", 0)
                elif c == "s":
                    max_chars = num(val or "", "s", 1)
                elif c == "r":
                    no_run_empty = True
                elif c == "t":
                    verbose = True
                elif c == "x":
                    exit_on_size = True
                elif c == "V":
                    slot_var = val
    except ValueError as e:
        yield (2, enc(f"xargs: {e}\n"))
        return 1
    cmd = a or ["echo"]
    cmd_in = Input(b"")
    if arg_file is not None:
        try:
            src = open_input(sh, arg_file, inp)
        except OSError as e:
            yield (2, enc(f"xargs: {e}\n"))
            return 1
        data = dec(src.read_all())
        cmd_in = inp
    else:
        data = dec(inp.read_all())
    # items, each with whether it ended a logical line (for -L)
    items: list[tuple[str, bool]] = []
    if delim is not None:
        parts = data.split(delim)
        if parts and parts[-1] == "":
            parts.pop()
        items = [(p, True) for p in parts]
    elif repl is not None:
        for line in data.split("\n"):
            line = line.lstrip(" \t")
            if line:
                items.append((line, True))
    else:
        for line in data.split("\n"):
            words = _xargs_words(line)
            if words is None:
                yield (
                    2,
                    b"xargs: unmatched quote; by default quotes are special to xargs "
                    b"unless you use the -0 option\n",
                )
                return 1
            cont = line.endswith((" ", "\t"))
            for k, w in enumerate(words):
                items.append((w, k == len(words) - 1 and not cont))
    if eof is not None:
        for k, (w, _) in enumerate(items):
            if w == eof:
                items = items[:k]
                break
    limit = max_chars if max_chars is not None else 131072
    base = sum(len(c) + 1 for c in cmd)
    if repl is None and base > limit:
        yield (2, b"xargs: argument list too long\n")
        return 1
    batches: list[list[str]] = []
    too_long = False
    if repl is not None:
        for w, _ in items:
            batches.append([c.replace(repl, w) for c in cmd])
    else:
        cur: list[str] = []
        size = base
        nlines = 0
        for w, eol in items:
            need = len(w) + 1
            if cur and (size + need > limit or (n is not None and len(cur) >= n)):
                batches.append(cmd + cur)
                cur, size, nlines = [], base, 0
            if size + need > limit:
                too_long = True
                break
            cur.append(w)
            size += need
            if eol and lines is not None:
                nlines += 1
                if nlines >= lines:
                    batches.append(cmd + cur)
                    cur, size, nlines = [], base, 0
        if cur:
            batches.append(cmd + cur)
        if exit_on_size and too_long:
            batches = []
        if not items and not no_run_empty:
            batches = [list(cmd)]
    st = 0
    for argv in batches:
        sh.budget.tick()
        if verbose:
            yield (2, enc(" ".join(argv) + " \n"))
        res: list[int] = []
        temp = {slot_var: Var("0", "x")} if slot_var else None
        yield from _drive(sh.fork().run_argv(argv, cmd_in, temp), res)
        code = res[0] if res else 0
        if code == 255:
            yield (2, enc(f"xargs: {argv[0]}: exited with status 255; aborting\n"))
            return 124
        if code in (126, 127):
            return code
        if code:
            st = 123
    if too_long:
        yield (2, b"xargs: argument line too long\n")
        return 1
    return st


def _unescape_delim(v: str) -> str:
    esc = {"n": "\n", "t": "\t", "0": "\0", "\\": "\\", "r": "\r", "a": "\a", "b": "\b",
           "f": "\f", "v": "\v"}  # fmt: skip
    if len(v) >= 2 and v[0] == "\\":
        if v[1] == "x":
            return chr(int(v[2:], 16))
        if v[1:].isdigit() and len(v) > 2:
            return chr(int(v[1:], 8))
        return esc.get(v[1], v[1])
    return v[:1]


def _xargs_words(line: str) -> list[str] | None:
    """One input line's arguments: blanks separate, quotes and backslash protect."""
    words: list[str] = []
    cur: list[str] = []
    have = False
    i = 0
    while i < len(line):
        c = line[i]
        if c in " \t":
            if have:
                words.append("".join(cur))
                cur, have = [], False
            i += 1
            continue
        if c in "'\"":
            j = line.find(c, i + 1)
            if j < 0:
                return None
            cur.append(line[i + 1 : j])
            have = True
            i = j + 1
            continue
        if c == "\\" and i + 1 < len(line):
            cur.append(line[i + 1])
            have = True
            i += 2
            continue
        cur.append(c)
        have = True
        i += 1
    if have:
        words.append("".join(cur))
    return words


@command("expr")
def expr(sh: Any, args: list[str], inp: Input) -> Gen:
    toks = args[1:]
    pos = [0]

    def peek() -> str | None:
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take() -> str:
        pos[0] += 1
        return toks[pos[0] - 1]

    def num(v: str) -> int:
        return int(v)

    def prim() -> str:
        t = take()
        if t == "(":
            v = or_()
            take()
            return v
        if t == "length":
            return str(len(prim()))
        if t == "substr":
            s, p, n = prim(), int(prim()), int(prim())
            return s[p - 1 : p - 1 + n]
        if t == "index":
            s, chars = prim(), prim()
            return str(min([s.find(c) + 1 for c in chars if c in s] or [0]))
        if t == "match":
            s, r = prim(), prim()
            return match(s, r)
        return t

    def match(s: str, r: str) -> str:
        rx = r.replace(r"\(", "(").replace(r"\)", ")") if True else r
        m = re.match(rx, s)
        if m is None:
            return "" if "(" in rx else "0"
        return m.group(1) if m.groups() else str(m.end())

    def colon() -> str:
        v = prim()
        while peek() == ":":
            take()
            v = match(v, prim())
        return v

    def mul() -> str:
        v = colon()
        while peek() in ("*", "/", "%"):
            op = take()
            r = colon()
            a, b = num(v), num(r)
            if op != "*" and b == 0:
                raise ZeroDivisionError
            v = str(a * b if op == "*" else int(a / b) if op == "/" else a - int(a / b) * b)
        return v

    def add() -> str:
        v = mul()
        while peek() in ("+", "-"):
            op = take()
            r = mul()
            v = str(num(v) + num(r) if op == "+" else num(v) - num(r))
        return v

    def cmp() -> str:
        v = add()
        while peek() in ("=", "==", "!=", "<", "<=", ">", ">="):
            op = take()
            r = add()
            try:
                a: Any = int(v)
                b: Any = int(r)
            except ValueError:
                a, b = v, r
            v = str(
                int(
                    {
                        "=": a == b,
                        "==": a == b,
                        "!=": a != b,
                        "<": a < b,
                        "<=": a <= b,
                        ">": a > b,
                        ">=": a >= b,
                    }[op]
                )
            )
        return v

    def and_() -> str:
        v = cmp()
        while peek() == "&":
            take()
            r = cmp()
            v = v if v not in ("", "0") and r not in ("", "0") else "0"
        return v

    def or_() -> str:
        v = and_()
        while peek() == "|":
            take()
            r = and_()
            v = v if v not in ("", "0") else r
        return v

    try:
        v = or_()
    except ZeroDivisionError:
        yield (2, b"expr: division by zero\n")
        return 2
    except (ValueError, IndexError):
        yield (2, b"expr: syntax error\n")
        return 2
    yield (1, enc(v + "\n"))
    return 1 if v in ("", "0") else 0


_DURATION = re.compile(r"(\d*\.?\d+(?:[eE][-+]?\d+)?)([smhd]?)")


@command("timeout")
def timeout(sh: Any, args: list[str], inp: Input) -> Gen:
    """Run a command under a deadline (the shell's budget, so sleeps and loops end there):
    124 when it ran out (128+9 for -s KILL, 128+signal with --preserve-status)."""
    from ..jobs import SIGNALS
    from ..state import Budget, BudgetExceeded

    a = args[1:]
    sig, preserve, verbose = "TERM", False, False
    usage = b"Try 'timeout --help' for more information.\n"
    while a and a[0].startswith("-") and a[0] != "-":
        o = a.pop(0)
        if o == "--":
            break
        name, _, val = o.partition("=")
        if name in ("-s", "--signal", "-k", "--kill-after") or (
            o[:2] in ("-s", "-k") and not o.startswith("--")
        ):
            if name in ("-s", "-k", "--signal", "--kill-after") and not val:
                if not a:
                    yield (2, enc(f"timeout: option requires an argument -- '{o[1:]}'\n") + usage)
                    return 125
                val = a.pop(0)
            elif not val:
                val = o[2:]
            if name in ("--signal",) or (o[:2] == "-s" and name != "--kill-after"):
                sig = val.upper().removeprefix("SIG")
        elif o in ("--preserve-status",):
            preserve = True
        elif o in ("-v", "--verbose"):
            verbose = True
        elif o not in ("-f", "--foreground"):
            yield (2, enc(f"timeout: invalid option -- '{o.lstrip('-')}'\n") + usage)
            return 125
    signum = int(sig) if sig.isdigit() else SIGNALS.get(sig)
    if signum is None or signum > 64:
        yield (2, enc(f"timeout: \u2018{sig}\u2019: invalid signal\n") + usage)
        return 125
    if len(a) < 2:
        yield (2, (b"timeout: missing operand\n" if not a else b"") + usage)
        return 125
    m = _DURATION.fullmatch(a[0])
    if not m:
        yield (2, enc(f"timeout: invalid time interval \u2018{a[0]}\u2019\n") + usage)
        return 125
    secs = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if secs <= 0:
        return (yield from sh.run_argv(a[1:], inp))
    outer = sh.budget
    mine = Budget(secs)
    if outer.deadline is not None and outer.deadline < mine.deadline:  # type: ignore[operator]
        mine.deadline = outer.deadline
    mine.ticks, mine.jobs = outer.ticks, outer.jobs
    sh.budget = mine
    try:
        return (yield from sh.run_argv(a[1:], inp))
    except BudgetExceeded:
        if outer.deadline is not None and time.monotonic() > outer.deadline:
            raise  # the whole run's deadline, not this command's
    finally:
        sh.budget = outer
        outer.ticks, outer.jobs = mine.ticks, mine.jobs
    if verbose:
        name = next((k for k, v in SIGNALS.items() if v == signum), str(signum))
        yield (2, enc(f"timeout: sending signal {name} to command \u2018{a[1]}\u2019\n"))
    return 128 + signum if preserve or signum == 9 else 124


@command("clear", "sync")
def noop(sh: Any, args: list[str], inp: Input) -> Gen:
    return 0
    yield
