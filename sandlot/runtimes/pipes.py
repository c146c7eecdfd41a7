"""The host side of a long-lived guest agent spoken to over pipes (process and gvisor tiers).

A tier starts the agent (`sandlot/guest/agent/pipe_main.py`) in its jail with three pipes:
requests go as JSON lines to its stdin, events come back as JSON lines on a dedicated
pipe, and its raw fd 1/2 (C code, child processes) are kept as the call's output too.
`PipeSandbox` is everything of that which doesn't depend on the jail: a call's exchange,
event validation, deadlines and interrupts, and restarting the agent when a call leaves it
in a state that could answer the next call. A tier supplies how to start, stop and
interrupt its agent, and whether the memory limit was hit.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from typing import Any

from ..errors import GuestProtocolError, LimitExceeded, SandboxError, TimeoutError
from ..guest.agent import protocol
from ..models import Limits, Timings
from . import frames
from .agent_calls import AgentCalls
from .base import OutputCallback, SandboxSpec
from .output import OutputSink

BOOT_TIMEOUT = 30.0
INTERRUPT_GRACE = 2.0  # how long an interrupted call may take to answer before a restart
READ_CHUNK = 64 << 10


class AgentGone(Exception):
    """The agent's event pipe ended before the reply (it died, or was killed)."""


class Interrupted(Exception):
    """A call passed its deadline; `answered` says whether the interrupted agent replied."""

    def __init__(self, answered: bool) -> None:
        super().__init__()
        self.answered = answered


