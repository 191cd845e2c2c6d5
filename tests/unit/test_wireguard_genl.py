"""The kernel WireGuard path: its generic netlink messages (SET requests as the kernel reads
them, GET dumps as the kernel writes them, ``drivers/net/wireguard/netlink.c``, built here
field by field) and when ``auto`` tries the kernel at all. The real module answers in the VM
tier (tests/vm/guest/test_kernel_wireguard.py)."""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
import struct
from pathlib import Path

import pytest

from openras.links.wireguard.config import parse_config
from openras.links.wireguard.genl import (
    MAX_REQUEST,
    WGALLOWEDIP_A_CIDR_MASK,
    WGALLOWEDIP_A_FAMILY,
    WGALLOWEDIP_A_IPADDR,
    WGDEVICE_A_FLAGS,
    WGDEVICE_A_FWMARK,
    WGDEVICE_A_IFNAME,
    WGDEVICE_A_LISTEN_PORT,
    WGDEVICE_A_PEERS,
    WGDEVICE_A_PRIVATE_KEY,
    WGDEVICE_A_PUBLIC_KEY,
    WGDEVICE_F_REPLACE_PEERS,
    WGPEER_A_ALLOWEDIPS,
    WGPEER_A_ENDPOINT,
    WGPEER_A_FLAGS,
    WGPEER_A_LAST_HANDSHAKE_TIME,
    WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
    WGPEER_A_PRESHARED_KEY,
    WGPEER_A_PUBLIC_KEY,
    WGPEER_A_RX_BYTES,
    WGPEER_A_TX_BYTES,
    WGPEER_F_REPLACE_ALLOWEDIPS,
    WGPEER_F_UPDATE_ONLY,
    DeviceSettings,
    PeerSettings,
    key_bytes,
    parse_device,
    parse_endpoint,
    set_requests,
)

KEYS = [bytes([i]) * 32 for i in range(1, 6)]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- a reader of SET requests, independent of the module's decoder ----------------------------


def attrs(data: bytes) -> list[tuple[int, bool, bytes]]:
    out, offset = [], 0
    while offset < len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        assert length >= 4 and offset + length <= len(data), "attribute overruns its nest"
        out.append((kind & 0x3FFF, bool(kind & 0x8000), data[offset + 4 : offset + length]))
        offset += (length + 3) & ~3
    assert offset == len(data), "trailing bytes"
    return out


def one(found: list[tuple[int, bool, bytes]], kind: int) -> bytes | None:
    values = [v for k, _n, v in found if k == kind]
    assert len(values) <= 1, f"attribute {kind} twice"
    return values[0] if values else None


def read_peer(raw: bytes) -> dict[str, object]:
    found = attrs(raw)
    flags = one(found, WGPEER_A_FLAGS)
    ips_raw = one(found, WGPEER_A_ALLOWEDIPS)
    assert all(nested for k, nested, _ in found if k == WGPEER_A_ALLOWEDIPS)
    ips = []
    for _k, nested, ip_raw in attrs(ips_raw or b""):
        assert nested
        a = attrs(ip_raw)
        family = struct.unpack("=H", one(a, WGALLOWEDIP_A_FAMILY) or b"")[0]
        addr = one(a, WGALLOWEDIP_A_IPADDR) or b""
        assert len(addr) == (4 if family == socket.AF_INET else 16)
        ips.append(ipaddress.ip_network((addr, (one(a, WGALLOWEDIP_A_CIDR_MASK) or b"")[0])))
    keepalive = one(found, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL)
    return {
        "key": one(found, WGPEER_A_PUBLIC_KEY),
        "psk": one(found, WGPEER_A_PRESHARED_KEY),
        "endpoint": one(found, WGPEER_A_ENDPOINT),
        "keepalive": struct.unpack("=H", keepalive)[0] if keepalive else None,
        "flags": struct.unpack("=I", flags)[0] if flags else 0,
        "has_ips": ips_raw is not None,
        "ips": ips,
    }


def read_request(data: bytes) -> tuple[dict[int, bytes | None], list[dict[str, object]]]:
    found = attrs(data)
    device = {
        k: one(found, k)
        for k in (WGDEVICE_A_IFNAME, WGDEVICE_A_PRIVATE_KEY, WGDEVICE_A_LISTEN_PORT,
                  WGDEVICE_A_FWMARK, WGDEVICE_A_FLAGS)
    }  # fmt: skip
    peers_raw = one(found, WGDEVICE_A_PEERS)
    peers = [read_peer(p) for _k, nested, p in attrs(peers_raw or b"") if nested]
    return device, peers


