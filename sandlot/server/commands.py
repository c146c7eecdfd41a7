"""Background commands on the server: the SDK's `BackgroundCommand` plus a bounded log.

The SDK runs the command on a thread of its own and collects its output; what a server
adds is a way for clients on other machines to follow it later: every output chunk is an
event with an absolute offset, so a poll (`GET …/commands/{cid}?offset=N`) and a stream
(`GET …/commands/{cid}/events`, resumable with `Last-Event-ID`) both pick up where the
client left off. The log is bounded in bytes: a command that writes more than the log
holds loses its oldest events (the reply says how many), never the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import Interrupted, InvalidArgument, NotFound, SandboxError, TimeoutError
from ..models import CommandResult
from ..sdk.background import BackgroundCommand

MAX_LOG_BYTES = 8 << 20
"""Output one background command's log keeps (per command; the oldest goes first)."""

MAX_JOBS_PER_SANDBOX = 64
"""Commands remembered per sandbox; the oldest finished ones are forgotten first."""


@dataclass(frozen=True)
class Snapshot:
    """A job's state and its events from an offset, read in one go."""

    state: str  # running | exited | failed | killed
    events: list[tuple[int, str, str]]  # (offset, "stdout" | "stderr", text)
    next_offset: int
    dropped: int  # events before the first kept one, gone from the log
    result: CommandResult | None
    error: BaseException | None


class Job:
    """One background command: its handle, its event log, and who waits on the log."""

    def __init__(self, sandbox_id: str, owner: str) -> None:
        self.sandbox_id = sandbox_id
        self.owner = owner
        self.handle: BackgroundCommand | None = None
        self._lock = threading.Lock()
        self._log: deque[tuple[str, str]] = deque()
        self._first = 0  # offset of the first event still in the log
        self._bytes = 0
        self._done = False
        self._killed = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @property
    def id(self) -> str:
        assert self.handle is not None
        return self.handle.id

    def start(self, handle: BackgroundCommand) -> None:
        """Adopt the SDK's handle and watch for its end on a thread of ours (the handle
        has no completion callback)."""
        self.handle = handle
        threading.Thread(target=self._watch, name=f"sandlot-watch-{handle.id}", daemon=True).start()

    def _watch(self) -> None:
        assert self.handle is not None
        with contextlib.suppress(BaseException):
            self.handle.wait()
        with self._lock:
            self._done = True
            self._notify()

    # -- the log (written on the SDK's thread) -------------------------------------------

    def output(self, stream: str, text: str) -> None:
        with self._lock:
            self._log.append((stream, text))
            self._bytes += len(text)
            while self._bytes > MAX_LOG_BYTES and len(self._log) > 1:
                _, old = self._log.popleft()
                self._bytes -= len(old)
                self._first += 1
            self._notify()

    def _notify(self) -> None:
        for loop, event in self._waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(event.set)
        self._waiters.clear()

    # -- readers ---------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        with self._lock:
            return self._done

    def read(self, offset: int) -> Snapshot:
        with self._lock:
            end = self._first + len(self._log)
            start = min(max(offset, self._first), end)
            events = [
                (start + i, stream, text)
                for i, (stream, text) in enumerate(list(self._log)[start - self._first :])
            ]
            done, killed, first = self._done, self._killed, self._first
        result = error = None
        state = "running"
        if done:
            assert self.handle is not None
            result, error = self.handle.result, self.handle.error
            # A kill the tier could not carry out ends as the command itself ended.
            stopped = killed and result is None and not isinstance(error, TimeoutError)
            if stopped or isinstance(error, Interrupted):
                state = "killed"
            else:
                state = "exited" if result is not None else "failed"
        return Snapshot(state, events, end, max(0, first - offset), result, error)

    async def wait_past(self, offset: int, timeout: float) -> None:
        """Return once the log has an event at `offset` or later, or the job has ended,
        or `timeout` passed (the caller sends a keep-alive and asks again)."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        with self._lock:
            if self._done or self._first + len(self._log) > offset:
                return
            self._waiters.append((loop, event))
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            with self._lock:
                if (loop, event) in self._waiters:
                    self._waiters.remove((loop, event))

    def kill(self) -> bool:
        """The SDK's kill: stop the command and wait for its end; True when the kill
        stopped it, False when it had ended (or ended on its own first)."""
        assert self.handle is not None
        with self._lock:
            if self._done:
                return False
            self._killed = True
        return self.handle.kill()


class JobTable:
    """Background commands by sandbox. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_sandbox: dict[str, OrderedDict[str, Job]] = {}

    def add(self, job: Job) -> None:
        with self._lock:
            jobs = self._by_sandbox.setdefault(job.sandbox_id, OrderedDict())
            jobs[job.id] = job
            if len(jobs) > MAX_JOBS_PER_SANDBOX:
                for cid, old in list(jobs.items()):
                    if len(jobs) <= MAX_JOBS_PER_SANDBOX:
                        break
                    if old.done:
                        del jobs[cid]

    def running(self, sandbox_id: str) -> int:
        with self._lock:
            return sum(1 for j in self._by_sandbox.get(sandbox_id, {}).values() if not j.done)

    def get(self, sandbox_id: str, command_id: str) -> Job:
        with self._lock:
            jobs = self._by_sandbox.get(sandbox_id)
            job = jobs.get(command_id) if jobs is not None else None
        if job is None:
            raise NotFound(f"no background command {command_id!r} in sandbox {sandbox_id}")
        return job

    def drop(self, sandbox_id: str) -> list[Job]:
        """Forget a sandbox's commands (it is going); the caller kills those still running."""
        with self._lock:
            return list(self._by_sandbox.pop(sandbox_id, {}).values())


MAX_KILLED_CALLS = 4096
"""Call ids remembered as killed before (or after) they ran; the oldest go first."""


class CallTable:
    """Calls that a client named (`call_id`), so an interrupt reaches that call only.

    A call holds the sandbox's call slot under a token of its own: an interrupt for its id
    stops it through `SandboxCore.interrupt(owner=token)`, which does nothing once another
    call holds the slot. An interrupt that comes before the call has the slot (the request
    is still queued) is remembered, and the call then ends `Interrupted` without running;
    one for a call that ended is void. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[tuple[str, str], object] = {}
        self._killed: OrderedDict[tuple[str, str], None] = OrderedDict()

    @contextlib.contextmanager
    def running(self, sandbox_id: str, call_id: str) -> Iterator[object]:
        key = (sandbox_id, call_id)
        token = object()
        with self._lock:
            if key in self._live:
                raise InvalidArgument(f"call_id {call_id!r} is already running")
            self._live[key] = token
        try:
            yield token
        finally:
            with self._lock:
                self._live.pop(key, None)

    def check(self, sandbox_id: str, call_id: str) -> None:
        """Raise `Interrupted` if the call was killed before it got the slot."""
        with self._lock:
            killed = (sandbox_id, call_id) in self._killed
        if killed:
            raise Interrupted(f"call {call_id} was interrupted before it ran")

    def kill(self, sandbox_id: str, call_id: str) -> object | None:
        """Mark the call killed; its token if it is running now (to interrupt), else None."""
        key = (sandbox_id, call_id)
        with self._lock:
            self._killed[key] = None
            self._killed.move_to_end(key)
            while len(self._killed) > MAX_KILLED_CALLS:
                self._killed.popitem(last=False)
            return self._live.get(key)


def error_of(e: BaseException) -> SandboxError:
    """A job's error as a sandlot error (a bug of ours stays opaque to the client)."""
    return e if isinstance(e, SandboxError) else SandboxError("the command failed on the server")
