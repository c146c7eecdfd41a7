"""Date strings as GNU `date -d` / `touch -d` read them, and zone handling for TZ.

The parser consumes the string item by item: each item is a regex with a handler that fills in
calendar fields, a zone offset, or relative amounts (no nested grammar)."""

from __future__ import annotations

import calendar
import datetime as _dt
import os
import re
import time
from collections.abc import Callable
from typing import Any

from ..io import Gen, Input
from . import command
from .util import UsageError, enc, parse_opts

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d.lower(): i for i, d in enumerate(calendar.day_abbr)}
_UNITS = {
    "sec": 1,
    "second": 1,
    "min": 60,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "fortnight": 14 * 86400,
    "month": -1,
    "year": -12,
}
_UTC_NAMES = {"z": 0, "utc": 0, "gmt": 0, "ut": 0, "wet": 0}


def zone(name: str | None) -> _dt.tzinfo | None:
    """tzinfo for a TZ value; None means the process's local zone."""
    if name is None:
        return None
    name = name.lstrip(":")
    if name in ("", "UTC", "GMT", "UTC0", "GMT0", "Z"):
        return _dt.UTC
    m = re.fullmatch(r"([A-Za-z]{3,})([+-]?)(\d{1,2})(?::(\d\d))?", name)
    if m:  # POSIX "EST5": the offset is west of Greenwich
        off = int(m.group(3)) * 3600 + int(m.group(4) or 0) * 60
        return _dt.timezone(_dt.timedelta(seconds=off if m.group(2) == "-" else -off), m.group(1))
    try:
        import zoneinfo

        return zoneinfo.ZoneInfo(name)
    except Exception:
        return _dt.timezone(_dt.timedelta(0), name if name.isalpha() else "UTC")


def to_dt(t: float, tz: _dt.tzinfo | None) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(t, tz) if tz else _dt.datetime.fromtimestamp(t).astimezone()


class _State:
    def __init__(self) -> None:
        self.date: tuple[int, int, int] | None = None
        self.time: tuple[int, int, int, int] | None = None  # h m s ns
        self.off: int | None = None  # seconds east
        self.rel_s = 0
        self.rel_days = 0
        self.rel_months = 0
        self.weekday: int | None = None
        self.epoch: int | None = None  # ns
        self.tz: str | None = None


def _ns(frac: str | None) -> int:
    return int((frac or "").ljust(9, "0")[:9] or 0)


def _i_epoch(m: re.Match[str], s: _State) -> None:
    whole, _, frac = m.group(1).partition(".")
    sign = -1 if whole.startswith("-") else 1
    s.epoch = int(whole) * 10**9 + sign * _ns(frac)


def _i_iso(m: re.Match[str], s: _State) -> None:
    s.date = (int(m.group(1)), int(m.group(2)), int(m.group(3)))


def _i_time(m: re.Match[str], s: _State) -> None:
    h = int(m.group(1))
    ap = (m.group(5) or "").lower()
    if ap:
        h = h % 12 + (12 if ap.startswith("p") else 0)
    s.time = (h, int(m.group(2) or 0), int(m.group(3) or 0), _ns(m.group(4)))


def _i_offset(m: re.Match[str], s: _State) -> None:
    hh, mm = m.group(2), m.group(3)
    if mm is None and len(hh) > 2:
        hh, mm = hh[:-2], hh[-2:]
    off = int(hh or 0) * 3600 + int(mm or 0) * 60
    s.off = -off if m.group(1) == "-" else off


def _i_zone(m: re.Match[str], s: _State) -> None:
    name = m.group(1).lower()
    if name in _UTC_NAMES:
        s.off = 0
    # other abbreviations (CET, CEST, PDT...) are read as the local zone's own


def _i_monthname(m: re.Match[str], s: _State) -> None:
    """'Aug 26 2020', 'Aug 26', '26 Aug 2020'."""
    g = m.groupdict()
    mon = _MONTHS[g["mon"][:3].lower()]
    day = int(g["d1"] or g["d2"] or 1)
    year = int(g["y"]) if g.get("y") else None
    s.date = (year or -1, mon, day)


def _i_weekday(m: re.Match[str], s: _State) -> None:
    s.weekday = _DAYS[m.group(1)[:3].lower()]


