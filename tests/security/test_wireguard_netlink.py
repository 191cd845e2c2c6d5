"""A user's wg-quick file reaches the kernel module only as the typed values the daemon parsed
(the kernel WireGuard path sends it over generic netlink, ``links/wireguard/genl.py``; no
``wg`` parses it any more): whatever a config holds, the requests name the daemon's own
interface, carry only the attributes ``wg setconf`` would set, and each value is the parsed
model's, with the daemon's fwmark in place of the file's. Hostile files are refused by the
parser before (tests/unit/test_wireguard_config.py)."""

from __future__ import annotations

import base64
import ipaddress
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from openras.links.wireguard.config import parse_config
from openras.links.wireguard.genl import (
    WGALLOWEDIP_A_CIDR_MASK,
    WGALLOWEDIP_A_FAMILY,
    WGALLOWEDIP_A_IPADDR,
    WGDEVICE_A_FLAGS,
    WGDEVICE_A_FWMARK,
    WGDEVICE_A_IFNAME,
    WGDEVICE_A_LISTEN_PORT,
    WGDEVICE_A_PEERS,
    WGDEVICE_A_PRIVATE_KEY,
    WGPEER_A_ALLOWEDIPS,
    WGPEER_A_ENDPOINT,
    WGPEER_A_FLAGS,
    WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
    WGPEER_A_PRESHARED_KEY,
    WGPEER_A_PUBLIC_KEY,
    set_requests,
)

DEVICE_ATTRS = {WGDEVICE_A_IFNAME, WGDEVICE_A_PRIVATE_KEY, WGDEVICE_A_LISTEN_PORT,
                WGDEVICE_A_FWMARK, WGDEVICE_A_FLAGS, WGDEVICE_A_PEERS}  # fmt: skip
PEER_ATTRS = {WGPEER_A_PUBLIC_KEY, WGPEER_A_PRESHARED_KEY, WGPEER_A_ENDPOINT, WGPEER_A_FLAGS,
              WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, WGPEER_A_ALLOWEDIPS}  # fmt: skip
OURS = "orwg7"
DAEMON_MARK = 0x6F720007


def attrs(data: bytes) -> list[tuple[int, bytes]]:
    out, offset = [], 0
    while offset < len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        assert length >= 4 and offset + length <= len(data)
        out.append((kind & 0x3FFF, data[offset + 4 : offset + length]))
        offset += (length + 3) & ~3
    return out


keys = st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode())
v4 = st.builds(ipaddress.IPv4Address, st.integers(1, 2**32 - 1))
v6 = st.builds(ipaddress.IPv6Address, st.integers(1, 2**128 - 1))
nets = st.one_of(
    st.builds(lambda a, n: ipaddress.ip_network((a, n), strict=False), v4, st.integers(8, 32)),
    st.builds(lambda a, n: ipaddress.ip_network((a, n), strict=False), v6, st.integers(16, 128)),
)
peers = st.tuples(
    keys,
    st.one_of(st.none(), keys),
    st.one_of(st.builds(lambda a, p: f"{a}:{p}", v4, st.integers(1, 65535)),
              st.builds(lambda a, p: f"[{a}]:{p}", v6, st.integers(1, 65535))),
    st.lists(nets, min_size=1, max_size=20),
    st.one_of(st.none(), st.integers(1, 65535)),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    private=keys,
    port=st.one_of(st.none(), st.integers(1024, 65535)),
    file_mark=st.one_of(st.none(), st.integers(1, 2**32 - 1)),
    peer_list=st.lists(peers, min_size=1, max_size=4, unique_by=lambda p: p[0]),
)
def test_a_config_reaches_the_kernel_as_its_parsed_values_only(
    private: str, port: int | None, file_mark: int | None, peer_list: list[tuple]
) -> None:
    lines = ["[Interface]", f"PrivateKey = {private}", "Address = 10.9.0.2/24"]
    lines += [f"ListenPort = {port}"] if port is not None else []
    lines += [f"FwMark = {file_mark}"] if file_mark is not None else []
    for public, psk, endpoint, allowed, keepalive in peer_list:
        lines += ["", "[Peer]", f"PublicKey = {public}", f"Endpoint = {endpoint}",
                  "AllowedIPs = " + ", ".join(str(n) for n in allowed)]  # fmt: skip
        lines += [f"PresharedKey = {psk}"] if psk else []
        lines += [f"PersistentKeepalive = {keepalive}"] if keepalive else []
    cfg = parse_config("\n".join(lines) + "\n", "office.conf")
    endpoints = {p.endpoint: p.endpoint for p in cfg.peers if p.endpoint}
    requests = set_requests(OURS, cfg.to_netlink(endpoints=endpoints, fwmark=DAEMON_MARK))

    seen: dict[bytes, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    for n, request in enumerate(requests):
        device = attrs(request)
        assert {k for k, _ in device} <= DEVICE_ATTRS
        assert dict(device)[WGDEVICE_A_IFNAME] == OURS.encode() + b"\0"  # never the file's
        if n == 0:
            assert dict(device)[WGDEVICE_A_PRIVATE_KEY] == base64.b64decode(private)
            assert dict(device)[WGDEVICE_A_FWMARK] == struct.pack("=I", DAEMON_MARK)
        for _, peer_raw in attrs(dict(device).get(WGDEVICE_A_PEERS, b"")):
            peer = dict(attrs(peer_raw))
            assert set(peer) <= PEER_ATTRS
            for _, ip_raw in attrs(peer.get(WGPEER_A_ALLOWEDIPS, b"")):
                ip = dict(attrs(ip_raw))
                assert set(ip) == {
                    WGALLOWEDIP_A_FAMILY,
                    WGALLOWEDIP_A_IPADDR,
                    WGALLOWEDIP_A_CIDR_MASK,
                }
                seen.setdefault(peer[WGPEER_A_PUBLIC_KEY], []).append(
                    ipaddress.ip_network((ip[WGALLOWEDIP_A_IPADDR], ip[WGALLOWEDIP_A_CIDR_MASK][0]))
                )
    assert seen == {base64.b64decode(p.public_key): list(p.allowed_ips) for p in cfg.peers}