CONFIG = f"""[Interface]
PrivateKey = {b64(KEYS[0])}
ListenPort = 51000
Address = 10.9.0.2/24

[Peer]
PublicKey = {b64(KEYS[1])}
PresharedKey = {b64(KEYS[2])}
Endpoint = 192.0.2.7:51820
AllowedIPs = 10.9.0.0/24, fd00:9::/64

[Peer]
PublicKey = {b64(KEYS[3])}
Endpoint = [2001:db8::7]:4500
AllowedIPs = 10.10.0.0/16
PersistentKeepalive = 25
"""


def test_a_config_becomes_one_set_with_everything_setconf_would_send() -> None:
    cfg = parse_config(CONFIG, "office.conf")
    settings = cfg.to_netlink(
        endpoints={
            "192.0.2.7:51820": "192.0.2.7:51820",
            "[2001:db8::7]:4500": "[2001:db8::7]:4500",
        },
        fwmark=0x6F720005,
        keepalive_override=1,
    )
    (request,) = set_requests("orwg5", settings)
    device, peers = read_request(request)
    assert device[WGDEVICE_A_IFNAME] == b"orwg5\0"
    assert device[WGDEVICE_A_PRIVATE_KEY] == KEYS[0]
    assert device[WGDEVICE_A_LISTEN_PORT] == struct.pack("=H", 51000)
    assert device[WGDEVICE_A_FWMARK] == struct.pack("=I", 0x6F720005)
    assert device[WGDEVICE_A_FLAGS] == struct.pack("=I", WGDEVICE_F_REPLACE_PEERS)
    first, second = peers
    assert first["key"] == KEYS[1] and first["psk"] == KEYS[2]
    # sockaddr_in: family in host order, port in network order, the address, zero padding.
    assert first["endpoint"] == struct.pack("=H", socket.AF_INET) + struct.pack(
        "!H", 51820
    ) + bytes([192, 0, 2, 7]) + bytes(8)
    assert first["keepalive"] == 1  # the dial's override: the peer has none of its own
    assert first["flags"] == WGPEER_F_REPLACE_ALLOWEDIPS
    assert first["ips"] == [
        ipaddress.ip_network("10.9.0.0/24"),
        ipaddress.ip_network("fd00:9::/64"),
    ]
    assert second["key"] == KEYS[3] and second["psk"] is None
    endpoint = second["endpoint"]
    assert isinstance(endpoint, bytes) and len(endpoint) == 28
    assert struct.unpack_from("=H", endpoint)[0] == socket.AF_INET6
    assert struct.unpack_from("!H", endpoint, 2)[0] == 4500
    assert ipaddress.IPv6Address(endpoint[8:24]) == ipaddress.IPv6Address("2001:db8::7")
    assert second["keepalive"] == 25
    assert second["ips"] == [ipaddress.ip_network("10.10.0.0/16")]
    assert "private_key=set" in repr(settings) and b64(KEYS[0]) not in repr(settings)


def test_a_large_config_is_split_and_adds_up_to_the_same() -> None:
    many = tuple(ipaddress.ip_network(f"10.{i // 256}.{i % 256}.0/24") for i in range(3000))
    settings = DeviceSettings(
        private_key=KEYS[0],
        replace_peers=True,
        peers=(
            PeerSettings(KEYS[1], allowed_ips=many[:10]),
            PeerSettings(KEYS[2], allowed_ips=many[10:]),
            PeerSettings(KEYS[3], allowed_ips=()),
        ),
    )
    requests = set_requests("orwg1", settings, limit=4096)
    assert len(requests) > 10
    assert all(len(r) <= 4096 for r in requests)
    got: dict[bytes, list[object]] = {}
    seen_first: set[bytes] = set()
    for n, request in enumerate(requests):
        device, peers = read_request(request)
        assert device[WGDEVICE_A_IFNAME] == b"orwg1\0"
        # Only the first replaces the peers (the others must add to it, not wipe it).
        assert (device[WGDEVICE_A_FLAGS] is not None) == (n == 0)
        assert (device[WGDEVICE_A_PRIVATE_KEY] is not None) == (n == 0)
        for peer in peers:
            key = peer["key"]
            assert isinstance(key, bytes)
            replaces = bool(peer["flags"] & WGPEER_F_REPLACE_ALLOWEDIPS)  # type: ignore[operator]
            assert replaces == (key not in seen_first), "replace at the first appearance only"
            seen_first.add(key)
            got.setdefault(key, []).extend(peer["ips"])  # type: ignore[arg-type]
    assert got[KEYS[1]] == list(many[:10])
    assert got[KEYS[2]] == list(many[10:])
    assert got[KEYS[3]] == []  # a peer with none still replaces its allowed IPs with none


