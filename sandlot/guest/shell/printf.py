"""printf(1)/echo formatting shared by the builtins and commands."""

from __future__ import annotations

import re

from .expand import shell_quote
from .lexer import ansi_c

SPEC = re.compile(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d*))?(\([^)]*\)T|[diouxXfFeEgGaAcsbq%])")


def printf_q(s: str) -> str:
    """bash's printf %q: backslash-escape, or $'...' when control characters are present."""
    if s == "":
        return "''"
    if any(ord(c) < 32 or ord(c) == 127 for c in s):
        return shell_quote(s)
    return re.sub(r"([^A-Za-z0-9_./,:=+@%^-])", r"\\\1", s)


def strftime_t(fmt: str, arg: str | None, tz: str | None) -> str:
    import os
    import time

    try:
        t = float(arg) if arg not in (None, "", "-1") else time.time()
    except ValueError:
        t = time.time()
    old = os.environ.get("TZ")
    if tz is not None and hasattr(time, "tzset"):
        os.environ["TZ"] = tz
        time.tzset()
    try:
        return time.strftime(fmt, time.localtime(t))
    finally:
        if tz is not None and hasattr(time, "tzset"):
            if old is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = old
            time.tzset()


def _byte(n: int) -> str:
    """A raw byte as text (bytes >= 0x80 become surrogates so they encode back to one byte)."""
    return bytes([n & 0xFF]).decode("utf-8", "surrogateescape")


def echo_escapes(s: str, bare_octal: bool = False) -> tuple[str, bool]:
    """Process echo -e escapes; returns (text, stop) where stop means \\c was seen.
    bare_octal: printf %b also reads \\NNN without the leading 0."""
    out, i = [], 0
    simple = {
        "a": "\a",
        "b": "\b",
        "e": "\x1b",
        "E": "\x1b",
        "f": "\f",
        "n": "\n",
        "r": "\r",
        "t": "\t",
        "v": "\v",
        "\\": "\\",
    }
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            d = s[i + 1]
            if d == "c":
                return "".join(out), True
            if d == "0":
                m = re.match(r"[0-7]{0,3}", s[i + 2 :])
                digits = m.group(0) if m else ""
                out.append(_byte(int(digits or "0", 8)))
                i += 2 + len(digits)
                continue
            if bare_octal and d in "1234567":
                m = re.match(r"[0-7]{1,3}", s[i + 1 :])
                assert m
                out.append(_byte(int(m.group(0), 8)))
                i += 1 + len(m.group(0))
                continue
            if d in simple:
                out.append(simple[d])
                i += 2
                continue
            if d == "x":
                m = re.match(r"[0-9a-fA-F]{1,2}", s[i + 2 :])
                if m:
                    out.append(_byte(int(m.group(0), 16)))
                    i += 2 + len(m.group(0))
                    continue
            if d in "uU":
                m = re.match(rf"[0-9a-fA-F]{{1,{4 if d == 'u' else 8}}}", s[i + 2 :])
                if m:
                    out.append(chr(int(m.group(0), 16)))
                    i += 2 + len(m.group(0))
                    continue
            out.append(c)
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out), False


def _num(arg: str, errs: list[str], unsigned: bool = False) -> int:
    """strtoimax/strtoumax as bash's printf uses them: leading blanks are skipped, trailing
    text is an error (the number read so far is used), out-of-range values clamp with a
    warning that leaves the status alone."""
    a = arg.lstrip(" \t\n")
    if not a:
        return 0
    if a[0] in "'\"":
        return ord(a[1]) if len(a) > 1 else 0
    m = re.match(r"[-+]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", a)
    if not m:
        errs.append(f"printf: {arg}: invalid number")
        return 0
    body = m.group(1)
    n = int(body, 16) if body[1:2] in ("x", "X") else int(body, 8) if body[0] == "0" else int(body)
    if a[0] == "-":
        n = -n
    if m.end() != len(a):
        errs.append(f"printf: {arg}: invalid number")
    lo, hi = (-(1 << 64) + 1, (1 << 64) - 1) if unsigned else (-(1 << 63), (1 << 63) - 1)
    if not lo <= n <= hi:
        errs.append(f"printf: warning: {arg}: Numerical result out of range")
        n = hi if n > 0 else (lo if not unsigned else (1 << 63) - 1)
    return n


