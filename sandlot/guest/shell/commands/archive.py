"""Archives and binary inspection: tar gzip gunzip zcat zip unzip xxd file (GNU-style options)."""

from __future__ import annotations

import gzip as _gzip
import io
import os
import re
import stat
import tarfile
import time
import zipfile
import zlib
from typing import Any

from ..io import Gen, Input
from .more import _err, _usage, cmd
from .util import UsageError, dec, enc, open_input, parse_opts


# ------------------------------------------------------------------ gzip
def _gz_compress(data: bytes, level: int, name: str = "", mtime: int = 0) -> bytes:
    buf = io.BytesIO()
    with _gzip.GzipFile(
        filename=name, mode="wb", compresslevel=level, fileobj=buf, mtime=mtime
    ) as g:
        g.write(data)
    return buf.getvalue()


def _gz_decompress(data: bytes) -> bytes:
    out = []
    while data:
        if data[:2] != b"\x1f\x8b":
            if out:
                break
            raise ValueError("not in gzip format")
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out.append(d.decompress(data))
        out.append(d.flush())
        if not d.eof:
            raise ValueError("unexpected end of file")
        data = d.unused_data
    return b"".join(out)


def _gzip_main(sh: Any, args: list[str], inp: Input, mode: str) -> Gen:
    name = args[0]
    a = args[1:]
    try:
        opts, files = parse_opts(
            a,
            "cdfklnNqrStv123456789",
            {
                "stdout": "c",
                "to-stdout": "c",
                "decompress": "d",
                "uncompress": "d",
                "force": "f",
                "keep": "k",
                "list": "l",
                "quiet": "q",
                "test": "t",
                "verbose": "v",
                "best": "9",
                "fast": "1",
                "suffix:": "S:",
                "no-name": "n",
                "name": "N",
            },
        )
    except UsageError as e:
        yield _usage(name, e)
        return 1
    decomp = mode in ("gunzip", "zcat") or "d" in opts or "t" in opts
    tostdout = mode == "zcat" or "c" in opts or "t" in opts
    level = 6
    for d in "123456789":
        if d in opts:
            level = int(d)
    suffix = opts.get("S", ".gz")
    st = 0
    if not files:
        files = ["-"]
    for f in files:
        sh.budget.tick()
        try:
            if f == "-":
                data = inp.read_all()
            else:
                path = sh.resolve(f)
                if decomp and not os.path.exists(path) and os.path.exists(path + suffix):
                    f, path = f + suffix, path + suffix
                if os.path.isdir(path):
                    yield _err(name, f"{f}: Is a directory")
                    st = 1
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
        except OSError as e:
            yield _err(name, f"{f}: {e.strerror}")
            st = 1
            continue
        if decomp:
            try:
                out = _gz_decompress(data)
            except (ValueError, zlib.error, EOFError) as e:
                yield _err(name, f"{f}: {e}")
                st = 1
                continue
            if "t" in opts:
                continue
            if tostdout or f == "-":
                yield (1, out)
                continue
            if not f.endswith(suffix):
                yield _err(name, f"{f}: unknown suffix -- ignored")
                st = 1
                continue
            dest = f[: -len(suffix)]
        else:
            mt = 0
            if f != "-" and "n" not in opts:
                try:
                    mt = int(os.stat(sh.resolve(f)).st_mtime)
                except OSError:
                    mt = 0
            out = _gz_compress(
                data, level, os.path.basename(f) if f != "-" and "n" not in opts else "", mt
            )
            if tostdout or f == "-":
                yield (1, out)
                continue
            if f.endswith(suffix) and "f" not in opts:
                yield _err(name, f"{f} already has {suffix} suffix -- unchanged")
                st = 1
                continue
            dest = f + suffix
        dpath = sh.resolve(dest)
        if os.path.exists(dpath) and "f" not in opts:
            yield _err(name, f"{dest} already exists; not overwritten")
            st = 1
            continue
        src_stat = os.stat(sh.resolve(f))
        with open(dpath, "wb") as fh:
            fh.write(out)
        try:
            os.chmod(dpath, stat.S_IMODE(src_stat.st_mode))
            os.utime(dpath, (src_stat.st_atime, src_stat.st_mtime))
        except OSError:
            pass
        if "v" in opts:
            ratio = 100 - (len(out) * 100 // max(1, len(data))) if not decomp else 0
            yield (2, enc(f"{f}:\t{ratio:.1f}% -- replaced with {dest}\n"))
        if "k" not in opts:
            os.remove(sh.resolve(f))
    return st


@cmd("gzip")
def gzip_cmd(sh: Any, args: list[str], inp: Input) -> Gen:
    return (yield from _gzip_main(sh, args, inp, "gzip"))


@cmd("gunzip")
def gunzip_cmd(sh: Any, args: list[str], inp: Input) -> Gen:
    return (yield from _gzip_main(sh, args, inp, "gunzip"))


@cmd("zcat")
def zcat_cmd(sh: Any, args: list[str], inp: Input) -> Gen:
    return (yield from _gzip_main(sh, args, inp, "zcat"))


# ------------------------------------------------------------------ tar
def _mode_str(ti: tarfile.TarInfo) -> str:
    t = {
        tarfile.DIRTYPE: "d",
        tarfile.SYMTYPE: "l",
        tarfile.LNKTYPE: "h",
        tarfile.CHRTYPE: "c",
        tarfile.BLKTYPE: "b",
        tarfile.FIFOTYPE: "p",
    }.get(ti.type, "-")
    return (t if t != "h" else "h") + stat.filemode(ti.mode)[1:]


@cmd("tar")
def tar(sh: Any, args: list[str], inp: Input) -> Gen:
    a = args[1:]
    if a and not a[0].startswith("-") and re.fullmatch(r"[A-Za-z]+", a[0]):
        # old-style bundled options: "czvf out.tgz dir"
        first = a[0]
        rest = a[1:]
        expanded = []
        for c in first:
            expanded.append("-" + c)
            if c in "fCTX" and rest:
                expanded.append(rest.pop(0))
        a = expanded + rest
    longs = {
        "create": "c",
        "extract": "x",
        "get": "x",
        "list": "t",
        "append": "r",
        "verbose": "v",
        "file": "f:",
        "directory": "C:",
        "gzip": "z",
        "gunzip": "z",
        "ungzip": "z",
        "bzip2": "j",
        "xz": "J",
        "auto-compress": "a",
        "to-stdout": "O",
        "keep-old-files": "k",
        "dereference": "h",
        "preserve-permissions": "p",
        "same-permissions": "p",
        "absolute-names": "P",
        "files-from": "T:",
        "exclude-from": "X:",
        "exclude": "E:",
        "strip-components": "s:",
        "strip": "s:",
        "no-same-owner": "o",
        "touch": "m",
        "owner": "U:",
        "group": "G:",
        "mtime": "M:",
        "null": "0",
        "overwrite": "W",
        "numeric-owner": "n",
        "no-recursion": "R",
        "recursion": "8",
        "wildcards": "w",
        "no-wildcards": "9",
        "sort": "S:",
        "mode": "D:",
        "use-compress-program": "I:",
        "one-file-system": "1",
        "xform": "3:",
        "transform": "3:",
        "full-time": "4",
        "show-transformed-names": "5",
        "show-stored-names": "6",
        "sparse": "S",
        "format": "H:",
        "no-same-permissions": "2",
    }
    # options that may repeat: collect every value (parse_opts keeps a long option's last)
    repeats: dict[str, list[str]] = {"3": [], "E": []}
    rest_a: list[str] = []
    k = 0
    while k < len(a):
        arg = a[k]
        k += 1
        if arg == "--":
            rest_a += a[k - 1 :]
            break
        nm, eq, val = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        key = longs.get(nm, "") if nm else ""
        if key in ("3:", "E:"):
            if not eq and k < len(a):
                val = a[k]
                k += 1
            repeats[key[0]].append(val)
            continue
        rest_a.append(arg)
    a = rest_a
    try:
        opts, files = parse_opts(a, "cxtrvf:C:zjJaOkhpPT:X:mI:oSH:", longs)
    except UsageError as e:
        yield _usage("tar", e)
        return 2
    from .tarfmt import Transform, Writer, finish, owner_spec

    transform = Transform()
    try:
        for t in repeats["3"]:
            transform.add(t)
    except (ValueError, re.error) as e:
        yield (2, enc(f"tar: {e}\n"))
        return 2
    mode = (
        "c"
        if "c" in opts
        else "x"
        if "x" in opts
        else "t"
        if "t" in opts
        else "r"
        if "r" in opts
        else None
    )
    if mode is None:
        yield (
            2,
            b"tar: You must specify one of the '-Acdtrux', '--delete' or '--test-label' options\n"
            b"Try 'tar --help' or 'tar --usage' for more information.\n",
        )
        return 2
    archive = opts.get("f", "-")
    base = sh.resolve(opts.get("C", "."))
    comp = ""
    prog = os.path.basename(opts.get("I", "").split(" ")[0])
    if "z" in opts or prog in ("gzip", "pigz"):
        comp = "gz"
    elif "j" in opts or prog in ("bzip2", "lbzip2", "pbzip2"):
        comp = "bz2"
    elif "J" in opts or prog == "xz":
        comp = "xz"
    elif "a" in opts or mode == "c":
        if archive.endswith((".tgz", ".tar.gz")):
            comp = "gz" if ("a" in opts) else comp
        elif archive.endswith((".tbz2", ".tar.bz2")) and "a" in opts:
            comp = "bz2"
    verbose = opts.get("v", 0)
    excludes = list(opts.get("_E", [])) + repeats["E"]
    strip = int(opts.get("s", "0"))
    if "T" in opts:
        try:
            data = dec(open_input(sh, opts["T"], inp).read_all())
        except OSError as e:
            yield _err("tar", str(e))
            return 2
        files += [x for x in (data.split("\0") if "0" in opts else data.split("\n")) if x]

    def excluded(n: str) -> bool:
        import fnmatch

        if "9" in opts:
            return any(n == p or n.endswith("/" + p) for p in excludes)
        return any(
            fnmatch.fnmatch(n, p) or fnmatch.fnmatch(os.path.basename(n), p) for p in excludes
        )

    if mode in ("c", "r"):
        if not files and mode == "c" and "T" not in opts:
            yield (
                2,
                b"tar: Cowardly refusing to create an empty archive\n"
                b"Try 'tar --help' or 'tar --usage' for more information.\n",
            )
            return 2
        chunks: list[bytes] = []
        if mode == "r" and archive != "-":
            try:
                with open(sh.resolve(archive), "rb") as fh:
                    old = fh.read()
                chunks.append(_tar_body(old))
            except OSError:
                pass
        owner = group = None
        for key, grp_ in (("U", False), ("G", True)):
            if key in opts:
                spec = owner_spec(opts[key], grp_)
                if spec is None:
                    what = "group" if grp_ else "owner"
                    yield (2, enc(f"tar: '{opts[key]}': Invalid {what}\n"))
                    return 2
                if grp_:
                    group = spec
                else:
                    owner = spec
        mtime = None
        if "M" in opts:
            mt = opts["M"]
            if mt.startswith("@") and mt[1:].lstrip("-").isdigit():
                mtime = int(mt[1:])
            elif os.path.exists(sh.resolve(mt)):
                mtime = int(os.stat(sh.resolve(mt)).st_mtime)
            else:
                from .dates import parse_date

                try:
                    mtime = int(parse_date(mt, time.time(), sh.get_str("TZ")))
                except Exception:
                    yield (
                        2,
                        enc(
                            f"tar: Substituting -9223372036854775807 for unknown date "
                            f"format '{mt}'\n"
                        ),
                    )
                    mtime = 0
        mode_fn = None
        if "D" in opts:
            from .modes import apply_mode

            spec_m = opts["D"]

            def mode_fn(perm: int, isdir: bool) -> int:
                return apply_mode(spec_m, perm, isdir, 0)

            try:
                mode_fn(0o644, False)
            except ValueError:
                yield (2, enc(f"tar: Invalid mode given on option: {spec_m}\n"))
                return 2
        msgs: list[bytes] = []

        def on_entry(e: dict[str, Any]) -> None:
            if verbose > 1:
                msgs.append(enc(_long_entry(e, "4" in opts, sh.get_str("TZ")) + "\n"))
            elif verbose:
                msgs.append(enc(e["name"] + "\n"))

        w = Writer(
            lambda p: os.path.join(base, p),
            sh.budget.tick,
            owner=owner,
            group=group,
            mtime=mtime,
            mode=mode_fn,
            recursive="R" not in opts,
            dereference="h" in opts,
            transform=transform,
            excluded=excluded,
            sort_names=opts.get("S") == "name",
            on_entry=on_entry,
            numeric="n" in opts,
        )
        removed: set[str] = set()
        st = 0
        for f in files:
            arc = _normalize_name(f)
            if "P" not in opts:
                prefix, arc = _safer_name(arc)
                if prefix and prefix not in removed:
                    removed.add(prefix)
                    yield (2, enc(f"tar: Removing leading `{prefix}' from member names\n"))
            if excluded(arc):
                continue
            chunks.extend(w.add(f, arc))
            if msgs and archive != "-":
                yield (1, b"".join(msgs))
                msgs.clear()
            elif msgs:
                yield (2, b"".join(msgs))
                msgs.clear()
            for e in w.errors:
                yield (2, enc(f"tar: {e}\n"))
                st = 2
            w.errors.clear()
        n = sum(len(c) for c in chunks)
        chunks.append(finish(n))
        raw = b"".join(chunks)
        if comp == "gz":
            raw = _gz_compress(raw, 6)
        elif comp == "bz2":
            import bz2

            raw = bz2.compress(raw)
        elif comp == "xz":
            import lzma

            raw = lzma.compress(raw)
        if archive == "-":
            yield (1, raw)
        else:
            try:
                with open(sh.resolve(archive), "wb") as fh:
                    fh.write(raw)
            except OSError as e:
                yield (2, enc(f"tar: {archive}: Cannot open: {e.strerror}\n"))
                return 2
        if st:
            yield (2, b"tar: Exiting with failure status due to previous errors\n")
        return st

    # read modes
    try:
        raw = inp.read_all() if archive == "-" else open(sh.resolve(archive), "rb").read()
    except OSError as e:
        yield (
            2,
            enc(
                f"tar: {archive}: Cannot open: {e.strerror}\n"
                "tar: Error is not recoverable: exiting now\n"
            ),
        )
        return 2
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = _gz_decompress(raw)
        elif raw[:3] == b"BZh":
            import bz2

            raw = bz2.decompress(raw)
        elif raw[:6] == b"\xfd7zXZ\x00":
            import lzma

            raw = lzma.decompress(raw)
        tf = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
    except Exception:
        yield (
            2,
            b"tar: This does not look like a tar archive\n"
            b"tar: Exiting with failure status due to previous errors\n",
        )
        return 2
    members = tf.getmembers()
    tz = sh.get_str("TZ")
    umask = 0 if "p" in opts else getattr(sh, "umask", 0o022)
    wanted = files
    st = 0
    seen = set()

    def match(n: str) -> bool:
        if not wanted:
            return True
        import fnmatch

        for w in wanted:
            w2 = w.rstrip("/")
            if n == w2 or n.startswith(w2 + "/") or fnmatch.fnmatch(n, w2):
                seen.add(w)
                return True
        return False

    out: list[bytes] = []
    dir_times: list[tuple[str, int, int]] = []
    for m in members:
        sh.budget.tick()
        if not match(m.name) or excluded(m.name):
            continue
        isdir = m.isdir()
        core = m.name.rstrip("/") if isdir else m.name
        if strip:
            parts = core.split("/")
            if len(parts) <= strip:
                continue
            core = "/".join(parts[strip:])
        link = m.linkname
        if m.islnk() and strip:
            lparts = link.split("/")
            link = "/".join(lparts[strip:]) if len(lparts) > strip else link
        if transform:
            core = transform.apply(core, "r")
            if m.issym():
                link = transform.apply(link, "s")
            elif m.islnk():
                link = transform.apply(link, "h")
        name = core + ("/" if isdir and core and not core.endswith("/") else "")
        if "5" in opts:
            shown, shown_link = name, link
        else:
            shown = m.name + ("/" if isdir and not m.name.endswith("/") else "")
            shown_link = m.linkname
        if verbose > 1 or (mode == "t" and verbose):
            out.append(enc(_long_entry(_entry(m, shown, shown_link), "4" in opts, tz) + "\n"))
        elif verbose or mode == "t":
            out.append(enc(shown + "\n"))
        if mode == "t":
            continue
        if "O" in opts:
            if m.isfile():
                f = tf.extractfile(m)
                if f:
                    out.append(f.read())
            continue
        dest = os.path.join(base, name.lstrip("/") if "P" not in opts else name)
        if ".." in name.split("/") and "P" not in opts:
            yield (2, enc(f"tar: {m.name}: Member name contains '..'\n"))
            st = 2
            continue
        try:
            if m.isdir():
                os.makedirs(dest, exist_ok=True)
                dir_times.append((dest, m.mtime, m.mode))
                try:
                    os.chmod(dest, m.mode | 0o700)
                except OSError:
                    pass
            elif m.issym():
                os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
                _clear(dest)
                os.symlink(link, dest)
            elif m.islnk():
                os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
                target = os.path.join(base, link)
                _clear(dest)
                try:
                    os.link(target, dest)
                except OSError:
                    import shutil

                    shutil.copyfile(target, dest)
            elif m.isfile():
                os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
                if "k" in opts and os.path.lexists(dest):
                    yield (2, enc(f"tar: {name}: Cannot open: File exists\n"))
                    st = 2
                    continue
                _clear(dest)
                f = tf.extractfile(m)
                with open(dest, "wb") as fh:
                    fh.write(f.read() if f else b"")
                os.chmod(dest, m.mode & 0o7777 & ~umask)
                if "m" not in opts:
                    os.utime(dest, (m.mtime, m.mtime))
            elif m.isfifo() or m.ischr() or m.isblk():
                os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
                _clear(dest)
                if m.isfifo():
                    os.mkfifo(dest, m.mode & 0o7777 & ~umask)
                else:
                    kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
                    os.mknod(dest, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor))
                    os.chmod(dest, m.mode & 0o7777 & ~umask)
                if "m" not in opts:
                    os.utime(dest, (m.mtime, m.mtime))
            else:
                continue
        except OSError as e:
            yield (2, enc(f"tar: {name}: Cannot open: {e.strerror}\n"))
            st = 2
        if len(out) > 64:
            yield (1, b"".join(out))
            out.clear()
    for d, mt, md in reversed(dir_times):
        try:
            os.chmod(d, md & 0o7777 & ~umask)
            if "m" not in opts:
                os.utime(d, (mt, mt))
        except OSError:
            pass
    if out:
        yield (1, b"".join(out))
    for w in wanted:
        if w not in seen:
            yield (2, enc(f"tar: {w}: Not found in archive\n"))
            st = 2
    if st and wanted:
        yield (2, b"tar: Exiting with failure status due to previous errors\n")
    return st


