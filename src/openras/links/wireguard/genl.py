"""WireGuard's generic netlink family, in-process: the kernel module's settings and peers.

With the kernel module, a dial ran ``wg setconf IF FILE`` (the private key in a 0600 file of
the run dir for the moment it took), then ``wg show IF dump`` every millisecond or so until
the first handshake, each a helper process of 1-3 ms (tens of them per dial), and ``wg set``
to switch the dial's keepalive back off. ``wg`` itself only speaks this family: one
``WG_CMD_SET_DEVICE`` request configures the device, one ``WG_CMD_GET_DEVICE`` dump reads its
peers. They are encoded here (small nested attributes), as ``links/rtnl.py`` does for
rtnetlink: no process, and the private key goes from the daemon's memory to the kernel's.

Encoding (:func:`set_requests`) and decoding (:func:`parse_device`) are pure;
:class:`WgNetlink` is the I/O. What a dump says is the same :class:`~.dump.WgDump` that
``wg show IF dump`` and the userspace UAPI give, without the private key.

The layout is ``include/uapi/linux/wireguard.h``: a SET carries the device's attributes and
``WGDEVICE_A_PEERS``, a nest of peers (each a nest whose type is ignored), each with its
``WGPEER_A_ALLOWEDIPS`` nest. A request holds at most :data:`MAX_REQUEST` bytes: a longer
configuration goes in several, as ``wg`` sends it. Only the first replaces the peers, and a
peer whose allowed IPs continue into the next request is named again there without
``WGPEER_F_REPLACE_ALLOWEDIPS``, so the later requests add to what the first set. A dump
answers in several messages the same way, a peer continued into the next message by its
public key and the rest of its allowed IPs.
"""

from __future__ import annotations

import base64
import errno
import ipaddress
import os
import socket
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from openras.links.rtnl import (
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NetlinkError,
    Rtnl,
    _attr,
    _attr_list,
)
from openras.links.wireguard.dump import DumpInterface, DumpPeer, WgDump

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NETLINK_GENERIC: Final = 16
GENL_ID_CTRL: Final = 0x10
CTRL_CMD_GETFAMILY: Final = 3
CTRL_ATTR_FAMILY_ID: Final = 1
CTRL_ATTR_FAMILY_NAME: Final = 2
WG_GENL_NAME: Final = "wireguard"
WG_GENL_VERSION: Final = 1
WG_KEY_LEN: Final = 32

WG_CMD_GET_DEVICE: Final = 0
WG_CMD_SET_DEVICE: Final = 1
WGDEVICE_F_REPLACE_PEERS: Final = 1 << 0
WGDEVICE_A_IFINDEX: Final = 1
WGDEVICE_A_IFNAME: Final = 2
WGDEVICE_A_PRIVATE_KEY: Final = 3
WGDEVICE_A_PUBLIC_KEY: Final = 4
WGDEVICE_A_FLAGS: Final = 5
WGDEVICE_A_LISTEN_PORT: Final = 6
WGDEVICE_A_FWMARK: Final = 7
WGDEVICE_A_PEERS: Final = 8
WGPEER_F_REPLACE_ALLOWEDIPS: Final = 1 << 1
WGPEER_F_UPDATE_ONLY: Final = 1 << 2
WGPEER_A_PUBLIC_KEY: Final = 1
WGPEER_A_PRESHARED_KEY: Final = 2
WGPEER_A_FLAGS: Final = 3
WGPEER_A_ENDPOINT: Final = 4
WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL: Final = 5
WGPEER_A_LAST_HANDSHAKE_TIME: Final = 6
WGPEER_A_RX_BYTES: Final = 7
WGPEER_A_TX_BYTES: Final = 8
WGPEER_A_ALLOWEDIPS: Final = 9
WGALLOWEDIP_A_FAMILY: Final = 1
WGALLOWEDIP_A_IPADDR: Final = 2
WGALLOWEDIP_A_CIDR_MASK: Final = 3
NLA_F_NESTED: Final = 0x8000
_GENL_HDR: Final = struct.Struct("=BBH")  # genlmsghdr: cmd, version, reserved
#: The largest request body sent at once (``wg`` fills a page; the kernel takes far more, but
#: a socket's send buffer is the bound, and a config of thousands of allowed IPs must not
#: meet it).
MAX_REQUEST: Final = 16384
_NO_KEY: Final = bytes(WG_KEY_LEN)


