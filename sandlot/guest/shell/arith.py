"""Shell arithmetic ($(( )), (( )), let): C operators on 64-bit signed integers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol


class ArithError(Exception):
    pass


class Vars(Protocol):
    def arith_get(self, name: str, index: str | None) -> str: ...
    def arith_set(self, name: str, index: str | None, value: int) -> None: ...


TOKEN = re.compile(
    r"\s*(?:('[^']*'|\"[^\"]*\")|(0[xX][0-9a-fA-F]+|[0-9]+#[0-9a-zA-Z@_]+|[0-9]+)|([A-Za-z_][A-Za-z0-9_]*)|"
    r"(<<=|>>=|\*\*=|\+\+|--|\*\*|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|[-+*/%<>&|^!~?:=(),\[\]]))"
)


def wrap(n: int) -> int:
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


def parse_int(s: str) -> int:
    s = s.strip()
    if s.startswith(("0x", "0X")):
        return int(s, 16)
    if "#" in s:
        b, _, digits = s.partition("#")
        base = int(b)
        if not 2 <= base <= 64:
            raise ArithError(f"{s}: invalid arithmetic base")
        val = 0
        for ch in digits:
            if ch.isdigit():
                d = ord(ch) - 48
            elif ch.islower():
                d = ord(ch) - 87
            elif ch.isupper():
                d = ord(ch) - 29 if base > 36 else ord(ch) - 55
            elif ch == "@":
                d = 62
            else:
                d = 63
            if d >= base:
                raise ArithError(f'{s}: value too great for base (error token is "{s}")')
            val = val * base + d
        return val
    if len(s) > 1 and s.startswith("0"):
        try:
            return int(s, 8)
        except ValueError:
            raise ArithError(f'{s}: value too great for base (error token is "{s}")') from None
    return int(s)


BINPREC = {
    "||": 1,
    "&&": 2,
    "|": 3,
    "^": 4,
    "&": 5,
    "==": 6,
    "!=": 6,
    "<": 7,
    ">": 7,
    "<=": 7,
    ">=": 7,
    "<<": 8,
    ">>": 8,
    "+": 9,
    "-": 9,
    "*": 10,
    "/": 10,
    "%": 10,
    "**": 11,
}
ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=", "**="}


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks: list[tuple[str, str]] = []
        self.starts: list[int] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = TOKEN.match(text, pos)
            if not m or m.end() == pos:
                bad = text[pos:].strip()
                raise ArithError(
                    f"{text.strip()}: syntax error: invalid arithmetic operator "
                    f'(error token is "{bad}")'
                )
            self.starts.append(m.start(0) + len(m.group(0)) - len(m.group(0).lstrip()))
            if m.group(1):
                q = m.group(1)[1:-1]
                if not re.fullmatch(r"\s*(\w*|[0-9#xX@]*)\s*", q):
                    # `(( "i < 3" ))`: the quotes go, what they held is read as an expression
                    text = self.text = text[: m.start(1)] + q + text[m.end(1) :]
                    self.starts.pop()
                    continue
                self.toks.append(
                    ("name", q) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", q) else ("num", q or "0")
                )
                pos = m.end()
                continue
            if m.group(2):
                tok = m.group(2)
                if pos + len(m.group(0)) < len(text) and (
                    text[m.end()].isalnum() or text[m.end()] == "_"
                ):
                    raise ArithError(
                        f"{text.strip()}: value too great for base "
                        f'(error token is "{text[pos:].strip()}")'
                    )
                self.toks.append(("num", tok))
            elif m.group(3):
                self.toks.append(("name", m.group(3)))
            else:
                op = m.group(4)
                if op in ("++", "--") and (
                    not self.toks or self.toks[-1][0] != "name" and self.toks[-1] != ("op", "]")
                ):
                    # as bash: a prefix ++/-- needs a name next; else it is one sign (`+++x`
                    # is `+ ++x`, `--5` is `-(-5)`)
                    rest = text[m.end() :].lstrip()
                    if not rest or not (rest[0].isalpha() or rest[0] == "_"):
                        self.toks.append(("op", op[0]))
                        pos = m.end() - 1
                        continue
                self.toks.append(("op", op))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "")

    def take(self) -> tuple[str, str]:
        t = self.peek()
        self.i += 1
        return t

    def expect(self, op: str) -> None:
        t = self.take()
        if t != ("op", op):
            raise ArithError(
                f'{self.text.strip()}: syntax error in expression (error token is "{t[1]}")'
            )

    def parse(self) -> Any:
        if not self.toks:
            return ("num", 0)
        e = self.comma()
        if self.peek()[0] != "eof":
            rest = " ".join(t[1] for t in self.toks[self.i :])
            raise ArithError(
                f'{self.text.strip()}: syntax error in expression (error token is "{rest}")'
            )
        return e

    def comma(self) -> Any:
        e = self.assign()
        while self.peek() == ("op", ","):
            self.take()
            e = ("comma", e, self.assign())
        return e

    def assign(self) -> Any:
        start = self.i
        lhs = self.ternary()
        t = self.peek()
        if t[0] == "op" and t[1] in ASSIGN:
            if lhs[0] != "var":
                raise ArithError(
                    f"{self.text.strip()}: attempted assignment to non-variable "
                    f'(error token is "{t[1]} ")'
                )
            self.take()
            del start
            return ("assign", t[1], lhs, self.assign())
        return lhs

    def ternary(self) -> Any:
        c = self.binary(1)
        if self.peek() == ("op", "?"):
            self.take()
            a = self.assign()
            self.expect(":")
            b = self.assign()
            return ("?", c, a, b)
        return c

    def binary(self, minp: int) -> Any:
        left = self.unary()
        while True:
            t = self.peek()
            if t[0] != "op" or t[1] not in BINPREC or BINPREC[t[1]] < minp:
                return left
            op = t[1]
            self.take()
            p = BINPREC[op]
            right = self.binary(p if op == "**" else p + 1)
            left = ("bin", op, left, right)

    def unary(self) -> Any:
        t = self.peek()
        if t[0] == "op" and t[1] in ("-", "+", "!", "~"):
            self.take()
            return ("un", t[1], self.unary())
        if t[0] == "op" and t[1] in ("++", "--"):
            self.take()
            v = self.unary()
            if v[0] != "var":
                raise ArithError(f"{self.text.strip()}: syntax error: operand expected")
            return ("pre", t[1], v)
        return self.postfix()

    def postfix(self) -> Any:
        e = self.primary()
        t = self.peek()
        if e[0] == "var" and t[0] == "op" and t[1] in ("++", "--"):
            self.take()
            return ("post", t[1], e)
        return e

    def primary(self) -> Any:
        t = self.take()
        if t[0] == "num":
            return ("num", parse_int(t[1]))
        if t[0] == "name":
            if self.peek() == ("op", "["):
                self.take()
                depth = 1
                start = self.i
                while self.i < len(self.toks):
                    tt = self.toks[self.i]
                    if tt == ("op", "["):
                        depth += 1
                    elif tt == ("op", "]"):
                        depth -= 1
                        if depth == 0:
                            break
                    self.i += 1
                idx = (
                    self.text[self.starts[start] : self.starts[self.i]].strip()
                    if start < self.i
                    else ""
                )
                self.expect("]")
                return ("var", t[1], idx)
            return ("var", t[1], None)
        if t == ("op", "("):
            e = self.comma()
            self.expect(")")
            return e
        tok = t[1] if t[0] != "eof" else ""
        raise ArithError(
            f"{self.text.strip()}: syntax error: operand expected "
            f'(error token is "{tok or self.text.strip()[-1:] or ""}")'
            if tok
            else f"{self.text.strip()}: syntax error: operand expected"
        )


class Evaluator:
    def __init__(self, vars: Vars, depth: int = 0) -> None:
        self.vars = vars
        self.depth = depth

    def value_of(self, name: str, index: str | None) -> int:
        raw = self.vars.arith_get(name, index)
        if raw.isdigit() and raw.isascii() and (raw[0] != "0" or len(raw) == 1):
            v = int(raw)  # plain decimal, the common case
            return v if v < _M else wrap(v)
        raw = raw.strip()
        if raw == "":
            return 0
        try:
            return wrap(parse_int(raw))
        except (ValueError, ArithError):
            pass
        if self.depth > 50:
            raise ArithError(f"{name}: expression recursion level exceeded")
        return evaluate(raw, self.vars, self.depth + 1)

    def ev(self, n: Any) -> int:
        k = n[0]
        if k == "num":
            return wrap(n[1])
        if k == "var":
            return self.value_of(n[1], n[2])
        if k == "un":
            v = self.ev(n[2])
            return wrap({"-": -v, "+": v, "!": int(not v), "~": ~v}[n[1]])
        if k in ("pre", "post"):
            var = n[2]
            old = self.value_of(var[1], var[2])
            new = wrap(old + (1 if n[1] == "++" else -1))
            self.vars.arith_set(var[1], var[2], new)
            return new if k == "pre" else old
        if k == "comma":
            self.ev(n[1])
            return self.ev(n[2])
        if k == "?":
            return self.ev(n[2]) if self.ev(n[1]) else self.ev(n[3])
        if k == "assign":
            op, var, rhs = n[1], n[2], n[3]
            if op == "=":
                val = self.ev(rhs)
            else:
                val = self.binop(op[:-1], self.value_of(var[1], var[2]), self.ev(rhs))
            self.vars.arith_set(var[1], var[2], val)
            return val
        if k == "bin":
            op = n[1]
            if op == "&&":
                return int(bool(self.ev(n[2])) and bool(self.ev(n[3])))
            if op == "||":
                return int(bool(self.ev(n[2])) or bool(self.ev(n[3])))
            return self.binop(op, self.ev(n[2]), self.ev(n[3]))
        raise ArithError("bad expression")

    @staticmethod
    def binop(op: str, a: int, b: int) -> int:
        if op in ("/", "%"):
            if b == 0:
                raise ArithError('division by 0 (error token is "0")')
            q = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                q = -q
            return wrap(q if op == "/" else a - q * b)
        if op == "**":
            if b < 0:
                raise ArithError('exponent less than 0 (error token is "0")')
            return wrap(pow(a, b, 1 << 64))
        return wrap(_BIN[op](a, b))  # the table the compiled path uses too


Compiled = Callable[["Evaluator"], int]
_M = 1 << 63

_BIN: dict[str, Callable[[int, int], int]] = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "<<": lambda x, y: x << (y & 63),
    ">>": lambda x, y: x >> (y & 63),
    "&": lambda x, y: x & y,
    "|": lambda x, y: x | y,
    "^": lambda x, y: x ^ y,
    "<": lambda x, y: int(x < y),
    ">": lambda x, y: int(x > y),
    "<=": lambda x, y: int(x <= y),
    ">=": lambda x, y: int(x >= y),
    "==": lambda x, y: int(x == y),
    "!=": lambda x, y: int(x != y),
}


def _wrapped(f: Callable[[int, int], int]) -> Callable[[int, int], int]:
    def g(x: int, y: int) -> int:
        r = f(x, y)
        return r if -_M <= r < _M else wrap(r)

    return g


def _compile(n: Any) -> Compiled:
    """The tree as nested closures: the same evaluation order and results as `Evaluator.ev`
    without re-dispatching on node kinds every time (loops evaluate one text many times)."""
    k = n[0]
    if k == "num":
        c = wrap(n[1])
        return lambda ev: c
    if k == "var":
        name, index = n[1], n[2]
        return lambda ev: ev.value_of(name, index)
    if k == "un":
        a, op = _compile(n[2]), n[1]
        if op == "-":
            return lambda ev: wrap(-a(ev))
        if op == "+":
            return a
        if op == "!":
            return lambda ev: int(not a(ev))
        return lambda ev: ~a(ev)
    if k in ("pre", "post"):
        name, index = n[2][1], n[2][2]
        step, pre = (1 if n[1] == "++" else -1), k == "pre"

        def incdec(ev: Evaluator) -> int:
            old = ev.value_of(name, index)
            new = wrap(old + step)
            ev.vars.arith_set(name, index, new)
            return new if pre else old

        return incdec
    if k == "comma":
        a, b = _compile(n[1]), _compile(n[2])
        return lambda ev: (a(ev), b(ev))[1]
    if k == "?":
        c, a, b = _compile(n[1]), _compile(n[2]), _compile(n[3])
        return lambda ev: a(ev) if c(ev) else b(ev)
    if k == "assign":
        op, name, index, rhs = n[1], n[2][1], n[2][2], _compile(n[3])
        if op == "=":

            def assign(ev: Evaluator) -> int:
                val = rhs(ev)
                ev.vars.arith_set(name, index, val)
                return val

            return assign
        bop = op[:-1]

        def update(ev: Evaluator) -> int:
            val = Evaluator.binop(bop, ev.value_of(name, index), rhs(ev))
            ev.vars.arith_set(name, index, val)
            return val

        return update
    if k == "bin":
        op, a, b = n[1], _compile(n[2]), _compile(n[3])
        if op == "&&":
            return lambda ev: int(bool(a(ev)) and bool(b(ev)))
        if op == "||":
            return lambda ev: int(bool(a(ev)) or bool(b(ev)))
        f = _BIN.get(op)
        if f is None:  # / % **: their errors and rounding live in binop
            return lambda ev: Evaluator.binop(op, a(ev), b(ev))
        g = _wrapped(f)
        return lambda ev: g(a(ev), b(ev))
    raise ArithError("bad expression")


_TREES: dict[str, Compiled] = {}


def evaluate(text: str, vars: Vars, depth: int = 0) -> int:
    """Evaluate arithmetic text (already parameter-expanded) against vars.

    Compiled trees are cached by text: loops evaluate the same few expressions over and over."""
    fn = _TREES.get(text)
    if fn is None:
        fn = _compile(Parser(text).parse())
        if len(_TREES) > 2048:
            _TREES.clear()
        _TREES[text] = fn
    return fn(Evaluator(vars, depth))
