"""bc (arbitrary precision calculator, GNU flavour) and sqlite3 (the CLI's common modes)."""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ..io import Gen, Input
from .more import _usage, cmd
from .util import UsageError, dec, enc, open_input, parse_opts

# ------------------------------------------------------------------ bc
CTX = decimal.Context(prec=5000, rounding=ROUND_DOWN, Emax=10**8, Emin=-(10**8))


class BcError(Exception):
    pass


class BcBreak(Exception):
    pass


class BcContinue(Exception):
    pass


class BcReturn(Exception):
    def __init__(self, v: Decimal) -> None:
        self.v = v


class BcQuit(Exception):
    pass


def _scale(d: Decimal) -> int:
    e = d.as_tuple().exponent
    return -e if isinstance(e, int) and e < 0 else 0


def _trunc(d: Decimal, s: int) -> Decimal:
    return d.quantize(Decimal(1).scaleb(-s), rounding=ROUND_DOWN, context=CTX)


_BC_TOK = re.compile(
    r"""
 (?P<ws>[ \t\r]+|\\\n|/\*.*?\*/|\#[^\n]*)
|(?P<nl>\n)
|(?P<num>[0-9A-F]+(?:\.[0-9A-F]*)?|\.[0-9A-F]+)
|(?P<str>"[^"]*")
|(?P<name>[a-z_][a-z0-9_]*)
|(?P<op>\+\+|--|\+=|-=|\*=|/=|%=|\^=|==|<=|>=|!=|&&|\|\||[-+*/%^=<>!(){}\[\];,.])
""",
    re.X | re.S,
)

KW = {
    "if",
    "else",
    "while",
    "for",
    "break",
    "continue",
    "return",
    "define",
    "auto",
    "quit",
    "halt",
    "print",
    "length",
    "scale",
    "sqrt",
    "ibase",
    "obase",
    "last",
    "read",
    "limits",
    "abs",
}


def bc_lex(src: str) -> list[tuple[str, str]]:
    toks: list[tuple[str, str]] = []
    pos = 0
    while pos < len(src):
        m = _BC_TOK.match(src, pos)
        if not m:
            raise BcError(f"illegal character: {src[pos]!r}")
        pos = m.end()
        k = m.lastgroup
        if k == "ws":
            continue
        toks.append((k or "", m.group()))
    toks.append(("eof", ""))
    return toks


