"""POSIX awk (with common gawk extensions): lexer, parser, and a compiler to Python source.

The program is compiled to one Python generator (BEGIN, the record loop, END) plus one Python
function per awk function; output is buffered per record and yielded, so awk streams.
"""

from __future__ import annotations

import math
import os
import random
import re
from typing import Any

from ..io import Gen, Input
from . import COMMANDS, command
from .util import dec, enc


class AwkError(Exception):
    pass


class NextRec(Exception):
    pass


class NextFile(Exception):
    pass


class ExitAwk(Exception):
    pass


# ------------------------------------------------------------------ values
class SN(str):
    """A string that came from input: compares numerically when it looks like a number."""


class _Uninit(SN):
    pass


UNINIT = _Uninit("")
_NUMPREFIX = re.compile(
    r"[ \t\n\r\f\v]*([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?"
    r"|(?i:inf(?:inity)?|nan)))"
)
_LOOKSNUM = re.compile(
    r"[ \t\n\r\f\v]*[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?"
    r"|(?i:[-+](?:inf|nan)))[ \t\n\r\f\v]*"
)


def tonum(x: Any) -> float:
    if x.__class__ is float:
        return x
    m = _NUMPREFIX.match(x)
    if not m:
        return 0.0
    s = m.group(1)
    if s[-1:] in "fFnNyY" and s[:1] not in "+-":
        return 0.0  # bare "inf"/"nan" is not numeric in gawk
    return float(s)


def looksnum(x: Any) -> bool:
    c = x.__class__
    if c is float or x is UNINIT:
        return True
    return (c is SN) and _LOOKSNUM.fullmatch(x) is not None


class AA(dict):
    def __missing__(self, k: str) -> Any:
        self[k] = UNINIT
        return UNINIT


def _unescape(s: str, regex: bool = False) -> str:
    out = []
    i = 0
    n = len(s)
    esc = {
        "n": "\n",
        "t": "\t",
        "r": "\r",
        "\\": "\\",
        '"': '"',
        "/": "/",
        "a": "\a",
        "b": "\b",
        "f": "\f",
        "v": "\v",
    }
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            d = s[i + 1]
            if d in "01234567":
                j = i + 1
                while j < n and j < i + 4 and s[j] in "01234567":
                    j += 1
                out.append(chr(int(s[i + 1 : j], 8)))
                i = j
                continue
            if d in esc:
                out.append(esc[d])
            else:
                out.append("\\" + d)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~",
    "print": " -~",
    "graph": "!-~",
    "cntrl": "\\x00-\\x1f\\x7f",
    "xdigit": "0-9A-Fa-f",
    "word": "a-zA-Z0-9_",
}


def ere_to_py(src: str) -> str:
    """Translate a POSIX ERE (awk dialect) to a Python regex."""
    out = []
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n:
            d = src[i + 1]
            i += 2
            if d == "y":
                out.append(r"\b")
            elif d in "<>":
                out.append(r"\b")
            elif d == "`":
                out.append(r"\A")
            elif d == "'":
                out.append(r"\Z")
            elif d in "sSwWBnrtfv\\":
                out.append("\\" + d)
            elif d == "/":
                out.append("/")
            elif d in "01234567":
                j = i - 1
                k = j
                while k < n and k < j + 3 and src[k] in "01234567":
                    k += 1
                out.append(re.escape(chr(int(src[j:k], 8))))
                i = k
            elif d == "a":
                out.append(r"\x07")
            elif d == "b":
                out.append(r"\x08")
            else:
                out.append(re.escape(d))
            continue
        if c == "[":
            j = i + 1
            part = ["["]
            if j < n and src[j] == "^":
                part.append("^")
                j += 1
            first = True
            while j < n:
                d = src[j]
                if d == "]" and not first:
                    break
                first = False
                if d == "[" and j + 1 < n and src[j + 1] == ":":
                    e = src.find(":]", j + 2)
                    if e > 0:
                        part.append(_CLASSES.get(src[j + 2 : e], ""))
                        j = e + 2
                        continue
                if d == "\\" and j + 1 < n:
                    nx = src[j + 1]
                    m = {"n": "\\n", "t": "\\t", "r": "\\r", "f": "\\f", "v": "\\v"}.get(nx)
                    part.append(m if m else re.escape(nx) if nx not in "-" else "\\-")
                    j += 2
                    continue
                if d in "[&~|":
                    part.append("\\" + d)
                else:
                    part.append(d)
                j += 1
            if j >= n:
                raise AwkError(f"unterminated [ in regex: {src}")
            part.append("]")
            out.append("".join(part))
            i = j + 1
            continue
        if c == "$":
            out.append(r"(?!.)" if False else r"\Z")
        elif c == "{":
            m = re.match(r"\{(\d*)(,?)(\d*)\}", src[i:])
            if m and (m.group(1) or m.group(3)) and out and out[-1] not in ("(", "|"):
                out.append(m.group(0) if m.group(1) else "{0" + m.group(0)[1:])
                i += len(m.group(0))
                continue
            out.append(r"\{")
        elif c == "}":
            out.append(r"\}")
        elif c in "*+?" and (not out or out[-1] in ("(", "|")):
            out.append("\\" + c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


_RXCACHE: dict[str, re.Pattern[str]] = {}


def rx(src: str) -> re.Pattern[str]:
    p = _RXCACHE.get(src)
    if p is None:
        try:
            p = re.compile(ere_to_py(src), re.S)
        except re.error as e:
            raise AwkError(f"invalid regex /{src}/: {e}") from None
        if len(_RXCACHE) > 500:
            _RXCACHE.clear()
        _RXCACHE[src] = p
    return p


# ------------------------------------------------------------------ formatting
_FMT = re.compile(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])")


def _fmtnum_int(v: float) -> int:
    if v != v or v in (math.inf, -math.inf):
        return 0
    return int(v)


def awk_sprintf(fmt: str, args: list[Any], G: dict[str, Any]) -> str:
    out = []
    pos = 0
    ai = 0

    def nxt() -> Any:
        nonlocal ai
        if ai < len(args):
            ai += 1
            return args[ai - 1]
        return UNINIT

    for m in _FMT.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, conv = m.groups()
        if conv == "%":
            out.append("%")
            continue
        if width == "*":
            w = int(tonum(nxt()))
            if w < 0:
                flags += "-"
                w = -w
            width = str(w)
        if prec == "*":
            prec = str(max(0, int(tonum(nxt()))))
        spec = "%" + flags + (width or "") + ("." + prec if prec is not None else "")
        if conv in "di":
            v = tonum(nxt())
            if v != v or v in (math.inf, -math.inf):
                out.append((spec + "s") % ("nan" if v != v else ("inf" if v > 0 else "-inf")))
            else:
                out.append((spec + "d") % int(v))
        elif conv in "ouxX":
            v = _fmtnum_int(tonum(nxt()))
            if v < 0:
                v &= 0xFFFFFFFFFFFFFFFF
            out.append((spec + ("d" if conv == "u" else conv)) % v)
        elif conv in "eEfFgG":
            out.append((spec + conv) % tonum(nxt()))
        elif conv == "c":
            v = nxt()
            if v.__class__ is float:
                ch = chr(int(v) % 0x110000) if v >= 0 else ""
            else:
                s = tostr(v, G)
                ch = s[:1] or "\0"
            out.append(
                (spec.replace(".", "").split(".")[0] + "s") % ch
                if prec is None
                else ("%" + flags + (width or "") + "s") % ch
            )
        elif conv == "s":
            out.append((spec + "s") % tostr(nxt(), G))
        else:
            out.append(m.group(0))
    out.append(fmt[pos:])
    return "".join(out)


def num2str(x: float, fmt: str) -> str:
    if x == int(x) if x == x and x not in (math.inf, -math.inf) else False:
        if abs(x) < 1e16:
            return str(int(x))
        return str(int(x))
    if x != x:
        return "-nan" if math.copysign(1, x) < 0 else "nan"
    if x in (math.inf, -math.inf):
        return "inf" if x > 0 else "-inf"
    try:
        return fmt % x
    except (TypeError, ValueError):
        return f"{x:.6g}"


def tostr(x: Any, G: dict[str, Any]) -> str:
    if x.__class__ is float:
        return num2str(x, G["v_CONVFMT"])
    return x


def truth(x: Any) -> bool:
    c = x.__class__
    if c is float:
        return x != 0
    if c is SN:
        if _LOOKSNUM.fullmatch(x):
            return tonum(x) != 0
        return x != ""
    return x != ""


# ------------------------------------------------------------------ lexer
KEYWORDS = {
    "BEGIN",
    "END",
    "function",
    "func",
    "if",
    "else",
    "while",
    "for",
    "do",
    "break",
    "continue",
    "next",
    "nextfile",
    "exit",
    "return",
    "delete",
    "in",
    "getline",
    "print",
    "printf",
}
BUILTINS = {
    "length",
    "substr",
    "index",
    "split",
    "sub",
    "gsub",
    "match",
    "sprintf",
    "sin",
    "cos",
    "atan2",
    "exp",
    "log",
    "sqrt",
    "int",
    "rand",
    "srand",
    "tolower",
    "toupper",
    "system",
    "close",
    "fflush",
    "systime",
    "strftime",
    "gensub",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
    "compl",
}
PUNCT = [
    "**=",
    "^=",
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "**",
    "==",
    "<=",
    ">=",
    "!=",
    "++",
    "--",
    "&&",
    "||",
    ">>",
    "!~",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "!",
    ">",
    "<",
    "|",
    "?",
    ":",
    "~",
    "$",
    "=",
]


