"""links/rtnl.py against ``ip`` itself: the same operations, one namespace each, same result.

The WireGuard driver sets addresses, MTU, routes and policy rules over netlink instead of
running ``ip -batch``. Here each operation list is applied by :class:`Rtnl` in one fresh
namespace and, as its ``ip_args()``, by ``ip`` in another (a tun device of the same name in
both), and what ``ip`` then shows of the two namespaces must be identical.
"""

from __future__ import annotations

import ipaddress
import re
import socket

import pytest
from netns import NetnsLab, NsPair

from openras.links.rtnl import (
    RT_TABLE_MAIN,
    AddAddress,
    AddRoute,
    AddRule,
    DelRule,
    LinkUp,
    NetlinkError,
    NoLinkLocal,
    Op,
    Rtnl,
    if_index,
)

IF = "ortest0"


def _show(lab: NetnsLab, ns: str) -> dict[str, str]:
    """What ip shows of a namespace, minus what differs between any two (ids, counters)."""
    out = {}
    for name, argv in {
        "addr": ["ip", "-o", "addr", "show", "dev", IF],
        "link": ["ip", "-d", "-o", "link", "show", "dev", IF],
        "routes": ["ip", "-o", "route", "show", "table", "all"],
        "routes6": ["ip", "-o", "-6", "route", "show", "table", "all"],
        "rules": ["ip", "rule", "show"],
        "rules6": ["ip", "-6", "rule", "show"],
    }.items():
        text = lab.run(ns, argv).stdout
        if name.startswith("routes"):  # the veth's own routes differ by name
            text = "".join(line for line in text.splitlines(True) if f"dev {IF}" in line)
        out[name] = re.sub(r"^\d+: ", "", text, flags=re.M)
    return out


def _apply_both(lab: NetnsLab, pair: NsPair, ops: list[Op]) -> tuple[dict[str, str], ...]:
    for ns in (pair.a, pair.b):
        lab.run(ns, ["ip", "tuntap", "add", "dev", IF, "mode", "tun"])
    with lab.inside(pair.a), Rtnl() as rtnl:
        rtnl.apply(ops)
    for op in ops:
        lab.run(pair.b, ["ip", *op.ip_args()])
    return _show(lab, pair.a), _show(lab, pair.b)


v4 = ipaddress.ip_interface
net = ipaddress.ip_network


@pytest.mark.parametrize(
    "ops",
    [
        pytest.param(
            [
                AddAddress(IF, v4("10.77.0.2/24")),
                AddAddress(IF, v4("10.77.1.2/32")),
                AddAddress(IF, v4("fd77::2/64")),
                NoLinkLocal(IF),
                LinkUp(IF, 1380),
                AddRoute(IF, net("10.78.0.0/16")),
                AddRoute(IF, net("fd78::/48")),
                AddRoute(IF, net("192.168.77.0/24"), 1234),
            ],
            id="addresses-and-routes",
        ),
        pytest.param(
            [
                AddAddress(IF, v4("10.77.0.2/24")),
                LinkUp(IF, 1420),
                AddRoute(IF, net("0.0.0.0/0"), 51820),
                AddRule(4, 31999, 51820, not_fwmark=51820),
                AddRule(4, 31998, RT_TABLE_MAIN, suppress_prefixlength=0),
                AddRoute(IF, net("::/0"), 51820),
                AddRule(6, 31999, 51820, not_fwmark=51820),
                AddRule(6, 31998, RT_TABLE_MAIN, suppress_prefixlength=0),
            ],
            id="default-route-policy",
        ),
    ],
)
def test_netlink_does_what_ip_does(netns_lab: NetnsLab, netns_pair: NsPair, ops: list[Op]) -> None:
    by_netlink, by_ip = _apply_both(netns_lab, netns_pair, ops)
    assert by_netlink == by_ip
    assert "10.77.0.2/24" in by_netlink["addr"]  # it did something at all
    assert re.search(r"[<,]UP[,>]", by_netlink["link"])
    no_link_local = any(isinstance(op, NoLinkLocal) for op in ops)
    assert ("addrgenmode none" in by_netlink["link"]) == no_link_local


def test_a_refused_request_names_the_operation_and_the_reason(
    netns_lab: NetnsLab, netns_pair: NsPair
) -> None:
    netns_lab.run(netns_pair.a, ["ip", "tuntap", "add", "dev", IF, "mode", "tun"])
    with netns_lab.inside(netns_pair.a), Rtnl() as rtnl:
        rtnl.apply([AddAddress(IF, v4("10.77.0.2/24"))])
        with pytest.raises(NetlinkError) as exc:
            rtnl.apply([AddAddress(IF, v4("10.77.0.2/24"))])  # the kernel refuses a duplicate
        assert "ip address add 10.77.0.2/24 dev ortest0" in str(exc.value)
        assert "File exists" in str(exc.value)
        with pytest.raises(NetlinkError, match="no interface orgone0"):
            rtnl.apply([LinkUp("orgone0", 1400)])