def _normalize_name(name: str) -> str:
    """Collapse repeated slashes and drop trailing ones, as GNU tar does to operands."""
    name = re.sub("/+", "/", name)
    return name.rstrip("/") or name[:1]


def _safer_name(name: str) -> tuple[str, str]:
    """GNU safer_name_suffix: the leading `/` and everything up to the last `..` go."""
    prefix_len = 0
    p = 0
    n = len(name)
    while p < n:
        if name.startswith("..", p) and (p + 2 == n or name[p + 2] == "/"):
            prefix_len = p + 2
        while p < n:
            c = name[p]
            p += 1
            if c == "/":
                break
    p = prefix_len
    while p < n and name[p] == "/":
        p += 1
    return name[:p], (name[p:] or ".")


def _tar_body(raw: bytes) -> bytes:
    """An archive without its end-of-archive zero blocks (for -r)."""
    try:
        raw = _gz_decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except Exception:
        return raw
    pos = 0
    while pos + 512 <= len(raw) and raw[pos : pos + 512] != b"\0" * 512:
        h = raw[pos : pos + 512]
        try:
            size = int(h[124:136].strip(b"\0 ") or b"0", 8)
        except ValueError:
            size = 0
        if h[156:157] in (b"1", b"2", b"3", b"4", b"5", b"6"):
            size = 0
        pos += 512 + -(-size // 512) * 512
    return raw[:pos]


def _when(t: int, full_time: bool, tz: str | None) -> str:
    from .dates import to_dt, zone

    fmt = "%Y-%m-%d %H:%M:%S" if full_time else "%Y-%m-%d %H:%M"
    try:
        return to_dt(t, zone(tz)).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return str(t)


def _long_entry(e: dict[str, Any], full_time: bool, tz: str | None = None) -> str:
    t = {b"5": "d", b"2": "l", b"1": "h", b"3": "c", b"4": "b", b"6": "p"}.get(e["type"], "-")
    owner = f"{e['uname']}/{e['gname']}"
    size = f"{e['dev'][0]},{e['dev'][1]}" if e["dev"] else str(e["size"])
    when = _when(e["mtime"], full_time, tz)
    name = e["name"]
    if e["type"] == b"2":
        name += " -> " + e["linkname"]
    elif e["type"] == b"1":
        name += " link to " + e["linkname"]
    mode = t + stat.filemode(e["mode"])[1:]
    return f"{mode} {owner} {size:>{max(1, 19 - len(owner))}} {when} {name}"


def _clear(dest: str) -> None:
    """Make way for a member: an old file goes; so does an empty directory in the way."""
    if os.path.isdir(dest) and not os.path.islink(dest):
        os.rmdir(dest)
    elif os.path.lexists(dest):
        os.remove(dest)


def _entry(m: tarfile.TarInfo, name: str, link: str) -> dict[str, Any]:
    t = m.type if m.type in (b"1", b"2", b"3", b"4", b"5", b"6") else b"0"
    return {
        "name": name,
        "type": t,
        "mode": m.mode,
        "uname": m.uname or str(m.uid),
        "gname": m.gname or str(m.gid),
        "size": m.size,
        "mtime": int(m.mtime),
        "linkname": link,
        "dev": (m.devmajor, m.devminor) if t in (b"3", b"4") else None,
    }


def _long(m: tarfile.TarInfo) -> str:
    owner = f"{m.uname or m.uid}/{m.gname or m.gid}"
    size = str(m.size)
    if m.ischr() or m.isblk():
        size = f"{m.devmajor},{m.devminor}"
    t = time.strftime("%Y-%m-%d %H:%M", time.localtime(m.mtime))
    name = m.name + ("/" if m.isdir() and not m.name.endswith("/") else "")
    if m.issym():
        name += " -> " + m.linkname
    elif m.islnk():
        name += " link to " + m.linkname
    return f"{_mode_str(m)} {owner:<s} {size:>{max(1, 19 - len(owner))}} {t} {name}"


# ------------------------------------------------------------------ zip / unzip
@cmd("zip")
def zip_cmd(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:], "rqjd0123456789mxD", {"recurse-paths": "r", "quiet": "q", "junk-paths": "j"}
        )
    except UsageError as e:
        yield _usage("zip", e)
        return 16
    if not files:
        yield (2, b"zip error: Nothing to do!\n")
        return 12
    zname = files[0]
    if not zname.endswith(".zip") and "." not in os.path.basename(zname):
        zname += ".zip"
    zpath = sh.resolve(zname)
    entries: list[tuple[str, str]] = []
    for f in files[1:]:
        p = sh.resolve(f)
        if not os.path.lexists(p):
            yield (2, enc(f"\tzip warning: name not matched: {f}\n"))
            continue
        if os.path.isdir(p):
            entries.append((p, f.rstrip("/") + "/"))
            if "r" in opts:
                for root, dirs, fs in os.walk(p):
                    dirs.sort()
                    rel = os.path.relpath(root, sh.cwd) if not os.path.isabs(f) else root
                    for d in dirs:
                        entries.append((os.path.join(root, d), os.path.join(rel, d) + "/"))
                    for x in sorted(fs):
                        entries.append((os.path.join(root, x), os.path.join(rel, x)))
        else:
            entries.append((p, os.path.basename(f) if "j" in opts else f))
    level = 6
    for d in "0123456789":
        if d in opts:
            level = int(d)
    mode = "a" if os.path.exists(zpath) else "w"
    out = []
    with zipfile.ZipFile(
        zpath,
        mode,
        compression=zipfile.ZIP_DEFLATED if level else zipfile.ZIP_STORED,
        compresslevel=level or None,
    ) as z:
        existing = set(z.namelist())
        for p, arc in entries:
            sh.budget.tick()
            arc = arc.lstrip("/")
            if "j" in opts and arc.endswith("/"):
                continue
            verb = "updating" if arc in existing else "adding"
            z.write(p, arc)
            if "q" not in opts:
                out.append(
                    f"  {verb}: {arc} (stored 0%)\n"
                    if arc.endswith("/")
                    else f"  {verb}: {arc} (deflated)\n"
                )
    if out:
        yield (1, enc("".join(out)))
    return 0


