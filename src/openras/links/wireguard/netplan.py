"""What the driver does for a config's wg-quick keys (pure: a list of operations).

It follows ``wg-quick`` (``Address``, ``MTU``, routes for every peer's ``AllowedIPs``,
``Table``) with two deliberate differences:

* a default route (``0.0.0.0/0`` or ``::/0``) with ``Table = auto`` uses wg-quick's policy
  routing (a private table selected by "not fwmark", plus "main, suppress_prefixlength 0"),
  but the two rules get **explicit priorities derived from the table**, so two links never
  add the same rule (the kernel refuses a duplicate) and each removes exactly its own;
* nothing is done for ``DNS`` (the driver reports it in the projection; the resolver
  belongs to the system) and no nftables anti-spoofing rules are added;
* the interface gets no IPv6 link-local address (``addrgenmode none``), as with the kernel's
  WireGuard; wireguard-go's tun would otherwise get one.

Set-up is a list of netlink operations (``openras.links.rtnl``), also given as the argument
tuples ``ip`` would get (without the leading ``ip``; a leading ``-4``/``-6`` is a family
option), for the record. Teardown, as ``ip`` arguments, lists only what deleting the
interface does not remove by itself (the policy rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from openras.links.rtnl import (
    RT_TABLE_MAIN,
    AddAddress,
    AddRoute,
    AddRule,
    LinkUp,
    NoLinkLocal,
    Op,
)
from openras.links.wireguard.config import IPNetwork, WgConfig

DEFAULT_MTU: Final = 1420
#: First table/fwmark tried for default-route policy routing (as wg-quick).
POLICY_TABLE_BASE: Final = 51820
_RULE_PRIORITY_BASE: Final = 32000

IpArgs = tuple[str, ...]


@dataclass(frozen=True)
class NetPlan:
    setup: tuple[IpArgs, ...]
    teardown: tuple[IpArgs, ...]
    #: The fwmark to give the interface (policy routing), or None.
    fwmark: int | None
    #: Set net.ipv4.conf.all.src_valid_mark=1 (needed by IPv4 policy routing).
    src_valid_mark: bool
    #: "NET table T" strings of every route added (for the record and the projection).
    routes: tuple[str, ...]
    #: ``setup`` as netlink operations (what the driver performs; ``setup`` is for records).
    ops: tuple[Op, ...] = ()


def rule_priorities(table: int) -> tuple[int, int]:
    """(suppress rule priority, not-fwmark rule priority) for a policy table."""
    k = (table - POLICY_TABLE_BASE) % 1000
    return _RULE_PRIORITY_BASE - 2 * k, _RULE_PRIORITY_BASE - 2 * k + 1


def _covered(net: IPNetwork, by: list[IPNetwork]) -> bool:
    return any(net.version == other.version and net.subnet_of(other) for other in by)  # type: ignore[arg-type]


def plan_network(
    config: WgConfig, ifname: str, *, policy_table: int = POLICY_TABLE_BASE
) -> NetPlan:
    """What brings ``ifname`` up as ``config`` says (netlink operations, and as ``ip``)."""
    quick = config.quick
    ops: list[Op] = [AddAddress(ifname, a) for a in quick.addresses]
    teardown: list[IpArgs] = []
    routes: list[str] = []
    # No IPv6 link-local address, as the kernel's WireGuard (wireguard-go's tun would get one).
    ops.append(NoLinkLocal(ifname))
    ops.append(LinkUp(ifname, quick.mtu or DEFAULT_MTU))

    table = quick.table or "auto"
    fwmark: int | None = None
    src_valid_mark = False
    if table != "off":
        connected: list[IPNetwork] = [a.network for a in quick.addresses]
        nets = sorted(
            {n for p in config.peers for n in p.allowed_ips},
            key=lambda n: (n.version, n.prefixlen, int(n.network_address)),
        )
        routed_main: list[IPNetwork] = []
        for net in nets:
            if table not in ("auto", "main"):
                ops.append(AddRoute(ifname, net, int(table)))
                routes.append(f"{net} table {table}")
            elif net.prefixlen == 0 and table == "auto":
                fam = "-4" if net.version == 4 else "-6"
                mark = config.interface.fwmark or policy_table
                fwmark = mark
                suppress_pri, mark_pri = rule_priorities(mark)
                ops.append(AddRoute(ifname, net, mark))
                ops.append(AddRule(net.version, mark_pri, mark, not_fwmark=mark))
                ops.append(
                    AddRule(net.version, suppress_pri, RT_TABLE_MAIN, suppress_prefixlength=0)
                )
                teardown.append((fam, "rule", "del", "priority", str(mark_pri)))
                teardown.append((fam, "rule", "del", "priority", str(suppress_pri)))
                routes.append(f"{net} table {mark}")
                src_valid_mark = src_valid_mark or net.version == 4
            elif _covered(net, connected) or _covered(net, routed_main):
                continue
            else:
                ops.append(AddRoute(ifname, net))
                routed_main.append(net)
                routes.append(f"{net} table main")
    setup = tuple(op.ip_args() for op in ops)
    return NetPlan(setup, tuple(teardown), fwmark, src_valid_mark, tuple(routes), tuple(ops))


def batches(commands: tuple[IpArgs, ...] | list[IpArgs]) -> list[tuple[str | None, list[str]]]:
    """Group commands for ``ip [-4|-6] -batch -``: (family option, batch lines)."""
    out: list[tuple[str | None, list[str]]] = []
    for cmd in commands:
        fam = cmd[0] if cmd and cmd[0] in ("-4", "-6") else None
        line = " ".join(cmd[1:] if fam else cmd)
        if out and out[-1][0] == fam:
            out[-1][1].append(line)
        else:
            out.append((fam, [line]))
    return out
