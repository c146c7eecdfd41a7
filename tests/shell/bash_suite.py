"""GNU bash's own regression suite (../shared/corpora/bash-tests/tests) against the sandbox shell.

Each test script runs from a fresh copy of the tests folder (its `.sub` files beside it) with
stdout and stderr merged, as bash's `run-*` drivers do, once under the host's bash (cached in
bash_suite_reference.json) and once under sandlot.guest.shell as `bash ./X.tests`. Per file we
count how many of bash's output lines the shell reproduces, in order (difflib's matching
blocks), and check that count against bash_baseline.json.

    python -m tests.shell.bash_suite --reference   # rerun the host bash -> reference JSON
    python -m tests.shell.bash_suite               # per-file figures
    python -m tests.shell.bash_suite --update      # ... and rewrite the baseline
    python -m tests.shell.bash_suite --table       # ... and the table in docs/shell.md
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[1].parent / "shared/corpora/bash-tests/tests"
REFERENCE = HERE / "bash_suite_reference.json"
BASELINE = HERE / "bash_baseline.json"
DOC = HERE.parents[1] / "docs" / "shell.md"
BASH = "/bin/bash"
FILE_SECONDS = 8.0
HOST_SECONDS = 60.0
MAX_LINES = 5000
MAX_WIDTH = 400

# Scripts that test what a sandbox has no way to offer; listed in the docs table with why.
SKIP = {
    "jobs.tests": "job control (fg/bg/suspend, job notifications)",
    "coproc.tests": "coprocesses run concurrently with the shell",
    "history.tests": "interactive history list (a terminal session's)",
    "histexp.tests": "history expansion (interactive `!` events)",
    "complete.tests": "programmable completion (readline, a terminal)",
    "exportfunc.tests": "exported functions through a real child bash's environment",
    "dbg-support.tests": "the bash debugger's DEBUG/RETURN stepping (needs bashdb support)",
    "dbg-support2.tests": "the bash debugger's DEBUG/RETURN stepping (needs bashdb support)",
    "execscript": "exec of host binaries and real child processes",
    "invocation.tests": "bash's own command-line invocation (a real executable)",
    "rsh.tests": "restricted shell mode (bash -r)",
    "run-minimal": "a minimal-config bash build",
    "input-line.sh": "reads its script from a terminal-like stdin line by line",
    # the host has no en_US.UTF-8 / de_DE locales: bash's own output here is setlocale warnings
    "intl.tests": "locales the reference host lacks (en_US.UTF-8 and others)",
    "test-glue-functions": "helper, not a test",
    "version": "helper, not a test",
    "version.mini": "helper, not a test",
}


def scripts() -> list[str]:
    """The scripts bash's run-* drivers run (`${THIS_SH} ./name`)."""
    if not CORPUS.is_dir():  # pragma: no cover
        return []
    names: set[str] = set()
    for run in CORPUS.glob("run-*"):
        text = run.read_text(errors="replace")
        for m in re.finditer(r"\$\{THIS_SH\} \./([\w.-]+)", text):
            names.add(m.group(1))
        for m in re.finditer(r"TEST_NAME='([\w-]+)'", text):
            names.add(m.group(1) + ".tests")
    return sorted(n for n in names if (CORPUS / n).is_file())


def _filters_expect(name: str) -> bool:
    """Whether bash's driver drops `expect …` lines from this script's output."""
    for run in CORPUS.glob("run-*"):
        text = run.read_text(errors="replace")
        if f"./{name} 2>&1 | grep -v '^expect'" in text or f"./{name} | grep -v" in text:
            return True
    return False


def _env(tmp: str) -> dict[str, str]:
    return {
        "PATH": f"{tmp}:/usr/bin:/bin",
        "HOME": tmp,
        "TMPDIR": os.path.join(tmp, "_tmp"),
        "THIS_SH": "bash",
        "BASH_TSTOUT": os.path.join(tmp, "_tmp", "bashtst"),
        "LC_ALL": "C.UTF-8",
        "USER": "root",
        "TERM": "dumb",
    }


