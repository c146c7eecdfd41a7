"""The server's background commands, each reachable only by its sandbox's owner.

A background command outlives the request that started it: its output goes to a `Job`'s
log (`commands.py`) for later polls and streams, and a kill waits for its end. A sandbox
that is closed or paused has its commands stopped first, since a running one holds the
call slot that closing and saving wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import NoReturn

from starlette.concurrency import run_in_threadpool

from ..errors import SandboxError, Unsupported
from ..runtimes.base import OutputCallback
from ..sdk.background import BackgroundCommand
from .commands import Job, JobTable
from .sandboxes import Entry, SandboxTable

KILL_GRACE = 5.0
"""Seconds a kill may take to end a background command before it is reported unsupported."""

Start = Callable[[OutputCallback, OutputCallback], BackgroundCommand]
"""Begins the command in the core, given the callbacks for its stdout and stderr."""


class BackgroundCommands:
    """Background commands by sandbox; every lookup checks the sandbox's owner first."""

    def __init__(self, table: SandboxTable) -> None:
        self._table = table
        self._jobs = JobTable()

    def start(self, entry: Entry, who: str, start: Start) -> Job:
        """A background command `start` begins, its output logged for later readers."""
        job = Job(entry.core.id, who)
        job.start(start(lambda s: job.output("stdout", s), lambda s: job.output("stderr", s)))
        self._jobs.add(job)
        return job

    def get(self, sandbox_id: str, command_id: str, who: str) -> Job:
        self._table.get(sandbox_id, who)
        return self._jobs.get(sandbox_id, command_id)

    def write_stdin(self, sandbox_id: str, command_id: str, who: str) -> NoReturn:
        """No tier's guest agent takes input once a command has started: always refused."""
        job = self.get(sandbox_id, command_id, who)
        if job.done:
            raise Unsupported(f"background command {job.id} has ended; its stdin is closed")
        tier = self._table.get(sandbox_id, who).core.tier
        raise Unsupported(
            f"the {tier} tier cannot write to a running command's stdin; pass the input as "
            "`stdin` when starting the command"
        )

    async def kill(self, sandbox_id: str, command_id: str, who: str) -> Job:
        """Kill a background command and wait for its end (the sandbox lives on)."""
        job = self.get(sandbox_id, command_id, who)
        await run_in_threadpool(job.kill)  # waits for the end; Unsupported if it can't
        deadline = time.monotonic() + KILL_GRACE  # another kill of it may still be waiting
        while not job.done and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if not job.done:
            tier = self._table.get(sandbox_id, who).core.tier
            raise Unsupported(
                f"the {tier} tier could not stop background command {job.id}; it ends at "
                "its timeout"
            )
        return job

    async def stop_all(self, sandbox_id: str) -> None:
        """Forget a going sandbox's commands, killing those that run (one that cannot be
        stopped ends when the sandbox is closed under it)."""
        for job in self._jobs.drop(sandbox_id):
            with contextlib.suppress(SandboxError):
                await run_in_threadpool(job.kill)