@cmd("unzip")
def unzip_cmd(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(args[1:], "lod:pqnvtjZ1", {})
    except UsageError as e:
        yield _usage("unzip", e)
        return 10
    if not files:
        yield (2, b"UnZip: usage: unzip [-opts] file[.zip] [list] [-d exdir]\n")
        return 10
    zname = files[0]
    zpath = sh.resolve(zname)
    if not os.path.exists(zpath) and os.path.exists(zpath + ".zip"):
        zpath += ".zip"
        zname += ".zip"
    try:
        z = zipfile.ZipFile(zpath)
    except (OSError, zipfile.BadZipFile):
        yield (2, enc(f"unzip:  cannot find or open {zname}, {zname}.zip or {zname}.ZIP.\n"))
        return 9
    import fnmatch

    wanted = files[1:]
    infos = [
        i for i in z.infolist() if not wanted or any(fnmatch.fnmatch(i.filename, w) for w in wanted)
    ]
    if "Z" in opts or "1" in opts:
        yield (1, enc("".join(i.filename + "\n" for i in infos)))
        return 0
    if "l" in opts:
        lines = [
            "Archive:  " + zname,
            "  Length      Date    Time    Name",
            "---------  ---------- -----   ----",
        ]
        total = 0
        for i in infos:
            y, mo, d, h, mi, _s = i.date_time
            lines.append(
                f"{i.file_size:9d}  {mo:02d}-{d:02d}-{y:04d} {h:02d}:{mi:02d}   {i.filename}"
            )
            total += i.file_size
        lines.append("---------                     -------")
        lines.append(
            f"{total:9d}                     {len(infos)} file{'s' if len(infos) != 1 else ''}"
        )
        yield (1, enc("\n".join(lines) + "\n"))
        return 0
    if "t" in opts:
        bad = z.testzip()
        if bad:
            yield (1, enc(f"At least one error was detected in {zname}.\n"))
            return 2
        yield (1, enc(f"No errors detected in compressed data of {zname}.\n"))
        return 0
    if "p" in opts:
        for i in infos:
            if not i.is_dir():
                yield (1, z.read(i))
        return 0
    dest = sh.resolve(opts.get("d", "."))
    out = [f"Archive:  {zname}\n"] if "q" not in opts else []
    st = 0
    for i in infos:
        sh.budget.tick()
        name = i.filename
        if "j" in opts:
            if i.is_dir():
                continue
            name = os.path.basename(name)
        target = os.path.normpath(os.path.join(dest, name))
        if not target.startswith(os.path.normpath(dest)):
            out.append(f'warning: skipped "../" path component(s) in {name}\n')
            continue
        if i.is_dir():
            os.makedirs(target, exist_ok=True)
            if "q" not in opts:
                out.append(f"   creating: {name}\n")
            continue
        if os.path.exists(target) and "n" in opts:
            continue
        if os.path.exists(target) and "o" not in opts:
            out.append(
                f"replace {name}? [y]es, [n]o, [A]ll, [N]one, [r]ename: NULL\n"
                f'(EOF or read error, treating as "[N]one" ...)\n'
            )
            st = 1
            break
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(z.read(i))
        perm = (i.external_attr >> 16) & 0o7777
        if perm:
            try:
                os.chmod(target, perm)
            except OSError:
                pass
        if "q" not in opts:
            out.append(f"  inflating: {name}\n" if i.compress_type else f" extracting: {name}\n")
    yield (1, enc("".join(out)))
    return st


# ------------------------------------------------------------------ xxd
@cmd("xxd")
def xxd(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "c:g:l:s:o:pirueEbC",
            {
                "cols:": "c:",
                "groupsize:": "g:",
                "len:": "l:",
                "seek:": "s:",
                "ps": "p",
                "plain": "p",
                "include": "i",
                "revert": "r",
                "uppercase": "u",
                "bits": "b",
            },
        )
    except UsageError as e:
        yield _usage("xxd", e)
        return 1
    name = files[0] if files else "-"
    try:
        data = _read_all(sh, name, inp)
    except OSError as e:
        yield (
            2,
            enc(
                f"xxd: {name}: No such file or directory\n"
                if "No such" in str(e)
                else f"xxd: {e}\n"
            ),
        )
        return 2

    def num(s: str) -> int:
        neg = s.startswith("-")
        s = s.lstrip("+-")
        v = (
            int(s, 16)
            if s.lower().startswith("0x")
            else int(s, 8)
            if s.startswith("0") and len(s) > 1
            else int(s)
        )
        return -v if neg else v

    if "r" in opts:
        out = bytearray()
        if "p" in opts:
            hexs = re.sub(rb"[^0-9a-fA-F]", b"", data)
            if len(hexs) % 2:
                hexs = hexs[:-1]
            out = bytearray(bytes.fromhex(dec(hexs)))
        else:
            for line in data.split(b"\n"):
                s = dec(line)
                m = re.match(r"\s*([0-9a-fA-F]+):?\s?(.*)", s)
                if not m:
                    continue
                off = int(m.group(1), 16)
                rest = m.group(2)
                hexpart = rest.split("  ")[0] if "  " in rest else rest
                hx = ""
                for tok in hexpart.split(" "):
                    if re.fullmatch(r"[0-9a-fA-F]*", tok):
                        hx += tok
                    else:
                        hx += re.match(r"[0-9a-fA-F]*", tok).group()  # type: ignore[union-attr]
                        break
                if len(hx) % 2:
                    hx = hx[:-1]
                chunk = bytes.fromhex(hx)
                if len(out) < off:
                    out.extend(b"\0" * (off - len(out)))
                out[off : off + len(chunk)] = chunk
        yield (1, bytes(out))
        return 0
    seek = num(opts["s"]) if "s" in opts else 0
    if seek < 0:
        seek = max(0, len(data) + seek)
    data = data[seek:]
    if "l" in opts:
        data = data[: num(opts["l"])]
    upper = "u" in opts
    hx = (lambda b: b.hex().upper()) if upper else (lambda b: b.hex())
    if "p" in opts:
        cols = int(opts.get("c", "30")) or 30
        h = hx(data)
        yield (1, enc("".join(h[i : i + cols * 2] + "\n" for i in range(0, len(h), cols * 2))))
        return 0
    if "i" in opts:
        cols = int(opts.get("c", "12"))
        parts = [f"0x{b:02X}" if upper else f"0x{b:02x}" for b in data]
        lines = [", ".join(parts[i : i + cols]) for i in range(0, len(parts), cols)]
        body = ",\n".join("  " + x for x in lines) + ("\n" if lines else "")
        if name != "-":
            var = re.sub(r"[^0-9A-Za-z]", "_", name)
            if var[:1].isdigit():
                var = "__" + var
            body = (
                f"unsigned char {var}[] = {{\n"
                + body
                + "};\n"
                + f"unsigned int {var}_len = {len(data)};\n"
            )
        yield (1, enc(body))
        return 0
    bits = "b" in opts
    cols = int(opts.get("c", "6" if bits else "16"))
    group = int(opts.get("g", "1" if bits else ("4" if "e" in opts else "2")))
    base = num(opts["o"]) if "o" in opts else 0
    base += seek
    out_lines = []
    for i in range(0, len(data), cols):
        sh.budget.tick()
        chunk = data[i : i + cols]
        groups = []
        for g in range(0, cols, group or cols):
            part = chunk[g : g + (group or cols)]
            if bits:
                s = "".join(f"{b:08b}" for b in part)
            elif "e" in opts:
                s = hx(part[::-1])
                s = s.rjust(len(chunk[g : g + group]) * 2)
            else:
                s = hx(part)
            width = (group or cols) * (8 if bits else 2)
            groups.append(
                s.ljust(width) if "e" not in opts else s.rjust(width) if part else " " * width
            )
        hexcol = " ".join(groups)
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out_lines.append(f"{base + i:08x}: {hexcol}  {asc}\n")
        if len(out_lines) >= 256:
            yield (1, enc("".join(out_lines)))
            out_lines.clear()
    yield (1, enc("".join(out_lines)))
    return 0


def _read_all(sh: Any, name: str, inp: Input) -> bytes:
    return open_input(sh, name, inp).read_all()


# ------------------------------------------------------------------ file
def describe(data: bytes, path: str | None = None) -> str:
    if not data:
        return "empty"
    if data.startswith(b"\x1f\x8b"):
        return "gzip compressed data" + (f', was "{_gzname(data)}"' if _gzname(data) else "")
    if data.startswith(b"BZh"):
        return "bzip2 compressed data, block size = " + chr(data[3]) + "00k"
    if data.startswith(b"\xfd7zXZ\x00"):
        return "XZ compressed data"
    if data.startswith(b"PK\x03\x04"):
        if len(data) >= 10:
            ver = int.from_bytes(data[4:6], "little")
            meth = int.from_bytes(data[8:10], "little")
            how = {0: "store", 8: "deflate", 12: "bzip2", 14: "lzma", 93: "zstd"}.get(
                meth, str(meth)
            )
            return (
                f"Zip archive data, at least v{ver // 10}.{ver % 10} to extract, "
                f"compression method={how}"
            )
        return "Zip archive data"
    if data.startswith(b"7z\xbc\xaf\x27\x1c") and len(data) >= 8:
        return f"7-zip archive data, version {data[6]}.{data[7]}"
    if data.startswith(b"\xca\xfe\xba\xbe") and len(data) >= 8:
        n = int.from_bytes(data[4:8], "big")
        if n < 20:
            archs = []
            for i in range(n):
                off = 8 + 20 * i
                cpu = int.from_bytes(data[off : off + 4], "big")
                archs.append(_MACHO_CPU.get(cpu, f"cputype {cpu}"))
            return (
                f"Mach-O universal binary with {n} architecture{'s' if n != 1 else ''}: "
                + " ".join(f"[{a}]" for a in archs)
            )
        minor = int.from_bytes(data[4:6], "big")
        major = int.from_bytes(data[6:8], "big")
        se = (
            f" (Java SE {major - 44})"
            if major >= 53
            else (f" (Java 1.{major - 44})" if 45 <= major < 53 else "")
        )
        return f"compiled Java class data, version {major}.{minor}{se}"
    if data.startswith(b"dex\n") and len(data) >= 8:
        return f"Dalvik dex file version {dec(data[4:7])}"
    if data.startswith(b"!<arch>\n"):
        return "current ar archive"
    if data[:6] in (b"070701", b"070702", b"070707"):
        return (
            "ASCII cpio archive "
            + {
                b"070701": "(SVR4 with no CRC)",
                b"070702": "(SVR4 with CRC)",
                b"070707": "(pre-SVR4 or odc)",
            }[data[:6]]
        )
    if data[:2] in (b"\xc7\x71", b"\x71\xc7"):
        return "cpio archive"
    if len(data) > 262 and data[257:262] == b"ustar":
        return "POSIX tar archive" + (" (GNU)" if data[257:265] == b"ustar  \x00" else "")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) >= 24:
            w = int.from_bytes(data[16:20], "big")
            h = int.from_bytes(data[20:24], "big")
            return (
                f"PNG image data, {w} x {h}, {data[24]}-bit"
                + {
                    0: " grayscale",
                    2: "/color RGB",
                    3: " colormap",
                    4: " gray+alpha",
                    6: "/color RGBA",
                }.get(data[25], "")
                + ", non-interlaced"
            )
        return "PNG image data"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG image data"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        w = int.from_bytes(data[6:8], "little")
        h = int.from_bytes(data[8:10], "little")
        return f"GIF image data, version {dec(data[3:6])}, {w} x {h}"
    if data.startswith(b"%PDF-"):
        return "PDF document, version " + dec(data[5:8])
    if data.startswith(b"\x7fELF"):
        return _elf(data)
    if data.startswith(b"\0asm"):
        return (
            "WebAssembly (wasm) binary module version 0x"
            + format(int.from_bytes(data[4:8], "little"), "x")
            + " (MVP)"
        )
    if data.startswith(b"SQLite format 3\x00"):
        return "SQLite 3.x database"
    if data.startswith(b"#!"):
        first = dec(data.split(b"\n", 1)[0][2:]).strip()
        parts = first.split()
        interp = parts[0] if parts else ""
        if os.path.basename(interp) == "env" and len(parts) > 1:
            interp = parts[1]
        prog = os.path.basename(interp)
        kind = {"sh": "POSIX shell script", "bash": "Bourne-Again shell script"}.get(
            prog, f"{prog} script" if prog else "script"
        )
        if prog.startswith("python"):
            kind = "Python script"
        return f"{kind}, {_textkind(data)} executable"
    if data.startswith(b"\xef\xbb\xbf"):
        return "UTF-8 Unicode (with BOM) text"
    t = _textkind(data)
    if t:
        s = data.lstrip()
        if s[:1] in (b"{", b"[") and path and path.endswith(".json"):
            return "JSON data"
        if s.startswith(b"<?xml"):
            return "XML 1.0 document, " + t
        return t + _lineterm(data)
    return "data"


