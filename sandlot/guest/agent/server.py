"""The agent: turns one request into events and a reply, whatever the transport.

`Agent.handle(request, emit)` is the whole protocol; a transport only moves frames.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from . import protocol
from .python_exec import PythonSession
from .streams import ForwardingStream

Emit = Callable[[dict[str, Any]], None]


class Agent:
    """State that lives as long as the sandbox: the Python namespace and the shell."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.python = PythonSession(namespace)
        self.shell: Any = None  # made on the first exec
        self.shell_cwd = ""
        # Python code and the shell each keep their own working directory. The process is
        # moved only when the other one ran last (a chdir costs ~35 us in the wasm guest).
        self.code_cwd = os.getcwd()

    def handle(self, request: dict[str, Any], emit: Emit) -> dict[str, Any]:
        """Serve one request; stream output through `emit`; return the reply."""
        op = request.get("op")
        if op == protocol.OP_PING:
            return {"ok": True, "version": protocol.VERSION, "pid": os.getpid()}
        if op == protocol.OP_RUN_CODE:
            return self._with_streams(request, emit, lambda: self._run_code(request))
        if op == protocol.OP_EXEC:
            return self._with_streams(request, emit, lambda: self._exec(request))
        return protocol.error("ProtocolError", f"unknown op {op!r}")

    def _with_streams(
        self, request: dict[str, Any], emit: Emit, work: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        cap = int(request.get("output_bytes", 1 << 20))

        def send(name: str, text: str) -> None:
            emit({"ev": name, "data": text})

        out = ForwardingStream(protocol.EV_STDOUT, send, cap)
        err = ForwardingStream(protocol.EV_STDERR, send, cap)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            reply = work()
        finally:
            sys.stdout, sys.stderr = saved
            out.flush()
            err.flush()
        reply["truncated"] = [s.name for s in (out, err) if s.truncated]
        return reply

    @staticmethod
    def _enter(cwd: str) -> None:
        if os.getcwd() != cwd:
            try:
                os.chdir(cwd)
            except OSError:
                pass  # removed meanwhile: the code or the shell meets that when it looks

    def _run_code(self, request: dict[str, Any]) -> dict[str, Any]:
        self._enter(self.code_cwd)
        try:
            return self.python.run(request["code"])
        finally:
            self.code_cwd = os.getcwd()

    def _exec(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run a command line in the persistent shell. The shell keeps its own working
        directory: `cd` in a command does not move `run_code`'s."""
        if self.shell is None:
            from ..shell import Shell  # the shell is heavy: load it when first asked for
            from .python_cmd import run_python

            self.shell = Shell(env=dict(os.environ), cwd=self.code_cwd, python_runner=run_python)
            self.shell_cwd = self.code_cwd
        stdin = request.get("stdin", "").encode("utf-8", "surrogateescape")
        self._enter(self.shell_cwd)
        try:
            code = self.shell.run(
                request["cmd"],
                stdin=stdin,
                out=lambda b: sys.stdout.write(b.decode("utf-8", "replace")),
                err=lambda b: sys.stderr.write(b.decode("utf-8", "replace")),
            )
        finally:
            self.shell_cwd = os.getcwd()
        return {"exit_code": int(code)}
