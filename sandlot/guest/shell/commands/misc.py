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
from .util import dec, enc

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
        sh.budget.ticks += 255
        sh.budget.tick()
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
    if "-u" in args:
        yield (1, b"0\n")
    elif "-un" in args or "-nu" in args:
        yield (1, b"root\n")
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
    a = args[1:]
    n = None
    repl = None
    delim: str | None = None
    no_run_empty = False
    while a and a[0].startswith("-") and len(a[0]) > 1:
        x = a.pop(0)
        if x == "--":
            break
        if x.startswith("-n"):
            n = int(x[2:] or a.pop(0))
        elif x.startswith("-I"):
            repl = x[2:] or a.pop(0)
        elif x.startswith("-i"):
            repl = x[2:] or "{}"
        elif x in ("-0", "--null"):
            delim = "\0"
        elif x.startswith("-d"):
            delim = (x[2:] or a.pop(0)).replace("\\n", "\n").replace("\\t", "\t")
        elif x in ("-r", "--no-run-if-empty"):
            no_run_empty = True
        elif x.startswith("-L"):
            n = int(x[2:] or a.pop(0))
        elif x.startswith("-P"):
            if len(x) == 2:
                a.pop(0)
    cmd = a or ["echo"]
    data = dec(inp.read_all())
    if repl is not None:
        items = (
            [line for line in data.split("\n") if line.strip()]
            if delim is None
            else [x for x in data.split(delim) if x]
        )
    elif delim is not None:
        items = data.split(delim)
        if items and items[-1] in ("", "\n"):
            items.pop()
    else:
        items = []
        for m in re.finditer(r"""'([^']*)'|"([^"]*)"|((?:\\.|[^\s'"])+)""", data):
            if m.group(1) is not None:
                items.append(m.group(1))
            elif m.group(2) is not None:
                items.append(m.group(2))
            else:
                items.append(re.sub(r"\\(.)", r"\1", m.group(3)))
    batches: list[list[str]]
    if repl is not None:
        batches = [[c.replace(repl, it) for c in cmd] for it in items]
    else:
        if not items and no_run_empty:
            return 0
        size = n or max(1, len(items))
        batches = [cmd + items[i : i + size] for i in range(0, len(items), size)] or [list(cmd)]
    st = 0
    for argv in batches:
        res: list[int] = []
        yield from _drive(sh.fork().run_argv(argv, Input(b"")), res)
        if res and res[0] == 127:
            return 127
        if res and res[0]:
            st = 123
    return st


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


@command("timeout")
def timeout(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    while a and a[0].startswith("-"):
        a.pop(0)
    if len(a) < 2:
        yield (2, b"timeout: missing operand\n")
        return 125
    return (yield from sh.run_argv(a[1:], inp))


@command("clear", "sync")
def noop(sh: Any, args: list[str], inp: Input) -> Gen:
    return 0
    yield