class Tok:
    __slots__ = ("type", "val", "line")

    def __init__(self, type: str, val: Any, line: int) -> None:
        self.type, self.val, self.line = type, val, line

    def __repr__(self) -> str:
        return f"Tok({self.type},{self.val!r})"


_NUMTOK = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def lex(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i = 0
    n = len(src)
    line = 1

    def regex_ok() -> bool:
        if not toks:
            return True
        t = toks[-1].type
        return t not in ("NUMBER", "STRING", "ERE", "NAME", "BUILTIN", ")", "]", "$", "++", "--")

    while i < n:
        c = src[i]
        if c == "\\" and src[i + 1 : i + 2] == "\n":
            i += 2
            line += 1
            continue
        if c == "\\" and src[i + 1 : i + 3] == "\r\n":
            i += 3
            line += 1
            continue
        if c in " \t\r":
            i += 1
            continue
        if c == "#":
            while i < n and src[i] != "\n":
                i += 1
            continue
        if c == "\n":
            line += 1
            if not toks or toks[-1].type != "NEWLINE":
                toks.append(Tok("NEWLINE", None, line - 1))
            i += 1
            continue
        if c == '"':
            j = i + 1
            buf = []
            while j < n and src[j] != '"':
                if src[j] == "\\" and j + 1 < n:
                    if src[j + 1] == "\n":
                        j += 2
                        continue
                    buf.append(src[j : j + 2])
                    j += 2
                    continue
                if src[j] == "\n":
                    raise AwkError(f"newline in string at source line {line}")
                buf.append(src[j])
                j += 1
            if j >= n:
                raise AwkError(f"unterminated string at source line {line}")
            toks.append(Tok("STRING", _unescape("".join(buf)), line))
            i = j + 1
            continue
        if c == "/" and regex_ok():
            j = i + 1
            buf = []
            inbr = False
            while j < n:
                d = src[j]
                if d == "\n":
                    raise AwkError(f"newline in regex at source line {line}")
                if d == "\\" and j + 1 < n:
                    if src[j + 1] == "/":
                        buf.append("/")
                    else:
                        buf.append(src[j : j + 2])
                    j += 2
                    continue
                if d == "[" and not inbr:
                    inbr = True
                    buf.append(d)
                    j += 1
                    if j < n and src[j] == "^":
                        buf.append("^")
                        j += 1
                    if j < n and src[j] == "]":
                        buf.append("]")
                        j += 1
                    continue
                if d == "[" and inbr and src[j + 1 : j + 2] == ":":
                    e = src.find(":]", j)
                    if e > 0:
                        buf.append(src[j : e + 2])
                        j = e + 2
                        continue
                if d == "]" and inbr:
                    inbr = False
                if d == "/" and not inbr:
                    break
                buf.append(d)
                j += 1
            if j >= n:
                raise AwkError(f"unterminated regex at source line {line}")
            toks.append(Tok("ERE", "".join(buf), line))
            i = j + 1
            continue
        if c.isdigit() or (c == "." and src[i + 1 : i + 2].isdigit()):
            m = _NUMTOK.match(src, i)
            assert m
            s = m.group(0)
            toks.append(
                Tok("NUMBER", float(int(s, 16)) if s[:2] in ("0x", "0X") else float(s), line)
            )
            i = m.end()
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            w = src[i:j]
            i = j
            if w in KEYWORDS:
                toks.append(Tok("function" if w == "func" else w, w, line))
            elif w in BUILTINS:
                toks.append(Tok("BUILTIN", w, line))
            elif i < n and src[i] == "(":
                toks.append(Tok("FUNC_NAME", w, line))
            else:
                toks.append(Tok("NAME", w, line))
            continue
        for p in PUNCT:
            if src.startswith(p, i):
                t = {"**": "^", "**=": "^="}.get(p, p)
                toks.append(Tok(t, t, line))
                i += len(p)
                break
        else:
            raise AwkError(f"syntax error at source line {line}: unexpected character '{c}'")
    toks.append(Tok("NEWLINE", None, line))
    toks.append(Tok("EOF", None, line))
    return toks


# ------------------------------------------------------------------ parser
_CONCAT_START = {
    "NUMBER",
    "STRING",
    "ERE",
    "NAME",
    "FUNC_NAME",
    "BUILTIN",
    "$",
    "(",
    "++",
    "--",
    "!",
    "-",
    "+",
}
_ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "^="}