def _i_rel(m: re.Match[str], s: _State) -> None:
    n = m.group(1)
    word = {"next": "1", "last": "-1", "this": "0", "a": "1", "an": "1"}.get((n or "").lower())
    num = int((word or n or "1").replace(" ", ""))
    unit = m.group(2).lower().rstrip("s") if m.group(2).lower() != "secs" else "sec"
    if m.group(3):
        num = -num
    mult = _UNITS[unit]
    if mult < 0:
        s.rel_months += num * -mult
    elif mult >= 86400:
        s.rel_days += num * mult // 86400
    else:
        s.rel_s += num * mult


def _i_word(m: re.Match[str], s: _State) -> None:
    w = m.group(1).lower()
    s.rel_days += {"yesterday": -1, "tomorrow": 1}.get(w, 0)
    if w in ("today", "now"):
        return
    if w in ("midnight",):
        s.time = (0, 0, 0, 0)
    if w == "noon":
        s.time = (12, 0, 0, 0)


def _i_year(m: re.Match[str], s: _State) -> None:
    if s.date and s.date[0] == -1:
        s.date = (int(m.group(1)), s.date[1], s.date[2])
    elif s.time and not s.date:
        s.date = (int(m.group(1)), -1, -1)
    else:
        raise ValueError("number")


def _i_slash(m: re.Match[str], s: _State) -> None:
    y = m.group(3)
    year = int(y) if y else -1
    if y and len(y) == 2:
        year += 1900 if year >= 69 else 2000
    s.date = (year, int(m.group(1)), int(m.group(2)))


_UNIT_RX = r"(sec(?:ond)?s?|min(?:ute)?s?|hours?|days?|weeks?|fortnights?|months?|years?)"
_ITEMS: list[tuple[re.Pattern[str], Callable[[re.Match[str], _State], None]]] = [
    (re.compile(r"@([+-]?\d+(?:\.\d+)?)\b"), _i_epoch),
    (re.compile(r"(\d{4})-(\d\d?)-(\d\d?)(?=T|\s|$)T?"), _i_iso),
    (re.compile(r"(\d\d?)/(\d\d?)(?:/(\d{4}|\d\d))?\b"), _i_slash),
    (
        re.compile(
            r"(\d\d?):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d:])", re.I
        ),
        _i_time,
    ),
    (
        re.compile(r"([+-])\s*(\d{1,4})(?:\s*:\s*(\d\d?))?(?!\s*" + _UNIT_RX + ")(?=\\s|$)", re.I),
        _i_offset,
    ),
    (
        re.compile(r"(next|last|this|an?|[+-]?\s*\d+)?\s*" + _UNIT_RX + r"(\s+ago)?\b", re.I),
        _i_rel,
    ),
    (re.compile(r"(now|today|yesterday|tomorrow|midnight|noon)\b", re.I), _i_word),
    (
        re.compile(
            r"(?:(?P<d2>\d\d?)\s*)?(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
            r"(?:\s+(?P<d1>\d\d?)\b)?(?:,?\s+(?P<y>\d{4})\b)?",
            re.I,
        ),
        _i_monthname,
    ),
    (re.compile(r"(sun|mon|tue|wed|thu|fri|sat)[a-z]*\b,?", re.I), _i_weekday),
    (re.compile(r"(z|utc|gmt|ut|[a-z]{3,5}t)\b", re.I), _i_zone),
    (re.compile(r"(\d{4})\b"), _i_year),
]


def parse_date(text: str, now: float, tz: str | None = None) -> float:
    """Seconds since the epoch for a GNU date string; raises ValueError when it cannot be read."""
    return parse_ns(text, now, tz) / 1e9


