"""The host process's one network gateway: an asyncio loop on a daemon thread, and per
sandbox an `Attachment` with listeners of its own (a Unix socket to bind-mount into a
jail, a loopback TCP port for a VM's guestfwd), so a connection's sandbox is known by the
listener it arrived on, never by anything it says.

Fails closed: a closed attachment's listeners are gone and its connections cut, and if
the loop's thread ends, every listener closes with it (connections refused, never hung).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import tempfile
import threading
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..models import NetworkPolicy, Secrets
from . import tls
from .caps import NetCaps, Usage
from .log import ConnectionLog, ConnectionRecord
from .policy import Policy

T = TypeVar("T")
MAX_HEAD = 32 << 10  # a request head larger than this is refused (431)
BACKLOG = 1024  # a burst of connects is answered (and refused past the cap), not dropped
MAX_ACCEPTED = 8192  # connections held at once by the whole gateway; past it, reset at once

__all__ = ["Attachment", "Gateway", "GatewayDown", "NetCaps", "gateway"]


class GatewayDown(RuntimeError):
    """The gateway's thread has ended: no sandbox of this process has network any more."""


class Gateway:
    """One per host process (see `gateway()`): the loop every attachment is served on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._dir = tempfile.mkdtemp(prefix="sandlot-net-")
        self._attachments: set[Attachment] = set()
        self.accepted = 0  # client connections being served, all attachments (loop only)
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandlot-net", daemon=True)
        self._thread.start()
        self._running.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._running.set)
        try:
            self.loop.run_forever()
        finally:  # whatever ended the loop, no listener outlives it
            with self._lock:
                attachments = list(self._attachments)
            for a in attachments:
                a._shut()
            shutil.rmtree(self._dir, ignore_errors=True)
            self._finish_tasks()

    def _finish_tasks(self) -> None:
        """Let the cut connections' tasks end (their records written), then close the loop."""
        with contextlib.suppress(Exception):
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            gathered = asyncio.gather(*tasks, return_exceptions=True)
            self.loop.run_until_complete(asyncio.wait_for(gathered, 5))
            self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self.loop.is_running()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run `coro` on the gateway's loop and wait for it, from any other thread."""
        if not self.alive:
            coro.close()
            raise GatewayDown("sandlot: the network gateway has stopped")
        if threading.current_thread() is self._thread:
            coro.close()  # waiting on its own loop would wait for ever
            raise RuntimeError("Gateway.call from the gateway's own thread: await it instead")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def attach(
        self,
        policy: NetworkPolicy,
        secrets: Secrets = Secrets(),  # noqa: B008 - frozen, hashable
        *,
        label: str,
        caps: NetCaps = NetCaps(),  # noqa: B008 - frozen
    ) -> Attachment:
        """A sandbox's way out: its own listeners, policy, caps, log and (with secrets) CA."""
        path = os.path.join(self._dir, f"{uuid.uuid4().hex[:16]}.sock")
        attachment = Attachment(self, Policy(policy), secrets, label, caps, path)
        with self._lock:  # known before it listens: a dying loop shuts it too
            self._attachments.add(attachment)
        try:
            self.call(attachment._listen_unix())
        except BaseException:
            attachment.close()
            raise
        return attachment

    def stop(self) -> None:
        """End the loop (its thread closes every listener): what a crash does, on purpose."""
        if self.alive:
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def _forget(self, attachment: Attachment) -> None:
        with self._lock:
            self._attachments.discard(attachment)


