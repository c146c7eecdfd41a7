"""printf(1)/echo formatting shared by the builtins and commands."""
from __future__ import annotations

import re

from .expand import shell_quote
from .lexer import ansi_c

SPEC = re.compile(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d*))?([diouxXfFeEgGcsbq%])")


def echo_escapes(s: str) -> tuple[str, bool]:
    """Process echo -e escapes; returns (text, stop) where stop means \\c was seen."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            d = s[i + 1]
            if d == "c":
                return "".join(out), True
            if d == "0":
                j = i + 2
                while j < len(s) and j < i + 5 and s[j] in "01234567":
                    j += 1
                out.append(chr(int(s[i + 2:j] or "0", 8) & 0xFF))
                i = j
                continue
            if d in "01234567":
                j = i + 1
                while j < len(s) and j < i + 4 and s[j] in "01234567":
                    j += 1
                out.append(chr(int(s[i + 1:j], 8) & 0xFF))
                i = j
                continue
            if d in "abefnrtv\\xuU":
                m = re.match(r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[abefnrtv\\])", s[i:])
                if m:
                    out.append(ansi_c(m.group(0)))
                    i += len(m.group(0))
                    continue
            out.append(c)
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out), False


def _num(arg: str, errs: list[str]) -> int:
    a = arg.strip()
    if not a:
        return 0
    if a[0] in "'\"":
        return ord(a[1]) if len(a) > 1 else 0
    try:
        if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", a):
            return int(a, 16)
        if re.fullmatch(r"[-+]?0[0-7]+", a):
            return int(a, 8)
        return int(a)
    except ValueError:
        m = re.match(r"[-+]?\d+", a)
        errs.append(f"printf: {arg}: invalid number")
        return int(m.group(0)) if m else 0


def _float(arg: str, errs: list[str]) -> float:
    try:
        return float(arg) if arg.strip() else 0.0
    except ValueError:
        if arg[:1] in "'\"":
            return float(ord(arg[1])) if len(arg) > 1 else 0.0
        errs.append(f"printf: {arg}: invalid number")
        return 0.0


def printf_format(fmt: str, args: list[str], errs: list[str]) -> str:
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
                m = re.match(r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|.)", fmt[i:], re.S)
                assert m
                esc = m.group(0)
                if esc == "\\c":
                    return "".join(out)
                if re.fullmatch(r"\\[0-7]{1,3}", esc):
                    out.append(chr(int(esc[1:], 8) & 0xFF))
                elif esc[1] in "abefnrtv\\xuU\"'?":
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
                errs.append(f"printf: `{fmt[i + 1:i + 2]}': invalid format character" if i + 1 < len(fmt) else "printf: `%': missing format character")
                stop = True
                break
            i = m.end()
            flags, width, prec, conv = m.groups()
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
            arg = args[ai] if ai < len(args) else None
            ai += 1
            pyflags = flags
            w = width or ""
            p = ("." + prec) if prec is not None else ""
            if conv in "sbq":
                s = arg or ""
                if conv == "b":
                    s, st = echo_escapes(s)
                    if st:
                        out.append(s)
                        return "".join(out)
                elif conv == "q":
                    s = shell_quote(s) if arg is not None else "''"
                if prec is not None:
                    s = s[: int(prec or 0)]
                out.append(("%" + ("-" if "-" in flags else "") + w + "s") % s)
            elif conv == "c":
                s = (arg or "")[:1]
                out.append(("%" + ("-" if "-" in flags else "") + w + "s") % s)
            elif conv in "diouxX":
                n = _num(arg, errs) if arg is not None else 0
                if conv in "ouxX" and n < 0:
                    n &= (1 << 64) - 1
                pc = "d" if conv in "diu" else conv
                out.append(("%" + pyflags + w + p + pc) % n)
            else:
                f = _float(arg, errs) if arg is not None else 0.0
                out.append(("%" + pyflags + w + p + conv) % f)
        if stop or ai == consumed_before:
            break
    return "".join(out)
