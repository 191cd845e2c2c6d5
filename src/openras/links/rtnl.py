"""Interface set-up over rtnetlink, in-process: addresses, MTU and up, routes, policy rules.

The daemon's one netlink path: set-up, counters (:meth:`Rtnl.counters`), deletion
(:meth:`Rtnl.delete_link`) and the dumps a check needs. A dial used to run ``ip -batch``:
a helper process that costs 2-3 ms, as much as the rest of a WireGuard dial; pyroute2 took
as long for the same four requests. These few requests are small fixed structs, so they are
encoded here: each is one ``sendmsg`` and one acknowledgement, tens of microseconds, on the
calling thread's network namespace (the one the daemon's helpers would run in).

The operations are plain values (:class:`AddAddress`, :class:`NoLinkLocal`, :class:`LinkUp`,
:class:`AddRoute`, :class:`AddRule`, :class:`DelRule`); each also says what ``ip`` would be told
(:meth:`ip_args`), for records and for anything that still runs ``ip``. Encoding is pure;
:class:`Rtnl` is the I/O.

Policy rules are shared by everything in a network namespace, so a link removes **only the
rules it added, by exact match**: :class:`DelRule` always names the priority, the table, the
fwmark and the selector (never ``ip rule del priority N`` alone, which deletes whatever rule
has that priority), and :meth:`Rtnl.remove_rules` deletes a rule only when the kernel's dump
shows one equal in every field. :meth:`Rtnl.rules` and :meth:`Rtnl.table_has_routes` let a
caller check that a table, fwmark or priority is free before it takes it.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Self

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NETLINK_ROUTE: Final = 0
RTM_NEWLINK: Final = 16
RTM_DELLINK: Final = 17
RTM_GETLINK: Final = 18
RTM_NEWADDR: Final = 20
RTM_NEWROUTE: Final = 24
RTM_GETROUTE: Final = 26
RTM_NEWRULE: Final = 32
RTM_DELRULE: Final = 33
RTM_GETRULE: Final = 34
NLMSG_ERROR: Final = 2
NLMSG_DONE: Final = 3
NLM_F_MULTI: Final = 0x2
NLM_F_DUMP: Final = 0x300
SOL_NETLINK: Final = 270
NETLINK_GET_STRICT_CHK: Final = 12
NLM_F_REQUEST: Final = 0x1
NLM_F_ACK: Final = 0x4
NLM_F_EXCL: Final = 0x200
NLM_F_CREATE: Final = 0x400
NLM_F_REPLACE: Final = 0x100
IFF_UP: Final = 0x1
IFLA_IFNAME: Final = 3
IFLA_MTU: Final = 4
IFLA_STATS64: Final = 23
IFLA_AF_SPEC: Final = 26
IFLA_LINKINFO: Final = 18
IFLA_INFO_KIND: Final = 1
IFLA_INFO_DATA: Final = 2
IFLA_XFRM_IF_ID: Final = 2
NLA_F_NESTED: Final = 0x8000
IFLA_INET6_ADDR_GEN_MODE: Final = 8
IN6_ADDR_GEN_MODE_NONE: Final = 1
IFA_ADDRESS: Final = 1
IFA_LOCAL: Final = 2
RTA_DST: Final = 1
RTA_OIF: Final = 4
RTA_TABLE: Final = 15
RT_TABLE_MAIN: Final = 254
RTPROT_BOOT: Final = 3
RT_SCOPE_UNIVERSE: Final = 0
RT_SCOPE_LINK: Final = 253
RTN_UNICAST: Final = 1
FRA_DST: Final = 1
FRA_SRC: Final = 2
FRA_IIFNAME: Final = 3
FRA_GOTO: Final = 4
FRA_PRIORITY: Final = 6
FRA_FWMARK: Final = 10
FRA_TUN_ID: Final = 12
FRA_SUPPRESS_IFGROUP: Final = 13
FRA_SUPPRESS_PREFIXLEN: Final = 14
FRA_TABLE: Final = 15
FRA_FWMASK: Final = 16
FRA_OIFNAME: Final = 17
FRA_L3MDEV: Final = 19
FRA_UID_RANGE: Final = 20
FRA_IP_PROTO: Final = 22
FRA_SPORT_RANGE: Final = 23
FRA_DPORT_RANGE: Final = 24
#: Rule attributes that select packets besides the fwmark: a rule with any of them is not
#: one of ours, whatever else it has in common with one.
_OTHER_SELECTORS: Final = frozenset(
    {FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_GOTO, FRA_TUN_ID, FRA_SUPPRESS_IFGROUP, FRA_OIFNAME,
     FRA_L3MDEV, FRA_UID_RANGE, FRA_IP_PROTO, FRA_SPORT_RANGE, FRA_DPORT_RANGE}
)  # fmt: skip
_NO_SUPPRESS: Final = 0xFFFFFFFF
_FULL_MASK: Final = 0xFFFFFFFF
FR_ACT_TO_TBL: Final = 1
FIB_RULE_INVERT: Final = 0x2
_HDR: Final = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_CREATE: Final = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
_TIMEOUT: Final = 2.0
_IFNAMSIZ: Final = 16
#: The head of ``struct rtnl_link_stats64``: rx/tx packets, rx/tx bytes, rx/tx errors.
_STATS64: Final = struct.Struct("=6Q")


class NetlinkError(OSError):
    """The kernel refused a request (``errno`` set, as ``ip`` reports it)."""


def _family(version: int) -> int:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack("=I", value))


@dataclass(frozen=True)
class AddAddress:
    """``ip address add ADDR dev IF``; with ``peer``, ``ip address add LOCAL peer PEER``
    (a point-to-point address: ADDR's own prefix length, usually the host's); ``replace``:
    ``ip address replace`` (the same address again is no error: an adopted link's)."""

    ifname: str
    address: IPInterface
    peer: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    replace: bool = False

    def ip_args(self) -> tuple[str, ...]:
        verb = "replace" if self.replace else "add"
        local = str(self.address.ip if self.peer is not None else self.address)
        peer = ("peer", str(self.peer)) if self.peer is not None else ()
        return ("address", verb, local, *peer, "dev", self.ifname)

    def encode(self, index: int) -> tuple[int, int, bytes]:
        a = self.address
        head = struct.pack("=BBBBI", _family(a.version), a.network.prefixlen, 0, 0, index)
        raw = a.ip.packed
        peer = self.peer.packed if self.peer is not None else raw
        flags = (
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE if self.replace else _CREATE
        )
        return RTM_NEWADDR, flags, head + _attr(IFA_LOCAL, raw) + _attr(IFA_ADDRESS, peer)


@dataclass(frozen=True)
class NoLinkLocal:
    """``ip link set dev IF addrgenmode none``, before the interface goes up.

    The kernel then gives it no IPv6 link-local address (configured IPv6 addresses still
    work): a layer-3 tunnel has no use for one, the kernel's own WireGuard adds none, and
    without it no duplicate address detection or multicast listener reports run on the
    tunnel, whose teardown then waits for none of their references. (In the same request
    as ``up`` it comes too late: the address is made as the interface goes up.)
    """

    ifname: str

    def ip_args(self) -> tuple[str, ...]:
        return ("link", "set", "dev", self.ifname, "addrgenmode", "none")

    def encode(self, index: int) -> tuple[int, int, bytes]:
        head = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, 0, 0)
        mode = _attr(IFLA_INET6_ADDR_GEN_MODE, struct.pack("=B", IN6_ADDR_GEN_MODE_NONE))
        body = head + _attr(IFLA_AF_SPEC, _attr(socket.AF_INET6, mode))
        return RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, body


