"""A sandbox's files: download, upload, remove, list, stat, exists, rename, mkdir."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ...errors import LimitExceeded
from .. import bodies
from ..deps import FilePath, Owner, Svc
from ..errors import ERRORS
from ..schemas import EntryOut, MkdirIn, RenameIn
from ..views import entry_out

router = APIRouter(tags=["files"], responses=ERRORS)

_FILES = "/v1/sandboxes/{sandbox_id}/files"
_CHUNK = 64 << 10


@router.get(
    _FILES,
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download(sandbox_id: str, path: FilePath, who: Owner, svc: Svc) -> StreamingResponse:
    """A file's bytes (at most the sandbox's `limits.file_read_bytes`, else 413)."""
    entry = svc.owned(sandbox_id, who)
    data: bytes = svc.call(entry, "files_read", entry.core.files_read, path, "bytes")

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), _CHUNK):
            yield data[i : i + _CHUNK]

    return StreamingResponse(
        chunks(), media_type="application/octet-stream", headers={"Content-Length": str(len(data))}
    )


@router.put(_FILES)
async def upload(
    sandbox_id: str, path: FilePath, request: Request, who: Owner, svc: Svc
) -> EntryOut:
    """Write the request body to `path` (parents made); over the size cap: 413."""
    entry = svc.owned(sandbox_id, who)
    cap = svc.cfg.max_upload_bytes

    def too_big() -> LimitExceeded:
        return LimitExceeded(
            "file_size", f"the upload is larger than this server accepts ({cap} bytes)"
        )

    data = await bodies.read(request, cap, too_big)
    write = entry.core.files_write
    return entry_out(await run_in_threadpool(svc.call, entry, "files_write", write, path, data))


@router.delete(_FILES, status_code=204)
def remove(sandbox_id: str, path: FilePath, who: Owner, svc: Svc) -> Response:
    """Remove a file, a link or a whole folder."""
    entry = svc.owned(sandbox_id, who)
    svc.call(entry, "files_remove", entry.core.files_op, "remove", path)
    return Response(status_code=204)


@router.get(_FILES + "/list")
def list_files(
    sandbox_id: str,
    who: Owner,
    svc: Svc,
    path: FilePath = ".",
    depth: Annotated[int, Query(ge=1, le=256)] = 1,
) -> list[EntryOut]:
    entry = svc.owned(sandbox_id, who)
    found = svc.call(entry, "files_list", entry.core.files_op, "list", path, depth)
    return [entry_out(e) for e in found]


@router.get(_FILES + "/stat")
def stat(sandbox_id: str, path: FilePath, who: Owner, svc: Svc) -> EntryOut:
    entry = svc.owned(sandbox_id, who)
    return entry_out(svc.call(entry, "files_stat", entry.core.files_op, "get_info", path))


@router.get(_FILES + "/exists")
def exists(sandbox_id: str, path: FilePath, who: Owner, svc: Svc) -> dict[str, bool]:
    entry = svc.owned(sandbox_id, who)
    return {"exists": bool(svc.call(entry, "files_exists", entry.core.files_op, "exists", path))}


@router.post(_FILES + "/rename")
def rename(sandbox_id: str, body: RenameIn, who: Owner, svc: Svc) -> EntryOut:
    entry = svc.owned(sandbox_id, who)
    info = svc.call(entry, "files_rename", entry.core.files_op, "rename", body.old, body.new)
    return entry_out(info)


@router.post(_FILES + "/mkdir")
def mkdir(sandbox_id: str, body: MkdirIn, who: Owner, svc: Svc) -> dict[str, bool]:
    """Make a folder and its parents; `created` is false if it was already there."""
    entry = svc.owned(sandbox_id, who)
    made = svc.call(entry, "files_mkdir", entry.core.files_op, "make_dir", body.path)
    return {"created": bool(made)}