class BcParser:
    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.t = toks
        self.p = 0

    def peek(self) -> tuple[str, str]:
        return self.t[self.p]

    def at(self, v: str) -> bool:
        return self.t[self.p][1] == v and self.t[self.p][0] != "str"

    def take(self, v: str | None = None) -> tuple[str, str]:
        t = self.t[self.p]
        if v is not None and t[1] != v:
            raise BcError(f"syntax error: expected {v!r}, got {t[1]!r}")
        self.p += 1
        return t

    def nls(self) -> None:
        while self.peek()[0] == "nl" or self.at(";"):
            self.p += 1

    def program(self) -> list[Any]:
        out = []
        while True:
            self.nls()
            if self.peek()[0] == "eof":
                return out
            out.append(self.stmt())

    def block(self) -> list[Any]:
        self.take("{")
        out = []
        while True:
            self.nls()
            if self.at("}"):
                self.take()
                return out
            out.append(self.stmt())

    def body(self) -> list[Any]:
        while self.peek()[0] == "nl":
            self.p += 1
        if self.at("{"):
            return self.block()
        if self.at(";"):
            self.take()
            return []
        return [self.stmt()]

    def stmt(self) -> Any:
        k, v = self.peek()
        if k == "str":
            self.take()
            return ("str", v[1:-1])
        if k == "op" and v == "{":
            return ("block", self.block())
        if k == "name":
            if v == "if":
                self.take()
                self.take("(")
                c = self.expr()
                self.take(")")
                a = self.body()
                save = self.p
                while self.peek()[0] == "nl" or self.at(";"):
                    self.p += 1
                if self.at("else"):
                    self.take()
                    return ("if", c, a, self.body())
                self.p = save
                return ("if", c, a, None)
            if v == "while":
                self.take()
                self.take("(")
                c = self.expr()
                self.take(")")
                return ("while", c, self.body())
            if v == "for":
                self.take()
                self.take("(")
                init = None if self.at(";") else self.expr()
                self.take(";")
                c = None if self.at(";") else self.expr()
                self.take(";")
                inc = None if self.at(")") else self.expr()
                self.take(")")
                return ("for", init, c, inc, self.body())
            if v in ("break", "continue", "quit", "halt"):
                self.take()
                return (v,)
            if v == "return":
                self.take()
                e = None
                if self.at("("):
                    self.take()
                    e = None if self.at(")") else self.expr()
                    self.take(")")
                elif not (self.peek()[0] in ("nl", "eof") or self.at(";") or self.at("}")):
                    e = self.expr()
                return ("return", e)
            if v == "define":
                self.take()
                name = self.take()[1]
                self.take("(")
                params = []
                while not self.at(")"):
                    pn = self.take()[1]
                    if self.at("["):
                        self.take()
                        self.take("]")
                        pn += "[]"
                    params.append(pn)
                    if self.at(","):
                        self.take()
                self.take(")")
                while self.peek()[0] == "nl":
                    self.p += 1
                self.take("{")
                autos: list[str] = []
                body = []
                while True:
                    self.nls()
                    if self.at("auto"):
                        self.take()
                        while True:
                            an = self.take()[1]
                            if self.at("["):
                                self.take()
                                self.take("]")
                                an += "[]"
                            autos.append(an)
                            if self.at(","):
                                self.take()
                                continue
                            break
                        continue
                    if self.at("}"):
                        self.take()
                        break
                    body.append(self.stmt())
                return ("define", name, params, autos, body)
            if v == "print":
                self.take()
                items = []
                while True:
                    if self.peek()[0] == "str":
                        items.append(("s", self.take()[1][1:-1]))
                    else:
                        items.append(("e", self.expr()))
                    if self.at(","):
                        self.take()
                        continue
                    break
                return ("print", items)
            if v == "limits":
                self.take()
                return (
                    "str",
                    "BC_BASE_MAX     = 2147483647\nBC_DIM_MAX      = 65535\n"
                    "BC_SCALE_MAX    = 2147483647\nBC_STRING_MAX   = 2147483647\n",
                )
        e = self.expr()
        return ("expr", e)

    # expressions (GNU bc precedence)
    def expr(self) -> Any:
        return self.oror()

    def oror(self) -> Any:
        a = self.andand()
        while self.at("||"):
            self.take()
            a = ("||", a, self.andand())
        return a

    def andand(self) -> Any:
        a = self.notexp()
        while self.at("&&"):
            self.take()
            a = ("&&", a, self.notexp())
        return a

    def notexp(self) -> Any:
        if self.at("!"):
            self.take()
            return ("!", self.notexp())
        return self.rel()

    def rel(self) -> Any:
        a = self.assign()
        if self.peek()[1] in ("==", "<=", ">=", "!=", "<", ">") and self.peek()[0] == "op":
            op = self.take()[1]
            return ("rel", op, a, self.assign())
        return a

    def assign(self) -> Any:
        a = self.add()
        if self.peek()[0] == "op" and self.peek()[1] in ("=", "+=", "-=", "*=", "/=", "%=", "^="):
            if a[0] not in ("var", "idx", "special"):
                raise BcError("syntax error: assignment to non-variable")
            op = self.take()[1]
            return ("assign", op, a, self.assign())
        return a

    def add(self) -> Any:
        a = self.mul()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            a = ("bin", op, a, self.mul())
        return a

    def mul(self) -> Any:
        a = self.power()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/", "%"):
            op = self.take()[1]
            a = ("bin", op, a, self.power())
        return a

    def power(self) -> Any:
        a = self.unary()
        if self.at("^"):
            self.take()
            return ("bin", "^", a, self.power())
        return a

    def unary(self) -> Any:
        if self.at("-"):
            self.take()
            return ("neg", self.unary())
        if self.at("+"):
            self.take()
            return self.unary()
        return self.incdec()

    def incdec(self) -> Any:
        if self.at("++") or self.at("--"):
            op = self.take()[1]
            lv = self.primary()
            return ("pre", op, lv)
        p = self.primary()
        if p[0] in ("var", "idx", "special") and (self.at("++") or self.at("--")):
            return ("post", self.take()[1], p)
        return p

    def primary(self) -> Any:
        k, v = self.take()
        if k == "num":
            return ("num", v)
        if k == "op" and v == "(":
            e = self.expr()
            self.take(")")
            return e
        if k == "op" and v == ".":
            return ("special", "last")
        if k == "name":
            if v in ("scale", "ibase", "obase", "last") and not self.at("("):
                return ("special", v)
            if v in ("length", "sqrt", "scale", "abs") and self.at("("):
                self.take()
                e = self.expr()
                self.take(")")
                return ("fn1", v, e)
            if v == "read":
                self.take("(")
                self.take(")")
                return ("num", "0")
            if self.at("("):
                self.take()
                args = []
                while not self.at(")"):
                    if (
                        self.peek()[0] == "name"
                        and self.t[self.p + 1][1] == "["
                        and self.t[self.p + 2][1] == "]"
                    ):
                        args.append(("arr", self.take()[1]))
                        self.take()
                        self.take()
                    else:
                        args.append(self.expr())
                    if self.at(","):
                        self.take()
                self.take(")")
                return ("call", v, args)
            if self.at("["):
                self.take()
                i = self.expr()
                self.take("]")
                return ("idx", v, i)
            return ("var", v)
        raise BcError(
            f"syntax error: unexpected {v!r}" if v else "syntax error: unexpected end of input"
        )


