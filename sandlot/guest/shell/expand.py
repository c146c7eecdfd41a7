"""Word expansion.

Brace, tilde, parameter, command substitution, arithmetic, splitting, globbing.
"""

from __future__ import annotations

import re
from typing import Any

from . import pattern as P
from .arith import ArithError, evaluate
from .ast import DQ, ArithSub, CmdSub, Lit, Param, ProcSub, Tilde, Word

# piece kinds: q quoted text, l unquoted literal (globbable), u unquoted expansion (split+glob),
# B field break ("$@"), E "$@" with no args
Piece = tuple[str, str]
BREAK: Piece = ("", "B")
ATEMPTY: Piece = ("", "E")


class ExpansionError(Exception):
    """An expansion error (bad substitution, ${x?}, unbound variable): message already formed.

    Like bash, a non-interactive shell exits on a fatal one (${x?}, `set -u`); any other
    abandons the top-level command it happened in (the rest of that line's list)."""

    def __init__(self, msg: str, status: int = 1, fatal: bool = False) -> None:
        super().__init__(msg)
        self.status = status
        self.fatal = fatal


def brace_expand(parts: list[Any]) -> list[list[Any]]:
    toks: list[Any] = []
    for p in parts:
        if isinstance(p, Lit) and not p.quoted:
            toks.extend(p.text)
        else:
            toks.append(p)
    if "{" not in toks:
        return [parts]
    out = []
    for seq in _brace(toks, 0):
        res: list[Any] = []
        buf: list[str] = []
        for t in seq:
            if isinstance(t, str):
                buf.append(t)
            else:
                if buf:
                    res.append(Lit("".join(buf)))
                    buf = []
                res.append(t)
        if buf:
            res.append(Lit("".join(buf)))
        out.append(res)
    return out


SEQ = re.compile(r"^(-?\d+|[a-zA-Z])\.\.(-?\d+|[a-zA-Z])(?:\.\.(-?\d+))?$")


def _seq(body: str) -> list[str] | None:
    m = SEQ.match(body)
    if not m:
        return None
    a, b, st = m.group(1), m.group(2), m.group(3)
    step = abs(int(st)) if st else 1
    if step == 0:
        step = 1
    if a.isalpha() != b.isalpha():
        return None
    if a.isalpha():
        x, y = ord(a), ord(b)
        rng = range(x, y + 1, step) if x <= y else range(x, y - 1, -step)
        return [chr(c) for c in rng]
    x, y = int(a), int(b)
    rng = range(x, y + 1, step) if x <= y else range(x, y - 1, -step)
    width = 0
    if (a.lstrip("-").startswith("0") and len(a.lstrip("-")) > 1) or (
        b.lstrip("-").startswith("0") and len(b.lstrip("-")) > 1
    ):
        width = max(len(a), len(b))
    return [str(v).zfill(width) if width else str(v) for v in rng]


def _brace(toks: list[Any], start: int) -> list[list[Any]]:
    i = start
    n = len(toks)
    while i < n:
        if toks[i] == "{" and not (i > 0 and toks[i - 1] == "$"):
            depth = 0
            commas = []
            j = i
            while j < n:
                t = toks[j]
                if t == "{":
                    depth += 1
                elif t == "}":
                    depth -= 1
                    if depth == 0:
                        break
                elif t == "," and depth == 1:
                    commas.append(j)
                j += 1
            if j < n:
                prefix, body, suffix = toks[:i], toks[i + 1 : j], toks[j + 1 :]
                alts: list[list[Any]] | None = None
                if commas:
                    alts, last = [], i + 1
                    for c in commas + [j]:
                        alts.append(toks[last:c])
                        last = c + 1
                elif all(isinstance(t, str) for t in body):
                    s = _seq("".join(body))
                    if s is not None:
                        alts = [list(x) for x in s]
                if alts is not None:
                    res = []
                    for alt in alts:
                        res.extend(_brace(prefix + alt + suffix, len(prefix)))
                    return res
        i += 1
    return [toks]