def _rules_text(lab: NetnsLab, ns: str, family: str = "-4") -> list[str]:
    return [
        line.strip() for line in lab.run(ns, ["ip", family, "rule", "show"]).stdout.splitlines()
    ]


def test_rules_are_removed_by_exact_match_only(netns_lab: NetnsLab, netns_pair: NsPair) -> None:
    """Another rule at the same priority (the administrator's, another link's) survives the
    removal of ours: the removal names priority, fwmark, table and selector."""
    ns = netns_pair.a
    ours = [
        AddRule(4, 24010, 0x6F720005, not_fwmark=0x6F720005),
        AddRule(4, 24011, RT_TABLE_MAIN, not_fwmark=0x6F720005, suppress_prefixlength=0),
        AddRule(6, 24010, 0x6F720005, not_fwmark=0x6F720005),
    ]
    # Foreign rules at our priorities, one of them sharing our table, one our selector form.
    netns_lab.run(ns, ["ip", "-4", "rule", "add", "table", "100", "priority", "24010"])
    netns_lab.run(ns, ["ip", "-4", "rule", "add", "not", "fwmark", "7", "table", "main",
                       "suppress_prefixlength", "0", "priority", "24011"])  # fmt: skip
    netns_lab.run(ns, ["ip", "-6", "rule", "add", "table", "100", "priority", "24010"])
    with netns_lab.inside(ns), Rtnl() as rtnl:
        rtnl.apply(ours)
        # One that even shares our mark and table, with one more selector, added after ours
        # (before ours the kernel would have refused ours: it sees a duplicate).
        netns_lab.run(ns, ["ip", "-4", "rule", "add", "from", "10.1.2.3", "not", "fwmark",
                           str(0x6F720005), "table", str(0x6F720005), "priority", "24010"])  # fmt: skip
        before = {fam: _rules_text(netns_lab, ns, fam) for fam in ("-4", "-6")}
        before = {fam: [r for r in rules if "0x6f720005" not in r or "from 10" in r]
                  for fam, rules in before.items()}  # fmt: skip
        dumped = rtnl.rules(4)
        assert sum(k.is_exactly(ours[0]) for k in dumped) == 1
        assert sum(k.is_exactly(ours[1]) for k in dumped) == 1
        assert rtnl.remove_rules([DelRule(r) for r in ours]) == 3
        # Gone already: nothing more is removed (never a neighbour instead).
        assert rtnl.remove_rules([DelRule(r) for r in ours]) == 0
    after = {fam: _rules_text(netns_lab, ns, fam) for fam in ("-4", "-6")}
    assert after == before
    assert any("from 10.1.2.3" in line for line in after["-4"])
    # What ``ip rule del priority N`` would have done: taken a foreign rule.
    netns_lab.run(ns, ["ip", "-4", "rule", "del", "priority", "24010"])
    assert len(_rules_text(netns_lab, ns)) == len(before["-4"]) - 1


def test_table_has_routes(netns_lab: NetnsLab, netns_pair: NsPair) -> None:
    ns = netns_pair.a
    netns_lab.run(ns, ["ip", "tuntap", "add", "dev", IF, "mode", "tun"])
    with netns_lab.inside(ns), Rtnl() as rtnl:
        rtnl.apply([LinkUp(IF, 1400), AddRoute(IF, net("fd79::/64"), 0x6F720009)])
        assert rtnl.table_has_routes(6, 0x6F720009)
        assert not rtnl.table_has_routes(4, 0x6F720009)
        assert not rtnl.table_has_routes(6, 0x6F72000A)
        assert rtnl.table_has_routes(4, RT_TABLE_MAIN)  # the veth's subnet


def test_if_index_answers_as_if_nametoindex_does_in_the_callers_namespace(
    netns_lab: NetnsLab, netns_pair: NsPair
) -> None:
    """The index of a name in the calling thread's namespace (B's veth is not A's), None
    for a name there is not (nor an empty or over-long one); the kernel is asked by
    RTM_GETLINK, which loads no module (tests/vm/guest/test_interface_lookup.py)."""
    with netns_lab.inside(netns_pair.b):
        assert if_index(netns_pair.if_b) == socket.if_nametoindex(netns_pair.if_b)
        assert if_index("lo") == 1
        assert if_index(netns_pair.if_a) is None  # A's end of the veth
        assert if_index("") is None
        assert if_index("x" * 16) is None  # past IFNAMSIZ: no interface can have it
    with netns_lab.inside(netns_pair.a):
        assert if_index(netns_pair.if_a) == socket.if_nametoindex(netns_pair.if_a)
        assert if_index(netns_pair.if_b) is None
