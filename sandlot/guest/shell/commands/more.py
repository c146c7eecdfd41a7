"""More text utilities (GNU behaviour): comm join column fmt expand unexpand split cmp patch
strings truncate cksum/sha*sum, and df.  A name some other module already registered is
left alone, so these never shadow the main implementations."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from typing import Any

from ..io import Gen, Input
from . import COMMANDS
from . import files as _files  # noqa: F401
from . import grep as _grep  # noqa: F401
from . import misc as _misc  # noqa: F401
from . import sed as _sed  # noqa: F401
from . import text as _text  # noqa: F401

# The modules above register first whatever the import order in __init__ is, so cmd() below can
# tell real implementations (kept) from "needs a Linux tier" placeholders (replaced).
from .util import UsageError, dec, enc, inputs, open_input, parse_opts, split_lines


def cmd(*names: str) -> Callable[[Any], Any]:
    def deco(f: Any) -> Any:
        for n in names:
            cur = COMMANDS.get(n)
            # replace only placeholders ("needs a Linux tier" stubs), never real implementations
            if cur is None or getattr(cur, "__name__", "") == "_linux_only":
                COMMANDS[n] = f
        return f

    return deco


def _err(name: str, msg: str) -> tuple[int, bytes]:
    return (2, enc(f"{name}: {msg}\n"))


def _usage(name: str, e: Exception) -> tuple[int, bytes]:
    return (2, enc(f"{name}: {e}\nTry '{name} --help' for more information.\n"))


def _read(sh: Any, name: str, inp: Input) -> bytes:
    return open_input(sh, name, inp).read_all()


# ------------------------------------------------------------------ comm
@cmd("comm")
def comm(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "123iz",
            {
                "output-delimiter:": "d:",
                "check-order": "c",
                "nocheck-order": "C",
                "total": "T",
                "zero-terminated": "z",
            },
        )
    except UsageError as e:
        yield _usage("comm", e)
        return 1
    if len(files) != 2:
        yield _usage(
            "comm",
            UsageError("missing operand" if len(files) < 2 else f"extra operand '{files[2]}'"),
        )
        return 1
    try:
        a = open_input(sh, files[0], inp)
        b = open_input(sh, files[1], inp)
    except OSError as e:
        yield _err("comm", str(e))
        return 1
    sep = b"\0" if "z" in opts else b"\n"
    delim = enc(opts.get("d", "\t"))
    show = [("1" not in opts), ("2" not in opts), ("3" not in opts)]
    fold = "i" in opts
    counts = [0, 0, 0]

    def col(i: int, line: bytes) -> bytes:
        counts[i] += 1
        if not show[i]:
            return b""
        pre = delim * sum(show[:i])
        return pre + line + sep

    def nxt(src: Input) -> bytes | None:
        ln = src.readline(sep)
        if not ln:
            return None
        return ln[:-1] if ln.endswith(sep) else ln

    x, y = nxt(a), nxt(b)
    while x is not None or y is not None:
        sh.budget.tick()
        if y is None or (x is not None and (x.lower() if fold else x) < (y.lower() if fold else y)):
            out = col(0, x)  # type: ignore[arg-type]
            x = nxt(a)
        elif x is None or (x.lower() if fold else x) > (y.lower() if fold else y):
            out = col(1, y)
            y = nxt(b)
        else:
            out = col(2, x)
            x, y = nxt(a), nxt(b)
        if out:
            yield (1, out)
    if "T" in opts:
        yield (1, delim.join(enc(str(c)) for c in counts) + delim + b"total" + sep)
    return 0


# ------------------------------------------------------------------ join
@cmd("join")
def join(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(args[1:], "t:1:2:j:a:v:e:o:i", {"ignore-case": "i", "header": "H"})
    except UsageError as e:
        yield _usage("join", e)
        return 1
    if len(files) != 2:
        yield _usage("join", UsageError("missing operand"))
        return 1
    t = opts.get("t")
    f1 = int(opts.get("1", opts.get("j", "1"))) - 1
    f2 = int(opts.get("2", opts.get("j", "1"))) - 1
    unp = set(opts.get("_a", [])) | set(opts.get("_v", []))
    only = set(opts.get("_v", []))
    empty = opts.get("e")
    fmt = opts.get("o")
    fold = "i" in opts
    try:
        da = split_lines(_read(sh, files[0], inp))
        db = split_lines(_read(sh, files[1], inp))
    except OSError as e:
        yield _err("join", str(e))
        return 1

    def fields(line: bytes) -> list[str]:
        s = dec(line)
        if t is not None:
            return s.split(t) if t else [s]
        return s.split()

    ra = [fields(x) for x in da]
    rb = [fields(x) for x in db]
    osep = t if t else " "

    def key(r: list[str], i: int) -> str:
        k = r[i] if i < len(r) else ""
        return k.lower() if fold else k

    def emit(x: list[str] | None, y: list[str] | None) -> str:
        if fmt is not None:
            out = []
            for spec in re.split(r"[ ,]+", fmt.strip()):
                if spec == "0":
                    r = x if x is not None else y
                    i = f1 if x is not None else f2
                    out.append(r[i] if r and i < len(r) else (empty or ""))
                    continue
                fi, _, ci = spec.partition(".")
                r = x if fi == "1" else y
                c = int(ci) - 1
                out.append(r[c] if r is not None and c < len(r) else (empty or ""))
            return osep.join(out) + "\n"
        if x is not None and y is not None:
            k = x[f1] if f1 < len(x) else (empty or "")
            rest = [v for i, v in enumerate(x) if i != f1] + [v for i, v in enumerate(y) if i != f2]
            return osep.join([k] + rest) + "\n"
        r, i = (x, f1) if x is not None else (y, f2)
        assert r is not None
        k = r[i] if i < len(r) else ""
        return osep.join([k] + [v for j, v in enumerate(r) if j != i]) + "\n"

    i = j = 0
    out: list[str] = []
    while i < len(ra) or j < len(rb):
        sh.budget.tick()
        if j >= len(rb) or (i < len(ra) and key(ra[i], f1) < key(rb[j], f2)):
            if "1" in unp:
                out.append(emit(ra[i], None))
            i += 1
        elif i >= len(ra) or key(ra[i], f1) > key(rb[j], f2):
            if "2" in unp:
                out.append(emit(None, rb[j]))
            j += 1
        else:
            k = key(ra[i], f1)
            i2 = i
            while i2 < len(ra) and key(ra[i2], f1) == k:
                i2 += 1
            j2 = j
            while j2 < len(rb) and key(rb[j2], f2) == k:
                j2 += 1
            if not only:
                for x in ra[i:i2]:
                    for y in rb[j:j2]:
                        out.append(emit(x, y))
            i, j = i2, j2
        if len(out) > 256:
            yield (1, enc("".join(out)))
            out.clear()
    if out:
        yield (1, enc("".join(out)))
    return 0


# ------------------------------------------------------------------ column
@cmd("column")
def column(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "ts:o:c:xnRN:",
            {"table": "t", "separator:": "s:", "output-separator:": "o:", "output-width:": "c:"},
        )
    except UsageError as e:
        yield _usage("column", e)
        return 1
    lines: list[str] = []
    st = 0
    for _name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield _err("column", src)
            st = 1
            continue
        lines.extend(dec(x) for x in split_lines(src.read_all()))
    if "t" in opts:
        seps = opts.get("s")
        rows = []
        for ln in lines:
            if not ln.strip():
                continue
            if seps is None:
                rows.append(ln.split())
            else:
                rows.append(re.split("[" + re.escape(seps) + "]+", ln) if seps else [ln])
        osep = opts.get("o", "  ")
        ncol = max((len(r) for r in rows), default=0)
        widths = [max((len(r[i]) for r in rows if i < len(r)), default=0) for i in range(ncol)]
        right = set()
        if "R" in opts:
            right = {int(x) - 1 for x in str(opts["R"]).split(",") if x.isdigit()}
        out = []
        for r in rows:
            cells = []
            for i, c in enumerate(r):
                if i == len(r) - 1 and i not in right:
                    cells.append(c)
                else:
                    cells.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
            out.append(osep.join(cells).rstrip() if i not in right else osep.join(cells))
        yield (1, enc("".join(x + "\n" for x in out)))
        return st
    width = int(opts.get("c", "80"))
    items = [x for x in lines if x.strip()]
    if not items:
        return st
    maxw = max(len(x) for x in items)
    colw = (maxw // 8 + 1) * 8
    ncols = max(1, width // colw)
    nrows = (len(items) + ncols - 1) // ncols
    out = []
    for r in range(nrows):
        row = []
        for c in range(ncols):
            idx = r * ncols + c if "x" in opts else c * nrows + r
            if idx < len(items):
                row.append(items[idx])
        line = ""
        for k, it in enumerate(row):
            if k < len(row) - 1:
                pad = colw - len(it)
                line += it + "\t" * ((pad + 7) // 8)
            else:
                line += it
        out.append(line + "\n")
    yield (1, enc("".join(out)))
    return st


# ------------------------------------------------------------------ fmt
@cmd("fmt")
def fmt(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    a = [("-w" + x[1:]) if re.fullmatch(r"-\d+", x) else x for x in a]
    try:
        opts, files = parse_opts(
            a,
            "w:g:pcstu",
            {
                "width:": "w:",
                "goal:": "g:",
                "split-only": "s",
                "uniform-spacing": "u",
                "crown-margin": "c",
                "tagged-paragraph": "t",
                "prefix:": "p:",
            },
        )
    except UsageError as e:
        yield _usage("fmt", e)
        return 1
    try:
        maxw = int(opts.get("w", "75"))
        # GNU fmt fills to a goal of 93% of the maximum width
        width = int(opts["g"]) if "g" in opts else maxw * 187 // 200
    except ValueError:
        yield _err("fmt", f"invalid width: '{opts.get('w')}'")
        return 1
    st = 0
    for name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield _err("fmt", f"cannot open '{name}' for reading: {src.split(': ', 1)[-1]}")
            st = 1
            continue
        text = dec(src.read_all())
        out: list[str] = []
        para: list[str] = []
        indent = ""

        def flush() -> None:
            nonlocal para
            if not para:
                return
            if "s" in opts:
                for ln in para:
                    out.extend(  # noqa: B023
                        _fill(
                            ln.split(),
                            width,
                            re.match(r"[ \t]*", ln).group(),  # type: ignore
                            re.match(r"[ \t]*", ln).group(),
                            maxw,
                        )
                    )  # type: ignore[union-attr]
                para = []
                return
            first_ind = re.match(r"[ \t]*", para[0]).group()  # type: ignore[union-attr]
            rest_ind = re.match(r"[ \t]*", para[1]).group() if len(para) > 1 else first_ind  # type: ignore
            words: list[str] = []
            spaces: list[int] = []
            for ln in para:
                toks = list(re.finditer(r"(\S+)([ \t]*)", ln))
                for k, m in enumerate(toks):
                    w = m.group(1)
                    words.append(w)
                    period = re.search(r"[.?!][)\]\"']*$", w) is not None
                    if k == len(toks) - 1:
                        spaces.append(2 if period else 1)
                    elif "u" in opts:
                        spaces.append(2 if period and len(m.group(2)) > 1 else 1)
                    else:
                        spaces.append(len(m.group(2).expandtabs()))
            out.extend(_fill(words, width, first_ind, rest_ind, maxw, spaces))  # noqa: B023
            para = []

        for ln in text.split("\n") if not text.endswith("\n") else text[:-1].split("\n"):
            if not ln.strip():
                flush()
                out.append("")
                continue
            ind = re.match(r"[ \t]*", ln).group()  # type: ignore[union-attr]
            if (
                para
                and "c" not in opts
                and "t" not in opts
                and ind.expandtabs() != indent.expandtabs()
                and len(para) >= 1
                and ind.expandtabs() != re.match(r"[ \t]*", para[-1]).group().expandtabs()
            ):  # type: ignore[union-attr]
                flush()
            if not para:
                indent = ind
            para.append(ln)
        flush()
        if text:
            yield (1, enc("".join(x + "\n" for x in out)))
    return st


def _dwidth(s: str) -> int:
    """Display columns (East Asian wide characters take two)."""
    if s.isascii():
        return len(s)
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _fill(
    words: list[str],
    width: int,
    first: str,
    rest: str,
    maxw: int | None = None,
    spaces: list[int] | None = None,
) -> list[str]:
    """Break words into lines like GNU fmt: lines shorter than maxw, close to the goal width,
    with its costs (short/ragged lines, breaks after sentences and punctuation, widows/orphans)."""
    n = len(words)
    if not n:
        return []
    maxw = maxw or width + 1
    sp = spaces or [1] * n
    ws = [_dwidth(w) for w in words]
    period = [re.search(r"[.?!][)\]\"']*$", w) is not None for w in words]
    final = [period[k] and (sp[k] > 1) for k in range(n)]
    final[-1] = period[-1] = True
    punct = [w[-1:] in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" for w in words]
    paren = [w[:1] in "([{" for w in words]

    def base_cost(k: int) -> int:
        cost = 4900
        if k > 0:
            if period[k - 1]:
                cost += -2500 if final[k - 1] else 360000
            elif punct[k - 1]:
                cost -= 1600
            elif k > 1 and final[k - 2]:
                cost += 40000 // (ws[k - 2] + 2)
        if paren[k]:
            cost -= 1600
        elif final[k]:
            cost += 40000 // (ws[k] + 2) // 2
        return cost

    best = [0] * (n + 1)
    nxt = [n] * (n + 1)
    llen = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        ind = _dwidth((first if i == 0 else rest).expandtabs())
        length = ind + ws[i]
        bestc = -1
        bj, blen = i + 1, length
        j = i + 1
        while True:
            if j == n:
                c = 0
            else:
                c = 100 * (width - length) ** 2
                if nxt[j] != n:
                    c += 50 * (length - llen[j]) ** 2
            c += best[j]
            if bestc < 0 or c < bestc:
                bestc, bj, blen = c, j, length
            if j == n:
                break
            length += sp[j - 1] + ws[j]
            j += 1
            if length >= maxw:
                break
        best[i] = bestc + base_cost(i)
        nxt[i] = bj
        llen[i] = blen
    lines = []
    i = 0
    while i < n:
        j = nxt[i]
        parts = [first if i == 0 else rest]
        for k in range(i, j):
            parts.append(words[k])
            if k < j - 1:
                parts.append(" " * sp[k])
        lines.append("".join(parts))
        i = j
    return lines


# ------------------------------------------------------------------ expand / unexpand
def _tabstops(spec: str | None) -> tuple[list[int], int]:
    if spec is None:
        return [], 8
    parts = [p for p in re.split(r"[ ,]+", spec) if p]
    if len(parts) == 1 and parts[0].isdigit():
        n = int(parts[0])
        if n == 0:
            raise ValueError("tab size cannot be 0")
        return [], n
    stops = []
    for p in parts:
        if not p.lstrip("/+").isdigit():
            raise ValueError(f"tab size contains invalid character(s): '{p}'")
        stops.append(int(p.lstrip("/+")))
    for a, b in zip(stops, stops[1:], strict=False):
        if b <= a:
            raise ValueError("tab sizes must be ascending")
    return stops, 0


def _next_stop(col: int, stops: list[int], every: int) -> int:
    if every:
        return (col // every + 1) * every
    for s in stops:
        if s > col:
            return s
    return col + 1


@cmd("expand")
def expand(sh: Any, args: list[str], inp: Input) -> Gen:
    a = [("-t" + x[1:]) if re.fullmatch(r"-\d+(,\d+)*", x) else x for x in args[1:]]
    try:
        opts, files = parse_opts(a, "t:i", {"tabs:": "t:", "initial": "i"})
        tl = opts.get("_t")
        stops, every = _tabstops(",".join(tl) if tl else None)
    except (UsageError, ValueError) as e:
        yield _usage("expand", e)
        return 1
    st = 0
    for _name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield _err("expand", src)
            st = 1
            continue
        for line in src.lines():
            sh.budget.tick()
            s = dec(line)
            out = []
            col = 0
            initial = True
            for ch in s:
                if ch == "\t" and (initial or "i" not in opts):
                    nx = _next_stop(col, stops, every)
                    out.append(" " * (nx - col))
                    col = nx
                elif ch == "\b":
                    out.append(ch)
                    col = max(0, col - 1)
                elif ch == "\n":
                    out.append(ch)
                    col = 0
                else:
                    if ch != " ":
                        initial = False
                    out.append(ch)
                    col += 1
            yield (1, enc("".join(out)))
    return st


@cmd("unexpand")
def unexpand(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(args[1:], "t:a", {"tabs:": "t:", "all": "a", "first-only": "f"})
        stops, every = _tabstops(opts.get("t"))
    except (UsageError, ValueError) as e:
        yield _usage("unexpand", e)
        return 1
    allb = ("a" in opts or "t" in opts) and "f" not in opts
    st = 0
    for _name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield _err("unexpand", src)
            st = 1
            continue
        for line in src.lines():
            s = dec(line)
            nl = s.endswith("\n")
            if nl:
                s = s[:-1]
            out = []
            col = 0
            pend = 0  # pending blanks (columns)
            pend_start = 0
            leading = True
            for ch in s:
                if ch in " \t" and (leading or allb):
                    if pend == 0:
                        pend_start = col
                    if ch == " ":
                        col += 1
                    else:
                        col = _next_stop(col, stops, every)
                    pend = col - pend_start
                    nx = _next_stop(pend_start, stops, every)
                    if col >= nx and col == nx:
                        out.append("\t" if col - pend_start > 1 or ch == "\t" else " ")
                        pend = 0
                    elif col > nx:
                        pass
                    continue
                if pend:
                    out.append(" " * pend)
                    pend = 0
                leading = False
                out.append(ch)
                col += 1
            if pend:
                out.append(" " * pend)
            yield (1, enc("".join(out) + ("\n" if nl else "")))
    return st


# ------------------------------------------------------------------ split
def _size(s: str) -> int:
    m = re.fullmatch(r"(\d+)([bkKmMgGtT]?)(B|iB)?", s)
    if not m:
        raise ValueError(s)
    mult = {
        "": 1,
        "b": 512,
        "k": 1024,
        "K": 1024,
        "m": 1024**2,
        "M": 1024**2,
        "g": 1024**3,
        "G": 1024**3,
        "t": 1024**4,
        "T": 1024**4,
    }[m.group(2)]
    if m.group(3) == "B":
        mult = {"": 1, "b": 512}.get(
            m.group(2), 1000 ** ("kKmMgGtT".index(m.group(2)) // 2 + 1) if m.group(2) else 1
        )
    return int(m.group(1)) * mult


@cmd("split")
def split(sh: Any, args: list[str], inp: Input) -> Gen:
    a = [("-l" + x[1:]) if re.fullmatch(r"-\d+", x) else x for x in args[1:]]
    try:
        opts, files = parse_opts(
            a,
            "l:b:n:a:dxC:",
            {
                "lines:": "l:",
                "bytes:": "b:",
                "number:": "n:",
                "suffix-length:": "a:",
                "numeric-suffixes": "d",
                "hex-suffixes": "x",
                "additional-suffix:": "S:",
                "verbose": "v",
                "line-bytes:": "C:",
            },
        )
    except UsageError as e:
        yield _usage("split", e)
        return 1
    name = files[0] if files else "-"
    prefix = files[1] if len(files) > 1 else "x"
    try:
        src = open_input(sh, name, inp)
    except OSError as e:
        yield _err("split", f"cannot open '{name}' for reading: {str(e).split(': ', 1)[-1]}")
        return 1
    slen = int(opts.get("a", "2"))
    auto = "a" not in opts
    digits = (
        "0123456789abcdef"
        if "x" in opts
        else "0123456789"
        if "d" in opts
        else "abcdefghijklmnopqrstuvwxyz"
    )
    extra = opts.get("S", "")
    idx = 0

    def fname() -> str:
        n = idx
        base = len(digits)
        w = slen
        pre = ""
        if auto and "n" not in opts:
            while n >= base**w - base ** (w - 1):
                n -= base**w - base ** (w - 1)
                pre += digits[-1]
                w += 1
        elif n >= base**w:
            raise OverflowError
        s = ""
        for _ in range(w):
            s = digits[n % base] + s
            n //= base
        return prefix + pre + s + extra

    def write(data: bytes) -> None:
        nonlocal idx
        path = sh.resolve(fname())
        with open(path, "wb") as f:
            f.write(data)
        idx += 1

    try:
        if "b" in opts:
            size = _size(opts["b"])
            while True:
                sh.budget.tick()
                chunk = src.read(size)
                if not chunk:
                    break
                write(chunk)
        elif "n" in opts:
            data = src.read_all()
            spec = opts["n"]
            kind, _, num = spec.rpartition("/")
            n = int(num) if kind else int(spec)
            if not kind:
                q, r = divmod(len(data), n)
                pos = 0
                for i in range(n):
                    ln = q + (r if i == n - 1 else 0)
                    write(data[pos : pos + ln])
                    pos += ln
            else:
                lines = data.splitlines(keepends=True)
                q, r = divmod(len(lines), n)
                pos = 0
                for i in range(n):
                    ln = q + (1 if i < r else 0)
                    write(b"".join(lines[pos : pos + ln]))
                    pos += ln
        else:
            try:
                n = _size(opts.get("l", "1000"))
            except ValueError:
                yield _err("split", f"invalid number of lines: '{opts.get('l')}'")
                return 1
            if n <= 0:
                yield _err("split", "invalid number of lines: '0'")
                return 1
            while True:
                buf = []
                for _ in range(n):
                    sh.budget.tick()
                    ln = src.readline()
                    if not ln:
                        break
                    buf.append(ln)
                if not buf:
                    break
                write(b"".join(buf))
    except OverflowError:
        yield _err("split", "output file suffixes exhausted")
        return 1
    except ValueError as e:
        yield _err("split", f"invalid number: {e}")
        return 1
    return 0


# ------------------------------------------------------------------ cmp
@cmd("cmp")
def cmp(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "lsbn:i:",
            {
                "silent": "s",
                "quiet": "s",
                "verbose": "l",
                "print-bytes": "b",
                "bytes:": "n:",
                "ignore-initial:": "i:",
            },
        )
    except UsageError as e:
        yield _usage("cmp", e)
        return 2
    if not files:
        yield _usage("cmp", UsageError("missing operand after 'cmp'"))
        return 2
    f1 = files[0]
    f2 = files[1] if len(files) > 1 else "-"
    skip1 = int(files[2]) if len(files) > 2 else 0
    skip2 = int(files[3]) if len(files) > 3 else 0
    if "i" in opts:
        a_, _, b_ = opts["i"].partition(":")
        skip1 = int(a_)
        skip2 = int(b_ or a_)
    try:
        a = _read(sh, f1, inp)[skip1:]
        b = _read(sh, f2, inp)[skip2:]
    except OSError as e:
        if "s" not in opts:
            yield _err("cmp", str(e))
        return 2
    if "n" in opts:
        lim = int(opts["n"])
        a, b = a[:lim], b[:lim]
    n = min(len(a), len(b))
    diff = 0
    line = 1
    if "l" in opts:
        width = len(str(max(len(a), len(b))))
        out = []
        for i in range(n):
            if a[i] != b[i]:
                diff = 1
                if "b" in opts:
                    out.append(f"{i + 1:>{width}} {a[i]:3o} {_pc(a[i]):<4} {b[i]:3o} {_pc(b[i])}\n")
                else:
                    out.append(f"{i + 1:>{width}} {a[i]:3o} {b[i]:3o}\n")
        if out:
            yield (1, enc("".join(out)))
        if len(a) != len(b):
            short = f1 if len(a) < len(b) else f2
            yield (
                2,
                enc(
                    f"cmp: EOF on {short} after byte {n}\n"
                    if n
                    else f"cmp: EOF on {short} which is empty\n"
                ),
            )
            return 1
        return diff
    for i in range(n):
        if a[i] != b[i]:
            if "s" not in opts:
                if "b" in opts:
                    yield (
                        1,
                        enc(
                            f"{f1} {f2} differ: byte {i + 1}, line {line} is {a[i]:3o} {_pc(a[i])} "
                            f"{b[i]:3o} {_pc(b[i])}\n"
                        ),
                    )
                else:
                    yield (1, enc(f"{f1} {f2} differ: byte {i + 1}, line {line}\n"))
            return 1
        if a[i] == 10:
            line += 1
    if len(a) != len(b):
        if "s" not in opts:
            short = f1 if len(a) < len(b) else f2
            if n == 0:
                yield (2, enc(f"cmp: EOF on {short} which is empty\n"))
            else:
                nl = a[:n].count(b"\n")
                extra = f", line {nl + 1}"
                if a[:n].endswith(b"\n"):
                    extra = f", line {nl}"
                yield (2, enc(f"cmp: EOF on {short} after byte {n}{extra}\n"))
        return 1
    return 0


def _pc(c: int) -> str:
    if c >= 128:
        return "M-" + _pc(c - 128)
    if c < 32:
        return "^" + chr(c + 64)
    if c == 127:
        return "^?"
    return chr(c)


# ------------------------------------------------------------------ patch
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(Exception):
    pass


def _patch_name(s: str) -> str:
    """The file name of a ---/+++ line: a C-quoted string, or text up to a tab."""
    s = s.lstrip(" ")
    if s.startswith('"'):
        out = []
        i = 1
        while i < len(s):
            c = s[i]
            if c == "\\" and re.match(r"[0-7]{3}", s[i + 1 : i + 4]):
                out.append(chr(int(s[i + 1 : i + 4], 8)))
                i += 4
                continue
            if c == "\\" and i + 1 < len(s):
                out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(s[i + 1], s[i + 1]))
                i += 2
                continue
            if c == '"':
                return "".join(out)
            out.append(c)
            i += 1
        raise PatchError(f"bad {s.split(chr(9))[0]}")
    return s.split("\t")[0].rstrip()


def _parse_patch(data: bytes) -> list[dict[str, Any]]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    patches: list[dict[str, Any]] = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith(b"--- ") and i + 1 < len(lines) and lines[i + 1].startswith(b"+++ "):
            old = _patch_name(dec(ln[4:]))
            new = _patch_name(dec(lines[i + 1][4:]))
            p: dict[str, Any] = {"old": old, "new": new, "hunks": []}
            patches.append(p)
            i += 2
            while i < len(lines) and _HUNK.match(lines[i]):
                m = _HUNK.match(lines[i])
                assert m
                os_, oc = int(m.group(1)), int(m.group(2)) if m.group(2) is not None else 1
                ns, nc = int(m.group(3)), int(m.group(4)) if m.group(4) is not None else 1
                i += 1
                body: list[tuple[str, bytes, bool]] = []
                ro, rn = oc, nc
                while i < len(lines) and (ro > 0 or rn > 0):
                    b = lines[i]
                    if b.startswith(b"\\"):
                        if body:
                            k, t, _ = body[-1]
                            body[-1] = (k, t, True)
                        i += 1
                        continue
                    k = chr(b[0]) if b else " "
                    if k not in " +-":
                        break
                    body.append((k, b[1:], False))
                    if k in " -":
                        ro -= 1
                    if k in " +":
                        rn -= 1
                    i += 1
                while i < len(lines) and lines[i].startswith(b"\\"):
                    if body:
                        k, t, _ = body[-1]
                        body[-1] = (k, t, True)
                    i += 1
                p["hunks"].append({"os": os_, "oc": oc, "ns": ns, "nc": nc, "body": body})
            continue
        i += 1
    return patches


def _fuzzy(lines: list[bytes], body: list[Any], guess: int) -> tuple[int, list[bytes], list[bytes]]:
    """GNU patch's fuzz (up to 2): drop leading/trailing context lines and search again."""
    lead = 0
    while lead < len(body) and body[lead][0] == " ":
        lead += 1
    trail = 0
    while trail < len(body) - lead and body[len(body) - 1 - trail][0] == " ":
        trail += 1
    for fuzz in (1, 2):
        b2 = body[min(fuzz, lead) : len(body) - min(fuzz, trail)]
        oldl = [t for k, t, _ in b2 if k in " -"]
        newl = [t for k, t, _ in b2 if k in " +"]
        if not oldl:
            continue
        g = guess + min(fuzz, lead)
        for delta in range(0, len(lines) + abs(g) + 1):
            for cand in (g - delta, g + delta):
                if 0 <= cand <= len(lines) - len(oldl) and lines[cand : cand + len(oldl)] == oldl:
                    return cand, oldl, newl
    return -1, [], []


