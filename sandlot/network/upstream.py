"""Opening a connection for a sandbox: the policy decides on the name, the gateway
resolves it, the policy decides on each address, and the gateway connects to one it
resolved itself (TLS verified when asked)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from . import tls
from .resolver import ResolveError, resolve
from .rules import address_of

if TYPE_CHECKING:
    from .gateway import Attachment

CONNECT_TIMEOUT = 10.0  # seconds per address tried
BUFFER = 256 << 10  # an upstream reads ahead at most twice this before it is paused
MAX_TRIES = 3  # addresses tried, in the resolver's order, before giving up


class Refused(Exception):
    """The gateway will not (or cannot) connect: status for an HTTP client, the message."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def check_name(att: Attachment, host: str, port: int) -> None:
    """Refuse early, before any DNS query, a name or address the policy does not allow."""
    literal = address_of(host)
    decision = (
        att.policy.check_address(literal, port)
        if literal is not None
        else att.policy.check_name(host, port)
    )
    if not decision.allowed:
        raise Refused(decision.reason)


async def open_upstream(
    att: Attachment, host: str, port: int, *, tls_name: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to `host:port` by the policy, over TLS to `tls_name` when given."""
    check_name(att, host, port)
    literal = address_of(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = await resolve(host)
        except ResolveError as e:
            raise Refused(str(e), 502) from e
        decisions = [(a, att.policy.check_resolved(host, a, port)) for a in found]
        addresses = [a for a, d in decisions if d.allowed]
        if not addresses:
            raise Refused(decisions[0][1].reason)
    context = tls.upstream_context() if tls_name is not None else None
    failure = Refused(f"sandlot: {host}:{port} did not answer", 504)
    for address in addresses[:MAX_TRIES]:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(
                    str(address), port, ssl=context, server_hostname=tls_name, limit=BUFFER
                ),
                CONNECT_TIMEOUT,
            )
        except TimeoutError:
            failure = Refused(f"sandlot: {host}:{port} did not answer", 504)
        except OSError as e:  # refused, unreachable, or TLS verification failed
            failure = Refused(f"sandlot: could not reach {host}:{port} ({e})", 502)
    raise failure
