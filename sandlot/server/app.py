"""`create_app`: the REST face of sandlot, a thin FastAPI layer over `SandboxCore`.

Every sandbox here is the same `SandboxCore` a library user gets; this module only adds
HTTP: auth, ownership, lifetimes, streaming, and one error shape. Core calls block, so they
run on worker threads; streamed calls bridge the core's output callbacks (called on its
thread) to the response through an asyncio queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__, wire
from ..errors import (
    GuestProtocolError,
    ImageError,
    Interrupted,
    InvalidArgument,
    LimitExceeded,
    NotFound,
    SandboxClosed,
    SandboxError,
    TimeoutError,
    Unsatisfiable,
    Unsupported,
)
from ..models import Limits, check_str_map
from ..runtimes.base import OutputCallback
from ..sdk import saved
from ..sdk.core import SandboxCore
from ..sdk.registry_client import install
from .catalog import CatalogOut, catalog
from .commands import CallTable, Job, JobTable, error_of, event_frame
from .config import ServerConfig
from .keys import KeyStore
from .metrics import Metrics
from .pools import Pools, parse
from .registry import Registry, RegistryEntry, RegistryList, SnapshotExists
from .sandboxes import Entry, SandboxTable, closed_reason
from .schemas import (
    MAX_PATH,
    SNAPSHOT_NAME,
    CodeIn,
    CommandHandleOut,
    CommandIn,
    CommandStatusOut,
    CreateIn,
    EntryOut,
    ErrorOut,
    ForkIn,
    InterruptIn,
    InterruptOut,
    LimitsIn,
    LimitsOut,
    MkdirIn,
    OutputEvent,
    PausedOut,
    RenameIn,
    ResumeIn,
    SandboxList,
    SandboxOut,
    SnapshotIn,
    SnapshotList,
    SnapshotOut,
    StdinIn,
    TimeoutIn,
)
from .store import SandboxStore

log = logging.getLogger("sandlot.server")

_CHUNK = 64 << 10
LOCAL = ""
"""`base_url` for the server's own cores: this host, even with $SANDLOT_URL set."""
KILL_GRACE = 5.0
"""Seconds a kill may take to end a background command before it is reported unsupported."""
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 404, 408, 409, 413, 422, 429)
}


class Unauthorized(Exception):
    """No key, or one the server does not know: answered 401, never a sandbox error."""


def status_for(e: SandboxError) -> int:
    """The HTTP status of a sandlot error: always a 4xx, the client's to act on."""
    if isinstance(e, TimeoutError):
        return 408
    if isinstance(e, LimitExceeded):
        return {"file_size": 413, "sandboxes": 429}.get(e.limit, 422)
    if isinstance(e, NotFound | SandboxClosed):
        return 404
    if isinstance(e, Unsatisfiable | Unsupported | Interrupted):
        return 409
    if isinstance(e, GuestProtocolError):
        return 422
    return 400


_bearer = HTTPBearer(auto_error=False, description="An API key from `sandlot keys create`")