def parse_ns(text: str, now: float, tz: str | None = None) -> int:
    """parse_date in integer nanoseconds."""
    s = _State()
    rest = text.strip()
    m = re.match(r'TZ="([^"]*)"\s*', rest)
    if m:
        tz = m.group(1)
        rest = rest[m.end() :]
    while rest:
        for rx, fn in _ITEMS:
            m = rx.match(rest)
            if m and m.end():
                fn(m, s)
                rest = rest[m.end() :].lstrip(" \t,")
                break
        else:
            raise ValueError(text)
    if s.epoch is not None:
        return s.epoch + (s.rel_s + s.rel_days * 86400) * 10**9
    tzi = zone(tz)
    cur = to_dt(now, tzi)
    y, mo, d = s.date or (cur.year, cur.month, cur.day)
    y = cur.year if y == -1 else y
    mo = cur.month if mo == -1 else mo
    d = cur.day if d == -1 else d
    if s.time:
        h, mi, sec, ns = s.time
    elif s.date or s.weekday is not None:
        h = mi = sec = ns = 0
    else:
        h, mi, sec, ns = cur.hour, cur.minute, cur.second, cur.microsecond * 1000
    mo += s.rel_months
    y += (mo - 1) // 12
    mo = (mo - 1) % 12 + 1
    if not (1 <= d <= 31 and 0 <= h <= 24 and mi < 60 and sec <= 60):
        raise ValueError(text)
    base = _dt.datetime(y, mo, 1) + _dt.timedelta(days=d - 1 + s.rel_days)
    if s.weekday is not None:
        base += _dt.timedelta(days=(s.weekday - base.weekday()) % 7)
    wall = base.replace(hour=0) + _dt.timedelta(hours=h, minutes=mi, seconds=sec)
    if s.off is not None:
        t = calendar.timegm(wall.timetuple()) - s.off
    elif tzi is not None:
        t = int(wall.replace(tzinfo=tzi).timestamp())
    else:
        t = int(wall.timestamp())
    return (t + s.rel_s) * 10**9 + ns


def parse_any(sh: Any, text: str, now: float) -> int:
    return parse_ns(text, now, sh.get_str("TZ"))


def _posix_stamp(v: str, now: float, tz: str | None) -> int:
    """touch -t [[CC]YY]MMDDhhmm[.ss]."""
    m = re.fullmatch(r"(\d{8}|\d{10}|\d{12})(?:\.(\d\d))?", v)
    if not m:
        raise ValueError(v)
    d = m.group(1)
    cur = to_dt(now, zone(tz))
    if len(d) == 12:
        y, d = int(d[:4]), d[4:]
    elif len(d) == 10:
        y, d = int(d[:2]), d[2:]
        y += 1900 if y >= 69 else 2000
    else:
        y = cur.year
    stamp = f"{y:04d}-{d[0:2]}-{d[2:4]} {d[4:6]}:{d[6:8]}:{m.group(2) or '00'}"
    return parse_ns(stamp, now, tz)


