"""cp: GNU coreutils cp (-r/-R/-a, -d/-P/-L/-H, -p/--preserve, -u, -n, -i, -l, -s, -T/-t,
--parents, --remove-destination)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any

from ..io import Gen, Input
from . import command
from .util import UsageError, enc, parse_opts


class _Fail(Exception):
    pass


class _Cp:
    def __init__(self, sh: Any, opts: dict[str, Any], inp: Input) -> None:
        self.sh, self.opts, self.inp = sh, opts, inp
        self.rec = any(k in opts for k in "rRa")
        if "L" in opts:
            self.deref = "all"
        elif "P" in opts or "d" in opts or "a" in opts:
            self.deref = "none"
        elif "H" in opts:
            self.deref = "args"
        else:
            self.deref = "none" if self.rec else "all"
        self.preserve: set[str] = set(opts.get("preserve", set()))
        if "p" in opts:
            self.preserve |= {"mode", "ownership", "timestamps"}
        if "a" in opts:
            self.preserve |= {"mode", "ownership", "timestamps", "links"}
        self.umask = getattr(sh, "umask", 0o022)
        self.msgs: list[tuple[int, bytes]] = []
        self.status = 0
        self.seen_links: dict[tuple[int, int], str] = {}

    def err(self, msg: str) -> None:
        self.msgs.append((2, enc(f"cp: {msg}\n")))
        self.status = 1

    def ask(self, dst_name: str) -> bool:
        self.msgs.append((2, enc(f"cp: overwrite '{dst_name}'? ")))
        line = self.inp.readline()
        return line.strip().lower().startswith(b"y")

    def copy(self, src: str, dst: str, sname: str, dname: str, top: bool) -> None:
        self.sh.budget.tick()
        follow = self.deref == "all" or (self.deref == "args" and top)
        try:
            st = os.stat(src) if follow else os.lstat(src)
        except OSError as e:
            self.err(f"cannot stat '{sname}': {e.strerror}")
            return
        try:
            dst_st: os.stat_result | None = os.lstat(dst)
        except OSError:
            dst_st = None
        if dst_st is not None:
            try:
                real = os.stat(dst)
                if (real.st_dev, real.st_ino) == (st.st_dev, st.st_ino) and not stat.S_ISDIR(
                    st.st_mode
                ):
                    self.err(f"'{sname}' and '{dname}' are the same file")
                    return
            except OSError:
                pass
        if stat.S_ISDIR(st.st_mode):
            if not self.rec:
                self.err(f"-r not specified; omitting directory '{sname}'")
                return
            if dst_st is not None and not stat.S_ISDIR(os.stat(dst).st_mode):
                self.err(f"cannot overwrite non-directory '{dname}' with directory '{sname}'")
                return
            rs, rd = os.path.realpath(src), os.path.realpath(dst)
            if rd == rs or rd.startswith(rs.rstrip("/") + "/"):
                self.err(f"cannot copy a directory, '{sname}', into itself, '{dname}'")
                return
            made = False
            if dst_st is None:
                try:
                    os.mkdir(dst, stat.S_IMODE(st.st_mode) | 0o700)
                    made = True
                except OSError as e:
                    self.err(f"cannot create directory '{dname}': {e.strerror}")
                    return
            if "v" in self.opts:
                self.msgs.append((1, enc(f"'{sname}' -> '{dname}'\n")))
            try:
                names = os.listdir(src)
            except OSError as e:
                self.err(f"cannot access '{sname}': {e.strerror}")
                return
            for n in names:
                self.copy(
                    os.path.join(src, n),
                    os.path.join(dst, n),
                    sname.rstrip("/") + "/" + n,
                    dname.rstrip("/") + "/" + n,
                    False,
                )
            mode = stat.S_IMODE(st.st_mode)
            if made or "mode" in self.preserve:
                os.chmod(dst, mode if "mode" in self.preserve else mode & ~self.umask)
            self.attrs(dst, st, False)
            return
        if dst_st is not None and stat.S_ISDIR(dst_st.st_mode):
            self.err(f"cannot overwrite directory '{dname}' with non-directory")
            return
        if dst_st is not None:
            if "n" in self.opts:
                return
            if "u" in self.opts and dst_st.st_mtime_ns >= st.st_mtime_ns:
                return
            if "i" in self.opts and not self.ask(dname):
                return
        if "v" in self.opts:
            self.msgs.append((1, enc(f"'{sname}' -> '{dname}'\n")))
        key = (st.st_dev, st.st_ino)
        try:
            if "l" in self.opts:
                self.clear(dst, dst_st)
                os.link(src, dst, follow_symlinks=follow)
                return
            if "s" in self.opts:
                self.clear(dst, dst_st)
                os.symlink(src if os.path.isabs(sname) else sname, dst)
                return
            if "links" in self.preserve and st.st_nlink > 1 and key in self.seen_links:
                self.clear(dst, dst_st)
                os.link(self.seen_links[key], dst)
                return
            if stat.S_ISLNK(st.st_mode):
                self.clear(dst, dst_st)
                os.symlink(os.readlink(src), dst)
                self.attrs(dst, st, True)
            elif stat.S_ISREG(st.st_mode) or not self.rec:
                if "remove-destination" in self.opts:
                    self.clear(dst, dst_st)
                    dst_st = None
                elif dst_st is not None and stat.S_ISLNK(dst_st.st_mode) and self.rec:
                    pass
                self.write(src, dst, st, dst_st)
            elif stat.S_ISFIFO(st.st_mode):
                self.clear(dst, dst_st)
                os.mkfifo(dst, stat.S_IMODE(st.st_mode) & ~self.umask)
                self.attrs(dst, st, False)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                self.clear(dst, dst_st)
                os.mknod(dst, st.st_mode, st.st_rdev)
                self.attrs(dst, st, False)
            else:
                self.err(f"cannot copy '{sname}': unsupported file type")
                return
        except OSError as e:
            self.err(f"cannot create regular file '{dname}': {e.strerror}")
            return
        if st.st_nlink > 1:
            self.seen_links.setdefault(key, dst)

    def clear(self, dst: str, dst_st: os.stat_result | None) -> None:
        if dst_st is not None:
            os.unlink(dst)

    def write(self, src: str, dst: str, st: os.stat_result, dst_st: os.stat_result | None) -> None:
        with open(src, "rb") as f:
            data = f.read()
        try:
            fh = open(dst, "wb")
        except PermissionError:
            if "f" not in self.opts or dst_st is None:
                raise
            os.unlink(dst)
            dst_st = None
            fh = open(dst, "wb")
        with fh:
            fh.write(data)
        mode = stat.S_IMODE(st.st_mode)
        if "mode" in self.preserve:
            os.chmod(dst, mode)
        elif dst_st is None:
            os.chmod(dst, mode & ~self.umask & 0o777)
        self.attrs(dst, st, False)

    def attrs(self, dst: str, st: os.stat_result, link: bool) -> None:
        if "timestamps" in self.preserve:
            try:
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=not link)
            except (OSError, NotImplementedError):
                pass
        if "ownership" in self.preserve and hasattr(os, "lchown"):
            try:
                os.lchown(dst, st.st_uid, st.st_gid)
            except OSError:
                pass


_PRESERVE = {"mode", "ownership", "timestamps", "links", "context", "xattr", "all"}


def _pre_scan(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Long options with optional values (--preserve[=LIST]) that parse_opts cannot take."""
    extra: dict[str, Any] = {}
    rest: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            rest += args[i:]
            break
        name, eq, val = a.partition("=")
        if name == "--preserve":
            items = val.split(",") if eq else ["mode", "ownership", "timestamps"]
            for it in items:
                if it not in _PRESERVE:
                    raise UsageError(f"invalid argument '{it}' for '--preserve'")
            got = set(items)
            if "all" in got:
                got |= {"mode", "ownership", "timestamps", "links"}
            extra["preserve"] = extra.get("preserve", set()) | got
        elif name == "--no-preserve":
            extra["no-preserve"] = set(val.split(","))
        elif a == "--parents":
            extra["parents"] = True
        elif a == "--remove-destination":
            extra["remove-destination"] = True
        elif name == "--update":
            extra["u"] = 1
        elif name in ("--backup", "--sparse", "--reflink", "--strip-trailing-slashes"):
            continue
        else:
            rest.append(a)
    return extra, rest