class Parser:
    def __init__(self, src: str) -> None:
        self.toks = lex(src)
        self.p = 0
        self.funcs: dict[str, tuple[list[str], Any]] = {}
        self.begin: list[Any] = []
        self.end: list[Any] = []
        self.rules: list[Any] = []
        self.no_gt = False
        self.no_in = False

    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.p + k, len(self.toks) - 1)]

    def at(self, *types: str) -> bool:
        return self.toks[self.p].type in types

    def take(self, type: str | None = None) -> Tok:
        t = self.toks[self.p]
        if type is not None and t.type != type:
            self.error(t)
        self.p += 1
        return t

    def error(self, t: Tok | None = None) -> None:
        t = t or self.peek()
        near = t.val if t.val is not None else t.type
        raise AwkError(f"syntax error at source line {t.line}: near '{near}'")

    def nl(self) -> None:
        while self.at("NEWLINE"):
            self.p += 1

    def nlsemi(self) -> None:
        while self.at("NEWLINE", ";"):
            self.p += 1

    # program
    def program(self) -> None:
        self.nlsemi()
        while not self.at("EOF"):
            self.item()
            self.nlsemi()

    def item(self) -> None:
        if self.at("function"):
            self.take()
            name = self.take().val
            if self.at("("):
                self.take()
            params: list[str] = []
            while not self.at(")"):
                params.append(self.take("NAME").val)
                if self.at(","):
                    self.take()
                    self.nl()
            self.take(")")
            self.nl()
            self.funcs[name] = (params, self.block())
            return
        if self.at("BEGIN"):
            self.take()
            self.nl()
            self.begin.append(self.block())
            return
        if self.at("END"):
            self.take()
            self.nl()
            self.end.append(self.block())
            return
        if self.at("{"):
            self.rules.append((None, None, self.block()))
            return
        pat = self.expr()
        pat2 = None
        if self.at(","):
            self.take()
            self.nl()
            pat2 = self.expr()
        if self.at("{"):
            self.rules.append((pat, pat2, self.block()))
        else:
            self.rules.append((pat, pat2, None))

    def block(self) -> Any:
        self.take("{")
        body = []
        while True:
            self.nlsemi()
            if self.at("}"):
                self.take()
                return ("block", body)
            body.append(self.stmt())

    def end_simple(self) -> None:
        if self.at(";", "NEWLINE"):
            self.take()
            self.nl()
        elif not self.at("}", "EOF"):
            self.error()

    def stmt(self) -> Any:
        t = self.peek()
        tt = t.type
        if tt == "{":
            return self.block()
        if tt == ";":
            self.take()
            return ("block", [])
        if tt == "if":
            self.take()
            self.take("(")
            c = self.expr()
            self.take(")")
            self.nl()
            a = self.stmt()
            save = self.p
            self.nlsemi()
            if self.at("else"):
                self.take()
                self.nl()
                return ("if", c, a, self.stmt())
            self.p = save
            return ("if", c, a, None)
        if tt == "while":
            self.take()
            self.take("(")
            c = self.expr()
            self.take(")")
            if self.at(";"):
                self.take()
                return ("while", c, ("block", []))
            self.nl()
            return ("while", c, self.stmt())
        if tt == "do":
            self.take()
            self.nl()
            body = self.stmt()
            self.nlsemi()
            self.take("while")
            self.take("(")
            c = self.expr()
            self.take(")")
            self.end_simple()
            return ("do", body, c)
        if tt == "for":
            self.take()
            self.take("(")
            if (
                self.peek().type == "NAME"
                and self.peek(1).type == "in"
                and self.peek(2).type == "NAME"
                and self.peek(3).type == ")"
            ):
                var = self.take().val
                self.take()
                arr = self.take().val
                self.take(")")
                self.nl()
                return ("forin", var, arr, self.stmt())
            if (
                self.peek().type == "("
                and self.peek(1).type == "NAME"
                and self.peek(2).type == "in"
                and self.peek(3).type == "NAME"
                and self.peek(4).type == ")"
                and self.peek(5).type == ")"
            ):
                self.take()
                var = self.take().val
                self.take()
                arr = self.take().val
                self.take(")")
                self.take(")")
                self.nl()
                return ("forin", var, arr, self.stmt())
            init = None if self.at(";") else self.simple_stmt()
            self.nl()
            self.take(";")
            self.nl()
            cond = None if self.at(";") else self.expr()
            self.nl()
            self.take(";")
            self.nl()
            incr = None if self.at(")") else self.simple_stmt()
            self.take(")")
            if self.at(";"):
                self.take()
                return ("for", init, cond, incr, ("block", []))
            self.nl()
            return ("for", init, cond, incr, self.stmt())
        s = self.simple_stmt()
        self.end_simple()
        return s

    def simple_stmt(self) -> Any:
        t = self.peek()
        tt = t.type
        if tt in ("print", "printf"):
            self.take()
            args: list[Any] = []
            save_gt = self.no_gt
            self.no_gt = True
            if not self.at(";", "NEWLINE", "}", ">", ">>", "|", "EOF"):
                args = self.exprlist()
                if len(args) == 1 and args[0][0] == "grouplist":
                    args = args[0][1]
            self.no_gt = save_gt
            dest = None
            if self.at(">", ">>", "|"):
                kind = self.take().type
                save_gt = self.no_gt
                self.no_gt = True
                target = self.concat()
                self.no_gt = save_gt
                dest = (kind, target)
            if tt == "printf" and not args:
                self.error(t)
            return (tt, args, dest)
        if tt == "delete":
            self.take()
            name = self.take("NAME").val
            if self.at("["):
                self.take()
                subs = self.exprlist()
                self.take("]")
                return ("delete", name, subs)
            return ("delete", name, None)
        if tt in ("next", "nextfile", "break", "continue"):
            self.take()
            return (tt,)
        if tt in ("exit", "return"):
            self.take()
            e = None
            if not self.at(";", "NEWLINE", "}", "EOF"):
                e = self.expr()
            return (tt, e)
        return ("expr", self.expr())

    def exprlist(self) -> list[Any]:
        out = [self.expr()]
        while self.at(","):
            self.take()
            self.nl()
            out.append(self.expr())
        return out

    # expressions
    def expr(self) -> Any:
        return self.ternary()

    def ternary(self) -> Any:
        c = self.or_()
        if self.at("?"):
            self.take()
            self.nl()
            a = self.ternary()
            self.nl()
            self.take(":")
            self.nl()
            b = self.ternary()
            return ("cond", c, a, b)
        if self.at(*_ASSIGN) and c[0] in ("var", "idx", "field"):
            op = self.take().type
            self.nl()
            return ("assign", op, c, self.ternary())
        return c

    def or_(self) -> Any:
        a = self.and_()
        while self.at("||"):
            self.take()
            self.nl()
            a = ("or", a, self.and_())
        return a

    def and_(self) -> Any:
        a = self.in_()
        while self.at("&&"):
            self.take()
            self.nl()
            a = ("and", a, self.in_())
        return a

    def in_(self) -> Any:
        a = self.match()
        while self.at("in") and not self.no_in:
            self.take()
            name = self.take("NAME").val
            subs = a[1] if a[0] == "grouplist" else [a]
            a = ("in", subs, name)
        return a

    def match(self) -> Any:
        a = self.rel()
        while self.at("~", "!~"):
            neg = self.take().type == "!~"
            a = ("match", neg, a, self.rel())
        return a

    def rel(self) -> Any:
        a = self.concat()
        if self.at("<", "<=", "!=", "==", ">=") or (self.at(">") and not self.no_gt):
            op = self.take().type
            a = ("cmp", op, a, self.concat())
        return a

    def concat(self) -> Any:
        a = self.additive()
        while True:
            t = self.peek()
            if t.type in _CONCAT_START and t.type not in ("-", "+", "!"):
                if t.type == "in":
                    break
                a = ("cat", a, self.additive())
            elif t.type == "|" and self.peek(1).type == "getline":
                self.take()
                self.take()
                lv = self.opt_lvalue()
                a = ("getline", "cmd", lv, a)
            else:
                break
        return a

    def additive(self) -> Any:
        a = self.mul()
        while self.at("+", "-"):
            op = self.take().type
            a = ("bin", op, a, self.mul())
        return a

    def mul(self) -> Any:
        a = self.unary()
        while self.at("*", "/", "%"):
            op = self.take().type
            a = ("bin", op, a, self.unary())
        return a

    def unary(self) -> Any:
        if self.at("!"):
            self.take()
            return ("not", self.unary())
        if self.at("-"):
            self.take()
            return ("neg", self.unary())
        if self.at("+"):
            self.take()
            return ("pos", self.unary())
        return self.power()

    def power(self) -> Any:
        a = self.postfix()
        if self.at("^"):
            self.take()
            b = self.power_rhs()
            return ("bin", "^", a, b)
        return a

    def power_rhs(self) -> Any:
        if self.at("-"):
            self.take()
            return ("neg", self.power_rhs())
        if self.at("+"):
            self.take()
            return self.power_rhs()
        if self.at("!"):
            self.take()
            return ("not", self.power_rhs())
        return self.power()

    def postfix(self) -> Any:
        if self.at("++", "--"):
            op = self.take().type
            lv = self.postfix()
            if lv[0] not in ("var", "idx", "field"):
                self.error()
            return ("preinc", op, lv)
        p = self.primary()
        if p[0] in ("var", "idx", "field") and self.at("++", "--"):
            op = self.take().type
            return ("postinc", op, p)
        return p

    def opt_lvalue(self) -> Any:
        if self.at("NAME"):
            name = self.take().val
            if self.at("["):
                self.take()
                subs = self.exprlist()
                self.take("]")
                return ("idx", name, subs)
            return ("var", name)
        if self.at("$"):
            self.take()
            return ("field", self.field_operand())
        return None

    def field_operand(self) -> Any:
        if self.at("++", "--"):
            op = self.take().type
            return ("preinc", op, self.postfix())
        if self.at("-"):
            self.take()
            return ("neg", self.primary())
        return self.primary()

    def primary(self) -> Any:
        t = self.take()
        tt = t.type
        if tt == "NUMBER":
            return ("num", t.val)
        if tt == "STRING":
            return ("str", t.val)
        if tt == "ERE":
            return ("re", t.val)
        if tt == "$":
            return ("field", self.field_operand())
        if tt == "(":
            save = self.no_gt, self.no_in
            self.no_gt = self.no_in = False
            self.nl()
            e = self.expr()
            if self.at(","):
                items = [e]
                while self.at(","):
                    self.take()
                    self.nl()
                    items.append(self.expr())
                self.nl()
                self.take(")")
                self.no_gt, self.no_in = save
                return ("grouplist", items)
            self.nl()
            self.take(")")
            self.no_gt, self.no_in = save
            return ("group", e)
        if tt == "NAME":
            if self.at("["):
                self.take()
                subs = self.exprlist()
                self.take("]")
                return ("idx", t.val, subs)
            return ("var", t.val)
        if tt == "FUNC_NAME":
            self.take("(")
            self.nl()
            args = []
            save = self.no_gt, self.no_in
            self.no_gt = self.no_in = False
            if not self.at(")"):
                args = self.exprlist()
            self.nl()
            self.take(")")
            self.no_gt, self.no_in = save
            return ("call", t.val, args)
        if tt == "BUILTIN":
            args = []
            if self.at("("):
                self.take()
                self.nl()
                save = self.no_gt, self.no_in
                self.no_gt = self.no_in = False
                if not self.at(")"):
                    args = self.exprlist()
                self.nl()
                self.take(")")
                self.no_gt, self.no_in = save
            elif t.val != "length":
                self.error(t)
            return ("builtin", t.val, args)
        if tt == "getline":
            lv = self.opt_lvalue()
            if self.at("<"):
                self.take()
                src = self.primary_incdec()
                return ("getline", "file", lv, src)
            return ("getline", "main", lv, None)
        if tt == "-":
            return ("neg", self.unary())
        if tt == "+":
            return ("pos", self.unary())
        if tt == "!":
            return ("not", self.unary())
        if tt in ("++", "--"):
            self.p -= 1
            return self.postfix()
        self.error(t)
        return None

    def primary_incdec(self) -> Any:
        p = self.primary()
        if p[0] in ("var", "idx", "field") and self.at("++", "--"):
            return ("postinc", self.take().type, p)
        return p


# ------------------------------------------------------------------ compiler
SPECIALS = {
    "NR": 0.0,
    "FNR": 0.0,
    "FS": " ",
    "OFS": " ",
    "ORS": "\n",
    "RS": "\n",
    "SUBSEP": "\x1c",
    "CONVFMT": "%.6g",
    "OFMT": "%.6g",
    "RSTART": 0.0,
    "RLENGTH": -1.0,
    "FILENAME": "",
    "ARGC": 0.0,
    "IGNORECASE": 0.0,
    "RT": "",
}


