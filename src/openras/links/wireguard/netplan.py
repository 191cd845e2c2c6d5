"""What the driver does for a config's wg-quick keys (pure: a list of operations).

It follows ``wg-quick`` (``Address``, ``MTU``, routes for every peer's ``AllowedIPs``,
``Table``) with these deliberate differences:

* a default route (``0.0.0.0/0`` or ``::/0``) with ``Table = auto`` uses wg-quick's policy
  routing (a private table selected by "not fwmark", plus "main, suppress_prefixlength 0"),
  but the fwmark, the table and the two rules' priorities are **the daemon's**: a
  :class:`PolicySlot` the driver allocated for this link (never a config's ``FwMark`` or
  ``Table``), so two links, of one user or of two, never share one. Both rules carry the
  link's fwmark (the suppress rule as "not fwmark M table main suppress_prefixlength 0",
  which routes exactly as wg-quick's: a marked packet skips it and finds main two rules
  later), so each rule is identified by priority + fwmark + table + selector, and the
  teardown removes those exact rules (``rtnl.DelRule``), never "whatever has priority N";
* ``DNS`` is not this plan's: the driver reports it in the projection and the daemon
  applies it (:mod:`openras.dns`, through systemd-resolved, resolvconf or resolv.conf) and
  takes it off before the handle answers 6; no nftables anti-spoofing rules are added;
* the interface gets no IPv6 link-local address (``addrgenmode none``), as with the kernel's
  WireGuard; wireguard-go's tun would otherwise get one.

Set-up is a list of netlink operations (``openras.links.rtnl``), also given as the argument
tuples ``ip`` would get (without the leading ``ip``; a leading ``-4``/``-6`` is a family
option), for the record. Teardown, as ``ip`` arguments, lists only what deleting the
interface does not remove by itself (the policy rules), each an exact ``ip rule del``.

**The allocation.** Slot ``s`` (0 <= s < :data:`POLICY_SLOTS`) is table = fwmark =
:data:`POLICY_TABLE_BASE` + s and rule priorities :data:`RULE_PRIORITY_BASE` + 2s (suppress)
and + 2s + 1 (not fwmark): tables/marks 0x6F720000..0x6F720FFF and priorities 24000..32191,
all below main's 32766. The driver starts at ``handle % POLICY_SLOTS`` (handles are unique
and never reused, so live links rarely meet) and takes the first slot that no live link of
this daemon holds and that the kernel shows unused (no rule with its priorities, table or
mark; no route in its table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from openras.links.policy_slots import (
    PolicySlot,
)
from openras.links.rtnl import (
    AddAddress,
    AddRoute,
    DelRule,
    LinkUp,
    NoLinkLocal,
    Op,
)
from openras.links.wireguard.config import IPNetwork, WgConfig

DEFAULT_MTU: Final = 1420
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
    #: The policy slot the plan uses (None: no default route through policy routing).
    slot: PolicySlot | None = None


def needs_policy_routing(config: WgConfig) -> bool:
    """Whether the config's routes need a policy slot (a default route, ``Table = auto``)."""
    return (config.quick.table or "auto") == "auto" and any(
        n.prefixlen == 0 for p in config.peers for n in p.allowed_ips
    )


def _covered(net: IPNetwork, by: list[IPNetwork]) -> bool:
    return any(net.version == other.version and net.subnet_of(other) for other in by)  # type: ignore[arg-type]


def plan_network(config: WgConfig, ifname: str, *, slot: PolicySlot | None = None) -> NetPlan:
    """What brings ``ifname`` up as ``config`` says (netlink operations, and as ``ip``).

    ``slot`` is the daemon's allocation for a default route (required when
    :func:`needs_policy_routing`). The config's own ``FwMark`` is given to the interface only
    when no policy routing is needed (the driver lets only root's configs have one)."""
    quick = config.quick
    ops: list[Op] = [AddAddress(ifname, a) for a in quick.addresses]
    teardown: list[IpArgs] = []
    routes: list[str] = []
    # No IPv6 link-local address, as the kernel's WireGuard (wireguard-go's tun would get one).
    ops.append(NoLinkLocal(ifname))
    ops.append(LinkUp(ifname, quick.mtu or DEFAULT_MTU))

    table = quick.table or "auto"
    policy = needs_policy_routing(config)
    if policy and slot is None:
        raise ValueError("a default route needs a policy slot")
    fwmark: int | None = slot.fwmark if policy and slot else config.interface.fwmark
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
                assert slot is not None
                ops.append(AddRoute(ifname, net, slot.table))
                for rule in slot.rules(net.version):
                    ops.append(rule)
                    teardown.append(DelRule(rule).ip_args())
                routes.append(f"{net} table {slot.table}")
                src_valid_mark = src_valid_mark or net.version == 4
            elif _covered(net, connected) or _covered(net, routed_main):
                continue
            else:
                ops.append(AddRoute(ifname, net))
                routed_main.append(net)
                routes.append(f"{net} table main")
    setup = tuple(op.ip_args() for op in ops)
    return NetPlan(
        setup,
        tuple(teardown),
        fwmark,
        src_valid_mark,
        tuple(routes),
        tuple(ops),
        slot if policy else None,
    )


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
