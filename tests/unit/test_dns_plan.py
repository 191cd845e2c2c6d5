"""The DNS planner (pure): which servers and domains a link's DNS gets, and whether its
servers take every lookup, from the projection, the entry's Windows keys and the routing."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from openras.dns.plan import DnsPlan, domains_of, plan_dns


class Entry:
    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._v = {k.lower(): v for k, v in (values or {}).items()}

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._v.get(key.lower(), default)


def plan(
    entry: Mapping[str, str] | None = None,
    *,
    servers: tuple[str, ...] = ("10.8.0.53",),
    domains: tuple[str, ...] = ("corp.example",),
    full: bool = False,
    may_take_all: bool = True,
) -> DnsPlan:
    return plan_dns(
        interface="tun0",
        pushed_servers=servers,
        pushed_domains=domains,
        entry=Entry(entry),
        routes_everything=full,
        may_take_all=may_take_all,
    )


def test_split_tunnel_pushed_servers_and_domain() -> None:
    p = plan()
    assert p == DnsPlan("tun0", ("10.8.0.53",), ("corp.example",), (), False)
    assert p


def test_full_tunnel_takes_every_lookup() -> None:
    p = plan(full=True)
    assert p.default_route and p.routing_domains == (".",)


def test_windows_default_entry_keeps_pushed_servers() -> None:
    # What Windows writes for "obtain DNS server address automatically".
    keys = {"IpNameAssign": "1", "IpDnsAddress": "0.0.0.0", "IpDns2Address": "0.0.0.0"}
    assert plan(keys).servers == ("10.8.0.53",)


def test_entry_servers_override_pushed() -> None:
    keys = {"IpNameAssign": "2", "IpDnsAddress": "192.0.2.1", "IpDns2Address": "192.0.2.2"}
    assert plan(keys).servers == ("192.0.2.1", "192.0.2.2")


def test_entry_servers_without_specific_flag_are_ignored() -> None:
    assert plan({"IpNameAssign": "1", "IpDnsAddress": "192.0.2.1"}).servers == ("10.8.0.53",)


def test_specific_but_zero_addresses_keep_pushed() -> None:
    keys = {"IpNameAssign": "2", "IpDnsAddress": "0.0.0.0", "IpDns2Address": "0.0.0.0"}
    assert plan(keys).servers == ("10.8.0.53",)


def test_ipv6_keys_replace_only_ipv6() -> None:
    keys = {"Ipv6NameAssign": "2", "Ipv6DnsAddress": "2001:db8::53", "Ipv6Dns2Address": "::"}
    p = plan(keys, servers=("10.8.0.53", "fd00::53"))
    assert p.servers == ("10.8.0.53", "2001:db8::53")


def test_suffix_comes_first_and_domains_are_normalized() -> None:
    p = plan({"IpDnsSuffix": "Office.Example."}, domains=("corp.example", "corp.example."))
    assert p.search_domains == ("office.example", "corp.example")


@pytest.mark.parametrize(
    ("value", "full", "expected"),
    [
        ("1", False, True),
        ("0", True, False),
        ("", True, True),
        ("", False, False),
        ("x", True, True),
    ],
)
def test_prioritize_remote_decides_when_present(value: str, full: bool, expected: bool) -> None:
    keys = {"IpPrioritizeRemote": value} if value else {}
    assert plan(keys, full=full).default_route is expected


def test_policy_without_full_tunnel_never_takes_every_lookup() -> None:
    assert not plan({"IpPrioritizeRemote": "1"}, full=True, may_take_all=False).default_route


def test_no_servers_is_an_empty_plan() -> None:
    p = plan(servers=(), full=True)
    assert not p and not p.default_route and p.search_domains == ()


@pytest.mark.parametrize(
    "bad", ["0.0.0.0", "::", "224.0.0.1", "not an ip", "10.0.0.1; rm -rf /", "", "fe80::1%tun0"]
)
def test_unusable_addresses_are_dropped(bad: str) -> None:
    assert plan(servers=(bad, "10.8.0.53")).servers == ("10.8.0.53",)


@pytest.mark.parametrize("bad", ["a b\nnameserver 1.2.3.4", "-x", "..", "a" * 64 + ".example"])
def test_bad_domains_never_reach_a_resolver_file(bad: str) -> None:
    p = plan(domains=(bad,))
    assert all("\n" not in d and "nameserver" not in d for d in p.search_domains)
    assert "1.2.3.4" not in p.servers


def test_duplicates_and_limits() -> None:
    p = plan(servers=(*tuple(f"10.0.0.{i}" for i in range(1, 20)), "10.0.0.1"))
    assert len(p.servers) == 4 and len(set(p.servers)) == 4


def test_record_round_trip_rechecks() -> None:
    p = plan(full=True)
    assert DnsPlan.from_record(p.to_record()) == p
    forged = {"interface": "tun0", "servers": ["1.2.3.4\nsearch evil"], "default_route": "yes"}
    assert DnsPlan.from_record(forged) == DnsPlan("tun0")


def test_domains_of_projection_extra() -> None:
    assert domains_of({"domain": "corp.example", "server": "x"}) == ["corp.example"]
    assert domains_of({"dns_search": "a.example,b.example"}) == ["a.example,b.example"]
    assert plan(
        domains=tuple(domains_of({"dns_search": "a.example,b.example"}))
    ).search_domains == (
        "a.example",
        "b.example",
    )
