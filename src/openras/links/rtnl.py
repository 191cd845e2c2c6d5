"""Interface set-up over rtnetlink, in-process: addresses, MTU and up, routes, policy rules.

A dial used to run ``ip -batch`` for this: a helper process that costs 2-3 ms, as much as
the rest of a WireGuard dial. pyroute2 (already a dependency, for counters) was measured too:
2-3 ms for the same four requests, its message layer being slower than the helper. These
few requests are small fixed structs, so they are encoded here: each is one ``sendmsg``
and one acknowledgement, tens of microseconds, on the calling thread's network namespace
(the one the daemon's helpers would run in).

The operations are plain values (:class:`AddAddress`, :class:`NoLinkLocal`, :class:`LinkUp`,
:class:`AddRoute`, :class:`AddRule`); each also says what ``ip`` would be told (:meth:`ip_args`), for records
and for anything that still runs ``ip``. Encoding is pure; :class:`Rtnl` is the I/O.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from typing import Final

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NETLINK_ROUTE: Final = 0
RTM_NEWLINK: Final = 16
RTM_NEWADDR: Final = 20
RTM_NEWROUTE: Final = 24
RTM_NEWRULE: Final = 32
NLMSG_ERROR: Final = 2
NLM_F_REQUEST: Final = 0x1
NLM_F_ACK: Final = 0x4
NLM_F_EXCL: Final = 0x200
NLM_F_CREATE: Final = 0x400
IFF_UP: Final = 0x1
IFLA_MTU: Final = 4
IFLA_AF_SPEC: Final = 26
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
FRA_PRIORITY: Final = 6
FRA_FWMARK: Final = 10
FRA_SUPPRESS_PREFIXLEN: Final = 14
FRA_TABLE: Final = 15
FR_ACT_TO_TBL: Final = 1
FIB_RULE_INVERT: Final = 0x2
_HDR: Final = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_CREATE: Final = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
_TIMEOUT: Final = 2.0


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
    ifname: str
    address: IPInterface

    def ip_args(self) -> tuple[str, ...]:
        return ("address", "add", str(self.address), "dev", self.ifname)

    def encode(self, index: int) -> tuple[int, int, bytes]:
        a = self.address
        head = struct.pack("=BBBBI", _family(a.version), a.network.prefixlen, 0, 0, index)
        raw = a.ip.packed
        return RTM_NEWADDR, _CREATE, head + _attr(IFA_LOCAL, raw) + _attr(IFA_ADDRESS, raw)


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
    ifname: str
    mtu: int

    def ip_args(self) -> tuple[str, ...]:
        return ("link", "set", "dev", self.ifname, "mtu", str(self.mtu), "up")

    def encode(self, index: int) -> tuple[int, int, bytes]:
        head = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
        return RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, head + _u32(IFLA_MTU, self.mtu)


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


Op = AddAddress | NoLinkLocal | LinkUp | AddRoute | AddRule


def describe(op: Op) -> str:
    """The op as ``ip`` would be told it (for error messages)."""
    return "ip " + " ".join(op.ip_args())


class Rtnl:
    """One rtnetlink socket; :meth:`apply` sends requests one by one, each acknowledged."""

    def __init__(self) -> None:
        self._sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE
        )
        self._sock.settimeout(_TIMEOUT)
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def apply(self, ops: list[Op] | tuple[Op, ...]) -> None:
        """Perform ``ops`` in order; NetlinkError (naming the op) at the first refused."""
        indexes: dict[str, int] = {}
        for op in ops:
            index = 0
            if op.ifname:
                if op.ifname not in indexes:
                    try:
                        indexes[op.ifname] = socket.if_nametoindex(op.ifname)
                    except OSError:
                        raise NetlinkError(
                            errno.ENODEV, f"{describe(op)}: no interface {op.ifname}"
                        ) from None
                index = indexes[op.ifname]
            kind, flags, body = op.encode(index)
            code = self._request(kind, flags, body)
            if code:
                raise NetlinkError(code, f"{describe(op)}: {os.strerror(code)}")

    def _request(self, kind: int, flags: int, body: bytes) -> int:
        """Send one request; the errno of its acknowledgement (0: done)."""
        self._seq += 1
        seq = self._seq
        self._sock.send(_HDR.pack(_HDR.size + len(body), kind, flags, seq, 0) + body)
        while True:
            data = self._sock.recv(65536)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, mtype, _flags, mseq, _pid = _HDR.unpack_from(data, offset)
                if length < _HDR.size:
                    raise NetlinkError(errno.EPROTO, "malformed netlink reply")
                if mtype == NLMSG_ERROR and mseq == seq:
                    code: int = struct.unpack_from("=i", data, offset + _HDR.size)[0]
                    return -code
                offset += (length + 3) & ~3