class Expander:
    """Mixin for Interp: needs get_values/lookup/set_var/command_sub/ifs/options."""

    # -- public entry points
    def expand_words(self, words: list[Word]) -> list[str]:
        out: list[str] = []
        for w in words:
            out.extend(self.expand_word(w))
        return out

    def expand_word(self, w: Word) -> list[str]:
        if len(w.parts) == 1:
            p = w.parts[0]
            if type(p) is Lit and (p.quoted or not any(c in p.text for c in "*?[{@!+")):
                return [p.text]
        res: list[str] = []
        expanded = brace_expand(w.parts)
        if len(expanded) > 1:
            expanded = [_tilde_prefix(p) for p in expanded]
        for parts in expanded:
            pieces = self.pieces(parts, False)
            for field in self.split(pieces):
                res.extend(self.glob_field(field))
        return res

    def expand_str(self, w: Word | None) -> str:
        """Expansion without splitting or globbing (assignments, here-docs, case subject)."""
        if w is None:
            return ""
        parts = w.parts
        if len(parts) == 1 and type(parts[0]) is Lit:
            return parts[0].text  # plain text, as in (( i < 1000 )): nothing to expand
        out = []
        for text, kind in self.pieces(parts, False, nosplit=True):
            if kind == "B":
                out.append(" ")
            else:
                out.append(text)
        return "".join(out)

    def expand_pattern(self, w: Word | None, extglob: bool = False) -> str:
        """Expand to a glob pattern: quoted text is backslash-escaped.

        Extglob groups stay literal unless `extglob` (`[[ ]]` always has them) or shopt extglob.
        """
        if w is None:
            return ""
        out = []
        for text, kind in self.pieces(w.parts, False, nosplit=True):
            if kind in ("q",):
                out.append(re.sub(r"([\\*?\[\]()|@!+])", r"\\\1", text))
            elif kind == "B":
                out.append(" ")
            else:
                out.append(text)
        pat = "".join(out)
        if "(" in pat and not extglob and not self.options["extglob"]:
            return P.no_extglob(pat)
        return pat

    def expand_regex(self, w: Word) -> str:
        out = []
        for text, kind in self.pieces(w.parts, False, nosplit=True):
            out.append(re.escape(text) if kind == "q" else text)
        return "".join(out)

    # -- splitting / globbing
    def split(self, pieces: list[Piece]) -> list[list[tuple[str, bool]]]:
        ifs = self.ifs()
        ws = "".join(c for c in ifs if c in " \t\n")
        fields: list[list[tuple[str, bool]]] = []
        cur: list[tuple[str, bool]] = []
        started = False
        after_ws = False
        for text, kind in pieces:
            if kind == "B":  # between the elements of ${a[@]}: an empty unquoted one is no word
                if started:
                    fields.append(cur)
                cur, started = [], False
                continue
            if kind == "E":
                continue
            if kind == "q":
                cur.append((text, False))
                started = True
                after_ws = False
                continue
            if kind == "l":
                if text:
                    cur.append((text, True))
                    started = True
                    after_ws = False
                continue
            buf: list[str] = []
            for c in text:
                if c not in ifs:
                    buf.append(c)
                    started = True
                    after_ws = False
                    continue
                if buf:
                    cur.append(("".join(buf), True))
                    buf = []
                if c in ws:
                    if started:
                        fields.append(cur)
                        cur, started = [], False
                        after_ws = True
                else:
                    if started or not after_ws:
                        fields.append(cur)
                        cur, started = [], False
                    after_ws = False
            if buf:
                cur.append(("".join(buf), True))
        if started:
            fields.append(cur)
        return fields

    def glob_field(self, field: list[tuple[str, bool]]) -> list[str]:
        plain = "".join(t for t, _ in field)
        if self.opt("noglob") or not any(g and any(ch in t for ch in "*?[") for t, g in field):
            if not any(g and ("@(" in t or "!(" in t or "+(" in t) for t, g in field):
                return [plain]
        pat = "".join(t if g else re.sub(r"([\\*?\[\]()|@!+])", r"\\\1", t) for t, g in field)
        if "(" in pat and not self.options["extglob"]:
            pat = P.no_extglob(pat)
        if not P.has_magic(pat):
            return [plain]
        matches = P.glob(pat, self.cwd, self.opt("dotglob"), self.opt("globstar"))
        if matches:
            return matches
        if self.opt("nullglob"):
            return []
        return [P.unescape(pat) if False else plain]

    # -- pieces
    def pieces(self, parts: list[Any], quoted: bool, nosplit: bool = False) -> list[Piece]:
        out: list[Piece] = []
        for p in parts:
            if isinstance(p, Lit):
                out.append((p.text, "q" if (p.quoted or quoted) else "l"))
            elif isinstance(p, DQ):
                inner = self.pieces(p.parts, True, nosplit)
                if not inner:
                    out.append(("", "q"))
                else:
                    out.extend(inner)
            elif isinstance(p, Param):
                out.extend(self.expand_param(p, quoted, nosplit))
            elif isinstance(p, CmdSub):
                s = self.command_sub(p.node)
                out.append((s, "q" if quoted else "u"))
            elif isinstance(p, ProcSub):
                out.append((self.proc_sub(p.node), "q"))
            elif isinstance(p, ArithSub):
                out.append((str(self.arith(self.expand_str(p.expr))), "q" if quoted else "u"))
            elif isinstance(p, Tilde):
                out.append((self.tilde(p.user), "q"))
        return out

    def tilde(self, user: str) -> str:
        if user == "":
            home = self.get_str("HOME")  # set but empty is empty
            return "/root" if home is None else home
        if user == "+":
            return self.get_str("PWD") or self.cwd
        if user == "-":
            return self.get_str("OLDPWD") or "~-"
        if user == "root":
            return "/root"
        return "~" + user

    def arith(self, text: str) -> int:
        try:
            return evaluate(text, self)  # type: ignore[arg-type]
        except ArithError as e:
            raise ExpansionError(f"{e}") from None
        except RecursionError:
            raise ExpansionError(f"{text}: expression recursion level exceeded") from None

    # -- parameters
    def expand_param(self, p: Param, quoted: bool, nosplit: bool = False) -> list[Piece]:
        kind = "q" if quoted else "u"
        name, index = p.name, p.index
        if p.indirect:
            if p.op in ("!@", "!*"):
                names = sorted(self.all_var_names(name))
                if p.op == "!*" and not quoted and not nosplit and not self.ifs():
                    return [("".join(names), kind)]  # bash joins the names with IFS's ''
                return self._multi(names, quoted, p.op == "!*", kind, nosplit)
            if index in ("@", "*"):
                keys = self.array_keys(name)
                if index == "*" and not quoted and not nosplit and not self.ifs():
                    return [(" ".join(keys), kind)]  # bash joins the keys with ' ' here
                return self._multi(keys, quoted, index == "*", kind, nosplit)
            ref = self.lookup_raw(name) if self.namerefs and index is None else None
            if ref is not None and "n" in ref.attrs and isinstance(ref.value, str):
                return [(ref.value, kind)]  # ${!ref} of a nameref is the name it follows
            target = self.get_str(name) if index is None else self._elem_str(name, index)
            if target is None:
                if p.op in ("-", ":-", "+", ":+", "=", ":="):
                    target = ""
                else:
                    if self.opt("nounset"):
                        raise ExpansionError(f"{name}: unbound variable", fatal=True)
                    return []
            if "[" in target and target.endswith("]"):
                name, index = target[: target.index("[")], target[target.index("[") + 1 : -1]
            else:
                name, index = target, None
            if not (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-]", name)):
                raise ExpansionError(
                    f"{target}: invalid indirect expansion"
                    if target
                    else f"{p.name}: invalid indirect expansion"
                )
        multi = name in ("@", "*") or index in ("@", "*")
        star = name == "*" or index == "*"
        if multi:
            vals: list[str] | None = (
                self.positional() if name in ("@", "*") else self.array_values(name)
            )
            if name not in ("@", "*") and not self.is_set(name) and not self.array_values(name):
                vals = None if self.lookup_var(name) is None else vals
        else:
            v = self.get_str(name) if index is None else self._elem_str(name, index)
            vals = None if v is None else [v]
        if p.length:
            if multi:
                return [(str(len(vals or [])), kind)]
            if vals is None and self.opt("nounset"):
                raise ExpansionError(f"{name}: unbound variable", fatal=True)
            return [(str(len(vals[0]) if vals else 0), kind)]
        op = p.op
        is_set = vals is not None and (not multi or len(vals) > 0 or name in ("@", "*"))
        if multi and name in ("@", "*"):
            is_set = len(vals or []) > 0
        if not multi:
            nonnull = is_set and any(v != "" for v in vals or [])
        elif p.indirect:  # ${!ref:-x} with ref='a[@]': any element counts
            nonnull = is_set
        elif star and quoted:  # "${a[*]:-x}" tests the joined word
            nonnull = is_set and self.ifs()[:1].join(vals or []) != ""
        else:
            nonnull = is_set and (len(vals or []) > 1 or (vals or [""])[0] != "")
        if op in ("-", ":-", "=", ":=", "+", ":+", "?", ":?"):
            cond = nonnull if op.startswith(":") else is_set
            base = op.lstrip(":")
            if base == "+":
                if cond:
                    return self._arg_pieces(p, quoted, nosplit)
                if quoted:  # "${a[@]+x}" of an empty array is no word at all, like "$@"
                    return [ATEMPTY] if multi and not star else [("", "q")]
                return []
            if cond:
                return (
                    self._multi(vals or [], quoted, star, kind, nosplit)
                    if multi
                    else [((vals or [""])[0], kind)]
                )
            if base == "-":
                return self._arg_pieces(p, quoted, nosplit)
            if base == "=":
                val = self.expand_str(p.arg)
                if index is not None and not multi:
                    self.set_elem(name, index, val)
                else:
                    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                        raise ExpansionError(f"${name}: cannot assign in this way")
                    self.set_var(name, val)
                return [(val, kind)]
            msg = (
                self.expand_str(p.arg)
                if p.arg and p.arg.parts
                else ("parameter null or not set" if op == ":?" else "parameter not set")
            )
            raise ExpansionError(f"{name}: {msg}", fatal=True)
        if vals is None:
            if op == "BAD":  # a ${...} the parser could not make sense of
                raise ExpansionError(f"{self.expand_str(p.arg)}: bad substitution")
            if self.opt("nounset") and not multi:  # bash: "${undef[@]}" is no error
                raise ExpansionError(f"{name}: unbound variable", fatal=True)
            if op == "":  # "${unset[@]}" is no word at all, as "${empty[@]}"
                return [ATEMPTY] if multi and not star else []
            vals = []
            if not multi:
                vals = [""]
        if op == "":
            pass
        elif op in ("#", "##", "%", "%%"):
            pat = self.expand_pattern(p.arg)
            vals = [strip(v, pat, op) for v in vals]
        elif op in ("/", "//", "/#", "/%"):
            pat = self.expand_pattern(p.arg)
            rep = self.expand_str(p.arg2) if p.arg2 is not None else ""
            vals = [replace(v, pat, rep, op) for v in vals]
        elif op in ("^", "^^", ",", ",,"):
            pat = self.expand_pattern(p.arg) if p.arg and p.arg.parts else ""
            vals = [casemod(v, op, pat) for v in vals]
        elif op == ":":
            off = self.arith(self.expand_str(p.arg)) if p.arg and p.arg.parts else 0
            ln = self.arith(self.expand_str(p.arg2)) if p.arg2 is not None else None
            if multi:
                src = vals
                if name in ("@", "*"):
                    src = [self.arg0] + vals
                    if off < 0:
                        off += len(src)
                    elif off == 0:
                        pass
                    else:
                        pass
                else:
                    var = self.lookup_var(name)
                    if var is not None and isinstance(var.value, dict) and "A" not in var.attrs:
                        # an indexed array is sliced by index: elements from index off on
                        ks = sorted(var.value)
                        if off < 0:
                            off += ks[-1] + 1 if ks else 0
                        src = [var.value[k] for k in ks if k >= off]
                        off = 0 if off >= 0 else off
                    elif off < 0:
                        off += len(src)
                if off < 0:
                    vals = []
                else:
                    if ln is not None and ln < 0:
                        raise ExpansionError(f"{ln}: substring expression < 0")
                    vals = src[off:] if ln is None else src[off : off + ln]
            else:
                v = vals[0]
                if off < 0:
                    off += len(v)
                    if off < 0:
                        vals = [""]
                        return [("", kind)]
                if ln is None:
                    vals = [v[off:]]
                elif ln < 0:
                    end = len(v) + ln
                    if end < off:
                        raise ExpansionError(f"{ln}: substring expression < 0")
                    vals = [v[off:end]]
                else:
                    vals = [v[off : off + ln]]
        elif op == "@":
            letter = self.expand_str(p.arg)
            vals = [transform(v, letter, self, name) for v in vals]
        if multi:
            return self._multi(vals, quoted, star, kind, nosplit)
        return [(vals[0] if vals else "", kind)]

    def _arg_pieces(self, p: Param, quoted: bool, nosplit: bool) -> list[Piece]:
        """Pieces of a ${x:-word} word: its unquoted literal text is subject to splitting."""
        pieces = self.pieces(p.arg.parts if p.arg else [], quoted, nosplit)
        if quoted or nosplit:
            return pieces
        return [(t, "u" if k == "l" else k) for t, k in pieces]

    def _multi(
        self, vals: list[str], quoted: bool, star: bool, kind: str, nosplit: bool = False
    ) -> list[Piece]:
        if star and (quoted or nosplit):  # "$*", and x=$*: one word joined by IFS's first
            return [(self.ifs()[:1].join(vals), kind)]
        if not vals:
            return [ATEMPTY]
        if not quoted and not nosplit:
            # unquoted $@ $* ${a[@]}: the elements joined by IFS's first character, then
            # split (so IFS=x keeps empty elements as words); with IFS='' they stay apart
            sep = self.ifs()[:1]
            if sep:
                return [(sep.join(vals), kind)]
        out: list[Piece] = []
        for i, v in enumerate(vals):
            if i:
                out.append(BREAK if (quoted or kind == "u") else (" ", "q"))
            out.append((v, "q" if quoted else kind))
        return out

    def _elem_str(self, name: str, index: str) -> str | None:
        return self.get_elem(name, index)