def _strip(path: str, n: int | None) -> str:
    if n is None:
        return os.path.basename(path)
    parts = path.split("/")
    return "/".join(parts[n:]) if n < len(parts) else parts[-1]


@cmd("patch")
def patch(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "p:i:RNsfud:lE",
            {
                "strip:": "p:",
                "input:": "i:",
                "reverse": "R",
                "forward": "N",
                "silent": "s",
                "quiet": "s",
                "dry-run": "D",
                "directory:": "d:",
                "force": "f",
                "unified": "u",
            },
        )
    except UsageError as e:
        yield _usage("patch", e)
        return 2
    try:
        if "i" in opts:
            data = _read(sh, opts["i"], inp)
        elif len(files) > 1:
            data = _read(sh, files[1], inp)
        else:
            data = inp.read_all()
    except OSError as e:
        yield _err("patch", str(e))
        return 2
    strip = int(opts["p"]) if "p" in opts else None
    base = sh.resolve(opts.get("d", "."))
    st = 0
    quiet = "s" in opts
    try:
        parsed = _parse_patch(data)
    except PatchError as e:
        yield _err("patch", str(e))
        return 2
    for p in parsed:
        old, new = p["old"], p["new"]
        rev = "R" in opts
        if rev:
            old, new = new, old
        if files:
            target = files[0]
        else:
            cand = [x for x in (old, new) if x != "/dev/null"]
            target = _strip(cand[0], strip) if cand else ""
            if len(cand) == 2 and not os.path.exists(os.path.join(base, target)):
                t2 = _strip(cand[1], strip)
                if os.path.exists(os.path.join(base, t2)):
                    target = t2
        path = os.path.join(base, target)
        creating = old == "/dev/null"
        deleting = new == "/dev/null"
        try:
            with open(path, "rb") as f:
                content = f.read()
        except OSError:
            content = b""
            if not creating:
                yield (1, enc(f"patching file {target}\n")) if not quiet else (1, b"")
                yield (2, enc(f"patch: can't open '{target}': No such file or directory\n"))
                st = 1
                continue
        lines = content.split(b"\n")
        noeol = not content.endswith(b"\n") and content != b""
        if content.endswith(b"\n"):
            lines.pop()
        elif content == b"":
            lines = []
        if not quiet:
            yield (1, enc(f"patching file {target}\n"))
        offset = 0
        failed = 0
        out_noeol = noeol
        for hn, h in enumerate(p["hunks"], 1):
            body = h["body"]
            if rev:
                body = [({"+": "-", "-": "+"}.get(k, k), t, ne) for k, t, ne in body]
            oldl = [t for k, t, _ in body if k in " -"]
            newl = [t for k, t, _ in body if k in " +"]
            start = (h["ns"] if rev else h["os"]) - 1
            if not oldl:
                start = start + 1 if start >= 0 and (h["nc"] if rev else h["oc"]) == 0 else start
                if (h["nc"] if rev else h["oc"]) == 0:
                    start = h["ns"] if rev else h["os"]
            pos = -1
            for delta in range(0, len(lines) + abs(start + offset) + 1):
                for cand in (
                    (start + offset + delta,)
                    if delta == 0
                    else (start + offset - delta, start + offset + delta)
                ):
                    if (
                        0 <= cand <= len(lines) - len(oldl)
                        and lines[cand : cand + len(oldl)] == oldl
                    ):
                        pos = cand
                        break
                if pos >= 0:
                    break
            if pos < 0:
                pos, oldl, newl = _fuzzy(lines, body, start + offset)
            if pos < 0:
                failed += 1
                yield (1, enc(f"Hunk #{hn} FAILED at {h['os']}.\n"))
                continue
            if pos != start + offset and not quiet:
                yield (
                    1,
                    enc(
                        f"Hunk #{hn} succeeded at {pos + 1} (offset {pos - start} line"
                        f"{'s' if abs(pos - start) != 1 else ''}).\n"
                    ),
                )
            lines[pos : pos + len(oldl)] = newl
            offset = pos - start + len(newl) - len(oldl)
            if pos + len(newl) >= len(lines):
                last_new = [ne for k, t, ne in body if k in " +"]
                out_noeol = bool(last_new and last_new[-1])
        if failed:
            yield (
                1,
                enc(
                    f"{failed} out of {len(p['hunks'])} hunk{'s' if len(p['hunks']) > 1 else ''} "
                    f"FAILED -- saving rejects to file {target}.rej\n"
                ),
            )
            st = 1
            continue
        if "D" in opts:
            continue
        if deleting and not lines:
            try:
                os.remove(path)
            except OSError:
                pass
            continue
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(path, "wb") as f:
            body_b = b"\n".join(lines)
            if lines and not out_noeol:
                body_b += b"\n"
            f.write(body_b)
    return st