class Bc:
    def __init__(self, sh: Any, mathlib: bool) -> None:
        self.sh = sh
        self.scale = 20 if mathlib else 0
        self.ibase = 10
        self.obase = 10
        self.last = Decimal(0)
        self.globals: dict[str, Decimal] = {}
        self.arrays: dict[str, dict[int, Decimal]] = {}
        self.frames: list[dict[str, Any]] = []
        self.funcs: dict[str, Any] = {}
        self.out: list[str] = []
        self.mathlib = mathlib
        self.line_len = 70

    # numbers
    def parse_num(self, s: str) -> Decimal:
        with decimal.localcontext(CTX):
            return self._parse_num(s)

    def _parse_num(self, s: str) -> Decimal:
        if self.ibase == 10 or not re.fullmatch(r"[0-9A-F.]+", s):
            if re.search(r"[A-F]", s):
                ip, _, fp = s.partition(".")
                v = 0
                for c in ip:
                    v = v * 10 + int(c, 16)
                return Decimal(v)
            return Decimal(s)
        ip, _, fp = s.partition(".")
        v = Decimal(0)
        for c in ip:
            v = v * self.ibase + int(c, 16)
        if fp:
            f = Decimal(0)
            for i, c in enumerate(fp):
                f += Decimal(int(c, 16)) / (Decimal(self.ibase) ** (i + 1))
            v = _trunc(v + f, len(fp))
        return v

    def fmt(self, d: Decimal) -> str:
        if self.obase != 10:
            s = self._fmt_base(d)
        else:
            s = format(d, "f")
            if d == 0:
                s = "0"
            elif s.startswith("0."):
                s = s[1:]
            elif s.startswith("-0."):
                s = "-" + s[2:]
        if self.line_len > 2 and len(s) > self.line_len - 2:
            parts = []
            w = self.line_len - 2
            while len(s) > w:
                parts.append(s[:w] + "\\")
                s = s[w:]
            parts.append(s)
            s = "\n".join(parts)
        return s

    def _fmt_base(self, d: Decimal) -> str:
        if d == 0:
            return "0"
        neg = d < 0
        d = abs(d)
        ip = int(d)
        fp = d - ip
        digits = []
        b = self.obase
        while ip:
            digits.append(ip % b)
            ip //= b
        if b <= 16:
            s = "".join("0123456789ABCDEF"[x] for x in reversed(digits)) or "0"
        else:
            w = len(str(b - 1))
            s = " ".join(str(x).zfill(w) for x in reversed(digits)) or "0"
            s = " " + s
        sc = _scale(d)
        if sc:
            frac = []
            need = 10**sc
            got = 1
            while got < need:
                fp *= b
                dg = int(fp)
                fp -= dg
                frac.append(dg)
                got *= b
            if b <= 16:
                s += "." + "".join("0123456789ABCDEF"[x] for x in frac)
            else:
                s += "." + " ".join(str(x).zfill(len(str(b - 1))) for x in frac)
        if s.startswith("0.") and len(s) > 2:
            s = s[1:]
        return ("-" if neg and s != "0" else "") + s

    # variables
    def getvar(self, name: str) -> Decimal:
        for fr in reversed(self.frames[-1:]):
            if name in fr:
                return fr[name]
        return self.globals.get(name, Decimal(0))

    def setvar(self, name: str, v: Decimal) -> None:
        if self.frames and name in self.frames[-1]:
            self.frames[-1][name] = v
        else:
            self.globals[name] = v

    def arr(self, name: str) -> dict[int, Decimal]:
        key = name + "[]"
        if self.frames and key in self.frames[-1]:
            return self.frames[-1][key]
        return self.arrays.setdefault(name, {})

    def lval_get(self, lv: Any) -> Decimal:
        if lv[0] == "var":
            return self.getvar(lv[1])
        if lv[0] == "idx":
            return self.arr(lv[1]).get(int(self.ev(lv[2])), Decimal(0))
        return self.special_get(lv[1])

    def lval_set(self, lv: Any, v: Decimal) -> Decimal:
        if lv[0] == "var":
            self.setvar(lv[1], v)
        elif lv[0] == "idx":
            self.arr(lv[1])[int(self.ev(lv[2]))] = v
        else:
            name = lv[1]
            if name == "scale":
                self.scale = int(v)
            elif name == "ibase":
                self.ibase = max(2, min(36, int(v)))
            elif name == "obase":
                self.obase = max(2, int(v))
            else:
                self.last = v
        return v

    def special_get(self, name: str) -> Decimal:
        if name == "scale":
            return Decimal(self.scale)
        if name == "ibase":
            return Decimal(self.ibase)
        if name == "obase":
            return Decimal(self.obase)
        return self.last

    # arithmetic
    def binop(self, op: str, a: Decimal, b: Decimal) -> Decimal:
        sa, sb = _scale(a), _scale(b)
        if op == "+":
            return CTX.add(a, b)
        if op == "-":
            return CTX.subtract(a, b)
        if op == "*":
            return _trunc(CTX.multiply(a, b), min(sa + sb, max(self.scale, sa, sb)))
        if op == "/":
            if b == 0:
                raise BcError("Divide by zero")
            return _trunc(CTX.divide(a, b), self.scale)
        if op == "%":
            if b == 0:
                raise BcError("Modulo by zero")
            q = _trunc(CTX.divide(a, b), self.scale)
            return _trunc(CTX.subtract(a, CTX.multiply(q, b)), max(self.scale + sb, sa))
        if op == "^":
            if b != int(b):
                raise BcError("Non-integer exponent")
            e = int(b)
            if e == 0:
                return Decimal(1)
            if e < 0:
                r = CTX.power(a, -e)
                if r == 0:
                    raise BcError("Divide by zero")
                return _trunc(CTX.divide(Decimal(1), r), self.scale)
            if abs(e) > 100000:
                raise BcError("exponent too large")
            return _trunc(CTX.power(a, e), min(sa * e, max(self.scale, sa)))
        raise BcError(op)

    def ev(self, n: Any) -> Decimal:
        k = n[0]
        if k == "num":
            return self.parse_num(n[1])
        if k == "var":
            return self.getvar(n[1])
        if k in ("idx", "special"):
            return self.lval_get(n)
        if k == "bin":
            return self.binop(n[1], self.ev(n[2]), self.ev(n[3]))
        if k == "neg":
            return CTX.minus(self.ev(n[1]))
        if k == "rel":
            a, b = self.ev(n[2]), self.ev(n[3])
            r = {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[
                n[1]
            ]
            return Decimal(1 if r else 0)
        if k == "&&":
            return Decimal(1 if self.ev(n[1]) != 0 and self.ev(n[2]) != 0 else 0)
        if k == "||":
            return Decimal(1 if self.ev(n[1]) != 0 or self.ev(n[2]) != 0 else 0)
        if k == "!":
            return Decimal(1 if self.ev(n[1]) == 0 else 0)
        if k == "assign":
            op, lv = n[1], n[2]
            v = self.ev(n[3])
            if op != "=":
                v = self.binop(op[0], self.lval_get(lv), v)
            return self.lval_set(lv, v)
        if k in ("pre", "post"):
            old = self.lval_get(n[2])
            new = CTX.add(old, Decimal(1)) if n[1] == "++" else CTX.subtract(old, Decimal(1))
            self.lval_set(n[2], new)
            return new if k == "pre" else old
        if k == "fn1":
            v = self.ev(n[2])
            if n[1] == "length":
                t = v.as_tuple()
                digits = len(t.digits)
                if v == 0:
                    return Decimal(max(1, _scale(v)))
                return Decimal(max(digits, _scale(v)))
            if n[1] == "scale":
                return Decimal(_scale(v))
            if n[1] == "abs":
                return abs(v)
            if v < 0:
                raise BcError("Square root of a negative number")
            s = max(self.scale, _scale(v))
            c2 = decimal.Context(prec=len(str(int(v))) + s + 10, rounding=ROUND_DOWN)
            return _trunc(c2.sqrt(v), s)
        if k == "call":
            return self.call(n[1], n[2])
        raise BcError(f"bad expression {k}")

    def call(self, name: str, args: list[Any]) -> Decimal:
        self.sh.budget.tick()
        if name not in self.funcs:
            if self.mathlib and name in ("s", "c", "a", "l", "e", "j"):
                vals = [self.ev(a) for a in args]
                return self.mathfn(name, vals)
            raise BcError(f"Function {name} not defined.")
        params, autos, body = self.funcs[name]
        if len(args) != len(params):
            raise BcError(f"Parameter number mismatch in call to {name}")
        fr: dict[str, Any] = {}
        for p, a in zip(params, args, strict=False):
            if p.endswith("[]"):
                if a[0] != "arr":
                    raise BcError("Parameter type mismatch")
                fr[p] = dict(self.arr(a[1]))
            else:
                fr[p] = self.ev(a)
        for a in autos:
            fr[a] = {} if a.endswith("[]") else Decimal(0)
        if len(self.frames) > 500:
            raise BcError("recursion too deep")
        self.frames.append(fr)
        try:
            self.run(body)
        except BcReturn as r:
            return r.v
        finally:
            self.frames.pop()
        return Decimal(0)

    def mathfn(self, name: str, vals: list[Decimal]) -> Decimal:
        with decimal.localcontext(CTX):
            return self._mathfn(name, vals)

    def _mathfn(self, name: str, vals: list[Decimal]) -> Decimal:
        s = self.scale
        c = decimal.Context(prec=s + 30 + len(str(int(abs(vals[-1])))) if vals else s + 30)
        x = vals[-1] if vals else Decimal(0)
        if name == "e":
            c = decimal.Context(prec=min(20000, s + 40 + int(abs(x) * Decimal("0.45"))))
            return _trunc(c.exp(x), s)
        if name == "l":
            if x <= 0:
                return _trunc(Decimal(1) - Decimal(10) ** s, s)
            return _trunc(c.ln(x), s)
        if name in ("s", "c"):
            return _trunc(_sincos(x, name == "s", c), s)
        if name == "a":
            return _trunc(_atan(x, c), s)
        if name == "j":
            n = int(vals[0])
            return _trunc(_bessel(n, x, c), s)
        raise BcError(name)

    def run(self, stmts: list[Any]) -> None:
        for st in stmts:
            self.exec(st)

    def exec(self, st: Any) -> None:
        k = st[0]
        self.sh.budget.tick()
        if k == "expr":
            e = st[1]
            v = self.ev(e)
            if e[0] != "assign":
                self.last = v
                self.out.append(self.fmt(v) + "\n")
        elif k == "str":
            self.out.append(_bc_escape(st[1]))
        elif k == "print":
            for kind, x in st[1]:
                if kind == "s":
                    self.out.append(_bc_escape(x))
                else:
                    v = self.ev(x)
                    self.last = v
                    self.out.append(self.fmt(v))
        elif k == "block":
            self.run(st[1])
        elif k == "if":
            if self.ev(st[1]) != 0:
                self.run(st[2])
            elif st[3] is not None:
                self.run(st[3])
        elif k == "while":
            while self.ev(st[1]) != 0:
                self.sh.budget.tick()
                try:
                    self.run(st[2])
                except BcBreak:
                    break
                except BcContinue:
                    continue
        elif k == "for":
            if st[1] is not None:
                self.ev(st[1])
            while st[2] is None or self.ev(st[2]) != 0:
                self.sh.budget.tick()
                try:
                    self.run(st[4])
                except BcBreak:
                    break
                except BcContinue:
                    pass
                if st[3] is not None:
                    self.ev(st[3])
        elif k == "break":
            raise BcBreak()
        elif k == "continue":
            raise BcContinue()
        elif k == "return":
            raise BcReturn(self.ev(st[1]) if st[1] is not None else Decimal(0))
        elif k == "define":
            self.funcs[st[1]] = (st[2], st[3], st[4])
        elif k in ("quit", "halt"):
            raise BcQuit()


def _bc_escape(s: str) -> str:
    return re.sub(
        r"\\(.)",
        lambda m: {
            "n": "\n",
            "t": "\t",
            "a": "\a",
            "b": "\b",
            "f": "\f",
            "r": "\r",
            "q": '"',
            "\\": "\\",
            "e": "\\",
        }.get(m.group(1), m.group(0)),
        s,
    )


def _sincos(x: Decimal, sine: bool, c: decimal.Context) -> Decimal:
    pi = _pi(c)
    x = c.remainder(x, 2 * pi)
    term = x if sine else Decimal(1)
    total = term
    n = 1 if sine else 0
    x2 = c.multiply(x, x)
    eps = Decimal(10) ** (-(c.prec - 5))
    while abs(term) > eps:
        term = c.divide(c.multiply(-term, x2), Decimal((n + 1) * (n + 2)))
        total = c.add(total, term)
        n += 2
    return total


def _pi(c: decimal.Context) -> Decimal:
    return 4 * _atan(Decimal(1), c)


def _atan(x: Decimal, c: decimal.Context) -> Decimal:
    if x < 0:
        return -_atan(-x, c)
    if x > 1:
        return _pi_by_atan(c) / 2 - _atan(c.divide(Decimal(1), x), c)
    # reduce: atan(x) = 2 atan(x / (1 + sqrt(1 + x^2)))
    k = 0
    while x > Decimal("0.2"):
        x = c.divide(x, 1 + c.sqrt(1 + c.multiply(x, x)))
        k += 1
    term = x
    total = x
    x2 = c.multiply(x, x)
    n = 1
    eps = Decimal(10) ** (-(c.prec - 5))
    while abs(term) > eps:
        term = c.multiply(-term, x2)
        n += 2
        total = c.add(total, c.divide(term, Decimal(n)))
    return total * (2**k)


def _pi_by_atan(c: decimal.Context) -> Decimal:
    # Machin: pi = 16 atan(1/5) - 4 atan(1/239)
    return 16 * _atan(c.divide(Decimal(1), Decimal(5)), c) - 4 * _atan(
        c.divide(Decimal(1), Decimal(239)), c
    )


def _bessel(n: int, x: Decimal, c: decimal.Context) -> Decimal:
    n = abs(n)
    half = c.divide(x, 2)
    term = c.divide(c.power(half, n), Decimal(_fact(n)))
    total = term
    k = 0
    x2 = c.multiply(half, half)
    eps = Decimal(10) ** (-(c.prec - 5))
    while abs(term) > eps or k < 2:
        k += 1
        term = c.divide(c.multiply(-term, x2), Decimal(k * (k + n)))
        total = c.add(total, term)
    return total


def _fact(n: int) -> int:
    r = 1
    for i in range(2, n + 1):
        r *= i
    return r


@cmd("bc")
def bc(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:], "lqsw", {"mathlib": "l", "quiet": "q", "standard": "s", "warn": "w"}
        )
    except UsageError as e:
        yield _usage("bc", e)
        return 1
    b = Bc(sh, "l" in opts)
    env = sh.env() if hasattr(sh, "env") else {}
    if env.get("BC_LINE_LENGTH", "").isdigit():
        b.line_len = int(env["BC_LINE_LENGTH"])
    sources: list[str] = []
    for f in files:
        try:
            sources.append(dec(open_input(sh, f, inp).read_all()))
        except OSError as e:
            yield (2, enc(f"bc: {e}\n"))
            return 1

    def stdin_chunks() -> Iterator[str]:
        buf = ""
        for line in inp.lines():
            buf += dec(line)
            if _complete(buf):
                yield buf
                buf = ""
        if buf:
            yield buf

    st = 0
    for src in sources + ["__STDIN__"]:
        chunks = stdin_chunks() if src == "__STDIN__" else iter([src])
        for chunk in chunks:
            try:
                prog = BcParser(bc_lex(chunk)).program()
            except BcError as e:
                yield (2, enc(f"(standard_in) 1: {e}\n"))
                st = 1
                continue
            except IndexError:
                yield (2, b"(standard_in) 1: syntax error\n")
                st = 1
                continue
            try:
                for stmt in prog:
                    b.exec(stmt)
                    if b.out:
                        yield (1, enc("".join(b.out)))
                        b.out.clear()
            except BcQuit:
                if b.out:
                    yield (1, enc("".join(b.out)))
                return st
            except BcError as e:
                if b.out:
                    yield (1, enc("".join(b.out)))
                    b.out.clear()
                yield (2, enc(f"Runtime error (func=(main), adr=0): {e}\n"))
            except (BcBreak, BcContinue, BcReturn):
                pass
    return st


