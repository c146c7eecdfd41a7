"""Generate the sync face (`sandlot/sdk/_sync/sandbox.py`) from the async one.

Usage: python scripts/unasync.py [--check]
With --check, exit 1 if the generated file is out of date (the test suite runs this).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "sandlot/sdk/_async/sandbox.py"
TARGET = ROOT / "sandlot/sdk/_sync/sandbox.py"

REPLACEMENTS = [
    (r"\basync def __aenter__\b", "def __enter__"),
    (r"\basync def __aexit__\b", "def __exit__"),
    (r"\basync def\b", "def"),
    (r"\bawait ", ""),
    (r"\bAsyncSandbox\b", "Sandbox"),
    (r"\bAsyncFiles\b", "Files"),
    (r"\bAsyncArtifacts\b", "Artifacts"),
    (r"\bAsyncCommands\b", "Commands"),
    (r"\bAsyncNetwork\b", "Network"),
    (r"\bAsyncCommandHandle\b", "CommandHandle"),
    (r"`await AsyncSandbox.create\(\)`", "`Sandbox.create()`"),
    (r"an async context manager", "a context manager"),
    (r"for async code", "for synchronous code"),
]

HEADER = (
    '"""`Sandbox`: the sandbox API for synchronous code.\n\n'
    "GENERATED from `sandlot/sdk/_async/sandbox.py` by `python scripts/unasync.py`: edit that\n"
    'file, not this one.\n"""\n'
)


def generate() -> str:
    text = SOURCE.read_text()
    body = text.split('"""\n', 1)[1]  # drop the async module's docstring
    for pattern, repl in REPLACEMENTS:
        body = re.sub(pattern, repl, body)
    return HEADER + body


def main() -> int:
    out = generate()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != out:
            print(f"{TARGET} is out of date: run python scripts/unasync.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
