"""grep with GNU options (-E -F -G -i -v -n -r -l -L -c -o -w -x -q -s -h -H -A -B -C -e -f -m)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from itertools import compress, repeat
from operator import contains
from typing import Any

from ..io import Gen, Input
from . import command
from .util import UsageError, c_locale, dec, enc, open_input, parse_opts


def bre_to_python(p: str) -> str:
    """Translate a POSIX basic regex to Python syntax."""
    out = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            d = p[i + 1]
            if d in "(){}|+?":
                out.append(d)
            elif d == "<":
                out.append(r"\b(?=\w)")
            elif d == ">":
                out.append(r"\b(?<=\w)")
            else:
                out.append("\\" + d)
            i += 2
            continue
        if c in "(){}|+?":
            out.append("\\" + c)
        elif c == "^" and i > 0 and not p[:i].endswith(("\\(", "\\|")):
            out.append("\\^")
        elif c == "$" and i + 1 < len(p) and not p[i + 1 :].startswith(("\\)", "\\|")):
            out.append("\\$")
        elif c == "*" and (i == 0 or p[i - 1] in "(|" or (i > 0 and p[i - 1] == "^" and i == 1)):
            out.append(r"\*")
        elif c == "[":
            j = _bracket_end(p, i)
            out.append(_bracket(p[i : j + 1]))
            i = j + 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _bracket_end(p: str, i: int) -> int:
    j = i + 1
    if j < len(p) and p[j] == "^":
        j += 1
    if j < len(p) and p[j] == "]":
        j += 1
    while j < len(p) and p[j] != "]":
        if p.startswith("[:", j):
            e = p.find(":]", j)
            j = e + 2 if e > 0 else j + 1
            continue
        j += 1
    return j


CLS = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r"\s",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "cntrl": r"\x00-\x1f",
    "print": r" -~",
    "graph": r"!-~",
}


def _bracket(b: str) -> str:
    inner = b[1:-1]
    neg = inner.startswith("^")
    if neg:
        inner = inner[1:]
    for k, v in CLS.items():
        inner = inner.replace(f"[:{k}:]", v)
    inner = inner.replace("\\", "\\\\")
    if inner.startswith("]"):
        inner = "\\]" + inner[1:]
    inner = re.sub(r"\[(?!:)", r"\\[", inner)
    return "[" + ("^" if neg else "") + inner + "]"


def ere_to_python(p: str) -> str:
    out = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            d = p[i + 1]
            out.append(r"\b(?=\w)" if d == "<" else r"\b(?<=\w)" if d == ">" else "\\" + d)
            i += 2
            continue
        if c == "[":
            j = _bracket_end(p, i)
            out.append(_bracket(p[i : j + 1]))
            i = j + 1
            continue
        if c == "{" and not re.match(r"\{\d*(,\d*)?\}", p[i:]):
            out.append("\\{")
        elif c == "*" and (i == 0 or p[i - 1] in "(|"):
            out.append(r"\*")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def compile_patterns(  # kept for callers outside grep
    pats: list[str], mode: str, icase: bool, word: bool, line: bool
) -> re.Pattern[str]:
    parts = []
    for p in pats:
        if mode == "F":
            r = re.escape(p)
        elif mode == "E":
            r = ere_to_python(p)
        else:
            r = bre_to_python(p)
        if word:
            r = rf"(?<!\w)(?:{r})(?!\w)"
        if line:
            r = rf"^(?:{r})$"
        parts.append(f"(?:{r})")
    return re.compile("|".join(parts) if parts else "(?!)", re.IGNORECASE if icase else 0)


_LONG = {
    "extended-regexp": "E",
    "fixed-strings": "F",
    "basic-regexp": "G",
    "perl-regexp": "P",
    "ignore-case": "i",
    "invert-match": "v",
    "line-number": "n",
    "recursive": "r",
    "dereference-recursive": "R",
    "files-with-matches": "l",
    "files-without-match": "L",
    "count": "c",
    "only-matching": "o",
    "quiet": "q",
    "silent": "q",
    "no-messages": "s",
    "with-filename": "H",
    "no-filename": "h",
    "word-regexp": "w",
    "line-regexp": "x",
    "regexp": "e:",
    "file": "f:",
    "after-context": "A:",
    "before-context": "B:",
    "context": "C:",
    "max-count": "m:",
    "byte-offset": "b",
    "null": "Z",
    "null-data": "z",
    "text": "a",
    "include": "\x01:",
    "exclude": "\x02:",
    "exclude-dir": "\x03:",
    "color": "\x04:",
    "colour": "\x04:",
    "label": "\x05:",
}

_BACKREF = re.compile(r"(?<!\\)((?:\\\\)*)\\([1-9])")
_COLOR = {
    "match": "\x1b[01;31m\x1b[K",
    "name": "\x1b[35m\x1b[K",
    "num": "\x1b[32m\x1b[K",
    "sep": "\x1b[36m\x1b[K",
    "end": "\x1b[m\x1b[K",
}


def compile_all(
    pats: list[str], mode: str, icase: bool, word: bool, line: bool, ascii: bool = False
) -> re.Pattern[str]:
    """One regex for all patterns; each pattern's back-references are renumbered.

    `ascii` (the C locale): only ASCII letters, digits and `_` are word characters, and
    case folds only for ASCII."""
    parts = []
    groups = 0
    flags = (re.IGNORECASE if icase else 0) | (re.ASCII if ascii else 0)
    for p in pats:
        r = re.escape(p) if mode == "F" else ere_to_python(p) if mode == "E" else bre_to_python(p)
        n = re.compile(r, flags).groups
        if groups and n:
            r = _BACKREF.sub(lambda m, k=groups: f"{m.group(1)}\\{int(m.group(2)) + k}", r)
        groups += n
        if word:
            r = rf"(?<!\w)(?:{r})(?!\w)"
        if line:
            r = rf"^(?:{r})$"
        parts.append(f"(?:{r})")
    return re.compile("|".join(parts) if parts else "(?!)", flags)


_REGEX_CHARS = frozenset(".[]*^$\\+?(){}|")


def _literal(pats: list[str], mode: str, opts: Any) -> str | None:
    """The one pattern when it matches only itself, exactly (then lines are found with
    str.find over many at once); None otherwise."""
    if len(pats) != 1 or not pats[0] or any(k in opts for k in "iwx"):
        return None
    p = pats[0]
    return p if mode == "F" or not _REGEX_CHARS.intersection(p) else None


def _lines_with(text: str, literal: str, sep: str) -> list[str]:
    """The lines of text (sep-separated, without a final sep) that contain literal: a
    substring test by C-level maps, no call a line."""
    lines = text.split(sep)
    return list(compress(lines, map(contains, lines, repeat(literal))))


@command("grep", "egrep", "fgrep")
def grep(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, rest = parse_opts(args[1:], "EFGPivnrRlLcoqsHhwxe:f:A:B:C:m:abIZzU", _LONG)
    except UsageError as e:
        yield (2, enc(f"grep: {e}\nUsage: grep [OPTION]... PATTERNS [FILE]...\n"))
        return 2
    pats: list[str] = []
    for e in opts.get("_e", []):
        pats.extend(e.split("\n"))
    if "f" in opts:
        try:
            data = dec(open_input(sh, opts["f"], inp).read_all())
            pats.extend(
                data[:-1].split("\n") if data.endswith("\n") else data.split("\n") if data else []
            )
        except OSError as e:
            yield (2, enc(f"grep: {opts['f']}: {e.strerror}\n"))
            return 2
    if not pats and "f" not in opts:
        if not rest:
            yield (2, b"Usage: grep [OPTION]... PATTERNS [FILE]...\n")
            return 2
        pats = rest.pop(0).split("\n")
    mode = "G"
    for k, v in (("E", "E"), ("P", "E"), ("F", "F")):
        if k in opts:
            mode = v
    mode = {"egrep": "E", "fgrep": "F"}.get(args[0], mode)
    try:
        rx = compile_all(pats, mode, "i" in opts, "w" in opts, "x" in opts, c_locale(sh))
    except re.error as e:
        yield (2, enc(f"grep: invalid regular expression: {e}\n"))
        return 2
    color = opts.get("\x04", "never") in ("always", "yes", "force")
    recursive = "r" in opts or "R" in opts
    files = rest or (["."] if recursive else ["-"])
    dir_operand = recursive and any(f != "-" and os.path.isdir(sh.resolve(f)) for f in files)
    show_name = ("H" in opts or len(files) > 1 or dir_operand) and "h" not in opts
    try:
        after = int(opts.get("A", opts.get("C", 0)))
        before = int(opts.get("B", opts.get("C", 0)))
        maxc = int(opts["m"]) if "m" in opts else None
    except ValueError:
        yield (2, b"grep: invalid context length argument\n")
        return 2
    g = _Grep(sh, opts, rx, show_name, after, before, maxc, color)
    g.literal = _literal(pats, mode, opts)
    for f in _expand(sh, files, recursive, bool(rest), opts):
        if f != "-" and os.path.isdir(sh.resolve(f)):
            if "s" not in opts:
                yield (2, enc(f"grep: {f}: Is a directory\n"))
            g.err = True
            continue
        try:
            src = open_input(sh, f, inp)
            data = src.read_all()
        except OSError as e:
            if "s" not in opts:
                yield (2, enc(f"grep: {f}: {e.strerror or e}\n"))
            g.err = True
            continue
        label = opts.get("\x05", "(standard input)") if f == "-" else f
        yield from g.file(label, data)
        if g.quit:
            return 0
    if g.err and not ("q" in opts and g.found):
        return 2
    return 0 if g.found else 1


def _expand(sh: Any, files: list[str], recursive: bool, named: bool, opts: Any) -> Iterator[str]:
    import fnmatch

    inc, exc, exd = opts.get("\x01"), opts.get("\x02"), opts.get("\x03")

    def keep(name: str) -> bool:
        if inc and not fnmatch.fnmatchcase(name, inc):
            return False
        return not (exc and fnmatch.fnmatchcase(name, exc))

    for f in files:
        full = sh.resolve(f)
        if not (recursive and os.path.isdir(full)):
            if f == "-" or keep(os.path.basename(f)):
                yield f
            continue
        stack = [(f, full)]
        while stack:
            rel, d = stack.pop()
            try:
                names = sorted(os.listdir(d), reverse=True)
            except OSError:
                continue
            for name in names:
                sub = os.path.join(d, name)
                shown = name if rel == "." and not named else rel.rstrip("/") + "/" + name
                if os.path.isdir(sub):
                    if (os.path.islink(sub) and "R" not in opts) or (
                        exd and fnmatch.fnmatchcase(name, exd)
                    ):
                        continue
                    stack.append((shown, sub))
                elif os.path.isfile(sub) and keep(name):
                    if os.path.islink(sub) and "R" not in opts:
                        continue
                    yield shown
            # stack order: directories are searched after the files of the same level
            sh.budget.tick()


class _Grep:
    def __init__(
        self, sh: Any, opts: Any, rx: re.Pattern[str], show_name: bool, after: int, before: int,
        maxc: int | None, color: bool,
    ) -> None:  # fmt: skip
        self.sh, self.opts, self.rx, self.show_name = sh, opts, rx, show_name
        self.literal: str | None = None  # set by grep() where _literal() finds one
        self.after, self.before, self.maxc, self.color = after, before, maxc, color
        self.found = self.err = self.quit = False
        self.sep = b"\0" if "z" in opts else b"\n"
        self.any_out = False

    def c(self, kind: str, s: str) -> str:
        return f"{_COLOR[kind]}{s}{_COLOR['end']}" if self.color and s else s

    def prefix(self, label: str, lineno: int, off: int, sep: str) -> str:
        o = self.opts
        out = ""
        if self.show_name:
            out += self.c("name", label) + ("\0" if "Z" in o else self.c("sep", sep))
        if "n" in o:
            out += self.c("num", str(lineno)) + self.c("sep", sep)
        if "b" in o:
            out += self.c("num", str(off)) + self.c("sep", sep)
        return out

    def file(self, label: str, data: bytes) -> Iterator[tuple[int, bytes]]:
        o, rx, sep = self.opts, self.rx, self.sep
        invert = "v" in o
        quiet_out = any(k in o for k in "qlLc")
        recs = data.split(sep)
        if recs and recs[-1] == b"":
            recs.pop()
        count = 0
        last = 0  # last line number printed
        after_left = 0
        off = 0
        offs: list[int] = []
        out: list[str] = []
        sepc = sep.decode()
        if not (
            self.show_name
            or self.color
            or self.before
            or self.after
            or self.maxc is not None
            or any(k in o for k in "qlLcobn")
        ):  # plain matching lines: decoded and joined in bulk (same bytes out)
            search = rx.search
            literal = None if invert else self.literal
            for lo in range(0, len(recs), 4096):
                if literal is not None:  # found with str.find, not a search a line
                    text = dec(sep.join(recs[lo : lo + 4096]))
                    self.sh.budget.tick_many(min(4096, len(recs) - lo))
                    hits = _lines_with(text, literal, sepc)
                    if hits:
                        self.found = self.any_out = True
                        yield (1, enc(sepc.join(hits) + sepc))
                    continue
                lines = dec(sep.join(recs[lo : lo + 4096])).split(sepc)
                self.sh.budget.tick_many(len(lines))
                if invert:
                    hits = [line for line in lines if search(line) is None]
                else:
                    hits = [line for line in lines if search(line) is not None]
                if hits:
                    self.found = self.any_out = True
                    yield (1, enc(sepc.join(hits) + sepc))
            return
        for i, raw in enumerate(recs, 1):
            self.sh.budget.tick()
            offs.append(off)
            line = dec(raw)
            start = off
            off += len(raw) + 1
            if self.maxc is not None and count >= self.maxc:
                if after_left and not quiet_out:
                    out.append(self.prefix(label, i, start, "-") + line + sepc)
                    last = i
                    after_left -= 1
                    continue
                break
            hit = (rx.search(line) is not None) != invert
            if not hit:
                if after_left and not quiet_out:
                    out.append(self.prefix(label, i, start, "-") + line + sepc)
                    last = i
                    after_left -= 1
                continue
            count += 1
            self.found = True
            if "q" in o:
                self.quit = True
                return
            if "l" in o or "L" in o:
                break
            if "c" in o:
                continue
            first = max(last + 1, i - self.before)
            if (self.after or self.before) and self.any_out and first > last + 1:
                out.append(self.c("sep", "--") + "\n")
            for j in range(first, i):
                out.append(self.prefix(label, j, offs[j - 1], "-") + dec(recs[j - 1]) + sepc)
            if "o" in o and not invert:
                for m in rx.finditer(line):
                    if m.group(0):
                        b = start + len(enc(line[: m.start()]))
                        out.append(
                            self.prefix(label, i, b, ":") + self.c("match", m.group(0)) + sepc
                        )
            elif "o" not in o:
                text = line
                if self.color and not invert:
                    text = rx.sub(lambda m: self.c("match", m.group(0)), line)
                out.append(self.prefix(label, i, start, ":") + text + sepc)
            self.any_out = True
            last = i
            after_left = self.after
            if len(out) > 256:
                yield (1, enc("".join(out)))
                out.clear()
        if "c" in o:
            name = ""
            if self.show_name:
                name = self.c("name", label) + ("\0" if "Z" in o else self.c("sep", ":"))
            out.append(f"{name}{count}\n")
        end = "\0" if "Z" in o else "\n"
        if ("l" in o and count) or ("L" in o and not count):
            out.append(self.c("name", label) + end)
        if out:
            yield (1, enc("".join(out)))