_MACHO_CPU = {
    7: "i386",
    0x01000007: "x86_64",
    12: "arm",
    0x0100000C: "arm64",
    0x0200000C: "arm64_32",
    18: "ppc",
    0x01000012: "ppc64",
}
_ELF_MACHINE = {
    2: "SPARC",
    3: "Intel 80386",
    8: "MIPS",
    20: "PowerPC",
    21: "64-bit PowerPC",
    22: "IBM S/390",
    40: "ARM",
    42: "Renesas SH",
    50: "IA-64",
    62: "x86-64",
    183: "ARM aarch64",
    243: "UCB RISC-V",
    247: "eBPF",
    258: "LoongArch",
}


def _elf(data: bytes) -> str:
    """`file`'s first words for an ELF image: class, byte order, type, machine."""
    cls = {1: "32-bit", 2: "64-bit"}.get(data[4] if len(data) > 4 else 0)
    if cls is None:
        return f"ELF, unknown class {data[4] if len(data) > 4 else 0}"
    order = {1: "little", 2: "big"}.get(data[5] if len(data) > 5 else 0)
    if order is None:
        return f"ELF {cls}, unknown byte order {data[5] if len(data) > 5 else 0}"
    end = "LSB" if order == "little" else "MSB"
    if len(data) < 20:
        return f"ELF {cls} {end}"
    etype = int.from_bytes(data[16:18], order)  # type: ignore[arg-type]
    mach = int.from_bytes(data[18:20], order)  # type: ignore[arg-type]
    kind = {1: "relocatable", 2: "executable", 3: "shared object", 4: "core file"}.get(
        etype, f"unknown type 0x{etype:x}"
    )
    m = _ELF_MACHINE.get(mach, f"unknown arch 0x{mach:x}")
    return f"ELF {cls} {end} {kind}, {m}, version {data[6]} (SYSV)"


