"""`sandlot pull`, `sandlot push` and `sandlot list`: images and named snapshots between
this host and a `sandlot serve` registry (docs/server.md). The server and key come from
--from/--to and --api-key, else $SANDLOT_URL and $SANDLOT_API_KEY."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ..errors import SandboxError

err = Console(stderr=True)
out = Console()

KeyOpt = Annotated[
    str | None, typer.Option("--api-key", help="The server's API key (default: $SANDLOT_API_KEY).")
]


def _url(given: str | None) -> str:
    url = given or os.environ.get("SANDLOT_URL")
    if not url:
        err.print("[red]error:[/] give the server with --from/--to URL, or set SANDLOT_URL")
        raise typer.Exit(2)
    return url


def _fail(e: SandboxError) -> typer.Exit:
    message = str(e).replace("[", "\\[")
    err.print(f"[red]{type(e).__name__}:[/] {message}")
    return typer.Exit(1)


@contextmanager
def _bar(title: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(title, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def pull(
    ref: Annotated[str, typer.Argument(help="NAME[:TAG]; the tag defaults to latest.")],
    source: Annotated[
        str | None, typer.Option("--from", help="The registry (default: $SANDLOT_URL).")
    ] = None,
    api_key: KeyOpt = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", help="image or snapshot, when the registry has both under the name."
        ),
    ] = None,
) -> None:
    """Download an image or a named snapshot, verify its sha256, and add it to the local
    image store (a snapshot: this host's snapshots, for Sandbox.create(snapshot=NAME))."""
    from ..models import SnapshotInfo
    from ..sdk.registry_client import RegistryClient

    if kind not in (None, "image", "snapshot"):
        err.print("[red]error:[/] --kind is image or snapshot")
        raise typer.Exit(2)
    client = RegistryClient(_url(source), api_key or os.environ.get("SANDLOT_API_KEY"))
    try:
        with _bar(f"pull {ref}") as progress:
            got = client.pull(ref, progress, kind)
    except SandboxError as e:
        raise _fail(e) from None
    finally:
        client.close()
    if isinstance(got, SnapshotInfo):
        err.print(f"pulled snapshot {got.name} ({got.tier}, {_mb(got.size)}), verified")
        return
    err.print(f"pulled {got.name} {got.digest[:12]} ({got.size / 1e6:.0f} MB), verified")


def push(
    ref: Annotated[str, typer.Argument(help="A local image's or named snapshot's NAME[:TAG].")],
    dest: Annotated[
        str | None, typer.Option("--to", help="The server (default: $SANDLOT_URL).")
    ] = None,
    api_key: KeyOpt = None,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="image (the default) or snapshot: a local named snapshot."),
    ] = None,
) -> None:
    """Upload a local image, or a named snapshot (--kind snapshot: it becomes the key's
    snapshot NAME there), to a server started with --allow-push."""
    from .. import images
    from ..images import store
    from ..sdk.registry_client import RegistryClient, parse_ref

    if kind not in (None, "image", "snapshot"):
        err.print("[red]error:[/] --kind is image or snapshot")
        raise typer.Exit(2)
    if kind == "snapshot":
        _push_snapshot(ref, dest, api_key)
        return
    try:
        name, tag = parse_ref(ref)
        found = [
            i for i in images.list_images() if i.name == name and tag in ("latest", i.digest[:12])
        ]
        if not found:
            raise _fail(SandboxError(f"no local image {ref} (see `sandlot list`)"))
        client = RegistryClient(_url(dest), api_key or os.environ.get("SANDLOT_API_KEY"))
        work = store.images_dir() / f".tmp-{os.getpid()}-push"
        work.mkdir(exist_ok=True)
        try:
            with _bar(f"push {ref}") as progress:
                entry = client.push(name, tag, found[0].rootfs, work, progress)
        finally:
            client.close()
            work.rmdir()
    except SandboxError as e:
        raise _fail(e) from None
    err.print(f"pushed {entry['ref']} ({entry['digest']})")


def _push_snapshot(ref: str, dest: str | None, api_key: str | None) -> None:
    from ..sdk.registry_client import RegistryClient, parse_ref

    try:
        name, tag = parse_ref(ref)
        client = RegistryClient(_url(dest), api_key or os.environ.get("SANDLOT_API_KEY"))
        try:
            with _bar(f"push snapshot {ref}") as progress:
                entry = client.push_snapshot(name, tag, progress)
        finally:
            client.close()
    except SandboxError as e:
        raise _fail(e) from None
    err.print(f"pushed snapshot {entry['name']} ({entry['digest']}), verified by the server")


def list_cmd(
    source: Annotated[
        str | None,
        typer.Option("--from", help="Also list this registry's images (default: $SANDLOT_URL)."),
    ] = None,
    api_key: KeyOpt = None,
) -> None:
    """Images in the local store, and in a registry when one is given or set."""
    from .. import images
    from ..sdk.registry_client import RegistryClient

    table = Table(title="sandlot images")
    for col in ("where", "name:tag", "digest", "size", "created"):
        table.add_column(col)
    for i in images.list_images():
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.created))
        table.add_row("local", f"{i.name}:{i.digest[:12]}", i.digest[:12], _mb(i.size), when)
    url = source or os.environ.get("SANDLOT_URL")
    if url:
        client = RegistryClient(url, api_key or os.environ.get("SANDLOT_API_KEY"))
        try:
            for e in client.entries():
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(e["created"])))
                digest = str(e["digest"]).removeprefix("sha256:")[:12]
                ref = str(e["ref"]) + (" (snapshot)" if e.get("kind") == "snapshot" else "")
                table.add_row(url, ref, digest, _mb(int(e["size"])), when)
        except (SandboxError, KeyError, TypeError, ValueError) as e:
            err.print(f"[yellow]cannot list {url}:[/] {e}")
        finally:
            client.close()
    out.print(table)


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def register(app: typer.Typer) -> None:
    """Add `pull`, `push` and `list` to the `sandlot` CLI."""
    app.command("pull")(pull)
    app.command("push")(push)
    app.command("list")(list_cmd)
