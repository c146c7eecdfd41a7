"""grep with GNU options (-E -F -G -i -v -n -r -l -L -c -o -w -x -q -s -h -H -A -B -C -e -f -m)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from ..io import Gen, Input
from . import command
from .util import UsageError, dec, enc, open_input, parse_opts


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


def compile_patterns(
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


@command("grep", "egrep", "fgrep")
def grep(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, rest = parse_opts(
            args[1:],
            "EFGPivnrRlLcoqsHhwxe:f:A:B:C:m:abIZz",
            {
                "extended-regexp": "E",
                "fixed-strings": "F",
                "ignore-case": "i",
                "invert-match": "v",
                "line-number": "n",
                "recursive": "r",
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
                "include": "I:",
                "exclude": "X:",
                "color": "K:",
                "colour": "K:",
            },
        )
    except UsageError as e:
        yield (2, enc(f"grep: {e}\nUsage: grep [OPTION]... PATTERNS [FILE]...\n"))
        return 2
    pats: list[str] = []
    for e in opts.get("_e", []):
        pats.extend(e.split("\n"))
    if "f" in opts:
        try:
            pats.extend(dec(open_input(sh, opts["f"], inp).read_all()).splitlines())
        except OSError as e:
            yield (2, enc(f"grep: {e}\n"))
            return 2
    if not pats:
        if not rest:
            yield (2, b"Usage: grep [OPTION]... PATTERNS [FILE]...\n")
            return 2
        pats = rest.pop(0).split("\n")
    mode = (
        "E"
        if ("E" in opts or "P" in opts or args[0] == "egrep")
        else "F"
        if ("F" in opts or args[0] == "fgrep")
        else "G"
    )
    try:
        rx = compile_patterns(pats, mode, "i" in opts, "w" in opts, "x" in opts)
    except re.error as e:
        yield (2, enc(f"grep: invalid regular expression: {e}\n"))
        return 2
    recursive = "r" in opts or "R" in opts
    files = rest or (["."] if recursive else ["-"])
    multi = len(files) > 1 or recursive
    show_name = ("H" in opts or multi) and "h" not in opts
    after = int(opts.get("A", opts.get("C", 0)))
    before = int(opts.get("B", opts.get("C", 0)))
    maxc = int(opts["m"]) if "m" in opts else None
    invert = "v" in opts
    found_any = False
    st_err = False

    def expand(files: list[str]) -> Iterator[str]:
        for f in files:
            full = sh.resolve(f)
            if recursive and os.path.isdir(full):
                for root, dirs, fs in os.walk(full):
                    dirs.sort()
                    for name in sorted(fs):
                        rel = os.path.join(root, name)
                        yield (
                            f.rstrip("/") + rel[len(full.rstrip("/")) :]
                            if f != "." or rest
                            else os.path.relpath(rel, sh.cwd)
                        )
            else:
                yield f

    for f in expand(files):
        if f != "-" and os.path.isdir(sh.resolve(f)):
            if "s" not in opts:
                yield (2, enc(f"grep: {f}: Is a directory\n"))
            st_err = True
            continue
        try:
            src = open_input(sh, f, inp)
        except OSError as e:
            if "s" not in opts:
                yield (2, enc(f"grep: {e}\n"))
            st_err = True
            continue
        label = "(standard input)" if f == "-" else f
        count = 0
        last_printed = 0
        pending_after = 0
        prev: list[tuple[int, str]] = []
        for lineno, raw in enumerate(src.lines(), 1):
            sh.budget.tick()
            line = dec(raw[:-1] if raw.endswith(b"\n") else raw)
            m = rx.search(line)
            hit = (m is not None) != invert
            if hit:
                count += 1
                found_any = True
                if "q" in opts:
                    return 0
                if "l" in opts or "L" in opts:
                    break
                if "c" not in opts:
                    if before:
                        if last_printed and prev and prev[0][0] > last_printed + 1:
                            yield (1, b"--\n")
                        elif not last_printed and prev and lineno > 1 and False:
                            pass
                        for pn, pl in prev:
                            if pn > last_printed:
                                yield (
                                    1,
                                    enc(
                                        (f"{label}-" if show_name else "")
                                        + (f"{pn}-" if "n" in opts else "")
                                        + pl
                                        + "\n"
                                    ),
                                )
                                last_printed = pn
                    elif (after or before) and last_printed and lineno > last_printed + 1:
                        yield (1, b"--\n")
                    prefix = (f"{label}:" if show_name else "") + (
                        f"{lineno}:" if "n" in opts else ""
                    )
                    if "o" in opts and not invert:
                        for mm in rx.finditer(line):
                            if mm.group(0):
                                yield (1, enc(prefix + mm.group(0) + "\n"))
                    else:
                        yield (1, enc(prefix + line + "\n"))
                    last_printed = lineno
                    pending_after = after
                if maxc is not None and count >= maxc:
                    break
            elif pending_after and "c" not in opts:
                yield (
                    1,
                    enc(
                        (f"{label}-" if show_name else "")
                        + (f"{lineno}-" if "n" in opts else "")
                        + line
                        + "\n"
                    ),
                )
                last_printed = lineno
                pending_after -= 1
            if before:
                prev.append((lineno, line))
                if len(prev) > before:
                    prev.pop(0)
        if "c" in opts:
            yield (1, enc((f"{label}:" if show_name else "") + f"{count}\n"))
        if "l" in opts and count:
            yield (1, enc(label + "\n"))
        if "L" in opts and not count:
            yield (1, enc(label + "\n"))
    if st_err and not ("q" in opts and found_any):
        return 2
    return 0 if found_any else 1
