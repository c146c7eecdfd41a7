"""The service behind the routes: the server's sandboxes by owner, under its caps and
lifetimes.

Every sandbox here is the same `SandboxCore` a library user gets. What a shared service
adds lives in this one object, which the routes reach through a FastAPI dependency: who
owns each sandbox (a key never sees another's), how many one key may hold, how long each
may live (and the reaper that enforces it), and which calls a client named so an interrupt
reaches that call only; its `commands` keep the background commands that outlive their
request. Core calls block; the async methods here are the ones that must not hold a worker
thread while they wait (closing, pausing).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..errors import InvalidArgument, NotFound, SandboxClosed
from ..models import Limits, SnapshotInfo, check_str_map
from ..runtimes.base import OutputCallback
from ..sdk import saved, template_network
from ..sdk.core import SandboxCore, drain_warm
from .background import BackgroundCommands
from .ceilings import OverCeiling
from .commands import CallTable
from .config import ServerConfig
from .leftovers import sweep_every_tier
from .metrics import Metrics
from .pools import Pools, parse
from .registry import Registry
from .sandboxes import Entry, SandboxTable, closed_reason
from .schemas import CreateIn, LimitsIn
from .store import SandboxStore

log = logging.getLogger("sandlot.server")

LOCAL = ""
"""`base_url` for the server's own cores: this host, even with $SANDLOT_URL set."""

Work = Callable[[OutputCallback | None, OutputCallback | None], Any]
"""One core call, given its stdout and stderr callbacks (None: not streamed)."""


