"""Text-processing commands (GNU coreutils behaviour for common options).

Streaming where it matters.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from itertools import compress, islice
from operator import add, ne, sub
from typing import Any

from ..io import Gen, Input
from . import Command, command
from .util import UsageError, dec, enc, inputs, parse_opts, split_lines


def _usage(name: str, e: UsageError) -> tuple[int, bytes]:
    return (2, enc(f"{name}: {e}\nTry '{name} --help' for more information.\n"))


@command("cat")
def cat(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "nbsAevET",
            {
                "number": "n",
                "number-nonblank": "b",
                "squeeze-blank": "s",
                "show-ends": "E",
                "show-all": "A",
            },
        )
    except UsageError as e:
        yield _usage("cat", e)
        return 1
    st = 0
    number = "n" in opts or "b" in opts
    ends = "E" in opts or "A" in opts or "e" in opts
    n = 0
    prev_blank = False
    for _name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield (2, enc(f"cat: {src}\n"))
            st = 1
            continue
        if not (number or ends or "s" in opts or "T" in opts or "v" in opts or "A" in opts):
            for chunk in src.chunks():
                yield (1, chunk)
            continue
        for line in src.lines():
            blank = line in (b"\n",)
            if "s" in opts and blank and prev_blank:
                continue
            prev_blank = blank
            body = line[:-1] if line.endswith(b"\n") else line
            if "T" in opts or "A" in opts:
                body = body.replace(b"\t", b"^I")
            if ends and line.endswith(b"\n"):
                body += b"$"
            if number and not ("b" in opts and blank):
                n += 1
                body = enc(f"{n:6d}\t") + body
            yield (1, body + (b"\n" if line.endswith(b"\n") else b""))
    return st


def _count_arg(v: str) -> tuple[int, bool]:
    """Parse head/tail counts: returns (n, from_start/negative flag)."""
    plus = v.startswith("+")
    minus = v.startswith("-")
    v = v.lstrip("+-")
    mult = 1
    for suf, m in (
        ("KiB", 1024),
        ("kB", 1000),
        ("K", 1024),
        ("k", 1024),
        ("MB", 10**6),
        ("M", 1024**2),
        ("b", 512),
    ):
        if v.endswith(suf):
            v, mult = v[: -len(suf)], m
            break
    if not v.isdigit():
        raise ValueError(v)
    return int(v) * mult, plus or minus


def _legacy_num(args: list[str]) -> list[str]:
    if args and re.fullmatch(r"-\d+", args[0]):
        return ["-n", args[0][1:]] + args[1:]
    return args


def _file_header(name: str, idx: int, count: int, opts: dict[str, Any]) -> Gen:
    """head's and tail's `==> name <==` line, shown for several files (-q hides, -v forces)."""
    if (count > 1 and "q" not in opts) or "v" in opts:
        shown = "standard input" if name == "-" else name
        yield (1, enc(("\n" if idx else "") + f"==> {shown} <==\n"))
    return 0


@command("head")
def head(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            _legacy_num(args[1:]),
            "n:c:qvz",
            {"lines": "n:", "bytes": "c:", "quiet": "q", "silent": "q"},
        )
    except UsageError as e:
        yield _usage("head", e)
        return 1
    st = 0
    for idx, (name, src) in enumerate(inputs(sh, files, inp)):
        if isinstance(src, str):
            yield (2, enc(f"head: cannot open '{name}' for reading: {src.split(': ', 1)[-1]}\n"))
            st = 1
            continue
        yield from _file_header(name, idx, len(files), opts)
        try:
            if "c" in opts:
                n, neg = _count_arg(opts["c"])
                if opts["c"].startswith("-"):
                    data = src.read_all()
                    yield (1, data[: max(0, len(data) - n)])
                else:
                    yield (1, src.read(n))
                continue
            n, neg = _count_arg(opts.get("n", "10"))
        except ValueError:
            yield (2, enc(f"head: invalid number of lines: '{opts.get('n') or opts.get('c')}'\n"))
            return 1
        if opts.get("n", "").startswith("-"):
            lines = list(src.lines())
            for line in lines[: max(0, len(lines) - n)]:
                yield (1, line)
            continue
        for _ in range(n):
            line = src.readline()
            if not line:
                break
            yield (1, line)
    return st


@command("tail")
def tail(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    if a and re.fullmatch(r"[-+]\d+", a[0]):
        a = ["-n", a[0]] + a[1:]
    try:
        opts, files = parse_opts(
            a, "n:c:qvfF", {"lines": "n:", "bytes": "c:", "quiet": "q", "follow": "f"}
        )
    except UsageError as e:
        yield _usage("tail", e)
        return 1
    st = 0
    for idx, (name, src) in enumerate(inputs(sh, files, inp)):
        if isinstance(src, str):
            yield (2, enc(f"tail: cannot open '{name}' for reading: {src.split(': ', 1)[-1]}\n"))
            st = 1
            continue
        yield from _file_header(name, idx, len(files), opts)
        data = src.read_all()
        try:
            if "c" in opts:
                n, _ = _count_arg(opts["c"])
                yield (
                    1,
                    data[n - 1 :]
                    if opts["c"].startswith("+")
                    else data[len(data) - n :]
                    if n
                    else b"",
                )
                continue
            spec = opts.get("n", "10")
            n, _ = _count_arg(spec)
        except ValueError:
            yield (2, enc(f"tail: invalid number of lines: '{opts.get('n') or opts.get('c')}'\n"))
            return 1
        lines = data.splitlines(keepends=True)
        if spec.startswith("+"):
            out = lines[max(n - 1, 0) :]
        else:
            out = lines[len(lines) - n :] if n else []
        yield (1, b"".join(out))
    return st


def _max_width(s: str, best: int, pos: int) -> tuple[int, int]:
    """wc -L over s: the widest line so far and the column the last line ends at.  As GNU:
    a tab moves to the next multiple of 8, \\r and \\f start the line again, wide characters
    take 2 columns, combining and unprintable ones none."""
    import unicodedata

    lines = s.split("\n")
    for k, line in enumerate(lines):
        if k:
            pos = 0
        if line.isascii() and line.isprintable():
            pos += len(line)
        else:
            for ch in line:
                if ch == "\t":
                    pos += 8 - pos % 8
                elif ch in "\r\f":
                    best = max(best, pos)
                    pos = 0
                elif ch.isprintable():
                    if ch.isascii():
                        pos += 1
                    elif unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
                        pass
                    else:
                        pos += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        best = max(best, pos)
    return best, pos


@command("wc")
def wc(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "lwcmL",
            {"lines": "l", "words": "w", "bytes": "c", "chars": "m", "max-line-length": "L"},
        )
    except UsageError as e:
        yield _usage("wc", e)
        return 1
    sel = [k for k in "lwmcL" if k in opts] or ["l", "w", "c"]
    rows = []
    st = 0
    tot = {k: 0 for k in "lwmcL"}
    for name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield (2, enc(f"wc: {src}\n"))
            st = 1
            continue
        c = {k: 0 for k in "lwmcL"}
        inword = False
        linepos = 0
        for chunk in src.chunks():
            c["l"] += chunk.count(b"\n")
            c["c"] += len(chunk)
            if "w" in sel or "m" in sel or "L" in sel:
                s = dec(chunk)
                c["m"] += len(s)
                for ch in s:
                    sp = ch.isspace()
                    if not sp and not inword:
                        c["w"] += 1
                    inword = not sp
                if "L" in sel:
                    c["L"], linepos = _max_width(s, c["L"], linepos)
        for k in c:
            tot[k] = max(tot[k], c[k]) if k == "L" else tot[k] + c[k]
        rows.append(([c[k] for k in sel], name))
    if len(rows) > 1:
        rows.append(([tot[k] for k in sel], "total"))
    single = len(rows) == 1 and len(sel) == 1
    width = 1 if single else max(len(str(v)) for r, _ in rows for v in r) if rows else 1
    if not files and not single:
        width = max(width, 7)
    for vals, name in rows:
        line = " ".join(str(v).rjust(width) for v in vals)
        if files:
            line += " " + name
        yield (1, enc(line + "\n"))
    return st


_NUMERIC = re.compile(r"\s*(-?\d*\.?\d+)")


def _sort_key(
    opts: dict[str, Any], keys: list[tuple[int, int, int, int, str]], sep: str | None
) -> Any:
    def fields(line: str) -> list[tuple[int, int]]:
        if sep is not None:
            out, pos = [], 0
            for part in line.split(sep):
                out.append((pos, pos + len(part)))
                pos += len(part) + 1
            return out
        out = []
        for m in re.finditer(r"\s*\S+", line):
            out.append((m.start(), m.end()))
        return out or [(0, 0)]

    def conv(s: str, flags: str) -> Any:
        if "b" in flags:
            s = s.lstrip()
        if "f" in flags:
            s = s.lower()
        if "n" in flags:
            m = _NUMERIC.match(s)
            return (float(m.group(1)) if m else 0.0, s)
        if "h" in flags:
            m = re.match(r"\s*(-?\d*\.?\d+)([KMGTPE]?)", s)
            if not m:
                return (0.0, s)
            return (
                float(m.group(1)) * 1024 ** ("KMGTPE".find(m.group(2)) + 1 if m.group(2) else 1)
                if m.group(2)
                else float(m.group(1)),
                s,
            )
        if "V" in flags:
            return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]
        return s

    gflags = "".join(k for k in "bfnhV" if k in opts)

    def key(line: str) -> Any:
        if not keys:
            return conv(line, gflags)
        out = []
        fs = fields(line)
        for f1, c1, f2, c2, flags in keys:
            fl = flags or gflags
            if f1 - 1 >= len(fs):
                out.append(conv("", fl))
                continue
            start = fs[f1 - 1][0] + (c1 - 1 if c1 else 0)
            if sep is None and not c1 and "b" not in fl:
                pass
            if f2:
                end = fs[f2 - 1][1] if f2 - 1 < len(fs) else len(line)
                if c2:
                    end = fs[f2 - 1][0] + c2 if f2 - 1 < len(fs) else len(line)
            else:
                end = len(line)
            out.append(conv(line[start:end], fl))
        return out

    return key


@command("sort")
def sort(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "nrufbk:t:shVcCmo:zd",
            {
                "numeric-sort": "n",
                "reverse": "r",
                "unique": "u",
                "ignore-case": "f",
                "key": "k:",
                "field-separator": "t:",
                "human-numeric-sort": "h",
                "version-sort": "V",
                "stable": "s",
                "output": "o:",
            },
        )
    except UsageError as e:
        yield _usage("sort", e)
        return 2
    lines: list[str] = []
    for _name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield (2, enc(f"sort: cannot read: {src}\n"))
            return 2
        # one decode for the whole input (a separator byte is never inside a UTF-8
        # sequence, so this splits as decoding line by line would)
        text = dec(src.read_all())
        if text:
            parts = text.split("\0" if "z" in opts else "\n")
            if parts[-1] == "":
                parts.pop()
            lines.extend(parts)
    keys = []
    for k in opts.get("_k", []):
        m = re.fullmatch(
            r"(\d+)(?:\.(\d+))?([bdfgihMnrV]*)(?:,(\d+)(?:\.(\d+))?([bdfgihMnrV]*))?", k
        )
        if not m:
            yield (2, enc(f"sort: invalid key '{k}'\n"))
            return 2
        keys.append(
            (
                int(m.group(1)),
                int(m.group(2) or 0),
                int(m.group(4) or 0),
                int(m.group(5) or 0),
                (m.group(3) or "") + (m.group(6) or ""),
            )
        )
    keyf = _sort_key(opts, keys, opts.get("t"))
    rev = "r" in opts or any("r" in k[4] for k in keys)
    if "c" in opts or "C" in opts:
        for a, b in zip(lines, lines[1:], strict=False):
            if (keyf(b) < keyf(a)) != rev and keyf(a) != keyf(b):
                if "c" in opts:
                    yield (2, enc(f"sort: -:{lines.index(b) + 1}: disorder: {b}\n"))
                return 1
        return 0
    if not keys and "".join(k for k in "bfnhV" if k in opts) == "n" and "u" not in opts:
        # sort -n on whole lines (the common case): by the number, then the line, as
        # `full` below (with or without -s), without its three calls per line: the lines
        # sorted first, then their indices by number (stable, in reverse too)
        ordered = sorted(lines, reverse=rev)
        numbers = [float(m[1]) if m else 0.0 for m in map(_NUMERIC.match, ordered)]
        at = sorted(range(len(ordered)), key=numbers.__getitem__, reverse=rev)
        out = list(map(ordered.__getitem__, at))
    elif keys or "n" in opts or "f" in opts or "h" in opts or "V" in opts or "b" in opts:

        def full(line: str) -> Any:
            return (keyf(line), line) if "s" not in opts and "u" not in opts else (keyf(line),)

        out = sorted(lines, key=full, reverse=rev)
    else:
        out = sorted(lines, reverse=rev)
    if "u" in opts:
        uniq: list[str] = []
        last = object()
        for line in out:
            k = keyf(line) if (keys or "n" in opts or "f" in opts) else line
            if k != last:
                uniq.append(line)
                last = k
        out = uniq
    term = "\0" if "z" in opts else "\n"
    data = enc(term.join(out) + term) if out else b""
    if "o" in opts:
        with open(sh.resolve(opts["o"]), "wb") as f:
            f.write(data)
    else:
        yield (1, data)
    return 0


@command("uniq")
def uniq(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "cdDuif:s:w:",
            {
                "count": "c",
                "repeated": "d",
                "all-repeated": "D",
                "unique": "u",
                "ignore-case": "i",
                "skip-fields": "f:",
                "skip-chars": "s:",
                "check-chars": "w:",
            },
        )
    except UsageError as e:
        yield _usage("uniq", e)
        return 1
    method = "none"
    for a in args[1:]:
        if a == "--":
            break
        if a.startswith("--all-repeated="):
            method = a.split("=", 1)[1]
            if method not in ("none", "prepend", "separate"):
                yield (2, enc(f"uniq: invalid argument '{method}' for '--all-repeated'\n"))
                return 1
            opts["D"] = ""
    src: Any = inp
    if files and files[0] != "-":
        for _, s in inputs(sh, files[:1], inp):
            if isinstance(s, str):
                yield (2, enc(f"uniq: {s}\n"))
                return 1
            src = s
    if not set(opts) - {"c", "d", "u"}:  # whole lines compared: the common case, batched
        return (yield from _uniq_lines(src, "c" in opts, "d" in opts, "u" in opts))
    nf, nc = int(opts.get("f", 0)), int(opts.get("s", 0))
    w = int(opts["w"]) if "w" in opts else None

    def key(line: bytes) -> bytes:
        s = line.rstrip(b"\n")
        if nf:
            s = re.sub(rb"^(\s*\S+){%d}" % nf, b"", s)
        s = s[nc:]
        if w is not None:
            s = s[:w]
        return s.lower() if "i" in opts else s

    def emit(line: bytes, n: int) -> Any:
        if "d" in opts and n < 2:
            return None
        if "u" in opts and n > 1:
            return None
        body = line if line.endswith(b"\n") else line + b"\n"
        return enc(f"{n:7d} ") + body if "c" in opts else body

    prev: bytes | None = None
    prev_key = b""
    count = 0
    group: list[bytes] = []  # -D: every line of the current run
    groups_out = 0
    done: list[bytes] = []  # output lines, sent together while more input is at hand

    def end_run() -> None:
        nonlocal groups_out
        if "D" not in opts:
            out = emit(prev or b"", count)
            if out:
                done.append(out)
        elif len(group) > 1:  # GNU: every line of each repeated run, first one included
            if method == "prepend" or (method == "separate" and groups_out):
                done.append(b"\n")
            done.extend(x if x.endswith(b"\n") else x + b"\n" for x in group)
            groups_out += 1

    for line in src.lines():
        if done and (len(done) >= 1024 or not src.buffered()):
            yield (1, b"".join(done))
            done.clear()
        k = key(line)
        if prev is not None and k == prev_key:
            count += 1
            if "D" in opts:
                group.append(line)
            continue
        if prev is not None:
            end_run()
        prev, prev_key, count = line, k, 1
        group = [line]
    if prev is not None:
        end_run()
    if done:
        yield (1, b"".join(done))
    return 0


def _uniq_lines(src: Input, counts: bool, repeated: bool, single: bool) -> Gen:
    """uniq with [-cdu] only. Each chunk of input at hand is split into lines at once, and
    its runs are found and counted by C-level maps (a Python step per line cost ~1 us on
    the host, several in the wasm guest). A run may go on into the next chunk, so the last
    one is held back until it ends."""
    prev: bytes | None = None  # the held-back run's line, without its newline
    count = 0
    rest = b""  # an unterminated line, waiting for the rest of it
    while True:
        chunk = src.read_chunk()
        if chunk:
            data = rest + chunk if rest else chunk
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if not cut:
                continue
            lines = data[: cut - 1].split(b"\n")
        elif rest:
            lines, rest = [rest], b""
        else:
            break
        n = len(lines)
        starts = [0, *compress(range(1, n), map(ne, islice(lines, 1, None), lines))]
        keys = list(map(lines.__getitem__, starts))
        sizes = list(map(sub, [*starts[1:], n], starts))
        if keys[0] == prev:
            sizes[0] += count
        elif prev is not None:
            keys.insert(0, prev)
            sizes.insert(0, count)
        prev, count = keys.pop(), sizes.pop()
        out = _uniq_out(keys, sizes, counts, repeated, single) if keys else b""
        if out:
            yield (1, out)
    if prev is not None:
        out = _uniq_out([prev], [count], counts, repeated, single)
        if out:
            yield (1, out)
    return 0


def _uniq_out(
    keys: list[bytes], sizes: list[int], counts: bool, repeated: bool, single: bool
) -> bytes:
    """The output lines for runs of `keys`, `sizes` long: -d keeps runs of 2 or more, -u
    runs of 1, -c prefixes each with its length."""
    if repeated and single:
        return b""
    if repeated or single:
        keep = list(map((1).__lt__ if repeated else (1).__eq__, sizes))
        sizes, keys = list(compress(sizes, keep)), list(compress(keys, keep))
    if not keys:
        return b""
    if counts:  # each distinct count formatted once, the rows made without a step each
        distinct = set(sizes)
        if len(distinct) == 1:  # all alike (all lines unique, say): one join
            prefix = b"%7d " % distinct.pop()
            return prefix + (b"\n" + prefix).join(keys) + b"\n"
        prefixes = {n: b"%7d " % n for n in distinct}
        return b"\n".join(map(add, map(prefixes.__getitem__, sizes), keys)) + b"\n"
    return b"\n".join(keys) + b"\n"


def _ranges(spec: str) -> list[tuple[int, int]]:
    out = []
    for part in spec.split(","):
        if "-" in part:
            a, _, b = part.partition("-")
            out.append((int(a) if a else 1, int(b) if b else 10**9))
        else:
            out.append((int(part), int(part)))
    return out


@command("cut")
def cut(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "b:c:d:f:sz",
            {
                "bytes": "b:",
                "characters": "c:",
                "delimiter": "d:",
                "fields": "f:",
                "only-delimited": "s",
                "complement": "C",
                "output-delimiter": "O:",
            },
        )
        spec = opts.get("f") or opts.get("c") or opts.get("b")
        if spec is None:
            raise UsageError("you must specify a list of bytes, characters, or fields")
        rngs = _ranges(spec)
    except (UsageError, ValueError) as e:
        yield _usage("cut", UsageError(str(e)))
        return 1

    def sel(i: int) -> bool:
        r = any(a <= i <= b for a, b in rngs)
        return not r if "C" in opts else r

    d = opts.get("d", "\t")
    od = opts.get("O", d)
    st = 0
    for _name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield (2, enc(f"cut: {src}\n"))
            st = 1
            continue
        for raw in src.lines():
            line = dec(raw.rstrip(b"\n"))
            if "f" in opts:
                if d not in line:
                    if "s" not in opts:
                        yield (1, enc(line + "\n"))
                    continue
                parts = line.split(d)
                yield (1, enc(od.join(p for i, p in enumerate(parts, 1) if sel(i)) + "\n"))
            else:
                yield (1, enc("".join(c for i, c in enumerate(line, 1) if sel(i)) + "\n"))
    return st


def _tr_set(s: str) -> list[str]:
    s = s.replace("[:upper:]", "A-Z").replace("[:lower:]", "a-z").replace("[:digit:]", "0-9")
    s = (
        s.replace("[:alpha:]", "A-Za-z")
        .replace("[:alnum:]", "A-Za-z0-9")
        .replace("[:space:]", " \t\n\r\f\v")
    )
    s = (
        s.replace("[:blank:]", " \t")
        .replace("[:punct:]", "!-/:-@[-`{-~")
        .replace("[:xdigit:]", "0-9A-Fa-f")
    )
    chars: list[str] = []
    i = 0
    raw = []
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            d = s[i + 1]
            m = re.match(r"[0-7]{1,3}", s[i + 1 :])
            if m:
                raw.append(chr(int(m.group(0), 8)))
                i += 1 + len(m.group(0))
                continue
            raw.append(
                {
                    "n": "\n",
                    "t": "\t",
                    "r": "\r",
                    "\\": "\\",
                    "a": "\a",
                    "b": "\b",
                    "f": "\f",
                    "v": "\v",
                }.get(d, d)
            )
            i += 2
            continue
        raw.append(c)
        i += 1
    i = 0
    while i < len(raw):
        if i + 2 < len(raw) and raw[i + 1] == "-":
            a, b = ord(raw[i]), ord(raw[i + 2])
            chars.extend(chr(x) for x in range(a, b + 1))
            i += 3
        elif raw[i] == "[" and i + 3 < len(raw) and raw[i + 2] == "*" and "]" in raw[i + 3 :]:
            j = raw.index("]", i + 3)
            n = "".join(raw[i + 3 : j])
            chars.extend(raw[i + 1] * (int(n) if n else 0 or 1))
            i = j + 1
        else:
            chars.append(raw[i])
            i += 1
    return chars


@command("tr")
def tr(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, sets = parse_opts(
            args[1:], "cdsCt", {"delete": "d", "squeeze-repeats": "s", "complement": "c"}
        )
    except UsageError as e:
        yield _usage("tr", e)
        return 1
    if not sets:
        yield (2, b"tr: missing operand\n")
        return 1
    s1 = _tr_set(sets[0])
    s2 = _tr_set(sets[1]) if len(sets) > 1 else []
    comp = "c" in opts or "C" in opts
    in1 = set(s1)
    if "d" in opts:
        sq = set(s2)
        for chunk in inp.chunks():
            s = dec(chunk)
            out = [c for c in s if (c in in1) == comp]
            if "s" in opts:
                res: list[str] = []
                for c in out:
                    if res and res[-1] == c and c in sq:
                        continue
                    res.append(c)
                out = res
            yield (1, enc("".join(out)))
        return 0
    table: dict[str, str] = {}
    if s2:
        if "t" in opts:
            s1 = s1[: len(s2)]
        if comp:
            last = s2[-1]
            table = {}
        else:
            for i, c in enumerate(s1):
                table[c] = s2[i] if i < len(s2) else s2[-1]
    sqset = set(s2) if s2 else in1
    prev = ""
    for chunk in inp.chunks():
        s = dec(chunk)
        out = []
        for c in s:
            if comp and s2:
                o = c if c in in1 else last
            else:
                o = table.get(c, c)
            if "s" in opts and o == prev and (o in sqset if s2 else (c in in1) != comp):
                continue
            out.append(o)
            prev = o
        yield (1, enc("".join(out)))
    return 0


def _fmt_num(v: float, fmt: str | None, width: int, prec: int) -> str:
    if fmt:
        return fmt % v
    s = f"{v:.{prec}f}" if prec else str(int(v))
    return s.zfill(width) if width else s


@command("seq")
def seq(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    sep, fmt, eq = "\n", None, False
    nums: list[str] = []
    i = 0
    while i < len(a):
        x = a[i]
        if x in ("-s", "-f") and i + 1 < len(a):
            if x == "-s":
                sep = a[i + 1]
            else:
                fmt = a[i + 1]
            i += 2
            continue
        if x.startswith("-s") and len(x) > 2:
            sep = x[2:]
        elif x == "-w":
            eq = True
        else:
            nums.append(x)
        i += 1
    try:
        vals = [float(n) for n in nums]
    except ValueError:
        yield (2, enc(f"seq: invalid floating point argument: '{nums[0]}'\n"))
        return 1
    if not 1 <= len(vals) <= 3:
        yield (2, b"seq: missing operand\n")
        return 1
    first, step, last = (
        (1.0, 1.0, vals[0])
        if len(vals) == 1
        else (vals[0], 1.0, vals[1])
        if len(vals) == 2
        else tuple(vals)
    )
    prec = max((len(n.split(".")[1]) if "." in n else 0) for n in nums)
    width = (
        max(len(_fmt_num(first, None, 0, prec)), len(_fmt_num(last, None, 0, prec))) if eq else 0
    )
    if step == 0:
        yield (2, b"seq: invalid Zero increment value: '0'\n")
        return 1
    k = 0
    buf: list[str] = []
    while True:
        v = first + k * step
        if (step > 0 and v > last + 1e-9) or (step < 0 and v < last - 1e-9):
            break
        buf.append(_fmt_num(v, fmt, width, prec))
        k += 1
        if len(buf) >= 1024:
            yield (1, enc(sep.join(buf) + sep))
            buf = []
    if buf:
        yield (1, enc(sep.join(buf) + "\n"))
    elif k:
        pass
    if k and not buf and sep != "\n":
        pass
    return 0


@command("yes")
def yes(sh: Any, args: list[str], inp: Input) -> Gen:
    line = enc((" ".join(args[1:]) if len(args) > 1 else "y") + "\n")
    chunk = line * max(1, 4096 // len(line))
    while True:
        sh.budget.tick()
        yield (1, chunk)


@command("rev")
def rev(sh: Any, args: list[str], inp: Input) -> Gen:
    for _name, src in inputs(sh, args[1:], inp):
        if isinstance(src, str):
            yield (2, enc(f"rev: {src}\n"))
            continue
        for line in src.lines():
            nl = line.endswith(b"\n")
            yield (1, enc(dec(line.rstrip(b"\n"))[::-1]) + (b"\n" if nl else b""))
    return 0


@command("tac")
def tac(sh: Any, args: list[str], inp: Input) -> Gen:
    st = 0
    for _name, src in inputs(sh, args[1:], inp):
        if isinstance(src, str):
            yield (2, enc(f"tac: {src}\n"))
            st = 1
            continue
        lines = src.read_all().splitlines(keepends=True)
        if lines and not lines[-1].endswith(b"\n"):
            lines[-1] += b""
        yield (1, b"".join(reversed(lines)))
    return st


@command("nl")
def nl(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(args[1:], "b:w:s:v:i:n:")
    except UsageError as e:
        yield _usage("nl", e)
        return 1
    style = opts.get("b", "t")
    w = int(opts.get("w", 6))
    sep = opts.get("s", "\t")
    n = int(opts.get("v", 1))
    inc = int(opts.get("i", 1))
    fmt = opts.get("n", "rn")
    for _name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield (2, enc(f"nl: {src}\n"))
            continue
        for line in src.lines():
            body = line.rstrip(b"\n")
            if style == "a" or (style == "t" and body.strip()):
                num = str(n)
                num = num.ljust(w) if fmt == "ln" else num.zfill(w) if fmt == "rz" else num.rjust(w)
                yield (1, enc(num + sep) + body + b"\n")
                n += inc
            else:
                yield (
                    1,
                    b" " * (w + len(sep)) + body + b"\n"
                    if False
                    else enc(" " * w + " " * 0) + (b"" if not body else b"") + b"\n"
                    if not body
                    else body + b"\n",
                )
    return 0


@command("paste")
def paste(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(args[1:], "d:s", {"delimiters": "d:", "serial": "s"})
    except UsageError as e:
        yield _usage("paste", e)
        return 1
    delims = opts.get("d", "\t").replace("\\n", "\n").replace("\\t", "\t") or ""
    cols: list[list[str]] = []
    for name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield (2, enc(f"paste: {src}\n"))
            return 1
        cols.append([dec(x) for x in split_lines(src.read_all() if name != "-" or True else b"")])

    def join(items: list[str]) -> str:
        if not delims:
            return "".join(items)
        out = items[0] if items else ""
        for i, it in enumerate(items[1:]):
            out += delims[i % len(delims)] + it
        return out

    if "s" in opts:
        for c in cols:
            yield (1, enc(join(c) + "\n"))
        return 0
    n = max((len(c) for c in cols), default=0)
    for i in range(n):
        yield (1, enc(join([c[i] if i < len(c) else "" for c in cols]) + "\n"))
    return 0


class _FdWriter:
    """tee to /dev/stdout or /dev/stderr: never touch the host's real descriptors."""

    def __init__(self, err: bool) -> None:
        self.fd = 2 if err else 1
        self.pending: list[bytes] = []

    def write(self, b: bytes) -> None:
        self.pending.append(b)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@command("tee")