class Compiler:
    def __init__(self, p: Parser) -> None:
        self.p = p
        self.arrays: set[str] = {"ENVIRON", "ARGV"}
        self.scalars: set[str] = set()
        self.fn_arrays: dict[str, set[int]] = {}
        self.locals: dict[str, bool] | None = None  # name -> is_array
        self.tmp = 0
        self.regexes: dict[str, str] = {}
        self.in_main = True
        self.lines: list[str] = []
        self.ind = 0
        self.nrange = 0
        self._analyze()

    # --- array analysis
    def _walk(self, node: Any, fn: Any) -> None:
        if isinstance(node, tuple):
            fn(node)
            for x in node[1:]:
                self._walk(x, fn)
        elif isinstance(node, list):
            for x in node:
                self._walk(x, fn)

    def _analyze(self) -> None:
        p = self.p
        local_arr: dict[str, set[str]] = {f: set() for f in p.funcs}

        def mark(scope: str | None, name: str) -> bool:
            if scope is not None and name in p.funcs[scope][0]:
                if name in local_arr[scope]:
                    return False
                local_arr[scope].add(name)
                return True
            if name in self.arrays:
                return False
            self.arrays.add(name)
            return True

        def visit(scope: str | None, node: Any) -> bool:
            changed = False

            def f(n: tuple) -> None:
                nonlocal changed
                k = n[0]
                if k in ("idx", "delete"):
                    changed |= mark(scope, n[1])
                elif k == "in":
                    changed |= mark(scope, n[2])
                elif k == "forin":
                    changed |= mark(scope, n[2])
                elif (
                    k == "builtin"
                    and n[1] in ("split", "match")
                    and len(n[2]) >= (2 if n[1] == "split" else 3)
                ):
                    a = n[2][1 if n[1] == "split" else 2]
                    if a[0] == "var":
                        changed |= mark(scope, a[1])
                elif k == "call" and n[1] in p.funcs:
                    params = p.funcs[n[1]][0]
                    for i, a in enumerate(n[2]):
                        if i < len(params) and params[i] in local_arr[n[1]] and a[0] == "var":
                            changed |= mark(scope, a[1])
                        elif a[0] == "var" and i < len(params):
                            # caller's array passed: callee param becomes array
                            is_arr = (
                                (a[1] in local_arr[scope])
                                if (scope and a[1] in p.funcs[scope][0])
                                else (
                                    a[1] in self.arrays
                                    and not (scope and a[1] in p.funcs[scope][0])
                                )
                            )
                            if is_arr and params[i] not in local_arr[n[1]]:
                                local_arr[n[1]].add(params[i])
                                changed = True

            self._walk(node, f)
            return changed

        for _ in range(20):
            ch = False
            for b in p.begin + p.end:
                ch |= visit(None, b)
            for r in p.rules:
                ch |= visit(None, list(r))
            for fname, (_params, body) in p.funcs.items():
                ch |= visit(fname, body)
            if not ch:
                break
        for fname, (params, _b) in p.funcs.items():
            self.fn_arrays[fname] = {i for i, n in enumerate(params) if n in local_arr[fname]}

    # --- emit
    def emit(self, s: str) -> None:
        self.lines.append("    " * self.ind + s)

    def newtmp(self) -> str:
        self.tmp += 1
        return f"_t{self.tmp}"

    def rxname(self, src: str) -> str:
        if src not in self.regexes:
            self.regexes[src] = f"RX{len(self.regexes)}"
        return self.regexes[src]

    def is_local(self, name: str) -> bool:
        return self.locals is not None and name in self.locals

    def arrname(self, name: str) -> str:
        if self.is_local(name):
            return "l_" + name
        if name not in self.arrays:
            self.arrays.add(name)
        return "a_" + name

    def varname(self, name: str) -> str:
        if self.is_local(name):
            return "l_" + name
        if name in self.arrays:
            raise AwkError(f"attempt to use array `{name}' in a scalar context")
        self.scalars.add(name)
        return "v_" + name

    # --- expressions: return (code, type) type in n/s/x/b
    def val(self, node: Any) -> str:
        c, t = self.ex(node)
        if t == "b":
            return f"(1.0 if {c} else 0.0)"
        return c

    def num(self, node: Any) -> str:
        c, t = self.ex(node)
        if t == "n":
            return c
        if t == "b":
            return f"(1.0 if {c} else 0.0)"
        return f"N({c})"

    def str_(self, node: Any) -> str:
        c, t = self.ex(node)
        if t == "s":
            return c
        if t == "b":
            return f"('1' if {c} else '0')"
        if t == "n":
            return f"S({c})"
        return f"S({c})"

    def cond(self, node: Any) -> str:
        c, t = self.ex(node)
        if t == "b":
            return c
        if t == "n":
            return f"({c} != 0.0)"
        if t == "s":
            return f"({c} != '')"
        return f"T({c})"

    def key(self, subs: list[Any]) -> str:
        if len(subs) == 1:
            c, t = self.ex(subs[0])
            if t == "s":
                return c
            return f"K({self.val(subs[0])})"
        parts = [f"K({self.val(s)})" for s in subs]
        return "(" + " + v_SUBSEP + ".join(parts) + ")"

    def regex_of(self, node: Any) -> str:
        if node[0] == "re":
            return self.rxname(node[1])
        return f"rx({self.str_(node)})"

    def assign_code(self, lv: Any, valcode: str) -> str:
        k = lv[0]
        if k == "var":
            if lv[1] == "NF" and not self.is_local("NF"):
                return f"R.set_nf({valcode})"
            return f"({self.varname(lv[1])} := {valcode})"
        if k == "idx":
            return f"ASET({self.arrname(lv[1])}, {self.key(lv[2])}, {valcode})"
        if k == "field":
            return f"R.setf({self.num(lv[1])}, {valcode})"
        raise AwkError("invalid assignment target")

    def read_lv(self, lv: Any) -> str:
        return self.ex(lv)[0]

    def ex(self, n: Any) -> tuple[str, str]:
        k = n[0]
        if k == "num":
            v = n[1]
            return (repr(v) if v not in (math.inf,) else "float('inf')", "n")
        if k == "str":
            return (repr(n[1]), "s")
        if k == "re":
            return (f"({self.rxname(n[1])}.search(R.r0) is not None)", "b")
        if k == "group":
            return self.ex(n[1])
        if k == "grouplist":
            return ("(" + " + v_SUBSEP + ".join(self.str_(x) for x in n[1]) + ")", "s")
        if k == "var":
            name = n[1]
            if name == "NF" and not self.is_local(name):
                return ("R.nf()", "n")
            if self.is_local(name):
                return ("l_" + name, "x")
            if name in self.arrays:
                return ("a_" + name, "x")
            return (self.varname(name), "x")
        if k == "field":
            if n[1] == ("num", 0.0):
                return ("R.r0", "x")
            return (f"R.getf({self.num(n[1])})", "x")
        if k == "idx":
            return (f"{self.arrname(n[1])}[{self.key(n[2])}]", "x")
        if k == "in":
            return (f"({self.key(n[1])} in {self.arrname(n[2])})", "b")
        if k == "assign":
            op, lv, e = n[1], n[2], n[3]
            if op == "=":
                return (self.assign_code(lv, self.val(e)), "x")
            if lv[0] == "var":
                cur = self.num(lv)
                return (self.assign_code(lv, self.arith(op[0], cur, self.num(e))), "n")
            if lv[0] == "idx":
                return (
                    f"AOP({self.arrname(lv[1])}, {self.key(lv[2])}, {op[0]!r}, {self.num(e)})",
                    "n",
                )
            return (f"R.fop({self.num(lv[1])}, {op[0]!r}, {self.num(e)})", "n")
        if k == "cond":
            return (f"({self.val(n[2])} if {self.cond(n[1])} else {self.val(n[3])})", "x")
        if k == "or":
            return (f"({self.cond(n[1])} or {self.cond(n[2])})", "b")
        if k == "and":
            return (f"({self.cond(n[1])} and {self.cond(n[2])})", "b")
        if k == "not":
            return (f"(not {self.cond(n[1])})", "b")
        if k == "match":
            c = f"({self.regex_of(n[3])}.search({self.str_(n[2])}) is {'' if n[1] else 'not '}None)"
            return (c, "b")
        if k == "cmp":
            op = n[1]
            a, ta = self.ex(n[2])
            b, tb = self.ex(n[3])
            if ta == "b":
                a, ta = f"(1.0 if {a} else 0.0)", "n"
            if tb == "b":
                b, tb = f"(1.0 if {b} else 0.0)", "n"
            if ta == "n" and tb == "n":
                return (f"({a} {op} {b})", "b")
            if ta == "s" or tb == "s":
                sa = a if ta == "s" else f"S({a})"
                sb = b if tb == "s" else f"S({b})"
                return (f"({sa} {op} {sb})", "b")
            return (f"(CMP({a}, {b}) {op} 0)", "b")
        if k == "cat":
            return (f"({self.str_(n[1])} + {self.str_(n[2])})", "s")
        if k == "bin":
            return (self.arith(n[1], self.num(n[2]), self.num(n[3])), "n")
        if k == "neg":
            return (f"(-{self.num(n[1])})", "n")
        if k == "pos":
            return (f"(+{self.num(n[1])})", "n")
        if k in ("preinc", "postinc"):
            lv = n[2]
            d = "1.0" if n[1] == "++" else "-1.0"
            if lv[0] == "var":
                new = self.assign_code(lv, f"({self.num(lv)} + {d})")
                if k == "preinc":
                    return (new, "n")
                return (f"({new} - {d})", "n")
            post = "True" if k == "postinc" else "False"
            if lv[0] == "idx":
                return (f"AINC({self.arrname(lv[1])}, {self.key(lv[2])}, {d}, {post})", "n")
            return (f"R.finc({self.num(lv[1])}, {d}, {post})", "n")
        if k == "call":
            return (self.call(n), "x")
        if k == "builtin":
            return self.builtin(n[1], n[2])
        if k == "getline":
            kind, lv, src = n[1], n[2], n[3]
            if kind == "main":
                get = "R.gl_main()"
            elif kind == "file":
                get = f"R.gl_file({self.str_(src)})"
            else:
                get = f"R.gl_cmd({self.str_(src)})"
            if lv is None:
                return (f"R.gl_set0({get}, {kind != 'file'})", "n")
            t = self.newtmp()
            return (
                f"(({t} := {get}), "
                f"({self.assign_code(lv, f'SN({t}[1])')} if {t}[0] > 0 else None))[0][0]",
                "n",
            )
        raise AwkError(f"cannot compile {k}")

    def arith(self, op: str, a: str, b: str) -> str:
        if op in "+-*":
            return f"({a} {op} {b})"
        if op == "/":
            return f"DIV({a}, {b})"
        if op == "%":
            return f"MOD({a}, {b})"
        if op == "^":
            return f"POW({a}, {b})"
        raise AwkError(op)

    def call(self, n: Any) -> str:
        name, args = n[1], n[2]
        if name not in self.p.funcs:
            raise AwkError(f"calling undefined function {name}")
        params = self.p.funcs[name][0]
        if len(args) > len(params):
            raise AwkError(f"function `{name}' called with more arguments than declared")
        arrs = self.fn_arrays[name]
        codes = []
        for i, a in enumerate(args):
            if i in arrs:
                if a[0] != "var":
                    raise AwkError(f"function `{name}': argument {i + 1} must be an array")
                codes.append(self.arrname(a[1]))
            elif a[0] == "var" and (
                a[1] in self.arrays
                and not self.is_local(a[1])
                or (self.is_local(a[1]) and self.locals and self.locals[a[1]])
            ):
                codes.append(self.arrname(a[1]))
            else:
                codes.append(self.val(a))
        return f"f_{name}({', '.join(codes)})"

    def builtin(self, name: str, args: list[Any]) -> tuple[str, str]:
        a = args
        if name == "length":
            if not a:
                return ("float(len(R.r0))", "n")
            if a[0][0] == "var" and (
                a[0][1] in self.arrays
                and not self.is_local(a[0][1])
                or (self.is_local(a[0][1]) and self.locals and self.locals[a[0][1]])
            ):
                return (f"float(len({self.arrname(a[0][1])}))", "n")
            return (f"float(len({self.str_(a[0])}))", "n")
        if name == "substr":
            return (f"SUBSTR({', '.join([self.str_(a[0])] + [self.num(x) for x in a[1:3]])})", "s")
        if name == "index":
            return (f"INDEX({self.str_(a[0])}, {self.str_(a[1])})", "n")
        if name == "split":
            if len(a) < 2 or a[1][0] != "var":
                raise AwkError("split: second argument must be an array")
            arr = self.arrname(a[1][1])
            if len(a) > 2:
                sep = f"{self.regex_of(a[2])}" if a[2][0] == "re" else self.str_(a[2])
            else:
                sep = "v_FS"
            seps = ""
            if len(a) > 3 and a[3][0] == "var":
                seps = ", " + self.arrname(a[3][1])
            return (f"SPLIT({self.str_(a[0])}, {arr}, {sep}{seps})", "n")
        if name in ("sub", "gsub"):
            if len(a) < 2:
                raise AwkError(f"{name}: not enough arguments")
            target = a[2] if len(a) > 2 else ("field", ("num", 0.0))
            t = self.newtmp()
            re_code = self.regex_of(a[0])
            g = "True" if name == "gsub" else "False"
            if target[0] in ("var", "idx", "field"):
                assign = self.assign_code(target, f"{t}[1]")
                return (
                    f"(({t} := GSUB({re_code}, {self.str_(a[1])}, {self.str_(target)}, {g})), "
                    f"({assign} if {t}[0] else None))[0][0]",
                    "n",
                )
            return (f"GSUB({re_code}, {self.str_(a[1])}, {self.str_(target)}, {g})[0]", "n")
        if name == "gensub":
            tgt = self.str_(a[3]) if len(a) > 3 else "R.r0"
            how = self.val(a[2]) if len(a) > 2 else "'g'"
            return (f"GENSUB({self.regex_of(a[0])}, {self.str_(a[1])}, {how}, {tgt})", "s")
        if name == "match":
            arr = "None"
            if len(a) > 2 and a[2][0] == "var":
                arr = self.arrname(a[2][1])
            return (f"MATCH({self.str_(a[0])}, {self.regex_of(a[1])}, {arr})", "n")
        if name == "sprintf":
            if not a:
                raise AwkError("sprintf: no format")
            return (
                f"awk_sprintf({self.str_(a[0])}, [{', '.join(self.val(x) for x in a[1:])}], G)",
                "s",
            )
        if name in ("sin", "cos", "exp", "log", "sqrt"):
            return (f"MATH_{name}({self.num(a[0]) if a else 'N(R.r0)'})", "n")
        if name == "atan2":
            return (f"math.atan2({self.num(a[0])}, {self.num(a[1])})", "n")
        if name == "int":
            return (f"INT({self.num(a[0])})", "n")
        if name == "rand":
            return ("R.rand()", "n")
        if name == "srand":
            return (f"R.srand({self.num(a[0]) if a else 'None'})", "n")
        if name == "tolower":
            return (f"{self.str_(a[0])}.lower()", "s")
        if name == "toupper":
            return (f"{self.str_(a[0])}.upper()", "s")
        if name == "system":
            return (f"R.system({self.str_(a[0])})", "n")
        if name == "close":
            return (f"R.close({self.str_(a[0])})", "n")
        if name in ("and", "or", "xor"):
            op = {"and": "&", "or": "|", "xor": "^"}[name]
            return ("float(" + f" {op} ".join(f"int({self.num(x)})" for x in a) + ")", "n")
        if name in ("lshift", "rshift"):
            op = "<<" if name == "lshift" else ">>"
            return (f"float(int({self.num(a[0])}) {op} int({self.num(a[1])}))", "n")
        if name == "compl":
            return (f"float(~int({self.num(a[0])}) & 0x1FFFFFFFFFFFFF)", "n")
        if name == "fflush":
            return ("0.0", "n")
        if name == "systime":
            return ("float(int(__import__('time').time()))", "n")
        if name == "strftime":
            fmt = self.str_(a[0]) if a else "'%a %b %e %H:%M:%S %Z %Y'"
            ts = self.num(a[1]) if len(a) > 1 else "None"
            return (f"STRFTIME({fmt}, {ts})", "s")
        raise AwkError(f"unknown builtin {name}")

    # --- statements
    def block(self, node: Any) -> None:
        start = len(self.lines)
        if node[0] == "block":
            for s in node[1]:
                self.stmt(s)
        else:
            self.stmt(node)
        if len(self.lines) == start:
            self.emit("pass")

    def loop_tail(self) -> None:
        self.emit("TICK()")
        if self.in_main:
            self.emit("if len(OUT) > 64 or ERR: yield from FLUSH()")

    def stmt(self, s: Any) -> None:
        k = s[0]
        if k == "block":
            for x in s[1]:
                self.stmt(x)
        elif k == "expr":
            e = s[1]
            self.emit(self.ex(e)[0])
        elif k in ("print", "printf"):
            args, dest = s[1], s[2]
            if k == "print":
                if not args:
                    text = "R.r0 + v_ORS"
                else:
                    parts = []
                    for a in args:
                        c, t = self.ex(a)
                        if t == "s":
                            parts.append(c)
                        elif t == "b":
                            parts.append(f"('1' if {c} else '0')")
                        else:
                            parts.append(f"O({c})")
                    text = " + v_OFS + ".join(parts) + " + v_ORS"
            else:
                rest = ", ".join(self.val(x) for x in args[1:])
                text = f"awk_sprintf({self.str_(args[0])}, [{rest}], G)"
            if dest is None:
                self.emit(f"OUT.append({text})")
            else:
                self.emit(f"R.write({dest[0]!r}, {self.str_(dest[1])}, {text})")
        elif k == "if":
            self.emit(f"if {self.cond(s[1])}:")
            self.ind += 1
            self.block(s[2])
            self.ind -= 1
            if s[3] is not None:
                self.emit("else:")
                self.ind += 1
                self.block(s[3])
                self.ind -= 1
        elif k == "while":
            self.emit(f"while {self.cond(s[1])}:")
            self.ind += 1
            self.loop_tail()
            self.block(s[2])
            self.ind -= 1
        elif k == "do":
            t = self.newtmp()
            self.emit(f"{t} = True")
            self.emit(f"while {t} or {self.cond(s[2])}:")
            self.ind += 1
            self.emit(f"{t} = False")
            self.loop_tail()
            self.block(s[1])
            self.ind -= 1
        elif k == "for":
            init, cnd, incr, body = s[1:]
            if init is not None:
                self.stmt(init)
            t = self.newtmp()
            self.emit(f"{t} = False")
            self.emit("while True:")
            self.ind += 1
            if incr is not None:
                self.emit(f"if {t}:")
                self.ind += 1
                self.stmt(incr)
                self.ind -= 1
            self.emit(f"{t} = True")
            if cnd is not None:
                self.emit(f"if not {self.cond(cnd)}: break")
            self.loop_tail()
            self.block(body)
            self.ind -= 1
        elif k == "forin":
            t = self.newtmp()
            arr = self.arrname(s[2])
            self.emit(f"for {t} in list({arr}):")
            self.ind += 1
            self.emit(f"if {t} not in {arr}: continue")
            self.emit(self.assign_code(("var", s[1]), f"SN({t})"))
            self.loop_tail()
            self.block(s[3])
            self.ind -= 1
        elif k == "break":
            self.emit("break")
        elif k == "continue":
            self.emit("continue")
        elif k == "next":
            self.emit("raise NextRec")
        elif k == "nextfile":
            self.emit("raise NextFile")
        elif k == "exit":
            if s[1] is not None:
                self.emit(f"R.exit_code = int({self.num(s[1])}) & 255")
            self.emit("raise ExitAwk")
        elif k == "return":
            if self.locals is None:
                raise AwkError("return outside function")
            self.emit(f"return {self.val(s[1]) if s[1] is not None else 'UNINIT'}")
        elif k == "delete":
            arr = self.arrname(s[1])
            if s[2] is None:
                self.emit(f"{arr}.clear()")
            else:
                self.emit(f"{arr}.pop({self.key(s[2])}, None)")
        else:
            raise AwkError(f"cannot compile statement {k}")

    def compile(self) -> str:
        p = self.p
        out: list[str] = []
        # functions
        for fname, (params, body) in p.funcs.items():
            self.locals = {n: (i in self.fn_arrays[fname]) for i, n in enumerate(params)}
            self.in_main = False
            self.lines = []
            self.ind = 1
            for n in params:
                if self.locals[n]:
                    self.emit(f"if l_{n} is None: l_{n} = AA()")
            self.block(body)
            self.emit("return UNINIT")
            sig = ", ".join(f"l_{n}=None" if self.locals[n] else f"l_{n}=UNINIT" for n in params)
            out.append(f"def f_{fname}({sig}):\n    global GLOBALS_HERE\n" + "\n".join(self.lines))
        self.locals = None
        self.in_main = True
        self.lines = []
        self.ind = 1
        self.emit("try:")
        self.ind += 1
        for b in p.begin:
            self.block(b)
        self.emit("pass")
        self.ind -= 1
        self.emit("except ExitAwk:")
        self.emit("    R.exiting = True")
        self.emit("except (NextRec, NextFile):")
        self.emit("    raise AwkError('next used in BEGIN or END')")
        self.emit("if OUT or ERR: yield from FLUSH()")
        if p.rules or p.end:
            self.emit("try:")
            self.ind += 1
            self.emit("while not R.exiting and R.nextrec():")
            self.ind += 1
            self.emit("TICK()")
            self.emit("try:")
            self.ind += 1
            for pat, pat2, action in p.rules:
                if pat2 is not None:
                    ri = self.nrange
                    self.nrange += 1
                    m = self.newtmp()
                    self.emit(f"{m} = False")
                    self.emit(f"if RNG[{ri}]:")
                    self.emit(f"    {m} = True")
                    self.emit(f"    if {self.cond(pat2)}: RNG[{ri}] = False")
                    self.emit(f"elif {self.cond(pat)}:")
                    self.emit(f"    {m} = True")
                    self.emit(f"    if not {self.cond(pat2)}: RNG[{ri}] = True")
                    self.emit(f"if {m}:")
                elif pat is not None:
                    self.emit(f"if {self.cond(pat)}:")
                else:
                    self.emit("if True:")
                self.ind += 1
                if action is None:
                    self.emit("OUT.append(R.r0 + v_ORS)")
                else:
                    self.block(action)
                self.ind -= 1
            self.emit("pass")
            self.ind -= 1
            self.emit("except NextRec:")
            self.emit("    pass")
            self.emit("except NextFile:")
            self.emit("    R.skipfile()")
            self.emit("if len(OUT) > 64 or ERR: yield from FLUSH()")
            self.ind -= 1
            self.ind -= 1
            self.emit("except ExitAwk:")
            self.emit("    R.exiting = True")
        self.emit("if OUT or ERR: yield from FLUSH()")
        if p.end:
            self.emit("try:")
            self.ind += 1
            for b in p.end:
                self.block(b)
            self.emit("pass")
            self.ind -= 1
            self.emit("except ExitAwk:")
            self.emit("    pass")
            self.emit("except (NextRec, NextFile):")
            self.emit("    raise AwkError('next used in BEGIN or END')")
        self.emit("if OUT or ERR: yield from FLUSH()")
        out.append("def main():\n    global GLOBALS_HERE\n" + "\n".join(self.lines))
        names = sorted({"v_" + s for s in self.scalars | set(SPECIALS)})
        gl = ", ".join(names)
        return "\n\n".join(out).replace("GLOBALS_HERE", gl) + "\n"