@dataclass(frozen=True)
class LinkUp:
    """``ip link set dev IF [mtu N] up`` (None: the MTU stays as the device has it)."""

    ifname: str
    mtu: int | None

    def ip_args(self) -> tuple[str, ...]:
        mtu = ("mtu", str(self.mtu)) if self.mtu is not None else ()
        return ("link", "set", "dev", self.ifname, *mtu, "up")

    def encode(self, index: int) -> tuple[int, int, bytes]:
        head = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
        mtu = _u32(IFLA_MTU, self.mtu) if self.mtu is not None else b""
        return RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, head + mtu


@dataclass(frozen=True)
class NewXfrmInterface:
    """``ip link add NAME type xfrm if_id N``: an XFRM interface, the route-based IPsec
    data path. Traffic routed into it is encrypted by the kernel's SAs and policies that
    carry the same ``if_id``, and decrypted traffic of those SAs comes out of it, so a link's
    IPsec has an interface of its own (routes, counters, DNS) as a TUN link has."""

    name: str
    if_id: int

    @property
    def ifname(self) -> str:
        return ""  # it does not exist yet: no index to look up

    def ip_args(self) -> tuple[str, ...]:
        return ("link", "add", self.name, "type", "xfrm", "if_id", str(self.if_id))

    def encode(self, index: int) -> tuple[int, int, bytes]:
        head = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)
        data = _attr(IFLA_INFO_DATA | NLA_F_NESTED, _u32(IFLA_XFRM_IF_ID, self.if_id))
        info = _attr(IFLA_INFO_KIND, b"xfrm\0") + data
        body = head + _attr(IFLA_IFNAME, self.name.encode() + b"\0")
        return RTM_NEWLINK, _CREATE, body + _attr(IFLA_LINKINFO | NLA_F_NESTED, info)