def _owner(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The id of the request's API key: the owner of whatever it creates."""
    if creds is None:
        raise Unauthorized("this request needs an API key: Authorization: Bearer KEY")
    store: KeyStore = request.app.state.keys
    key_id = store.verify(creds.credentials)
    if key_id is None:
        raise Unauthorized("the API key is not valid (unknown or revoked)")
    return key_id


# Module level: FastAPI resolves string annotations against the module's globals.
Owner = Annotated[str, Depends(_owner)]
FilePath = Annotated[str, Query(min_length=1, max_length=MAX_PATH)]
Offset = Annotated[int, Query(ge=0, le=1 << 62, description="The first event wanted")]
CommandId = Annotated[str, Path(min_length=1, max_length=64)]
ImageName = Annotated[str, Path(pattern=wire.NAME_RE.pattern)]
ImageTag = Annotated[str, Path(pattern=wire.TAG_RE.pattern)]
SnapshotName = Annotated[str, Path(pattern=SNAPSHOT_NAME)]
BlobKind = Annotated[str | None, Query(pattern="^(image|snapshot)$")]


def create_app(config: ServerConfig | None = None, *, keys: KeyStore | None = None) -> FastAPI:
    """The server app. `keys` defaults to the store in `config.data_dir`."""
    cfg = config or ServerConfig()
    store = keys or KeyStore(cfg.db_path)
    records = SandboxStore(cfg.db_path)
    table = SandboxTable(cfg.max_sandboxes_per_key, records)
    jobs = JobTable()
    calls = CallTable()
    registry = Registry(cfg.data_dir, allow_push=cfg.allow_push, max_push_bytes=cfg.max_push_bytes)
    pool_limits = Limits(file_read_bytes=min(Limits().file_read_bytes, cfg.max_file_read_bytes))
    pools = Pools(parse(cfg.pools), pool_limits)  # a bad [pools] table: ValueError now
    metrics = Metrics(table, pools)

    async def retire(entry: Entry, reason: str) -> None:
        """Close a sandbox taken off the table: its background commands are killed first,
        since a running one holds the sandbox's call slot that closing waits for."""
        await _kill_all(jobs.drop(entry.core.id))
        await _close(entry, reason)

    async def reaper() -> None:
        while True:
            await asyncio.sleep(cfg.reap_interval)
            for sid in table.expired(time.time()):
                entry = table.remove(sid, "expired")
                if entry is not None:
                    await retire(entry, "expired")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sandboxes still recorded as running belonged to a server that died uncleanly.
        lost = records.recover()
        if lost:
            log.warning("%d sandbox(es) were lost when the server last stopped uncleanly", lost)
        task = asyncio.create_task(reaper())
        await run_in_threadpool(pools.start)
        try:
            yield
        finally:
            await run_in_threadpool(pools.close)  # ready sandboxes, and the refills, stop
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for sid in table.all_ids():
                entry = table.remove(sid, "killed")
                if entry is not None:
                    await retire(entry, "killed")
            records.close()
            if keys is None:
                store.close()

    app = FastAPI(
        title="sandlot",
        version=__version__,
        description="Run untrusted code in sandboxes. Every route but /v1/health needs "
        "`Authorization: Bearer KEY` (create keys with `sandlot keys create`).",
        lifespan=lifespan,
    )
    app.state.config = cfg
    app.state.keys = store
    app.state.table = table
    app.state.metrics = metrics
    app.state.pools = pools

    # -- errors ----------------------------------------------------------------------------

    def error_response(e: SandboxError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(e, SandboxClosed):
            extra = {"reason": closed_reason(e), "title": "sandbox gone"}
        metrics.errors.labels(type(e).__name__).inc()
        return JSONResponse(wire.error_to_json(e, **extra), status_code=status_for(e))

    @app.exception_handler(SandboxError)
    async def on_sandbox_error(request: Request, e: SandboxError) -> JSONResponse:
        return error_response(e)

    @app.exception_handler(Unauthorized)
    async def on_unauthorized(request: Request, e: Unauthorized) -> JSONResponse:
        metrics.errors.labels("Unauthorized").inc()
        body = {"error": {"type": "Unauthorized", "message": str(e)}}
        return JSONResponse(body, 401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg")}
            for err in e.errors()
        ]
        message = "; ".join(f"{f['field']}: {f['problem']}" for f in fields)
        metrics.errors.labels("InvalidArgument").inc()
        body = {"error": {"type": "InvalidArgument", "message": message, "fields": fields}}
        return JSONResponse(body, 422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        kind = "NotFound" if e.status_code == 404 else "HTTPError"
        body = {"error": {"type": kind, "message": str(e.detail)}}
        return JSONResponse(body, e.status_code, headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def on_bug(request: Request, e: Exception) -> JSONResponse:
        """A bug of ours: still the one error shape, and logged with its traceback."""
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=e)
        metrics.errors.labels("InternalError").inc()
        body = {"error": {"type": "InternalError", "message": "internal server error"}}
        return JSONResponse(body, 500)

    # -- auth and lookup -------------------------------------------------------------------

    def call(entry: Entry, op: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """One core call, timed, with a sandbox the core finds gone taken off the table."""
        started = time.perf_counter()
        try:
            return fn(*args, **kw)
        except SandboxClosed as e:
            reason = closed_reason(e)
            e.reason = reason  # type: ignore[attr-defined]
            table.remove(entry.core.id, reason)
            raise
        finally:
            metrics.call_seconds.labels(op).observe(time.perf_counter() - started)

    def out(entry: Entry) -> SandboxOut:
        core = entry.core
        return SandboxOut(
            id=core.id,
            tier=core.tier,
            template=core.template,
            metadata=dict(core.metadata),
            limits=LimitsOut(**core.limits.to_dict()),
            created_at=datetime.fromtimestamp(entry.created, UTC),
            expires_at=datetime.fromtimestamp(entry.deadline, UTC),
        )

    def call_limits(entry: Entry, given: LimitsIn | None) -> Limits | None:
        """One call's limits: the sandbox's, with the fields the request gives replaced."""
        if given is None:
            return None
        limits = entry.core.limits.merged(**given.model_dump(exclude_none=True))
        return limits.merged(file_read_bytes=min(limits.file_read_bytes, cfg.max_file_read_bytes))

    def check_lifetime(seconds: float) -> float:
        if seconds > cfg.max_timeout:
            raise InvalidArgument(
                f"timeout={seconds:g} is longer than this server allows ({cfg.max_timeout:g} s)"
            )
        return seconds

    # -- routes ----------------------------------------------------------------------------

    @app.get("/v1/health", tags=["server"])
    def health() -> dict[str, str]:
        """Liveness; needs no key."""
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["server"], response_class=Response)
    def metrics_route(who: Owner) -> Response:
        """Prometheus metrics: sandboxes by tier and state, latencies, errors by type."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/templates", tags=["server"], responses=_ERRORS)
    def list_templates(who: Owner) -> CatalogOut:
        """The tiers this server runs, the templates each serves, and the images built."""
        return catalog()

    @app.post("/v1/sandboxes", status_code=201, tags=["sandboxes"], responses=_ERRORS)
    def create_sandbox(body: CreateIn, who: Owner) -> SandboxOut:
        """Start a sandbox on the lightest tier that provides `requires`."""
        lifetime = check_lifetime(body.timeout or cfg.default_timeout)
        given = body.limits.model_dump(exclude_none=True) if body.limits else {}
        # Downloads are capped by the server whatever the client asks (its default included).
        wanted = given.get("file_read_bytes", Limits().file_read_bytes)
        given["file_read_bytes"] = min(wanted, cfg.max_file_read_bytes)
        limits = Limits.from_dict(given)
        table.reserve(who)
        started = time.perf_counter()
        try:
            core = from_pool(body, limits, lifetime)
            with own_names(who):
                core = core or SandboxCore(
                    body.template,
                    requires=body.requires,
                    tier=body.tier,
                    timeout=lifetime,
                    envs=body.envs,
                    limits=limits,
                    metadata=body.metadata,
                    snapshot=f"{who}.{body.snapshot}" if body.snapshot else None,
                    base_url=LOCAL,
                )
            entry = table.add(core, who, lifetime)
        finally:
            table.release(who)
        metrics.create_seconds.labels(core.tier).observe(time.perf_counter() - started)
        return out(entry)

    def from_pool(body: CreateIn, limits: Limits, lifetime: float) -> SandboxCore | None:
        """A ready sandbox from the warm pool for the request's template and tier, when
        the request asks for nothing a pooled sandbox lacks (other limits, envs, a
        snapshot); counted as a hit or a miss of that pool."""
        if not pools or body.snapshot:
            return None
        found = pools.lookup(body.template, body.tier, body.requires)
        if found is None:
            return None
        (template, tier), pool = found
        core = pool.take() if limits == pools.limits and not body.envs else None
        if core is None:
            metrics.pool_misses.labels(template, tier).inc()
            return None
        try:
            core.metadata = check_str_map(body.metadata, "metadata")
            core.set_timeout(lifetime)
        except BaseException:
            core.close()
            raise
        metrics.pool_hits.labels(template, tier).inc()
        return core

    @app.get("/v1/sandboxes", tags=["sandboxes"], responses=_ERRORS)
    def list_sandboxes(request: Request, who: Owner) -> SandboxList:
        """This key's live sandboxes; `?metadata.KEY=VALUE` keeps those labelled so."""
        wanted = {
            k.removeprefix("metadata."): v
            for k, v in request.query_params.multi_items()
            if k.startswith("metadata.")
        }
        entries = [
            e
            for e in table.owned_by(who)
            if all(e.core.metadata.get(k) == v for k, v in wanted.items())
        ]
        return SandboxList(sandboxes=[out(e) for e in entries])

    @app.get("/v1/sandboxes/{sandbox_id}", tags=["sandboxes"], responses=_ERRORS)
    def get_sandbox(sandbox_id: str, who: Owner) -> SandboxOut:
        return out(table.get(sandbox_id, who))

    @app.delete(
        "/v1/sandboxes/{sandbox_id}", status_code=204, tags=["sandboxes"], responses=_ERRORS
    )
    async def delete_sandbox(sandbox_id: str, who: Owner) -> Response:
        """Close the sandbox (killing its background commands); later requests for it
        answer 404 sandbox gone (closed)."""
        table.get(sandbox_id, who)
        entry = table.remove(sandbox_id, "closed")
        if entry is not None:
            await retire(entry, "closed")
        return Response(status_code=204)

    @app.post("/v1/sandboxes/{sandbox_id}/timeout", tags=["sandboxes"], responses=_ERRORS)
    def set_timeout(sandbox_id: str, body: TimeoutIn, who: Owner) -> SandboxOut:
        """Let the sandbox live `timeout` more seconds from now."""
        seconds = check_lifetime(body.timeout)
        entry = table.get(sandbox_id, who)
        call(entry, "set_timeout", entry.core.set_timeout, seconds)
        table.extend(entry, seconds)
        return out(entry)

    # -- saving: pause, resume, snapshots, fork ------------------------------------------

    @app.post("/v1/sandboxes/{sandbox_id}/pause", tags=["sandboxes"], responses=_ERRORS)
    async def pause(sandbox_id: str, who: Owner) -> PausedOut:
        """Save the whole sandbox on the server and free it; it survives server restarts
        until `POST …/resume`. Tiers that cannot save answer 409 Unsupported."""
        entry = table.get(sandbox_id, who)
        await _kill_all(jobs.drop(sandbox_id))  # a running command holds the call slot
        await run_in_threadpool(call, entry, "pause", entry.core.pause)
        table.remove(sandbox_id, "paused")
        return PausedOut(id=sandbox_id, state="paused")

    @app.post("/v1/sandboxes/{sandbox_id}/resume", tags=["sandboxes"], responses=_ERRORS)
    def resume(sandbox_id: str, who: Owner, body: ResumeIn | None = None) -> SandboxOut:
        """Bring a paused sandbox back, with its state, under the same id."""
        table.paused_row(sandbox_id, who)
        lifetime = check_lifetime((body.timeout if body else None) or cfg.default_timeout)
        table.reserve(who)
        try:
            core = SandboxCore.connect(sandbox_id, timeout=lifetime, base_url=LOCAL)
            entry = table.add(core, who, lifetime)
        finally:
            table.release(who)
        return out(entry)

    @app.post("/v1/sandboxes/{sandbox_id}/snapshots", tags=["sandboxes"], responses=_ERRORS)
    def snapshot(sandbox_id: str, body: SnapshotIn, who: Owner) -> SnapshotOut:
        """Save the sandbox's state as this key's snapshot `name` (it runs on);
        `POST /v1/sandboxes` with `snapshot` starts new sandboxes from it."""
        entry = table.get(sandbox_id, who)
        with own_names(who):
            info = call(entry, "snapshot", entry.core.create_snapshot, f"{who}.{body.name}")
        return SnapshotOut(
            name=body.name,
            tier=info.tier,
            template=info.template,
            size=info.size,
            created=info.created,
        )

    @app.get("/v1/snapshots", tags=["snapshots"], responses=_ERRORS)
    def list_snapshots(who: Owner) -> SnapshotList:
        """This key's named snapshots."""
        prefix = f"{who}."
        return SnapshotList(
            snapshots=[
                SnapshotOut(
                    name=s.name.removeprefix(prefix),
                    tier=s.tier,
                    template=s.template,
                    size=s.size,
                    created=s.created,
                )
                for s in saved.snapshots()
                if s.name.startswith(prefix)
            ]
        )

    @app.delete("/v1/snapshots/{name}", status_code=204, tags=["snapshots"], responses=_ERRORS)
    def delete_snapshot(name: SnapshotName, who: Owner) -> Response:
        """Delete this key's snapshot `name`."""
        try:
            saved.remove("snapshots", f"{who}.{name}")
        except NotFound:
            raise NotFound(f"no snapshot {name!r} (for this API key)") from None
        return Response(status_code=204)

    @app.post("/v1/sandboxes/{sandbox_id}/fork", tags=["sandboxes"], responses=_ERRORS)
    def fork(sandbox_id: str, body: ForkIn, who: Owner) -> SandboxList:
        """`n` new sandboxes going on from this one's current state (each counts against
        the key's cap), with its remaining lifetime."""
        entry = table.get(sandbox_id, who)
        for _ in range(body.n):
            table.reserve(who)
        try:
            children = call(entry, "fork", entry.core.fork, body.n)
            lifetime = max(1.0, entry.deadline - time.time())
            added = [table.add(child, who, lifetime) for child in children]
        finally:
            for _ in range(body.n):
                table.release(who)
        return SandboxList(sandboxes=[out(e) for e in added])

    @app.post("/v1/sandboxes/{sandbox_id}/interrupt", tags=["sandboxes"], responses=_ERRORS)
    def interrupt(sandbox_id: str, who: Owner, body: InterruptIn | None = None) -> InterruptOut:
        """Stop a call, if its tier can (how the remote SDK's `CommandHandle.kill()`
        reaches it). With `call_id`: only the call started with that id; one still queued
        then ends `Interrupted` without running, one that ended is left alone. Without:
        whatever call runs now. `interrupted` says whether a running call was signalled."""
        entry = table.get(sandbox_id, who)
        if body is not None and body.call_id is not None:
            token = calls.kill(sandbox_id, body.call_id)
            return InterruptOut(interrupted=token is not None and entry.core.interrupt(owner=token))
        return InterruptOut(interrupted=bool(entry.core.interrupt()))

    def named(
        entry: Entry,
        call_id: str | None,
        work: Callable[[OutputCallback | None, OutputCallback | None], Any],
    ) -> Callable[[OutputCallback | None, OutputCallback | None], Any]:
        """`work` as the call `call_id`, which an interrupt naming it (and only it) stops."""
        if call_id is None:
            return work
        sid = entry.core.id

        def as_named(out: OutputCallback | None, err: OutputCallback | None) -> Any:
            with calls.running(sid, call_id) as token, entry.core.call_slot(token):
                calls.check(sid, call_id)
                return work(out, err)

        return as_named

    # -- code and commands -----------------------------------------------------------------

    async def run(
        request: Request,
        entry: Entry,
        op: str,
        work: Callable[[OutputCallback | None, OutputCallback | None], Any],
        encode: Callable[[Any], dict[str, Any]],
    ) -> Response:
        if "text/event-stream" not in request.headers.get("accept", ""):
            result = await run_in_threadpool(call, entry, op, work, None, None)
            return JSONResponse(encode(result))
        return StreamingResponse(
            stream(entry, op, work, encode),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def stream(
        entry: Entry,
        op: str,
        work: Callable[[OutputCallback | None, OutputCallback | None], Any],
        encode: Callable[[Any], dict[str, Any]],
    ) -> AsyncIterator[bytes]:
        """stdout/stderr events as the core's callbacks fire, then `result` or `error`."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(kind: str, data: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens
                loop.call_soon_threadsafe(queue.put_nowait, (kind, data))

        def job() -> None:
            try:
                result = call(
                    entry,
                    op,
                    work,
                    lambda s: put("stdout", {"text": s}),
                    lambda s: put("stderr", {"text": s}),
                )
                put("result", encode(result))
            except SandboxError as e:
                extra = {"reason": closed_reason(e)} if isinstance(e, SandboxClosed) else {}
                metrics.errors.labels(type(e).__name__).inc()
                put("error", wire.error_to_json(e, **extra))
            except Exception:
                log.exception("%s failed in sandbox %s", op, entry.core.id)
                put("error", {"error": {"type": "SandboxError", "message": "internal error"}})

        task = asyncio.ensure_future(run_in_threadpool(job))
        while True:
            kind, data = await queue.get()
            yield f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()
            if kind in ("result", "error"):
                break
        await task

    @app.post(
        "/v1/sandboxes/{sandbox_id}/code",
        tags=["code"],
        responses={**_ERRORS, 200: {"content": {"text/event-stream": {}}}},
    )
    async def run_code(sandbox_id: str, body: CodeIn, request: Request, who: Owner) -> Response:
        """Run Python as a notebook cell; `Accept: text/event-stream` streams the output."""
        entry = table.get(sandbox_id, who)
        limits = call_limits(entry, body.limits)

        def work(out: OutputCallback | None, err: OutputCallback | None) -> Any:
            return entry.core.run_code(
                body.code, timeout=body.timeout, limits=limits, on_stdout=out, on_stderr=err
            )

        return await run(
            request, entry, "run_code", named(entry, body.call_id, work), wire.execution_to_json
        )

    @app.post(
        "/v1/sandboxes/{sandbox_id}/commands",
        tags=["commands"],
        responses={
            **_ERRORS,
            200: {"content": {"text/event-stream": {}}},
            202: {"model": CommandHandleOut, "description": "Started in the background"},
        },
    )
    async def run_command(
        sandbox_id: str, body: CommandIn, request: Request, who: Owner
    ) -> Response:
        """Run a shell command line; `Accept: text/event-stream` streams the output.
        With `background: true` it answers 202 with a handle at once."""
        entry = table.get(sandbox_id, who)
        limits = call_limits(entry, body.limits)
        if body.background:
            job = Job(entry.core.id, who)
            job.start(
                entry.core.background(
                    body.cmd,
                    timeout=body.timeout,
                    envs=body.envs,
                    cwd=body.cwd,
                    stdin=body.stdin,
                    limits=limits,
                    on_stdout=lambda s: job.output("stdout", s),
                    on_stderr=lambda s: job.output("stderr", s),
                )
            )
            jobs.add(job)
            handle = CommandHandleOut(id=job.id, sandbox_id=entry.core.id, state="running")
            return JSONResponse(handle.model_dump(), status_code=202)

        def work(out: OutputCallback | None, err: OutputCallback | None) -> Any:
            return entry.core.run_command(
                body.cmd,
                timeout=body.timeout,
                envs=body.envs,
                cwd=body.cwd,
                stdin=body.stdin,
                limits=limits,
                on_stdout=out,
                on_stderr=err,
            )

        return await run(
            request, entry, "run_command", named(entry, body.call_id, work), wire.command_to_json
        )

    # -- background commands ---------------------------------------------------------------

    def job_of(sandbox_id: str, command_id: str, who: str) -> Job:
        table.get(sandbox_id, who)
        return jobs.get(sandbox_id, command_id)

    def status_out(job: Job, offset: int) -> CommandStatusOut:
        snap = job.read(offset)
        return CommandStatusOut(
            id=job.id,
            sandbox_id=job.sandbox_id,
            state=snap.state,
            exit_code=snap.result.exit_code if snap.result is not None else None,
            stdout="".join(t for _, s, t in snap.events if s == "stdout"),
            stderr="".join(t for _, s, t in snap.events if s == "stderr"),
            events=[OutputEvent(offset=o, stream=s, text=t) for o, s, t in snap.events],
            next_offset=snap.next_offset,
            dropped=snap.dropped,
            result=wire.command_to_json(snap.result) if snap.result is not None else None,
            error=wire.error_to_json(error_of(snap.error))["error"]
            if snap.error is not None
            else None,
        )

    @app.get(
        "/v1/sandboxes/{sandbox_id}/commands/{command_id}", tags=["commands"], responses=_ERRORS
    )
    def command_status(
        sandbox_id: str, command_id: CommandId, who: Owner, offset: Offset = 0
    ) -> CommandStatusOut:
        """A background command's state, and its output from event `offset` on."""
        return status_out(job_of(sandbox_id, command_id, who), offset)

    @app.get(
        "/v1/sandboxes/{sandbox_id}/commands/{command_id}/events",
        tags=["commands"],
        response_class=StreamingResponse,
        responses={**_ERRORS, 200: {"content": {"text/event-stream": {}}}},
    )
    def command_events(
        sandbox_id: str,
        command_id: CommandId,
        who: Owner,
        request: Request,
        offset: Offset = 0,
    ) -> StreamingResponse:
        """Server-sent events from `offset` (or after `Last-Event-ID`): `stdout`/`stderr`
        with `id` = their offset, then `result` or `error` when the command ends."""
        job = job_of(sandbox_id, command_id, who)
        last = request.headers.get("last-event-id", "")
        if last.isdigit() and len(last) < 19:
            offset = max(offset, int(last) + 1)

        async def frames() -> AsyncIterator[bytes]:
            at = offset
            while True:
                snap = job.read(at)
                for o, stream, text in snap.events:
                    yield event_frame(stream, {"text": text}, o)
                at = snap.next_offset
                if snap.state != "running":
                    if snap.result is not None:
                        yield event_frame("result", wire.command_to_json(snap.result))
                    else:
                        err = error_of(snap.error or SandboxError("the command ended"))
                        yield event_frame("error", wire.error_to_json(err))
                    return
                if not snap.events:
                    await job.wait_past(at, 15.0)
                    if job.read(at).next_offset == at and not job.done:
                        yield b": keep-alive\n\n"

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post(
        "/v1/sandboxes/{sandbox_id}/commands/{command_id}/stdin",
        tags=["commands"],
        responses=_ERRORS,
    )
    def command_stdin(
        sandbox_id: str, command_id: CommandId, body: StdinIn, who: Owner
    ) -> CommandStatusOut:
        """Write to a running command's stdin. No tier's guest agent takes input once a
        command has started (give it whole as `stdin` when starting): 409 Unsupported."""
        job = job_of(sandbox_id, command_id, who)
        if job.done:
            raise Unsupported(f"background command {job.id} has ended; its stdin is closed")
        tier = table.get(sandbox_id, who).core.tier
        raise Unsupported(
            f"the {tier} tier cannot write to a running command's stdin; pass the input as "
            "`stdin` when starting the command"
        )

    @app.delete(
        "/v1/sandboxes/{sandbox_id}/commands/{command_id}", tags=["commands"], responses=_ERRORS
    )
    async def command_kill(sandbox_id: str, command_id: CommandId, who: Owner) -> CommandStatusOut:
        """Kill a background command (the sandbox lives on) and answer its final state.
        A tier that cannot stop a running call answers 409 Unsupported; the command then
        ends at its own timeout."""
        job = job_of(sandbox_id, command_id, who)
        await run_in_threadpool(job.kill)  # waits for the end; Unsupported if it can't
        deadline = time.monotonic() + KILL_GRACE  # another kill of it may still be waiting
        while not job.done and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if not job.done:
            tier = table.get(sandbox_id, who).core.tier
            raise Unsupported(
                f"the {tier} tier could not stop background command {job.id}; it ends at "
                "its timeout"
            )
        return status_out(job, 0)

    # -- files -----------------------------------------------------------------------------

    def entry_out(e: Any) -> EntryOut:
        return EntryOut(**wire.entry_to_json(e))

    @app.get(
        "/v1/sandboxes/{sandbox_id}/files",
        tags=["files"],
        response_class=StreamingResponse,
        responses={**_ERRORS, 200: {"content": {"application/octet-stream": {}}}},
    )
    def download(sandbox_id: str, path: FilePath, who: Owner) -> StreamingResponse:
        """A file's bytes (at most the sandbox's `limits.file_read_bytes`, else 413)."""
        entry = table.get(sandbox_id, who)
        data: bytes = call(entry, "files_read", entry.core.files_read, path, "bytes")

        def chunks() -> Any:
            for i in range(0, len(data), _CHUNK):
                yield data[i : i + _CHUNK]

        return StreamingResponse(
            chunks(),
            media_type="application/octet-stream",
            headers={"Content-Length": str(len(data))},
        )

    @app.put("/v1/sandboxes/{sandbox_id}/files", tags=["files"], responses=_ERRORS)
    async def upload(sandbox_id: str, path: FilePath, request: Request, who: Owner) -> EntryOut:
        """Write the request body to `path` (parents made); over the size cap: 413."""
        entry = table.get(sandbox_id, who)
        cap = cfg.max_upload_bytes
        too_big = LimitExceeded(
            "file_size", f"the upload is larger than this server accepts ({cap} bytes)"
        )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise too_big
        parts: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise too_big
            parts.append(chunk)
        info = await run_in_threadpool(
            call, entry, "files_write", entry.core.files_write, path, b"".join(parts)
        )
        return entry_out(info)

    @app.delete(
        "/v1/sandboxes/{sandbox_id}/files", status_code=204, tags=["files"], responses=_ERRORS
    )
    def remove(sandbox_id: str, path: FilePath, who: Owner) -> Response:
        """Remove a file, a link or a whole folder."""
        entry = table.get(sandbox_id, who)
        call(entry, "files_remove", entry.core.files_op, "remove", path)
        return Response(status_code=204)

    @app.get("/v1/sandboxes/{sandbox_id}/files/list", tags=["files"], responses=_ERRORS)
    def list_files(
        sandbox_id: str,
        who: Owner,
        path: FilePath = ".",
        depth: Annotated[int, Query(ge=1, le=256)] = 1,
    ) -> list[EntryOut]:
        entry = table.get(sandbox_id, who)
        found = call(entry, "files_list", entry.core.files_op, "list", path, depth)
        return [entry_out(e) for e in found]

    @app.get("/v1/sandboxes/{sandbox_id}/files/stat", tags=["files"], responses=_ERRORS)
    def stat(sandbox_id: str, path: FilePath, who: Owner) -> EntryOut:
        entry = table.get(sandbox_id, who)
        return entry_out(call(entry, "files_stat", entry.core.files_op, "get_info", path))

    @app.get("/v1/sandboxes/{sandbox_id}/files/exists", tags=["files"], responses=_ERRORS)
    def exists(sandbox_id: str, path: FilePath, who: Owner) -> dict[str, bool]:
        entry = table.get(sandbox_id, who)
        return {"exists": bool(call(entry, "files_exists", entry.core.files_op, "exists", path))}

    @app.post("/v1/sandboxes/{sandbox_id}/files/rename", tags=["files"], responses=_ERRORS)
    def rename(sandbox_id: str, body: RenameIn, who: Owner) -> EntryOut:
        entry = table.get(sandbox_id, who)
        info = call(entry, "files_rename", entry.core.files_op, "rename", body.old, body.new)
        return entry_out(info)

    @app.post("/v1/sandboxes/{sandbox_id}/files/mkdir", tags=["files"], responses=_ERRORS)
    def mkdir(sandbox_id: str, body: MkdirIn, who: Owner) -> dict[str, bool]:
        """Make a folder and its parents; `created` is false if it was already there."""
        entry = table.get(sandbox_id, who)
        made = call(entry, "files_mkdir", entry.core.files_op, "make_dir", body.path)
        return {"created": bool(made)}

    # -- registry ----------------------------------------------------------------------------

    @app.get("/v1/registry", tags=["registry"], responses=_ERRORS)
    def registry_list(who: Owner) -> RegistryList:
        """Images this server offers, and this key's named snapshots (`kind`), as
        `name:tag` with the blob's size and sha256 (the first listing after a build or a
        snapshot packs it, which takes a while)."""
        return RegistryList(entries=[e for e, _ in registry.entries(who)])

    @app.get(
        "/v1/registry/{name}/{tag}/blob",
        tags=["registry"],
        response_class=FileResponse,
        responses={**_ERRORS, 200: {"content": {"application/x-tar": {}}}},
    )
    def registry_blob(
        name: ImageName, tag: ImageTag, who: Owner, kind: BlobKind = None
    ) -> FileResponse:
        """The image's rootfs, or the key's snapshot's folder, as a tar (`kind` picks when
        both have the name); `X-Sandlot-Digest: sha256:<hex>` names its bytes."""
        entry, path = registry.find(name, tag, who, kind)
        return FileResponse(
            path,
            media_type="application/x-tar",
            headers={wire.DIGEST_HEADER: entry.digest},
        )

    async def receive(request: Request, blob: FsPath, want: str) -> None:
        """The request's body into `blob`, within the push cap and matching `want`."""
        sha = hashlib.sha256()
        size = 0
        with open(blob, "wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > registry.max_push_bytes:
                    raise registry.too_big()
                sha.update(chunk)
                await run_in_threadpool(f.write, chunk)
        if sha.hexdigest() != want:
            raise ImageError(
                f"the upload's sha256 is {sha.hexdigest()}, not {want}: nothing was installed"
            )

    @app.put(
        "/v1/registry/{name}/{tag}/blob",
        tags=["registry"],
        response_model=RegistryEntry,
        responses=_ERRORS,
    )
    async def registry_push(
        name: ImageName, tag: ImageTag, request: Request, who: Owner, kind: BlobKind = None
    ) -> Response | RegistryEntry:
        """Upload an image's tar, or with `kind=snapshot` a named snapshot's folder as a
        tar (servers started with --allow-push); the body must match the
        `X-Sandlot-Digest` header. An image is installed as `name`, tagged by its digest; a
        snapshot becomes this key's snapshot `name` (tag `latest` or the upload's 12 hex),
        never over one it has (409)."""
        want = registry.check_push(
            name,
            tag,
            request.headers.get(wire.DIGEST_HEADER, ""),
            request.headers.get("content-length", ""),
        )
        if kind == "snapshot":
            try:
                work = await run_in_threadpool(registry.snapshot_staging, who, name, tag, want)
                try:
                    await receive(request, work / "blob.tar", want)
                    await run_in_threadpool(registry.install_snapshot, who, name, work)
                finally:
                    await run_in_threadpool(shutil.rmtree, work, True)
            except SnapshotExists as e:
                metrics.errors.labels("SnapshotExists").inc()
                return JSONResponse(wire.error_to_json(e), status_code=409)
            return (await run_in_threadpool(registry.find, name, "latest", who, "snapshot"))[0]
        blob = registry.incoming()
        try:
            await receive(request, blob, want)
            await run_in_threadpool(install, blob, name, want, f"push by {who}")
        finally:
            blob.unlink(missing_ok=True)
        return registry.find(name, want[:12], kind="image")[0]

    return app


@contextlib.contextmanager
def own_names(who: str) -> Iterator[None]:
    """A key's snapshots are stored as `<key id>.<name>`: errors name them as the key does."""
    try:
        yield
    except (NotFound, InvalidArgument) as e:
        text = str(e).replace(f"'{who}.", "'")
        if text == str(e):
            raise
        raise type(e)(text) from None


async def _kill_all(jobs: list[Job]) -> None:
    """Stop background commands of a sandbox that is going (one that cannot be stopped
    ends when the sandbox is closed under it)."""
    for job in jobs:
        with contextlib.suppress(SandboxError):
            await run_in_threadpool(job.kill)


async def _close(entry: Entry, reason: str) -> None:
    try:
        await run_in_threadpool(entry.core.close, reason)
    except Exception:  # one broken sandbox must not stop the reaper
        log.exception("closing sandbox %s failed", entry.core.id)