def tee(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(args[1:], "ai", {"append": "a"})
    except UsageError as e:
        yield _usage("tee", e)
        return 1
    fs = []
    st = 0
    for f in files:
        try:
            if f in ("/dev/stdout", "/dev/fd/1", "/dev/stderr", "/dev/fd/2"):
                fs.append(_FdWriter(f.endswith(("stderr", "2"))))
                continue
            fs.append(open(sh.resolve(f), "ab" if "a" in opts else "wb"))
        except OSError as e:
            yield (2, enc(f"tee: {f}: {e.strerror}\n"))
            st = 1
    try:
        for chunk in inp.chunks():
            for f in fs:
                f.write(chunk)
                f.flush()
                if isinstance(f, _FdWriter):
                    while f.pending:
                        yield (f.fd, f.pending.pop(0))
            yield (1, chunk)
    finally:
        for f in fs:
            f.close()
    return st


def _basenc(
    name: str,
    encode: Callable[[bytes], bytes],
    decode: Callable[[bytes], bytes],
    clean: Callable[[bytes, bool], bytes],
) -> Command:
    """base64 and base32: one shape (-d, -i, -w N), two alphabets."""

    def run(sh: Any, args: list[str], inp: Input) -> Gen:
        try:
            opts, files = parse_opts(
                args[1:], "diw:", {"decode": "d", "ignore-garbage": "i", "wrap": "w:"}
            )
            wrap = int(opts.get("w", 76))
        except UsageError as e:
            yield _usage(name, e)
            return 1
        except ValueError:
            yield (2, enc(f"{name}: invalid wrap size: '{opts.get('w')}'\n"))
            return 1
        data = b""
        for _name, src in inputs(sh, files, inp):
            if isinstance(src, str):
                yield (2, enc(f"{name}: {src}\n"))
                return 1
            data += src.read_all()
        if "d" in opts:
            try:
                yield (1, decode(clean(data, "i" in opts)))
            except Exception:
                yield (2, enc(f"{name}: invalid input\n"))
                return 1
            return 0
        out = encode(data)
        if wrap:
            lines = [out[i : i + wrap] for i in range(0, len(out), wrap)]
            yield (1, b"\n".join(lines) + (b"\n" if lines else b""))
        else:
            yield (1, out)
        return 0

    return run


command("base64")(
    _basenc(
        "base64",
        base64.b64encode,
        base64.b64decode,
        lambda data, _ignore: re.sub(rb"[^A-Za-z0-9+/=]", b"", data),
    )
)
command("base32")(
    _basenc(
        "base32",
        base64.b32encode,
        base64.b32decode,
        lambda data, ignore: re.sub(rb"[^A-Z2-7=]" if ignore else rb"\s", b"", data),
    )
)


@command("fold")
def fold(sh: Any, args: list[str], inp: Input) -> Gen:
    opts, files = parse_opts(_legacy_num(args[1:]) if False else args[1:], "w:bs")
    w = int(opts.get("w", 80))
    for _name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            continue
        for line in src.lines():
            s = dec(line.rstrip(b"\n"))
            while len(s) > w:
                cut = w
                if "s" in opts and " " in s[:w]:
                    cut = s[:w].rindex(" ") + 1
                yield (1, enc(s[:cut] + "\n"))
                s = s[cut:]
            yield (1, enc(s) + (b"\n" if line.endswith(b"\n") else b""))
    return 0


@command("od")
def od(sh: Any, args: list[str], inp: Input) -> Gen:
    """od with -A {d,o,x,n}, -t {x1,o1,d1,u1,c,x2,...}, -c, -x, -b."""
    try:
        opts, files = parse_opts(args[1:], "A:t:cxbvN:j:w:")
    except UsageError as e:
        yield _usage("od", e)
        return 1
    data = b""
    for _name, src in inputs(sh, files, inp):
        if isinstance(src, str):
            yield (2, enc(f"od: {src}\n"))
            return 1
        data += src.read_all()
    if "j" in opts:
        data = data[int(opts["j"]) :]
    if "N" in opts:
        data = data[: int(opts["N"])]
    types = opts.get("_t", []) or (
        ["c"] if "c" in opts else ["x2"] if "x" in opts else ["o1"] if "b" in opts else ["o2"]
    )
    radix = opts.get("A", "o")
    names = {0: "\\0", 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}

    def fmt_line(chunk: bytes, t: str) -> str:
        kind = t[0]
        size = int(t[1:]) if t[1:].isdigit() else 1
        if kind == "c" or kind == "a":
            cells = []
            for b in chunk:
                if b in names:
                    cells.append(names[b])
                elif 32 <= b < 127:
                    cells.append(chr(b))
                else:
                    cells.append(f"{b:03o}")
            return "".join(f"{c:>4}" for c in cells)
        vals = [int.from_bytes(chunk[i : i + size], "little") for i in range(0, len(chunk), size)]
        width = {
            "x": size * 2,
            "o": len(oct((1 << (8 * size)) - 1)) - 2,
            "d": len(str(1 << (8 * size))),
            "u": len(str(1 << (8 * size))),
        }[kind]
        out = []
        for v in vals:
            if kind == "x":
                s = f"{v:0{width}x}"
            elif kind == "o":
                s = f"{v:0{width}o}"
            elif kind == "d":
                if v >= 1 << (8 * size - 1):
                    v -= 1 << (8 * size)
                s = str(v).rjust(width)
            else:
                s = str(v).rjust(width)
            out.append(" " + s)
        if len(types) > 1 and size == 1 and any(x[0] in "ca" for x in types):
            out = [c.rjust(4) for c in out]
        return "".join(out)

    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        for k, t in enumerate(types):
            prefix = (
                ""
                if radix == "n"
                else (
                    " " * 7
                    if k
                    else {"o": f"{off:07o}", "d": f"{off:07d}", "x": f"{off:06x}"}[radix]
                )
            )
            lines.append(prefix + fmt_line(chunk, t))
    if radix != "n":
        lines.append(
            {"o": f"{len(data):07o}", "d": f"{len(data):07d}", "x": f"{len(data):06x}"}[radix]
        )
    yield (1, enc("".join(x + "\n" for x in lines)))
    return 0