def test_the_default_limit_keeps_a_big_real_config_in_few_requests() -> None:
    many = tuple(ipaddress.ip_network(f"10.{i // 256}.{i % 256}.0/24") for i in range(1000))
    requests = set_requests(
        "orwg1", DeviceSettings(peers=(PeerSettings(KEYS[1], allowed_ips=many),))
    )
    assert all(len(r) <= MAX_REQUEST for r in requests)
    assert 1 < len(requests) <= 3


def test_an_update_of_one_peer_touches_only_it() -> None:
    peer = PeerSettings(
        KEYS[1], persistent_keepalive=0, replace_allowed_ips=False, update_only=True
    )
    (request,) = set_requests("orwg2", DeviceSettings(peers=(peer,)))
    device, (read,) = read_request(request)
    assert device[WGDEVICE_A_PRIVATE_KEY] is None and device[WGDEVICE_A_FLAGS] is None
    assert device[WGDEVICE_A_LISTEN_PORT] is None and device[WGDEVICE_A_FWMARK] is None
    assert read["flags"] == WGPEER_F_UPDATE_ONLY
    assert read["keepalive"] == 0
    assert not read["has_ips"]  # the allowed IPs stay as they are


def test_keys_and_endpoints_are_checked() -> None:
    assert key_bytes(b64(KEYS[4])) == KEYS[4]
    with pytest.raises(ValueError, match="32 bytes"):
        key_bytes(b64(b"short"))
    assert parse_endpoint("[2001:db8::1]:51820") == (ipaddress.ip_address("2001:db8::1"), 51820)
    assert parse_endpoint("192.0.2.1:1") == (ipaddress.ip_address("192.0.2.1"), 1)


# -- GET dumps as the kernel writes them --------------------------------------------------------


def nla(kind: int, payload: bytes, nested: bool = False) -> bytes:
    length = 4 + len(payload)
    return (
        struct.pack("=HH", length, kind | (0x8000 if nested else 0)) + payload + bytes(-length % 4)
    )


def dump_peer(key: bytes, *, ips: list[str], whole: bool = True, **fields: int) -> bytes:
    """One peer nest of a dump: ``whole`` as the kernel writes a peer first, else as it
    continues one into the next message (its key and the rest of its allowed IPs)."""
    body = nla(WGPEER_A_PUBLIC_KEY, key)
    if whole:
        body += nla(WGPEER_A_PRESHARED_KEY, fields.get("psk", 0).to_bytes(1, "big") * 32)
        body += nla(WGPEER_A_LAST_HANDSHAKE_TIME, struct.pack("=qq", fields.get("hs", 0), 5))
        body += nla(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, struct.pack("=H", fields.get("ka", 0)))
        body += nla(WGPEER_A_TX_BYTES, struct.pack("=Q", fields.get("tx", 0)))
        body += nla(WGPEER_A_RX_BYTES, struct.pack("=Q", fields.get("rx", 0)))
        if "port" in fields:
            body += nla(
                WGPEER_A_ENDPOINT,
                struct.pack("=H", socket.AF_INET6)
                + struct.pack("!HI", fields["port"], 0)
                + ipaddress.IPv6Address("2001:db8::9").packed
                + bytes(4),
            )
    nets = b""
    for text in ips:
        net = ipaddress.ip_network(text)
        fam = socket.AF_INET if net.version == 4 else socket.AF_INET6
        nets += nla(
            0,
            nla(WGALLOWEDIP_A_IPADDR, net.network_address.packed)
            + nla(WGALLOWEDIP_A_CIDR_MASK, bytes([net.prefixlen]))
            + nla(WGALLOWEDIP_A_FAMILY, struct.pack("=H", fam)),
            nested=True,
        )
    body += nla(WGPEER_A_ALLOWEDIPS, nets, nested=True)
    return nla(0, body, nested=True)