class Attachment:
    """One sandbox on the gateway. Its methods may be called from any thread; the state
    below them lives on the gateway's loop."""

    def __init__(
        self,
        gw: Gateway,
        policy: Policy,
        secrets: Secrets,
        label: str,
        caps: NetCaps,
        unix_path: str,
    ) -> None:
        self.gateway = gw
        self.policy = policy
        self.secrets = secrets.to_dict()
        self.label = label
        self.caps = caps
        self.usage = Usage(caps)
        self.records = ConnectionLog()
        self.closed = False
        self.open_writers: set[asyncio.StreamWriter] = set()
        self._unix_path = unix_path
        self._servers: list[asyncio.Server] = []
        self._tcp: tuple[str, int] | None = None
        self._tcp_lock = threading.Lock()
        self._ca = tls.make_ca(f"sandlot sandbox {label}", self.secrets) if secrets else None
        self._leaf_contexts: dict[str, ssl.SSLContext] = {}

    def __repr__(self) -> str:
        return f"Attachment({self.label!r}, closed={self.closed})"

    # --- the tier-facing face ---

    def unix_socket(self) -> str:
        """A listener only this sandbox reaches (bind-mounted into its jail)."""
        return self._unix_path

    def tcp_address(self) -> tuple[str, int]:
        """A loopback listener (a VM's guestfwd target), made on first call."""
        with self._tcp_lock:
            if self._tcp is None:
                self._tcp = self.gateway.call(self._listen_tcp())
            return self._tcp

    def ca_pem(self) -> bytes | None:
        """The CA to add to the guest's trust store; None when no host has secrets."""
        return self._ca.cert_pem() if self._ca is not None else None

    def log(self) -> list[ConnectionRecord]:
        return self.records.records()

    def close(self) -> None:
        """Listeners closed and open connections cut; idempotent."""
        if self.closed:
            return
        if self.gateway.alive:
            self.gateway.call(self._close())
        else:
            self._shut()
        self.gateway._forget(self)

    # --- on the gateway's loop ---

    async def _listen_unix(self) -> None:
        server = await asyncio.start_unix_server(
            self._serve, self._unix_path, limit=MAX_HEAD, backlog=BACKLOG
        )
        os.chmod(self._unix_path, 0o666)  # the jail's user, whoever it is, may connect
        self._servers.append(server)

    async def _listen_tcp(self) -> tuple[str, int]:
        if self.closed:
            raise GatewayDown("sandlot: this sandbox's network is closed")
        server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, limit=MAX_HEAD, backlog=BACKLOG
        )
        self._servers.append(server)
        host, port = server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from .proxy import serve_client  # the protocol module imports this one

        gw = self.gateway
        if gw.accepted >= MAX_ACCEPTED:  # every sandbox together: the host's descriptors
            writer.transport.abort()
            return
        gw.accepted += 1
        try:
            await serve_client(self, reader, writer)
        finally:
            gw.accepted -= 1

    async def _close(self) -> None:
        self._shut()
        for server in self._servers:
            await server.wait_closed()

    def _shut(self) -> None:
        self.closed = True
        for server in self._servers:
            server.close()
        for writer in list(self.open_writers):
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError, AttributeError):
                sock.shutdown(socket.SHUT_RDWR)  # cut now, even if the loop is dead
            writer.transport.abort()
        self.open_writers.clear()
        try:
            os.unlink(self._unix_path)
        except FileNotFoundError:
            pass

    def leaf_context(self, host: str) -> ssl.SSLContext:
        """The server context the gateway shows this sandbox for `host` (one with secrets),
        refusing a hello whose server name is not `host` (no fronting)."""
        ctx = self._leaf_contexts.get(host)
        if ctx is None:
            assert self._ca is not None
            ctx = tls.server_context(*tls.issue(self._ca, [host]))

            def same_name(_obj: object, name: str | None, _ctx: ssl.SSLContext) -> int | None:
                return None if (name or "").lower().rstrip(".") == host else _UNRECOGNIZED

            ctx.sni_callback = same_name
            self._leaf_contexts[host] = ctx
        return ctx


_UNRECOGNIZED = int(ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME)
_gateway: Gateway | None = None
_gateway_lock = threading.Lock()


def gateway() -> Gateway:
    """The host process's one gateway, started on first use (and again after it stopped:
    the sandboxes it served stay without network)."""
    global _gateway
    with _gateway_lock:
        if _gateway is None or not _gateway.alive:
            _gateway = Gateway()
        return _gateway