def _complete(buf: str) -> bool:
    depth = 0
    instr = False
    i = 0
    while i < len(buf):
        ch = buf[i]
        if ch == '"':
            instr = not instr
        elif not instr:
            if ch in "{(":
                depth += 1
            elif ch in "})":
                depth -= 1
            elif ch == "\\" and buf[i + 1 : i + 2] == "\n":
                return False
        i += 1
    return depth <= 0 and not instr and "/*" not in buf.rsplit("*/", 1)[-1]


# ------------------------------------------------------------------ sqlite3
def _fmt_val(v: Any, null: str = "") -> str:
    if v is None:
        return null
    if isinstance(v, float):
        r = repr(v)
        return r[:-2] if r.endswith(".0") else r
    if isinstance(v, bytes):
        return dec(v)
    return str(v)


def _csv_field(s: str, sep: str) -> str:
    if any(c in s for c in (sep, '"', "\n", "\r")) or s != s.strip():
        return '"' + s.replace('"', '""') + '"'
    return s


@cmd("sqlite3")
def sqlite3_cmd(sh: Any, args: list[str], inp: Input) -> Gen:
    import sqlite3

    mode = "list"
    header = False
    sep = "|"
    null = ""
    db = ":memory:"
    sql_args: list[str] = []
    i = 1
    bail = False
    while i < len(args):
        a = args[i]
        i += 1
        if a.startswith("-") and len(a) > 1:
            o = a.lstrip("-")
            if o in ("header", "headers"):
                header = True
            elif o == "noheader":
                header = False
            elif o in (
                "csv",
                "json",
                "line",
                "column",
                "list",
                "html",
                "tabs",
                "box",
                "table",
                "markdown",
                "quote",
            ):
                mode = o
                if o == "csv":
                    sep = ","
                if o == "tabs":
                    mode, sep = "list", "\t"
            elif o == "separator" and i < len(args):
                sep = args[i]
                i += 1
            elif o == "nullvalue" and i < len(args):
                null = args[i]
                i += 1
            elif o in ("batch", "bail", "readonly", "init", "cmd"):
                if o == "bail":
                    bail = True
                if o in ("init", "cmd") and i < len(args):
                    if o == "cmd":
                        sql_args.append(args[i])
                    i += 1
            elif o == "version":
                yield (1, enc(sqlite3.sqlite_version + "\n"))
                return 0
            else:
                yield (
                    2,
                    enc(f"sqlite3: Error: unknown option: {a}\nUse -help for a list of options.\n"),
                )
                return 1
        elif db == ":memory:" and not sql_args and a:
            db = a
        else:
            sql_args.append(a)
    path = db if db == ":memory:" else sh.resolve(db)
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as e:
        yield (2, enc(f'Error: unable to open database "{db}": {e}\n'))
        return 1
    state = {"mode": mode, "header": header, "sep": sep, "null": null}
    text = "\n".join(sql_args) if sql_args else dec(inp.read_all())
    st = 0
    try:
        for kind, chunk in _split_sql(text):
            sh.budget.tick()
            if kind == "dot":
                out, err = _dot(conn, chunk, state)
                if out:
                    yield (1, enc(out))
                if err:
                    yield (2, enc(err))
                    st = 1
                continue
            try:
                cur = conn.execute(chunk)
            except sqlite3.Error as e:
                msg = str(e)
                yield (
                    2,
                    enc(
                        f"Error: {'in prepare, ' if sql_args else ''}{msg}\n"
                        if sql_args
                        else f"Parse error near line 1: {msg}\n"
                    ),
                )
                st = 1
                if bail or sql_args:
                    break
                continue
            if cur.description is None:
                continue
            cols = [d[0] for d in cur.description]
            yield from _render(cur, cols, state)
    finally:
        conn.close()
    return st


