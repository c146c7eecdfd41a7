"""Policy decisions: does this sandbox's allow_out/deny_out let it reach a name or an
address, and what to tell it when not (the entries' syntax is `rules.py`).

Names are allowed by name entries only, so the gateway never resolves (and so never
leaks to DNS) a name the sandbox may not reach. Addresses, given or resolved, are checked
against address entries, and a private one needs an allow_out CIDR that names it: an
allowed name that resolves to 127.0.0.1 is DNS rebinding, refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import NetworkPolicy
from .rules import Address, is_private, parse_rule


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allowed" or the sandlot message the sandbox sees


class Policy:
    """A sandbox's NetworkPolicy as rules, with the decisions the gateway asks for."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self.allow = tuple(parse_rule(e) for e in policy.allow_out)
        self.deny = tuple(parse_rule(e) for e in policy.deny_out)

    def check_name(self, host: str, port: int) -> Decision:
        """Before resolving: is this name allowed at all (deny wins over allow)?"""
        host = host.lower().rstrip(".")
        if any(r.matches_name(host, port) for r in self.deny):
            return Decision(False, f"sandlot: {host} is in this sandbox's deny_out")
        if any(r.matches_name(host, port) for r in self.allow):
            return Decision(True, "allowed")
        return Decision(False, f"sandlot: {host} is not in this sandbox's allow_out")

    def check_resolved(self, host: str, address: Address, port: int) -> Decision:
        """After resolving an allowed name: may the gateway connect to this address?"""
        if any(r.network is not None and r.matches_address(address, port) for r in self.deny):
            return Decision(
                False, f"sandlot: {host} resolves to {address}, which is in this sandbox's deny_out"
            )
        if is_private(address) and not self._names_network(address, port):
            return Decision(
                False,
                f"sandlot: {host} resolves to a private address ({address}), "
                "which allow_out does not name",
            )
        return Decision(True, "allowed")

    def check_address(self, address: Address, port: int) -> Decision:
        """A target given as an address (or raw TCP): address entries decide."""
        if any(r.matches_address(address, port) for r in self.deny):
            return Decision(False, f"sandlot: {address} is in this sandbox's deny_out")
        if self._names_network(address, port):
            return Decision(True, "allowed")
        if is_private(address):
            return Decision(
                False, f"sandlot: {address} is a private address, which allow_out does not name"
            )
        if any(r.matches_address(address, port) for r in self.allow):
            return Decision(True, "allowed")
        return Decision(False, f"sandlot: {address} is not in this sandbox's allow_out")

    def _names_network(self, address: Address, port: int) -> bool:
        return any(r.network is not None and r.matches_address(address, port) for r in self.allow)
