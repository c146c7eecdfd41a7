"""`sandlot`: run code in a sandbox, check this host, warm the runtime."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import SandboxError
from ..sdk.doctor import TierReport, tier_reports, warmup
from .echo import echo_to

app = typer.Typer(
    name="sandlot",
    help="Run untrusted code safely: in WebAssembly by default, in stronger tiers on demand.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

AllowOut = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-out",
        metavar="HOST",
        help="Let the sandbox reach HOST (example.org, *.example.com, 203.0.113.0/24, "
        "optionally :PORT) through the host's gateway; repeatable. Default: no network.",
        show_default=False,
    ),
]


def network_of(*hosts: list[str] | None) -> dict[str, Any] | None:
    """`Sandbox.create(network=)` for the --allow-out hosts given (None: no network)."""
    allow = [h for given in hosts for h in given or ()]
    return {"allow_out": allow} if allow else None


@app.callback()
def main(ctx: typer.Context, allow_out: AllowOut = None) -> None:
    """With no command: an interactive shell in a fresh sandbox (Ctrl-D leaves)."""
    ctx.obj = allow_out  # `sandlot --allow-out H exec ...` counts for the command too
    if ctx.invoked_subcommand is None:
        from .repl import interactive_shell

        raise typer.Exit(interactive_shell(network_of(allow_out)))


@app.command("exec")
def exec_cmd(
    ctx: typer.Context,
    command: Annotated[str, typer.Argument(help="A shell command line.")],
    timeout: Annotated[float, typer.Option(help="Seconds the command may run.")] = 60.0,
    allow_out: AllowOut = None,
) -> None:
    """Run one shell command in a fresh sandbox and exit with its status."""
    from .. import Sandbox

    try:
        with Sandbox.create(network=network_of(ctx.obj, allow_out)) as sbx:
            result = sbx.commands.run(
                command,
                timeout=timeout,
                on_stdout=echo_to(sys.stdout),
                on_stderr=echo_to(sys.stderr),
            )
    except SandboxError as e:
        err.print(f"[red]{type(e).__name__}:[/] {e}")
        raise typer.Exit(1) from None
    raise typer.Exit(result.exit_code)


@app.command()
def run(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(help="A Python file to run.", show_default=False)
    ] = None,
    code: Annotated[
        str | None, typer.Option("-c", "--code", help="Python source to run.", show_default=False)
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds the code may run.")] = 60.0,
    template: Annotated[str | None, typer.Option(help="Template to run in.")] = None,
    allow_out: AllowOut = None,
) -> None:
    """Run Python in a fresh sandbox; print its output; exit with its status."""
    from .. import Sandbox

    if (file is None) == (code is None):
        err.print("[red]error:[/] give either FILE or -c CODE (exactly one)")
        raise typer.Exit(2)
    if file is not None:
        try:
            source = file.read_text(encoding="utf-8")
        except OSError as e:
            err.print(f"[red]error:[/] cannot read {file}: {e.strerror}")
            raise typer.Exit(2) from None
    else:
        assert code is not None
        source = code
    try:
        with Sandbox.create(template, network=network_of(ctx.obj, allow_out)) as sbx:
            ex = sbx.run_code(
                source,
                timeout=timeout,
                on_stdout=echo_to(sys.stdout),
                on_stderr=echo_to(sys.stderr),
            )
    except SandboxError as e:
        err.print(f"[red]{type(e).__name__}:[/] {e}")
        raise typer.Exit(1) from None
    if ex.text is not None:
        print(ex.text)
    if ex.truncated:
        err.print(f"[yellow]output truncated:[/] {', '.join(ex.truncated)}")
    if ex.error is not None:
        sys.stderr.write(ex.error.traceback or f"{ex.error.name}: {ex.error.value}\n")
        status = _exit_status(ex.error.name, ex.error.value)
        raise typer.Exit(status)


def _exit_status(name: str, value: str) -> int:
    if name == "SystemExit":
        try:
            return int(value or 0)
        except ValueError:
            return 1
    return 1


@app.command()
def doctor() -> None:
    """Which tiers this host can run, why not, and the state of the compile cache."""
    reports = tier_reports()
    table = Table(title="sandlot tiers on this host")
    for col in ("tier", "available", "provides", "why not / fix"):
        table.add_column(col)
    for r in reports:
        table.add_row(r.name, _yes_no(r), ", ".join(sorted(r.capabilities)), _why(r))
    console = Console()
    console.print(table)
    for r in reports:
        for note in r.isolation_notes:
            console.print(f"[yellow]{r.name}[/]: {note}")
    from ..runtimes.wasm.compile_cache import state

    for metered in (False, True):
        s = state(metered)
        where = f" ({s.path}, {s.size >> 20} MiB)" if s.ready else ""
        status = "[green]compiled[/]" if s.ready else "[yellow]not compiled[/] (sandlot warmup)"
        console.print(f"wasm module cache, {s.flavor}: {status}{where}")


def _yes_no(r: TierReport) -> str:
    return "[green]yes[/]" if r.available else "[red]no[/]"


def _why(r: TierReport) -> str:
    return r.reason if r.available else f"{r.reason}; fix: {r.fix}"


@app.command("warmup")
def warmup_cmd(
    fuel: Annotated[
        bool, typer.Option(help="Also compile the fuel-metered runtime (for cpu_fuel limits).")
    ] = False,
) -> None:
    """Compile the WebAssembly runtime ahead of time (once per machine)."""
    try:
        seconds = warmup(metered=fuel)
    except SandboxError as e:
        err.print(f"[red]{type(e).__name__}:[/] {e}")
        raise typer.Exit(1) from None
    err.print(f"ready: a sandbox starts and runs a call in {seconds * 1000:.0f} ms")


__import__("sandlot.cli.serve_cmds", fromlist=["register"]).register(app)  # serve, keys


__import__("sandlot.cli.mcp_cmd", fromlist=["register"]).register(app)  # `sandlot mcp`
__import__("sandlot.cli.image_cmds", fromlist=["register"]).register(app)  # `sandlot image`
__import__("sandlot.cli.registry_cmds", fromlist=["register"]).register(app)  # pull push list


if __name__ == "__main__":
    app()