@dataclass(frozen=True)
class PeerSettings:
    """One peer of a SET: keys as their 32 raw bytes, the endpoint as an address and port."""

    public_key: bytes
    preshared_key: bytes | None = None
    endpoint: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int] | None = None
    #: None: the peer's interval is left as it is (a new peer: off); 0 switches it off.
    persistent_keepalive: int | None = None
    allowed_ips: tuple[IPNetwork, ...] = ()
    #: The allowed IPs given replace the peer's (else they are added to them).
    replace_allowed_ips: bool = True
    #: Change the peer only if the device has it (never add it).
    update_only: bool = False


@dataclass(frozen=True)
class DeviceSettings:
    """A WG_CMD_SET_DEVICE: what is None stays as the device has it."""

    private_key: bytes | None = None
    listen_port: int | None = None
    fwmark: int | None = None
    #: The peers given replace all of the device's (``wg setconf``); else they are merged in.
    replace_peers: bool = False
    peers: tuple[PeerSettings, ...] = ()

    def __repr__(self) -> str:  # never the private or preshared keys
        return (
            f"DeviceSettings(private_key={'set' if self.private_key else None}, "
            f"listen_port={self.listen_port}, fwmark={self.fwmark}, "
            f"replace_peers={self.replace_peers}, peers={len(self.peers)})"
        )


def key_bytes(key: str) -> bytes:
    """A (checked) base64 WireGuard key as its 32 bytes."""
    raw = base64.b64decode(key, validate=True)
    if len(raw) != WG_KEY_LEN:
        raise ValueError("a WireGuard key is 32 bytes")
    return raw