@dataclass(frozen=True)
class NewWireGuardInterface:
    """``ip link add NAME type wireguard``: the kernel module's interface (the kernel loads
    the module when it can; a kernel without it refuses the kind, EOPNOTSUPP)."""

    name: str

    @property
    def ifname(self) -> str:
        return ""  # it does not exist yet: no index to look up

    def ip_args(self) -> tuple[str, ...]:
        return ("link", "add", self.name, "type", "wireguard")

    def encode(self, index: int) -> tuple[int, int, bytes]:
        head = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)
        info = _attr(IFLA_INFO_KIND, b"wireguard\0")
        body = head + _attr(IFLA_IFNAME, self.name.encode() + b"\0")
        return RTM_NEWLINK, _CREATE, body + _attr(IFLA_LINKINFO | NLA_F_NESTED, info)


@dataclass(frozen=True)
class AddRoute:
    """``ip route add NET dev IF [table T]`` (a device route: scope link)."""

    ifname: str
    dst: IPNetwork
    table: int = RT_TABLE_MAIN

    def ip_args(self) -> tuple[str, ...]:
        table = () if self.table == RT_TABLE_MAIN else ("table", str(self.table))
        return ("route", "add", str(self.dst), "dev", self.ifname, *table)

    def encode(self, index: int) -> tuple[int, int, bytes]:
        d = self.dst
        small_table = self.table if self.table < 256 else 0
        head = struct.pack(
            "=BBBBBBBBI",
            _family(d.version), d.prefixlen, 0, 0, small_table,
            RTPROT_BOOT, RT_SCOPE_LINK, RTN_UNICAST, 0,
        )  # fmt: skip
        attrs = _u32(RTA_TABLE, self.table) + _u32(RTA_OIF, index)
        if d.prefixlen:
            attrs += _attr(RTA_DST, d.network_address.packed)
        return RTM_NEWROUTE, _CREATE, head + attrs


