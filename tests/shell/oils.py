"""Parse and run the oils-spec shell test corpus against sandlot.guest.shell.

Shared by the tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandlot.guest.shell import BudgetExceeded, Shell
from sandlot.guest.shell.commands import COMMANDS
from sandlot.guest.shell.io import Gen, Input

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpora/oils-spec"
BASELINE = Path(__file__).with_name("oils_baseline.json")

OVERRIDE = re.compile(
    r"^## (OK|N-I|BUG)(?:-[\w.]+)? ([\w./-]+) "
    r"(stdout|stdout-json|STDOUT|status|stderr|stderr-json|STDERR)"
    r"(?::\s?(.*))?$"
)
PLAIN = re.compile(
    r"^## (stdout|stdout-json|STDOUT|status|stderr|stderr-json|STDERR|code)(?::\s?(.*))?$"
)


@dataclass
class Case:
    name: str
    code: str
    expect: dict[str, Any] = field(default_factory=dict)


def _is_bash(shells: str) -> bool:
    return any(s == "bash" or s.startswith("bash-") for s in shells.split("/"))


def parse_file(path: Path) -> list[Case]:
    cases: list[Case] = []
    cur: Case | None = None
    lines = path.read_text(encoding="utf-8", errors="surrogateescape").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("#### "):
            if cur is not None:
                cases.append(cur)
            cur = Case(line[5:].strip(), "")
            continue
        if cur is None:
            continue
        m = OVERRIDE.match(line)
        plain = PLAIN.match(line) if not m else None
        if m or plain:
            if m:
                applies = _is_bash(m.group(2))
                key, val = m.group(3), m.group(4)
            else:
                assert plain is not None
                applies = True
                key, val = plain.group(1), plain.group(2)
            if key in ("STDOUT", "STDERR"):
                block = []
                while (
                    i < len(lines)
                    and not lines[i].startswith("## END")
                    and not (
                        lines[i].startswith("## ")
                        and (OVERRIDE.match(lines[i]) or PLAIN.match(lines[i]))
                    )
                ):
                    block.append(lines[i])
                    i += 1
                if i < len(lines) and lines[i].startswith("## END"):
                    i += 1
                value: Any = "".join(b + "\n" for b in block)
                key = key.lower()
            elif key in ("stdout-json", "stderr-json"):
                value = json.loads(val)
                key = key[:-5]
            elif key == "status":
                value = int(val)
            elif key == "code":
                cur.code += (val or "") + "\n"
                continue
            else:
                value = (val or "") + "\n"
            if applies and not (m and m.group(1) == "N-I" and False):
                cur.expect[key] = value
            continue
        if line.startswith("## "):
            continue
        if not cur.expect:
            cur.code += line + "\n"
    if cur is not None:
        cases.append(cur)
    return cases


def _py2_repr(s: bytes) -> str:
    quote = '"' if (b"'" in s and b'"' not in s) else "'"
    out = [quote]
    for b in s:
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == quote:
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\x{b:02x}")
    out.append(quote)
    return "".join(out)


def _argv(sh: Any, args: list[str], inp: Input) -> Gen:
    items = [_py2_repr(a.encode("utf-8", "surrogateescape")) for a in args[1:]]
    yield (1, ("[" + ", ".join(items) + "]\n").encode())
    return 0


def _printenv(sh: Any, args: list[str], inp: Input) -> Gen:
    env = sh.env()
    for n in args[1:]:
        yield (1, (env.get(n, "None") + "\n").encode("utf-8", "surrogateescape"))
    return 0


def _stdout_stderr(sh: Any, args: list[str], inp: Input) -> Gen:
    yield (1, b"STDOUT\n")
    yield (2, b"STDERR\n")
    return int(args[1]) if len(args) > 1 and args[1].isdigit() else 0


def install_helpers() -> None:
    for n, f in (
        ("argv.py", _argv),
        ("printenv.py", _printenv),
        ("stdout_stderr.py", _stdout_stderr),
    ):
        COMMANDS[n] = f
        COMMANDS[f"$REPO_ROOT/spec/bin/{n}"] = f


SLOW_MACHINE_TIMEOUT = 10.0  # the second chance of a case that ran out of its 1 s


def run_case(case: Case, timeout: float = 1.0) -> tuple[bool, str, int]:
    """Run one case in a fresh shell and temp dir; returns (passed, stdout, status)."""
    install_helpers()
    old = os.getcwd()
    tmp = tempfile.mkdtemp(prefix="oils-")
    os.makedirs(os.path.join(tmp, "_tmp", "spec-tmp"))
    out: list[bytes] = []
    err: list[bytes] = []
    try:
        env = {
            "SH": "bash",
            "TMP": tmp,
            "PATH": "/usr/bin:/bin",
            "HOME": tmp,
            "REPO_ROOT": tmp,
            "USER": "root",
        }
        sh = Shell(env=env, cwd=tmp, timeout=timeout)
        try:
            status = sh.run(case.code, out=out.append, err=err.append)
        except BudgetExceeded:
            return False, "<timeout>", -1
        except RecursionError:
            return False, "<recursion>", -1
        except Exception as e:  # interpreter bug: count as failure
            return False, f"<crash {type(e).__name__}: {e}>", -1
    finally:
        os.chdir(old)
        shutil.rmtree(tmp, ignore_errors=True)
    stdout = b"".join(out).decode("utf-8", "replace")
    ok = stdout == case.expect.get("stdout", "") and status == case.expect.get("status", 0)
    return ok, stdout, status


def run_file(path: Path) -> tuple[int, int, list[str]]:
    cases = parse_file(path)
    passed = 0
    failed = []
    for c in cases:
        ok, out, _ = run_case(c)
        if out == "<timeout>":  # a busy machine is not a regression; a real hang still fails
            ok, _, _ = run_case(c, timeout=SLOW_MACHINE_TIMEOUT)
        if ok:
            passed += 1
        else:
            failed.append(c.name)
    return passed, len(cases), failed
