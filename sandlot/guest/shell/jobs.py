"""Background jobs: `cmd &`, `$!`, `wait`, `jobs`, `kill`, and `umask`.

The guest has no processes or threads, so a job runs to completion when its `&` is reached
(its output lands in order, as bash's does for quick jobs) and is then kept in a job table
that `wait`, `jobs` and `kill` consult exactly as bash's would for jobs that already ended.
A fork-bomb shape (`:(){ :|:& };:`) ends on a job limit instead of growing for ever.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from typing import Any

from .builtins import builtin, err
from .io import Gen, Input
from .state import ExitShell, JobLimit

MAX_JOBS = 20000  # background jobs per `run` call (bash meets `ulimit -u` much sooner)
MAX_JOB_DEPTH = 64  # jobs started from inside jobs started from inside jobs ...
_PIDS = itertools.count(os.getpid() % 10000 + 1000)

SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "PIPE": 13,
    "ALRM": 14, "TERM": 15, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20,
}  # fmt: skip


@dataclass
class Job:
    num: int
    pid: int
    status: int
    text: str


def start_job(sh: Any, item: Any, inp: Input) -> Gen:
    """Run `item &` now, in a subshell whose stdin is empty (bash without job control)."""
    budget = sh.budget
    budget.jobs = getattr(budget, "jobs", 0) + 1
    if budget.jobs > MAX_JOBS or sh.job_depth >= MAX_JOB_DEPTH:
        raise JobLimit(
            "fork: retry: Resource temporarily unavailable "
            f"(job limit: {MAX_JOBS} jobs per command, {MAX_JOB_DEPTH} nested)"
        )
    pid = next(_PIDS)
    sub = sh.fork()
    sub.job_depth = sh.job_depth + 1
    sub.jobs = []
    sub.job_status = {}
    status = yield from sub.run_subshell(item, Input(b""))
    num = max((j.num for j in sh.jobs), default=0) + 1
    sh.jobs.append(Job(num, pid, status, getattr(item, "bg_text", "") or "job"))
    sh.job_status[pid] = status
    sh.last_bg = str(pid)
    return 0


def _find(sh: Any, spec: str) -> Job | None:
    if spec.startswith("%"):
        key = spec[1:]
        if key in ("", "%", "+"):
            return sh.jobs[-1] if sh.jobs else None
        if key == "-":
            return sh.jobs[-2] if len(sh.jobs) > 1 else None
        for j in sh.jobs:
            if (key.isdigit() and j.num == int(key)) or (
                not key.isdigit() and j.text.startswith(key)
            ):
                return j
        return None
    return next((j for j in sh.jobs if str(j.pid) == spec), None)


@builtin("wait")
def b_wait(sh: Any, args: list[str], inp: Input) -> Gen:
    rest = args[1:]
    next_one = False
    var = None
    while rest and rest[0].startswith("-") and rest[0] != "-":
        opt = rest.pop(0)
        if opt == "--":
            break
        if "n" in opt:
            next_one = True
        if "p" in opt and rest:
            var = rest.pop(0)
    if next_one and not rest:
        if not sh.jobs:
            return 127
        j = sh.jobs.pop(0)
        if var:
            sh.set_var(var, str(j.pid))
        return j.status
    if not rest:
        sh.jobs.clear()
        return 0
    status = 0
    for spec in rest:
        j = _find(sh, spec)
        if j is not None:
            sh.jobs.remove(j)
            status = j.status
        elif spec.isdigit() and int(spec) in sh.job_status:
            status = sh.job_status[int(spec)]
        elif spec.startswith("%"):
            yield err(f"wait: {spec}: no such job")
            status = 127
        elif spec.isdigit():
            yield err(f"wait: pid {spec} is not a child of this shell")
            status = 127
        else:
            yield err(f"wait: `{spec}': not a pid or valid job spec")
            status = 2
    return status


@builtin("jobs")
def b_jobs(sh: Any, args: list[str], inp: Input) -> Gen:
    opts = "".join(a[1:] for a in args[1:] if a.startswith("-"))
    specs = [a for a in args[1:] if not a.startswith("-")]
    jobs = [j for j in (_find(sh, s) for s in specs) if j is not None] if specs else sh.jobs
    for j in list(jobs):
        if "p" in opts:
            yield (1, f"{j.pid}\n".encode())
            continue
        mark = "+" if j is sh.jobs[-1] else " "
        state = "Done" if j.status == 0 else f"Exit {j.status}"
        pid = f"{j.pid} " if "l" in opts else ""
        yield (1, f"[{j.num}]{mark}  {pid}{state:<24}{j.text}\n".encode())
        sh.jobs.remove(j)  # a finished job is forgotten once reported
    return 0


@builtin("disown")
def b_disown(sh: Any, args: list[str], inp: Input) -> Gen:
    specs = [a for a in args[1:] if not a.startswith("-")]
    if not specs or "-a" in args:
        sh.jobs.clear()
    for s in specs:
        j = _find(sh, s)
        if j is not None:
            sh.jobs.remove(j)
    return 0
    yield


@builtin("kill")
def b_kill(sh: Any, args: list[str], inp: Input) -> Gen:
    rest = args[1:]
    sig = SIGNALS["TERM"]
    if rest and rest[0] in ("-l", "-L"):
        names = sorted(SIGNALS.items(), key=lambda kv: kv[1])
        if len(rest) > 1:
            for a in rest[1:]:
                n = int(a) & 127 if a.isdigit() else SIGNALS.get(a.upper().removeprefix("SIG"))
                name = next((k for k, v in SIGNALS.items() if v == n), None)
                if name is None:
                    yield err(f"kill: {a}: invalid signal specification")
                    return 1
                yield (1, f"{name if a.isdigit() else n}\n".encode())
            return 0
        yield (1, (" ".join(f"{v}) SIG{k}" for k, v in names) + "\n").encode())
        return 0
    if rest and rest[0] in ("-s", "-n") and len(rest) > 1:
        rest = ["-" + rest[1]] + rest[2:]
    if rest and rest[0].startswith("-") and rest[0] != "--" and len(rest[0]) > 1:
        name = rest.pop(0)[1:].upper().removeprefix("SIG")
        n = int(name) if name.isdigit() else SIGNALS.get(name)
        if n is None:
            yield err(f"kill: {name}: invalid signal specification")
            return 1
        sig = n
    if rest and rest[0] == "--":
        rest.pop(0)
    if not rest:
        yield err("kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ...")
        return 2
    status = 0
    for spec in rest:
        if spec == str(sh.pid) or spec == "0":
            if sig == 0:
                continue
            if sig in (SIGNALS["CHLD"], SIGNALS["CONT"]):
                continue
            raise ExitShell(128 + sig)
        if spec.startswith("%"):
            yield err(f"kill: {spec}: no such job")
        elif spec.lstrip("-").isdigit():
            yield err(f"kill: ({spec}) - No such process")
        else:
            yield err(f"kill: {spec}: arguments must be process or job IDs")
        status = 1
    return status


@builtin("umask")
def b_umask(sh: Any, args: list[str], inp: Input) -> Gen:
    rest = [a for a in args[1:] if a not in ("-p", "-S")]
    cur = sh.umask
    if not rest:
        if "-S" in args:
            parts = []
            for who, shift in (("u", 6), ("g", 3), ("o", 0)):
                bits = 7 & ~(cur >> shift)
                rwx = "".join(c for c, b in (("r", 4), ("w", 2), ("x", 1)) if bits & b)
                parts.append(f"{who}={rwx}")
            yield (1, (",".join(parts) + "\n").encode())
        else:
            yield (1, (("umask " if "-p" in args else "") + f"{cur:04o}\n").encode())
        return 0
    spec = rest[0]
    if all(c in "01234567" for c in spec):
        new = int(spec, 8) & 0o777
    else:
        allowed = 0o777 & ~cur
        for clause in spec.split(","):
            m = re.fullmatch(r"([ugoa]*)([-+=])([rwx]*)", clause)
            if not m:
                yield err(f"umask: {spec}: invalid symbolic mode operator")
                return 1
            bits = 0
            for w in m.group(1) or "a":
                for ww in "ugo" if w == "a" else w:
                    for c in m.group(3):
                        bits |= {"r": 4, "w": 2, "x": 1}[c] << {"u": 6, "g": 3, "o": 0}[ww]
            if m.group(2) == "+":
                allowed |= bits
            elif m.group(2) == "-":
                allowed &= ~bits
            else:
                for w in m.group(1) or "a":
                    for ww in "ugo" if w == "a" else w:
                        allowed &= ~(7 << {"u": 6, "g": 3, "o": 0}[ww])
                allowed |= bits
        new = 0o777 & ~allowed
    sh.umask = new
    if hasattr(os, "umask"):
        os.umask(new)
    return 0
