"""Turning sandlot's values (executions, command results, files) into MCP tool results."""

from __future__ import annotations

import base64

from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent

from ..errors import LimitExceeded, SandboxError
from ..models import CommandResult, EntryInfo, Execution

TEXT_LIMIT = 40_000
"""The most characters of one output stream or file put into a tool result."""


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n... [{cut} characters left out] ...\n{text[-half:]}"


def _text(text: str) -> TextContent:
    return TextContent(type="text", text=text)


def ok(text: str, *images: ImageContent) -> CallToolResult:
    content: list[ContentBlock] = [_text(text), *images]
    return CallToolResult(content=content)


def error_result(e: SandboxError) -> CallToolResult:
    message = f"{type(e).__name__}: {e}"
    if isinstance(e, LimitExceeded):
        message += (
            f"\nThe {e.limit} limit stopped this call. The sandbox is still usable and keeps "
            "its state from before it; try less work per call."
        )
    return CallToolResult(content=[_text(message)], isError=True)


def _image(data: bytes, mime: str = "image/png") -> ImageContent:
    return ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mimeType=mime)


def execution_result(ex: Execution, note: str = "") -> CallToolResult:
    """run_python's result: the printed output, the error, the value, then any figures."""
    parts: list[str] = [note] if note else []
    if ex.logs.stdout:
        parts.append(f"[stdout]\n{clip(ex.logs.stdout)}")
    if ex.logs.stderr:
        parts.append(f"[stderr]\n{clip(ex.logs.stderr)}")
    if ex.error is not None:
        tb = ex.error.traceback.rstrip() or f"{ex.error.name}: {ex.error.value}"
        parts.append(f"[error] {ex.error.name}: {ex.error.value}\n{clip(tb)}")
    images: list[ImageContent] = []
    for r in ex.results:
        if r.png is not None:
            images.append(_image(r.png))
        elif r.is_main_result and r.text is not None:
            parts.append(f"[result]\n{clip(r.text)}")
        elif r.text is not None:
            parts.append(f"[display]\n{clip(r.text)}")
    if images:
        parts.append(f"[{len(images)} figure{'s' if len(images) > 1 else ''} attached as PNG]")
    if ex.truncated:
        parts.append(f"[output truncated by the sandbox's output limit: {', '.join(ex.truncated)}]")
    if not parts or (note and len(parts) == 1):
        parts.append("(no output; the code ran without printing or producing a value)")
    return ok("\n".join(p.rstrip("\n") for p in parts), *images)


def command_result(res: CommandResult, note: str = "") -> CallToolResult:
    parts: list[str] = [note] if note else []
    parts.append(f"exit code: {res.exit_code}")
    if res.stdout:
        parts.append(f"[stdout]\n{clip(res.stdout)}")
    if res.stderr:
        parts.append(f"[stderr]\n{clip(res.stderr)}")
    if res.truncated:
        parts.append(
            f"[output truncated by the sandbox's output limit: {', '.join(res.truncated)}]"
        )
    return ok("\n".join(p.rstrip("\n") for p in parts))


def entry_line(e: EntryInfo) -> str:
    if e.type == "dir":
        return f"dir   {'-':>10}  {e.path.rstrip('/')}/"
    if e.type == "symlink":
        return f"link  {'-':>10}  {e.path} -> {e.symlink_target}"
    return f"{e.type:<5} {e.size:>10}  {e.path}"


IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
}


def file_result(path: str, data: bytes, note: str = "") -> CallToolResult:
    """read_file's result: an image for PNG, JPEG and GIF, else the (clipped) UTF-8 text."""
    for magic, mime in IMAGE_MAGIC.items():
        if data.startswith(magic):
            return ok(f"{note}{path}: {mime}, {len(data)} bytes", _image(data, mime))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ok(
            f"{note}{path} is a binary file of {len(data)} bytes (not UTF-8 text); "
            "inspect it with run_python instead."
        )
    return ok(note + clip(text))
