"""In-process bash-compatible shell for the WASI guest.

Pure Python stdlib, no subprocess/threads.

Usage::

    sh = Shell(cwd="/tmp")
    status = sh.run(
        "echo hi | tr a-z A-Z", out=sys.stdout.buffer.write, err=sys.stderr.buffer.write
    )
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .expand import ExpansionError
from .interp import Interp, enc
from .io import Input
from .state import Budget, BudgetExceeded, ControlFlow, ExitShell, JobLimit, ReturnFn

__all__ = ["Shell", "BudgetExceeded"]

Writer = Callable[[bytes], None]
# Shell functions nest through Python generator frames (~10 per call);
# bash-like depths need headroom.
RECURSION_LIMIT = 6000
PythonRunner = Callable[[list[str], bytes, Writer, Writer], int]


class Shell:
    """A persistent shell session.

    Variables, functions, aliases, options and cwd survive run() calls.
    """

    def __init__(
        self,
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        python_runner: PythonRunner | None = None,
        timeout: float | None = None,
    ) -> None:
        self.timeout = timeout
        self.interp = Interp(env=env, cwd=cwd, python_runner=python_runner)
        if cwd is not None:
            import os

            os.chdir(self.interp.cwd)

    def run(self, script: str, *, stdin: bytes = b"", out: Writer, err: Writer) -> int:
        """Run script, streaming output through out/err; returns the exit status."""
        sh = self.interp
        sh.budget = Budget(self.timeout)
        old_limit = sys.getrecursionlimit()
        if old_limit < RECURSION_LIMIT:
            sys.setrecursionlimit(RECURSION_LIMIT)
        try:
            return self._run(sh, script, stdin, out, err)
        finally:
            sys.setrecursionlimit(old_limit)

    def _run(self, sh: Interp, script: str, stdin: bytes, out: Writer, err: Writer) -> int:
        fds = sh.persistent_fds
        gen = sh.run_source(script, Input(stdin))

        def emit(fd: int, data: bytes) -> None:
            t: object = fd
            for _ in range(10):
                if isinstance(t, int) and t in fds and fds[t] != t:
                    t = fds[t]
                else:
                    break
            if t == 1:
                out(data)
            elif t == 2:
                err(data)
            elif hasattr(t, "write"):
                t.write(data)

        try:
            try:
                while True:
                    fd, data = next(gen)
                    emit(fd, data)
            except StopIteration as e:
                status = e.value if isinstance(e.value, int) else 0
            except ExitShell as e:
                status = e.status
            except ReturnFn as e:
                status = e.status
            except ControlFlow:
                status = sh.status
            except ExpansionError as e:
                err(enc(f"bash: {e}\n"))
                status = e.status
            except JobLimit as e:  # a fork bomb: the command ends, the session lives on
                err(enc(f"bash: {e}\n"))
                status = 254
            except RecursionError:
                err(b"bash: maximum nesting depth exceeded (recursion too deep)\n")
                status = 2
            except Exception as e:  # an interpreter bug must not take the host down
                err(enc(f"bash: internal error: {type(e).__name__}: {e}\n"))
                status = 2
            sh.status = status
            if "EXIT" in sh.traps:
                code = sh.traps.pop("EXIT")
                g2 = sh.run_source(code, Input(b""))
                try:
                    while True:
                        fd, data = next(g2)
                        emit(fd, data)
                except StopIteration:
                    pass
                except ExitShell as e:
                    status = e.status
                except ControlFlow:
                    pass
        finally:
            gen.close()
        sh.status = status
        return status