# ------------------------------------------------------------------ runtime helpers
def K(v: Any) -> str:
    if v.__class__ is float:
        if v == int(v) if v == v and abs(v) != math.inf else False:
            return str(int(v))
        return num2str(v, _G_CONVFMT[0])
    return v


_G_CONVFMT = ["%.6g"]


def DIV(a: float, b: float) -> float:
    if b == 0:
        raise AwkError("division by zero attempted")
    return a / b


def MOD(a: float, b: float) -> float:
    if b == 0:
        raise AwkError("division by zero attempted in `%'")
    return math.fmod(a, b)


def POW(a: float, b: float) -> float:
    try:
        r = a**b
    except OverflowError:
        return math.inf
    except ZeroDivisionError:
        return math.inf
    if isinstance(r, complex):
        return math.nan
    return float(r)


def INT(x: float) -> float:
    if x != x or x in (math.inf, -math.inf):
        return x
    return float(int(x))


def _mathwrap(f: Any) -> Any:
    def g(x: float) -> float:
        try:
            return f(x)
        except (ValueError, OverflowError):
            if f is math.log and x == 0:
                return -math.inf
            if f is math.exp:
                return math.inf
            return math.nan

    return g


def SUBSTR(s: str, m: float, n: float | None = None) -> str:
    L = len(s)
    if m != m:
        return ""

    def rnd(x: float) -> float:
        if x in (math.inf, -math.inf):
            return x
        return float(round(x))

    start = rnd(m)
    if n is None:
        end = L + 1.0
    else:
        if n != n:
            return ""
        end = start + rnd(n) if n != math.inf else math.inf
    if start < 1:
        start = 1.0
    if end > L + 1:
        end = L + 1.0
    if end <= start:
        return ""
    return s[int(start) - 1 : int(end) - 1]