def _render(cur: Any, cols: list[str], state: dict[str, Any]) -> Gen:
    mode, sep, null = state["mode"], state["sep"], state["null"]
    rows_iter = iter(cur)
    if mode == "json":
        rows = list(rows_iter)
        if not rows:
            return 0
        out = []
        for r in rows:
            obj = (
                "{"
                + ",".join(
                    json.dumps(c)
                    + ":"
                    + (json.dumps(v) if not isinstance(v, bytes) else json.dumps(dec(v)))
                    for c, v in zip(cols, r, strict=False)
                )
                + "}"
            )
            out.append(obj)
        yield (1, enc("[" + ",\n".join(out) + "]\n"))
        return 0
    if mode == "line":
        w = max(len(c) for c in cols)
        first = True
        for r in rows_iter:
            if not first:
                pass
            block = "".join(
                f"{c:>{w}} = {_fmt_val(v, null)}\n" for c, v in zip(cols, r, strict=False)
            )
            yield (1, enc(("" if first else "\n") + block))
            first = False
        return 0
    if mode in ("column", "table", "box", "markdown"):
        rows = [[_fmt_val(v, null) for v in r] for r in rows_iter]
        widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
        lines = []
        if mode == "column":
            lines.append("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=False)).rstrip())
            lines.append("  ".join("-" * w for w in widths))
            for r in rows:
                lines.append(
                    "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip()
                )
        else:
            bar = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
            if mode == "markdown":
                lines.append(
                    "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=False)) + " |"
                )
                lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
            else:
                lines.append(bar)
                lines.append(
                    "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=False)) + " |"
                )
                lines.append(bar)
            for r in rows:
                lines.append(
                    "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)) + " |"
                )
            if mode != "markdown":
                lines.append(bar)
        if rows or mode == "column":
            yield (1, enc("".join(x + "\n" for x in lines)) if rows else b"")
        return 0
    if mode == "html":
        out = []
        if state["header"]:
            out.append("<TR>" + "".join(f"<TH>{c}</TH>\n" for c in cols) + "</TR>\n")
        for r in rows_iter:
            out.append("<TR>" + "".join(f"<TD>{_fmt_val(v, null)}</TD>\n" for v in r) + "</TR>\n")
        yield (1, enc("".join(out)))
        return 0
    if mode == "quote":
        out = []
        for r in rows_iter:
            out.append(
                ",".join(
                    "NULL"
                    if v is None
                    else ("'" + v.replace("'", "''") + "'")
                    if isinstance(v, str)
                    else _fmt_val(v)
                    for v in r
                )
                + "\n"
            )
        yield (1, enc("".join(out)))
        return 0
    csv = mode == "csv"
    out = []
    if state["header"]:
        out.append(sep.join(_csv_field(c, sep) if csv else c for c in cols) + "\n")
    for r in rows_iter:
        vals = [_fmt_val(v, null) for v in r]
        out.append(sep.join(_csv_field(v, sep) if csv else v for v in vals) + "\n")
        if len(out) > 256:
            yield (1, enc("".join(out)))
            out.clear()
    if out:
        yield (1, enc("".join(out)))
    return 0


def _split_sql(text: str) -> Iterator[tuple[str, str]]:
    import sqlite3

    buf = ""
    for line in text.split("\n"):
        if not buf.strip() and line.lstrip().startswith("."):
            yield ("dot", line.strip())
            continue
        buf += line + "\n"
        start = 0
        for m in re.finditer(";", buf):
            if sqlite3.complete_statement(buf[start : m.end()]):
                yield ("sql", buf[start : m.end()])
                start = m.end()
        buf = buf[start:]
        if not buf.strip():
            buf = ""
    if buf.strip():
        yield ("sql", buf)


def _dot(conn: Any, line: str, state: dict[str, Any]) -> tuple[str, str]:
    parts = line.split()
    c = parts[0]
    a = parts[1:]
    if c in (".headers", ".header"):
        state["header"] = bool(a) and a[0] in ("on", "1", "yes")
    elif c == ".mode":
        if a:
            state["mode"] = a[0] if a[0] != "tabs" else "list"
            if a[0] == "csv":
                state["sep"] = ","
            elif a[0] == "tabs":
                state["sep"] = "\t"
            elif a[0] == "list":
                state["sep"] = "|"
    elif c == ".separator" and a:
        state["sep"] = _bc_escape(a[0].strip('"'))
    elif c == ".nullvalue" and a:
        state["null"] = a[0]
    elif c == ".tables":
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table','view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        ).fetchall()
        return ("  ".join(r[0] for r in rows) + "\n" if rows else ""), ""
    elif c == ".schema":
        q = "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"
        params: tuple[str, ...] = ()
        if a:
            q += " AND tbl_name LIKE ?"
            params = (a[0],)
        rows = conn.execute(q + " ORDER BY rowid", params).fetchall()
        return "".join(r[0] + ";\n" for r in rows), ""
    elif c in (".quit", ".exit"):
        return "", ""
    elif c == ".dump":
        return "".join(x + "\n" for x in conn.iterdump()), ""
    elif c == ".indexes" or c == ".indices":
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='index' ORDER BY 1"
        ).fetchall()
        return ("  ".join(r[0] for r in rows) + "\n" if rows else ""), ""
    else:
        return (
            "",
            f'Error: unknown command or invalid arguments:  "{c[1:]}". Enter ".help" for help\n',
        )
    return "", ""