@dataclass(frozen=True)
class AddRule:
    """``ip -4|-6 rule add [not fwmark M] [suppress_prefixlength N] table T priority P``."""

    version: int
    priority: int
    table: int
    not_fwmark: int | None = None
    suppress_prefixlength: int | None = None

    @property
    def ifname(self) -> str:
        return ""  # a rule belongs to no interface

    def ip_args(self) -> tuple[str, ...]:
        fam = "-4" if self.version == 4 else "-6"
        table = "main" if self.table == RT_TABLE_MAIN else str(self.table)
        if self.not_fwmark is not None:
            what: tuple[str, ...] = ("not", "fwmark", str(self.not_fwmark), "table", table)
        else:
            what = ("table", table)
        if self.suppress_prefixlength is not None:
            what += ("suppress_prefixlength", str(self.suppress_prefixlength))
        return (fam, "rule", "add", *what, "priority", str(self.priority))

    def encode(self, index: int) -> tuple[int, int, bytes]:
        flags = FIB_RULE_INVERT if self.not_fwmark is not None else 0
        small_table = self.table if self.table < 256 else 0
        head = struct.pack(
            "=BBBBBBBBI", _family(self.version), 0, 0, 0, small_table, 0, 0, FR_ACT_TO_TBL, flags
        )
        attrs = _u32(FRA_PRIORITY, self.priority) + _u32(FRA_TABLE, self.table)
        if self.not_fwmark is not None:
            attrs += _u32(FRA_FWMARK, self.not_fwmark)
        if self.suppress_prefixlength is not None:
            attrs += _u32(FRA_SUPPRESS_PREFIXLEN, self.suppress_prefixlength)
        return RTM_NEWRULE, _CREATE, head + attrs


#: The routing tables the daemon allocates to links (openras.links.policy_slots): tables and
#: fwmarks 0x6F720000 + slot ("or" in ASCII, far from wg-quick's 51820 and from the low bits
#: firewalls use for marks).
POLICY_TABLE_BASE: Final = 0x6F720000
POLICY_SLOTS: Final = 4096
DAEMON_TABLES: Final = range(POLICY_TABLE_BASE, POLICY_TABLE_BASE + POLICY_SLOTS)


@dataclass(frozen=True)
class DelRule:
    """The exact removal of ``rule``: ``ip -4|-6 rule del [not fwmark M] table T
    [suppress_prefixlength N] priority P``. Only a rule with a fwmark, or one that looks up
    a table of the daemon's own policy slots (:data:`DAEMON_TABLES`: charon's rule for its
    link), can be removed this way: a removal by priority alone would take whatever rule
    another link or the administrator has there."""

    rule: AddRule

    def __post_init__(self) -> None:
        rule = self.rule
        if rule.not_fwmark is None and rule.table not in DAEMON_TABLES:
            raise ValueError(
                "a rule is removed by exact match: it needs its fwmark or a table of the "
                "daemon's own"
            )

    @property
    def ifname(self) -> str:
        return ""

    def ip_args(self) -> tuple[str, ...]:
        args = self.rule.ip_args()
        return (args[0], "rule", "del", *args[3:])

    def encode(self, index: int) -> tuple[int, int, bytes]:
        _kind, _flags, body = self.rule.encode(index)
        return RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK, body


def parse_del_rule(args: Sequence[str]) -> DelRule | None:
    """The :class:`DelRule` that ``args`` (its :meth:`DelRule.ip_args`, as a teardown journal
    holds it) stands for; None for anything else, a bare ``rule del priority N`` above all."""
    a = list(args)
    try:
        version = {"-4": 4, "-6": 6}[a[0]]
        if a[1:6] != ["rule", "del", "not", "fwmark", a[5]] or a[6] != "table":
            return None
        mark, table = int(a[5]), (RT_TABLE_MAIN if a[7] == "main" else int(a[7]))
        rest = a[8:]
        suppress = None
        if rest[:1] == ["suppress_prefixlength"]:
            suppress, rest = int(rest[1]), rest[2:]
        if len(rest) != 2 or rest[0] != "priority":
            return None
        rule = AddRule(
            version, int(rest[1]), table, not_fwmark=mark, suppress_prefixlength=suppress
        )
    except (KeyError, IndexError, ValueError):
        return None
    if not all(0 <= n <= 0xFFFFFFFF for n in (mark, table, rule.priority)) or not mark:
        return None
    return DelRule(rule) if rule.ip_args()[3:] == tuple(a[3:]) else None


