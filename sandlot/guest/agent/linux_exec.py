"""`exec` on a real Linux guest: the command line runs in `/bin/bash -c`, in a process
group of its own, and its stdout and stderr are forwarded as they arrive.

Output goes through `sys.stdout` / `sys.stderr`, which the agent points at its forwarding
streams during a call, so the call's cap and truncation apply as for any other output.
When the call is interrupted (the host sends SIGINT at the deadline), the whole process
group is killed; the agent itself lives on. Processes a command leaves running in the
background keep running (until the sandbox closes); the call ends when bash has ended and
its output pipes have been quiet for a moment.
"""

from __future__ import annotations

import codecs
import os
import selectors
import signal
import string
import subprocess
import sys
import time
from typing import Any

SHELL = "/bin/bash"
READ_CHUNK = 64 << 10
POLL_SECONDS = 0.05  # how long output may pause after bash ends before the call ends
DRAIN_SECONDS = 0.25  # the most output is read for after bash ends (background writers)
DRAIN_CHUNKS = 64  # then what is left in each pipe, up to this many chunks


# Shell state carried from one command to the next: variables, functions and the working
# directory, saved by an EXIT trap to one pipe and restored from another by the next
# command. Commands ask the kernel to pick them, not the agent, when memory runs out.
_SKIP_VARS = (
    "BASH*|FUNCNAME|PIPESTATUS|GROUPS|_|SHLVL|SHELLOPTS|HISTCMD|EPOCH*|SRANDOM|RANDOM|"
    "LINENO|SECONDS|PPID|UID|EUID|OPTIND|OPTERR|COMP_*|DIRSTACK|__sl_*"
)
# Every variable name, without forking a subshell for `compgen -v`: ${!a@} ... ${!_@}.
_ALL_VARS = " ".join("${!" + c + "@}" for c in string.ascii_letters + "_")
_PRELUDE = (
    "echo 500 >/proc/self/oom_score_adj 2>/dev/null\n"
    "source /dev/fd/@IN@ 2>/dev/null; exec @IN@<&-\n"
    "trap '__sl_rc=$?; __sl_v=(); for __sl_n in "
    + _ALL_VARS
    + "; do case $__sl_n in "
    + _SKIP_VARS
    + ') ;; *) __sl_v+=("$__sl_n");; esac; done; '
    '{ declare -p "${__sl_v[@]}"; declare -f; '
    'printf "cd -- %q\\n" "$PWD"; } >&@OUT@ 2>/dev/null; exec @OUT@>&-; exit $__sl_rc\' EXIT\n'
)


class Shell:
    """Real bash, one process per command, with its state carried between commands."""

    def __init__(self, cwd: str) -> None:
        self.state = f"cd -- {_quote(cwd)}\n".encode()

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run `request["cmd"]` with `request["stdin"]`; return {"exit_code": N}."""
        stdin = request.get("stdin", "").encode("utf-8", "surrogateescape")
        state_in_r, state_in_w = os.pipe()
        state_out_r, state_out_w = os.pipe()
        prelude = _PRELUDE.replace("@IN@", str(state_in_r)).replace("@OUT@", str(state_out_w))
        argv = [SHELL, "-c", prelude + request["cmd"]]
        try:
            try:
                proc = _spawn(argv, (state_in_r, state_out_w))
            except BlockingIOError:  # EAGAIN: the process limit is used up (a fork bomb)
                _kill_all_others()
                sys.stderr.write(
                    "sandlot: the sandbox's process limit was reached; every other process "
                    "in it was killed to run this command\n"
                )
                proc = _spawn(argv, (state_in_r, state_out_w))
        finally:
            os.close(state_in_r)
            os.close(state_out_w)
        saved: list[bytes] = []
        closed: set[int] = set()
        try:
            _pump(proc, stdin, (state_in_w, self.state), (state_out_r, saved), closed)
            code = proc.wait()
        except BaseException:  # KeyboardInterrupt at the deadline, or anything else
            _kill_group(proc)
            raise
        finally:
            for fd in {state_in_w, state_out_r} - closed:
                os.close(fd)
        if saved and b"".join(saved).strip():
            self.state = b"".join(saved)
        return {"exit_code": code if code >= 0 else 128 - code}


def _spawn(argv: list[str], fds: tuple[int, int]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: killed whole at a deadline
        pass_fds=fds,
    )


def _kill_all_others() -> None:
    """SIGKILL every process of the sandbox but the agent (and the jail's init), until
    none is left: kill(-1) skips the caller."""
    for _ in range(50):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            break
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.01)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _pump(
    proc: subprocess.Popen[bytes],
    stdin: bytes,
    state_in: tuple[int, bytes],
    state_out: tuple[int, list[bytes]],
    closed: set[int],
) -> None:
    """Feed stdin and the saved state; forward stdout/stderr; collect the new state."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    streams: dict[int, Any] = {
        proc.stdout.fileno(): (codecs.getincrementaldecoder("utf-8")("replace"), sys.stdout),
        proc.stderr.fileno(): (codecs.getincrementaldecoder("utf-8")("replace"), sys.stderr),
        state_out[0]: None,
    }
    for fd in streams:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    proc.stdin.flush()
    writers: dict[int, memoryview] = {}
    for fd, data in ((proc.stdin.fileno(), stdin), state_in):
        if data:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_WRITE)
            writers[fd] = memoryview(data)
    if not stdin:
        proc.stdin.close()
    if not state_in[1]:
        os.close(state_in[0])
        closed.add(state_in[0])

    def take(fd: int) -> bool:
        """Read one chunk of `fd` and pass it on; False at EOF or when nothing is there."""
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return False
        if fd == state_out[0]:
            if data:
                state_out[1].append(data)
        else:
            decoder, stream = streams[fd]
            text = decoder.decode(data, final=not data)
            if text:
                stream.write(text)
                stream.flush()  # forwarded as it arrives, not held for the next chunk
        if not data:
            sel.unregister(fd)
            del streams[fd]
        return bool(data)

    try:
        drain_until = None
        while streams:
            ready = sel.select(timeout=POLL_SECONDS)
            if proc.poll() is not None:
                # bash ended; a process it left behind may hold the pipes: read what is
                # there, then stop (quiet pipes, or a writer that never stops)
                now = time.monotonic()
                drain_until = drain_until or now + DRAIN_SECONDS
                if not ready:
                    break
                if now > drain_until:
                    # all bash wrote is in the pipes already (this agent may just have
                    # been slow to read it): take it, but not a writer's endless rest
                    for fd in list(streams):
                        for _ in range(DRAIN_CHUNKS):
                            if fd not in streams or not take(fd):
                                break
                    break
            for key, _ in ready:
                fd = int(key.fd)
                if fd in writers:
                    try:
                        n = os.write(fd, writers[fd][:READ_CHUNK])
                    except (BrokenPipeError, BlockingIOError) as e:
                        n = 0 if isinstance(e, BlockingIOError) else len(writers[fd])
                    writers[fd] = writers[fd][n:]
                    if not writers[fd]:
                        sel.unregister(fd)
                        del writers[fd]
                        if fd == state_in[0]:
                            os.close(fd)
                            closed.add(fd)
                        else:
                            proc.stdin.close()
                    continue
                if fd in streams:
                    take(fd)
    finally:
        sel.close()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            if f is not None and not f.closed:
                try:
                    f.close()
                except OSError:
                    pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
