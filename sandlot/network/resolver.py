"""Names resolved by the gateway itself, never by the sandbox: it connects to the address
it resolved. The upstream DNS server is a setting (SANDLOT_NET_RESOLVER="IP[:PORT]", for
tests and air-gapped hosts); unset, the host's /etc/resolv.conf."""

from __future__ import annotations

import asyncio
import os

import dns.asyncresolver
import dns.exception
import dns.resolver

from .rules import Address, address_of

TIMEOUT = 5.0  # seconds for one name, all its queries together
_resolvers: dict[str, dns.asyncresolver.Resolver] = {}


class ResolveError(Exception):
    """The name has no address (or the DNS server did not answer): the message says which."""


def _resolver() -> dns.asyncresolver.Resolver:
    """One resolver per setting, read each time so a changed setting takes effect."""
    setting = os.environ.get("SANDLOT_NET_RESOLVER", "").strip()
    cached = _resolvers.get(setting)
    if cached is not None:
        return cached
    if setting:
        host, _, port = setting.rpartition(":") if setting.count(":") == 1 else (setting, "", "")
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = int(port) if port else 53
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.lifetime = TIMEOUT
    resolver.cache = dns.resolver.LRUCache(4096)  # answers kept for their TTL: every
    # address is still checked by the policy each time, so a cached one is no looser
    _resolvers[setting] = resolver
    return resolver


async def resolve(host: str) -> list[Address]:
    """The host's addresses, IPv4 first; an address literal is itself."""
    literal = address_of(host)
    if literal is not None:
        return [literal]
    resolver = _resolver()
    answers = await asyncio.gather(
        *(resolver.resolve(host, kind, search=False) for kind in ("A", "AAAA")),
        return_exceptions=True,
    )
    found: list[Address] = []
    for answer in answers:
        if isinstance(answer, dns.resolver.NoAnswer | dns.resolver.NXDOMAIN):
            continue
        if isinstance(answer, BaseException):
            name = type(answer).__name__
            raise ResolveError(f"sandlot: {host} could not be resolved ({name})") from answer
        found.extend(a for a in (address_of(r.to_text()) for r in answer) if a is not None)
    if not found:
        raise ResolveError(f"sandlot: {host} does not resolve")
    return found
