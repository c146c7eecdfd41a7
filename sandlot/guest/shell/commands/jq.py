"""jq: a tree-walking implementation of the jq language (generators all the way down)."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from ..io import Gen, Input
from . import command
from .util import dec, enc


class JQError(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value

    def message(self) -> str:
        v = self.value
        if isinstance(v, str):
            return v
        return dumps(v, None) + " (not a string)"


class JQSyntax(Exception):
    pass


class Break(Exception):
    def __init__(self, label: int) -> None:
        self.label = label


# ------------------------------------------------------------------ values
def typename(v: Any) -> str:
    if v is None:
        return "null"
    if v is True or v is False:
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def sortkey(v: Any) -> Any:
    if v is None:
        return (0,)
    if v is False:
        return (1,)
    if v is True:
        return (2,)
    if isinstance(v, (int, float)):
        return (3, v)
    if isinstance(v, str):
        return (4, v)
    if isinstance(v, list):
        return (5, [sortkey(x) for x in v])
    ks = sorted(v)
    return (6, ks, [sortkey(v[k]) for k in ks])


def jeq(a: Any, b: Any) -> bool:
    return sortkey(a) == sortkey(b)


def truthy(v: Any) -> bool:
    return not (v is None or v is False)


def fmtnum(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if x != x:
        return "null"
    if x in (math.inf, -math.inf):
        return ("-" if x < 0 else "") + "1.7976931348623157e+308"
    if x == int(x) and abs(x) < 1e17:
        return str(int(x))
    r = repr(x)
    if "e" in r:
        m, e = r.split("e")
        r = (
            m
            + "e"
            + ("+" if not e.startswith("-") else "-")
            + e.lstrip("+-").lstrip("0").rjust(2, "0")
        )
    return r


def _jstr(s: str, ascii_only: bool = False) -> str:
    out = json.dumps(s, ensure_ascii=ascii_only)
    return out.replace("\x7f", "\\u007f")


def dumps(
    v: Any,
    indent: int | str | None = 2,
    sort_keys: bool = False,
    ascii_only: bool = False,
    level: int = 0,
) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return fmtnum(v)
    if isinstance(v, str):
        return _jstr(v, ascii_only)
    pad = "\t" if indent == "\t" else " " * indent if indent else ""
    if isinstance(v, list):
        if not v:
            return "[]"
        if not indent:
            return "[" + ",".join(dumps(x, indent, sort_keys, ascii_only) for x in v) + "]"
        inner = "\n" + pad * (level + 1)
        return (
            "["
            + inner
            + ("," + inner).join(dumps(x, indent, sort_keys, ascii_only, level + 1) for x in v)
            + "\n"
            + pad * level
            + "]"
        )
    if not v:
        return "{}"
    keys = sorted(v) if sort_keys else list(v)
    if not indent:
        return (
            "{"
            + ",".join(
                _jstr(k, ascii_only) + ":" + dumps(v[k], indent, sort_keys, ascii_only)
                for k in keys
            )
            + "}"
        )
    inner = "\n" + pad * (level + 1)
    return (
        "{"
        + inner
        + ("," + inner).join(
            _jstr(k, ascii_only) + ": " + dumps(v[k], indent, sort_keys, ascii_only, level + 1)
            for k in keys
        )
        + "\n"
        + pad * level
        + "}"
    )


def desc(v: Any) -> str:
    s = dumps(v, None)
    if len(s) > 11:
        s = s[:10] + "..."
    return f"{typename(v)} ({s})"


# ------------------------------------------------------------------ lexer
_TOKRE = re.compile(
    r"""
 (?P<ws>\s+|\#[^\n]*)
|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
|(?P<str>")
|(?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
|(?P<var>\$(?:__loc__|[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*))
|(?P<fmt>@[A-Za-z0-9_]+)
|(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)
|(?P<op>\?//=|\?//|\|=|\+=|-=|\*=|/=|%=|//=|==|!=|<=|>=|//|\.\.|and\b|or\b|[.\[\]{}()|,:;=<>+\-*/%?$])
""",
    re.X,
)

KEYWORDS = {
    "def",
    "if",
    "then",
    "elif",
    "else",
    "end",
    "as",
    "reduce",
    "foreach",
    "try",
    "catch",
    "label",
    "import",
    "include",
    "and",
    "or",
    "__loc__",
}


def lex(src: str, pos: int = 0, until_paren: bool = False) -> tuple[list[tuple[str, Any]], int]:
    toks: list[tuple[str, Any]] = []
    depth = 0
    n = len(src)
    while pos < n:
        m = _TOKRE.match(src, pos)
        if not m:
            raise JQSyntax(f"syntax error: unexpected character {src[pos]!r}")
        kind = m.lastgroup
        text = m.group()
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "str":
            parts, pos = lex_string(src, m.end())
            toks.append(("STR", parts))
            continue
        pos = m.end()
        if kind == "num":
            toks.append(("NUM", float(text) if any(c in text for c in ".eE") else int(text)))
        elif kind == "field":
            toks.append(("FIELD", text[1:]))
        elif kind == "var":
            toks.append(("VAR", text[1:]))
        elif kind == "fmt":
            toks.append(("FMT", text[1:]))
        elif kind == "ident":
            toks.append(("KW", text) if text in KEYWORDS else ("IDENT", text))
        else:
            if until_paren:
                if text == "(":
                    depth += 1
                elif text == ")":
                    if depth == 0:
                        return toks, pos
                    depth -= 1
            toks.append(("OP", text))
    if until_paren:
        raise JQSyntax("syntax error: unterminated string interpolation")
    return toks, pos


def lex_string(src: str, pos: int) -> tuple[list[Any], int]:
    parts: list[Any] = []
    buf: list[str] = []
    n = len(src)
    while pos < n:
        c = src[pos]
        if c == '"':
            if buf or not parts:
                parts.append("".join(buf))
            return parts, pos + 1
        if c == "\\":
            d = src[pos + 1 : pos + 2]
            if d == "(":
                if buf:
                    parts.append("".join(buf))
                    buf = []
                toks, pos = lex(src, pos + 2, until_paren=True)
                parts.append(toks)
                continue
            if d == "u":
                h = src[pos + 2 : pos + 6]
                cp = int(h, 16)
                pos += 6
                if 0xD800 <= cp < 0xDC00 and src[pos : pos + 2] == "\\u":
                    lo = int(src[pos + 2 : pos + 6], 16)
                    if 0xDC00 <= lo < 0xE000:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        pos += 6
                buf.append(chr(cp))
                continue
            m = {
                "n": "\n",
                "t": "\t",
                "r": "\r",
                "b": "\b",
                "f": "\f",
                "\\": "\\",
                "/": "/",
                '"': '"',
            }.get(d)
            if m is None:
                raise JQSyntax(f"syntax error: invalid escape \\{d}")
            buf.append(m)
            pos += 2
            continue
        buf.append(c)
        pos += 1
    raise JQSyntax("syntax error: unterminated string")


# ------------------------------------------------------------------ parser
class Parser:
    def __init__(self, toks: list[tuple[str, Any]]) -> None:
        self.t = toks
        self.p = 0

    def peek(self, k: int = 0) -> tuple[str, Any]:
        i = self.p + k
        return self.t[i] if i < len(self.t) else ("EOF", None)

    def isop(self, *ops: str) -> bool:
        t = self.peek()
        return t[0] == "OP" and t[1] in ops

    def iskw(self, *kws: str) -> bool:
        t = self.peek()
        return t[0] == "KW" and t[1] in kws

    def take(self) -> tuple[str, Any]:
        t = self.peek()
        self.p += 1
        return t

    def expect(self, kind: str, val: Any = None) -> tuple[str, Any]:
        t = self.take()
        if t[0] != kind or (val is not None and t[1] != val):
            raise JQSyntax(f"syntax error: expected {val or kind} but got {t[1]!r}")
        return t

    def parse(self) -> Any:
        e = self.pipe()
        if self.peek()[0] != "EOF":
            raise JQSyntax(f"syntax error: unexpected {self.peek()[1]!r}")
        return e

    def pipe(self, no_comma: bool = False) -> Any:
        if self.iskw("def"):
            d = self.funcdef()
            return ("defs", d, self.pipe(no_comma))
        if self.iskw("label"):
            self.take()
            name = self.expect("VAR")[1]
            self.expect("OP", "|")
            return ("label", name, self.pipe(no_comma))
        left = self.comma() if not no_comma else self.alt()
        if self.isop("|"):
            self.take()
            return ("pipe", left, self.pipe(no_comma))
        return left

    def funcdef(self) -> Any:
        self.expect("KW", "def")
        t = self.take()
        if t[0] not in ("IDENT", "KW"):
            raise JQSyntax("syntax error: bad function name")
        name = t[1]
        params: list[str] = []
        if self.isop("("):
            self.take()
            while True:
                pt = self.take()
                if pt[0] == "VAR":
                    params.append("$" + pt[1])
                elif pt[0] in ("IDENT", "KW"):
                    params.append(pt[1])
                else:
                    raise JQSyntax("syntax error: bad parameter")
                if self.isop(";"):
                    self.take()
                    continue
                self.expect("OP", ")")
                break
        self.expect("OP", ":")
        body = self.pipe()
        self.expect("OP", ";")
        return (name, params, body)

    def comma(self) -> Any:
        left = self.alt()
        while self.isop(","):
            self.take()
            left = ("comma", left, self.alt())
        return left

    def alt(self) -> Any:
        left = self.assign()
        if self.isop("//"):
            self.take()
            return ("alt", left, self.alt())
        return left

    def assign(self) -> Any:
        left = self.orexp()
        if self.isop("=", "|=", "+=", "-=", "*=", "/=", "%=", "//="):
            op = self.take()[1]
            right = self.alt()
            return ("assign", op, left, right)
        return left

    def orexp(self) -> Any:
        left = self.andexp()
        while self.isop("or") or self.iskw("or"):
            self.take()
            left = ("or", left, self.andexp())
        return left

    def andexp(self) -> Any:
        left = self.cmp()
        while self.isop("and") or self.iskw("and"):
            self.take()
            left = ("and", left, self.cmp())
        return left

    def cmp(self) -> Any:
        left = self.add()
        if self.isop("==", "!=", "<", "<=", ">", ">="):
            op = self.take()[1]
            return ("bin", op, left, self.add())
        return left

    def add(self) -> Any:
        left = self.mul()
        while self.isop("+", "-"):
            op = self.take()[1]
            left = ("bin", op, left, self.mul())
        return left

    def mul(self) -> Any:
        left = self.unary()
        while self.isop("*", "/", "%"):
            op = self.take()[1]
            left = ("bin", op, left, self.unary())
        return left

    def unary(self) -> Any:
        if self.isop("-"):
            self.take()
            return ("neg", self.postfix())
        return self.postfix()

    def postfix(self, allow_as: bool = True) -> Any:
        t = self.term()
        while True:
            if self.peek()[0] == "FIELD":
                t = ("index", t, ("lit", self.take()[1]))
            elif self.isop(".") and self.peek(1)[0] == "STR":
                self.take()
                t = ("index", t, self.string(self.take()[1], None))
            elif self.isop(".") and self.peek(1) == ("OP", "["):
                self.take()
            elif self.isop("["):
                t = self.bracket(t)
            elif self.isop("?"):
                self.take()
                t = ("try", t, None)
            elif allow_as and self.iskw("as"):
                self.take()
                pats = [self.pattern()]
                while self.isop("?//"):
                    self.take()
                    pats.append(self.pattern())
                self.expect("OP", "|")
                return ("as", t, pats, self.pipe())
            else:
                return t

    def bracket(self, t: Any) -> Any:
        self.expect("OP", "[")
        if self.isop("]"):
            self.take()
            return ("iter", t)
        if self.isop(":"):
            self.take()
            hi = self.pipe()
            self.expect("OP", "]")
            return ("slice", t, None, hi)
        lo = self.pipe()
        if self.isop(":"):
            self.take()
            hi = None if self.isop("]") else self.pipe()
            self.expect("OP", "]")
            return ("slice", t, lo, hi)
        self.expect("OP", "]")
        return ("index", t, lo)

    def pattern(self) -> Any:
        t = self.peek()
        if t[0] == "VAR":
            self.take()
            return ("pvar", t[1])
        if self.isop("["):
            self.take()
            items = []
            if not self.isop("]"):
                while True:
                    items.append(self.pattern())
                    if self.isop(","):
                        self.take()
                        continue
                    break
            self.expect("OP", "]")
            return ("parr", items)
        if self.isop("{"):
            self.take()
            entries = []
            while True:
                k = self.take()
                if k[0] == "VAR":
                    if self.isop(":"):
                        self.take()
                        entries.append((("lit", k[1]), k[1], self.pattern()))
                    else:
                        entries.append((("lit", k[1]), k[1], None))
                else:
                    if k[0] in ("IDENT", "KW"):
                        key = ("lit", k[1])
                    elif k[0] == "STR":
                        key = self.string(k[1], None)
                    elif k == ("OP", "("):
                        key = self.pipe()
                        self.expect("OP", ")")
                    else:
                        raise JQSyntax("syntax error: bad object pattern")
                    self.expect("OP", ":")
                    entries.append((key, None, self.pattern()))
                if self.isop(","):
                    self.take()
                    continue
                break
            self.expect("OP", "}")
            return ("pobj", entries)
        raise JQSyntax("syntax error: bad pattern")

    def string(self, parts: list[Any], fmt: str | None) -> Any:
        if len(parts) == 1 and isinstance(parts[0], str):
            return ("lit", parts[0])
        nodes = []
        for p in parts:
            if isinstance(p, str):
                nodes.append(p)
            else:
                nodes.append(Parser(p).parse())
        return ("interp", nodes, fmt)

    def term(self) -> Any:
        t = self.take()
        k, v = t
        if k == "NUM":
            return ("lit", v)
        if k == "STR":
            return self.string(v, None)
        if k == "FMT":
            if self.peek()[0] == "STR":
                return self.string(self.take()[1], v)
            return ("format", v)
        if k == "FIELD":
            return ("index", ("id",), ("lit", v))
        if k == "VAR":
            if v == "__loc__":
                return ("lit", {"file": "<stdin>", "line": 1})
            return ("var", v)
        if k == "KW":
            if v == "if":
                return self.ifexp()
            if v == "try":
                body = self.postfix(allow_as=False)
                handler = None
                if self.iskw("catch"):
                    self.take()
                    handler = self.postfix(allow_as=False)
                return ("try", body, handler)
            if v in ("reduce", "foreach"):
                src = self.postfix(allow_as=False)
                self.expect("KW", "as")
                pat = self.pattern()
                self.expect("OP", "(")
                init = self.pipe()
                self.expect("OP", ";")
                upd = self.pipe()
                ext = None
                if v == "foreach" and self.isop(";"):
                    self.take()
                    ext = self.pipe()
                self.expect("OP", ")")
                if v == "reduce":
                    return ("reduce", src, pat, init, upd)
                return ("foreach", src, pat, init, upd, ext)
            if v == "def":
                self.p -= 1
                d = self.funcdef()
                return ("defs", d, self.pipe())
            if v == "label":
                self.p -= 1
                return self.pipe()
            raise JQSyntax(f"syntax error: unexpected {v}")
        if k == "IDENT":
            if v == "break":
                return ("break", self.expect("VAR")[1])
            if v in ("null", "true", "false") and not self.isop("("):
                return ("lit", {"null": None, "true": True, "false": False}[v])
            args = []
            if self.isop("("):
                self.take()
                while True:
                    args.append(self.pipe())
                    if self.isop(";"):
                        self.take()
                        continue
                    break
                self.expect("OP", ")")
            return ("call", v, args)
        if k == "OP":
            if v == ".":
                if self.peek()[0] == "STR":
                    return ("index", ("id",), self.string(self.take()[1], None))
                if self.isop("["):
                    return ("id",)
                return ("id",)
            if v == "..":
                return ("call", "recurse", [])
            if v == "(":
                e = self.pipe()
                self.expect("OP", ")")
                return ("paren", e)
            if v == "[":
                if self.isop("]"):
                    self.take()
                    return ("array", None)
                e = self.pipe()
                self.expect("OP", "]")
                return ("array", e)
            if v == "{":
                return self.obj()
            if v == "-":
                return ("neg", self.postfix())
        raise JQSyntax(f"syntax error: unexpected {v!r}")

    def ifexp(self) -> Any:
        c = self.pipe()
        self.expect("KW", "then")
        a = self.pipe()
        if self.iskw("elif"):
            self.take()
            return ("if", c, a, self.ifexp())
        b = None
        if self.iskw("else"):
            self.take()
            b = self.pipe()
        self.expect("KW", "end")
        return ("if", c, a, b)

    def obj(self) -> Any:
        entries = []
        while not self.isop("}"):
            t = self.take()
            k, v = t
            if k == "VAR":
                if v == "__loc__":
                    entries.append((("lit", "__loc__"), ("lit", {"file": "<stdin>", "line": 1})))
                else:
                    entries.append((("lit", v), ("var", v)))
                if self.isop(","):
                    self.take()
                continue
            if k in ("IDENT", "KW"):
                key = ("lit", v)
            elif k == "NUM":
                raise JQSyntax("syntax error: object keys must be strings")
            elif k == "STR":
                key = self.string(v, None)
            elif k == "FMT":
                key = self.string(self.take()[1], v) if self.peek()[0] == "STR" else ("format", v)
            elif k == "OP" and v == "(":
                key = self.pipe()
                self.expect("OP", ")")
            else:
                raise JQSyntax(f"syntax error: unexpected {v!r} in object")
            if self.isop(":"):
                self.take()
                val = self.objval()
            else:
                val = ("index", ("id",), key)
            entries.append((key, val))
            if self.isop(","):
                self.take()
                continue
            if not self.isop("}"):
                raise JQSyntax("syntax error: expected , or } in object")
        self.take()
        return ("object", entries)

    def objval(self) -> Any:
        left = self.alt_noc()
        while self.isop("|"):
            self.take()
            left = ("pipe", left, self.alt_noc())
        return left

    def alt_noc(self) -> Any:
        return self.alt()


# ------------------------------------------------------------------ environment
class Env:
    __slots__ = ("parent", "vars", "funcs")

    def __init__(
        self,
        parent: Env | None = None,
        vars: dict[str, Any] | None = None,
        funcs: dict[tuple[str, int], Any] | None = None,
    ) -> None:
        self.parent = parent
        self.vars = vars or {}
        self.funcs = funcs or {}

    def var(self, name: str) -> Any:
        e: Env | None = self
        while e is not None:
            if name in e.vars:
                return e.vars[name]
            e = e.parent
        raise JQError(f"${name} is not defined")

    def func(self, name: str, arity: int) -> Any:
        e: Env | None = self
        key = (name, arity)
        while e is not None:
            f = e.funcs.get(key)
            if f is not None:
                return f
            e = e.parent
        return None


class FuncDef:
    __slots__ = ("params", "body", "env")

    def __init__(self, params: list[str], body: Any, env: Env) -> None:
        self.params, self.body, self.env = params, body, env


class Closure:
    __slots__ = ("node", "env")

    def __init__(self, node: Any, env: Env) -> None:
        self.node, self.env = node, env


# ------------------------------------------------------------------ path helpers
def getpath(v: Any, path: list[Any]) -> Any:
    for p in path:
        if v is None:
            return None
        v = index_value(v, p)
    return v


def index_value(v: Any, k: Any) -> Any:
    if isinstance(k, str):
        if isinstance(v, dict):
            return v.get(k)
        if v is None:
            return None
        raise JQError(f'Cannot index {typename(v)} with "{k}"')
    if isinstance(k, (int, float)) and not isinstance(k, bool):
        if isinstance(v, list):
            if k != k:
                return None
            i = math.floor(k)
            if i < 0:
                i += len(v)
            return v[i] if 0 <= i < len(v) else None
        if v is None:
            return None
        raise JQError(f"Cannot index {typename(v)} with number")
    if isinstance(k, dict) and ("start" in k or "end" in k):
        return slice_value(v, k.get("start"), k.get("end"))
    if isinstance(k, list) and isinstance(v, list):
        return indices(v, k)
    if v is None:
        return None
    raise JQError(f"Cannot index {typename(v)} with {typename(k)}")


def _slice_bounds(n: int, lo: Any, hi: Any) -> tuple[int, int]:
    def norm(x: Any, d: int) -> int:
        if x is None:
            return d
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            raise JQError("Start and end indices of an array slice must be numbers")
        x = math.floor(x) if isinstance(x, float) else x
        if x < 0:
            x += n
        return max(0, min(n, x))

    return norm(lo, 0), norm(hi, n)


def slice_value(v: Any, lo: Any, hi: Any) -> Any:
    if v is None:
        return None
    if not isinstance(v, (list, str)):
        raise JQError(f"Cannot index {typename(v)} with object")
    a, b = _slice_bounds(len(v), lo, hi)
    return v[a:b] if b > a else v[0:0]


def setpath(v: Any, path: list[Any], new: Any) -> Any:
    if not path:
        return new
    k = path[0]
    if isinstance(k, str):
        if v is None:
            v = {}
        if not isinstance(v, dict):
            raise JQError(f'Cannot index {typename(v)} with "{k}"')
        out = dict(v)
        out[k] = setpath(v.get(k), path[1:], new)
        return out
    if isinstance(k, dict):
        if v is None:
            v = []
        if not isinstance(v, list):
            raise JQError(f"Cannot update field at object index of {typename(v)}")
        a, b = _slice_bounds(len(v), k.get("start"), k.get("end"))
        b = max(a, b)
        repl = setpath(v[a:b], path[1:], new)
        if not isinstance(repl, list):
            raise JQError("A slice of an array can only be assigned another array")
        return v[:a] + repl + v[b:]
    if isinstance(k, (int, float)) and not isinstance(k, bool):
        if v is None:
            v = []
        if not isinstance(v, list):
            raise JQError(f"Cannot index {typename(v)} with number")
        i = math.floor(k)
        if i < 0:
            i += len(v)
            if i < 0:
                raise JQError("Out of bounds negative array index")
        out = list(v)
        if i >= len(out):
            out.extend([None] * (i + 1 - len(out)))
        out[i] = setpath(out[i], path[1:], new)
        return out
    raise JQError(f"Cannot update field at object index of {typename(v)}")


def delpath(v: Any, path: list[Any]) -> Any:
    if v is None:
        return None
    if len(path) == 1:
        k = path[0]
        if isinstance(k, str):
            if not isinstance(v, dict):
                raise JQError(f"Cannot delete field at object index of {typename(v)}")
            out = dict(v)
            out.pop(k, None)
            return out
        if isinstance(k, dict):
            if not isinstance(v, list):
                raise JQError(f"Cannot delete slice of {typename(v)}")
            a, b = _slice_bounds(len(v), k.get("start"), k.get("end"))
            return v[:a] + v[max(a, b) :]
        if isinstance(k, (int, float)):
            if not isinstance(v, list):
                raise JQError(f"Cannot delete field at index of {typename(v)}")
            i = math.floor(k)
            if i < 0:
                i += len(v)
            if 0 <= i < len(v):
                return v[:i] + v[i + 1 :]
            return v
        raise JQError("Invalid path component")
    k = path[0]
    child = index_value(v, k)
    if child is None:
        return v
    return setpath(v, [k], delpath(child, path[1:]))


def delpaths(v: Any, paths: list[Any]) -> Any:
    for p in sorted(paths, key=sortkey, reverse=True):
        if not isinstance(p, list):
            raise JQError("Path must be specified as an array")
        if not p:
            return None
        v = delpath(v, p)
    return v


def indices(v: Any, x: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, str):
        if not isinstance(x, str):
            raise JQError("Cannot determine indices of non-string in string")
        if not x:
            return None
        out = []
        i = v.find(x)
        while i >= 0:
            out.append(i)
            i = v.find(x, i + 1)
        return out
    if isinstance(v, list):
        if not isinstance(x, list):
            x = [x]
        if not x:
            return None
        return [
            i for i in range(len(v) - len(x) + 1) if all(jeq(v[i + j], x[j]) for j in range(len(x)))
        ]
    raise JQError(f"Cannot determine indices in {typename(v)}")


# ------------------------------------------------------------------ arithmetic
def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _norm(x: Any) -> Any:
    if (
        isinstance(x, float)
        and x == x
        and x not in (math.inf, -math.inf)
        and x == int(x)
        and abs(x) < 2**53
    ):
        return int(x)
    return x


def deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def binop(op: str, a: Any, b: Any) -> Any:
    if op == "+":
        if a is None:
            return b
        if b is None:
            return a
        if _num(a) and _num(b):
            return a + b
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        if isinstance(a, list) and isinstance(b, list):
            return a + b
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            out.update(b)
            return out
        raise JQError(f"{desc(a)} and {desc(b)} cannot be added")
    if op == "-":
        if _num(a) and _num(b):
            return a - b
        if isinstance(a, list) and isinstance(b, list):
            return [x for x in a if not any(jeq(x, y) for y in b)]
        raise JQError(f"{desc(a)} and {desc(b)} cannot be subtracted")
    if op == "*":
        if _num(a) and _num(b):
            return a * b
        if isinstance(a, str) and _num(b) or isinstance(b, str) and _num(a):
            s, n = (a, b) if isinstance(a, str) else (b, a)
            if n <= 0:
                return None
            return s * max(1, math.ceil(n)) if n < 1 else s * int(n)
        if isinstance(a, dict) and isinstance(b, dict):
            return deep_merge(a, b)
        raise JQError(f"{desc(a)} and {desc(b)} cannot be multiplied")
    if op == "/":
        if _num(a) and _num(b):
            if b == 0:
                raise JQError(
                    f"{desc(a)} and {desc(b)} cannot be divided because the divisor is zero"
                )
            return _norm(a / b)
        if isinstance(a, str) and isinstance(b, str):
            return split_str(a, b)
        raise JQError(f"{desc(a)} and {desc(b)} cannot be divided")
    if op == "%":
        if _num(a) and _num(b):
            bi = int(b) if b == b and abs(b) != math.inf else 0
            if bi == 0:
                raise JQError(
                    f"{desc(a)} and {desc(b)} cannot be divided because the divisor is zero"
                )
            ai = int(a) if abs(a) != math.inf else 0
            r = abs(ai) % abs(bi)
            return -r if ai < 0 else r
        raise JQError(f"{desc(a)} and {desc(b)} cannot be divided")
    if op == "==":
        return jeq(a, b)
    if op == "!=":
        return not jeq(a, b)
    ka, kb = sortkey(a), sortkey(b)
    if op == "<":
        return ka < kb
    if op == "<=":
        return ka <= kb
    if op == ">":
        return ka > kb
    if op == ">=":
        return ka >= kb
    raise JQError(f"unknown operator {op}")


def split_str(a: str, b: str) -> list[str]:
    if a == "":
        return []
    if b == "":
        return list(a)
    return a.split(b)


def contains(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in a and contains(a[k], v) for k, v in b.items())
    if isinstance(a, list) and isinstance(b, list):
        return all(any(contains(x, y) for x in a) for y in b)
    if isinstance(a, str) and isinstance(b, str):
        return b in a
    if typename(a) == typename(b):
        return jeq(a, b)
    raise JQError(f"{desc(a)} and {desc(b)} cannot have their containment checked")


def tostring(v: Any) -> str:
    return v if isinstance(v, str) else dumps(v, None)


def length(v: Any) -> Any:
    if v is None:
        return 0
    if v is True or v is False:
        raise JQError("boolean (" + dumps(v, None) + ") has no length")
    if _num(v):
        return abs(v)
    return len(v)


def _csv_tsv(v: Any, kind: str) -> str:
    if not isinstance(v, list):
        raise JQError(f"{desc(v)} cannot be {kind}-formatted, only an array can be")
    out = []
    for x in v:
        if _num(x):
            out.append(fmtnum(x))
        elif x is True or x is False:
            out.append("true" if x else "false")
        elif x is None:
            out.append("")
        elif isinstance(x, str):
            if kind == "csv":
                out.append('"' + x.replace('"', '""') + '"')
            else:
                out.append(
                    x.replace("\\", "\\\\")
                    .replace("\t", "\\t")
                    .replace("\n", "\\n")
                    .replace("\r", "\\r")
                )
        else:
            raise JQError(f"{desc(x)} is not valid in a csv row")
    return ("," if kind == "csv" else "\t").join(out)


def _sh_quote(x: Any) -> str:
    if isinstance(x, str):
        return "'" + x.replace("'", "'\\''") + "'"
    if isinstance(x, (list, dict)):
        raise JQError(f"{desc(x)} can not be escaped for shell")
    return dumps(x, None)


def apply_format(name: str, v: Any) -> str:
    if name == "text":
        return tostring(v)
    if name == "json":
        return dumps(v, None)
    if name == "csv":
        return _csv_tsv(v, "csv")
    if name == "tsv":
        return _csv_tsv(v, "tsv")
    if name == "html":
        s = tostring(v)
        return (
            s.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("'", "&#39;")
            .replace('"', "&quot;")
        )
    if name == "uri":
        from urllib.parse import quote

        return quote(tostring(v), safe="-_.~")
    if name == "sh":
        if isinstance(v, list):
            return " ".join(_sh_quote(x) for x in v)
        return _sh_quote(v)
    if name == "base64":
        return base64.b64encode(tostring(v).encode()).decode()
    if name == "base64d":
        s = tostring(v).encode()
        s = s.rstrip(b"=")
        try:
            return base64.b64decode(s + b"=" * (-len(s) % 4)).decode("utf-8", "replace")
        except Exception:
            raise JQError(f"{desc(v)} is not valid base64 data") from None
    if name == "base32":
        return base64.b32encode(tostring(v).encode()).decode()
    if name == "base32d":
        return base64.b32decode(tostring(v).encode()).decode("utf-8", "replace")
    raise JQError(f"{name} is not a valid format")


# ------------------------------------------------------------------ regex
def _flags(mods: Any) -> tuple[int, bool]:
    fl = 0
    glob = False
    if mods is None:
        return fl, glob
    if not isinstance(mods, str):
        raise JQError(f"{desc(mods)} is not a string")
    for c in mods:
        if c == "g":
            glob = True
        elif c == "i":
            fl |= re.I
        elif c == "x":
            fl |= re.X
        elif c == "s":
            fl |= re.S
        elif c == "n":
            pass
        elif c == "l":
            pass
        else:
            raise JQError(f"{mods} is not a valid modifier string")
    return fl, glob


_RE_CACHE: dict[tuple[str, int], re.Pattern[str]] = {}


def _compile(rx: Any, fl: int) -> re.Pattern[str]:
    if not isinstance(rx, str):
        raise JQError(f"{desc(rx)} cannot be matched, as it is not a string")
    key = (rx, fl)
    p = _RE_CACHE.get(key)
    if p is None:
        src = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", rx)
        src = src.replace("\\h", "[0-9a-fA-F]").replace("\\A", "\\A").replace("\\z", "\\Z")
        try:
            p = re.compile(src, fl)
        except re.error as e:
            raise JQError(f"{rx} (at offset {e.pos or 0}) is not a valid regex: {e}") from None
        _RE_CACHE[key] = p
    return p


def _match_obj(m: re.Match[str], s: str) -> dict[str, Any]:
    def cpos(i: int) -> int:
        return i

    names = {v: k for k, v in m.re.groupindex.items()}
    caps = []
    for g in range(1, (m.re.groups or 0) + 1):
        if m.start(g) >= 0:
            caps.append(
                {
                    "offset": cpos(m.start(g)),
                    "length": m.end(g) - m.start(g),
                    "string": m.group(g),
                    "name": names.get(g),
                }
            )
        else:
            caps.append({"offset": -1, "length": 0, "string": None, "name": names.get(g)})
    return {
        "offset": cpos(m.start()),
        "length": m.end() - m.start(),
        "string": m.group(),
        "captures": caps,
    }


def regex_matches(s: Any, rx: Any, mods: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(s, str):
        raise JQError(f"{desc(s)} cannot be matched, as it is not a string")
    fl, glob = _flags(mods)
    p = _compile(rx, fl)
    if not glob:
        m = p.search(s)
        if m:
            yield _match_obj(m, s)
        return
    pos = 0
    while pos <= len(s):
        m = p.search(s, pos)
        if not m:
            return
        yield _match_obj(m, s)
        pos = m.end() if m.end() > m.start() else m.end() + 1


# ------------------------------------------------------------------ interpreter
PRELUDE = r"""
def values: select(. != null);
def nulls: select(. == null);
def booleans: select(type == "boolean");
def numbers: select(type == "number");
def strings: select(type == "string");
def arrays: select(type == "array");
def objects: select(type == "object");
def iterables: select(type == "array" or type == "object");
def scalars: select(type != "array" and type != "object");
def map(f): [.[] | f];
def map_values(f): .[] |= f;
def recurse(f): def r: ., (f | r); r;
def recurse(f; cond): def r: ., (f | select(cond) | r); r;
def to_entries: [keys_unsorted[] as $k | {key: $k, value: .[$k]}];
def from_entries: reduce .[] as $x ({};
  . + { ($x | if type == "object" then
          (if has("key") then .key elif has("k") then .k elif has("name") then .name
           elif has("Name") then .Name elif has("Key") then .Key elif has("K") then .K else null
  end)
        else . end
        | if type == "string" then . elif type == "null" then "null" else tojson end):
        ($x | if type == "object" then
          (if has("value") then .value elif has("v") then .v elif has("Value") then .Value
           else null end) else null end) });
def with_entries(f): to_entries | map(f) | from_entries;
def paths: path(..) | select(length > 0);
def paths(node_filter): . as $dot | paths | select(. as $p | $dot | getpath($p) | node_filter);
def leaf_paths: paths(scalars);
def del(f): delpaths([path(f)]);
def to_array: if type == "array" then . else [.] end;
def toarray: if type == "array" then . else [.] end;
def isempty(g): first((g | false), true);
def any: reduce .[] as $x (false; . or $x);
def all: reduce .[] as $x (true; . and $x);
def any(f): reduce (.[] | f) as $x (false; . or $x);
def all(f): reduce (.[] | f) as $x (true; . and $x);
def any(g; cond): isempty(first(g | cond | select(.))) | not;
def all(g; cond): isempty(first(g | cond | select(. | not)));
def in(xs): . as $x | xs | has($x);
def inside(xs): . as $x | xs | contains($x);
def walk(f): def w: if type == "object" then map_values(w) elif type == "array" then map(w) else
  . end | f; w;
def env: $ENV;
def until(cond; update): def _until: if cond then . else (update | _until) end; _until;
def while(cond; update): def _while: if cond then ., (update | _while) else empty end; _while;
def repeat(f): def _repeat: ., (f | _repeat); _repeat;
def capture(re): capture(re; null);
def capture(re; mods): match(re; mods) | reduce (.captures | .[] | select(.name != null)
  | {key: .name, value: .string}) as $pair ({}; . + {($pair.key): $pair.value});
def scan(re): scan(re; null);
def scan(re; $flags): match(re; "g" + ($flags // "")) | if (.captures | length > 0)
  then [.captures | .[] | .string] else .string end;
def splits($re): splits($re; null);
def splits($re; flags): split($re; flags) | .[];
def add(f): reduce f as $x (null; . + $x);
def finites: select(isinfinite or isnan | not);
def normals: select(isnormal);
def combinations: if length == 0 then [] else .[0][] as $x | (.[1:] | combinations) as $w | [$x]
  + $w end;
def combinations(n): . as $dot | [range(n)] | map($dot) | combinations;
def ascii: [.] | implode;
def todate: strftime("%Y-%m-%dT%H:%M:%SZ");
def dateadd(u; n): . + n;
def datesub(u; n): . - n;
def date: todate;
def fromdateiso8601: strptime("%Y-%m-%dT%H:%M:%SZ") | mktime;
def todateiso8601: strftime("%Y-%m-%dT%H:%M:%SZ");
def fromdate: fromdateiso8601;
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] |= $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
def GROUP_BY(f): group_by(f);
def tostream: path(def r: (.[]? | r), .; r) as $p | getpath($p) | reduce path(.[]?) as $q ([$p,
  .]; [$p + $q]);
def fromstream(f): { x: null, e: false } as $init
  | foreach f as $i ($init;
      if .e then $init else . end
      | if $i | length == 2
        then setpath(["e"]; $i[0] | length == 0) | setpath(["x"] + $i[0]; $i[1])
        else setpath(["e"]; $i[0] | length == 1) end;
      if .e then .x else empty end);
def truncate_stream(stream): . as $n | null | stream | . as $input
  | if (.[0] | length) > $n then setpath([0]; .[0][$n:]) else empty end;
def limit($n; f): if $n > 0 then label $out | foreach f as $item (0; . + 1; $item, if . >= $n
  then break $out else empty end)
  elif $n == 0 then empty else f end;
def first(f): label $__first | (f | ., break $__first);
def first: .[0];
def last: .[-1];
def nth($n): .[$n];
def nth($n; f): if $n < 0 then error("Out of bounds negative array index") else last(limit($n +
  1; f)) end;
def pick(pathexps): . as $top | reduce path(pathexps) as $p (null; setpath($p; $top | getpath($p)));
def getpath_or_null(p): getpath(p);
def abs: if type == "number" and . < 0 then - . else . end;
def have_decnum: false;
def have_literal_numbers: true;
def @base32d: .;
def ltrimstr($x): if type == "string" and ($x | type) == "string" and startswith($x) then .[($x |
  length):] else . end;
def rtrimstr($x): if type == "string" and ($x | type) == "string" and endswith($x) and ($x |
  length) > 0
  then .[:length - ($x | length)] else . end;
def sub(re; str): sub(re; str; "");
def gsub(re; str): sub(re; str; "g");
def gsub(re; str; $flags): sub(re; str; $flags + "g");
def test(re): test(re; null);
def match(re): match(re; null);
def unique: unique_by(.);
def max: max_by(.);
def min: min_by(.);
def sort: sort_by(.);
def join($x): reduce .[] as $i (null; (if . == null then "" else . + $x end)
  + ($i | if . == null then "" elif type == "string" then . elif type == "number" or type ==
  "boolean"
     then tojson else error("Cannot join with \(type)") end)) // "";
def flatten: flatten(1e9);
def range($x): range(0; $x);
def todate(f): strftime(f);
def input_line_number: 0;
def halt_error: halt_error(5);
def getpath_safe(p): getpath(p);
def splits_compat: .;
def @text: tostring;
def @json: tojson;
def error(msg): msg | error;
def add: reduce .[] as $x (null; . + $x);
def debug(msg): (msg | debug | empty), .;
def objects_or_arrays: iterables;
def significand: if . == 0 then 0 else . as $x | ($x | fabs | log2 | floor) as $e | $x / pow(2;
  $e) end;
def logb: if . == 0 then -infinite else fabs | log2 | floor end;
def gamma: lgamma;
def trim: ltrim | rtrim;
"""


def _compile_prelude() -> Env:
    toks, _ = lex(
        PRELUDE.replace("def @base32d: .;", "")
        .replace("def @text: tostring;", "")
        .replace("def @json: tojson;", "")
        + " ."
    )
    node = Parser(toks).parse()
    env = Env()
    while node[0] == "defs":
        name, params, body = node[1]
        env.funcs[(name, len(params))] = FuncDef(params, body, env)
        node = node[2]
    return env


class Interp:
    def __init__(
        self, sh: Any, named: dict[str, Any], inputs: Any, errw: Callable[[str], None]
    ) -> None:
        self.sh = sh
        self.inputs = inputs
        self.errw = errw
        self.labels = 0
        self.named = named
        self.tick = sh.budget.tick if sh is not None else (lambda: None)

    # values ------------------------------------------------------------
    def ev(self, n: Any, v: Any, env: Env) -> Iterator[Any]:
        k = n[0]
        if k == "id":
            yield v
        elif k == "lit":
            yield n[1]
        elif k == "paren":
            yield from self.ev(n[1], v, env)
        elif k == "pipe":
            for x in self.ev(n[1], v, env):
                yield from self.ev(n[2], x, env)
        elif k == "comma":
            yield from self.ev(n[1], v, env)
            yield from self.ev(n[2], v, env)
        elif k == "index":
            for t in self.ev(n[1], v, env):
                for key in self.ev(n[2], v, env):
                    yield index_value(t, key)
        elif k == "slice":
            for t in self.ev(n[1], v, env):
                for hi in self.ev(n[3], v, env) if n[3] else [None]:
                    for lo in self.ev(n[2], v, env) if n[2] else [None]:
                        yield slice_value(t, lo, hi)
        elif k == "iter":
            for t in self.ev(n[1], v, env):
                if isinstance(t, list):
                    yield from t
                elif isinstance(t, dict):
                    yield from t.values()
                else:
                    raise JQError(f"Cannot iterate over {desc(t) if t is not None else 'null'}")
        elif k == "try":
            try:
                for x in self.ev(n[1], v, env):
                    yield x
            except JQError as e:
                if e.value is _BREAK_SENTINEL:
                    raise
                if n[2] is not None:
                    yield from self.ev(n[2], e.value, env)
        elif k == "bin":
            op = n[1]
            for b in self.ev(n[3], v, env):
                for a in self.ev(n[2], v, env):
                    yield binop(op, a, b)
        elif k == "and":
            for a in self.ev(n[1], v, env):
                if not truthy(a):
                    yield False
                    continue
                for b in self.ev(n[2], v, env):
                    yield truthy(b)
        elif k == "or":
            for a in self.ev(n[1], v, env):
                if truthy(a):
                    yield True
                    continue
                for b in self.ev(n[2], v, env):
                    yield truthy(b)
        elif k == "neg":
            for a in self.ev(n[1], v, env):
                if not _num(a):
                    raise JQError(f"{desc(a)} cannot be negated")
                yield -a
        elif k == "alt":
            found = False
            try:
                for x in self.ev(n[1], v, env):
                    if truthy(x):
                        found = True
                        yield x
            except JQError:
                pass
            if not found:
                yield from self.ev(n[2], v, env)
        elif k == "if":
            for c in self.ev(n[1], v, env):
                if truthy(c):
                    yield from self.ev(n[2], v, env)
                elif n[3] is not None:
                    yield from self.ev(n[3], v, env)
                else:
                    yield v
        elif k == "array":
            yield [] if n[1] is None else list(self.ev(n[1], v, env))
        elif k == "object":
            yield from self.build_obj(n[1], 0, {}, v, env)
        elif k == "interp":
            yield from self.interp(n[1], n[2], 0, "", v, env)
        elif k == "format":
            yield apply_format(n[1], v)
        elif k == "var":
            if n[1] == "ENV":
                yield self.env_obj()
            elif n[1] == "__prog_args":
                yield []
            else:
                yield env.var(n[1])
        elif k == "as":
            for x in self.ev(n[1], v, env):
                yield from self.bind_alts(n[2], x, env, lambda e2: self.ev(n[3], v, e2))
        elif k == "reduce":
            for acc in self.ev(n[3], v, env):
                accs = [acc]
                for x in self.ev(n[1], v, env):
                    self.tick()
                    for e2 in self.bind(n[2], x, env):
                        nxt = None
                        got = False
                        for a in accs:
                            for r in self.ev(n[4], a, e2):
                                nxt = r
                                got = True
                        accs = [nxt] if got else [None]
                yield accs[-1]
        elif k == "foreach":
            for acc in self.ev(n[3], v, env):
                for x in self.ev(n[1], v, env):
                    self.tick()
                    for e2 in self.bind(n[2], x, env):
                        for r in list(self.ev(n[4], acc, e2)):
                            acc = r
                            if n[5] is None:
                                yield r
                            else:
                                yield from self.ev(n[5], r, e2)
        elif k == "defs":
            name, params, body = n[1]
            e2 = Env(env)
            e2.funcs[(name, len(params))] = FuncDef(params, body, e2)
            yield from self.ev(n[2], v, e2)
        elif k == "call":
            yield from self.call(n[1], n[2], v, env)
        elif k == "assign":
            yield from self.assign(n, v, env)
        elif k == "label":
            self.labels += 1
            lid = self.labels
            e2 = Env(env, {"*label*" + n[1]: lid})
            try:
                yield from self.ev(n[2], v, e2)
            except Break as b:
                if b.label != lid:
                    raise
        elif k == "break":
            try:
                lid = env.var("*label*" + n[1])
            except JQError:
                raise JQError("$*label-" + n[1] + " is not defined") from None
            raise Break(lid)
        else:
            raise JQError(f"unknown node {k}")

    def env_obj(self) -> dict[str, str]:
        if self.sh is not None and hasattr(self.sh, "env"):
            return dict(self.sh.env())
        return {}

    def build_obj(
        self, entries: list[Any], i: int, acc: dict[str, Any], v: Any, env: Env
    ) -> Iterator[Any]:
        if i == len(entries):
            yield dict(acc)
            return
        kn, vn = entries[i]
        for key in self.ev(kn, v, env):
            if not isinstance(key, str):
                raise JQError(
                    "Object keys must be strings"
                    if key is not None
                    else "Cannot use null (null) as object key"
                )
            for val in self.ev(vn, v, env):
                acc2 = dict(acc)
                acc2[key] = val
                yield from self.build_obj(entries, i + 1, acc2, v, env)

    def interp(
        self, parts: list[Any], fmt: str | None, i: int, acc: str, v: Any, env: Env
    ) -> Iterator[str]:
        if i == len(parts):
            yield acc
            return
        p = parts[i]
        if isinstance(p, str):
            yield from self.interp(parts, fmt, i + 1, acc + p, v, env)
            return
        for x in self.ev(p, v, env):
            s = apply_format(fmt, x) if fmt else tostring(x)
            yield from self.interp(parts, fmt, i + 1, acc + s, v, env)

    # destructuring -----------------------------------------------------
    def bind(self, pat: Any, val: Any, env: Env) -> Iterator[Env]:
        k = pat[0]
        if k == "pvar":
            yield Env(env, {pat[1]: val})
        elif k == "parr":
            if val is not None and not isinstance(val, list):
                raise JQError(f"Cannot index {typename(val)} with number")
            yield from self._bind_seq([(i, p) for i, p in enumerate(pat[1])], val, env, True)
        elif k == "pobj":
            yield from self._bind_obj(pat[1], 0, val, env)

    def _bind_seq(self, items: list[Any], val: Any, env: Env, arr: bool) -> Iterator[Env]:
        if not items:
            yield env
            return
        i, p = items[0]
        for e2 in self.bind(p, index_value(val, i), env):
            yield from self._bind_seq(items[1:], val, e2, arr)

    def _bind_obj(self, entries: list[Any], i: int, val: Any, env: Env) -> Iterator[Env]:
        if i == len(entries):
            yield env
            return
        kn, varname, sub = entries[i]
        for key in self.ev(kn, val, env):
            if not isinstance(key, str):
                raise JQError(f"Cannot index {typename(val)} with {typename(key)}")
            if val is not None and not isinstance(val, dict):
                raise JQError(f'Cannot index {typename(val)} with "{key}"')
            fv = index_value(val, key)
            e2 = Env(env, {varname: fv}) if varname else env
            if sub is not None:
                for e3 in self.bind(sub, fv, e2):
                    yield from self._bind_obj(entries, i + 1, val, e3)
            else:
                yield from self._bind_obj(entries, i + 1, val, e2)

    def _pat_vars(self, pat: Any, out: list[str]) -> list[str]:
        if pat[0] == "pvar":
            out.append(pat[1])
        elif pat[0] == "parr":
            for p in pat[1]:
                self._pat_vars(p, out)
        else:
            for _k, vn, sub in pat[1]:
                if vn:
                    out.append(vn)
                if sub is not None:
                    self._pat_vars(sub, out)
        return out

    def bind_alts(
        self, pats: list[Any], val: Any, env: Env, body: Callable[[Env], Iterator[Any]]
    ) -> Iterator[Any]:
        if len(pats) == 1:
            for e2 in self.bind(pats[0], val, env):
                yield from body(e2)
            return
        allvars: list[str] = []
        for p in pats:
            self._pat_vars(p, allvars)
        base = Env(env, {x: None for x in allvars})
        for i, p in enumerate(pats):
            try:
                for e2 in self.bind(p, val, base):
                    yield from body(e2)
                return
            except JQError:
                if i == len(pats) - 1:
                    raise

    # calls -------------------------------------------------------------
    def call(self, name: str, args: list[Any], v: Any, env: Env) -> Iterator[Any]:
        f = env.func(name, len(args))
        if f is None:
            nat = NATIVES.get((name, len(args)))
            if nat is None:
                raise JQError(f"{name}/{len(args)} is not defined")
            yield from nat(self, v, args, env)
            return
        if isinstance(f, Closure):
            yield from self.ev(f.node, v, f.env)
            return
        self.tick()
        yield from self._call_def(f, args, v, env, 0, Env(f.env))

    def _call_def(
        self, f: FuncDef, args: list[Any], v: Any, env: Env, i: int, fenv: Env
    ) -> Iterator[Any]:
        if i == len(args):
            yield from self.ev(f.body, v, fenv)
            return
        p = f.params[i]
        if p.startswith("$"):
            for val in self.ev(args[i], v, env):
                e2 = Env(fenv, {p[1:]: val})
                e2.funcs[(p[1:], 0)] = Closure(("lit", val), e2)
                yield from self._call_def(f, args, v, env, i + 1, e2)
        else:
            fenv.funcs[(p, 0)] = Closure(args[i], env)
            yield from self._call_def(f, args, v, env, i + 1, fenv)

    def vals(self, args: list[Any], v: Any, env: Env) -> Iterator[list[Any]]:
        """Cartesian product of argument values (first argument varies slowest)."""
        if not args:
            yield []
            return
        for a in self.ev(args[0], v, env):
            for rest in self.vals(args[1:], v, env):
                yield [a] + rest

    # paths -------------------------------------------------------------
    def paths(self, n: Any, v: Any, env: Env, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
        k = n[0]
        if k == "id":
            yield path, v
        elif k == "paren":
            yield from self.paths(n[1], v, env, path)
        elif k == "pipe":
            for p, x in self.paths(n[1], v, env, path):
                yield from self.paths(n[2], x, env, p)
        elif k == "comma":
            yield from self.paths(n[1], v, env, path)
            yield from self.paths(n[2], v, env, path)
        elif k == "index":
            for p, t in self.paths(n[1], v, env, path):
                for key in self.ev(n[2], v, env):
                    if isinstance(key, float) and key == int(key):
                        key = int(key)
                    yield p + (key,), index_value(t, key)
        elif k == "slice":
            for p, t in self.paths(n[1], v, env, path):
                for hi in self.ev(n[3], v, env) if n[3] else [None]:
                    for lo in self.ev(n[2], v, env) if n[2] else [None]:
                        yield p + ({"start": lo, "end": hi},), slice_value(t, lo, hi)
        elif k == "iter":
            for p, t in self.paths(n[1], v, env, path):
                if isinstance(t, list):
                    for i, x in enumerate(t):
                        yield p + (i,), x
                elif isinstance(t, dict):
                    for kk, x in t.items():
                        yield p + (kk,), x
                elif t is None:
                    continue
                else:
                    raise JQError(f"Cannot iterate over {desc(t)}")
        elif k == "try":
            try:
                for r in self.paths(n[1], v, env, path):
                    yield r
            except JQError:
                if n[2] is not None:
                    raise
        elif k == "if":
            for c in self.ev(n[1], v, env):
                if truthy(c):
                    yield from self.paths(n[2], v, env, path)
                elif n[3] is not None:
                    yield from self.paths(n[3], v, env, path)
                else:
                    yield path, v
        elif k == "alt":
            found = False
            try:
                for p, x in self.paths(n[1], v, env, path):
                    if truthy(x):
                        found = True
                        yield p, x
            except JQError:
                pass
            if not found:
                yield from self.paths(n[2], v, env, path)
        elif k == "as":
            for x in self.ev(n[1], v, env):
                for e2 in self.bind(n[2][0], x, env):
                    yield from self.paths(n[3], v, e2, path)
        elif k == "defs":
            name, params, body = n[1]
            e2 = Env(env)
            e2.funcs[(name, len(params))] = FuncDef(params, body, e2)
            yield from self.paths(n[2], v, e2, path)
        elif k == "label":
            self.labels += 1
            lid = self.labels
            e2 = Env(env, {"*label*" + n[1]: lid})
            try:
                yield from self.paths(n[2], v, e2, path)
            except Break as b:
                if b.label != lid:
                    raise
        elif k == "break":
            yield from self.ev(n, v, env)
        elif k == "reduce":
            for acc in self.paths(n[3], v, env, path):
                for x in self.ev(n[1], v, env):
                    for e2 in self.bind(n[2], x, env):
                        last = None
                        for r in self.paths(n[4], acc[1], e2, acc[0]):
                            last = r
                        acc = last if last is not None else ((), None)
                yield acc
        elif k == "foreach":
            for acc in self.paths(n[3], v, env, path):
                for x in self.ev(n[1], v, env):
                    for e2 in self.bind(n[2], x, env):
                        for r in list(self.paths(n[4], acc[1], e2, acc[0])):
                            acc = r
                            if n[5] is None:
                                yield r
                            else:
                                yield from self.paths(n[5], r[1], e2, r[0])
        elif k == "call":
            name, args = n[1], n[2]
            f = env.func(name, len(args))
            if f is None:
                nat = PATHNATIVES.get((name, len(args)))
                if nat is None:
                    if (name, len(args)) in NATIVES:
                        raise JQError(f"Invalid path expression with result {name}")
                    raise JQError(f"{name}/{len(args)} is not defined")
                yield from nat(self, v, args, env, path)
                return
            if isinstance(f, Closure):
                yield from self.paths(f.node, v, f.env, path)
                return
            yield from self._path_def(f, args, v, env, 0, Env(f.env), path)
        elif k == "var" and n[1] == "__loc__":
            yield path, v
        else:
            for x in self.ev(n, v, env):
                raise JQError(f"Invalid path expression with result {dumps(x, None)[:30]}")

    def _path_def(
        self, f: FuncDef, args: list[Any], v: Any, env: Env, i: int, fenv: Env, path: tuple
    ) -> Iterator[tuple[tuple, Any]]:
        if i == len(args):
            yield from self.paths(f.body, v, fenv, path)
            return
        p = f.params[i]
        if p.startswith("$"):
            for val in self.ev(args[i], v, env):
                e2 = Env(fenv, {p[1:]: val})
                e2.funcs[(p[1:], 0)] = Closure(("lit", val), e2)
                yield from self._path_def(f, args, v, env, i + 1, e2, path)
        else:
            fenv.funcs[(p, 0)] = Closure(args[i], env)
            yield from self._path_def(f, args, v, env, i + 1, fenv, path)

    # assignment --------------------------------------------------------
    def assign(self, n: Any, v: Any, env: Env) -> Iterator[Any]:
        op, lhs, rhs = n[1], n[2], n[3]
        if op == "|=":
            cur = v
            for p, _x in list(self.paths(lhs, v, env)):
                old = getpath(cur, list(p))
                new = _NOTHING
                for r in self.ev(rhs, old, env):
                    new = r
                    break
                if new is _NOTHING:
                    cur = delpaths(cur, [list(p)])
                else:
                    cur = setpath(cur, list(p), new)
            yield cur
            return
        if op == "=":
            for val in self.ev(rhs, v, env):
                cur = v
                for p, _x in list(self.paths(lhs, v, env)):
                    cur = setpath(cur, list(p), val)
                yield cur
            return
        bop = op[:-1]
        for val in self.ev(rhs, v, env):
            cur = v
            for p, _x in list(self.paths(lhs, v, env)):
                old = getpath(cur, list(p))
                if bop == "//":
                    new = old if truthy(old) else val
                else:
                    new = binop(bop, old, val)
                cur = setpath(cur, list(p), new)
            yield cur


_NOTHING = object()
_BREAK_SENTINEL = object()

# ------------------------------------------------------------------ natives
Native = Callable[[Interp, Any, list[Any], Env], Iterator[Any]]
NATIVES: dict[tuple[str, int], Native] = {}
PATHNATIVES: dict[tuple[str, int], Any] = {}


def native(name: str, arity: int = 0) -> Callable[[Native], Native]:
    def deco(f: Native) -> Native:
        NATIVES[(name, arity)] = f
        return f

    return deco


def simple(name: str, arity: int = 0) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A builtin computing one output from the input and its argument values."""

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        def run(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
            if not args:
                yield f(v)
                return
            for vals in it.vals(args[::-1], v, env):
                yield f(v, *vals[::-1])

        NATIVES[(name, arity)] = run
        return f

    return deco


@native("empty")
def _empty(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    return iter(())


@native("error")
def _error(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    raise JQError(v)


@native("not")
def _not(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    yield not truthy(v)


@native("path", 1)
def _path(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for p, _x in it.paths(args[0], v, env):
        yield list(p)


@native("select", 1)
def _select(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for c in it.ev(args[0], v, env):
        if truthy(c):
            yield v


def _select_path(it: Interp, v: Any, args: list[Any], env: Env, path: tuple) -> Iterator[Any]:
    for c in it.ev(args[0], v, env):
        if truthy(c):
            yield path, v


PATHNATIVES[("select", 1)] = _select_path
PATHNATIVES[("empty", 0)] = lambda it, v, args, env, path: iter(())


def _error_path(it: Interp, v: Any, args: list[Any], env: Env, path: tuple) -> Iterator[Any]:
    raise JQError(v)


PATHNATIVES[("error", 0)] = _error_path


def _recurse_all(v: Any, path: tuple) -> Iterator[tuple[tuple, Any]]:
    yield path, v
    if isinstance(v, list):
        for i, x in enumerate(v):
            yield from _recurse_all(x, path + (i,))
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from _recurse_all(x, path + (k,))


@native("recurse")
def _recurse(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for _p, x in _recurse_all(v, ()):
        it.tick()
        yield x


PATHNATIVES[("recurse", 0)] = lambda it, v, args, env, path: _recurse_all(v, path)


def _getpath_path(it: Interp, v: Any, args: list[Any], env: Env, path: tuple) -> Iterator[Any]:
    for p in it.ev(args[0], v, env):
        try:
            x = getpath(v, p)
        except JQError:
            x = None
        yield path + tuple(p), x


PATHNATIVES[("getpath", 1)] = _getpath_path


def _first_path(it: Interp, v: Any, args: list[Any], env: Env, path: tuple) -> Iterator[Any]:
    for r in it.paths(args[0], v, env, path):
        yield r
        return


def _last_path(it: Interp, v: Any, args: list[Any], env: Env, path: tuple) -> Iterator[Any]:
    last = None
    for r in it.paths(args[0], v, env, path):
        last = r
    if last is not None:
        yield last


PATHNATIVES[("last", 1)] = _last_path


@native("last", 1)
def _last(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    last = _NOTHING
    for x in it.ev(args[0], v, env):
        last = x
    if last is not _NOTHING:
        yield last


@native("range", 2)
def _range2(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for lo in it.ev(args[0], v, env):
        for hi in it.ev(args[1], v, env):
            i = lo
            while i < hi:
                it.tick()
                yield i
                i += 1


@native("range", 3)
def _range3(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for lo in it.ev(args[0], v, env):
        for hi in it.ev(args[1], v, env):
            for step in it.ev(args[2], v, env):
                i = lo
                if step > 0:
                    while i < hi:
                        it.tick()
                        yield i
                        i += step
                elif step < 0:
                    while i > hi:
                        it.tick()
                        yield i
                        i += step


def _keyed(it: Interp, v: Any, f: Any, env: Env) -> list[tuple[Any, Any]]:
    if not isinstance(v, list):
        raise JQError(
            f"Cannot index {typename(v)} with number"
            if v is not None
            else "Cannot iterate over null"
        )
    return [(sortkey(list(it.ev(f, x, env))), x) for x in v]


@native("sort_by", 1)
def _sort_by(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    if not isinstance(v, list):
        raise JQError(f"{desc(v)} cannot be sorted, as it is not an array")
    ks = _keyed(it, v, args[0], env)
    yield [x for _k, x in sorted(ks, key=lambda t: t[0])]


@native("group_by", 1)
def _group_by(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    ks = sorted(_keyed(it, v, args[0], env), key=lambda t: t[0])
    out: list[list[Any]] = []
    prev = _NOTHING
    for k, x in ks:
        if out and k == prev:
            out[-1].append(x)
        else:
            out.append([x])
        prev = k
    yield out


@native("unique_by", 1)
def _unique_by(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    ks = sorted(_keyed(it, v, args[0], env), key=lambda t: t[0])
    out = []
    prev: Any = _NOTHING
    for k, x in ks:
        if prev is _NOTHING or k != prev:
            out.append(x)
        prev = k
    yield out


@native("min_by", 1)
def _min_by(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    ks = _keyed(it, v, args[0], env)
    if not ks:
        yield None
        return
    best = ks[0]
    for t in ks[1:]:
        if t[0] < best[0]:
            best = t
    yield best[1]


@native("max_by", 1)
def _max_by(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    ks = _keyed(it, v, args[0], env)
    if not ks:
        yield None
        return
    best = ks[0]
    for t in ks[1:]:
        if t[0] >= best[0]:
            best = t
    yield best[1]


@native("first", 1)
def _first(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for x in it.ev(args[0], v, env):
        yield x
        return


PATHNATIVES[("first", 1)] = _first_path


@native("input")
def _input(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for x in it.inputs:
        yield x
        return
    raise JQError("No more inputs")


@native("inputs")
def _inputs(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for x in it.inputs:
        it.tick()
        yield x


@native("debug")
def _debug(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    it.errw('["DEBUG:",' + dumps(v, None) + "]\n")
    yield v


@native("stderr")
def _stderr(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    it.errw(dumps(v, None))
    yield v


@native("input_filename")
def _input_filename(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    yield None


@native("$__loc__")
def _loc(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    yield {"file": "<stdin>", "line": 1}


class Halt(Exception):
    def __init__(self, code: int, msg: str | None) -> None:
        self.code, self.msg = code, msg


@native("halt")
def _halt(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    raise Halt(0, None)


@native("halt_error", 1)
def _halt_error(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for code in it.ev(args[0], v, env):
        msg = v if isinstance(v, str) else dumps(v, None) + "\n"
        raise Halt(int(code), msg)
    return iter(())


@native("builtins")
def _builtins(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    yield sorted({f"{n}/{a}" for n, a in NATIVES} | {f"{n}/{a}" for n, a in PRELUDE_ENV.funcs})


@native("splits", 2)
def _splits(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for re_, fl in it.vals(args, v, env):
        yield from _split2(v, re_, fl)


@native("sub", 3)
def _sub(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    if not isinstance(v, str):
        raise JQError(f"{desc(v)} cannot be matched, as it is not a string")
    for rx in it.ev(args[0], v, env):
        for flags in it.ev(args[2], v, env):
            matches = list(regex_matches(v, rx, flags))
            yield from _sub_build(it, v, matches, 0, 0, "", args[1], env)


def _sub_build(
    it: Interp, s: str, matches: list[Any], i: int, pos: int, acc: str, repl: Any, env: Env
) -> Iterator[str]:
    if i == len(matches):
        yield acc + s[pos:]
        return
    m = matches[i]
    capobj = {c["name"]: c["string"] for c in m["captures"] if c["name"] is not None}
    for r in it.ev(repl, capobj, env):
        if not isinstance(r, str):
            raise JQError(f"{desc(capobj)} and {desc(r)} cannot be added")
        yield from _sub_build(
            it,
            s,
            matches,
            i + 1,
            m["offset"] + m["length"],
            acc + s[pos : m["offset"]] + r,
            repl,
            env,
        )


@native("getpath", 1)
def _getpath(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for p in it.ev(args[0], v, env):
        if not isinstance(p, list):
            raise JQError("Path must be specified as an array")
        try:
            yield getpath(v, p)
        except JQError:
            yield None


@native("env")
def _env(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    yield it.env_obj()


@native("$ENV")
def _envv(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    yield it.env_obj()


@native("ltrimstr", 1)
def _ltrimstr(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for x in it.ev(args[0], v, env):
        if isinstance(v, str) and isinstance(x, str) and v.startswith(x):
            yield v[len(x) :]
        else:
            yield v


@native("rtrimstr", 1)
def _rtrimstr(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for x in it.ev(args[0], v, env):
        if isinstance(v, str) and isinstance(x, str) and x and v.endswith(x):
            yield v[: -len(x)]
        else:
            yield v


@native("limit", 2)
def _limit(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for n in it.ev(args[0], v, env):
        if n <= 0:
            continue
        c = 0
        for x in it.ev(args[1], v, env):
            yield x
            c += 1
            if c >= n:
                break


def _s(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise JQError(f"{desc(v)} cannot be {what}")
    return v


simple("length")(length)
simple("utf8bytelength")(lambda v: len(_s(v, "utf8bytelength'd").encode()))
simple("type")(typename)
simple("tostring")(tostring)
simple("tojson")(lambda v: dumps(v, None))
simple("ascii_downcase")(
    lambda v: "".join(c.lower() if "A" <= c <= "Z" else c for c in _s(v, "lowercased"))
)
simple("ascii_upcase")(
    lambda v: "".join(c.upper() if "a" <= c <= "z" else c for c in _s(v, "uppercased"))
)
simple("explode")(lambda v: [ord(c) for c in _s(v, "exploded")])
simple("implode")(lambda v: "".join(chr(int(c)) for c in v))
simple("ltrim")(lambda v: _s(v, "trimmed").lstrip())
simple("rtrim")(lambda v: _s(v, "trimmed").rstrip())
simple("reverse")(
    lambda v: (
        v[::-1]
        if isinstance(v, (str, list))
        else []
        if v is None
        else (_ for _ in ()).throw(JQError(f"Cannot reverse {desc(v)}"))
    )
)
simple("floor")(lambda v: _mathf(v, math.floor))
simple("ceil")(lambda v: _mathf(v, math.ceil))
simple("round")(
    lambda v: _mathf(v, lambda x: math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5))
)
simple("sqrt")(lambda v: _mathf(v, math.sqrt))
simple("fabs")(lambda v: _mathf(v, abs))
simple("trunc")(lambda v: _mathf(v, math.trunc))
simple("exp")(lambda v: _mathf(v, math.exp))
simple("exp2")(lambda v: _mathf(v, lambda x: 2.0**x))
simple("exp10")(lambda v: _mathf(v, lambda x: 10.0**x))
simple("log")(lambda v: _mathf(v, math.log))
simple("log2")(lambda v: _mathf(v, math.log2))
simple("log10")(lambda v: _mathf(v, math.log10))
simple("sin")(lambda v: _mathf(v, math.sin))
simple("cos")(lambda v: _mathf(v, math.cos))
simple("tan")(lambda v: _mathf(v, math.tan))
simple("asin")(lambda v: _mathf(v, math.asin))
simple("acos")(lambda v: _mathf(v, math.acos))
simple("atan")(lambda v: _mathf(v, math.atan))
simple("cbrt")(lambda v: _mathf(v, lambda x: math.copysign(abs(x) ** (1 / 3), x)))
simple("lgamma")(lambda v: _mathf(v, math.lgamma))
simple("tgamma")(lambda v: _mathf(v, math.gamma))
simple("pow", 2)(lambda v, a, b: _norm(float(a) ** b))
simple("atan2", 2)(lambda v, a, b: math.atan2(a, b))
simple("fmin", 2)(lambda v, a, b: min(a, b))
simple("fmax", 2)(lambda v, a, b: max(a, b))
simple("infinite")(lambda v: math.inf)
simple("nan")(lambda v: math.nan)
simple("isinfinite")(lambda v: _mathf(v, lambda x: x in (math.inf, -math.inf)))
simple("isnan")(lambda v: isinstance(v, float) and v != v)
simple("isnormal")(lambda v: _num(v) and v == v and v not in (math.inf, -math.inf) and v != 0)
simple("now")(lambda v: __import__("time").time())
simple("keys")(lambda v: _keys(v, True))
simple("keys_unsorted")(lambda v: _keys(v, False))
simple("has", 1)(lambda v, k: _has(v, k))
simple("contains", 1)(contains)
simple("startswith", 1)(lambda v, x: _s(v, "checked").startswith(_strarg(x, "startswith")))
simple("endswith", 1)(lambda v, x: _s(v, "checked").endswith(_strarg(x, "endswith")))
simple("split", 1)(lambda v, sep: split_str(_s(v, "split"), _strarg(sep, "split")))
simple("test", 2)(lambda v, rx, fl: any(True for _ in regex_matches(v, rx, fl)))
simple("indices", 1)(indices)
simple("index", 1)(lambda v, x: (lambda r: r[0] if r else None)(indices(v, x)))
simple("rindex", 1)(lambda v, x: (lambda r: r[-1] if r else None)(indices(v, x)))
simple("tonumber")(lambda v: _tonumber(v))
simple("fromjson")(lambda v: _fromjson(v))
simple("setpath", 2)(lambda v, p, x: setpath(v, p, x))
simple("delpaths", 1)(lambda v, ps: delpaths(v, ps))
simple("flatten", 1)(lambda v, d: _flatten(v, d))
simple("tojson")(lambda v: dumps(v, None))
simple("ascii")(lambda v: chr(v))
simple("transpose")(
    lambda v: [
        [row[i] if i < len(row) else None for row in v]
        for i in range(max((len(r) for r in v), default=0))
    ]
)
simple("gmtime")(lambda v: _gmtime(v))
simple("localtime")(lambda v: _gmtime(v))
simple("mktime")(lambda v: _mktime(v))
simple("strftime", 1)(lambda v, f: _strftime(v, f))
simple("strflocaltime", 1)(lambda v, f: _strftime(v, f))
simple("strptime", 1)(lambda v, f: _strptime(v, f))
simple("trim")(lambda v: _s(v, "trimmed").strip())
simple("abs")(
    lambda v: (
        abs(v) if _num(v) else (_ for _ in ()).throw(JQError(f"{desc(v)} has no absolute value"))
    )
)
simple("to_number")(lambda v: _tonumber(v))


def _split2(v: Any, rx: Any, fl: Any) -> Iterator[str]:
    if not isinstance(v, str):
        raise JQError(f"{desc(v)} cannot be matched, as it is not a string")
    pos = 0
    for m in regex_matches(v, rx, (fl or "") + "g"):
        yield v[pos : m["offset"]]
        pos = m["offset"] + m["length"]
    yield v[pos:]


simple("split", 2)(lambda v, rx, fl: list(_split2(v, rx, fl)))


@native("match", 2)
def _match2(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for rx, fl in it.vals(args, v, env):
        if isinstance(rx, list):
            rx, fl = rx[0], rx[1] if len(rx) > 1 else None
        yield from regex_matches(v, rx, fl)


@native("format", 1)
def _format(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    for f in it.ev(args[0], v, env):
        yield apply_format(f, v)


@native("tostream")
def _tostream(it: Interp, v: Any, args: list[Any], env: Env) -> Iterator[Any]:
    def walk(x: Any, p: list[Any], top: bool) -> Iterator[Any]:
        if isinstance(x, (list, dict)) and x:
            items = list(enumerate(x)) if isinstance(x, list) else list(x.items())
            for k, y in items:
                yield from walk(y, p + [k], False)
            yield [p + [items[-1][0]]]
        else:
            yield [p, x]

    yield from walk(v, [], True)


def _strarg(x: Any, what: str) -> str:
    if not isinstance(x, str):
        raise JQError(f"{what}() requires string inputs")
    return x


def _mathf(v: Any, f: Callable[[float], Any]) -> Any:
    if not _num(v):
        raise JQError(f"{desc(v)} number required")
    try:
        return _norm(f(v))
    except (ValueError, OverflowError):
        return math.nan
    except ZeroDivisionError:
        return -math.inf


def _keys(v: Any, sort: bool) -> Any:
    if isinstance(v, dict):
        return sorted(v) if sort else list(v)
    if isinstance(v, list):
        return list(range(len(v)))
    raise JQError(f"{desc(v)} has no keys")


def _has(v: Any, k: Any) -> bool:
    if isinstance(v, dict) and isinstance(k, str):
        return k in v
    if isinstance(v, list) and _num(k):
        return 0 <= k < len(v)
    raise JQError(f"Cannot check whether {typename(v)} has a {typename(k)} key")


def _tonumber(v: Any) -> Any:
    if _num(v):
        return v
    if isinstance(v, str):
        s = v.strip()
        try:
            if re.fullmatch(r"-?\d+", s):
                return int(s)
            if s.lower() in ("nan", "-nan"):
                return math.nan
            return (
                _norm(float(s))
                if re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s)
                else (_ for _ in ()).throw(ValueError())
            )
        except ValueError:
            raise JQError(f"Cannot parse '{v}' as JSON") from None
    raise JQError(f"{desc(v)} cannot be parsed as a number")


def _fromjson(v: Any) -> Any:
    if not isinstance(v, str):
        raise JQError(f"{desc(v)} cannot be parsed as JSON")
    try:
        vals = list(parse_json_stream(v))
    except ValueError as e:
        raise JQError(
            f"{v} (while parsing '{v}')" if not str(e) else f"{e} (while parsing '{v}')"
        ) from None
    if len(vals) != 1:
        raise JQError(f"Unexpected extra JSON values (while parsing '{v}')")
    return vals[0]


def _flatten(v: Any, d: Any) -> Any:
    if d < 0:
        raise JQError("flatten depth must not be negative")
    if not isinstance(v, list):
        raise JQError(f"Cannot iterate over {desc(v)}")
    out: list[Any] = []
    for x in v:
        if isinstance(x, list) and d > 0:
            out.extend(_flatten(x, d - 1))
        else:
            out.append(x)
    return out


def _gmtime(v: Any) -> Any:
    import time

    if not _num(v):
        raise JQError("gmtime() requires a number")
    t = time.gmtime(math.floor(v))
    return [
        t.tm_year,
        t.tm_mon - 1,
        t.tm_mday,
        t.tm_hour,
        t.tm_min,
        t.tm_sec + (v - math.floor(v)),
        (t.tm_wday + 1) % 7,
        t.tm_yday - 1,
    ]


def _mktime(v: Any) -> Any:
    import calendar

    if not isinstance(v, list) or len(v) < 6:
        raise JQError("mktime requires array of 6 numbers")
    return calendar.timegm(
        (int(v[0]), int(v[1]) + 1, int(v[2]), int(v[3]), int(v[4]), int(v[5]), 0, 0, 0)
    )


def _strftime(v: Any, f: Any) -> Any:
    import time

    if _num(v):
        v = _gmtime(v)
    if not isinstance(v, list):
        raise JQError("strftime/1 requires parsed datetime inputs")
    t = (
        int(v[0]),
        int(v[1]) + 1,
        int(v[2]),
        int(v[3]),
        int(v[4]),
        int(v[5]),
        (int(v[6]) - 1) % 7 if len(v) > 6 else 0,
        int(v[7]) + 1 if len(v) > 7 else 1,
        0,
    )
    return time.strftime(f, t)


def _strptime(v: Any, f: Any) -> Any:
    import calendar
    import time

    if not isinstance(v, str):
        raise JQError("strptime/1 requires string inputs and arguments")
    try:
        t = time.strptime(v, f)
    except ValueError:
        raise JQError(f'date "{v}" does not match format "{f}"') from None
    return _gmtime(calendar.timegm(t))


# ------------------------------------------------------------------ JSON input
_DEC = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def parse_json_stream(text: str) -> Iterator[Any]:
    pos = 0
    n = len(text)
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return
        try:
            v, pos = _DEC.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise ValueError(f"{e.msg} at line {e.lineno}, column {e.colno}") from None
        yield v


def _pc(x: str) -> Any:
    if x in ("nan", "NaN", "-nan", "-NaN"):
        return math.nan
    return float(x)


_DEC = json.JSONDecoder(
    parse_constant=lambda c: {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[c]
)


def json_values(inp: Input, tick: Callable[[], None]) -> Iterator[Any]:
    """Parse a stream of JSON texts incrementally from an Input."""
    buf = ""
    eof = False
    while True:
        tick()
        m = _WS.match(buf)
        if m and m.end():
            buf = buf[m.end() :]
        if not buf:
            if eof:
                return
            c = inp.read_chunk()
            if not c:
                eof = True
                continue
            buf += dec(c)
            continue
        try:
            v, end = _DEC.raw_decode(buf)
        except json.JSONDecodeError as e:
            if not eof:
                c = inp.read_chunk()
                if not c:
                    eof = True
                else:
                    buf += dec(c)
                continue
            raise ValueError(f"{e.msg} at line {e.lineno}, column {e.colno}") from None
        if end == len(buf) and not eof and not isinstance(v, (dict, list, str)):
            c = inp.read_chunk()
            if c:
                buf += dec(c)
                continue
            eof = True
            continue
        buf = buf[end:]
        yield v


PRELUDE_ENV = _compile_prelude()


# ------------------------------------------------------------------ command
def _usage() -> str:
    return (
        "Usage:\tjq [OPTIONS] FILTER [FILES...]\n"
        "Use jq --help for help with command-line options,\nor see the jq manpage.\n"
    )


@command("jq")
def jq(sh: Any, args: list[str], inp: Input) -> Gen:
    opts: dict[str, Any] = {"indent": 2}
    named: dict[str, Any] = {}
    positional: list[Any] = []
    filt: str | None = None
    files: list[str] = []
    i = 1
    rest_mode: str | None = None
    while i < len(args):
        a = args[i]
        i += 1
        if rest_mode is not None and not (a.startswith("-") and a in ("--args", "--jsonargs")):
            if filt is None:
                filt = a
                continue
            if rest_mode == "args":
                positional.append(a)
            else:
                try:
                    positional.append(_fromjson(a))
                except JQError:
                    yield (2, enc(f"jq: Invalid JSON text passed to --jsonargs\n{_usage()}"))
                    return 2
            continue
        if a == "--":
            files.extend(args[i:]) if filt is not None else None
            if filt is None and i < len(args):
                filt = args[i]
                files.extend(args[i + 1 :])
            break
        if a.startswith("--"):
            name = a[2:]
            if name in (
                "raw-output",
                "join-output",
                "compact-output",
                "null-input",
                "slurp",
                "exit-status",
                "sort-keys",
                "tab",
                "ascii-output",
                "raw-input",
                "color-output",
                "monochrome-output",
                "raw-output0",
                "seq",
                "stream",
                "unbuffered",
            ):
                opts[name] = True
                continue
            if name == "indent":
                opts["indent"] = int(args[i])
                i += 1
                continue
            if name in ("arg", "argjson", "slurpfile", "rawfile"):
                if i + 1 >= len(args):
                    yield (
                        2,
                        enc(f"jq: --{name} takes two parameters (e.g. --{name} varname value)\n"),
                    )
                    return 2
                k, val = args[i], args[i + 1]
                i += 2
                if name == "arg":
                    named[k] = val
                elif name == "argjson":
                    try:
                        named[k] = _fromjson(val)
                    except JQError:
                        yield (2, enc(f"jq: invalid JSON text passed to --argjson\n{_usage()}"))
                        return 2
                else:
                    try:
                        with open(sh.resolve(val), "rb") as f:
                            data = dec(f.read())
                    except OSError as e:
                        yield (2, enc(f"jq: error: Could not open {val}: {e.strerror}\n"))
                        return 2
                    if name == "rawfile":
                        named[k] = data
                    else:
                        try:
                            named[k] = list(parse_json_stream(data))
                        except ValueError as e:
                            yield (2, enc(f"jq: Bad JSON in --slurpfile {k} {val}: {e}\n"))
                            return 2
                continue
            if name in ("args", "jsonargs"):
                rest_mode = name
                continue
            if name in ("help",):
                yield (1, enc(_usage()))
                return 0
            if name == "version":
                yield (1, b"jq-1.7.1\n")
                return 0
            yield (2, enc(f"jq: Unknown option: {a}\n{_usage()}"))
            return 2
        if a in ("-f", "--from-file") and i < len(args):
            try:
                with open(sh.resolve(args[i]), "rb") as fh:
                    if filt is not None:
                        files.append(filt)
                    filt = dec(fh.read())
            except OSError as e:
                yield (2, enc(f"jq: error: Could not open {args[i]}: {e.strerror}\n"))
                return 2
            i += 1
            continue
        if a.startswith("-") and len(a) > 1 and not a[1].isdigit():
            short = {
                "r": "raw-output",
                "j": "join-output",
                "c": "compact-output",
                "n": "null-input",
                "s": "slurp",
                "e": "exit-status",
                "S": "sort-keys",
                "a": "ascii-output",
                "R": "raw-input",
                "C": "color-output",
                "M": "monochrome-output",
                "h": "help",
            }
            for c in a[1:]:
                if c not in short:
                    yield (2, enc(f"jq: Unknown option: {a}\n{_usage()}"))
                    return 2
                if c == "h":
                    yield (1, enc(_usage()))
                    return 0
                opts[short[c]] = True
            continue
        if filt is None:
            filt = a
        else:
            files.append(a)
    if filt is None:
        yield (2, enc(_usage()))
        return 2
    if opts.get("tab"):
        opts["indent"] = "\t"
    if opts.get("compact-output"):
        opts["indent"] = None
    named_all = dict(named)
    named_all["__prog_args"] = None
    try:
        toks, _ = lex(filt)
        ast = Parser(toks).parse()
    except JQSyntax as e:
        yield (2, enc(f"jq: error: {e}\njq: 1 compile error\n"))
        return 3
    except (ValueError, IndexError) as e:
        yield (2, enc(f"jq: error: syntax error: {e}\njq: 1 compile error\n"))
        return 3

    # inputs
    def raw_sources() -> Iterator[Input]:
        if not files:
            yield inp
            return
        for f in files:
            try:
                with open(sh.resolve(f), "rb") as fh:
                    yield Input(fh.read())
            except OSError as e:
                errs.append(f"jq: error: Could not open {f}: {e.strerror}\n")

    errs: list[str] = []
    tick = sh.budget.tick

    def values() -> Iterator[Any]:
        if opts.get("raw-input"):
            if opts.get("slurp"):
                yield "".join(dec(s.read_all()) for s in raw_sources())
                return
            for s in raw_sources():
                for line in s.lines():
                    tick()
                    yield dec(line[:-1] if line.endswith(b"\n") else line)
            return
        if opts.get("slurp"):
            allv: list[Any] = []
            for s in raw_sources():
                allv.extend(json_values(s, tick))
            yield allv
            return
        for s in raw_sources():
            yield from json_values(s, tick)

    src = values()
    errbuf: list[str] = []
    interp = Interp(sh, named, src, errbuf.append)
    env = Env(PRELUDE_ENV, {k: v for k, v in named.items()})
    env.vars["__named"] = named
    envobj = interp.env_obj()
    env.vars["ENV"] = envobj
    env.vars["__prog_name"] = "jq"
    named_obj = {"positional": positional, "named": dict(named)}
    env.funcs[("$__prog_args", 0)] = Closure(("lit", named_obj), env)
    NATIVES[("input_filename", 0)] = _input_filename
    env.vars["ARGS"] = named_obj
    status = 0
    last: Any = _NOTHING
    indent = opts["indent"]
    raw = opts.get("raw-output") or opts.get("join-output") or opts.get("raw-output0")
    sep = "" if opts.get("join-output") else ("\0" if opts.get("raw-output0") else "\n")
    sort_keys = bool(opts.get("sort-keys"))
    ascii_only = bool(opts.get("ascii-output"))
    env.funcs[("$__named", 0)] = Closure(("lit", named_obj), env)

    def fmt(x: Any) -> str:
        if raw and isinstance(x, str):
            return x + sep
        return dumps(x, indent, sort_keys, ascii_only) + sep

    ast2 = ("pipe", ("id",), ast)
    if "named" in filt or "$__prog_args" in filt:
        pass
    try:
        first_inputs: Iterator[Any] = iter([None]) if opts.get("null-input") else src
        for v in first_inputs:
            out: list[str] = []
            try:
                for r in interp.ev(ast2, v, env):
                    tick()
                    last = r
                    out.append(fmt(r))
                    if len(out) >= 64:
                        yield (1, enc("".join(out)))
                        out.clear()
                    if errbuf:
                        yield (2, enc("".join(errbuf)))
                        errbuf.clear()
            except JQError as e:
                if out:
                    yield (1, enc("".join(out)))
                    out = []
                yield (2, enc(f"jq: error (at <stdin>:0): {e.message()}\n"))
                status = 5
            except Break:
                yield (2, enc("jq: error (at <stdin>:0): break\n"))
                status = 5
            except RecursionError:
                yield (2, enc("jq: error: recursion too deep\n"))
                status = 5
            if out:
                yield (1, enc("".join(out)))
            if errbuf:
                yield (2, enc("".join(errbuf)))
                errbuf.clear()
    except ValueError as e:
        yield (2, enc(f"jq: error (at <stdin>:0): Cannot parse input: {e}\n"))
        return 2
    except Halt as h:
        if h.msg is not None:
            yield (2, enc(h.msg))
        return h.code
    if errs:
        yield (2, enc("".join(errs)))
        status = 2
    if status:
        return status
    if opts.get("exit-status"):
        if last is _NOTHING:
            return 4
        return 0 if truthy(last) else 1
    return 0