class AgentPipes:
    """One run of an agent: the host process holding it and the host ends of its pipes."""

    def __init__(
        self, proc: subprocess.Popen[bytes], event_r: int, raw: dict[int, str] | None = None
    ) -> None:
        self.proc = proc
        self.event_r = event_r
        self.buffer = bytearray()
        self.host_pid: int | None = None  # the agent's own host pid, where it has one
        self.sequence = 0  # the id of the last request; its reply carries it back
        if raw is None:
            assert proc.stdout is not None and proc.stderr is not None
            raw = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
        self.raw = raw  # the agent's fd 1/2 pipes, by the output stream they feed
        for fd in (event_r, *raw):
            os.set_blocking(fd, False)

    def split_raw(self, fd: int, data: bytes) -> list[tuple[str, str]]:
        """What `data`, read from raw pipe `fd`, adds to each stream (a tier whose jail
        muxes both streams into one pipe splits them here)."""
        return [(self.raw[fd], data.decode("utf-8", "replace"))]

    def send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(protocol.encode(request) + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as e:
            raise AgentGone(f"the agent is not reading requests ({e})") from e

    def kill(self) -> None:
        """SIGKILL the host process (and its process group) and close the pipes."""
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.close_pipes()

    def close_pipes(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                if f is not None:
                    f.close()
        with contextlib.suppress(OSError):
            os.close(self.event_r)
        self.event_r = -1


def drain_raw(agent: AgentPipes, sink: OutputSink) -> None:
    """Move whatever the raw pipes hold now into the sink, without waiting."""
    for fd in agent.raw:
        while True:
            try:
                data = os.read(fd, READ_CHUNK)
            except OSError:
                break
            if not data:
                break
            for name, text in agent.split_raw(fd, data):
                sink.add(name, text)


class PipeSandbox(AgentCalls):
    """Calls into a live agent over pipes. Not thread-safe: the SDK core serialises calls.

    Subclasses set `_spec` and `_agent` and implement `_start` (start an agent and
    `_boot` it), `_stop_agent`, `_interrupt` and `_oom_killed`."""

    tier = "pipe"
    _spec: SandboxSpec
    _agent: AgentPipes | None = None

    # -- what a tier provides ----------------------------------------------------------------

    def _start(self) -> None:
        raise NotImplementedError

    def _stop_agent(self) -> None:
        raise NotImplementedError

    def _interrupt(self) -> None:
        """Deliver SIGINT to the agent: the running call stops and still replies."""
        raise NotImplementedError

    def _oom_killed(self) -> bool:
        return False

    # -- shared ------------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stop the running call (a background command's kill) from another thread; the
        call still replies, and the sandbox lives on."""
        if self._agent is not None:
            self._interrupt()

    def _boot(self, agent: AgentPipes) -> dict[str, Any]:
        """Wait for a fresh agent's first answer; stop it and say why when none comes."""
        self._agent = agent
        sink = OutputSink(64 << 10)
        try:
            return self._exchange({"op": protocol.OP_PING}, sink, BOOT_TIMEOUT, interrupt=False)
        except (AgentGone, TimeoutError, GuestProtocolError) as e:
            detail = sink.text("stderr")[-2000:] or str(e)
            self._stop_agent()
            raise SandboxError(f"the {self.tier} sandbox failed to start: {detail}") from None

    def _restart(self) -> None:
        self._stop_agent()
        self._start()

    def alive(self) -> bool:
        """Whether the agent is running (a spare checks this before it is handed out)."""
        return self._agent is not None and self._agent.proc.poll() is None

    def _after_bad_reply(self) -> None:
        self._restart()

    def _call(
        self,
        request: dict[str, Any],
        limits: Limits,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
    ) -> tuple[dict[str, Any], OutputSink, Timings]:
        start = time.perf_counter()
        if self._agent is None:  # a restart failed earlier: try once more
            self._start()
        sink = OutputSink(limits.output_bytes, on_stdout, on_stderr)
        began = time.perf_counter()
        try:
            reply = self._exchange(request, sink, limits.wall_time)
        except Interrupted as e:
            if e.answered:
                raise TimeoutError(
                    f"the call ran past its {limits.wall_time:g} s limit and was interrupted; "
                    "the sandbox and its Python state are kept (pass timeout= for a longer "
                    "limit)"
                ) from None
            self._restart()
            raise TimeoutError(
                f"the call ran past its {limits.wall_time:g} s limit and did not stop when "
                "interrupted, so the sandbox's processes were killed and its agent restarted: "
                "files are kept, the Python state was reset (pass timeout= for a longer limit)"
            ) from None
        except (KeyboardInterrupt, GuestProtocolError):
            self._restart()  # what is left of this call must not answer the next one
            raise
        except AgentGone as e:
            oom = self._oom_killed()
            self._restart()
            if oom:
                raise LimitExceeded(
                    "memory",
                    f"the sandbox used its {self._spec.limits.memory_bytes >> 20} MiB of "
                    "memory and the kernel killed it; the agent was restarted: files are "
                    "kept, the Python state was reset (raise Limits(memory_bytes=...))",
                ) from None
            raise SandboxError(
                f"the sandbox's agent died during the call ({e}); it was restarted: files "
                "are kept, the Python state was reset"
            ) from None
        ended = time.perf_counter()
        if sink.callback_error is not None:
            raise sink.callback_error
        timings = Timings(queued=began - start, run=ended - began, total=ended - start)
        return reply, sink, timings

    def _exchange(
        self,
        request: dict[str, Any],
        sink: OutputSink,
        wall_time: float,
        *,
        interrupt: bool = True,
    ) -> dict[str, Any]:
        """Send one request; collect events and raw output until the reply."""
        agent = self._agent
        if agent is None:
            raise AgentGone("no agent")
        raw = agent.raw
        drain_raw(agent, sink)  # what background processes wrote between calls
        agent.sequence += 1
        agent.send({**request, "id": agent.sequence})
        deadline = time.monotonic() + wall_time
        interrupted = False
        with selectors.DefaultSelector() as sel:
            sel.register(agent.event_r, selectors.EVENT_READ)
            for fd in raw:
                sel.register(fd, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    if not interrupt:
                        raise TimeoutError("no answer from the agent")
                    if interrupted:
                        raise Interrupted(answered=False)
                    interrupted = True
                    self._interrupt()
                    deadline = time.monotonic() + INTERRUPT_GRACE
                    continue
                for key, _ in sel.select(timeout=left):
                    fd = int(key.fd)
                    try:
                        data = os.read(fd, READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if fd in raw:
                        if data:
                            for name, text in agent.split_raw(fd, data):
                                sink.add(name, text)
                        else:
                            sel.unregister(fd)
                        continue
                    if not data:
                        drain_raw(agent, sink)
                        raise AgentGone("its event pipe closed")
                    reply = _events(agent, data, sink)
                    if reply is not None:
                        drain_raw(agent, sink)
                        if interrupted:
                            raise Interrupted(answered=True)
                        return reply


def _events(agent: AgentPipes, data: bytes, sink: OutputSink) -> dict[str, Any] | None:
    """Feed event bytes; output chunks go to the sink, and the reply (if it came) returns."""
    agent.buffer += data
    return frames.take_reply(agent.buffer, agent.sequence, sink, last=True)
