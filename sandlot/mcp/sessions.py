"""The sandboxes an MCP server holds: all of them (so that shutdown closes them), and each
session's own, within the operator's cap and on the tiers the policy picks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..errors import ImageMissing, NotFound, SandboxClosed, Unsatisfiable
from ..sdk._async.sandbox import AsyncSandbox
from .policy import McpConfig, NotAllowed, plan


@dataclass
class _Entry:
    sandbox: AsyncSandbox
    lifetime: float
    renewed: float = field(default_factory=time.monotonic)


class SandboxRegistry:
    """Every sandbox this server holds, across sessions, so that shutdown closes them all."""

    def __init__(self) -> None:
        self._live: dict[str, AsyncSandbox] = {}

    async def create(
        self,
        template: str | None,
        lifetime: float,
        tiers: tuple[str | None, ...] = (None,),
        network: dict[str, list[str]] | None = None,
    ) -> AsyncSandbox:
        """A sandbox on the first of `tiers` that can start `template` (None: the SDK picks).

        A tier that cannot serve the template here (no image, unavailable) is skipped; when
        none can, Unsatisfiable says why for each."""
        reasons: list[str] = []
        for tier in tiers:
            try:
                sbx = await AsyncSandbox.create(
                    template, tier=tier, timeout=lifetime, network=network
                )
            except (ImageMissing, Unsatisfiable) as e:
                if len(tiers) == 1:
                    raise
                reasons.append(f"{tier}: {e}")
                continue
            self._live[sbx.id] = sbx
            return sbx
        raise Unsatisfiable(
            f"no tier this server allows ({', '.join(str(t) for t in tiers)}) could start "
            f"template {template!r}: " + "; ".join(reasons)
        )

    async def close(self, sbx: AsyncSandbox) -> None:
        self._live.pop(sbx.id, None)
        await sbx.close()

    async def close_all(self) -> None:
        for sbx in list(self._live.values()):
            try:
                await self.close(sbx)
            except Exception:  # noqa: BLE001 - shutdown goes on whatever one sandbox does
                pass

    def __len__(self) -> int:
        return len(self._live)


class SessionSandboxes:
    """One MCP session's sandboxes: its default one (made on first use) and those it
    created, at most `config.max_sandboxes_per_session` at once."""

    def __init__(self, registry: SandboxRegistry, config: McpConfig) -> None:
        self._registry = registry
        self._config = config
        self._entries: dict[str, _Entry] = {}
        self._starting = 0  # creates under way: they hold a slot before the sandbox exists
        self._default_id: str | None = None
        self._lock = anyio.Lock()

    @property
    def cap(self) -> int:
        return self._config.max_sandboxes_per_session

    async def get(self, sandbox_id: str | None) -> tuple[AsyncSandbox, str]:
        """The sandbox a tool call works on, and a note for the agent ("" if none)."""
        if sandbox_id:
            entry = self._entries.get(sandbox_id)
            if entry is None:
                known = ", ".join(self._entries) or "none"
                raise NotFound(
                    f"no sandbox {sandbox_id!r} in this session (open: {known}); "
                    "call list_sandboxes, or leave sandbox_id out to use the default sandbox"
                )
            try:
                await self._renew(entry)
            except SandboxClosed:
                self._entries.pop(sandbox_id, None)
                await self._registry.close(entry.sandbox)
                raise
            return entry.sandbox, ""
        async with self._lock:
            note = ""
            if self._default_id is not None:
                entry = self._entries.get(self._default_id)
                if entry is not None:
                    try:
                        await self._renew(entry)
                        return entry.sandbox, ""
                    except SandboxClosed:
                        self._entries.pop(self._default_id, None)
                        await self._registry.close(entry.sandbox)
                        note = (
                            f"note: the default sandbox {self._default_id} had expired; this "
                            "ran in a new one, so earlier variables and files are gone\n"
                        )
                self._default_id = None
            sbx = await self._add(None, None, self._config.sandbox_timeout)
            self._default_id = sbx.id
            return sbx, note

    async def create(
        self,
        template: str | None,
        tier: str | None,
        lifetime: float | None,
        allow_out: list[str] | None = None,
    ) -> AsyncSandbox:
        network = {"allow_out": list(allow_out)} if allow_out else None
        return await self._add(template, tier, lifetime or self._config.sandbox_timeout, network)

    async def close(self, sandbox_id: str) -> None:
        entry = self._entries.pop(sandbox_id, None)
        if entry is None:
            known = ", ".join(self._entries) or "none"
            raise NotFound(f"no sandbox {sandbox_id!r} in this session (open: {known})")
        if sandbox_id == self._default_id:
            self._default_id = None
        await self._registry.close(entry.sandbox)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "sandbox_id": sid,
                "template": e.sandbox.template,
                "tier": e.sandbox.tier,
                "default": sid == self._default_id,
                "state": "closed" if e.sandbox.closed else "live",
            }
            for sid, e in self._entries.items()
        ]

    async def close_all(self) -> None:
        entries, self._entries, self._default_id = list(self._entries.values()), {}, None
        for entry in entries:
            try:
                await self._registry.close(entry.sandbox)
            except Exception:  # noqa: BLE001 - close the others whatever one does
                pass

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """Hold one of the session's slots while a sandbox starts (NotAllowed when full)."""
        held = len(self._entries) + self._starting
        if held >= self.cap:
            raise NotAllowed(
                f"this session already holds {held} sandboxes, the most this server allows; "
                "close one with close_sandbox (list_sandboxes shows them)"
            )
        self._starting += 1
        try:
            yield
        finally:
            self._starting -= 1

    async def _add(
        self,
        template: str | None,
        tier: str | None,
        lifetime: float,
        network: dict[str, list[str]] | None = None,
    ) -> AsyncSandbox:
        # plan() asks the tiers whether they are available here, which may start a probe
        where = await anyio.to_thread.run_sync(
            plan, self._config, template, tier, network is not None
        )
        async with self._slot():
            sbx = await self._registry.create(where.template, lifetime, where.tiers, network)
            self._entries[sbx.id] = _Entry(sbx, lifetime)
        return sbx

    async def _renew(self, entry: _Entry) -> None:
        """Keep a sandbox in use alive (raises SandboxClosed if it expired or was closed)."""
        if entry.sandbox.closed:
            raise SandboxClosed(f"sandbox {entry.sandbox.id} was closed")
        now = time.monotonic()
        if now - entry.renewed > min(60.0, entry.lifetime / 4):
            await entry.sandbox.set_timeout(entry.lifetime)
            entry.renewed = now