def parse_endpoint(literal: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """``ip:port`` or ``[v6]:port`` (an endpoint resolved already) as address and port."""
    host, _, port = literal.rpartition(":")
    return ipaddress.ip_address(host.strip("[]")), int(port)


def _nest(kind: int, payload: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, payload)


def _sockaddr(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> bytes:
    """``struct sockaddr_in`` or ``sockaddr_in6`` (family in host order, port in network)."""
    if address.version == 4:
        return (
            struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + address.packed + bytes(8)
        )
    return (
        struct.pack("=H", socket.AF_INET6)
        + struct.pack("!HI", port, 0)
        + address.packed
        + struct.pack("=I", 0)
    )


def _allowed_ip(net: IPNetwork) -> bytes:
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    body = (
        _attr(WGALLOWEDIP_A_FAMILY, struct.pack("=H", family))
        + _attr(WGALLOWEDIP_A_IPADDR, net.network_address.packed)
        + _attr(WGALLOWEDIP_A_CIDR_MASK, struct.pack("=B", net.prefixlen))
    )
    return _nest(0, body)


def _peer_head(peer: PeerSettings, first: bool) -> bytes:
    """A peer's attributes before its allowed IPs (``first``: its first appearance; a
    continuation names only the key, and adds to the allowed IPs already set)."""
    out = _attr(WGPEER_A_PUBLIC_KEY, peer.public_key)
    flags = WGPEER_F_UPDATE_ONLY if peer.update_only else 0
    if first:
        if peer.replace_allowed_ips:
            flags |= WGPEER_F_REPLACE_ALLOWEDIPS
        if peer.preshared_key is not None:
            out += _attr(WGPEER_A_PRESHARED_KEY, peer.preshared_key)
        if peer.endpoint is not None:
            out += _attr(WGPEER_A_ENDPOINT, _sockaddr(*peer.endpoint))
        if peer.persistent_keepalive is not None:
            out += _attr(
                WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, struct.pack("=H", peer.persistent_keepalive)
            )
    if flags:
        out += _attr(WGPEER_A_FLAGS, struct.pack("=I", flags))
    return out


def _device(ifname: str) -> bytes:
    return _attr(WGDEVICE_A_IFNAME, ifname.encode() + b"\0")


def set_requests(ifname: str, settings: DeviceSettings, limit: int = MAX_REQUEST) -> list[bytes]:
    """The attributes of each WG_CMD_SET_DEVICE request that together apply ``settings``
    (one unless they are larger than ``limit``; see the module docstring)."""
    device = _device(ifname)
    head = device
    if settings.private_key is not None:
        head += _attr(WGDEVICE_A_PRIVATE_KEY, settings.private_key)
    if settings.listen_port is not None:
        head += _attr(WGDEVICE_A_LISTEN_PORT, struct.pack("=H", settings.listen_port))
    if settings.fwmark is not None:
        head += _attr(WGDEVICE_A_FWMARK, struct.pack("=I", settings.fwmark))
    if settings.replace_peers:
        head += _attr(WGDEVICE_A_FLAGS, struct.pack("=I", WGDEVICE_F_REPLACE_PEERS))
    requests: list[bytes] = []
    peers: list[bytes] = []  # the current request's finished peer nests
    size = len(head) + 4  # + the peers nest's header

    def flush() -> None:
        nonlocal head, peers, size
        requests.append(head + (_nest(WGDEVICE_A_PEERS, b"".join(peers)) if peers else b""))
        head, peers = device, []
        size = len(head) + 4

    for peer in settings.peers:
        first = True
        ips = deque(_allowed_ip(net) for net in peer.allowed_ips)
        while True:
            peer_head = _peer_head(peer, first)
            room = limit - size - 4 - len(peer_head) - 4  # peer nest and allowed-IPs nest
            if room < (len(ips[0]) if ips else 0) and peers:
                flush()  # not even one more allowed IP fits beside what is there: a new one
                continue
            taken: list[bytes] = []
            used = 0
            while ips and (used + len(ips[0]) <= room or not taken):
                used += len(ips[0])
                taken.append(ips.popleft())
            body = peer_head
            if taken or (first and peer.replace_allowed_ips):
                body += _nest(WGPEER_A_ALLOWEDIPS, b"".join(taken))
            nest = _nest(0, body)
            peers.append(nest)
            size += len(nest)
            first = False
            if not ips:
                break
            flush()
    if peers or not requests:
        flush()
    return requests


# -- decoding ---------------------------------------------------------------------------------


def _endpoint_text(raw: bytes) -> str | None:
    """A peer's endpoint as ``wg`` prints it (``ip:port``, ``[v6]:port``); None if unset."""
    if len(raw) < 2:
        return None
    family = struct.unpack_from("=H", raw)[0]
    if family == socket.AF_INET and len(raw) >= 8:
        port = struct.unpack_from("!H", raw, 2)[0]
        return f"{ipaddress.IPv4Address(raw[4:8])}:{port}"
    if family == socket.AF_INET6 and len(raw) >= 24:
        port = struct.unpack_from("!H", raw, 2)[0]
        return f"[{ipaddress.IPv6Address(raw[8:24])}]:{port}"
    return None


def _allowed_ips(raw: bytes) -> list[str]:
    out: list[str] = []
    for _kind, nest in _attr_list(raw):
        attrs = dict(_attr_list(nest))
        addr, mask = attrs.get(WGALLOWEDIP_A_IPADDR), attrs.get(WGALLOWEDIP_A_CIDR_MASK)
        if addr is None or not mask or len(addr) not in (4, 16):
            continue
        ip = ipaddress.ip_address(addr)
        out.append(f"{ip}/{mask[0]}")
    return out


def _u(raw: bytes | None, fmt: str) -> int:
    if raw is None or len(raw) < struct.calcsize(fmt):
        return 0
    value: int = struct.unpack_from(fmt, raw)[0]
    return value


def parse_device(messages: Sequence[bytes]) -> WgDump:
    """The device a WG_CMD_GET_DEVICE dump describes (its messages' attributes, after the
    genl header), peers continued across messages joined. The private key is dropped."""
    iface: DumpInterface | None = None
    peers: list[DumpPeer] = []
    for message in messages:
        attrs = _attr_list(message)
        found = dict(attrs)
        if iface is None:
            public = found.get(WGDEVICE_A_PUBLIC_KEY)
            private = found.get(WGDEVICE_A_PRIVATE_KEY)
            mark = _u(found.get(WGDEVICE_A_FWMARK), "=I")
            iface = DumpInterface(
                public_key=base64.b64encode(public).decode()
                if public and public != _NO_KEY
                else "",
                listen_port=_u(found.get(WGDEVICE_A_LISTEN_PORT), "=H"),
                fwmark=mark or None,
                has_private_key=bool(private) and private != _NO_KEY,
            )
        for kind, nest in attrs:
            if kind != WGDEVICE_A_PEERS:
                continue
            for _index, peer_raw in _attr_list(nest):
                p = dict(_attr_list(peer_raw))
                public = p.get(WGPEER_A_PUBLIC_KEY)
                if public is None or len(public) != WG_KEY_LEN:
                    continue
                key = base64.b64encode(public).decode()
                ips = tuple(_allowed_ips(p.get(WGPEER_A_ALLOWEDIPS, b"")))
                whole = WGPEER_A_RX_BYTES in p or WGPEER_A_LAST_HANDSHAKE_TIME in p
                if not whole and peers and peers[-1].public_key == key:
                    last = peers[-1]  # the rest of the previous message's last peer
                    peers[-1] = replace(last, allowed_ips=last.allowed_ips + ips)
                    continue
                psk = p.get(WGPEER_A_PRESHARED_KEY)
                keepalive = _u(p.get(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL), "=H")
                peers.append(
                    DumpPeer(
                        public_key=key,
                        has_preshared_key=bool(psk) and psk != _NO_KEY,
                        endpoint=_endpoint_text(p.get(WGPEER_A_ENDPOINT, b"")),
                        allowed_ips=ips,
                        latest_handshake=_u(p.get(WGPEER_A_LAST_HANDSHAKE_TIME), "=q"),
                        rx_bytes=_u(p.get(WGPEER_A_RX_BYTES), "=Q"),
                        tx_bytes=_u(p.get(WGPEER_A_TX_BYTES), "=Q"),
                        persistent_keepalive=keepalive or None,
                    )
                )
    return WgDump(iface, tuple(peers))


# -- I/O ----------------------------------------------------------------------------------------


class WgNetlink(Rtnl):
    """A generic netlink socket that speaks WireGuard's family (in the calling thread's
    network namespace). NetlinkError (errno set) when the kernel refuses a request."""

    def __init__(self) -> None:
        super().__init__(NETLINK_GENERIC)
        self._family = self._family_id()

    def _family_id(self) -> int:
        """The family's id; NetlinkError(ENOENT) where the kernel has no WireGuard."""
        body = _GENL_HDR.pack(CTRL_CMD_GETFAMILY, 1, 0) + _attr(
            CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME.encode() + b"\0"
        )
        for mtype, payload in self._send(GENL_ID_CTRL, NLM_F_REQUEST, body):
            if mtype == NLMSG_ERROR:
                code = -struct.unpack_from("=i", payload)[0]
                raise NetlinkError(code, f"generic netlink family wireguard: {os.strerror(code)}")
            if mtype == GENL_ID_CTRL:
                found = dict(_attr_list(payload, _GENL_HDR.size))
                family = found.get(CTRL_ATTR_FAMILY_ID)
                if family is not None and len(family) >= 2:
                    value: int = struct.unpack_from("=H", family)[0]
                    return value
        raise NetlinkError(errno.EPROTO, "generic netlink: no family id for wireguard")

    def set_device(self, ifname: str, settings: DeviceSettings) -> None:
        """Apply ``settings`` to interface ``ifname`` (each request acknowledged)."""
        for attrs in set_requests(ifname, settings):
            body = _GENL_HDR.pack(WG_CMD_SET_DEVICE, WG_GENL_VERSION, 0) + attrs
            code = self._request(self._family, NLM_F_REQUEST | NLM_F_ACK, body)
            if code:
                raise NetlinkError(
                    code, f"WireGuard configuration of {ifname}: {os.strerror(code)}"
                )

    def device(self, ifname: str) -> WgDump:
        """The interface's settings and peers, without the private key."""
        body = _GENL_HDR.pack(WG_CMD_GET_DEVICE, WG_GENL_VERSION, 0) + _device(ifname)
        messages: list[bytes] = []
        for mtype, payload in self._send(self._family, NLM_F_REQUEST | NLM_F_DUMP, body):
            if mtype == NLMSG_DONE:
                break
            if mtype == NLMSG_ERROR:
                code = -struct.unpack_from("=i", payload)[0]
                if code:
                    raise NetlinkError(code, f"WireGuard device {ifname}: {os.strerror(code)}")
                break
            if mtype == self._family:
                messages.append(payload[_GENL_HDR.size :])
        return parse_device(messages)
