"""Recursive-descent parser producing ast nodes.

Parses one top-level command at a time like bash.
"""

from __future__ import annotations

import re
from typing import Any

from . import ast as A
from .lexer import Lexer, ParseError, is_name

REDIR_OPS = {"<", ">", ">>", ">|", "<>", "<&", ">&", "&>", "&>>", "<<", "<<-", "<<<"}
CLOSERS = {"then", "else", "elif", "fi", "do", "done", "esac", "}"}
RESERVED = CLOSERS | {
    "if",
    "while",
    "until",
    "for",
    "select",
    "case",
    "{",
    "!",
    "function",
    "[[",
    "in",
}
Tok = tuple[str, Any]
SUBSCRIPT_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\[")
DECL = {"declare", "typeset", "local", "export", "readonly"}


_NAMED_FD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}(?=[<>])")


class Parser(Lexer):
    def __init__(
        self, src: str, aliases: dict[str, str] | None = None, extglob: bool = True
    ) -> None:
        super().__init__(src)
        self.aliases = aliases if aliases is not None else {}
        if not extglob:
            self.extglob = False
        self.tok: Tok | None = None
        self.tok_start = 0
        self.pending: list[tuple[A.Redir, str, bool, bool]] = []
        self.alias_until: dict[str, int] = {}

    def _inherit(self, sub: Any) -> None:
        sub.aliases = self.aliases

    # -- tokens
    def _lex(self) -> Tok:
        self.skip_blanks()
        s = self.src
        if self.pos >= len(s):
            return ("eof", None)
        c = s[self.pos]
        if c == "\n":
            self.pos += 1
            self.read_heredocs()
            return ("nl", None)
        if c == "{":
            m = _NAMED_FD.match(s, self.pos)
            if m is not None:  # {name}>file: the shell picks a descriptor and sets name
                save = self.pos
                self.pos = m.end()
                op = self.match_op()
                if op in REDIR_OPS and op not in ("&>", "&>>"):
                    self.pos += len(op)  # type: ignore[arg-type]
                    return ("redir", (m.group(1), op))
                self.pos = save
        if c.isdigit():
            j = self.pos
            while j < len(s) and s[j].isdigit():
                j += 1
            if j < len(s) and s[j] in "<>":
                save = self.pos
                self.pos = j
                op = self.match_op()
                if op in REDIR_OPS and op not in ("&>", "&>>"):
                    self.pos += len(op)  # type: ignore[arg-type]
                    return ("redir", (int(s[save:j]), op))
                self.pos = save
        op = self.match_op() if not s.startswith("<(", self.pos) else None
        if op:
            self.pos += len(op)
            if op in REDIR_OPS:
                return ("redir", (None, op))
            return ("op", op)
        w = self.read_word()
        if w is None:
            raise self.err(f"syntax error near unexpected token `{c}'")
        return ("word", w)

    def peek(self) -> Tok:
        if self.tok is None:
            self.skip_blanks()
            self.tok_start = self.pos
            self.tok = self._lex()
        return self.tok

    def take(self) -> Tok:
        t = self.peek()
        self.tok = None
        return t

    def unpeek(self) -> None:
        if self.tok is not None and self.tok[0] != "nl":
            self.pos = self.tok_start
            self.tok = None

    def peek_word(self) -> str | None:
        t = self.peek()
        if t[0] == "word":
            return t[1].unquoted_literal()
        return None

    def is_op(self, *ops: str) -> bool:
        t = self.peek()
        return t[0] == "op" and t[1] in ops

    def tok_text(self, t: Tok) -> str:
        if t[0] == "eof":
            return ""
        if t[0] == "nl":
            return "newline"
        if t[0] == "word":
            return self.src[self.tok_start : self.pos] if self.tok is None else "word"
        if t[0] == "redir":
            return t[1][1]
        return str(t[1])

    def unexpected(self) -> ParseError:
        t = self.peek()
        if t[0] == "eof":
            return self.err("syntax error: unexpected end of file")
        text = self.src[self.tok_start : self.pos] if t[0] == "word" else self.tok_text(t)
        return ParseError(
            f"syntax error near unexpected token `{text}'", self.line_at(self.tok_start)
        )

    def expect_word(self, kw: str) -> None:
        if self.peek_word() != kw:
            raise self.unexpected()
        self.take()

    def skip_nl(self) -> None:
        while self.peek()[0] == "nl":
            self.take()

    # -- heredocs
    def read_heredocs(self) -> None:
        pend, self.pending = self.pending, []
        for redir, delim, strip, quoted in pend:
            lines = []
            s = self.src
            while True:
                if self.pos >= len(s):
                    break
                e = s.find("\n", self.pos)
                line = s[self.pos :] if e < 0 else s[self.pos : e]
                self.pos = len(s) if e < 0 else e + 1
                if strip:
                    line = line.lstrip("\t")
                if line == delim:
                    break
                lines.append(line + "\n")
            body = "".join(lines)
            if quoted:
                redir.heredoc = A.Word([A.Lit(body, True)])
            else:
                redir.heredoc = self.sub_word(body)

    # -- grammar
    def parse_next(self) -> A.CmdList | None:
        """Parse the next top-level line (list up to newline); None at EOF."""
        self.skip_nl()
        if self.peek()[0] == "eof":
            return None
        items: list[tuple[Any, bool]] = []
        while True:
            self.peek()
            start = self.tok_start
            ao = self.parse_and_or()
            bg = False
            t = self.peek()
            sep = True
            if t == ("op", "&"):
                ao.bg_text = self.src[start : self.tok_start].strip()  # for `jobs`
                self.take()
                bg = True
            elif t == ("op", ";"):
                self.take()
            else:
                sep = False
            items.append((ao, bg))
            t = self.peek()
            if t[0] in ("nl", "eof"):
                if t[0] == "nl":
                    self.take()
                break
            if not sep or (t[0] == "op" and t[1] not in ("(", "((")):
                raise self.unexpected()
        return A.CmdList(items)

    def parse_all(self) -> A.CmdList:
        items: list[tuple[Any, bool]] = []
        while True:
            cl = self.parse_next()
            if cl is None:
                return A.CmdList(items)
            items.extend(cl.items)

    def parse_sub(self, text: str) -> Any:
        p = Parser(text, self.aliases, self.extglob)
        return p.parse_all()

    def parse_cmdsub_inline(self) -> Any:
        p = Parser(self.src, self.aliases, self.extglob)
        p.pos = self.pos
        body = p.parse_compound_list(allow_empty=True)
        if not p.is_op(")"):
            raise p.unexpected()
        p.take()
        self.pos = p.pos
        return body

    def at_list_end(self) -> bool:
        t = self.peek()
        if t[0] == "eof":
            return True
        if t[0] == "op" and t[1] in (")", ";;", ";&", ";;&"):
            return True
        if t[0] == "word" and t[1].unquoted_literal() in CLOSERS:
            return True
        return False

    def parse_compound_list(self, allow_empty: bool = False) -> A.CmdList:
        items: list[tuple[Any, bool]] = []
        self.skip_nl()
        if not allow_empty and self.at_list_end() and self.peek()[0] != "eof":
            raise self.unexpected()
        while not self.at_list_end():
            self.peek()
            start = self.tok_start
            ao = self.parse_and_or()
            bg = False
            t = self.peek()
            if t == ("op", "&"):
                ao.bg_text = self.src[start : self.tok_start].strip()  # for `jobs`
                self.take()
                bg = True
            elif t == ("op", ";"):
                self.take()
            elif t[0] == "nl":
                pass
            elif not self.at_list_end():
                raise self.unexpected()
            items.append((ao, bg))
            self.skip_nl()
        return A.CmdList(items)

    def parse_and_or(self) -> Any:
        first = self.parse_pipeline()
        rest = []
        while self.is_op("&&", "||"):
            op = self.take()[1]
            self.skip_nl()
            rest.append((op, self.parse_pipeline()))
        return A.AndOr(first, rest) if rest else first

    def parse_pipeline(self) -> Any:
        negate = False
        line = self.line_at(self.pos)
        prefixed = False
        while self.peek_word() in ("!", "time"):
            prefixed = True
            if self.take()[1].unquoted_literal() == "!":
                negate = not negate
            while self.peek_word() == "-p":
                self.take()
        if prefixed and self.peek() in (("op", ";"), ("op", "&"), ("nl", None), ("eof", None)):
            return A.Pipeline([A.Simple([], [], [])], negate, line)  # `!` alone: status 1
        cmds = [self.parse_command()]
        while self.is_op("|", "|&"):
            op = self.take()[1]
            if op == "|&":
                cmds[-1] = A.Redirected(cmds[-1], [A.Redir(2, ">&", A.Word([A.Lit("1")]))])
            self.skip_nl()
            cmds.append(self.parse_command())
        if len(cmds) == 1 and not negate:
            return cmds[0]
        return A.Pipeline(cmds, negate, line)

    def parse_redirs(self, node: Any) -> Any:
        redirs = []
        while self.peek()[0] == "redir":
            redirs.append(self.parse_redir())
        return A.Redirected(node, redirs) if redirs else node

    def parse_redir(self) -> A.Redir:
        fd, op = self.take()[1]
        t = self.take()
        if t[0] != "word":
            self.tok = t
            raise self.unexpected()
        w = t[1]
        r = A.Redir(fd, op, w) if not isinstance(fd, str) else A.Redir(None, op, w, fd_var=fd)
        if op in ("<<", "<<-"):
            delim, quoted = self.heredoc_delim(w)
            self.pending.append((r, delim, op == "<<-", quoted))
        return r

    @staticmethod
    def heredoc_delim(w: A.Word) -> tuple[str, bool]:
        out, quoted = [], False
        for p in w.parts:
            if isinstance(p, A.Lit):
                out.append(p.text)
                quoted = quoted or p.quoted
            elif isinstance(p, A.DQ):
                quoted = True
                out.extend(x.text for x in p.parts if isinstance(x, A.Lit))
            elif isinstance(p, A.Param):
                out.append("$" + p.name)
        return "".join(out), quoted

    def parse_command(self) -> Any:
        t = self.peek()
        if t[0] == "op":
            if t[1] == "(":
                self.take()
                body = self.parse_compound_list()
                if not self.is_op(")"):
                    raise self.unexpected()
                self.take()
                return self.parse_redirs(A.Subshell(body))
            if t[1] == "((":
                line = self.line_at(self.pos)
                self.take()
                save = self.pos
                try:
                    w = self.read_arith_text("))")
                except ParseError:  # `((cmd) )`: not arithmetic, a subshell in a subshell
                    self.pos = save - 1
                    body = self.parse_compound_list()
                    if not self.is_op(")"):
                        raise self.unexpected() from None
                    self.take()
                    return self.parse_redirs(A.Subshell(body))
                return self.parse_redirs(A.DParen(w, line))
            raise self.unexpected()
        if t[0] == "word":
            kw = t[1].unquoted_literal()
            if kw in CLOSERS or kw == "in" and False:
                raise self.unexpected()
            if kw == "{":
                self.take()
                body = self.parse_compound_list()
                self.expect_word("}")
                return self.parse_redirs(A.Group(body))
            if kw == "if":
                return self.parse_redirs(self.parse_if())
            if kw in ("while", "until"):
                self.take()
                cond = self.parse_compound_list()
                self.expect_word("do")
                body = self.parse_compound_list()
                self.expect_word("done")
                return self.parse_redirs(A.While(cond, body, kw == "until"))
            if kw == "for":
                return self.parse_redirs(self.parse_for())
            if kw == "select":
                return self.parse_redirs(self.parse_for(select=True))
            if kw == "case":
                return self.parse_redirs(self.parse_case())
            if kw == "[[":
                line = self.line_at(self.pos)
                self.take()
                ext = self.extglob
                self.extglob = True  # [[ ]] patterns take extglob groups whatever the shopt
                try:
                    e = self.parse_dbracket()
                finally:
                    self.extglob = ext
                return self.parse_redirs(A.DBracket(e, line))
            if kw == "function":
                self.take()
                nt = self.take()
                name = nt[1].literal() if nt[0] == "word" else None
                if not name:
                    self.tok = nt
                    raise self.unexpected()
                if self.is_op("("):
                    self.take()
                    if not self.is_op(")"):
                        raise self.unexpected()
                    self.take()
                self.skip_nl()
                return A.FuncDef(name, self.parse_func_body())
        return self.parse_simple()

    def parse_func_body(self) -> Any:
        """A function body must be a compound command (bash rejects `f() ls`)."""
        t = self.peek()
        if t[0] == "op" and t[1] in ("(", "(("):
            return self.parse_command()
        if t[0] == "word" and t[1].unquoted_literal() in (
            "{",
            "if",
            "while",
            "until",
            "for",
            "select",
            "case",
            "[[",
        ):
            return self.parse_command()
        raise self.unexpected()

    def parse_if(self) -> A.If:
        self.take()
        clauses = []
        cond = self.parse_compound_list()
        self.expect_word("then")
        body = self.parse_compound_list()
        clauses.append((cond, body))
        else_ = None
        while True:
            w = self.peek_word()
            if w == "elif":
                self.take()
                cond = self.parse_compound_list()
                self.expect_word("then")
                clauses.append((cond, self.parse_compound_list()))
            elif w == "else":
                self.take()
                else_ = self.parse_compound_list()
            elif w == "fi":
                self.take()
                return A.If(clauses, else_)
            else:
                raise self.unexpected()

    def parse_do_body(self) -> A.CmdList:
        self.skip_nl()
        w = self.peek_word()
        if w == "{":
            self.take()
            body = self.parse_compound_list()
            self.expect_word("}")
            return body
        self.expect_word("do")
        body = self.parse_compound_list()
        self.expect_word("done")
        return body

    def parse_for(self, select: bool = False) -> Any:
        self.take()
        if not select and self.is_op("(("):
            self.take()
            w = self.read_arith_text("))")
            text = "".join(p.text if isinstance(p, A.Lit) else "\x00" for p in w.parts)
            raw = self.src  # reparse segments from text by splitting on ';'
            segs = self._split_cfor(w)
            if self.is_op(";"):
                self.take()
            del raw, text
            return A.CFor(segs[0], segs[1], segs[2], self.parse_do_body())
        t = self.take()
        if t[0] != "word":
            self.tok = t
            raise self.unexpected()
        # a word that is no name (`1`, `f\1`, `$x`) is an error when the loop runs, as in bash
        name = t[1].literal() or ""
        raw = self.src[self.tok_start : self.pos].strip()
        if raw != name and raw:
            name = raw
        words: list[A.Word] | None = None
        while self.peek()[0] == "nl":
            self.take()
        if self.peek_word() == "in":
            self.take()
            words = []
            while self.peek()[0] == "word":
                words.append(self.take()[1])
            if self.is_op(";"):
                self.take()
            elif self.peek()[0] != "nl":
                raise self.unexpected()
        elif self.is_op(";"):
            self.take()
        body = self.parse_do_body()
        return A.For(name, words, body, self.line_at(self.tok_start), select)

    def _bad_compound(self, head: str, at: int, token: str) -> A.Assign:
        """`a=(x & y)`: bash reports the token when this runs and drops the rest of the line."""
        while self.peek()[0] not in ("nl", "eof"):
            self.take()
        start = self.src.rfind("\n", 0, at) + 1
        end = self.src.find("\n", at)
        line = self.src[start : end if end >= 0 else len(self.src)]
        n = self.src.count("\n", 0, at) + 1
        msg = f"{n}\nsyntax error near unexpected token `{token}'\n`{line}'"
        return A.Assign(head, None, None, [], False, "", msg)

    @staticmethod
    def _split_cfor(w: A.Word) -> list[A.Word | None]:
        segs: list[list[Any]] = [[]]
        for p in w.parts:
            if isinstance(p, A.Lit) and ";" in p.text:
                pieces = p.text.split(";")
                for i, piece in enumerate(pieces):
                    if i:
                        segs.append([])
                    if piece:
                        segs[-1].append(A.Lit(piece, p.quoted))
            else:
                segs[-1].append(p)
        while len(segs) < 3:
            segs.append([])
        out: list[A.Word | None] = []
        for s in segs[:3]:
            txt = "".join(p.text for p in s if isinstance(p, A.Lit))
            out.append(
                A.Word(s)
                if s and (txt.strip() or len(s) > 1 or not isinstance(s[0], A.Lit))
                else None
            )
        return out

    def parse_case(self) -> A.Case:
        self.take()
        t = self.take()
        if t[0] != "word":
            self.tok = t
            raise self.unexpected()
        word = t[1]
        self.skip_nl()
        self.expect_word("in")
        items = []
        self.skip_nl()
        while self.peek_word() != "esac":
            if self.peek()[0] == "eof":
                raise self.unexpected()
            if self.is_op("("):
                self.take()
            pats = []
            while True:
                t = self.take()
                if t[0] != "word":
                    self.tok = t
                    raise self.unexpected()
                pats.append(t[1])
                if self.is_op("|"):
                    self.take()
                    continue
                if self.is_op(")"):
                    self.take()
                    break
                raise self.unexpected()
            body = self.parse_compound_list(allow_empty=True)
            term = ";;"
            if self.is_op(";;", ";&", ";;&"):
                term = self.take()[1]
            elif self.peek_word() != "esac":
                raise self.unexpected()
            items.append((pats, body, term))
            self.skip_nl()
        self.take()
        return A.Case(word, items)

    # -- [[ ]]
    def parse_dbracket(self) -> Any:
        e = self.db_or()
        if self.peek_word() != "]]":
            raise self.unexpected()
        self.take()
        return e

    def db_or(self) -> Any:
        left = self.db_and()
        self.skip_nl()
        while self.is_op("||"):
            self.take()
            self.skip_nl()
            left = ("or", left, self.db_and())
            self.skip_nl()
        return left

    def db_and(self) -> Any:
        left = self.db_not()
        self.skip_nl()
        while self.is_op("&&"):
            self.take()
            self.skip_nl()
            left = ("and", left, self.db_not())
            self.skip_nl()
        return left

    def db_not(self) -> Any:
        self.skip_nl()
        if self.peek_word() == "!":
            self.take()
            return ("not", self.db_not())
        return self.db_primary()

    def db_primary(self) -> Any:
        if self.is_op("("):
            self.take()
            e = self.db_or()
            if not self.is_op(")"):
                raise self.unexpected()
            self.take()
            return e
        t = self.peek()
        if t[0] == "redir" and t[1][1] in ("<", ">"):
            raise self.unexpected()
        if t[0] != "word":
            raise self.unexpected()
        self.take()
        w = t[1]
        lit = w.unquoted_literal()
        if lit in ("]]",):
            self.tok = t
            raise self.unexpected()
        if lit and lit.startswith("-") and len(lit) == 2 and lit[1] in "abcdefghkprstuwxGLNOSnzv":
            n = self.peek()
            if n[0] == "word" and n[1].unquoted_literal() != "]]":
                self.take()
                return ("un", lit, n[1])
        n = self.peek()
        if n[0] == "word":
            op = n[1].unquoted_literal()
            if op in (
                "==",
                "=",
                "!=",
                "=~",
                "-eq",
                "-ne",
                "-lt",
                "-le",
                "-gt",
                "-ge",
                "-nt",
                "-ot",
                "-ef",
            ):
                self.take()
                if op == "=~":
                    self.skip_blanks()
                    right = self.read_regex_word()
                else:
                    r = self.take()
                    if r[0] != "word":
                        self.tok = r
                        raise self.unexpected()
                    right = r[1]
                return ("bin", op, w, right)
        elif n[0] == "redir" and n[1][1] in ("<", ">") and n[1][0] is None:
            self.take()
            r = self.take()
            if r[0] != "word":
                raise self.unexpected()
            return ("bin", n[1][1], w, r[1])
        return ("word", w)

    def read_regex_word(self) -> A.Word:
        s = self.src
        parts: list[Any] = []
        depth = 0
        buf: list[str] = []
        start = self.pos
        while self.pos < len(s):
            c = s[self.pos]
            if c in " \t\n" and depth == 0:
                break
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            if c in "\\'\"$`" or (c == "~" and self.pos == start):  # ~ is a tilde prefix
                if buf:
                    parts.append(A.Lit("".join(buf)))
                    buf = []
                save_meta_pos = self.pos
                w = self.read_word()
                if w is None or self.pos == save_meta_pos:
                    buf.append(c)
                    self.pos += 1
                    continue
                # read_word may have consumed a trailing plain run; keep it
                parts.extend(w.parts)
                continue
            buf.append(c)
            self.pos += 1
        if buf:
            parts.append(A.Lit("".join(buf)))
        return A.Word(parts)

    # -- simple commands
    def parse_simple(self) -> Any:
        assigns: list[A.Assign] = []
        words: list[A.Word] = []
        redirs: list[A.Redir] = []
        line = self.line_at(self.tok_start if self.tok else self.pos)
        while True:
            t = self.peek()
            if t[0] == "redir":
                redirs.append(self.parse_redir())
                continue
            if t[0] != "word":
                break
            w: A.Word = t[1]
            if not words:
                a = self.try_assign(w)
                if a is not None:
                    assigns.append(a)
                    continue
                lit = w.unquoted_literal()
                if lit and lit in self.aliases and self.alias_until.get(lit, -1) < self.tok_start:
                    start, end = self.tok_start, self.pos
                    val = self.aliases[lit]
                    self.src = self.src[:start] + val + self.src[end:]
                    self.pos = start
                    self.tok = None
                    self.alias_until[lit] = start + len(val)
                    continue
            if words and not assigns and len(words) == 1 and self.is_op_after_word("("):
                pass
            self.take()
            if (
                words
                and words[0].unquoted_literal() in DECL
                and self.tok is None
                and self.src[self.pos : self.pos + 1] == "("
                and self._assign_prefix("".join(p.text for p in w.parts if isinstance(p, A.Lit)))
            ):
                start = self.pos
                depth = 0
                while self.pos < len(self.src):
                    c = self.src[self.pos]
                    if c == "\\":
                        self.pos += 2
                        continue
                    if c in "'\"":
                        e = self.src.find(c, self.pos + 1)
                        self.pos = e + 1 if e > 0 else len(self.src)
                        continue
                    self.pos += 1
                    if c == "(":
                        depth += 1
                    elif c == ")":
                        depth -= 1
                        if depth == 0:
                            break
                w = A.Word(w.parts + [A.Lit(self.src[start : self.pos], True)])
            words.append(w)
            if len(words) == 1 and not assigns and not redirs and self.is_op("("):
                name = w.literal()
                self.take()
                if not self.is_op(")") or not name:
                    raise self.unexpected()
                self.take()
                self.skip_nl()
                return A.FuncDef(name, self.parse_func_body())
        if not words and not assigns and not redirs:
            raise self.unexpected()
        return A.Simple(assigns, words, redirs, line)

    def is_op_after_word(self, op: str) -> bool:
        return False

    def try_assign(self, w: A.Word) -> A.Assign | None:
        first = w.parts[0] if w.parts else None
        raw = self.src[self.tok_start : self.pos]
        m = SUBSCRIPT_RE.match(raw)
        if (
            m
            and isinstance(first, A.Lit)
            and not first.quoted
            and "]=" not in first.text.split("=")[0] + "="
        ):
            j, depth = m.end() - 1, 0
            while j < len(raw):
                ch = raw[j]
                if ch in "'\"":
                    e = raw.find(ch, j + 1)
                    j = e + 1 if e > 0 else len(raw)
                    continue
                if ch == "\\":
                    j += 2
                    continue
                if ch == "[":
                    depth += 1
                elif ch == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if raw.startswith("]=", j) or raw.startswith("]+=", j):
                rest = raw[j + (2 if raw.startswith("]=", j) else 3) :]
                self.take()
                sub = Parser(rest, self.aliases, self.extglob)
                sub.assign_value = True
                vw = sub.read_word() or A.Word([])
                return A.Assign(m.group(1), raw[m.end() : j], vw, None, raw.startswith("]+=", j))
        if not isinstance(first, A.Lit) or first.quoted or "=" not in first.text:
            return None
        head, _, rest = first.text.partition("=")
        append = head.endswith("+")
        if append:
            head = head[:-1]
        index = None
        if "[" in head and head.endswith("]"):
            index = head[head.index("[") + 1 : -1]
            head = head[: head.index("[")]
        if not is_name(head):
            return None
        self.take()
        vparts = ([A.Lit(rest)] if rest else []) + w.parts[1:]
        if (
            not vparts
            and self.pos < len(self.src)
            and self.src[self.pos] == "("
            and self.tok is None
        ):
            open_at = self.pos
            self.pos += 1
            elems: list[tuple[str | None, A.Word]] = []
            while True:
                self.skip_blanks()
                t = self.take()
                if t[0] == "nl":
                    continue
                if t == ("op", ")"):
                    break
                if t[0] != "word":
                    if t[0] != "op" or t[1] not in ("&", ";", "|", "&&", "||", ";;"):
                        self.tok = t
                        raise self.unexpected()
                    return self._bad_compound(head, self.tok_start, t[1])
                ew: A.Word = t[1]
                key = None
                raw = self.src[self.tok_start : self.pos]
                if raw.startswith("["):
                    j, depth = 0, 0
                    while j < len(raw):
                        ch = raw[j]
                        if ch in "'\"":
                            e = raw.find(ch, j + 1)
                            j = e + 1 if e > 0 else len(raw)
                            continue
                        if ch == "[":
                            depth += 1
                        elif ch == "]":
                            depth -= 1
                            if depth == 0:
                                break
                        j += 1
                    if raw.startswith("]=", j) or raw.startswith("]+=", j):
                        key = raw[1:j]
                        rest = raw[j + (2 if raw.startswith("]=", j) else 3) :]
                        sub = Parser(rest, self.aliases, self.extglob)
                        sub.assign_value = True
                        ew = sub.read_word() or A.Word([])
                elems.append((key, ew))
            return A.Assign(head, index, None, elems, append, self.src[open_at : self.pos])
        return A.Assign(head, index, A.Word(vparts), None, append)