def strip(v: str, pat: str, op: str) -> str:
    rx = P.compile_pattern(pat)
    n = len(v)
    if op == "#":
        for i in range(0, n + 1):
            if rx.fullmatch(v, 0, i):
                return v[i:]
    elif op == "##":
        for i in range(n, -1, -1):
            if rx.fullmatch(v, 0, i):
                return v[i:]
    elif op == "%":
        for i in range(n, -1, -1):
            if rx.fullmatch(v, i, n):
                return v[:i]
    else:
        for i in range(0, n + 1):
            if rx.fullmatch(v, i, n):
                return v[:i]
    return v


def replace(v: str, pat: str, rep: str, op: str) -> str:
    if pat == "" and op not in ("/#", "/%"):
        return v
    rx = P.compile_pattern(pat)
    n = len(v)
    if op == "/#":
        for i in range(n, -1, -1):
            if rx.fullmatch(v, 0, i):
                return rep + v[i:]
        return v
    if op == "/%":
        for i in range(0, n + 1):
            if rx.fullmatch(v, i, n):
                return v[:i] + rep
        return v
    out = []
    i = 0
    while i <= n:
        found = -1
        for j in range(n, i, -1):
            if rx.fullmatch(v, i, j):
                found = j
                break
        if found > i:
            out.append(rep)
            i = found
            if op == "/":
                out.append(v[i:])
                return "".join(out)
            continue
        if i < n:
            out.append(v[i])
        i += 1
    return "".join(out)


