"""The interactive shell behind a bare `sandlot`: a prompt with line editing and history
(readline), Ctrl-C to interrupt the running command, Ctrl-D to leave."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import SandboxError
from .echo import echo_to

HISTORY = Path(os.environ.get("SANDLOT_HISTORY", Path.home() / ".sandlot_history"))


def _setup_readline() -> None:
    try:
        import readline
    except ImportError:  # not on every platform; the shell works without it
        return
    try:
        readline.read_history_file(HISTORY)
    except OSError:
        pass
    readline.set_history_length(2000)
    import atexit

    atexit.register(_save_history, readline)


def _save_history(readline: object) -> None:
    try:
        readline.write_history_file(HISTORY)  # type: ignore[attr-defined]
    except OSError:
        pass


def interactive_shell(network: dict[str, Any] | None = None) -> int:
    """Run the prompt until Ctrl-D; return the last command's status. `network`: the
    sandbox's policy (`sandlot --allow-out HOST`)."""
    from .. import Sandbox

    console = Console(stderr=True)
    _setup_readline()
    status = 0
    with console.status("starting a sandbox..."):
        sbx = Sandbox.create(timeout=24 * 3600, network=network)
    console.print(f"[dim]sandlot {sbx.tier} sandbox {sbx.id}; Ctrl-D leaves, Ctrl-C interrupts[/]")
    with sbx:
        while True:
            try:
                line = input("sandlot$ " if status == 0 else f"sandlot[{status}]$ ")
            except EOFError:
                print()
                return status
            except KeyboardInterrupt:
                print()
                continue
            if not line.strip():
                continue
            try:
                result = sbx.commands.run(
                    line,
                    timeout=3600,
                    on_stdout=echo_to(sys.stdout),
                    on_stderr=echo_to(sys.stderr),
                )
                status = result.exit_code
            except KeyboardInterrupt:
                print("^C", file=sys.stderr)
                status = 130
            except SandboxError as e:
                console.print(f"[red]{type(e).__name__}:[/] {e}")
                status = 1