@command("cp")
def cp(sh: Any, args: list[str], inp: Input) -> Gen:
    try:
        extra, rest = _pre_scan(args[1:])
        opts, paths = parse_opts(
            rest,
            "aRrdfHiLlnPpsTt:uvx",
            {
                "archive": "a",
                "recursive": "r",
                "force": "f",
                "dereference": "L",
                "no-dereference": "P",
                "interactive": "i",
                "link": "l",
                "no-clobber": "n",
                "symbolic-link": "s",
                "target-directory": "t:",
                "no-target-directory": "T",
                "verbose": "v",
                "one-file-system": "x",
            },
        )
    except UsageError as e:
        yield (2, enc(f"cp: {e}\nTry 'cp --help' for more information.\n"))
        return 1
    opts.update(extra)
    if "no-preserve" in opts and "preserve" in opts:
        opts["preserve"] = set(opts["preserve"]) - set(opts["no-preserve"])
    if "t" in opts:
        target = opts["t"]
        if not os.path.isdir(sh.resolve(target)):
            yield (2, enc(f"cp: target directory '{target}' is not a directory\n"))
            return 1
        srcs, dst = paths, target
        if not srcs:
            yield (2, b"cp: missing file operand\nTry 'cp --help' for more information.\n")
            return 1
    else:
        if len(paths) < 2:
            msg = (
                f"missing destination file operand after '{paths[0]}'"
                if paths
                else "missing file operand"
            )
            yield (2, enc(f"cp: {msg}\nTry 'cp --help' for more information.\n"))
            return 1
        *srcs, dst = paths
    dfull = sh.resolve(dst)
    into = "T" not in opts and os.path.isdir(dfull)
    if "T" in opts and len(srcs) > 1:
        yield (2, enc(f"cp: extra operand '{srcs[1]}'\n"))
        return 1
    if (len(srcs) > 1 or opts.get("parents")) and not into:
        yield (2, enc(f"cp: target '{dst}' is not a directory\n"))
        return 1
    c = _Cp(sh, opts, inp)
    for s in srcs:
        sfull = sh.resolve(s)
        if opts.get("parents"):
            rel = s.lstrip("/")
            target = os.path.join(dfull, rel)
            dname = os.path.join(dst, rel)
            parent = os.path.dirname(target)
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as e:
                c.err(f"cannot make directory '{os.path.dirname(dname)}': {e.strerror}")
                continue
        elif into:
            base = os.path.basename(s.rstrip("/")) or s
            target = os.path.join(dfull, base)
            dname = os.path.join(dst, base)
        else:
            target, dname = dfull, dst
        c.copy(sfull, target, s, dname, True)
        yield from _drain(c)
    yield from _drain(c)
    return c.status


def _drain(c: _Cp) -> Iterator[tuple[int, bytes]]:
    msgs, c.msgs = c.msgs, []
    yield from msgs
