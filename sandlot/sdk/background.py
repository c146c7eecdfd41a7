"""Commands that run in the background: `commands.run(..., background=True)`.

A background command is an ordinary call made on a thread of its own, so it holds the
sandbox's one call slot while it runs (the guest agent serves one call at a time): calls
made meanwhile wait for it, as they wait for any call. The handle collects the output as
it streams, and `kill()` interrupts the call through the tier (the sandbox lives on).

A kill is decided, never racy: `kill()` returns True exactly when the command ended
killed (`wait()` raises `Interrupted`), False when it had ended, or ended on its own
before the kill reached it (`wait()` gives that result). A command killed while it waited
for the sandbox never runs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import Interrupted, TimeoutError, Unsupported
from ..models import CommandResult, check_timeout

if TYPE_CHECKING:
    from .core import SandboxCore

KILL_GRACE = 5.0
"""Seconds a kill waits for the command to end before saying the tier cannot stop it."""
KILL_RETRY = 0.05
"""Seconds between interrupts while a kill waits (one sent as the call starts is lost)."""


class BackgroundCommand:
    """The host side of one background command. Thread-safe."""

    def __init__(self, core: SandboxCore, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.id = "cmd_" + uuid.uuid4().hex[:12]
        self._core = core
        self._lock = threading.Lock()
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._finished = threading.Event()
        self._started = threading.Event()
        self._killed = False
        self._running = False  # holds the call slot
        self.result: CommandResult | None = None
        self.error: BaseException | None = None
        user_out = kwargs.pop("on_stdout", None)
        user_err = kwargs.pop("on_stderr", None)
        kwargs["on_stdout"] = self._collector(self._stdout, user_out)
        kwargs["on_stderr"] = self._collector(self._stderr, user_err)
        self._thread = threading.Thread(
            target=self._run, args=(args, kwargs), name=f"sandlot-{self.id}", daemon=True
        )
        self._thread.start()

    def _collector(
        self, into: list[str], user: Callable[[str], None] | None
    ) -> Callable[[str], None]:
        def collect(chunk: str) -> None:
            self._started.set()
            with self._lock:
                into.append(chunk)
            if user is not None:
                user(chunk)

        return collect

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        core = self._core
        try:
            with core.call_slot(self):
                with self._lock:
                    if self._killed:  # killed while it waited for the sandbox: it never runs
                        return
                    self._running = True
                result = core.run_command(*args, **kwargs)
            with self._lock:
                self.result = result
        except BaseException as e:  # handed to whoever waits
            with self._lock:
                self.error = e
        finally:
            self._finished.set()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    @property
    def stdout(self) -> str:
        """The standard output so far (all of it once done)."""
        with self._lock:
            return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._stderr)

    @property
    def exit_code(self) -> int | None:
        """The exit status once done, else None."""
        return self.result.exit_code if self.result is not None else None

    def wait(self, timeout: float | None = None) -> CommandResult:
        """Block until the command ends; its result, or the error it ended with.

        `timeout` bounds the wait only (the command goes on): `sandlot.TimeoutError`."""
        seconds = check_timeout(timeout, "timeout")
        if not self._finished.wait(seconds):
            raise TimeoutError(
                f"background command {self.id} still runs after {seconds:g} s of waiting "
                "(it goes on; wait again, or kill() it)"
            )
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def kill(self) -> bool:
        """Stop the command and wait for it to end; the sandbox lives on.

        True when the kill stopped it (`wait()` raises `Interrupted`); False when it had
        already ended or ended on its own first (`wait()` gives its result). A tier that
        cannot stop a running call: `Unsupported` after KILL_GRACE s (it ends at its
        timeout)."""
        with self._lock:
            if self._finished.is_set() or self._killed:
                return False
            self._killed = True
            if not self._running:  # still waiting for the sandbox: it will never run
                self.error = Interrupted(f"background command {self.id} was killed before it ran")
                self._finished.set()
                return True
        deadline = time.monotonic() + KILL_GRACE
        while True:
            self._core.interrupt(owner=self)  # only while this command holds the slot
            if self._finished.wait(KILL_RETRY):
                break
            if time.monotonic() > deadline:
                raise Unsupported(
                    f"the {self._core.tier} tier could not stop background command {self.id}; "
                    "it ends at its timeout"
                )
        return isinstance(self.error, Interrupted)
