"""The syntax of allow_out/deny_out entries and what each matches: a name, `*.name`, `*`,
an address or a CIDR, each optionally `:PORT`; and the addresses refused after resolution
unless a CIDR names them. Below `models.py`, which checks a policy's entries with it."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InvalidArgument

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Refused after resolution unless an allow_out CIDR names them: an explicit list, not
# `is_private` (which also covers TEST-NET and benchmark ranges a user may reach).
PRIVATE: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "::1/128",
        "::/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Rule:
    """One allow_out/deny_out entry: a name pattern or a network, and a port or any."""

    name: str | None  # "example.org", "*.example.com" or "*"; None for a network rule
    network: Network | None
    port: int | None

    def matches_name(self, host: str, port: int) -> bool:
        if self.name is None or (self.port is not None and self.port != port):
            return False
        if self.name == "*":
            return True
        if self.name.startswith("*."):
            return host.endswith(self.name[1:])
        return host == self.name

    def matches_address(self, address: Address, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.name == "*":
            return not is_private(address)  # "*" is the public internet
        return self.network is not None and _unmapped(address) in self.network


def parse_rule(entry: str) -> Rule:
    """One entry, checked: InvalidArgument names it when it is none of the forms."""
    text = entry.strip().lower().rstrip(".")
    host, port = _split_port(entry, text)
    try:
        return Rule(None, ipaddress.ip_network(host, strict=False), port)
    except ValueError:
        pass
    labels = host.split(".")
    if host == "*" or (
        all(_LABEL.match(label) for label in labels[1:] if label)
        and (labels[0] == "*" or _LABEL.match(labels[0]))
        and len(labels) > (1 if labels[0] == "*" else 0)
        and all(labels)
        and len(host) <= 253
    ):
        return Rule(host, None, port)
    raise InvalidArgument(
        f"network entry {entry!r} is not a name, *.name, address or CIDR (optionally :PORT)"
    )


def _split_port(entry: str, text: str) -> tuple[str, int | None]:
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            raise InvalidArgument(f"network entry {entry!r}: expected [address]:PORT")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if port is None:
        return host, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument(f"network entry {entry!r}: the port must be 1-65535")
    return host, int(port)


def normalized_entries(field: str, entries: Iterable[object]) -> tuple[str, ...]:
    """A policy field checked entry by entry and kept as given (lowercase, stripped)."""
    if isinstance(entries, str):  # one string is not a list of its letters
        raise InvalidArgument(f"network.{field} must be a list of entries; got {entries!r}")
    out = []
    for entry in entries:
        if not isinstance(entry, str):
            raise InvalidArgument(f"network.{field} entries must be strings; got {entry!r}")
        parse_rule(entry)
        out.append(entry.strip().lower())
    return tuple(out)


def is_private(address: Address) -> bool:
    address = _unmapped(address)
    return any(address in net for net in PRIVATE if net.version == address.version)


def _unmapped(address: Address) -> Address:
    """::ffff:10.0.0.1 is 10.0.0.1, so mapped forms are judged as what they reach."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_of(host: str) -> Address | None:
    """The host as an address when it is one ("203.0.113.7", "[::1]" or "::1")."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