def _float(arg: str, errs: list[str]) -> float:
    try:
        return float(arg) if arg.strip() else 0.0
    except ValueError:
        if arg[:1] in "'\"":
            return float(ord(arg[1])) if len(arg) > 1 else 0.0
        errs.append(f"printf: {arg}: invalid number")
        return 0.0


def printf_format(fmt: str, args: list[str], errs: list[str], tz: str | None = None) -> str:
    out: list[str] = []
    ai = 0
    first = True
    while first or ai < len(args):
        first = False
        consumed_before = ai
        i = 0
        stop = False
        while i < len(fmt):
            c = fmt[i]
            if c == "\\":
                m = re.match(
                    r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|.)",
                    fmt[i:],
                    re.S,
                )
                esc = m.group(0) if m else "\\"  # a lone trailing backslash stays
                if esc == "\\c":
                    return "".join(out)
                if re.fullmatch(r"\\[0-7]{1,3}", esc):
                    out.append(_byte(int(esc[1:], 8)))
                elif esc[1:2] in tuple("abefnrtv\\xuU\"'?"):
                    out.append(ansi_c(esc) if esc[1] != "?" else "\\?")
                else:
                    out.append(esc)
                i += len(esc)
                continue
            if c != "%":
                out.append(c)
                i += 1
                continue
            m = SPEC.match(fmt, i)
            if not m:
                errs.append(
                    f"printf: `{fmt[i + 1 : i + 2]}': invalid format character"
                    if i + 1 < len(fmt)
                    else "printf: `%': missing format character"
                )
                stop = True
                break
            i = m.end()
            flags, width, prec, conv = m.groups()
            if conv.endswith("T") and conv.startswith("("):
                arg = args[ai] if ai < len(args) else None
                ai += 1
                s = strftime_t(conv[1:-2], arg, tz)
                if prec is not None:
                    s = s[: int(prec or 0)]
                out.append(("%" + ("-" if "-" in flags else "") + (width or "") + "s") % s)
                continue
            if conv == "%":
                out.append("%")
                continue
            if width == "*":
                width = str(_num(args[ai], errs)) if ai < len(args) else "0"
                ai += 1
                if width.startswith("-"):
                    flags += "-"
                    width = width[1:]
            if prec == "*":
                prec = str(_num(args[ai], errs)) if ai < len(args) else "0"
                ai += 1
            if len(width or "") > 9 or len(prec or "") > 9:  # beyond an int: bash's overflow
                errs.append(f"printf: warning: {width}: Numerical result out of range")
                width, prec = "", None
            arg = args[ai] if ai < len(args) else None
            ai += 1
            pyflags = flags
            w = width or ""
            p = ("." + prec) if prec is not None else ""
            if conv in "sbq":
                s = arg or ""
                if conv == "b":
                    s, st = echo_escapes(s, bare_octal=True)
                    if st:
                        out.append(s)
                        return "".join(out)
                elif conv == "q":
                    s = printf_q(s) if arg is not None else "''"
                if prec is not None:
                    s = s[: int(prec or 0)]
                out.append(("%" + ("-" if "-" in flags else "") + w + "s") % s)
            elif conv == "c":
                s = (
                    (arg or "")
                    .encode("utf-8", "surrogateescape")[:1]
                    .decode("utf-8", "surrogateescape")
                )
                out.append(("%" + ("-" if "-" in flags else "") + w + "s") % s)
            elif conv in "diouxX":
                n = _num(arg, errs, conv in "ouxX") if arg is not None else 0
                if conv in "ouxX" and n < 0:
                    n &= (1 << 64) - 1
                pc = "d" if conv in "diu" else conv
                if "#" in pyflags and (conv == "o" or n == 0):  # C: 052, and no 0x for zero
                    pyflags = pyflags.replace("#", "")
                    if conv == "o" and n:
                        p = "." + str(max(int(prec or 0), len(f"{n:o}") + 1))
                out.append(("%" + pyflags + w + p + pc) % n)
            else:
                f = _float(arg, errs) if arg is not None else 0.0
                out.append(("%" + pyflags + w + p + conv) % f)
        if stop or ai == consumed_before:
            break
    return "".join(out)
