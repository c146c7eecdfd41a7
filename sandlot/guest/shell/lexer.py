"""Character-level scanner.

Shell lexing is context dependent, so the parser drives it word by word.
"""

from __future__ import annotations

import re
from typing import Any

from .ast import DQ, ArithSub, CmdSub, Lit, Param, ProcSub, Tilde, Word

META = set(" \t\n;&|<>()")
OPERATORS = [
    "&>>",
    ";;&",
    "<<-",
    "<<<",
    "&&",
    "||",
    ";;",
    ";&",
    "<<",
    ">>",
    "<&",
    ">&",
    "<>",
    ">|",
    "&>",
    "|&",
    "((",
    "&",
    "|",
    ";",
    "<",
    ">",
    "(",
    ")",
]
SPECIAL_PARAMS = set("@*#?-$!0123456789")
SUBSCRIPT_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\[")


class ParseError(Exception):
    """A syntax error; message is the bash-style text after 'line N: '."""

    def __init__(self, msg: str, line: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.line = line

    def report(self, prefix: str, src: str) -> str:
        """bash's diagnostic: the message, and for a bad token the source line it is on."""
        text = f"{prefix}: line {self.line}: {self.msg}\n"
        if "near unexpected token" in self.msg:
            lines = src.split("\n")
            if 0 < self.line <= len(lines):
                text += f"{prefix}: line {self.line}: `{lines[self.line - 1]}'\n"
        return text


def is_name(s: str) -> bool:
    return bool(s) and (s[0].isalpha() or s[0] == "_") and all(c.isalnum() or c == "_" for c in s)


ANSI = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "e": "\x1b",
    "E": "\x1b",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def ansi_c(s: str) -> str:
    """Decode the body of $'...'."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c != "\\" or i + 1 >= len(s):
            out.append(c)
            i += 1
            continue
        d = s[i + 1]
        i += 2
        if d in ANSI:
            out.append(ANSI[d])
        elif d in "01234567":
            j = i - 1
            while i < len(s) and i - j < 3 and s[i] in "01234567":
                i += 1
            out.append(bytes([int(s[j:i], 8) & 0xFF]).decode("utf-8", "surrogateescape"))
        elif d == "x":
            j = i
            while i < len(s) and i - j < 2 and s[i] in "0123456789abcdefABCDEF":
                i += 1
            out.append(
                bytes([int(s[j:i], 16)]).decode("utf-8", "surrogateescape") if i > j else "\\x"
            )
        elif d in "uU":
            j = i
            while (
                i < len(s) and i - j < (4 if d == "u" else 8) and s[i] in "0123456789abcdefABCDEF"
            ):
                i += 1
            out.append(chr(int(s[j:i], 16)) if i > j else "\\" + d)
        elif d == "c" and i < len(s):
            out.append(chr(ord(s[i]) & 31))
            i += 1
        else:
            out.append("\\" + d)
    return "".join(out)


ASSIGN_HEAD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[.*\])?\+?=")


class Lexer:
    assign_value = False  # the word read is an assignment's value (`a[k]=` already taken)
    in_assign = False  # reading an assignment word: `:~` in ${x-…} is a tilde prefix too
    extglob = True  # `@(…)` & co. are one word (shopt extglob at parse time); else `(` ends it
    """Scans words and operators from src; parser subclasses it."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0

    # -- helpers
    def line_at(self, pos: int | None = None) -> int:
        return self.src.count("\n", 0, self.pos if pos is None else pos) + 1

    def err(self, msg: str) -> ParseError:
        return ParseError(msg, self.line_at())

    def peekc(self, k: int = 0) -> str:
        p = self.pos + k
        return self.src[p] if p < len(self.src) else ""

    def skip_blanks(self) -> None:
        s = self.src
        while self.pos < len(s):
            c = s[self.pos]
            if c in " \t":
                self.pos += 1
            elif c == "\\" and s.startswith("\\\n", self.pos):
                self.pos += 2
            elif c == "#":
                while self.pos < len(s) and s[self.pos] != "\n":
                    self.pos += 1
            else:
                break

    def match_op(self) -> str | None:
        for op in OPERATORS:
            if self.src.startswith(op, self.pos):
                return op
        return None

    # -- words
    def read_word(self, dbracket: bool = False) -> Word | None:
        """Read one unquoted-context word; None if at a metachar."""
        parts: list[Any] = []
        s = self.src
        start = self.pos
        buf: list[str] = []
        # in an assignment word, `~` after the `=` and after each `:` is a tilde prefix
        assign = self.assign_value
        eq = start if assign else -1
        self.in_assign = assign

        def flush() -> None:
            if buf:
                parts.append(Lit("".join(buf)))
                buf.clear()

        while self.pos < len(s):
            c = s[self.pos]
            if c == "<" and s.startswith("<(", self.pos):
                flush()
                self.pos += 2
                parts.append(ProcSub(self.parse_cmdsub_inline()))
                continue
            if c in META:
                if c == "(" and buf and not parts and self._assign_prefix("".join(buf)):
                    break  # array literal handled by parser
                if c in "<>(" and self.pos + 1 < len(s) and s[self.pos + 1] == "(" and False:
                    pass
                # extglob-ish @(..) !(..) etc: treat as literal group
                if c == "(" and buf and buf[-1] in "@!?*+" and not dbracket and self.extglob:
                    depth = 0
                    while self.pos < len(s):
                        ch = s[self.pos]
                        buf.append(ch)
                        self.pos += 1
                        if ch == "(":
                            depth += 1
                        elif ch == ")":
                            depth -= 1
                            if depth == 0:
                                break
                    continue
                break
            if c == "\\":
                if self.pos + 1 < len(s):
                    d = s[self.pos + 1]
                    self.pos += 2
                    if d == "\n":
                        continue
                    flush()
                    parts.append(Lit(d, True))
                else:
                    buf.append(c)
                    self.pos += 1
            elif c == "'":
                end = s.find("'", self.pos + 1)
                if end < 0:
                    raise self.err("unexpected EOF while looking for matching `''")
                flush()
                parts.append(Lit(s[self.pos + 1 : end], True))
                self.pos = end + 1
            elif c == '"':
                flush()
                self.pos += 1
                parts.append(DQ(self.read_dq_parts('"')))
            elif c == "$" and self.peekc(1) == "'":
                end = self._find_ansi_end(self.pos + 2)
                flush()
                parts.append(Lit(ansi_c(s[self.pos + 2 : end]), True))
                self.pos = end + 1
            elif c == "$" and self.peekc(1) == '"':
                flush()
                self.pos += 2
                parts.append(DQ(self.read_dq_parts('"')))
            elif c == "$" or c == "`":
                flush()
                parts.append(self.read_dollar())
            elif c == "~" and (
                self.pos == start or (assign and s[self.pos - 1] == ":") or eq == self.pos
            ):
                # tilde prefix: at the word's start, or after the `=` or a `:` of an assignment
                j = self.pos + 1
                while j < len(s) and (s[j].isalnum() or s[j] in "_.-+"):
                    j += 1
                if j >= len(s) or s[j] in META or s[j] == "/" or s[j] == ":":
                    flush()
                    parts.append(Tilde(s[self.pos + 1 : j]))
                    self.pos = j
                else:
                    buf.append(c)
                    self.pos += 1
            else:
                buf.append(c)
                self.pos += 1
                if c == "=" and not assign and ASSIGN_HEAD.fullmatch(s, start, self.pos):
                    assign = True
                    eq = self.pos
                    self.in_assign = True
        flush()
        self.in_assign = False
        if self.pos == start:
            return None
        return Word(parts)

    @staticmethod
    def _assign_prefix(text: str) -> bool:
        if text.endswith("+="):
            name = text[:-2]
        elif text.endswith("="):
            name = text[:-1]
        else:
            return False
        if "[" in name and name.endswith("]"):
            name = name[: name.index("[")]
        return is_name(name)

    def _find_ansi_end(self, p: int) -> int:
        s = self.src
        while p < len(s):
            if s[p] == "\\":
                p += 2
                continue
            if s[p] == "'":
                return p
            p += 1
        raise self.err("unexpected EOF while looking for matching `''")

    def read_dq_parts(self, term: str, heredoc: bool = False) -> list[Any]:
        """Parts of a double-quoted string up to term (consumed); term='' reads to end."""
        self.dq_depth = getattr(self, "dq_depth", 0) + 1
        try:
            return self._read_dq_parts(term, heredoc)
        finally:
            self.dq_depth -= 1

    def _read_dq_parts(self, term: str, heredoc: bool = False) -> list[Any]:
        parts: list[Any] = []
        buf: list[str] = []
        s = self.src
        while True:
            if self.pos >= len(s):
                if term:
                    raise self.err("unexpected EOF while looking for matching `\"'")
                break
            c = s[self.pos]
            if term and c == term:
                self.pos += 1
                break
            if c == "\\" and self.pos + 1 < len(s):
                d = s[self.pos + 1]
                if d in "$`\\\n" or (d == '"' and not heredoc) or (term == "}" and d == "}"):
                    if d != "\n":
                        if buf:
                            parts.append(Lit("".join(buf), True))
                            buf = []
                        parts.append(Lit(d, True))
                    self.pos += 2
                    continue
                buf.append(c)
                self.pos += 1
            elif c == "$" or c == "`":
                if c == "$" and (
                    self.pos + 1 >= len(s)
                    or not (s[self.pos + 1].isalnum() or s[self.pos + 1] in "_{([@*#?-$!")
                ):
                    buf.append(c)
                    self.pos += 1
                    continue
                if buf:
                    parts.append(Lit("".join(buf), True))
                    buf = []
                parts.append(self.read_dollar())
            else:
                buf.append(c)
                self.pos += 1
        if buf:
            parts.append(Lit("".join(buf), True))
        return parts

    def read_dollar(self) -> Any:
        s = self.src
        if s[self.pos] == "`":
            p = self.pos + 1
            out = []
            while p < len(s) and s[p] != "`":
                if s[p] == "\\" and p + 1 < len(s) and s[p + 1] in "$`\\":
                    out.append(s[p + 1])
                    p += 2
                else:
                    out.append(s[p])
                    p += 1
            if p >= len(s):
                raise self.err("unexpected EOF while looking for matching ``'")
            self.pos = p + 1
            return CmdSub(self.parse_sub("".join(out)))
        self.pos += 1  # '$'
        c = self.peekc()
        if c == "(" and self.peekc(1) == "(":
            save = self.pos
            self.pos += 2
            try:
                w = self.read_arith_text("))")
                return ArithSub(w)
            except ParseError:
                self.pos = save
        if c == "(":
            self.pos += 1
            node = self.parse_cmdsub_inline()
            return CmdSub(node)
        if c == "{":
            self.pos += 1
            return self.read_braced_param()
        if c == "[":  # $[expr]: bash's old spelling of $((expr))
            j, depth = self.pos + 1, 0
            while j < len(s) and (s[j] != "]" or depth):
                depth += (s[j] == "[") - (s[j] == "]")
                j += 1
            if j >= len(s):
                raise self.err("unexpected EOF while looking for matching `]'")
            text, self.pos = s[self.pos + 1 : j], j + 1
            return ArithSub(self.sub_word(text))
        if c and (c.isalpha() or c == "_"):
            j = self.pos
            while j < len(s) and (s[j].isalnum() or s[j] == "_"):
                j += 1
            name = s[self.pos : j]
            self.pos = j
            return Param(name)
        if c and c in SPECIAL_PARAMS:
            self.pos += 1
            return Param(c)
        return Lit("$")

    def read_arith_text(self, term: str) -> Word:
        """Read arithmetic text up to the closing term (e.g. '))'), balancing parens."""
        s = self.src
        depth = 0
        start = self.pos
        p = self.pos
        while p < len(s):
            c = s[p]
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    if s.startswith(term, p):
                        break
                    raise self.err("syntax error in arithmetic")
                depth -= 1
            elif c in "'\"":
                e = s.find(c, p + 1)
                p = e if e > 0 else p
            elif c == "$" and s.startswith("$(", p) and not s.startswith("$((", p):
                # skip command substitution text
                sub = Lexer.__new__(type(self))
                sub.__dict__.update(self.__dict__)
                sub.pos = p
                sub.read_dollar()
                p = sub.pos
                continue
            p += 1
        else:
            raise self.err("unexpected EOF while looking for matching `))'")
        text = s[start:p]
        self.pos = p + len(term)
        return self.sub_word(text)

    def sub_word(self, text: str) -> Word:
        """Parse text as double-quote-like content (expansions, no quote removal of ')."""
        sub = type(self)(text)
        self._inherit(sub)
        return Word(sub.read_dq_parts("", heredoc=True))

    def _inherit(self, sub: Any) -> None:
        pass

    def read_braced_param(self) -> Any:
        start = self.pos
        try:
            return self._read_braced_param()
        except ParseError as e:
            if e.msg != "${...}: bad substitution":
                raise
        # like bash, a malformed ${...} is an error when it is expanded, not when parsed
        s = self.src
        p, depth = start, 1
        while p < len(s):
            c = s[p]
            if c == "\\":
                p += 1
            elif c == "'" and not getattr(self, "dq_depth", 0):
                q = s.find("'", p + 1)
                p = q if q > 0 else len(s)
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            p += 1
        else:
            raise self.err("unexpected EOF while looking for matching `}'")
        self.pos = p + 1
        return Param("", op="BAD", arg=Word([Lit("${" + s[start:p] + "}")]))

    def _read_braced_param(self) -> Any:
        s = self.src
        p = Param("")
        c = self.peekc()
        if (
            c == "#"
            and self.peekc(1) not in ("}", "")
            and not (self.peekc(1) in "-=?+:" and self.peekc(2) == "}")
            and self.peekc(1) not in ":"
        ):
            p.length = True
            self.pos += 1
        elif c == "!" and self.peekc(1) not in ("}", ""):
            p.indirect = True
            self.pos += 1
        c = self.peekc()
        if c.isalpha() or c == "_":
            j = self.pos
            while j < len(s) and (s[j].isalnum() or s[j] == "_"):
                j += 1
            p.name = s[self.pos : j]
            self.pos = j
        elif c.isdigit():
            j = self.pos
            while j < len(s) and s[j].isdigit():
                j += 1
            p.name = s[self.pos : j]
            self.pos = j
        elif c and c in SPECIAL_PARAMS:
            p.name = c
            self.pos += 1
        else:
            raise self.err("${...}: bad substitution")
        if self.peekc() == "[":
            depth = 0
            j = self.pos
            while j < len(s):
                if s[j] == "[":
                    depth += 1
                elif s[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            p.index = s[self.pos + 1 : j]
            self.pos = j + 1
        if p.indirect and self.peekc() in ("*", "@") and self.peekc(1) == "}":
            p.op = "!" + self.peekc()
            self.pos += 2
            return p
        if self.peekc() == "}":
            self.pos += 1
            return p
        if p.length:
            raise self.err("${...}: bad substitution")
        for op in (
            ":-",
            ":=",
            ":+",
            ":?",
            "##",
            "%%",
            "//",
            "/#",
            "/%",
            "^^",
            ",,",
            "-",
            "=",
            "+",
            "?",
            "#",
            "%",
            "/",
            "^",
            ",",
            ":",
            "@",
        ):
            if s.startswith(op, self.pos):
                p.op = op
                self.pos += len(op)
                break
        else:
            raise self.err("${...}: bad substitution")
        if p.op in ("/", "//", "/#", "/%"):
            lead: list[Any] = []
            if self.peekc() == "/" and p.op in ("/", "//"):
                self.pos += 1
                lead = [Lit("/")]
            p.arg = Word(lead + self.read_param_arg("/}"))
            if self.peekc() == "/":
                self.pos += 1
                p.arg2 = Word(self.read_param_arg("}"))
        elif p.op == ":":
            p.arg = Word(self.read_param_arg(":}"))
            if self.peekc() == ":":
                self.pos += 1
                p.arg2 = Word(self.read_param_arg("}"))
        else:
            p.arg = Word(
                self.read_param_arg(
                    "}",
                    dq_lit=getattr(self, "dq_depth", 0) > 0
                    and p.op in ("-", ":-", "+", ":+", "=", ":=", "?", ":?"),
                )
            )
        if self.peekc() != "}":
            raise self.err("${...}: bad substitution")
        self.pos += 1
        return p

    def read_param_arg(self, terms: str, dq_lit: bool = False) -> list[Any]:
        """Word text inside ${...} up to one of terms (not consumed).

        dq_lit: inside double quotes, ${x-'a'} keeps its single quotes literally (bash quirk)."""
        parts: list[Any] = []
        buf: list[str] = []
        s = self.src

        def flush() -> None:
            if buf:
                parts.append(Lit("".join(buf)))
                buf.clear()

        while self.pos < len(s):
            c = s[self.pos]
            if c in terms:  # as bash: a bare `{` in the word does not nest, the first `}` ends
                break
            if dq_lit and c == "\\" and self.pos + 1 < len(s) and s[self.pos + 1] not in '$`"\\}\n':
                buf.append(c)
                self.pos += 1
            elif dq_lit and c == "\\" and s[self.pos + 1 : self.pos + 2] == "\n":
                self.pos += 2
            elif c == "\\" and self.pos + 1 < len(s):
                flush()
                parts.append(Lit(s[self.pos + 1], True))
                self.pos += 2
            elif dq_lit and c == "'":
                buf.append(c)
                self.pos += 1
            elif c == "'":
                end = s.find("'", self.pos + 1)
                if end < 0:
                    raise self.err("unexpected EOF while looking for matching `''")
                flush()
                parts.append(Lit(s[self.pos + 1 : end], True))
                self.pos = end + 1
            elif c == '"':
                flush()
                self.pos += 1
                parts.append(DQ(self.read_dq_parts('"')))
            elif c == "$" and self.peekc(1) == "'":
                end = self._find_ansi_end(self.pos + 2)
                flush()
                parts.append(Lit(ansi_c(s[self.pos + 2 : end]), True))
                self.pos = end + 1
            elif c in "$`":
                flush()
                parts.append(self.read_dollar())
            elif (
                c == "~"
                and self.pos > 0
                and not getattr(self, "dq_depth", 0)
                and (
                    (s[self.pos - 1] in "-=+?/#%" and not buf and not parts)
                    or (s[self.pos - 1] == ":" and self.in_assign)
                )
            ):
                j = self.pos + 1
                while j < len(s) and (s[j].isalnum() or s[j] in "_.-"):
                    j += 1
                flush()
                parts.append(Tilde(s[self.pos + 1 : j]))
                self.pos = j
            else:
                buf.append(c)
                self.pos += 1
        else:
            raise self.err("unexpected EOF while looking for matching `}'")
        flush()
        return parts

    # implemented by the parser
    def parse_sub(self, text: str) -> Any:
        raise NotImplementedError

    def parse_cmdsub_inline(self) -> Any:
        raise NotImplementedError