# ------------------------------------------------------------------ strings
@cmd("strings")
def strings(sh: Any, args: list[str], inp: Input) -> Gen:
    a = [("-n" + x[1:]) if re.fullmatch(r"-\d+", x) else x for x in args[1:]]
    try:
        opts, files = parse_opts(
            a, "n:t:afe:o", {"bytes:": "n:", "radix:": "t:", "all": "a", "print-file-name": "f"}
        )
    except UsageError as e:
        yield _usage("strings", e)
        return 1
    n = int(opts.get("n", "4"))
    radix = opts.get("t", "d" if "o" in opts else None)
    st = 0
    pat = re.compile(rb"[\x20-\x7e\t]{%d,}" % n)
    for name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield _err("strings", src)
            st = 1
            continue
        data = src.read_all()
        out = []
        for m in pat.finditer(data):
            pre = ""
            if "f" in opts:
                pre = f"{name}: "
            if radix:
                off = m.start()
                pre += {"d": f"{off:7d} ", "o": f"{off:7o} ", "x": f"{off:7x} "}[radix]
            out.append(enc(pre) + m.group() + b"\n")
        yield (1, b"".join(out))
    return st


# ------------------------------------------------------------------ truncate
@cmd("truncate")
def truncate(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "s:cr:o",
            {"size:": "s:", "no-create": "c", "reference:": "r:", "io-blocks": "o"},
        )
    except UsageError as e:
        yield _usage("truncate", e)
        return 1
    if "s" not in opts and "r" not in opts:
        yield _usage("truncate", UsageError("you must specify either '--size' or '--reference'"))
        return 1
    if not files:
        yield _usage("truncate", UsageError("missing file operand"))
        return 1
    spec = opts.get("s", "")
    op = ""
    if spec[:1] in "+-<>/%" and spec:
        op, spec = spec[0], spec[1:]
    try:
        size = _size(spec) if spec else 0
    except ValueError:
        yield _err("truncate", f"Invalid number: '{opts.get('s')}'")
        return 1
    if "r" in opts:
        try:
            ref = os.path.getsize(sh.resolve(opts["r"]))
        except OSError as e:
            yield _err("truncate", f"cannot stat '{opts['r']}': {e.strerror}")
            return 1
        if "s" not in opts:
            size, op = ref, ""
    st = 0
    for f in files:
        path = sh.resolve(f)
        if not os.path.exists(path):
            if "c" in opts:
                continue
            try:
                open(path, "wb").close()
            except OSError as e:
                yield _err("truncate", f"cannot open '{f}' for writing: {e.strerror}")
                st = 1
                continue
        cur = os.path.getsize(path)
        new = {
            "": size,
            "+": cur + size,
            "-": max(0, cur - size),
            "<": min(cur, size),
            ">": max(cur, size),
            "/": (cur // size) * size if size else cur,
            "%": -(-cur // size) * size if size else cur,
        }[op]
        try:
            with open(path, "r+b") as fh:
                fh.truncate(new)
        except OSError as e:
            yield _err("truncate", f"cannot open '{f}' for writing: {e.strerror}")
            st = 1
    return st


# ------------------------------------------------------------------ checksums
def _crc_table() -> list[int]:
    tab = []
    for i in range(256):
        c = i << 24
        for _ in range(8):
            c = ((c << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if c & 0x80000000 else (c << 1) & 0xFFFFFFFF
        tab.append(c)
    return tab


_CRC = _crc_table()


def posix_cksum(data: bytes) -> int:
    c = 0
    tab = _CRC
    for b in data:
        c = ((c << 8) & 0xFFFFFFFF) ^ tab[(c >> 24) ^ b]
    n = len(data)
    while n:
        c = ((c << 8) & 0xFFFFFFFF) ^ tab[(c >> 24) ^ (n & 0xFF)]
        n >>= 8
    return (~c) & 0xFFFFFFFF


@cmd("cksum")
def cksum(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(args[1:], "a:", {"algorithm:": "a:"})
    except UsageError as e:
        yield _usage("cksum", e)
        return 1
    algo = opts.get("a", "crc")
    if algo != "crc":
        return (
            yield from _hashsum(sh, [algo + "sum"] + [x for x in files], inp, algo, tagged=True)
        )
    st = 0
    for name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield _err("cksum", src)
            st = 1
            continue
        data = src.read_all()
        tail = "" if name == "-" and not files else f" {name}"
        yield (1, enc(f"{posix_cksum(data)} {len(data)}{tail}\n"))
    return st


def _hashsum(sh: Any, args: list[str], inp: Input, algo: str, tagged: bool = False) -> Gen:
    name = args[0]
    try:
        opts, files = parse_opts(
            args[1:],
            "bctwz",
            {
                "binary": "b",
                "check": "c",
                "text": "t",
                "tag": "T",
                "quiet": "q",
                "status": "s",
                "warn": "w",
                "strict": "S",
                "zero": "z",
                "ignore-missing": "i",
            },
        )
    except UsageError as e:
        yield _usage(name, e)
        return 1
    hname = {
        "md5": "md5",
        "sha1": "sha1",
        "sha224": "sha224",
        "sha256": "sha256",
        "sha384": "sha384",
        "sha512": "sha512",
        "blake2b": "blake2b",
        "b2": "blake2b",
    }[algo]
    st = 0
    if "c" in opts:
        bad = 0
        for _fname, src in inputs(sh, files, inp):
            if isinstance(src, str):
                yield _err(name, src)
                st = 1
                continue
            for line in split_lines(src.read_all()):
                s = dec(line)
                m = re.match(r"^([0-9a-fA-F]+) [ *](.*)$", s) or None
                tm = re.match(r"^\w+ \((.*)\) = ([0-9a-fA-F]+)$", s)
                if tm:
                    digest, path = tm.group(2), tm.group(1)
                elif m:
                    digest, path = m.group(1), m.group(2)
                else:
                    continue
                try:
                    with open(sh.resolve(path), "rb") as f:
                        got = hashlib.new(hname, f.read()).hexdigest()
                except OSError:
                    if "i" in opts:
                        continue
                    yield _err(name, f"{path}: No such file or directory")
                    yield (1, enc(f"{path}: FAILED open or read\n"))
                    st = 1
                    continue
                if got == digest.lower():
                    if "q" not in opts and "s" not in opts:
                        yield (1, enc(f"{path}: OK\n"))
                else:
                    bad += 1
                    if "s" not in opts:
                        yield (1, enc(f"{path}: FAILED\n"))
        if bad:
            if "s" not in opts:
                yield _err(
                    name, f"WARNING: {bad} computed checksum{'s' if bad > 1 else ''} did NOT match"
                )
            st = 1
        return st
    for fname, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield _err(name, src)
            st = 1
            continue
        h = hashlib.new(hname)
        for chunk in src.chunks():
            sh.budget.tick()
            h.update(chunk)
        if tagged or "T" in opts:
            label = {
                "md5": "MD5",
                "sha1": "SHA1",
                "sha224": "SHA224",
                "sha256": "SHA256",
                "sha384": "SHA384",
                "sha512": "SHA512",
                "blake2b": "BLAKE2b",
            }[hname]
            yield (1, enc(f"{label} ({fname}) = {h.hexdigest()}\n"))
        else:
            yield (
                1,
                enc(
                    f"{h.hexdigest()} {'*' if 'b' in opts else ' '}{fname}"
                    + ("\0" if "z" in opts else "\n")
                ),
            )
    return st


def _mk_hash(algo: str) -> Any:
    def run(sh: Any, args: list[str], inp: Input) -> Gen:
        return (yield from _hashsum(sh, args, inp, algo))

    return run


for _a in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "b2"):
    cmd(_a + "sum")(_mk_hash(_a))


# ------------------------------------------------------------------ df
@cmd("df")
def df(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "hkPTtia",
            {
                "human-readable": "h",
                "portability": "P",
                "print-type": "T",
                "inodes": "i",
                "all": "a",
            },
        )
    except UsageError as e:
        yield _usage("df", e)
        return 1
    total = avail = 0
    try:
        s = os.statvfs(sh.cwd)
        total = s.f_blocks * s.f_frsize
        avail = s.f_bavail * s.f_frsize
    except (OSError, AttributeError):
        total, avail = 1 << 30, 1 << 29
    used = max(0, total - avail)

    def h(n: int) -> str:
        if "h" not in opts:
            return str(n // 1024)
        for u in "KMGTP":
            n /= 1024  # type: ignore[assignment]
            if n < 1024:
                return f"{n:.1f}{u}" if n < 10 else f"{n:.0f}{u}"
        return str(n)

    pct = f"{(used * 100 + total - 1) // total if total else 0}%"
    head = (
        "Filesystem     "
        + (" Type" if "T" in opts else "")
        + (
            "      Size  Used Avail Use% Mounted on"
            if "h" in opts
            else "     1K-blocks      Used Available Use% Mounted on"
        )
    )
    row = (
        f"{'sandbox':<15}"
        + (" sandbox" if "T" in opts else "")
        + f" {h(total):>9} {h(used):>9} {h(avail):>9} {pct:>4} /"
    )
    yield (1, enc(head + "\n" + row + "\n"))
    return 0


__all__ = ["cmd", "posix_cksum"]


# the archive and calculator commands live in their own modules; importing them here registers
# them whenever this module is loaded
from . import archive as _archive  # noqa: E402,F401
from . import calc as _calc  # noqa: E402,F401


# ------------------------------------------------------------------ tsort
@cmd("tsort")
def tsort(sh: Any, args: list[str], inp: Input) -> Gen:
    name = args[1] if len(args) > 1 else "-"
    try:
        toks = _read(sh, name, inp).split()
    except OSError as e:
        yield _err("tsort", str(e))
        return 1
    if len(toks) % 2:
        yield _err("tsort", f"{name}: input contains an odd number of tokens")
        return 1
    order: dict[bytes, None] = {}
    succ: dict[bytes, list[bytes]] = {}
    indeg: dict[bytes, int] = {}
    for a, b in zip(toks[::2], toks[1::2], strict=False):
        for x in (a, b):
            order.setdefault(x, None)
            succ.setdefault(x, [])
            indeg.setdefault(x, 0)
        if a != b and b not in succ[a]:
            succ[a].append(b)
            indeg[b] += 1
    queue = [x for x in sorted(order) if indeg[x] == 0]
    out: list[bytes] = []
    st = 0
    done: set[bytes] = set()
    while len(done) < len(order):
        sh.budget.tick()
        if not queue:
            # a cycle: report it and break it at the smallest remaining node
            rest = sorted(x for x in order if x not in done)
            yield _err("tsort", f"{name}: input contains a loop:")
            yield _err("tsort", dec(rest[0]))
            st = 1
            indeg[rest[0]] = 0
            queue.append(rest[0])
        x = queue.pop(0)
        if x in done:
            continue
        done.add(x)
        out.append(x + b"\n")
        for y in succ[x]:
            indeg[y] -= 1
            if indeg[y] == 0:
                queue.append(y)
    yield (1, b"".join(out))
    return st


# ------------------------------------------------------------------ uuencode / uudecode
@cmd("uuencode")
def uuencode(sh: Any, args: list[str], inp: Input) -> Gen:
    import base64 as _b64
    import binascii

    try:
        opts, files = parse_opts(args[1:], "m", {"base64": "m"})
    except UsageError as e:
        yield _usage("uuencode", e)
        return 1
    if not files or len(files) > 2:
        yield _usage("uuencode", UsageError("missing operand" if not files else "extra operand"))
        return 1
    name = files[-1]
    src = files[0] if len(files) == 2 else "-"
    mode = 0o644
    try:
        data = _read(sh, src, inp)
        if src != "-":
            mode = os.stat(sh.resolve(src)).st_mode & 0o777
    except OSError as e:
        yield _err("uuencode", str(e))
        return 1
    if "m" in opts:
        body = _b64.b64encode(data)
        lines = [body[i : i + 60] for i in range(0, len(body), 60)]
        out = (
            enc(f"begin-base64 {mode:o} {name}\n") + b"".join(x + b"\n" for x in lines) + b"====\n"
        )
    else:
        lines = [binascii.b2a_uu(data[i : i + 45], backtick=True) for i in range(0, len(data), 45)]
        out = enc(f"begin {mode:o} {name}\n") + b"".join(lines) + b"`\nend\n"
    yield (1, out)
    return 0


@cmd("uudecode")
def uudecode(sh: Any, args: list[str], inp: Input) -> Gen:
    import base64 as _b64
    import binascii

    try:
        opts, files = parse_opts(args[1:], "o:", {"output-file:": "o:"})
    except UsageError as e:
        yield _usage("uudecode", e)
        return 1
    try:
        text = _read(sh, files[0] if files else "-", inp)
    except OSError as e:
        yield _err("uudecode", str(e))
        return 1
    lines = text.split(b"\n")
    i = 0
    while i < len(lines) and not lines[i].startswith((b"begin ", b"begin-base64 ")):
        i += 1
    if i >= len(lines):
        yield _err("uudecode", "No `begin' line")
        return 1
    head = lines[i].split(b" ", 2)
    b64 = head[0] == b"begin-base64"
    name = dec(head[2]) if len(head) > 2 else "-"
    mode = int(head[1], 8) if len(head) > 1 and head[1].isdigit() else 0o644
    out = bytearray()
    for ln in lines[i + 1 :]:
        if b64:
            if ln.strip() == b"====":
                break
            try:
                out += _b64.b64decode(ln.strip())
            except Exception:
                yield _err("uudecode", "invalid input")
                return 1
        else:
            if ln.strip() in (b"end", b"`", b""):
                if ln.strip() == b"end":
                    break
                continue
            try:
                out += binascii.a2b_uu(ln)
            except binascii.Error:
                n = (ln[0] - 32) & 63
                out += binascii.a2b_uu(ln[: 1 + (n + 2) // 3 * 4])
    dest = opts.get("o", name)
    if dest in ("-", "/dev/stdout"):
        yield (1, bytes(out))
        return 0
    try:
        path = sh.resolve(dest)
        with open(path, "wb") as f:
            f.write(out)
        os.chmod(path, mode & 0o777)
    except OSError as e:
        yield _err("uudecode", f"{dest}: {e.strerror}")
        return 1
    return 0
