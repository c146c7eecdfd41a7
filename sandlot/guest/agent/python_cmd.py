"""`python3` inside the wasm shell: runs in the guest's interpreter, in a namespace of its
own, so a script can't see or clobber the variables of `run_code`."""

from __future__ import annotations

import io
import runpy
import sys
import traceback
from collections.abc import Callable

Write = Callable[[bytes], None]

USAGE = "usage: python3 [-c cmd | -m mod | file | -V] [arg] ...\n"


class _Writer(io.TextIOBase):
    def __init__(self, write: Write) -> None:
        super().__init__()
        self._write = write

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self._write(s.encode("utf-8", "surrogateescape"))
        return len(s)


def run_python(argv: list[str], stdin: bytes, out: Write, err: Write) -> int:
    """Run `python3 ARGS` as a script would run; return its exit status."""
    args = list(argv[1:]) if argv and argv[0].startswith("python") else list(argv)
    if not args:
        err(b"python3: interactive mode is not available here; use -c, -m or a file\n")
        return 2
    if args[0] in ("-V", "--version"):
        out(f"Python {sys.version.split()[0]}\n".encode())
        return 0
    saved = sys.argv, sys.stdin, sys.stdout, sys.stderr
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    sys.stdout, sys.stderr = _Writer(out), _Writer(err)
    try:
        if args[0] == "-c" and len(args) >= 2:
            sys.argv = ["-c", *args[2:]]
            exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
        elif args[0] == "-m" and len(args) >= 2:
            sys.argv = [args[1], *args[2:]]
            runpy.run_module(args[1], run_name="__main__", alter_sys=False)
        elif not args[0].startswith("-"):
            sys.argv = list(args)
            runpy.run_path(args[0], run_name="__main__")
        else:
            err(USAGE.encode())
            return 2
        return 0
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        sys.stderr.write(f"{e.code}\n")
        return 1
    except BaseException:
        sys.stderr.write(traceback.format_exc())
        return 1
    finally:
        try:
            sys.stdout.flush()
        finally:
            sys.argv, sys.stdin, sys.stdout, sys.stderr = saved