def _lines(data: bytes, name: str, tmp: str) -> list[str]:
    text = data.decode("utf-8", "replace").replace(tmp, "$TMP")
    lines = [ln[:MAX_WIDTH] for ln in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if _filters_expect(name):
        lines = [ln for ln in lines if not ln.startswith("expect")]
    return lines[:MAX_LINES]


def recho_line(i: int, arg: bytes) -> bytes:
    """What bash's support/recho prints for one argument: control bytes as ^X."""
    shown = bytearray()
    for b in arg:
        if b < 32:
            shown += bytes((94, b + 64))
        elif b == 127:
            shown += b"^?"
        else:
            shown.append(b)
    return b"argv[%d] = <%s>\n" % (i, bytes(shown))


# bash's test helpers (support/recho.c, zecho.c) as host scripts; the sandbox gets commands.
_HOST_HELPERS = {
    "recho": "sys.stdout.buffer.write(b''.join("
    "recho_line(i, os.fsencode(a)) for i, a in enumerate(sys.argv[1:], 1)))",
    "zecho": "sys.stdout.buffer.write(b' '.join(map(os.fsencode, sys.argv[1:])) + b'\\n')",
}


def _copy(host: bool) -> str:
    tmp = tempfile.mkdtemp(prefix="bash-suite-")
    shutil.copytree(CORPUS, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.right"))
    os.makedirs(os.path.join(tmp, "_tmp"))
    if host:
        src = Path(__file__).read_text()
        helper = src[src.index("def recho_line") : src.index("# bash's test helpers")]
        for name, body in _HOST_HELPERS.items():
            f = Path(tmp, name)
            f.write_text(f"#!{sys.executable}\nimport os, sys\n{helper}\n{body}\n")
            f.chmod(0o755)
    return tmp


def _recho(sh: Any, args: list[str], inp: Any) -> Any:
    yield (1, b"".join(recho_line(i, os.fsencode(a)) for i, a in enumerate(args[1:], 1)))
    return 0


def _zecho(sh: Any, args: list[str], inp: Any) -> Any:
    yield (1, b" ".join(map(os.fsencode, args[1:])) + b"\n")
    return 0


def host_file(name: str) -> list[str]:
    """bash's own output for one script: the reference lines."""
    from .reference import _run

    tmp = _copy(host=True)
    try:
        out, _ = _run(
            [BASH, "-c", f"exec 2>&1; exec {BASH} ./{name}"], b"", tmp, _env(tmp), HOST_SECONDS
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _lines(out, name, tmp)


class FileTimeout(BaseException):
    """SIGALRM: a script blocked outside the shell's own budget."""


def _alarm(signum: int, frame: Any) -> None:
    raise FileTimeout()


def ours_file(name: str) -> list[str]:
    """The sandbox shell's output for one script, stdout and stderr in the order written."""
    from sandlot.guest.shell import BudgetExceeded, Shell
    from sandlot.guest.shell.commands import COMMANDS

    COMMANDS["recho"] = _recho
    COMMANDS["zecho"] = _zecho
    tmp = _copy(host=False)
    old = os.getcwd()
    out: list[bytes] = []
    try:
        sh = Shell(cwd=tmp, env=_env(tmp), timeout=FILE_SECONDS)
        old_handler = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, FILE_SECONDS + 1)
        try:
            sh.run(f"bash ./{name}", out=out.append, err=out.append)
        except (BudgetExceeded, FileTimeout, RecursionError, MemoryError):
            pass
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
    finally:
        os.chdir(old)
        shutil.rmtree(tmp, ignore_errors=True)
    return _lines(b"".join(out), name, tmp)


def matched(ref: list[str], ours: list[str]) -> int:
    """How many of bash's lines the shell reproduces, in order."""
    sm = difflib.SequenceMatcher(None, ref, ours, autojunk=False)
    return sum(b.size for b in sm.get_matching_blocks())


def reference() -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads(REFERENCE.read_text())
    return data


def measure(only: list[str] | None = None, exact: bool = False) -> dict[str, tuple[int, int]]:
    """Per script: (lines reproduced, bash's lines); `only` names files, or parts of names."""
    ref = reference()
    res = {}
    for name in sorted(ref):
        if only is not None and (name not in only if exact else not any(o in name for o in only)):
            continue
        res[name] = (matched(ref[name], ours_file(name)), len(ref[name]))
    return res


def table(res: dict[str, tuple[int, int]]) -> str:
    out = ["| file | lines reproduced | bash's lines | % |", "|---|---:|---:|---:|"]
    for name, (m, n) in sorted(res.items()):
        out.append(f"| {name} | {m} | {n} | {100 * m / n if n else 100:.0f}% |")
    m = sum(v[0] for v in res.values())
    n = sum(v[1] for v in res.values())
    out.append(f"| **total** | {m} | {n} | **{100 * m / n if n else 100:.1f}%** |")
    out.append("")
    out.append("Skipped, with why:")
    out.append("")
    for name, why in sorted(SKIP.items()):
        if (CORPUS / name).exists() and "helper" not in why:
            out.append(f"- `{name}`: {why}")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    if "--reference" in argv:
        data = {n: host_file(n) for n in scripts() if n not in SKIP}
        REFERENCE.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")
        print(f"{len(data)} scripts, {sum(map(len, data.values()))} lines")
        return
    only = [a for a in argv if not a.startswith("--")]
    start = time.monotonic()
    res = measure(only or None)
    for name, (m, n) in res.items():
        print(f"{name:28} {m:5}/{n:<5} {100 * m / n if n else 100:5.1f}%")
    m = sum(v[0] for v in res.values())
    n = sum(v[1] for v in res.values())
    print(f"total {m}/{n} = {100 * m / n if n else 100:.1f}% in {time.monotonic() - start:.0f}s")
    if "--update" in argv and not only:
        BASELINE.write_text(
            json.dumps({k: v[0] for k, v in res.items()}, indent=1, sort_keys=True) + "\n"
        )
    if "--table" in argv and not only:
        pat = re.compile(r"(<!-- bash-suite-table -->\n).*?(<!-- /bash-suite-table -->)", re.S)
        DOC.write_text(pat.sub(lambda x: x.group(1) + table(res) + x.group(2), DOC.read_text()))


if __name__ == "__main__":
    main(sys.argv[1:])
