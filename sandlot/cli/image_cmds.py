"""`sandlot image …`: build, import, list and remove template images (docs/images.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import SandboxError

err = Console(stderr=True)
out = Console()

image_app = typer.Typer(help="Template images for the Linux tiers.", no_args_is_help=True)


@contextmanager
def _progress(title: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time and the latest progress line; notable lines (not the
    per-package ones) are kept above it, so the log of a long build stays readable."""
    start = time.monotonic()
    with err.status(title, spinner="dots") as status:

        def emit(line: str) -> None:
            elapsed = time.monotonic() - start
            status.update(f"[bold]{title}[/] [dim]{elapsed:5.0f}s[/] {_esc(line)}")
            if not line[:1].islower() or line.startswith(("built", "imported", "reusing")):
                err.print(f"[dim]{elapsed:5.0f}s[/] {_esc(line)}")

        yield emit


def _esc(text: str) -> str:
    return text.replace("[", "\\[")


def _fail(e: SandboxError) -> typer.Exit:
    err.print(f"[red]{type(e).__name__}:[/] {_esc(str(e))}")
    return typer.Exit(1)


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


@image_app.command("build")
def build_cmd(
    template: Annotated[
        str | None, typer.Argument(help="The template to build (optional with --kernel).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if built.")] = False,
    kernel: Annotated[
        bool,
        typer.Option(
            "--kernel",
            help="Also prepare the microvm tier: its kernel and initramfs, and with a "
            "TEMPLATE that template's root disk and memory snapshot (one cold boot).",
        ),
    ] = False,
    custom_kernel: Annotated[
        bool,
        typer.Option(
            "--custom-kernel",
            help="With --kernel: compile sandlot's own guest kernel from Debian's "
            "linux-source (many minutes, once; cached) instead of using Debian's kernel "
            "package. Sandboxes use it under SANDLOT_MICROVM_KERNEL=custom.",
        ),
    ] = False,
) -> None:
    """Build a template's image with debootstrap (needs root and the Debian mirror)."""
    from .. import images
    from ..sdk.doctor import prepare_microvm

    if template is None and not kernel:
        err.print("[red]InvalidArgument:[/] give a TEMPLATE to build, or --kernel (or both)")
        raise typer.Exit(2)
    if custom_kernel and not kernel:
        err.print("[red]InvalidArgument:[/] --custom-kernel goes with --kernel")
        raise typer.Exit(2)
    start = time.monotonic()
    try:
        if template is not None:
            with _progress(f"building {template}") as emit:
                image = images.build(template, progress=emit, force=force)
            took = time.monotonic() - start
            out.print(
                f"{image.name} {image.short_digest} {_mb(image.size)} ({took:.1f} s) {image.rootfs}"
            )
        if kernel:
            start = time.monotonic()
            with _progress("preparing the microvm tier") as emit:
                done = prepare_microvm(template, progress=emit, custom_kernel=custom_kernel)
            out.print(f"{done} ({time.monotonic() - start:.1f} s)")
    except SandboxError as e:
        raise _fail(e) from None


@image_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="An OCI layout or `docker save` tarball.")],
    name: Annotated[str | None, typer.Option(help="The image's name (default: its tag).")] = None,
) -> None:
    """Import an OCI or docker-save tarball as an image."""
    from .. import images

    try:
        with _progress(f"importing {file.name}") as emit:
            image = images.import_oci(file, name, progress=emit)
    except SandboxError as e:
        raise _fail(e) from None
    out.print(f"{image.name} {image.short_digest} {_mb(image.size)} {image.rootfs}")


@image_app.command("list")
def list_cmd() -> None:
    """The images in the local store."""
    from .. import images

    try:
        found = images.list_images()
    except SandboxError as e:
        raise _fail(e) from None
    if not found:
        err.print(f"no images in {images.store_root()} (`sandlot image build base` makes one)")
        return
    table = Table(title=f"images in {images.store_root()}")
    for col in ("name", "digest", "size", "created", "source"):
        table.add_column(col, justify="right" if col == "size" else "left")
    for i in found:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.created))
        table.add_row(i.name, i.short_digest, _mb(i.size), created, i.source)
    out.print(table)


@image_app.command("rm")
def rm_cmd(
    name: Annotated[str, typer.Argument(help="An image name, or a digest (prefix).")],
) -> None:
    """Remove images by name (every version) or by digest."""
    from .. import images

    try:
        images.remove(name)
    except SandboxError as e:
        raise _fail(e) from None
    err.print(f"removed {name}")


@image_app.command("templates")
def templates_cmd() -> None:
    """The known templates and whether each is built here."""
    from .. import images

    try:
        recipes = images.templates()
        table = Table(title="templates")
        for col in ("name", "description", "packages", "tiers", "built"):
            table.add_column(col)
        for r in recipes:
            image = images.find(r.name)
            table.add_row(
                r.name,
                r.description,
                " ".join(r.packages.apt + r.packages.pip),
                ", ".join(r.tiers),
                image.short_digest if image else "-",
            )
    except SandboxError as e:
        raise _fail(e) from None
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add `image` to the `sandlot` CLI."""
    app.add_typer(image_app, name="image")
