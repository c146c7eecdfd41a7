"""The host side of a long-lived guest agent spoken to over pipes (process and gvisor tiers).

A tier starts the agent (`sandlot/guest/agent/pipe_main.py`) in its jail with three pipes:
requests go as frames to its stdin, events come back as frames on a dedicated pipe, and
its raw fd 1/2 (C code, child processes) are kept as the call's output too. `AgentPipes`
is that stream; `PipeSandbox` is the pipe transport of the agent link (`agent_link.py`):
at a deadline the agent gets SIGINT, and when a call leaves it in a state that could
answer the next call it is restarted. A tier supplies how to start, stop and interrupt its
agent, and whether the memory limit was hit.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
from typing import Any

from ..errors import GuestProtocolError, LimitExceeded, SandboxError
from ..guest.agent import protocol
from .agent_link import Outcomes, StreamLink
from .base import SandboxSpec
from .frames import Deadline, FramedStream, LinkClosed
from .output import OutputSink

BOOT_TIMEOUT = 30.0
READ_CHUNK = 64 << 10


class AgentPipes(FramedStream):
    """One run of an agent: the host process holding it and the host ends of its pipes."""

    reply_is_last = True

    def __init__(
        self, proc: subprocess.Popen[bytes], event_r: int, raw: dict[int, str] | None = None
    ) -> None:
        super().__init__()
        self.proc = proc
        self.event_r = event_r
        self.host_pid: int | None = None  # the agent's own host pid, where it has one
        if raw is None:
            assert proc.stdout is not None and proc.stderr is not None
            raw = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
        self.raw = raw  # the agent's fd 1/2 pipes, by the output stream they feed
        self.selector = selectors.DefaultSelector()
        for fd in (event_r, *raw):
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ)

    def split_raw(self, fd: int, data: bytes) -> list[tuple[str, str]]:
        """What `data`, read from raw pipe `fd`, adds to each stream (a tier whose jail
        muxes both streams into one pipe splits them here)."""
        return [(self.raw[fd], data.decode("utf-8", "replace"))]

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as e:
            raise LinkClosed(f"the agent is not reading requests ({e})") from e

    def read(self, timeout: float, sink: OutputSink | None) -> bytes | None:
        for key, _ in self.selector.select(timeout):
            fd = int(key.fd)
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                continue
            if fd != self.event_r:
                if not data:
                    self.selector.unregister(fd)
                elif sink is not None:
                    for name, text in self.split_raw(fd, data):
                        sink.add(name, text)
                continue
            if not data:
                if sink is not None:
                    self.settle(sink)
                raise LinkClosed("its event pipe closed")
            return data
        return None

    def settle(self, sink: OutputSink) -> None:
        """Move whatever the raw pipes hold now into the sink, without waiting."""
        for fd in self.raw:
            while True:
                try:
                    data = os.read(fd, READ_CHUNK)
                except OSError:
                    break
                if not data:
                    break
                for name, text in self.split_raw(fd, data):
                    sink.add(name, text)

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
        self.selector.close()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                if f is not None:
                    f.close()
        with contextlib.suppress(OSError):
            os.close(self.event_r)
        self.event_r = -1


class PipeSandbox(StreamLink):
    """Calls into a live agent over pipes. Not thread-safe: the SDK core serialises calls.

    Subclasses set `_spec` and `_agent` and implement `_start` (start an agent and
    `_boot` it), `_stop_agent`, `_interrupt` and `_oom_killed`."""

    tier = "pipe"
    _spec: SandboxSpec
    _agent: AgentPipes | None = None
    outcomes = Outcomes(
        interrupted="was interrupted; the sandbox and its Python state are kept",
        recovered="did not stop when interrupted, so the sandbox's processes were killed and "
        "its agent restarted: files are kept, the Python state was reset",
    )

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
            return self._ask(protocol.request(protocol.OP_PING), sink, BOOT_TIMEOUT)
        except (LinkClosed, Deadline, GuestProtocolError) as e:
            detail = sink.text("stderr")[-2000:] or str(e)
            self._stop_agent()
            raise SandboxError(f"the {self.tier} sandbox failed to start: {detail}") from None

    def _restart(self) -> None:
        self._stop_agent()
        self._start()

    def alive(self) -> bool:
        """Whether the agent is running (a spare checks this before it is handed out)."""
        return self._agent is not None and self._agent.proc.poll() is None

    # -- the link's hooks --------------------------------------------------------------------

    def _link_stream(self) -> FramedStream:
        if self._agent is None:
            raise LinkClosed("no agent")
        return self._agent

    def _link_ready(self) -> None:
        if self._agent is None:  # a restart failed earlier: try once more
            self._start()

    def _link_interrupt(self) -> bool:
        self._interrupt()
        return True

    def _link_recover(self) -> None:
        self._restart()

    def _link_gone(self, error: LinkClosed) -> SandboxError:
        oom = self._oom_killed()
        self._restart()
        if oom:
            return LimitExceeded(
                "memory",
                f"the sandbox used its {self._spec.limits.memory_bytes >> 20} MiB of "
                "memory and the kernel killed it; the agent was restarted: files are "
                "kept, the Python state was reset (raise Limits(memory_bytes=...))",
            )
        return SandboxError(
            f"the sandbox's agent died during the call ({error}); it was restarted: files "
            "are kept, the Python state was reset"
        )
