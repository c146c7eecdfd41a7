"""The policy's values and decisions on their own (no network needed): the entry forms,
E2B's shape, deny over allow, the private list, and secrets that never show."""

from __future__ import annotations

import ipaddress

import pytest

from sandlot.errors import InvalidArgument
from sandlot.models import NetworkPolicy, Secrets
from sandlot.network.policy import Policy
from sandlot.network.rules import address_of


def test_e2b_shape_and_defaults() -> None:
    assert NetworkPolicy.parse(None) is None
    assert NetworkPolicy.parse({}) is None
    assert NetworkPolicy.parse({"allow_internet_access": False}) is None
    assert NetworkPolicy.parse({"allow_internet_access": True}) == NetworkPolicy(("*",))
    given = {"allow_out": ["Example.org", "*.example.com:443"], "deny_out": ["10.0.0.0/8"]}
    policy = NetworkPolicy.parse(given)
    assert policy == NetworkPolicy(("example.org", "*.example.com:443"), ("10.0.0.0/8",))
    assert policy.enabled and NetworkPolicy.parse(policy.to_dict()) == policy
    assert hash(policy) == hash(NetworkPolicy.parse(given))


@pytest.mark.parametrize(
    "entry", ["exa mple.org", "http://example.org", "example.org:0", "example.org:99999", "*x.org"]
)
def test_a_bad_entry_is_named(entry: str) -> None:
    with pytest.raises(InvalidArgument, match=entry.replace("*", r"\*").replace(".", r"\.")):
        NetworkPolicy.parse({"allow_out": [entry]})


def test_bad_shapes_are_refused() -> None:
    for bad in ({"allow_out": "example.org"}, {"allow": ["x.org"]}, "example.org"):
        with pytest.raises(InvalidArgument):
            NetworkPolicy.parse(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        NetworkPolicy("example.org")  # type: ignore[arg-type]


def test_names_wildcards_ports_and_deny_over_allow() -> None:
    policy = Policy(
        NetworkPolicy(
            ("example.org:443", "*.example.com", "*.example.net"), ("private.example.com",)
        )
    )
    assert policy.check_name("example.org", 443).allowed
    assert not policy.check_name("example.org", 80).allowed
    assert policy.check_name("a.b.example.com", 80).allowed
    assert not policy.check_name("example.com", 80).allowed
    assert policy.check_name("private.example.com", 443).reason == (
        "sandlot: private.example.com is in this sandbox's deny_out"
    )


@pytest.mark.parametrize(
    "address",
    ["0.1.2.3", "10.1.2.3", "100.64.0.1", "127.0.0.1", "169.254.169.254", "172.16.0.1",
     "192.168.1.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fd00::1",
     "fe80::1", "ff02::1", "::ffff:10.1.2.3", "::ffff:127.0.0.1"],
)  # fmt: skip
def test_private_addresses_need_a_cidr_naming_them(address: str) -> None:
    ip = ipaddress.ip_address(address)
    everywhere = Policy(NetworkPolicy(("*",)))
    assert not everywhere.check_resolved("x.example.org", ip, 80).allowed
    assert not everywhere.check_address(ip, 80).allowed
    mapped = isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None
    net = "::/0" if ip.version == 6 and not mapped else "0.0.0.0/0"  # mapped: judged as v4
    named = Policy(NetworkPolicy(("*", net)))
    assert named.check_resolved("x.example.org", ip, 80).allowed


@pytest.mark.parametrize("address", ["203.0.113.7", "198.18.0.1", "192.0.2.1", "2001:db8::1"])
def test_documentation_and_benchmark_ranges_are_not_private(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert Policy(NetworkPolicy(("*",))).check_address(ip, 80).allowed


def test_addresses_by_address_entries() -> None:
    policy = Policy(NetworkPolicy(("203.0.113.0/24:7", "[2001:db8::1]:443"), ("203.0.113.9",)))
    assert policy.check_address(ipaddress.ip_address("203.0.113.5"), 7).allowed
    assert not policy.check_address(ipaddress.ip_address("203.0.113.5"), 8).allowed
    assert not policy.check_address(ipaddress.ip_address("203.0.113.9"), 7).allowed
    assert policy.check_address(ipaddress.ip_address("2001:db8::1"), 443).allowed
    assert address_of("[2001:db8::1]") == ipaddress.ip_address("2001:db8::1")
    assert address_of("example.org") is None


def test_secrets_are_frozen_hashable_and_never_shown() -> None:
    value = "Bearer sk-never-shown"
    secrets = Secrets({"API.example.com": {"Authorization": value}})
    assert list(secrets) == ["api.example.com"]
    assert value not in repr(secrets) and value not in str(secrets)
    assert repr(secrets) == "Secrets(hosts=['api.example.com'])"
    same = Secrets({"api.example.com": {"Authorization": value}})
    assert secrets == same and hash(secrets) == hash(same) and Secrets() != secrets
    assert secrets.to_dict() == {"api.example.com": {"Authorization": value}}
    for bad in (
        {"api.example.com/x": {"A": "b"}},
        {"api.example.com": {"Bad Header": "b"}},
        {"api.example.com": {"A": "b\r\nInjected: 1"}},
        {"api.example.com": {"Host": "elsewhere.example.net"}},
    ):
        with pytest.raises(InvalidArgument) as caught:
            Secrets(bad)
        assert "Injected" not in str(caught.value) and "elsewhere" not in str(caught.value)