def _gzname(data: bytes) -> str:
    if len(data) > 10 and data[3] & 8:
        end = data.find(b"\0", 10)
        if end > 0:
            return dec(data[10:end])
    return ""


def _textkind(data: bytes) -> str:
    sample = data[:65536]
    if b"\0" in sample:
        return ""
    if all(b in (9, 10, 12, 13, 27, 8) or 32 <= b < 127 for b in sample):
        return "ASCII text"
    try:
        sample.decode("utf-8")
        return "Unicode text, UTF-8 text"
    except UnicodeDecodeError as e:
        if e.start > len(sample) - 4:
            return "Unicode text, UTF-8 text"
    if all(b >= 32 or b in (9, 10, 13) for b in sample):
        return "ISO-8859 text"
    return ""


def _lineterm(data: bytes) -> str:
    extra = ""
    if b"\r\n" in data:
        extra = ", with CRLF line terminators"
    elif b"\r" in data and b"\n" not in data:
        extra = ", with CR line terminators"
    if not data.endswith((b"\n", b"\r")) and b"\n" not in data and b"\r" not in data:
        extra += ", with no line terminators"
    if b"\x1b" in data:
        extra += ", with escape sequences"
    return extra


@cmd("file")
def file_cmd(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        opts, files = parse_opts(
            args[1:],
            "bhLiz0",
            {
                "brief": "b",
                "mime": "i",
                "mime-type": "m",
                "dereference": "L",
                "no-dereference": "h",
            },
        )
    except UsageError as e:
        yield _usage("file", e)
        return 1
    if not files:
        yield (2, b"Usage: file [-bchikLlNnprsSvzZ0] [--apple] [--extension] [--mime-encoding]\n")
        return 1
    out = []
    for f in files:
        sh.budget.tick()
        if f == "-":
            d = describe(inp.read(1 << 20))
            out.append(("/dev/stdin", d))
            continue
        p = sh.resolve(f)
        try:
            if os.path.islink(p) and "L" not in opts:
                broken = "" if os.path.exists(p) else "broken "
                out.append((f, f"{broken}symbolic link to {os.readlink(p)}"))
                continue
            stt = os.stat(p)
        except OSError:
            out.append((f, f"cannot open `{f}' (No such file or directory)"))
            continue
        if stat.S_ISDIR(stt.st_mode):
            d = "directory"
        elif stat.S_ISFIFO(stt.st_mode):
            d = "fifo (named pipe)"
        elif stat.S_ISCHR(stt.st_mode) or stat.S_ISBLK(stt.st_mode):
            d = (
                "character" if stat.S_ISCHR(stt.st_mode) else "block"
            ) + f" special ({os.major(stt.st_rdev)}/{os.minor(stt.st_rdev)})"
        else:
            try:
                with open(p, "rb") as fh:
                    d = describe(fh.read(1 << 20), f)
            except OSError as e:
                d = f"cannot open `{f}' ({e.strerror})"
        if "i" in opts or "m" in opts:
            d = _mime(d)
        out.append((f, d))
    if "b" in opts:
        yield (1, enc("".join(d + "\n" for _f, d in out)))
    else:
        yield (1, enc("".join(f"{f}: {d}\n" for f, d in out)))
    return 0


def _mime(d: str) -> str:
    table = [
        ("empty", "inode/x-empty; charset=binary"),
        ("directory", "inode/directory; charset=binary"),
        ("gzip", "application/gzip; charset=binary"),
        ("Zip", "application/zip; charset=binary"),
        ("PNG", "image/png; charset=binary"),
        ("JPEG", "image/jpeg; charset=binary"),
        ("GIF", "image/gif; charset=binary"),
        ("PDF", "application/pdf; charset=binary"),
        ("ELF", "application/x-executable; charset=binary"),
        ("JSON", "application/json; charset=us-ascii"),
        ("shell script", "text/x-shellscript; charset=us-ascii"),
        ("Python", "text/x-script.python; charset=us-ascii"),
        ("ASCII", "text/plain; charset=us-ascii"),
        ("UTF-8", "text/plain; charset=utf-8"),
        ("tar", "application/x-tar; charset=binary"),
    ]
    for k, v in table:
        if k in d:
            return v
    return "application/octet-stream; charset=binary"