def device_head() -> bytes:
    return (
        nla(WGDEVICE_A_LISTEN_PORT, struct.pack("=H", 51000))
        + nla(WGDEVICE_A_FWMARK, struct.pack("=I", 0))
        + nla(WGDEVICE_A_IFNAME, b"orwg3\0")
        + nla(WGDEVICE_A_PRIVATE_KEY, KEYS[0])
        + nla(WGDEVICE_A_PUBLIC_KEY, KEYS[4])
    )


def test_a_dump_reads_as_wg_show_dump_would_say_it_without_the_private_key() -> None:
    first = device_head() + nla(
        WGDEVICE_A_PEERS,
        dump_peer(KEYS[1], ips=["10.9.0.0/24"], hs=1_765_000_000, rx=92, tx=148, ka=25, port=4500)
        + dump_peer(KEYS[2], ips=["10.1.0.0/24"], psk=7),
        nested=True,
    )
    # The kernel ran out of room inside KEYS[2]'s allowed IPs: the next message goes on.
    second = nla(WGDEVICE_A_IFNAME, b"orwg3\0") + nla(
        WGDEVICE_A_PEERS,
        dump_peer(KEYS[2], ips=["10.2.0.0/24", "fd00::/8"], whole=False)
        + dump_peer(KEYS[3], ips=[]),
        nested=True,
    )
    dump = parse_device([first, second])
    assert dump.interface is not None
    assert dump.interface.public_key == b64(KEYS[4])
    assert dump.interface.listen_port == 51000
    assert dump.interface.fwmark is None
    assert dump.interface.has_private_key
    assert b64(KEYS[0]) not in repr(dump)
    a, b, c = dump.peers
    assert (a.public_key, a.latest_handshake, a.rx_bytes, a.tx_bytes) == (
        b64(KEYS[1]), 1_765_000_000, 92, 148,
    )  # fmt: skip
    assert a.persistent_keepalive == 25 and not a.has_preshared_key
    assert a.endpoint == "[2001:db8::9]:4500"
    assert b.has_preshared_key and b.endpoint is None and b.latest_handshake == 0
    assert b.allowed_ips == ("10.1.0.0/24", "10.2.0.0/24", "fd00::/8")
    assert c.allowed_ips == () and c.persistent_keepalive is None
    assert dump.rx_bytes == 92 and dump.latest_handshake == 1_765_000_000


def test_a_truncated_or_foreign_message_is_read_as_far_as_it_goes() -> None:
    whole = device_head() + nla(WGDEVICE_A_PEERS, dump_peer(KEYS[1], ips=["10.0.0.0/8"]), True)
    dump = parse_device([whole[:-3]])  # cut inside the peers nest: no peer, no crash
    assert dump.interface is not None and dump.interface.listen_port == 51000
    assert dump.peers == ()
    assert parse_device([]).interface is None


def test_a_kernel_that_refused_wireguard_is_asked_again_only_once_its_modules_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each try on a kernel without the module has it run modprobe before the fallback: after
    one refusal, ``auto`` goes straight to wireguard-go until a module is installed (depmod
    rewrites modules.dep) or loaded."""
    from openras.links.wireguard import driver

    sys_module = tmp_path / "sys-module-wireguard"
    index = tmp_path / "modules" / os.uname().release / "modules.dep"
    index.parent.mkdir(parents=True)
    index.write_text("kernel/net/ipv4/udp_tunnel.ko:\n")
    monkeypatch.setattr(driver, "_SYS_MODULE", sys_module)
    monkeypatch.setattr(driver, "_MODULES_DIR", tmp_path / "modules")
    monkeypatch.setattr(driver, "_can_load_modules", lambda: True)
    monkeypatch.setattr(driver, "_refused_with", None)
    assert driver.kernel_may_have_wireguard()  # modules load: worth a try
    driver._note_refusal()
    assert not driver.kernel_may_have_wireguard()
    stamp = index.stat().st_mtime_ns
    index.write_text("kernel/drivers/net/wireguard/wireguard.ko: kernel/net/ipv4/udp_tunnel.ko\n")
    os.utime(index, ns=(stamp + 10**9, stamp + 10**9))  # depmod after an install
    assert driver.kernel_may_have_wireguard()
    driver._note_refusal()
    assert not driver.kernel_may_have_wireguard()
    sys_module.mkdir()  # loaded by hand
    assert driver.kernel_may_have_wireguard()
    monkeypatch.setattr(driver, "_can_load_modules", lambda: False)
    sys_module.rmdir()
    monkeypatch.setattr(driver, "_refused_with", None)
    assert not driver.kernel_may_have_wireguard()  # neither there nor loadable