_WS = re.compile(r"[ \t\n]+")


def split_fields(s: str, fs: Any, paragraph: bool = False) -> list[str]:
    if isinstance(fs, re.Pattern):
        if s == "":
            return []
        return fs.split(s)
    if fs == " ":
        s = s.strip(" \t\n")
        return _WS.split(s) if s else []
    if s == "":
        return []
    if fs == "":
        return list(s)
    if paragraph and len(fs) == 1:
        if fs != "\\":
            return re.split("[" + re.escape(fs) + "\n]", s)
        return rx("(" + fs + ")|\n").split(s) if False else re.split(ere_to_py(fs) + "|\n", s)
    if len(fs) == 1 and fs != "\\":
        if fs == "\t" or not fs.isalnum():
            return s.split(fs)
        return s.split(fs)
    return rx(fs).split(s) if rx(fs).groups == 0 else re.split(f"(?:{ere_to_py(fs)})", s)


def SPLIT(s: str, arr: AA, fs: Any, seps: AA | None = None) -> float:
    if isinstance(fs, re.Pattern) and fs.pattern == "":
        fs = ""
    parts = split_fields(s, fs)
    arr.clear()
    for i, p in enumerate(parts):
        arr[str(i + 1)] = SN(p)
    return float(len(parts))


def _expand_repl(repl: str, m: str) -> str:
    if "\\" not in repl and "&" not in repl:
        return repl
    out = []
    i = 0
    n = len(repl)
    while i < n:
        c = repl[i]
        if c == "\\" and i + 1 < n and repl[i + 1] in "&\\":
            out.append(repl[i + 1])
            i += 2
            continue
        if c == "&":
            out.append(m)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def GSUB(rxp: re.Pattern[str], repl: str, s: str, glob: bool) -> tuple[int, str]:
    out = []
    pos = 0
    n = 0
    prev_end = -1
    L = len(s)
    while pos <= L:
        m = rxp.search(s, pos)
        if m is None:
            break
        st, en = m.span()
        if st == en and st == prev_end:
            if st < L:
                out.append(s[pos : st + 1])
            pos = st + 1
            continue
        out.append(s[pos:st])
        out.append(_expand_repl(repl, m.group()))
        n += 1
        prev_end = en
        if not glob:
            pos = en
            break
        if st == en:
            if st < L:
                out.append(s[st])
            pos = st + 1
        else:
            pos = en
    if n == 0:
        return (0.0, s)
    out.append(s[pos:])
    return (float(n), "".join(out))


def GENSUB(rxp: re.Pattern[str], repl: str, how: Any, s: str) -> str:
    glob = isinstance(how, str) and how[:1] in "gG"
    which = (
        1
        if glob
        else max(1, int(tonum(how)) if not isinstance(how, str) or looksnum(SN(how)) else 1)
    )
    count = 0
    out = []
    pos = 0

    def exp(m: re.Match[str]) -> str:
        r = []
        i = 0
        while i < len(repl):
            c = repl[i]
            if c == "\\" and i + 1 < len(repl):
                d = repl[i + 1]
                if d.isdigit():
                    r.append(m.group(int(d)) or "" if int(d) <= (rxp.groups or 0) else "")
                elif d == "&":
                    r.append("&")
                else:
                    r.append(d)
                i += 2
                continue
            r.append(m.group() if c == "&" else c)
            i += 1
        return "".join(r)

    L = len(s)
    while pos <= L:
        m = rxp.search(s, pos)
        if not m:
            break
        count += 1
        st, en = m.span()
        if glob or count == which:
            out.append(s[pos:st])
            out.append(exp(m))
        else:
            out.append(s[pos:en])
        if st == en:
            if st < L:
                out.append(s[st])
            pos = en + 1
        else:
            pos = en
        if not glob and count >= which:
            break
    out.append(s[pos:])
    return "".join(out)