class Service:
    """The server's state and every rule about it; one per app, on `app.state.service`."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.records = SandboxStore(cfg.db_path)
        self.table = SandboxTable(cfg.max_sandboxes_per_key, self.records)
        self.commands = BackgroundCommands(self.table)
        self.calls = CallTable()
        self.registry = Registry(
            cfg.data_dir, allow_push=cfg.allow_push, max_push_bytes=cfg.max_push_bytes
        )
        pool_limits = cfg.limits.bounded(
            Limits(file_read_bytes=min(Limits().file_read_bytes, cfg.max_file_read_bytes))
        )
        self.pools = Pools(parse(cfg.pools), pool_limits)  # a bad [pools] table: ValueError now
        self.metrics = Metrics(self.table, self.pools)
        self._reaper: asyncio.Task[None] | None = None
        self._websearch: dict[str, str] = {}  # key -> its websearch-tools sandbox's id
        template_network.configure_search(cfg.websearch)

    # -- the server's life -----------------------------------------------------------------

    async def start(self) -> None:
        # Sandboxes still recorded as running belonged to a server that died uncleanly:
        # what they left on the host goes first, then their rows say they were lost.
        swept = await run_in_threadpool(sweep_every_tier)
        if any(swept.values()):
            log.warning("removed the leftovers of dead sandboxes: %s", swept)
        lost = self.records.recover()
        if lost:
            log.warning("%d sandbox(es) were lost when the server last stopped uncleanly", lost)
        self._reaper = asyncio.create_task(self._reap())
        await run_in_threadpool(self.pools.start)

    async def stop(self) -> None:
        await run_in_threadpool(self.pools.close)  # ready sandboxes, and the refills, stop
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for sid in self.table.all_ids():
            await self._take_off(sid, "killed")
        await run_in_threadpool(drain_warm)  # the tiers' warm spares and VM pools
        self.records.close()

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.reap_interval)
            for sid in self.table.expired(time.time()):
                await self._take_off(sid, "expired")

    async def _take_off(self, sandbox_id: str, reason: str) -> None:
        """Take a sandbox off the table and close it: its background commands are killed
        first, since a running one holds the sandbox's call slot that closing waits for."""
        entry = self.table.remove(sandbox_id, reason)
        if entry is None:
            return
        await self.commands.stop_all(sandbox_id)
        try:
            await run_in_threadpool(entry.core.close, reason)
        except Exception:  # one broken sandbox must not stop the reaper
            log.exception("closing sandbox %s failed", sandbox_id)

    # -- ownership, caps and lifetimes -------------------------------------------------------

    def owned(self, sandbox_id: str, who: str) -> Entry:
        """The key's live sandbox, or why not (gone, and why; or not found)."""
        return self.table.get(sandbox_id, who)

    def listed(self, who: str, metadata: Mapping[str, str]) -> list[Entry]:
        """The key's live sandboxes labelled with all of `metadata`."""
        return [
            e
            for e in self.table.owned_by(who)
            if all(e.core.metadata.get(k) == v for k, v in metadata.items())
        ]

    @contextlib.contextmanager
    def slots(self, who: str, n: int = 1) -> Iterator[None]:
        """`n` of the key's sandbox slots held while new sandboxes are made (the cap)."""
        held = 0
        try:
            for _ in range(n):
                self.table.reserve(who)
                held += 1
            yield
        finally:
            for _ in range(held):
                self.table.release(who)

    def lifetime(self, seconds: float | None) -> float:
        """A sandbox's lifetime: the server's default, never past its maximum."""
        seconds = seconds or self.cfg.default_timeout
        if seconds > self.cfg.max_timeout:
            raise InvalidArgument(
                f"timeout={seconds:g} is longer than this server allows "
                f"({self.cfg.max_timeout:g} s)"
            )
        return seconds

    def limits(self, base: Limits, given: LimitsIn | None) -> Limits:
        """`base` with the fields a request gives replaced, each under the server's
        ceiling (above: `OverCeiling`, 422); downloads capped by the server whatever the
        client asks (its default included, which every remote client sends)."""
        asked = given.model_dump(exclude_none=True) if given else {}
        self.cfg.limits.check(asked)
        limits = self.cfg.limits.bounded(Limits.from_dict({**base.to_dict(), **asked}))
        cap = self.cfg.max_file_read_bytes
        return limits.merged(file_read_bytes=min(limits.file_read_bytes, cap))

    def call_timeout(self, seconds: float | None) -> float | None:
        """A call's own `timeout` (its wall time): under the wall_time ceiling."""
        return self.cfg.limits.timeout(seconds)

    def envs(self, envs: Mapping[str, str] | None) -> Mapping[str, str] | None:
        """A request's envs, under the envs_bytes ceiling."""
        self.cfg.limits.labels(envs, "envs")
        return envs

    def stored_bytes(self, who: str) -> int:
        """What the key keeps on this server: its sandboxes' labels in server.db, its
        named snapshots and its paused sandboxes (their saved sizes)."""
        paused = 0
        for sid in self.records.paused_ids(who):
            with contextlib.suppress(NotFound):
                paused += int(saved.read("sandboxes", sid)[0].get("size", 0))
        snapshots = sum(s.size for s in self.snapshots(who))
        return self.records.metadata_bytes(who) + snapshots + paused

    def check_stored(self, who: str, adding: int = 0) -> None:
        """Refuse what would take the key past stored_bytes_per_key."""
        cap = self.cfg.limits.stored_bytes_per_key
        stored = self.stored_bytes(who) + adding
        if stored > cap:
            what = f"this key's stored data ({stored} bytes)"
            raise OverCeiling("stored_bytes_per_key", stored, cap, what)

    def call_limits(self, entry: Entry, given: LimitsIn | None) -> Limits | None:
        """One call's limits: the sandbox's, with the fields the request gives replaced."""
        return None if given is None else self.limits(entry.core.limits, given)

    # -- sandboxes ---------------------------------------------------------------------------

    def create(self, who: str, body: CreateIn) -> Entry:
        """Start a sandbox (from a warm pool when one serves the request) for the key."""
        lifetime = self.lifetime(body.timeout)
        limits = self.limits(Limits(), body.limits)
        self.cfg.limits.labels(body.metadata, "metadata")
        self.envs(body.envs)
        self.check_stored(who, len(json.dumps(body.metadata)))
        shared = self._websearch_of(who, body)
        if shared is not None:
            return shared
        with self.slots(who):
            started = time.perf_counter()
            core = self._from_pool(body, limits, lifetime)
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
                    network=body.network.model_dump() if body.network else None,
                    secrets=body.secrets,
                )
            entry = self.table.add(core, who, lifetime)
        if body.template == template_network.WEBSEARCH:
            self._websearch[who] = core.id
        self.metrics.create_seconds.labels(core.tier).observe(time.perf_counter() - started)
        return entry

    def _websearch_of(self, who: str, body: CreateIn) -> Entry | None:
        """The key's live websearch-tools sandbox for a plain create of that template, its
        lifetime renewed: one per API key (a key never shares a sandbox with another)."""
        sid = self._websearch.get(who)
        if body.template != template_network.WEBSEARCH or sid is None or body.snapshot:
            return None
        if body.network or body.secrets or body.envs or body.limits:
            return None
        with contextlib.suppress(NotFound, SandboxClosed):
            return self.extend(sid, who, self.cfg.max_timeout)
        return None

    def _from_pool(self, body: CreateIn, limits: Limits, lifetime: float) -> SandboxCore | None:
        """A ready sandbox from the warm pool for the request's template and tier, when
        the request asks for nothing a pooled sandbox lacks (other limits, envs, a
        snapshot, a network); counted as a hit or a miss of that pool."""
        pools = self.pools
        if not pools or body.snapshot or body.network or body.secrets:
            return None
        found = pools.lookup(body.template, body.tier, body.requires)
        if found is None:
            return None
        (template, tier), pool = found
        core = pool.take() if limits == pools.limits and not body.envs else None
        if core is None:
            self.metrics.pool_misses.labels(template, tier).inc()
            return None
        try:
            core.metadata = check_str_map(body.metadata, "metadata")
            core.set_timeout(lifetime)
        except BaseException:
            core.close()
            raise
        self.metrics.pool_hits.labels(template, tier).inc()
        return core

    async def delete(self, sandbox_id: str, who: str) -> None:
        self.owned(sandbox_id, who)
        await self._take_off(sandbox_id, "closed")

    def extend(self, sandbox_id: str, who: str, seconds: float) -> Entry:
        seconds = self.lifetime(seconds)
        entry = self.owned(sandbox_id, who)
        self.call(entry, "set_timeout", entry.core.set_timeout, seconds)
        self.table.extend(entry, seconds)
        return entry

    async def pause(self, sandbox_id: str, who: str) -> None:
        """Save the sandbox and free it; refused while the key's stored data is at its
        ceiling already (the size of a save is known only once it is made)."""
        entry = self.owned(sandbox_id, who)
        await run_in_threadpool(self.check_stored, who)
        await self.commands.stop_all(sandbox_id)  # a running command holds the call slot
        await run_in_threadpool(self.call, entry, "pause", entry.core.pause)
        self.table.remove(sandbox_id, "paused")

    def resume(self, sandbox_id: str, who: str, timeout: float | None) -> Entry:
        self.table.paused_row(sandbox_id, who)
        lifetime = self.lifetime(timeout)
        with self.slots(who):
            core = SandboxCore.connect(sandbox_id, timeout=lifetime, base_url=LOCAL)
            return self.table.add(core, who, lifetime)

    def fork(self, sandbox_id: str, who: str, n: int) -> list[Entry]:
        """`n` children of the sandbox, each holding a slot, with its remaining lifetime."""
        entry = self.owned(sandbox_id, who)
        self.check_stored(who, n * len(json.dumps(entry.core.metadata)))
        with self.slots(who, n):
            children = self.call(entry, "fork", entry.core.fork, n)
            lifetime = max(1.0, entry.deadline - time.time())
            return [self.table.add(child, who, lifetime) for child in children]

    # -- a key's named snapshots, stored as `<key id>.<name>` -------------------------------

    def snapshot(self, sandbox_id: str, who: str, name: str) -> SnapshotInfo:
        """Save a named snapshot; one that takes the key past its stored-bytes ceiling
        is removed again and refused."""
        entry = self.owned(sandbox_id, who)
        self.check_stored(who)
        with own_names(who):
            info: SnapshotInfo = self.call(
                entry, "snapshot", entry.core.create_snapshot, f"{who}.{name}"
            )
        try:
            self.check_stored(who)
        except OverCeiling:
            saved.remove("snapshots", f"{who}.{name}")
            raise
        return dataclasses.replace(info, name=name)

    def snapshots(self, who: str) -> list[SnapshotInfo]:
        prefix = f"{who}."
        return [
            dataclasses.replace(s, name=s.name.removeprefix(prefix))
            for s in saved.snapshots()
            if s.name.startswith(prefix)
        ]

    def delete_snapshot(self, who: str, name: str) -> None:
        try:
            saved.remove("snapshots", f"{who}.{name}")
        except NotFound:
            raise NotFound(f"no snapshot {name!r} (for this API key)") from None

    # -- calls -------------------------------------------------------------------------------

    def call(self, entry: Entry, op: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """One core call, timed, with a sandbox the core finds gone taken off the table."""
        started = time.perf_counter()
        try:
            return fn(*args, **kw)
        except SandboxClosed as e:
            reason = closed_reason(e)
            e.reason = reason  # type: ignore[attr-defined]
            self.table.remove(entry.core.id, reason)
            raise
        finally:
            self.metrics.call_seconds.labels(op).observe(time.perf_counter() - started)

    def named(self, entry: Entry, call_id: str | None, work: Work) -> Work:
        """`work` as the call `call_id`, which an interrupt naming it (and only it) stops."""
        if call_id is None:
            return work
        sid, calls = entry.core.id, self.calls

        def as_named(out: OutputCallback | None, err: OutputCallback | None) -> Any:
            with calls.running(sid, call_id) as token, entry.core.call_slot(token):
                calls.check(sid, call_id)
                return work(out, err)

        return as_named

    def interrupt(self, sandbox_id: str, who: str, call_id: str | None) -> bool:
        """Stop the call `call_id` (or without one, whatever runs); whether one was."""
        entry = self.owned(sandbox_id, who)
        if call_id is not None:
            token = self.calls.kill(sandbox_id, call_id)
            return token is not None and entry.core.interrupt(owner=token)
        return bool(entry.core.interrupt())


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