def casemod(v: str, op: str, pat: str) -> str:
    def ok(c: str) -> bool:
        return not pat or P.match(pat, c)

    if op == "^":
        return (v[0].upper() if ok(v[0]) else v[0]) + v[1:] if v else v
    if op == ",":
        return (v[0].lower() if ok(v[0]) else v[0]) + v[1:] if v else v
    if op == "^^":
        return "".join(c.upper() if ok(c) else c for c in v)
    return "".join(c.lower() if ok(c) else c for c in v)


def _tilde_prefix(parts: list[Any]) -> list[Any]:
    """Brace expansion happens before tilde expansion: {~,~root}/x yields two tilde words."""
    if (
        parts
        and isinstance(parts[0], Lit)
        and not parts[0].quoted
        and parts[0].text.startswith("~")
    ):
        m = re.match(r"~([A-Za-z0-9_.+-]*)(?=/|$)", parts[0].text)
        if m:
            rest = parts[0].text[m.end() :]
            return [Tilde(m.group(1))] + ([Lit(rest)] if rest else []) + parts[1:]
    return parts


def shell_quote(s: str) -> str:
    if s and re.fullmatch(r"[A-Za-z0-9_./=:,+@%^-]+", s):
        return s
    if any(c in s for c in "\n\t\r\x1b") or any(ord(c) < 32 for c in s):
        out = []
        for c in s:
            if c == "\n":
                out.append("\\n")
            elif c == "\t":
                out.append("\\t")
            elif c == "'":
                out.append("\\'")
            elif c == "\\":
                out.append("\\\\")
            elif ord(c) < 32:
                out.append(f"\\{ord(c):03o}")
            else:
                out.append(c)
        return "$'" + "".join(out) + "'"
    return "'" + s.replace("'", "'\\''") + "'"


def transform(v: str, letter: str, sh: Any, name: str) -> str:
    if letter == "Q":
        return (
            "'" + v.replace("'", "'\\''") + "'"
            if not any(ord(c) < 32 for c in v)
            else shell_quote(v)
        )
    if letter == "U":
        return v.upper()
    if letter == "u":
        return v[:1].upper() + v[1:]
    if letter == "L":
        return v.lower()
    if letter == "E":
        from .lexer import ansi_c

        return ansi_c(v)
    if letter == "a":
        return sh.var_attrs(name)
    return v
