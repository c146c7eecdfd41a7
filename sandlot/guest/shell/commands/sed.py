"""sed: addresses, ranges, s///flags, labels, -n -i -E -s -z.

Commands: d p q Q a i c y = n N D P h H g G x b t T.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..io import Gen, Input
from . import command
from .grep import bre_to_python, ere_to_python
from .util import UsageError, dec, enc, open_input


class SedError(Exception):
    pass


@dataclass
class Cmd:
    a1: Any = None
    a2: Any = None
    neg: bool = False
    name: str = ""
    arg: Any = None
    block_end: int = 0
    in_range: bool = False
    range_end: int = 0
    bare: bool = False


@dataclass
class Script:
    cmds: list[Cmd] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)


def _regex(p: str, ere: bool, flags: str = "") -> re.Pattern[str]:
    r = ere_to_python(p) if ere else bre_to_python(p)
    fl = 0
    if "I" in flags or "i" in flags:
        fl |= re.IGNORECASE
    if "M" in flags or "m" in flags:
        fl |= re.MULTILINE
    return re.compile(r, fl)


class Parser:
    def __init__(self, text: str, ere: bool) -> None:
        self.s = text
        self.i = 0
        self.ere = ere
        self.last_rx: re.Pattern[str] | None = None

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def ws(self) -> None:
        while self.peek() in (" ", "\t"):
            self.i += 1

    def delimited(self, d: str) -> str:
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\" and self.i + 1 < len(self.s):
                n = self.s[self.i + 1]
                if n == d:
                    out.append(d if d not in ".*[]^$" else "\\" + d)
                elif n == "n":
                    out.append("\n")
                else:
                    out.append(c + n)
                self.i += 2
                continue
            if c == "[" and d != "[":
                j = self.s.find(
                    "]", self.i + 2 if self.s[self.i + 1 : self.i + 2] in ("]", "^") else self.i + 1
                )
                if j > 0:
                    # GNU sed turns \t and \n into the characters even inside brackets
                    out.append(self.s[self.i : j + 1].replace("\\t", "\t").replace("\\n", "\n"))
                    self.i = j + 1
                    continue
            if c == d:
                self.i += 1
                return "".join(out)
            out.append(c)
            self.i += 1
        raise SedError("unterminated address regex")

    def address(self) -> Any:
        c = self.peek()
        if c.isdigit():
            j = self.i
            while self.peek().isdigit():
                self.i += 1
            n = int(self.s[j : self.i])
            if self.peek() == "~":
                self.i += 1
                k = self.i
                while self.peek().isdigit():
                    self.i += 1
                return ("step", n, int(self.s[k : self.i] or 0))
            return ("line", n)
        if c == "$":
            self.i += 1
            return ("last",)
        if c == "/" or c == "\\":
            if c == "\\":
                self.i += 1
            d = self.s[self.i]
            self.i += 1
            pat = self.delimited(d)
            flags = ""
            while self.peek() in ("I", "M"):
                flags += self.peek()
                self.i += 1
            rx = _regex(pat, self.ere, flags) if pat else self.last_rx
            if pat:
                self.last_rx = rx
            return ("re", rx)
        return None

    def parse(self) -> Script:
        sc = Script()
        stack: list[int] = []
        while True:
            while self.peek() in (" ", "\t", "\n", ";"):
                self.i += 1
            if self.i >= len(self.s):
                break
            if self.peek() == "#":
                while self.peek() not in ("\n", ""):
                    self.i += 1
                continue
            cmd = Cmd()
            cmd.a1 = self.address()
            if cmd.a1 is not None and self.peek() == ",":
                self.i += 1
                self.ws()
                if self.peek() == "+":
                    self.i += 1
                    j = self.i
                    while self.peek().isdigit():
                        self.i += 1
                    cmd.a2 = ("plus", int(self.s[j : self.i]))
                elif self.peek() == "~":
                    self.i += 1
                    j = self.i
                    while self.peek().isdigit():
                        self.i += 1
                    cmd.a2 = ("mult", int(self.s[j : self.i]))
                else:
                    cmd.a2 = self.address()
            self.ws()
            while self.peek() == "!":
                cmd.neg = True
                self.i += 1
                self.ws()
            c = self.peek()
            self.i += 1
            cmd.name = c
            if c == "{":
                stack.append(len(sc.cmds))
            elif c == "}":
                if not stack:
                    raise SedError("unexpected `}'")
                sc.cmds[stack.pop()].block_end = len(sc.cmds)
            elif c in "aic":
                self.ws()
                bare = False  # `a\` ending the script: no text, not even a newline (GNU)
                if self.peek() == "\\":
                    self.i += 1
                    bare = self.i >= len(self.s)
                    if self.peek() == "\n":
                        self.i += 1
                text = []
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    ch = self.s[self.i]
                    if ch == "\\" and self.i + 1 < len(self.s):
                        d = self.s[self.i + 1]  # \t \n … are C escapes, others the char
                        text.append(_TEXT_ESC.get(d, d))
                        self.i += 2
                        continue
                    text.append(ch)
                    self.i += 1
                cmd.arg = "".join(text)
                cmd.bare = bare
            elif c in ":btT":
                self.ws()
                j = self.i
                # a jump's label also ends at `}` (GNU: `/x/{:a;n;ba}`)
                ends = "\n;" if c == ":" else "\n;}"
                while self.i < len(self.s) and self.s[self.i] not in ends:
                    self.i += 1
                label = self.s[j : self.i].strip()
                cmd.arg = label
                if c == ":":
                    sc.labels[label] = len(sc.cmds)
            elif c in "rwRW":
                self.ws()
                j = self.i
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
                cmd.arg = self.s[j : self.i]
            elif c == "s":
                d = self.s[self.i]
                self.i += 1
                pat = self.delimited(d)
                rep = self.delimited(d)
                flags = ""
                while self.peek() and self.peek() in "gpiIme0123456789w":
                    if self.peek() == "w":
                        break
                    flags += self.peek()
                    self.i += 1
                rx = _regex(pat, self.ere, flags) if pat else self.last_rx
                if pat:
                    self.last_rx = rx
                cnt = re.search(r"\d+", flags)
                nth = int(cnt.group(0)) if cnt else 1
                # s/text/text/[g]: plain str.replace (a megabyte of s/x/y/g in C, not a loop)
                plain = (
                    pat
                    if pat
                    and nth == 1
                    and not _SPECIAL.intersection(pat + rep)
                    and "I" not in flags
                    and "i" not in flags
                    else None
                )
                cmd.arg = (rx, rep, "g" in flags, nth, "p" in flags, plain)
            elif c == "y":
                d = self.s[self.i]
                self.i += 1
                a, b = self.delimited(d), self.delimited(d)
                if len(a) != len(b):
                    raise SedError("strings for `y' command are different lengths")
                cmd.arg = str.maketrans(a, b)
            elif c in "qQlL":
                self.ws()
                j = self.i
                while self.peek().isdigit():
                    self.i += 1
                digits = self.s[j : self.i]
                cmd.arg = int(digits) if digits else None if c in "lL" else 0
            elif c in "=dDpPnNhHgGxzF":
                pass
            else:
                raise SedError(f"unknown command: `{c}'")
            sc.cmds.append(cmd)
        if stack:
            raise SedError("unmatched `{'")
        return sc


def _expand_rep(rep: str, m: re.Match[str]) -> str:
    out = []
    i = 0
    case = ""
    one = ""

    def put(s: str) -> None:
        nonlocal one
        if one:
            s = (s[:1].upper() if one == "u" else s[:1].lower()) + s[1:]
            one = "" if s else one
        if case == "U":
            s = s.upper()
        elif case == "L":
            s = s.lower()
        out.append(s)

    while i < len(rep):
        c = rep[i]
        if c == "\\" and i + 1 < len(rep):
            d = rep[i + 1]
            i += 2
            if d.isdigit():
                put(m.group(int(d)) or "")
            elif d == "n":
                put("\n")
            elif d == "t":
                put("\t")
            elif d in "UL":
                case = d
            elif d == "E":
                case = ""
            elif d in "ul":
                one = d
            else:
                put(d)
            continue
        if c == "&":
            put(m.group(0))
        else:
            put(c)
        i += 1
    return "".join(out)


class Runner:
    def __init__(self, sc: Script, quiet: bool, sh: Any, nl: str = "\n", wrap: int = 70) -> None:
        self.sc = sc
        self.quiet = quiet
        self.sh = sh
        self.nl = nl  # the line delimiter: "\0" under -z (N, G, H, D, P and output use it)
        self.wrap = wrap  # `l`'s line length (-l N)
        self.hold = ""
        self.out: list[str] = []
        self.quit: int | None = None

    def matches(self, addr: Any, line: str, n: int, last: bool) -> bool:
        k = addr[0]
        if k == "line":
            return n == addr[1]
        if k == "last":
            return last
        if k == "step":
            return (n >= addr[1] and (n - addr[1]) % addr[2] == 0) if addr[2] else n == addr[1]
        return addr[1].search(line) is not None

    def selected(self, c: Cmd, line: str, n: int, last: bool) -> bool:
        if c.a1 is None:
            r = True
        elif c.a2 is None:
            r = self.matches(c.a1, line, n, last)
        elif c.in_range:
            k = c.a2[0]
            if k == "line":
                end = n >= c.a2[1]
                r = True if n <= c.a2[1] else False
                if n > c.a2[1]:
                    c.in_range = False
                    r = False
                    if self.matches(c.a1, line, n, last):
                        return (
                            self.selected(c, line, n, last) != c.neg
                            if False
                            else (self._start(c, line, n, last))
                        )
                elif end:
                    c.in_range = False
            elif k == "plus":
                r = True
                if n >= c.range_end:
                    c.in_range = False
            elif k == "mult":
                r = True
                if c.a2[1] <= 0 or n % c.a2[1] == 0:
                    c.in_range = False
            else:
                r = True
                if self.matches(c.a2, line, n, last):
                    c.in_range = False
        else:
            r = self._start(c, line, n, last)
        return r != c.neg

    def _start(self, c: Cmd, line: str, n: int, last: bool) -> bool:
        if not self.matches(c.a1, line, n, last):
            return False
        k = c.a2[0]
        if k == "line":
            c.in_range = c.a2[1] > n
        elif k == "plus":
            c.range_end = n + c.a2[1]
            c.in_range = c.a2[1] > 0
        elif k == "mult":
            c.in_range = c.a2[1] > 0 and n % c.a2[1] != 0
        else:
            c.in_range = True
        return True

    def run(self, lines: Any) -> Any:
        """Generator over output strings; lines is an iterator of (line, is_last)."""
        it = iter(lines)
        n = 0
        cmds = self.sc.cmds
        nl = self.nl
        pending: str | None = None
        last = False
        while True:
            if pending is None:
                got = next(it, None)
                if got is None:
                    return
                ps, last = got
                n += 1
            else:  # D kept a rest: a new cycle on it, reading nothing
                ps, pending = pending, None
            append: list[str] = []
            pc = 0
            tflag = False
            deleted = False
            restart = False
            while pc < len(cmds):
                self.sh.budget.tick()
                c = cmds[pc]
                if c.name == "}" or c.name == ":":
                    pc += 1
                    continue
                if not self.selected(c, ps, n, last):
                    pc = c.block_end + 1 if c.name == "{" else pc + 1
                    continue
                nm = c.name
                pc += 1
                if nm == "{":
                    continue
                if nm == "s":
                    rx, rep, g, nth, pflag, plain = c.arg
                    if plain is not None:
                        if plain in ps:
                            ps = ps.replace(plain, rep) if g else ps.replace(plain, rep, 1)
                            tflag = True
                            if pflag:
                                yield ps + nl
                        continue
                    count = 0
                    res = []
                    pos = 0
                    done = False
                    prev_end = -1
                    for m in rx.finditer(ps):
                        if m.start() == m.end() == prev_end:
                            continue  # no empty match right after a match (GNU, POSIX)
                        prev_end = m.end()
                        count += 1
                        if count < nth:
                            continue
                        res.append(ps[pos : m.start()])
                        res.append(_expand_rep(rep, m))
                        pos = m.end()
                        done = True
                        if not g:
                            break
                    if done:
                        res.append(ps[pos:])
                        ps = "".join(res)
                        tflag = True
                        if pflag:
                            yield ps + nl
                elif nm == "d":
                    deleted = True
                    break
                elif nm == "D":
                    if nl in ps:
                        ps = ps.split(nl, 1)[1]
                        restart = True
                    deleted = True
                    break
                elif nm == "p":
                    yield ps + nl
                elif nm == "P":
                    yield ps.split(nl, 1)[0] + nl
                elif nm == "=":
                    yield f"{n}{nl}"
                elif nm == "a":
                    append.append(_Raw("" if c.bare else c.arg + "\n"))
                elif nm == "i":
                    yield _Raw(c.arg + nl)  # text: never loses its newline
                elif nm == "c":
                    if c.a2 is None or not c.in_range:
                        yield _Raw(c.arg + nl)  # text: never loses its newline
                    deleted = True
                    break
                elif nm == "y":
                    ps = ps.translate(c.arg)
                elif nm == "h":
                    self.hold = ps
                elif nm == "H":
                    self.hold += nl + ps
                elif nm == "g":
                    ps = self.hold
                elif nm == "G":
                    ps += nl + self.hold
                elif nm == "x":
                    ps, self.hold = self.hold, ps
                elif nm == "z":
                    ps = ""
                elif nm == "l":
                    yield _Raw(self.escaped(ps, self.wrap if c.arg is None else c.arg) + nl)
                elif nm in "nN":
                    nxt = next(it, None)
                    if nxt is None:
                        if nm == "N" and False:
                            pass
                        if not self.quiet:
                            yield ps + nl
                        yield from append
                        return
                    if nm == "n" and not self.quiet:
                        yield ps + nl
                    yield from append  # reading the next line writes what `a` and `r` queued
                    append = []
                    ps = nxt[0] if nm == "n" else ps + nl + nxt[0]
                    last = nxt[1]
                    n += 1
                elif nm in "bt" or nm == "T":
                    jump = nm == "b" or (nm == "t" and tflag) or (nm == "T" and not tflag)
                    if nm in "tT" and jump is True and nm == "t":
                        tflag = False
                    if jump:
                        if c.arg:
                            if c.arg not in self.sc.labels:
                                raise SedError(f"can't find label for jump to `{c.arg}'")
                            pc = self.sc.labels[c.arg]
                        else:
                            pc = len(cmds)
                elif nm in "qQ":
                    if nm == "q" and not self.quiet:
                        yield ps + nl
                    yield from append
                    self.quit = c.arg
                    return
                elif nm == "r":
                    try:
                        with open(
                            self.sh.resolve(c.arg), encoding="utf-8", errors="surrogateescape"
                        ) as f:
                            append.append(_Raw(f.read()))
                    except OSError:
                        pass
                elif nm == "w":
                    with open(
                        self.sh.resolve(c.arg), "a", encoding="utf-8", errors="surrogateescape"
                    ) as f:
                        f.write(ps + nl)
            if not deleted and not self.quiet:
                yield ps + nl
            yield from append
            if restart:
                pending = ps

    def escaped(self, ps: str, width: int) -> str:
        """`l`: C escapes, other unprintable bytes in octal, lines cut at width with `\\`."""
        out: list[str] = []
        col = 0
        for b in ps.encode("utf-8", "surrogateescape"):
            ch = chr(b)
            o = _L_ESC.get(ch) or (ch if 32 <= b < 127 else f"\\{b:03o}")
            if width > 1 and col + len(o) > width - 1 or width == 1:
                out.append("\\\n")
                col = 0
            out.append(o)
            col += len(o)
        return "".join(out) + "$"


def _lines_with_last(src: Input, sep: bytes, eol: list[bool] | None = None) -> Any:
    """(line, is_last) pairs; eol[0] turns False once a last line without `sep` is read."""
    prev: bytes | None = None
    while True:
        line = src.readline(sep)
        if not line:
            break
        if prev is not None:
            if eol is not None:
                eol[0] = True
            yield dec(prev[: -len(sep)] if prev.endswith(sep) else prev), False
        prev = line
    if prev is not None:
        if eol is not None:
            eol[0] = prev.endswith(sep)
        yield dec(prev[: -len(sep)] if prev.endswith(sep) else prev), True


_L_ESC = {
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


_SPECIAL = frozenset(".[]*^$\\+?(){}|&\n")
_TEXT_ESC = {"t": "\t", "n": "\n", "a": "\a", "f": "\f", "v": "\v", "r": "\r"}


class _Raw(str):
    """Appended text (`a`, `r`): written as it is, never losing its newline."""


def _keep_missing_newline(chunks: Any, eol: list[bool], nl: str = "\n") -> Any:
    """GNU sed writes no newline after a last input line that had none (added back only if
    more output follows)."""
    pending = False
    for chunk in chunks:
        raw = type(chunk) is _Raw
        if pending:
            chunk = nl + chunk
            pending = False
        if not eol[0] and chunk.endswith(nl) and not raw:
            chunk = chunk[:-1]
            pending = True
        yield chunk


@command("sed")
def sed(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    scripts: list[str] = []
    files: list[str] = []
    quiet = inplace = ere = nul = separate = False
    suffix = ""
    wrap = 70
    i = 0
    try:
        while i < len(a):
            x = a[i]
            i += 1
            if x == "--":
                files.extend(a[i:])
                break
            if x.startswith("--"):
                if x in ("--quiet", "--silent"):
                    quiet = True
                elif x in ("--regexp-extended",):
                    ere = True
                elif x.startswith("--in-place"):
                    inplace = True
                    suffix = x.partition("=")[2]
                elif x.startswith("--expression"):
                    scripts.append(x.partition("=")[2] or a[i])
                    i += 0 if "=" in x else 1
                elif x == "--separate":
                    separate = True
                elif x.startswith("--line-length"):
                    wrap = int(x.partition("=")[2] or a[i])
                    i += 0 if "=" in x else 1
                else:
                    raise UsageError(f"unknown option -- '{x}'")
                continue
            if x.startswith("-") and len(x) > 1:
                j = 1
                while j < len(x):
                    c = x[j]
                    if c == "n":
                        quiet = True
                    elif c in "Er":
                        ere = True
                    elif c == "s":
                        separate = True
                    elif c == "l":
                        wrap = int(x[j + 1 :] or a[i])
                        i += 0 if x[j + 1 :] else 1
                        break
                    elif c == "z":
                        nul = True
                    elif c == "u":
                        pass
                    elif c == "i":
                        inplace = True
                        suffix = x[j + 1 :]
                        break
                    elif c in "ef":
                        v = x[j + 1 :] or a[i]
                        if not x[j + 1 :]:
                            i += 1
                        if c == "e":
                            scripts.append(v)
                        else:
                            scripts.append(dec(open_input(sh, v, inp).read_all()).rstrip("\n"))
                        break
                    else:
                        raise UsageError(f"invalid option -- '{c}'")
                    j += 1
                continue
            if (
                not scripts
                and not any(s is not None for s in [])
                and not _has_script(scripts, files, a, i)
            ):
                scripts.append(x)
            else:
                files.append(x)
    except (UsageError, IndexError) as e:
        yield (2, enc(f"sed: {e}\n"))
        return 1
    except OSError as e:
        yield (2, enc(f"sed: {e}\n"))
        return 1
    if not scripts:
        yield (2, b"Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...\n")
        return 1
    try:
        sc = Parser("\n".join(scripts), ere).parse()
    except (SedError, re.error, IndexError) as e:
        yield (2, enc(f"sed: -e expression #1, char 0: {e}\n"))
        return 1
    sep = b"\0" if nul else b"\n"
    nl = "\0" if nul else "\n"
    st = 0
    if inplace:
        for f in files:
            try:
                src = open_input(sh, f, inp)
            except OSError as e:
                yield (2, enc(f"sed: can't read {e}\n"))
                st = 2
                continue
            data = src.read_all()
            r = Runner(Parser("\n".join(scripts), ere).parse(), quiet, sh, nl, wrap)
            eol = [True]
            out = "".join(
                _keep_missing_newline(r.run(_lines_with_last(Input(data), sep, eol)), eol, nl)
            )
            if suffix:
                with open(sh.resolve(f + suffix), "wb") as fh:
                    fh.write(data)
            with open(sh.resolve(f), "wb") as fh:
                fh.write(enc(out))
        return st
    runner = Runner(sc, quiet, sh, nl, wrap)

    def all_lines() -> Any:
        nonlocal st
        srcs = []
        for f in files or ["-"]:
            try:
                srcs.append(open_input(sh, f, inp))
            except OSError as e:
                errs.append(f"sed: can't read {e}\n")
                st = 2
        for k, s in enumerate(srcs):
            final = k == len(srcs) - 1
            for line, last in _lines_with_last(s, sep, eol):
                yield line, last and final

    def separate_runs() -> Any:
        """-s: each file on its own (line numbers and `$` start again; hold space stays)."""
        nonlocal st
        for f in files or ["-"]:
            try:
                src = open_input(sh, f, inp)
            except OSError as e:
                errs.append(f"sed: can't read {e}\n")
                st = 2
                continue
            yield from runner.run(_lines_with_last(src, sep, eol))
            if runner.quit is not None:
                return

    errs: list[str] = []
    eol = [True]
    try:
        chunks = separate_runs() if separate else runner.run(all_lines())
        for chunk in _keep_missing_newline(chunks, eol, nl):
            while errs:
                yield (2, enc(errs.pop(0)))
            yield (1, enc(chunk))
    except SedError as e:
        yield (2, enc(f"sed: {e}\n"))
        return 1
    while errs:
        yield (2, enc(errs.pop(0)))
    if runner.quit is not None:
        return runner.quit
    return st


def _has_script(scripts: list[str], files: list[str], a: list[str], i: int) -> bool:
    return bool(scripts)
