"""diff: GNU diffutils' diff (normal, unified, context and line-format output; -r; -q)."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import time
from collections.abc import Iterator
from typing import Any

from ..io import Gen, Input
from . import command
from .util import enc, is_fifo, read_fifo

Out = Iterator[tuple[int, bytes]]


class _Opts:
    def __init__(self) -> None:
        self.style = "normal"  # normal | unified | context | brief | format
        self.context = 3
        self.labels: list[str] = []
        self.recursive = False
        self.new_file = False
        self.text = False
        self.ignore_case = False
        self.ignore_space = False  # -b
        self.ignore_all_space = False  # -w
        self.ignore_trailing_space = False  # -Z
        self.ignore_blank = False  # -B
        self.strip_cr = False
        self.no_deref = False
        self.report_identical = False
        self.function_re: re.Pattern[bytes] | None = None
        self.line_formats: dict[str, str] = {}
        self.excludes: list[str] = []
        self.initial_tab = False
        self.switches: list[str] = []


_LONGS = {
    "text": "a",
    "ignore-space-change": "b",
    "ignore-blank-lines": "B",
    "context": "C?",
    "minimal": "d",
    "show-function-line": "F=",
    "ignore-case": "i",
    "ignore-matching-lines": "I=",
    "label": "L=",
    "new-file": "N",
    "show-c-function": "p",
    "brief": "q",
    "recursive": "r",
    "report-identical-files": "s",
    "initial-tab": "T",
    "unified": "U?",
    "ignore-all-space": "w",
    "exclude": "x=",
    "ignore-trailing-space": "Z",
    "strip-trailing-cr": "strip-cr",
    "no-dereference": "no-deref",
    "dereference": "deref",
    "old-line-format": "fmt-old=",
    "new-line-format": "fmt-new=",
    "unchanged-line-format": "fmt-unchanged=",
    "line-format": "fmt-all=",
    "normal": "normal",
    "speed-large-files": "d",
    "expand-tabs": "t",
    "color": "color?",
    "suppress-common-lines": "ignore",
    "horizon-lines": "ignore=",
    "tabsize": "ignore=",
}


class _Usage(Exception):
    pass


def _apply(o: _Opts, key: str, val: str | None) -> None:
    if key == "a":
        o.text = True
    elif key == "b":
        o.ignore_space = True
    elif key == "B":
        o.ignore_blank = True
    elif key in ("c", "C"):
        o.style = "context"
        if val is not None:
            if not val.isdigit():
                raise _Usage(f"invalid context length '{val}'")
            o.context = int(val)
    elif key in ("u", "U"):
        o.style = "unified"
        if val is not None:
            if not val.isdigit():
                raise _Usage(f"invalid context length '{val}'")
            o.context = int(val)
    elif key == "F":
        o.function_re = re.compile(enc(val or ""))
    elif key == "p":
        o.function_re = re.compile(rb"^[[:alpha:]$_]".replace(b"[:alpha:]", b"A-Za-z"))
    elif key == "i":
        o.ignore_case = True
    elif key == "L":
        o.labels.append(val or "")
    elif key == "N":
        o.new_file = True
    elif key == "q":
        o.style = "brief"
    elif key == "r":
        o.recursive = True
    elif key == "s":
        o.report_identical = True
    elif key == "T":
        o.initial_tab = True
    elif key == "w":
        o.ignore_all_space = True
    elif key == "Z":
        o.ignore_trailing_space = True
    elif key == "x":
        o.excludes.append(val or "")
    elif key == "strip-cr":
        o.strip_cr = True
    elif key == "no-deref":
        o.no_deref = True
    elif key == "deref":
        o.no_deref = False
    elif key.startswith("fmt-"):
        kinds = ("old", "new", "unchanged") if key == "fmt-all" else (key[4:],)
        for k in kinds:
            o.line_formats[k] = val or ""
        o.style = "format"
    elif key == "normal":
        o.style = "normal"


def _parse(args: list[str]) -> tuple[_Opts, list[str]]:
    o = _Opts()
    paths: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            paths.extend(args[i:])
            break
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            key = _LONGS.get(name)
            if key is None:
                hits = {_LONGS[k] for k in _LONGS if k.startswith(name)}
                if len(hits) != 1:
                    raise _Usage(
                        f"unrecognized option '{a}'" if not hits else f"option '{a}' is ambiguous"
                    )
                key = hits.pop()
            o.switches.append(a)
            if key.endswith("="):
                if not eq:
                    if i >= len(args):
                        raise _Usage(f"option '{a}' requires an argument")
                    val = args[i]
                    o.switches.append(val)
                    i += 1
                _apply(o, key[:-1], val)
            elif key.endswith("?"):
                _apply(o, key[:-1], val if eq else None)
            elif eq:
                raise _Usage(f"option '--{name}' doesn't allow an argument")
            else:
                _apply(o, key, None)
            continue
        if a.startswith("-") and len(a) > 1:
            o.switches.append(a)
            j = 1
            while j < len(a):
                c = a[j]
                j += 1
                if c.isdigit():  # -NUM: context lines (obsolete)
                    k = j
                    while k < len(a) and a[k].isdigit():
                        k += 1
                    o.context = int(a[j - 1 : k])
                    j = k
                    continue
                if c in "CUFLIxX":
                    val = a[j:]
                    if not val:
                        if i >= len(args):
                            raise _Usage(f"option requires an argument -- '{c}'")
                        val = args[i]
                        o.switches.append(val)
                        i += 1
                    _apply(o, c, val)
                    break
                if c not in "abBcdeEilNpqrsStTuwyZ":
                    raise _Usage(f"invalid option -- '{c}'")
                _apply(o, c, None)
            continue
        paths.append(a)
    return o, paths


# ---------------------------------------------------------------------------- the algorithm


def _myers(a: list[int], b: list[int], limit: int) -> list[tuple[int, int]] | None:
    """Matched (i, j) pairs of a shortest edit script, or None past `limit` edits."""
    n, m = len(a), len(b)
    maxd = n + m
    v = {1: 0}
    trace: list[dict[int, int]] = []
    for d in range(maxd + 1):
        if d > limit:
            return None
        trace.append(dict(v))
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[k - 1] < v[k + 1]):
                x = v[k + 1]
            else:
                x = v[k - 1] + 1
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            v[k] = x
            if x >= n and y >= m:
                return _backtrack(trace, a, b, n, m)
    return []


def _backtrack(
    trace: list[dict[int, int]], a: list[int], b: list[int], n: int, m: int
) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    x, y = n, m
    for d in range(len(trace) - 1, -1, -1):
        v = trace[d]
        k = x - y
        if k == -d or (k != d and v.get(k - 1, -1) < v.get(k + 1, -1)):
            pk = k + 1
        else:
            pk = k - 1
        px = v.get(pk, 0)
        py = px - pk
        while x > px and y > py and x > 0 and y > 0:
            x -= 1
            y -= 1
            pairs.append((x, y))
        if d > 0:
            x, y = px, py
    pairs.reverse()
    return pairs


def _matches(a: list[bytes], b: list[bytes]) -> list[tuple[int, int]]:
    """Matched line pairs (ascending) of a longest common subsequence, GNU-like."""
    n, m = len(a), len(b)
    pre = 0
    while pre < n and pre < m and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and suf < m - pre and a[n - 1 - suf] == b[m - 1 - suf]:
        suf += 1
    res = [(i, i) for i in range(pre)]
    ma, mb = a[pre : n - suf], b[pre : m - suf]
    if ma and mb:
        ids: dict[bytes, int] = {}
        ia = [ids.setdefault(x, len(ids)) for x in ma]
        ib = [ids.setdefault(x, len(ids)) for x in mb]
        # a line with no equal on the other side can never match: leave it out of the search
        sa, sb = set(ia), set(ib)
        ka = [i for i, x in enumerate(ia) if x in sb]
        kb = [j for j, x in enumerate(ib) if x in sa]
        ra, rb = [ia[i] for i in ka], [ib[j] for j in kb]
        pairs = _myers(ra, rb, 2000) if ra and rb else []
        if pairs is None:
            import difflib

            sm = difflib.SequenceMatcher(None, ra, rb, autojunk=False)
            pairs = [
                (blk.a + t, blk.b + t) for blk in sm.get_matching_blocks() for t in range(blk.size)
            ]
        res.extend((pre + ka[i], pre + kb[j]) for i, j in pairs)
    res.extend((n - suf + t, m - suf + t) for t in range(suf))
    return res


Change = tuple[int, int, int, int]  # old [i1, i2), new [j1, j2)


def _changes(a: list[bytes], b: list[bytes]) -> list[Change]:
    out: list[Change] = []
    pi = pj = 0
    for i, j in [*_matches(a, b), (len(a), len(b))]:
        if i > pi or j > pj:
            out.append((pi, i, pj, j))
        pi, pj = i + 1, j + 1
    return out


# ---------------------------------------------------------------------------- input


def _ftype(st: os.stat_result) -> str:
    m = st.st_mode
    if stat.S_ISREG(m):
        return "regular empty file" if st.st_size == 0 else "regular file"
    if stat.S_ISDIR(m):
        return "directory"
    if stat.S_ISLNK(m):
        return "symbolic link"
    if stat.S_ISFIFO(m):
        return "fifo"
    if stat.S_ISSOCK(m):
        return "socket"
    if stat.S_ISCHR(m):
        return "character special file"
    if stat.S_ISBLK(m):
        return "block special file"
    return "weird file"


def _stamp(sec: float, ns: int) -> str:
    t = time.localtime(int(sec))
    return (
        time.strftime("%Y-%m-%d %H:%M:%S", t)
        + f".{ns % 1_000_000_000:09d} "
        + time.strftime("%z", t)
    )


class _File:
    def __init__(self, name: str, path: str | None) -> None:
        self.name = name
        self.path = path  # None: stdin
        self.data = b""
        self.mtime = _stamp(time.time(), time.time_ns())


def _load(sh: Any, f: _File, inp: Input, cache: dict[str, bytes]) -> None:
    if f.path is None:
        if "-" not in cache:
            cache["-"] = inp.read_all()
        f.data = cache["-"]
        return
    st = os.stat(f.path)
    f.mtime = _stamp(st.st_mtime, st.st_mtime_ns)
    if is_fifo(f.path):
        f.data = read_fifo(f.path)
    else:
        with open(f.path, "rb") as fh:
            f.data = fh.read()


def _lines(data: bytes, strip_cr: bool) -> tuple[list[bytes], bool]:
    """Lines without their newline, and whether the last one lacked it."""
    if not data:
        return [], False
    parts = data.split(b"\n")
    incomplete = parts[-1] != b""
    if not incomplete:
        parts.pop()
    if strip_cr:
        parts = [p[:-1] if p.endswith(b"\r") else p for p in parts]
    return parts, incomplete


_WS = re.compile(rb"[ \t\v\f\r]+")


def _key(o: _Opts) -> Any:
    def key(line: bytes) -> bytes:
        if o.ignore_all_space:
            line = _WS.sub(b"", line)
        elif o.ignore_space:
            line = _WS.sub(b" ", line).rstrip(b" ")
        elif o.ignore_trailing_space:
            line = line.rstrip(b" \t\v\f\r")
        if o.ignore_case:
            line = line.lower()
        return line

    plain = not (o.ignore_all_space or o.ignore_space or o.ignore_trailing_space or o.ignore_case)
    return None if plain else key


# ---------------------------------------------------------------------------- output


def _hunks(changes: list[Change], ctx: int) -> list[list[Change]]:
    groups: list[list[Change]] = []
    for c in changes:
        if groups and c[0] - groups[-1][-1][1] <= 2 * ctx:
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups


class _Fn:
    """--show-function-line: the last line before a hunk matching the regex."""

    def __init__(self, rx: re.Pattern[bytes], lines: list[bytes]) -> None:
        self.rx, self.lines = rx, lines
        self.searched = 0
        self.found: bytes | None = None

    def before(self, start: int) -> bytes:
        for i in range(start - 1, self.searched - 1, -1):
            if self.rx.search(self.lines[i]):
                self.found = self.lines[i]
                break
        self.searched = max(self.searched, start)
        if self.found is None:
            return b""
        return b" " + self.found[:40].rstrip()


def _unified(
    o: _Opts, a: list[bytes], b: list[bytes], inc_a: bool, inc_b: bool, changes: list[Change]
) -> bytes:
    out: list[bytes] = []
    fn = _Fn(o.function_re, a) if o.function_re else None
    n, m = len(a), len(b)
    nl = b"\n\\ No newline at end of file\n"

    def emit(prefix: bytes, lines: list[bytes], i: int, end: int, inc: bool) -> None:
        for k in range(i, end):
            out.append(prefix + lines[k] + (nl if inc and k == len(lines) - 1 else b"\n"))

    def rng(start: int, count: int) -> bytes:
        if count == 0:
            return b"%d,0" % start
        return b"%d" % (start + 1) if count == 1 else b"%d,%d" % (start + 1, count)

    for g in _hunks(changes, o.context):
        i1 = max(0, g[0][0] - o.context)
        j1 = max(0, g[0][2] - o.context)
        i2 = min(n, g[-1][1] + o.context)
        j2 = min(m, g[-1][3] + o.context)
        head = b"@@ -" + rng(i1, i2 - i1) + b" +" + rng(j1, j2 - j1) + b" @@"
        out.append(head + (fn.before(i1) if fn else b"") + b"\n")
        i = i1
        for c in g:
            emit(b" ", a, i, c[0], inc_a)
            emit(b"-", a, c[0], c[1], inc_a)
            emit(b"+", b, c[2], c[3], inc_b)
            i = c[1]
        emit(b" ", a, i, i2, inc_a)
    return b"".join(out)


def _context(
    o: _Opts, a: list[bytes], b: list[bytes], inc_a: bool, inc_b: bool, changes: list[Change]
) -> bytes:
    out: list[bytes] = []
    fn = _Fn(o.function_re, a) if o.function_re else None
    n, m = len(a), len(b)
    nl = b"\n\\ No newline at end of file\n"

    def rng(start: int, end: int) -> bytes:
        if end - start > 1:
            return b"%d,%d" % (start + 1, end)
        return b"%d" % end

    for g in _hunks(changes, o.context):
        i1 = max(0, g[0][0] - o.context)
        j1 = max(0, g[0][2] - o.context)
        i2 = min(n, g[-1][1] + o.context)
        j2 = min(m, g[-1][3] + o.context)
        out.append(b"***************" + (fn.before(i1) if fn else b"") + b"\n")
        for side, lines, s, e, inc in ((0, a, i1, i2, inc_a), (1, b, j1, j2, inc_b)):
            out.append((b"*** %s ****\n" if side == 0 else b"--- %s ----\n") % rng(s, e))
            if not any((c[1] > c[0]) if side == 0 else (c[3] > c[2]) for c in g):
                continue
            marks: dict[int, bytes] = {}
            for c in g:
                lo, hi = (c[0], c[1]) if side == 0 else (c[2], c[3])
                both = c[1] > c[0] and c[3] > c[2]
                for k in range(lo, hi):
                    marks[k] = b"! " if both else (b"- " if side == 0 else b"+ ")
            for k in range(s, e):
                out.append(
                    marks.get(k, b"  ") + lines[k] + (nl if inc and k == len(lines) - 1 else b"\n")
                )
    return b"".join(out)


def _normal(
    a: list[bytes], b: list[bytes], inc_a: bool, inc_b: bool, changes: list[Change]
) -> bytes:
    out: list[bytes] = []
    nl = b"\n\\ No newline at end of file\n"

    def rng(start: int, end: int) -> bytes:
        if end - start > 1:
            return b"%d,%d" % (start + 1, end)
        return b"%d" % end

    for i1, i2, j1, j2 in changes:
        code = b"c" if i2 > i1 and j2 > j1 else (b"d" if i2 > i1 else b"a")
        out.append(rng(i1, i2) + code + rng(j1, j2) + b"\n")
        for k in range(i1, i2):
            out.append(b"< " + a[k] + (nl if inc_a and k == len(a) - 1 else b"\n"))
        if code == b"c":
            out.append(b"---\n")
        for k in range(j1, j2):
            out.append(b"> " + b[k] + (nl if inc_b and k == len(b) - 1 else b"\n"))
    return b"".join(out)


_FMT = re.compile(r"%(%|l|L|c'(\\[0-7]{1,3}|\\.|[^\\])'|[-0-9.]*[doxX]n)")


def _fmt_line(fmt: str, line: bytes, inc: bool, num: int) -> bytes:
    out: list[bytes] = []
    pos = 0
    for mt in _FMT.finditer(fmt):
        out.append(enc(fmt[pos : mt.start()]))
        pos = mt.end()
        g = mt.group(1)
        if g == "%":
            out.append(b"%")
        elif g == "l":
            out.append(line)
        elif g == "L":
            out.append(line + (b"" if inc else b"\n"))
        elif g.startswith("c'"):
            ch = mt.group(2)
            if ch.startswith("\\") and ch[1:].isdigit():
                out.append(bytes([int(ch[1:], 8) & 255]))
            else:
                out.append(enc(ch[-1]))
        else:
            out.append(enc(("%" + g[:-1]) % num))
    out.append(enc(fmt[pos:]))
    return b"".join(out)


def _formatted(
    o: _Opts, a: list[bytes], b: list[bytes], inc_a: bool, inc_b: bool, changes: list[Change]
) -> bytes:
    f = {k: o.line_formats.get(k, "%l\n") for k in ("old", "new", "unchanged")}
    out: list[bytes] = []
    i = 0
    for i1, i2, j1, j2 in [*changes, (len(a), len(a), len(b), len(b))]:
        for k in range(i, i1):
            out.append(_fmt_line(f["unchanged"], a[k], inc_a and k == len(a) - 1, k + 1))
        for k in range(i1, i2):
            out.append(_fmt_line(f["old"], a[k], inc_a and k == len(a) - 1, k + 1))
        for k in range(j1, j2):
            out.append(_fmt_line(f["new"], b[k], inc_b and k == len(b) - 1, k + 1))
        i = i2
    return b"".join(out)


# ---------------------------------------------------------------------------- comparison


class _Diff:
    def __init__(self, sh: Any, o: _Opts, inp: Input) -> None:
        self.sh, self.o, self.inp = sh, o, inp
        self.cache: dict[str, bytes] = {}

    def err(self, msg: str) -> tuple[int, bytes]:
        return (2, enc(f"diff: {msg}\n"))

    def stat(self, name: str) -> os.stat_result | None:
        if name == "-":
            return None
        path = self.sh.resolve(name)
        return os.lstat(path) if self.o.no_deref else os.stat(path)

    def files(self, n1: str, n2: str, s1: Any, s2: Any, top: bool) -> Iterator[tuple[int, bytes]]:
        """Compare two non-directories; yields output, returns the status via self.status."""
        o = self.o
        t1 = _ftype(s1) if isinstance(s1, os.stat_result) else "fifo"
        t2 = _ftype(s2) if isinstance(s2, os.stat_result) else "fifo"
        if o.no_deref and ("symbolic link" in (t1, t2)):
            if t1 == t2:
                if os.readlink(self.sh.resolve(n1)) != os.readlink(self.sh.resolve(n2)):
                    yield (1, enc(f"Symbolic links {n1} and {n2} differ\n"))
                    self.status = max(self.status, 1)
                return
            yield (1, enc(f"File {n1} is a {t1} while file {n2} is a {t2}\n"))
            self.status = max(self.status, 1)
            return
        f1 = _File(n1, None if n1 == "-" else self.sh.resolve(n1))
        f2 = _File(n2, None if n2 == "-" else self.sh.resolve(n2))
        for f, s in ((f1, s1), (f2, s2)):
            if s is False:  # -N: absent file reads as empty
                f.path = None
                f.data = b""
                f.mtime = _stamp(0, 0)
                continue
            try:
                _load(self.sh, f, self.inp, self.cache)
            except OSError as e:
                yield self.err(f"{f.name}: {e.strerror or e}")
                self.status = 2
                return
        if f1.data == f2.data:
            if o.report_identical:
                yield (1, enc(f"Files {n1} and {n2} are identical\n"))
            return
        binary = not o.text and (b"\0" in f1.data[:32768] or b"\0" in f2.data[:32768])
        if binary:
            yield (1, enc(f"Binary files {n1} and {n2} differ\n"))
            self.status = max(self.status, 1)
            return
        a, inc_a = _lines(f1.data, o.strip_cr)
        b, inc_b = _lines(f2.data, o.strip_cr)
        key = _key(o)
        ka = [x + (b"" if not (inc_a and i == len(a) - 1) else b"\0") for i, x in enumerate(a)]
        kb = [x + (b"" if not (inc_b and i == len(b) - 1) else b"\0") for i, x in enumerate(b)]
        if key is not None:
            ka = [key(x) for x in ka]
            kb = [key(x) for x in kb]
        changes = _changes(ka, kb)
        if o.ignore_blank:
            changes = [
                c
                for c in changes
                if any(a[k].strip() for k in range(c[0], c[1]))
                or any(b[k].strip() for k in range(c[2], c[3]))
            ]
        if not changes:
            if o.report_identical:
                yield (1, enc(f"Files {n1} and {n2} are identical\n"))
            return
        self.status = max(self.status, 1)
        if o.style == "brief":
            yield (1, enc(f"Files {n1} and {n2} differ\n"))
            return
        if not top:
            yield (1, enc(" ".join(["diff", *o.switches, n1, n2]) + "\n"))
        if o.style in ("unified", "context"):
            l1 = o.labels[0] if o.labels else f"{n1}\t{f1.mtime}"
            l2 = o.labels[1] if len(o.labels) > 1 else f"{n2}\t{f2.mtime}"
            m1, m2 = ("---", "+++") if o.style == "unified" else ("***", "---")
            yield (1, enc(f"{m1} {l1}\n{m2} {l2}\n"))
            fn = _unified if o.style == "unified" else _context
            yield (1, fn(o, a, b, inc_a, inc_b, changes))
        elif o.style == "format":
            yield (1, _formatted(o, a, b, inc_a, inc_b, changes))
        else:
            yield (1, _normal(a, b, inc_a, inc_b, changes))

    def excluded(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.o.excludes)

    def dirs(self, d1: str, d2: str) -> Out:
        o = self.o
        try:
            e1 = {x for x in os.listdir(self.sh.resolve(d1)) if not self.excluded(x)}
            e2 = {x for x in os.listdir(self.sh.resolve(d2)) if not self.excluded(x)}
        except OSError as e:
            yield self.err(f"{e.filename}: {e.strerror}")
            self.status = 2
            return
        for name in sorted(e1 | e2):
            p1, p2 = os.path.join(d1, name), os.path.join(d2, name)
            if name not in e2 or name not in e1:
                if o.new_file:
                    present, absent = (p1, p2) if name in e1 else (p2, p1)
                    st = self.stat(present)
                    if st is not None and stat.S_ISDIR(st.st_mode):
                        yield from self.pair(p1, p2, False)
                        continue
                    s1 = st if name in e1 else False
                    s2 = st if name in e2 else False
                    yield from self.files(p1, p2, s1, s2, False)
                    continue
                where = d1 if name in e1 else d2
                yield (1, enc(f"Only in {where}: {name}\n"))
                self.status = max(self.status, 1)
                continue
            yield from self.pair(p1, p2, False)

    def pair(self, n1: str, n2: str, top: bool) -> Out:
        try:
            s1 = self.stat(n1)
        except OSError as e:
            s1, err1 = None, e
        else:
            err1 = None
        try:
            s2 = self.stat(n2)
        except OSError as e:
            s2, err2 = None, e
        else:
            err2 = None
        if err1 or err2:
            if self.o.new_file and not (err1 and err2):
                if err1:
                    yield from self.files(n1, n2, False, s2, top)
                else:
                    yield from self.files(n1, n2, s1, False, top)
                return
            for n, e in ((n1, err1), (n2, err2)):
                if e is not None:
                    yield self.err(f"{n}: {e.strerror or e}")
            self.status = 2
            return
        d1 = s1 is not None and stat.S_ISDIR(s1.st_mode)
        d2 = s2 is not None and stat.S_ISDIR(s2.st_mode)
        if d1 and d2:
            if top or self.o.recursive:
                yield from self.dirs(n1, n2)
            else:
                yield (1, enc(f"Common subdirectories: {n1} and {n2}\n"))
            return
        if d1 != d2:
            if top and n1 != "-" and n2 != "-":
                if d1:
                    n1 = os.path.join(n1, os.path.basename(n2.rstrip("/")))
                else:
                    n2 = os.path.join(n2, os.path.basename(n1.rstrip("/")))
                yield from self.pair(n1, n2, top)
                return
            if top and (n1 == "-" or n2 == "-"):
                yield self.err("cannot compare '-' to a directory")
                self.status = 2
                return
            t1 = _ftype(s1) if s1 is not None else "fifo"
            t2 = _ftype(s2) if s2 is not None else "fifo"
            yield (1, enc(f"File {n1} is a {t1} while file {n2} is a {t2}\n"))
            self.status = max(self.status, 1)
            return
        yield from self.files(n1, n2, s1, s2, top)

    status = 0


@command("diff")
def diff(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        o, paths = _parse(args[1:])
    except (_Usage, re.error) as e:
        yield (2, enc(f"diff: {e}\ndiff: Try 'diff --help' for more information.\n"))
        return 2
    if len(paths) != 2:
        what = "missing operand after" if len(paths) < 2 else "extra operand"
        tail = f" '{paths[-1]}'" if paths else f" '{args[0]}'"
        if len(paths) > 2:
            tail = f" '{paths[2]}'"
        yield (2, enc(f"diff: {what}{tail}\ndiff: Try 'diff --help' for more information.\n"))
        return 2
    d = _Diff(sh, o, inp)
    d.status = 0
    yield from d.pair(paths[0], paths[1], True)
    return d.status
