"""`run_code` and `run_command` for every tier whose guest speaks the agent protocol.

The request and the reading of its reply are the same on every tier; what differs is the
transport (`_call`: wasm turns, pipes, virtio-serial) and what a reply the host refuses
leaves behind (`_after_bad_reply`: restart the agent, replace the VM, or nothing).
"""

from __future__ import annotations

from typing import Any

from ..errors import GuestProtocolError
from ..guest.agent import protocol
from ..models import CommandResult, Execution, Limits, Timings
from . import replies
from .base import OutputCallback, SandboxSpec
from .output import OutputSink


class AgentCalls:
    _spec: SandboxSpec

    def _call(
        self,
        request: dict[str, Any],
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> tuple[dict[str, Any], OutputSink, Timings]:
        raise NotImplementedError

    def _after_bad_reply(self) -> None:
        """Called when a reply is refused (GuestProtocolError), before it propagates, so
        the next call can't be answered by what is left of this one."""

    def run_code(
        self,
        code: str,
        *,
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> Execution:
        request = {"op": protocol.OP_RUN_CODE, "code": code, "output_bytes": limits.output_bytes}
        reply, sink, timings = self._call(request, limits, on_stdout, on_stderr)
        try:
            return replies.execution(reply, sink, timings, self._spec.limits.memory_bytes)
        except GuestProtocolError:
            self._after_bad_reply()
            raise

    def run_command(
        self,
        cmd: str,
        *,
        limits: Limits,
        stdin: str,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> CommandResult:
        request = {
            "op": protocol.OP_EXEC,
            "cmd": cmd,
            "stdin": stdin,
            "output_bytes": limits.output_bytes,
        }
        reply, sink, timings = self._call(request, limits, on_stdout, on_stderr)
        try:
            return replies.command_result(reply, sink, timings)
        except GuestProtocolError:
            self._after_bad_reply()
            raise
