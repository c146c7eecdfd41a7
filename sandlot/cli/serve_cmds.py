"""`sandlot serve` and `sandlot keys`: run the REST server and manage its API keys.

Kept apart from main.py so the server's dependencies load only when these commands run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

err = Console(stderr=True)

DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="The server's data folder (default: $SANDLOT_DATA or ~/.local/share/sandlot).",
    ),
]

keys_app = typer.Typer(help="API keys for `sandlot serve`.", no_args_is_help=True)


def _data_dir(data: Path | None) -> Path:
    from ..server.config import default_data_dir

    return data if data is not None else default_data_dir()


def serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7070,
    max_timeout: Annotated[
        float, typer.Option(help="The longest lifetime a client may give a sandbox, seconds.")
    ] = 3600.0,
    default_timeout: Annotated[
        float, typer.Option(help="A sandbox's lifetime when the client gives none, seconds.")
    ] = 300.0,
    max_sandboxes_per_key: Annotated[
        int, typer.Option(help="Live sandboxes one API key may hold at once.")
    ] = 16,
    allow_push: Annotated[
        bool, typer.Option("--allow-push", help="Accept images from `sandlot push`.")
    ] = False,
    data: DataOpt = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A TOML file of settings and [pools] (default: <data>/server.toml if it "
            "exists); flags given here win.",
        ),
    ] = None,
) -> None:
    """Serve sandboxes over HTTP (OpenAPI docs at /docs)."""
    import uvicorn

    from ..server import KeyStore, ServerConfig, create_app
    from ..server.config import is_loopback
    from ..server.guard import uvicorn_options

    flags: dict[str, Any] = {
        "host": host,
        "port": port,
        "default_timeout": default_timeout,
        "max_timeout": max_timeout,
        "max_sandboxes_per_key": max_sandboxes_per_key,
        "allow_push": allow_push,
    }
    if data is not None:
        flags["data_dir"] = data
    file = config
    if file is None and (_data_dir(data) / "server.toml").is_file():
        file = _data_dir(data) / "server.toml"
    try:
        if file is None:
            cfg = ServerConfig(**{"data_dir": _data_dir(data), **flags})
        else:
            # A flag left at its default does not override the file.
            defaults = ServerConfig()
            given = {k: v for k, v in flags.items() if v != getattr(defaults, k, None)}
            cfg = ServerConfig.from_file(file, **given)
        from ..server.pools import parse

        parse(cfg.pools)
    except (ValueError, TypeError) as e:
        err.print(f"[red]error:[/] {escape(str(e))}")  # "[limits] ..." is not markup
        raise typer.Exit(2) from None
    host, port = cfg.host, cfg.port
    default_timeout, max_timeout = cfg.default_timeout, cfg.max_timeout
    if default_timeout <= 0 or max_timeout < default_timeout:
        err.print("[red]error:[/] need 0 < --default-timeout <= --max-timeout")
        raise typer.Exit(2)
    store = KeyStore(cfg.db_path)
    if not store.has_keys():
        if not is_loopback(host):
            err.print(
                f"[red]error:[/] refusing to bind {host}: no API keys exist, so the server "
                "would be open to the network. Create one with `sandlot keys create` first."
            )
            raise typer.Exit(2)
        err.print("[yellow]no API keys yet:[/] create one with `sandlot keys create`")
    err.print(f"sandlot serve on http://{host}:{port} (docs: /docs, data: {cfg.data_dir})")
    uvicorn.run(
        create_app(cfg, keys=store),
        host=host,
        port=port,
        log_level="info",
        **uvicorn_options(cfg),
    )


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label to tell keys apart.")] = "",
    data: DataOpt = None,
) -> None:
    """Make an API key and print it (once: only its hash is kept)."""
    from ..server import KeyStore

    key_id, key = KeyStore(_data_dir(data) / "server.db").create(name)
    err.print(f"key {key_id} created; it is shown only now:")
    print(key)


@keys_app.command("list")
def keys_list(data: DataOpt = None) -> None:
    """The keys, live and revoked (never their secrets)."""
    import time

    from ..server import KeyStore

    table = Table(title="sandlot API keys")
    for col in ("id", "name", "created", "state"):
        table.add_column(col)
    for k in KeyStore(_data_dir(data) / "server.db").list():
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.created))
        table.add_row(k.id, k.name, when, "revoked" if k.revoked else "live")
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")],
    data: DataOpt = None,
) -> None:
    """Refuse a key from now on."""
    from ..errors import SandboxError
    from ..server import KeyStore

    try:
        KeyStore(_data_dir(data) / "server.db").revoke(key_id)
    except SandboxError as e:
        err.print(f"[red]{type(e).__name__}:[/] {e}")
        raise typer.Exit(1) from None
    err.print(f"key {key_id} revoked")


def register(app: typer.Typer) -> None:
    """Add `serve` and `keys` to the `sandlot` CLI."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