@dataclass(frozen=True)
class KernelRule:
    """A policy rule as the kernel dumps it (what :meth:`Rtnl.rules` returns)."""

    version: int
    priority: int
    table: int
    fwmark: int | None
    fwmask: int
    invert: bool
    suppress_prefixlength: int | None
    #: It selects packets by something else too (addresses, interfaces, uids, ports...).
    other_selectors: bool

    def is_exactly(self, rule: AddRule) -> bool:
        """Whether this is ``rule`` in every field (and selects by nothing else)."""
        return (
            not self.other_selectors
            and self.version == rule.version
            and self.priority == rule.priority
            and self.table == rule.table
            and self.fwmark == rule.not_fwmark
            and self.invert == (rule.not_fwmark is not None)
            and (self.fwmark is None or self.fwmask == _FULL_MASK)
            and self.suppress_prefixlength == rule.suppress_prefixlength
        )


def _attr_list(data: bytes, offset: int = 0) -> list[tuple[int, bytes]]:
    """Every attribute in ``data`` from ``offset``, in order (a nest that is an array, as
    WireGuard's peers, repeats or ignores its types); it stops at one that overruns."""
    out: list[tuple[int, bytes]] = []
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4 or offset + length > len(data):
            break
        out.append((kind & 0x3FFF, data[offset + 4 : offset + length]))
        offset += (length + 3) & ~3
    return out


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    return dict(_attr_list(data, offset))


def _u32_of(attrs: dict[int, bytes], kind: int) -> int | None:
    raw = attrs.get(kind)
    return struct.unpack_from("=I", raw)[0] if raw is not None and len(raw) >= 4 else None


def _kernel_rule(version: int, payload: bytes) -> KernelRule:
    family, dst_len, src_len, tos, table, _r1, _r2, _action, flags = struct.unpack_from(
        "=BBBBBBBBI", payload
    )
    del family
    attrs = _attrs(payload, 12)
    suppress = _u32_of(attrs, FRA_SUPPRESS_PREFIXLEN)
    mark = _u32_of(attrs, FRA_FWMARK)
    other = bool(dst_len or src_len or tos or _OTHER_SELECTORS & attrs.keys())
    return KernelRule(
        version=version,
        priority=_u32_of(attrs, FRA_PRIORITY) or 0,
        table=_u32_of(attrs, FRA_TABLE) or table,
        fwmark=mark or None,
        fwmask=_u32_of(attrs, FRA_FWMASK) or (_FULL_MASK if mark else 0),
        invert=bool(flags & FIB_RULE_INVERT),
        suppress_prefixlength=None if suppress in (None, _NO_SUPPRESS) else suppress,
        other_selectors=other,
    )


#: What a link may route when the policy allows no full tunnel (as the OpenVPN driver): all
#: its routes together cover at most a /4 of IPv4 (16 /8 networks) and a /7 of IPv6 (ULA).
MAX_SPLIT_V4: Final = 1 << (32 - 4)
MAX_SPLIT_V6: Final = 1 << (128 - 7)


def routes_too_much(nets: Iterable[IPNetwork]) -> bool:
    """Whether ``nets`` together cover more than a split tunnel may: a default route, or
    anything adding up to one (``0.0.0.0/1`` + ``128.0.0.0/1``, eight /3s...)."""
    v4 = [n for n in nets if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in nets if isinstance(n, ipaddress.IPv6Network)]
    cover4 = sum(n.num_addresses for n in ipaddress.collapse_addresses(v4))
    cover6 = sum(n.num_addresses for n in ipaddress.collapse_addresses(v6))
    return cover4 > MAX_SPLIT_V4 or cover6 > MAX_SPLIT_V6


Op = (
    AddAddress
    | NoLinkLocal
    | LinkUp
    | NewXfrmInterface
    | NewWireGuardInterface
    | AddRoute
    | AddRule
    | DelRule
)


def describe(op: Op) -> str:
    """The op as ``ip`` would be told it (for error messages)."""
    return "ip " + " ".join(op.ip_args())


@dataclass(frozen=True)
class Counters:
    """An interface's counters as the kernel keeps them (``IFLA_STATS64``)."""

    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    errors: int


def _ifinfo(index: int) -> bytes:
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, 0, 0)


