"""Glob patterns (bash flavour incl. extglob and [[:classes:]]) translated to Python regexes."""

from __future__ import annotations

import functools
import os
import re

CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r" -~",
    "graph": r"!-~",
}


def has_magic(pat: str) -> bool:
    i = 0
    while i < len(pat):
        c = pat[i]
        if c == "\\":
            i += 2
            continue
        if c in "*?[":
            return True
        if c in "@!+" and i + 1 < len(pat) and pat[i + 1] == "(":
            return True
        i += 1
    return False


def no_extglob(pat: str) -> str:
    """`pat` with its extglob groups made literal (shopt extglob off): `@(a)` matches "@(a)"."""
    out: list[str] = []
    i = 0
    n = len(pat)
    while i < n:
        c = pat[i]
        if c == "\\":
            out.append(pat[i : i + 2])
            i += 2
            continue
        out.append(c)
        if c in "?*+@!" and i + 1 < n and pat[i + 1] == "(":
            out.append("\\")
        i += 1
    return "".join(out)


def _translate(pat: str, i: int, stop: str = "") -> tuple[str, int]:
    out: list[str] = []
    n = len(pat)
    while i < n:
        c = pat[i]
        if stop and c in stop:
            return "".join(out), i
        if c == "\\":
            if i + 1 < n:
                out.append(re.escape(pat[i + 1]))
                i += 2
            else:
                out.append(re.escape("\\"))
                i += 1
        elif c in "?*+@!" and i + 1 < n and pat[i + 1] == "(":
            alts = []
            j = i + 2
            while True:
                sub, j = _translate(pat, j, "|)")
                alts.append(sub)
                if j >= n or pat[j] == ")":
                    break
                j += 1
            body = "|".join(alts)
            i = j + 1
            if c == "?":
                out.append(f"(?:{body})?")
            elif c == "*":
                out.append(f"(?:{body})*")
            elif c == "+":
                out.append(f"(?:{body})+")
            elif c == "@":
                out.append(f"(?:{body})")
            else:
                out.append(f"(?:(?!(?:{body})$).*?)" if False else f"(?!(?:{body})$).*")
        elif c == "*":
            out.append(".*")
            i += 1
        elif c == "?":
            out.append(".")
            i += 1
        elif c == "[":
            j = i + 1
            neg = False
            if j < n and pat[j] in "!^":
                neg = True
                j += 1
            items: list[str] = []
            first = True
            closed = False
            while j < n:
                ch = pat[j]
                if ch == "]" and not first:
                    closed = True
                    break
                first = False
                if ch == "[" and pat.startswith("[:", j):
                    e = pat.find(":]", j + 2)
                    if e > 0:
                        items.append(CLASSES.get(pat[j + 2 : e], ""))
                        j = e + 2
                        continue
                if ch == "\\" and j + 1 < n:
                    items.append(re.escape(pat[j + 1]))
                    j += 2
                    continue
                if j + 2 < n and pat[j + 1] == "-" and pat[j + 2] != "]":
                    lo, hi = ch, pat[j + 2]
                    if hi == "\\" and j + 3 < n:
                        hi = pat[j + 3]
                        j += 1
                    if lo <= hi:
                        items.append(re.escape(lo) + "-" + re.escape(hi))
                    j += 3
                    continue
                items.append(re.escape(ch))
                j += 1
            if not closed:
                out.append(re.escape("["))
                i += 1
            else:
                out.append("[" + ("^" if neg else "") + "".join(items) + "]")
                i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out), i


@functools.lru_cache(maxsize=512)
def compile_pattern(pat: str) -> re.Pattern[str]:
    try:
        return re.compile(_translate(pat, 0)[0], re.DOTALL)
    except (re.error, IndexError):
        return re.compile(re.escape(unescape(pat)), re.DOTALL)


def match(pat: str, s: str) -> bool:
    return compile_pattern(pat).fullmatch(s) is not None


def unescape(pat: str) -> str:
    return re.sub(r"\\(.)", r"\1", pat, flags=re.DOTALL)


def _walk_dirs(base: str, rel: str, dotglob: bool) -> list[str]:
    """rel plus every directory below it (for globstar's **)."""
    out = [rel]
    full = os.path.join(base, rel) if rel else base
    try:
        names = sorted(os.listdir(full or "."))
    except OSError:
        return out
    for nm in names:
        if nm.startswith(".") and not dotglob:
            continue
        p = os.path.join(full, nm)
        if os.path.isdir(p) and not os.path.islink(p):
            out.extend(
                _walk_dirs(
                    base,
                    (rel + nm + "/") if (rel == "" or rel.endswith("/")) else rel + "/" + nm + "/",
                    dotglob,
                )
            )
    return out


def glob(pat: str, cwd: str, dotglob: bool = False, globstar: bool = False) -> list[str]:
    """Expand a (backslash-escaped) glob pattern against the filesystem, sorted like bash."""
    absolute = pat.startswith("/")
    comps = [c for c in pat.split("/") if c != ""]
    results = ["/" if absolute else ""]
    for k, comp in enumerate(comps):
        last = k == len(comps) - 1
        nxt: list[str] = []
        if globstar and comp == "**":
            base = "/" if absolute else cwd
            for r in results:
                rel = r if not absolute else r
                for d in _walk_dirs(
                    base if not absolute else "/", rel.lstrip("/") if absolute else rel, dotglob
                ):
                    nxt.append("/" + d if absolute and not d.startswith("/") else d)
            if last:
                nxt = [n.rstrip("/") for n in nxt]
                for _d in [r for r in results]:
                    pass
                # '**' alone: every file and directory below
                allp: list[str] = []
                for d in nxt:
                    full = d if absolute else os.path.join(cwd, d)
                    try:
                        for nm in os.listdir(full or "."):
                            if not nm.startswith(".") or dotglob:
                                allp.append((d + "/" + nm) if d else nm)
                    except OSError:
                        pass
                return sorted(set(allp) | set(x for x in nxt if x))
            results = nxt
            continue
        if not has_magic(comp):
            lit = unescape(comp)
            for r in results:
                cand = (r + lit) if (r == "" or r.endswith("/")) else r + "/" + lit
                full = cand if absolute else os.path.join(cwd, cand)
                if os.path.lexists(full):
                    nxt.append(cand)
        else:
            rx = compile_pattern(comp)
            for r in results:
                d = r if absolute else os.path.join(cwd, r) if r else cwd
                try:
                    names = os.listdir(d or ".")
                except OSError:
                    continue
                for nm in names:
                    if (
                        nm.startswith(".")
                        and not comp.startswith(".")
                        and not comp.startswith("\\.")
                        and not dotglob
                    ):
                        continue
                    if rx.fullmatch(nm):
                        cand = (r + nm) if (r == "" or r.endswith("/")) else r + "/" + nm
                        if not last:
                            full = cand if absolute else os.path.join(cwd, cand)
                            if not os.path.isdir(full):
                                continue
                        nxt.append(cand)
        results = nxt
        if not results:
            return []
    if pat.endswith("/"):
        results = [r + "/" for r in results]
    return sorted(results)
