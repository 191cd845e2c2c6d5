"""What a connected link's DNS should be (pure): servers, search and routing domains, and
whether its servers take every lookup.

Inputs are what the link negotiated (its projection: the servers the server pushed, OpenVPN's
``dhcp-option DOMAIN``, WireGuard's ``DNS =`` search names), the entry's Windows keys, whether
the link's routes cover everything, and whether the dial may take the whole machine's traffic
(the policy's full-tunnel grant). The Windows keys honoured, with Windows' meaning:

* ``IpNameAssign``: 1 (the default) = the server assigns the DNS servers; 2 = use the entry's
  ``IpDnsAddress``/``IpDns2Address`` instead of what the server pushed (``0.0.0.0`` = none
  given). ``Ipv6NameAssign``/``Ipv6DnsAddress``/``Ipv6Dns2Address`` likewise for IPv6.
* ``IpDnsSuffix``: the connection's own DNS suffix, the first search domain.
* ``IpPrioritizeRemote`` ("use default gateway on remote network"): 1 = the link's servers
  answer every lookup (the DNS default route); 0 = only names under its domains go to it
  (split DNS). Absent: the link's routing decides (a link that routes everything, as a pushed
  ``redirect-gateway`` or ``AllowedIPs = 0.0.0.0/0`` does, takes every lookup).

Nothing here can make a dial take every lookup when its policy grant forbids a full tunnel.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

#: Per family, the most servers kept from one link (resolv.conf's glibc reads 3 in all).
MAX_SERVERS: Final = 4
#: The most search domains kept from one link.
MAX_DOMAINS: Final = 8
_LABEL: Final = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_DOMAIN: Final = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


class EntryKeys(Protocol):
    def get(self, key: str, default: str | None = None) -> str | None: ...


@dataclass(frozen=True)
class DnsPlan:
    """One link's resolver configuration, as every backend applies it.

    ``routing_domains`` are routing-only domains (systemd-resolved's ``~domain``; ``"."``
    means every name); ``search_domains`` are also routing domains for resolved.
    """

    interface: str
    servers: tuple[str, ...] = ()
    search_domains: tuple[str, ...] = ()
    routing_domains: tuple[str, ...] = ()
    default_route: bool = False

    def __bool__(self) -> bool:
        """A plan without servers changes nothing (there is nowhere to send a lookup)."""
        return bool(self.servers)

    def to_record(self) -> dict[str, Any]:
        return {
            "interface": self.interface,
            "servers": list(self.servers),
            "search_domains": list(self.search_domains),
            "routing_domains": list(self.routing_domains),
            "default_route": self.default_route,
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> DnsPlan:
        """The plan of a journal record, every field checked again (a journal is a file)."""
        return cls(
            interface=str(rec.get("interface", "")),
            servers=_addresses(_strings(rec.get("servers")), MAX_SERVERS * 2),
            search_domains=_domains(_strings(rec.get("search_domains"))),
            routing_domains=tuple(
                d for d in _strings(rec.get("routing_domains")) if d == "." or _DOMAIN.match(d)
            )[:MAX_DOMAINS],
            default_route=rec.get("default_route") is True,
        )


def _strings(value: object) -> list[str]:
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, str)]


def _address(text: str) -> str | None:
    """A usable unicast server address in canonical form, else None (0.0.0.0, ``::``,
    multicast, garbage, or with an IPv6 zone such as ``fe80::1%tun0``)."""
    if "%" in text:
        return None
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if addr.is_unspecified or addr.is_multicast:
        return None
    return str(addr)


def _addresses(texts: Iterable[str], limit: int) -> tuple[str, ...]:
    out: list[str] = []
    for text in texts:
        addr = _address(text)
        if addr is not None and addr not in out:
            out.append(addr)
    return tuple(out[:limit])


def _domains(texts: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for text in texts:
        for word in re.split(r"[,;]", text):
            name = word.strip().rstrip(".").lower()
            if name and _DOMAIN.match(name) and name not in out:
                out.append(name)
    return tuple(out[:MAX_DOMAINS])


def _family(addr: str) -> int:
    return ipaddress.ip_address(addr).version


def _servers(
    pushed: tuple[str, ...], entry: EntryKeys, version: int, assign_key: str, keys: tuple[str, str]
) -> list[str]:
    own = [s for s in pushed if _family(s) == version]
    if (entry.get(assign_key) or "").strip() == "2":
        given = [a for a in (_address(entry.get(k) or "") for k in keys) if a is not None]
        given = [a for a in given if _family(a) == version]
        if given:
            return given[:MAX_SERVERS]
    return own[:MAX_SERVERS]


def plan_dns(
    *,
    interface: str,
    pushed_servers: Iterable[str],
    pushed_domains: Iterable[str],
    entry: EntryKeys,
    routes_everything: bool,
    may_take_all: bool = True,
) -> DnsPlan:
    """The plan for one connected link (empty servers: nothing to apply).

    ``routes_everything``: the link's routes cover the whole address space of a family (a
    default route, or ``0/1`` + ``128/1``). ``may_take_all``: the dial's policy grants a full
    tunnel (False: the link never becomes the DNS default route, whatever the entry says).
    """
    pushed = _addresses(pushed_servers, MAX_SERVERS * 4)
    servers = _servers(pushed, entry, 4, "IpNameAssign", ("IpDnsAddress", "IpDns2Address"))
    servers += _servers(pushed, entry, 6, "Ipv6NameAssign", ("Ipv6DnsAddress", "Ipv6Dns2Address"))
    search = _domains([entry.get("IpDnsSuffix") or "", *pushed_domains])
    prioritize = (entry.get("IpPrioritizeRemote") or "").strip()
    default_route = prioritize == "1" if prioritize in ("0", "1") else routes_everything
    default_route = default_route and may_take_all and bool(servers)
    return DnsPlan(
        interface=interface,
        servers=tuple(servers),
        search_domains=search if servers else (),
        routing_domains=(".",) if default_route else (),
        default_route=default_route,
    )


def domains_of(extra: Mapping[str, str]) -> list[str]:
    """The search domains a driver reported in its projection's ``extra`` (OpenVPN's pushed
    ``DOMAIN`` as ``domain``, WireGuard's ``DNS =`` names as ``dns_search``)."""
    return [str(extra[k]) for k in ("domain", "dns_search", "domains") if extra.get(k)]


__all__ = ["DnsPlan", "EntryKeys", "domains_of", "plan_dns"]
