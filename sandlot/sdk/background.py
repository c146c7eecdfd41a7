"""Commands that run in the background: `commands.run(..., background=True)`.

A background command is an ordinary call made on a thread of its own, so it holds the
sandbox's one call slot while it runs (the guest agent serves one call at a time): calls
made meanwhile wait for it, as they wait for any call. The handle collects the output as
it streams, and `kill()` interrupts the call through the tier (the sandbox lives on).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import SandboxError, TimeoutError
from ..models import CommandResult, check_timeout

if TYPE_CHECKING:
    from .core import SandboxCore


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
                if self._killed:  # killed while it waited for the sandbox: it never runs
                    raise SandboxError(f"background command {self.id} was killed before it ran")
                self.result = core.run_command(*args, **kwargs)
        except BaseException as e:  # handed to whoever waits
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
        """Stop the command; False when it had already ended. The sandbox lives on."""
        if self.done:
            return False
        self._killed = True
        self._core.interrupt(owner=self)
        return True