@command("touch")
def touch(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, paths = parse_opts(
            args[1:],
            "acmhfd:r:t:",
            {
                "no-create": "c",
                "date": "d:",
                "reference": "r:",
                "no-dereference": "h",
                "time": "T:",
            },
        )
    except UsageError as e:
        yield (2, enc(f"touch: {e}\n"))
        return 1
    if not paths:
        yield (2, b"touch: missing file operand\n")
        return 1
    now = time.time()
    tz = sh.get_str("TZ")
    try:
        if "r" in opts:
            rs = os.stat(sh.resolve(opts["r"]))
            at, mt = rs.st_atime_ns, rs.st_mtime_ns
        else:
            if "d" in opts:
                at = parse_ns(opts["d"], now, tz)
            elif "t" in opts:
                at = _posix_stamp(opts["t"], now, tz)
            else:
                at = time.time_ns()
            mt = at
    except ValueError:
        yield (2, enc(f"touch: invalid date format '{opts.get('d') or opts.get('t')}'\n"))
        return 1
    except OSError as e:
        yield (2, enc(f"touch: failed to get attributes of '{opts['r']}': {e.strerror}\n"))
        return 1
    only_a = "a" in opts
    only_m = "m" in opts
    st = 0
    for p in paths:
        if p == "-":
            continue
        full = sh.resolve(p)
        try:
            if not os.path.lexists(full):
                if "c" in opts or "h" in opts:
                    continue
                open(full, "ab").close()
            cur = os.lstat(full) if "h" in opts else os.stat(full)
            a = cur.st_atime_ns if only_m and not only_a else at
            m = cur.st_mtime_ns if only_a and not only_m else mt
            os.utime(full, ns=(a, m), follow_symlinks="h" not in opts)
        except OSError as e:
            yield (2, enc(f"touch: cannot touch '{p}': {e.strerror}\n"))
            st = 1
    return st


def _strftime(fmt: str, d: _dt.datetime, ns: int) -> str:
    """strftime plus GNU's %N/%-N/%3N, %s, %:z, %P and a literal trailing %."""
    out = []
    for m in re.finditer(r"%([-_0^#]?)(\d*)(:{0,3}[a-zA-Z%]|$)|[^%]+", fmt):
        if not m.group(0).startswith("%"):
            out.append(m.group(0))
            continue
        flag, width, k = m.group(1), m.group(2), m.group(3)
        if k == "":
            out.append("%")
        elif k == "N":
            out.append(f"{ns:09d}"[: int(width)] if width else f"{ns:09d}")
        elif k == "s":
            out.append(str(int(d.timestamp())))
        elif k == "P":
            out.append(d.strftime("%p").lower())
        elif k.startswith(":"):
            z = d.strftime("%z")
            out.append(
                {":z": z[:3] + ":" + z[3:], "::z": z[:3] + ":" + z[3:] + ":00"}.get(k, z[:3])
            )
        elif k == "%":
            out.append("%")
        else:
            v = d.strftime("%" + k)
            if flag == "-":
                v = v.lstrip("0 ") or "0"
            elif flag == "_":
                v = re.sub(r"^0", " ", v) if v[:1] == "0" and len(v) > 1 else v
            elif flag == "^":
                v = v.upper()
            if width:
                v = v.rjust(int(width), " " if flag == "_" else "0" if v.isdigit() else " ")
            out.append(v)
    return "".join(out)


_ISO = {
    "date": "%Y-%m-%d",
    "hours": "%Y-%m-%dT%H%:z",
    "minutes": "%Y-%m-%dT%H:%M%:z",
    "seconds": "%Y-%m-%dT%H:%M:%S%:z",
    "ns": "%Y-%m-%dT%H:%M:%S,%N%:z",
}


def _iso_kind(v: str) -> str:
    v = v or "date"
    for k in _ISO:
        if k.startswith(v):
            return k
    raise ValueError(v)


@command("date")
def date(sh: Any, args: list[str], inp: Input) -> Gen:
    fmt = "%a %b %e %H:%M:%S %Z %Y"
    tz = sh.get_str("TZ")
    a = args[1:]
    when: str | None = None
    ref: str | None = None
    i = 0
    while i < len(a):
        x = a[i]
        i += 1
        long = {"--utc": "-u", "--universal": "-u", "--date": "-d", "--reference": "-r"}
        if "=" in x and x.startswith("--"):
            k, v = x.split("=", 1)
            if k in ("--date", "--reference"):
                a.insert(i, v)
                x = k
            elif k in ("--iso-8601",):
                x = "-I" + v
        x = long.get(x, x)
        if x.startswith("+"):
            fmt = x[1:]
        elif x == "-u":
            tz = "UTC"
        elif x in ("-d", "-r") and i < len(a):
            if x == "-d":
                when = a[i]
            else:
                ref = a[i]
            i += 1
        elif x.startswith("-I") or x == "--iso-8601":
            try:
                fmt = _ISO[_iso_kind(x[2:] if x.startswith("-I") else "")]
            except ValueError:
                yield (2, enc(f"date: invalid argument '{x[2:]}' for '--iso-8601'\n"))
                return 1
        elif x in ("-R", "--rfc-email"):
            fmt = "%a, %d %b %Y %H:%M:%S %z"
        elif x.startswith("-d") and len(x) > 2:
            when = x[2:]
        elif x.startswith("-u") and len(x) > 2 and x[2] in "dr":
            tz = "UTC"
            a.insert(i, "-" + x[2:])
        else:
            yield (
                2,
                enc(
                    f"date: invalid date '{x}'\n"
                    if not x.startswith("-")
                    else f"date: invalid option -- '{x[1:]}'\n"
                ),
            )
            return 1
    now = time.time_ns()
    if ref is not None:
        try:
            now = os.stat(sh.resolve(ref)).st_mtime_ns
        except OSError as e:
            yield (2, enc(f"date: {ref}: {e.strerror}\n"))
            return 1
    if when is not None:
        try:
            now = parse_ns(when, now / 1e9, tz)
        except (ValueError, OverflowError):
            yield (2, enc(f"date: invalid date '{when}'\n"))
            return 1
    secs, ns = divmod(now, 10**9)
    try:
        d = to_dt(secs, zone(tz))
    except (ValueError, OverflowError, OSError):
        yield (2, enc(f"date: invalid date '{when}'\n"))
        return 1
    yield (1, enc(_strftime(fmt, d, ns) + "\n"))
    return 0
