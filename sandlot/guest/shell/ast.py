"""AST node types for the shell parser.

Plain dataclasses so the interpreter can dispatch on type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Lit:
    """Literal text; quoted=True means no splitting/globbing/brace expansion."""

    text: str
    quoted: bool = False


@dataclass
class DQ:
    """Double-quoted region: parts are expanded but never split or globbed."""

    parts: list[Any]


@dataclass
class Param:
    """${name op arg}; index is raw text inside [..] (or None)."""

    name: str
    op: str = ""
    arg: Word | None = None
    arg2: Word | None = None
    index: str | None = None
    length: bool = False
    indirect: bool = False


@dataclass
class CmdSub:
    node: Any


@dataclass
class ProcSub:
    """<(cmd): replaced by the path of a file holding cmd's output (no pipes/fds in WASI)."""

    node: Any


@dataclass
class ArithSub:
    expr: Word


@dataclass
class Tilde:
    user: str


Part = Lit | DQ | Param | CmdSub | ArithSub | Tilde


@dataclass
class Word:
    parts: list[Any]

    def literal(self) -> str | None:
        """The plain text of a word made only of literals (used for keywords, names)."""
        out = []
        for p in self.parts:
            if isinstance(p, Lit):
                out.append(p.text)
            else:
                return None
        return "".join(out)

    def unquoted_literal(self) -> str | None:
        if all(isinstance(p, Lit) and not p.quoted for p in self.parts):
            return "".join(p.text for p in self.parts)
        return None


@dataclass
class Redir:
    fd: int | None
    op: str
    target: Word | None = None
    heredoc: Word | None = None
    fd_var: str | None = None


@dataclass
class Assign:
    name: str
    index: str | None
    value: Word | None
    array: list[tuple[str | None, Word]] | None
    append: bool = False
    raw: str = ""  # the source text of an array literal `(...)`
    error: str = ""  # a bad token in `(...)`: bash reports it when the assignment runs


@dataclass
class Simple:
    assigns: list[Assign]
    words: list[Word]
    redirs: list[Redir]
    line: int = 0


@dataclass
class Pipeline:
    cmds: list[Any]
    negate: bool = False
    line: int = 0


@dataclass
class AndOr:
    first: Any
    rest: list[tuple[str, Any]]


@dataclass
class CmdList:
    items: list[tuple[Any, bool]]  # (and_or, background)


@dataclass
class Subshell:
    body: CmdList


@dataclass
class Group:
    body: CmdList


@dataclass
class If:
    clauses: list[tuple[CmdList, CmdList]]
    else_: CmdList | None


@dataclass
class While:
    cond: CmdList
    body: CmdList
    until: bool = False


@dataclass
class For:
    var: str
    words: list[Word] | None
    body: CmdList
    line: int = 0
    select: bool = False  # `select var in …`: a menu on stderr, REPLY read from stdin


@dataclass
class CFor:
    init: Word | None
    cond: Word | None
    step: Word | None
    body: CmdList


@dataclass
class Case:
    word: Word
    items: list[tuple[list[Word], CmdList, str]]


@dataclass
class FuncDef:
    name: str
    body: Any


@dataclass
class DParen:
    expr: Word
    line: int = 0


@dataclass
class DBracket:
    # tree of tuples: ('and',a,b) ('or',a,b) ('not',a) ('un',op,w) ('bin',op,l,r) ('word',w)
    expr: Any
    line: int = 0


@dataclass
class Redirected:
    node: Any
    redirs: list[Redir] = field(default_factory=list)