def INDEX(s: str, t: str) -> float:
    return float(s.find(t) + 1) if t else 0.0


def ASET(arr: AA, k: str, v: Any) -> Any:
    arr[k] = v
    return v


def _op(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return DIV(a, b)
    if op == "%":
        return MOD(a, b)
    return POW(a, b)


def AOP(arr: AA, k: str, op: str, v: float) -> float:
    r = _op(op, tonum(arr[k]), v)
    arr[k] = r
    return r


def AINC(arr: AA, k: str, d: float, post: bool) -> float:
    old = tonum(arr[k])
    arr[k] = old + d
    return old if post else old + d


def CMP(a: Any, b: Any) -> int:
    if looksnum(a) and looksnum(b):
        x, y = tonum(a), tonum(b)
    else:
        x = a if a.__class__ is not float else num2str(a, _G_CONVFMT[0])
        y = b if b.__class__ is not float else num2str(b, _G_CONVFMT[0])
    return (x > y) - (x < y)


class RecReader:
    def __init__(self, inp: Input) -> None:
        self.inp = inp
        self.sbuf = ""
        self.eof = False

    def read(self, rs: str) -> str | None:
        inp = self.inp
        if rs == "\n" and not self.sbuf:
            b = inp.readline()
            if not b:
                return None
            return dec(b[:-1] if b.endswith(b"\n") else b)
        if rs == "":
            while True:
                b = inp.readline()
                if not b:
                    return None
                if b != b"\n":
                    break
            lines = [b]
            while True:
                b = inp.readline()
                if not b or b == b"\n":
                    break
                lines.append(b)
            return dec(b"".join(lines).rstrip(b"\n"))
        if len(rs) == 1:
            b = inp.readline(enc(rs))
            if not b:
                return None
            return dec(b[:-1] if b.endswith(enc(rs)) else b)
        p = rx(rs)
        while True:
            m = p.search(self.sbuf)
            if m and m.end() > m.start() and (m.end() < len(self.sbuf) or self.eof):
                rec = self.sbuf[: m.start()]
                self.sbuf = self.sbuf[m.end() :]
                return rec
            if self.eof:
                if self.sbuf:
                    rec, self.sbuf = self.sbuf, ""
                    return rec
                return None
            c = inp.read_chunk()
            if not c:
                self.eof = True
            else:
                self.sbuf += dec(c)


class Runtime:
    def __init__(self, sh: Any, G: dict[str, Any], inp: Input, nassign: int) -> None:
        self.sh = sh
        self.G = G
        self.stdin = inp
        self.r0: Any = UNINIT
        self.flds: list[Any] | None = []
        self.exiting = False
        self.exit_code = 0
        self.argi = 1
        self.cur: RecReader | None = None
        self.used_file = False
        self.rfiles: dict[str, RecReader] = {}
        self.wfiles: dict[str, Any] = {}
        self.opipes: dict[str, list[str]] = {}
        self.ipipes: dict[str, RecReader] = {}
        self.seed = 0.0
        self.rng = random.Random(0)
        self.status = 0
        self.fs: Any = " "

    # records
    def set0(self, s: str) -> None:
        self.r0 = SN(s)
        self.flds = None
        self.fs = self.G["v_FS"]

    def split(self) -> list[Any]:
        G = self.G
        fs = tostr(self.fs, G)
        parts = split_fields(self.r0, fs, G["v_RS"] == "")
        self.flds = [SN(x) for x in parts]
        return self.flds

    def nf(self) -> float:
        f = self.flds
        if f is None:
            f = self.split()
        return float(len(f))

    def getf(self, i: float) -> Any:
        if i == 0:
            return self.r0
        f = self.flds
        if f is None:
            f = self.split()
        k = int(i)
        if k < 0:
            raise AwkError(f"attempt to access field {k}")
        if k <= len(f):
            return f[k - 1]
        return UNINIT

    def rebuild(self) -> None:
        G = self.G
        ofs = tostr(G["v_OFS"], G)
        self.r0 = SN(ofs.join(tostr(x, G) if x.__class__ is float else x for x in self.flds or []))

    def setf(self, i: float, v: Any) -> Any:
        k = int(i)
        if k == 0:
            self.set0(tostr(v, self.G))
            return v
        if k < 0:
            raise AwkError(f"attempt to access field {k}")
        f = self.flds
        if f is None:
            f = self.split()
        while len(f) < k:
            f.append(UNINIT)
        f[k - 1] = v
        self.rebuild()
        return v

    def set_nf(self, v: Any) -> Any:
        n = int(tonum(v))
        f = self.flds
        if f is None:
            f = self.split()
        if n < len(f):
            del f[n:]
        while len(f) < n:
            f.append(UNINIT)
        self.rebuild()
        return v

    def fop(self, i: float, op: str, v: float) -> float:
        r = _op(op, tonum(self.getf(i)), v)
        self.setf(i, r)
        return r

    def finc(self, i: float, d: float, post: bool) -> float:
        old = tonum(self.getf(i))
        self.setf(i, old + d)
        return old if post else old + d

    def _open_next(self) -> bool:
        G = self.G
        argv = G["a_ARGV"]
        while self.argi < int(tonum(G["v_ARGC"])):
            a = argv.get(str(self.argi), "")
            self.argi += 1
            a = tostr(a, G)
            if a == "":
                continue
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", a, re.S)
            if m:
                self.assign_var(m.group(1), m.group(2))
                continue
            self.used_file = True
            G["v_FILENAME"] = a
            G["v_FNR"] = 0.0
            if a in ("-", "/dev/stdin"):
                self.cur = RecReader(self.stdin)
                return True
            path = self.sh.resolve(a)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except IsADirectoryError:
                self.warn(f"warning: command line argument `{a}' is a directory: skipped")
                continue
            except OSError as e:
                self.status = 2
                raise AwkError(f'cannot open "{a}" ({e.strerror})') from None
            self.cur = RecReader(Input(data))
            return True
        if not self.used_file:
            self.used_file = True
            self.cur = RecReader(self.stdin)
            G["v_FNR"] = 0.0
            return True
        return False

    def assign_var(self, name: str, val: str) -> None:
        if name == "NF":
            self.set_nf(SN(_unescape(val)))
            return
        self.G["v_" + name] = SN(_unescape(val))
        if name == "CONVFMT":
            _G_CONVFMT[0] = val

    def read_main(self) -> str | None:
        G = self.G
        while True:
            if self.cur is None:
                if not self._open_next():
                    return None
            assert self.cur is not None
            rec = self.cur.read(tostr(G["v_RS"], G))
            if rec is not None:
                G["v_NR"] = tonum(G["v_NR"]) + 1.0
                G["v_FNR"] = tonum(G["v_FNR"]) + 1.0
                return rec
            self.cur = None

    def nextrec(self) -> bool:
        rec = self.read_main()
        if rec is None:
            return False
        self.r0 = SN(rec)
        self.flds = None
        self.fs = self.G["v_FS"]
        return True

    def skipfile(self) -> None:
        self.cur = None

    def gl_main(self) -> tuple[float, str]:
        rec = self.read_main()
        if rec is None:
            return (0.0, "")
        return (1.0, rec)

    def gl_set0(self, r: tuple[float, str], count: bool) -> float:
        if r[0] > 0:
            self.set0(r[1])
            if count and False:
                pass
        return r[0]

    def gl_file(self, name: str) -> tuple[float, str]:
        rd = self.rfiles.get(name)
        if rd is None:
            if name in ("-", "/dev/stdin"):
                rd = RecReader(self.stdin)
            else:
                try:
                    with open(self.sh.resolve(name), "rb") as f:
                        rd = RecReader(Input(f.read()))
                except OSError:
                    return (-1.0, "")
            self.rfiles[name] = rd
        rec = rd.read(tostr(self.G["v_RS"], self.G))
        if rec is None:
            return (0.0, "")
        return (1.0, rec)

    def gl_cmd(self, cmd: str) -> tuple[float, str]:
        rd = self.ipipes.get(cmd)
        if rd is None:
            st, out = self.run_cmd(cmd, b"", capture=True)
            rd = RecReader(Input(out))
            self.ipipes[cmd] = rd
        rec = rd.read(tostr(self.G["v_RS"], self.G))
        if rec is None:
            return (0.0, "")
        G = self.G
        G["v_NR"] = tonum(G["v_NR"]) + 1.0
        return (1.0, rec)

    # commands through the enclosing shell
    def run_cmd(self, cmd: str, stdin: bytes, capture: bool = False) -> tuple[int, bytes]:
        sh = self.sh
        if not hasattr(sh, "fork") or not hasattr(sh, "run_subshell_source"):
            self.warn("cannot run commands")
            return (-1, b"")
        sub = sh.fork()
        gen = sub.run_subshell_source(cmd, Input(stdin))
        cap: list[bytes] = []
        st = 0
        try:
            while True:
                fd, data = next(gen)
                if fd == 1:
                    if capture:
                        cap.append(data)
                    else:
                        self.G["OUT"].append(dec(data))
                else:
                    self.G["ERR"].append(dec(data))
        except StopIteration as e:
            st = e.value if isinstance(e.value, int) else 0
        return (st, b"".join(cap))

    def system(self, cmd: str) -> float:
        self.flush_files()
        st, _ = self.run_cmd(cmd, b"")
        return float(st)

    def warn(self, msg: str) -> None:
        self.G["ERR"].append(f"awk: {msg}\n")

    # output
    def write(self, kind: str, dest: str, text: str) -> None:
        if kind == "|":
            self.opipes.setdefault(dest, []).append(text)
            return
        if dest in ("/dev/stdout", "-"):
            self.G["OUT"].append(text)
            return
        if dest == "/dev/stderr":
            self.G["ERR"].append(text)
            return
        f = self.wfiles.get(dest)
        if f is None:
            try:
                f = open(self.sh.resolve(dest), "ab" if kind == ">>" else "wb")
            except OSError as e:
                raise AwkError(f"can't redirect to `{dest}' ({e.strerror})") from None
            self.wfiles[dest] = f
        f.write(enc(text))

    def flush_files(self) -> None:
        for f in self.wfiles.values():
            f.flush()

    def close(self, name: str) -> float:
        r = -1.0
        if name in self.wfiles:
            self.wfiles.pop(name).close()
            r = 0.0
        if name in self.rfiles:
            del self.rfiles[name]
            r = 0.0
        if name in self.ipipes:
            del self.ipipes[name]
            r = 0.0
        if name in self.opipes:
            data = "".join(self.opipes.pop(name))
            st, _ = self.run_cmd(name, enc(data))
            r = float(st)
        return r

    def close_all(self) -> None:
        for name in list(self.opipes):
            self.close(name)
        for f in self.wfiles.values():
            f.close()
        self.wfiles.clear()

    def rand(self) -> float:
        return self.rng.random()

    def srand(self, seed: float | None) -> float:
        import time

        prev = self.seed
        self.seed = float(int(time.time())) if seed is None else seed
        self.rng.seed(self.seed)
        return prev


def MATCH(s: str, rxp: re.Pattern[str], arr: AA | None, G: dict[str, Any] | None = None) -> float:
    g = _RT_G[0]
    m = rxp.search(s)
    if arr is not None:
        arr.clear()
    if m is None:
        g["v_RSTART"] = 0.0
        g["v_RLENGTH"] = -1.0
        return 0.0
    g["v_RSTART"] = float(m.start() + 1)
    g["v_RLENGTH"] = float(m.end() - m.start())
    if arr is not None:
        for i in range(rxp.groups + 1):
            if m.group(i) is not None:
                arr[str(i)] = SN(m.group(i))
                arr[f"{i}\x1cstart"] = float(m.start(i) + 1)
                arr[f"{i}\x1clength"] = float(m.end(i) - m.start(i))
    return float(m.start() + 1)


_RT_G: list[dict[str, Any]] = [{}]


def STRFTIME(fmt: str, ts: float | None) -> str:
    import time

    return time.strftime(fmt, time.localtime(ts))


def compile_program(src: str) -> tuple[str, Parser, Compiler]:
    p = Parser(src)
    p.program()
    c = Compiler(p)
    code = c.compile()
    return code, p, c


def _usage() -> str:
    return "usage: awk [-F fs][-v var=value][prog | -f progfile][file ...]\n"


@command("awk", "gawk", "mawk", "nawk")
def awk(sh: Any, args: list[str], inp: Input) -> Gen:
    fs = None
    assigns: list[str] = []
    progs: list[str] = []
    i = 1
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("-") or a == "-":
            break
        if a.startswith("-F"):
            if len(a) > 2:
                fs = a[2:]
            else:
                i += 1
                if i >= len(args):
                    yield (2, enc(_usage()))
                    return 2
                fs = args[i]
        elif a.startswith("-v"):
            if len(a) > 2:
                assigns.append(a[2:])
            else:
                i += 1
                if i >= len(args):
                    yield (2, enc(_usage()))
                    return 2
                assigns.append(args[i])
        elif a.startswith("-f") or a.startswith("-e") or a in ("--file", "--source"):
            isfile = a.startswith("-f") or a == "--file"
            if len(a) > 2 and not a.startswith("--"):
                val = a[2:]
            else:
                i += 1
                if i >= len(args):
                    yield (2, enc(_usage()))
                    return 2
                val = args[i]
            if isfile:
                try:
                    if val in ("-", "/dev/stdin"):
                        progs.append(dec(inp.read_all()))
                    else:
                        with open(sh.resolve(val), "rb") as f:
                            progs.append(dec(f.read()))
                except OSError:
                    yield (2, enc(f"awk: can't open file {val}\n"))
                    return 2
            else:
                progs.append(val)
        elif a in ("--version", "-V"):
            yield (1, b"awk (sandlot) 1.0\n")
            return 0
        elif a.startswith("--") and "=" in a and a[2:].split("=")[0] == "field-separator":
            fs = a.split("=", 1)[1]
        else:
            yield (2, enc(f"awk: unknown option {a}\n" + _usage()))
            return 2
        i += 1
    if not progs:
        if i >= len(args):
            yield (2, enc(_usage()))
            return 2
        progs.append(args[i])
        i += 1
    operands = args[i:]
    src = "\n".join(progs)
    try:
        code, parser, comp = compile_program(src)
    except AwkError as e:
        yield (2, enc(f"awk: {e}\n"))
        return 2
    except RecursionError:
        yield (2, enc("awk: program too deeply nested\n"))
        return 2
    G: dict[str, Any] = {}
    OUT: list[str] = []
    ERR: list[str] = []
    R = Runtime(sh, G, inp, len(assigns))
    _RT_G[0] = G

    def FLUSH() -> Gen:
        if OUT:
            s = "".join(OUT)
            OUT.clear()
            yield (1, enc(s))
        if ERR:
            s = "".join(ERR)
            ERR.clear()
            yield (2, enc(s))
        return 0

    G.update(
        {
            "R": R,
            "G": G,
            "OUT": OUT,
            "ERR": ERR,
            "FLUSH": FLUSH,
            "TICK": sh.budget.tick,
            "SN": SN,
            "UNINIT": UNINIT,
            "AA": AA,
            "N": tonum,
            "T": truth,
            "K": K,
            "CMP": CMP,
            "S": lambda x: x if x.__class__ is not float else num2str(x, G["v_CONVFMT"]),
            "O": lambda x: x if x.__class__ is not float else num2str(x, G["v_OFMT"]),
            "DIV": DIV,
            "MOD": MOD,
            "POW": POW,
            "INT": INT,
            "SUBSTR": SUBSTR,
            "SPLIT": SPLIT,
            "GSUB": GSUB,
            "INDEX": INDEX,
            "GENSUB": GENSUB,
            "MATCH": MATCH,
            "ASET": ASET,
            "AOP": AOP,
            "AINC": AINC,
            "awk_sprintf": awk_sprintf,
            "rx": rx,
            "math": math,
            "STRFTIME": STRFTIME,
            "MATH_sin": _mathwrap(math.sin),
            "MATH_cos": _mathwrap(math.cos),
            "MATH_exp": _mathwrap(math.exp),
            "MATH_log": _mathwrap(math.log),
            "MATH_sqrt": _mathwrap(math.sqrt),
            "NextRec": NextRec,
            "NextFile": NextFile,
            "ExitAwk": ExitAwk,
            "AwkError": AwkError,
            "RNG": [False] * 64,
        }
    )
    G["RNG"] = [False] * (comp.nrange + 1)
    for k, v in SPECIALS.items():
        G["v_" + k] = v
    for s in comp.scalars:
        G.setdefault("v_" + s, UNINIT)
    for a in comp.arrays:
        G["a_" + a] = AA()
    env = sh.env() if hasattr(sh, "env") else dict(os.environ)
    for k, v in env.items():
        G["a_ENVIRON"][k] = SN(v)
    G["a_ARGV"]["0"] = "awk"
    for j, o in enumerate(operands):
        G["a_ARGV"][str(j + 1)] = SN(o)
    G["v_ARGC"] = float(len(operands) + 1)
    for name, src_rx in comp.regexes.items():
        G[src_rx] = rx(name)
    try:
        if fs is not None:
            G["v_FS"] = "\t" if fs == "t" else _unescape(fs)
        for a in assigns:
            name, eq, val = a.partition("=")
            if not eq or not re.fullmatch(r"[A-Za-z_]\w*", name):
                yield (2, enc(f"awk: invalid -v argument: {a}\n"))
                return 2
            R.assign_var(name, val)
        _G_CONVFMT[0] = G["v_CONVFMT"]
        exec(compile(code, "<awk>", "exec"), G)
        st = yield from G["main"]()
    except AwkError as e:
        yield from FLUSH()
        R.close_all()
        yield (2, enc(f"awk: {e}\n"))
        return 2
    except RecursionError:
        yield from FLUSH()
        R.close_all()
        yield (2, enc("awk: function call nesting too deep\n"))
        return 2
    del st
    R.close_all()
    yield from FLUSH()
    return R.exit_code or R.status


__all__ = ["awk", "COMMANDS"]