def if_index(ifname: str) -> int | None:
    """The index of interface ``ifname`` in the calling thread's network namespace; None
    when there is none. Use this, not ``socket.if_nametoindex``, to ask whether a name is
    free: for a name it does not know, asked by a caller with CAP_NET_ADMIN (the daemon),
    the kernel's SIOCGIFINDEX first runs ``modprobe netdev-NAME`` (``dev_load``) and waits
    for it; that made each PPP dial's check for a free interface name take 350 ms under the
    VM tier's emulation (a modprobe process on hardware too). RTM_GETLINK loads nothing."""
    with Rtnl() as rtnl:
        return rtnl.index_of(ifname)


class Rtnl:
    """One rtnetlink socket; :meth:`apply` sends requests one by one, each acknowledged."""

    def __init__(self, protocol: int = NETLINK_ROUTE) -> None:
        self._sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol
        )
        self._sock.settimeout(_TIMEOUT)
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def apply(self, ops: list[Op] | tuple[Op, ...], done: list[Op] | None = None) -> None:
        """Perform ``ops`` in order; NetlinkError (naming the op) at the first refused.
        Each op the kernel performed is appended to ``done`` (a caller removes only those)."""
        indexes: dict[str, int] = {}
        for op in ops:
            index = 0
            if op.ifname:
                if op.ifname not in indexes:
                    found = self.index_of(op.ifname)
                    if found is None:
                        raise NetlinkError(
                            errno.ENODEV, f"{describe(op)}: no interface {op.ifname}"
                        )
                    indexes[op.ifname] = found
                index = indexes[op.ifname]
            kind, flags, body = op.encode(index)
            code = self._request(kind, flags, body)
            if code:
                raise NetlinkError(code, f"{describe(op)}: {os.strerror(code)}")
            if done is not None:
                done.append(op)

    def rules(self, version: int) -> list[KernelRule]:
        """Every policy rule of one IP version (a dump)."""
        head = struct.pack("=BBBBBBBBI", _family(version), 0, 0, 0, 0, 0, 0, 0, 0)
        return [_kernel_rule(version, p) for p in self._dump(RTM_GETRULE, head, RTM_NEWRULE)]

    def table_has_routes(self, version: int, table: int) -> bool:
        """Whether routing table ``table`` holds any route of ``version`` (the kernel filters
        the dump by table where it can; the answer is filtered here too)."""
        head = struct.pack("=BBBBBBBBI", _family(version), 0, 0, 0, 0, 0, 0, 0, 0)
        for payload in self._dump(RTM_GETROUTE, head + _u32(RTA_TABLE, table), RTM_NEWROUTE):
            small = payload[4]
            if (_u32_of(_attrs(payload, 12), RTA_TABLE) or small) == table:
                return True
        return False

    def device_routes(self, version: int, index: int) -> list[IPNetwork]:
        """Every unicast route of ``version`` through interface ``index``, in any table."""
        head = struct.pack("=BBBBBBBBI", _family(version), 0, 0, 0, 0, 0, 0, 0, 0)
        out: list[IPNetwork] = []
        for payload in self._dump(RTM_GETROUTE, head + _u32(RTA_OIF, index), RTM_NEWROUTE):
            dst_len, kind = payload[1], payload[7]
            attrs = _attrs(payload, 12)
            if kind != RTN_UNICAST or _u32_of(attrs, RTA_OIF) != index:
                continue
            raw = attrs.get(RTA_DST, b"\0" * (4 if version == 4 else 16))
            out.append(ipaddress.ip_network((raw, dst_len), strict=False))
        return out

    def index_of(self, ifname: str) -> int | None:
        """``ifname``'s index (RTM_GETLINK by name: see :func:`if_index`); None: no such."""
        if not ifname or len(ifname.encode()) >= _IFNAMSIZ:
            return None
        body = _ifinfo(0) + _attr(IFLA_IFNAME, ifname.encode() + b"\0")
        for payload in self._get(RTM_GETLINK, body, RTM_NEWLINK):
            index: int = struct.unpack_from("=i", payload, 4)[0]
            return index
        return None

    def counters(self, ifname: str) -> Counters | None:
        """``ifname``'s counters; None when there is no such interface."""
        index = self.index_of(ifname)
        if index is None:
            return None
        for payload in self._get(RTM_GETLINK, _ifinfo(index), RTM_NEWLINK):
            raw = _attrs(payload, 16).get(IFLA_STATS64)
            if raw is None or len(raw) < _STATS64.size:
                return None
            rx_p, tx_p, rx_b, tx_b, rx_e, tx_e = _STATS64.unpack_from(raw)
            return Counters(rx_b, tx_b, rx_p, tx_p, rx_e + tx_e)
        return None

    def delete_link(self, ifname: str) -> bool:
        """Delete interface ``ifname``; False when there was none (no error: a teardown
        step runs again after a crash)."""
        index = self.index_of(ifname)
        if index is None:
            return False
        code = self._request(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, _ifinfo(index))
        if code in (errno.ENODEV, errno.ENOENT):
            return False
        if code:
            raise NetlinkError(code, f"ip link del dev {ifname}: {os.strerror(code)}")
        return True

    def remove_rules(self, removals: Iterable[DelRule]) -> int:
        """Delete each rule that the kernel has exactly as given (none that merely shares
        its priority); one already gone is no error. How many were deleted."""
        done = 0
        dumped: dict[int, list[KernelRule]] = {}
        for removal in removals:
            rule = removal.rule
            if rule.version not in dumped:
                dumped[rule.version] = self.rules(rule.version)
            if not any(k.is_exactly(rule) for k in dumped[rule.version]):
                continue
            kind, flags, body = removal.encode(0)
            code = self._request(kind, flags, body)
            if code and code not in (errno.ENOENT, errno.ESRCH):
                raise NetlinkError(code, f"{describe(removal)}: {os.strerror(code)}")
            done += not code
        return done

    def _send(self, kind: int, flags: int, body: bytes) -> Iterator[tuple[int, bytes]]:
        """Send one request; yield ``(type, payload)`` of each message answering it."""
        self._seq += 1
        seq = self._seq
        self._sock.send(_HDR.pack(_HDR.size + len(body), kind, flags, seq, 0) + body)
        while True:
            data = self._sock.recv(1 << 20)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, mtype, _flags, mseq, _pid = _HDR.unpack_from(data, offset)
                if length < _HDR.size:
                    raise NetlinkError(errno.EPROTO, "malformed netlink reply")
                payload = data[offset + _HDR.size : offset + length]
                offset += (length + 3) & ~3
                if mseq == seq:
                    yield mtype, payload

    def _dump(self, kind: int, body: bytes, want: int) -> list[bytes]:
        """The payloads of the ``want`` messages a dump request answers with ([] when the
        kernel says the object does not exist)."""
        with contextlib.suppress(OSError):  # older kernels: the dump is just not filtered
            self._sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        out: list[bytes] = []
        for mtype, payload in self._send(kind, NLM_F_REQUEST | NLM_F_DUMP, body):
            if mtype == NLMSG_DONE:
                return out
            if mtype == NLMSG_ERROR:
                code = -struct.unpack_from("=i", payload)[0]
                if code in (0, errno.ENOENT):
                    return out
                raise NetlinkError(code, f"netlink dump: {os.strerror(code)}")
            if mtype == want:
                out.append(payload)
        return out

    def _get(self, kind: int, body: bytes, want: int) -> list[bytes]:
        """The ``want`` answer to one non-dump request ([] when the kernel refuses it)."""
        for mtype, payload in self._send(kind, NLM_F_REQUEST, body):
            if mtype == NLMSG_ERROR:
                return []
            if mtype == want:
                return [payload]
        return []

    def _request(self, kind: int, flags: int, body: bytes) -> int:
        """Send one request; the errno of its acknowledgement (0: done)."""
        for mtype, payload in self._send(kind, flags, body):
            if mtype == NLMSG_ERROR:
                code: int = struct.unpack_from("=i", payload)[0]
                return -code
        return 0
