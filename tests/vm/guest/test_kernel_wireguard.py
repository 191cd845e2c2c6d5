"""Kernel WireGuard through rasman: the path the host's kernel (no WireGuard) cannot take.

The peer in namespace A is a kernel ``wireguard`` interface set up with ``wg``; the entry is a
full tunnel (AllowedIPs 0.0.0.0/0), so the driver also installs its policy-routing rules and
fwmark. Dialed through the Win32-shaped API against the session's rasman in B: the driver's
``auto`` choice must take the kernel module (no wireguard-go), traffic must cross the tunnel,
a rasman killed with SIGKILL must be replaced by one that adopts the kernel link, and when
RasGetConnectStatus answers 6 the interface, rules, routes, processes and run files must all
be gone.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from pathlib import Path

import pytest
from _linkkit import NsRasman, ip_json, link_pids, pid_alive, routes_via, rules
from _vmkit import crash_and_restart
from netns import NetnsLab, NsPair, pids_in_netns, require_programs

from openras import rasapi
from openras.client import Client
from openras.errors import ERROR_INVALID_HANDLE
from openras.links.rtnl import NewWireGuardInterface, Rtnl
from openras.links.wireguard.dump import parse_dump
from openras.links.wireguard.genl import (
    DeviceSettings,
    PeerSettings,
    WgNetlink,
    key_bytes,
    parse_endpoint,
    set_requests,
)
from openras.states import RasConnState

pytestmark = pytest.mark.vm

SUBNET = "10.236.41"
SERVER_IP, CLIENT_IP = f"{SUBNET}.1", f"{SUBNET}.2"
PORT = 51820
ENTRY = "Office WG"


def _wg(*args: str, data: str | None = None) -> str:
    return subprocess.run(
        ["wg", *args], input=data, capture_output=True, text=True, check=True, timeout=20
    ).stdout.strip()


def keypair() -> tuple[str, str]:
    private = _wg("genkey")
    return private, _wg("pubkey", data=private + "\n")


def kernel_peer(lab: NetnsLab, ns: str, tmp: Path, client_pub: str) -> str:
    """A kernel WireGuard server in ``ns`` that knows ``client_pub``; its public key."""
    private, public = keypair()
    keyfile = tmp / "server.key"
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, private.encode())
    os.close(fd)
    lab.run(ns, ["ip", "link", "add", "wgsrv", "type", "wireguard"])
    lab.run(ns, ["wg", "set", "wgsrv", "listen-port", str(PORT), "private-key", str(keyfile),
                 "peer", client_pub, "allowed-ips", f"{CLIENT_IP}/32"])  # fmt: skip
    lab.run(ns, ["ip", "address", "add", f"{SERVER_IP}/24", "dev", "wgsrv"])
    lab.run(ns, ["ip", "link", "set", "wgsrv", "up"])
    return public


def live_pids(ns: str) -> set[int]:
    return {p for p in pids_in_netns(ns) if pid_alive(p)}


def test_kernel_wireguard_full_tunnel_dial_ping_hang_up(
    lab: NetnsLab, pair: NsPair, rasman: NsRasman, api: None, tmp_path: Path
) -> None:
    require_programs("wg", "ping")
    cpriv, cpub = keypair()
    server_pub = kernel_peer(lab, pair.a, tmp_path, cpub)
    conf = tmp_path / "office.conf"
    conf.write_text(
        f"[Interface]\nPrivateKey = {cpriv}\nAddress = {CLIENT_IP}/24\n\n"
        f"[Peer]\nPublicKey = {server_pub}\nEndpoint = {pair.addr_a}:{PORT}\n"
        "AllowedIPs = 0.0.0.0/0\n"
    )
    conf.chmod(0o600)
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        f"[{ENTRY}]\nEncoding=1\nType=2\nOpenRasDevice=wireguard\n"
        f"OpenRasWireGuardConfig={conf.name}\nOpenRasDialTimeoutMs=30000\n"
    )
    rules_before = rules(pair.b)
    assert live_pids(pair.b) == {rasman.proc.pid}, "B runs nothing but rasman before the dial"

    t0 = time.monotonic()
    code, h = rasapi.RasDial(None, str(pbk), rasapi.RASDIALPARAMS(szEntryName=ENTRY))
    dial_s = time.monotonic() - t0
    assert code == 0, rasapi.RasGetErrorString(code)
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None
    assert status.rasconnstate == RasConnState.Connected

    with Client(rasman.socket, autostart=False, timeout=60) as ras:
        proj = ras.projection(h)
    ifname = proj.interface
    assert proj.extra["implementation"] == "kernel", proj.extra
    assert proj.local_address == CLIENT_IP
    (link,) = ip_json(pair.b, "-d", "link", "show", "dev", ifname)
    assert link["linkinfo"]["info_kind"] == "wireguard"  # a kernel interface, not a tun
    assert link_pids(list(live_pids(pair.b)), "wireguard-go", ifname) == []
    assert len(rules(pair.b)) > len(rules_before), "a full tunnel adds policy rules"

    assert lab.ping(pair.b, SERVER_IP, count=3, wait=5)
    handshakes = lab.run(pair.a, ["wg", "show", "wgsrv", "latest-handshakes"]).stdout.split()
    assert handshakes[0] == cpub and int(handshakes[1]) > 0

    # rasman crashes: a kernel link has no process to outlive it, only the interface; the
    # next rasman adopts it from its record (same handle, still Connected, still carrying).
    restart_s = crash_and_restart(lab, pair, rasman)
    assert lab.ping(pair.b, SERVER_IP, count=1, wait=5)
    code, status = rasapi.RasGetConnectStatus(h)
    assert code == 0 and status is not None
    assert status.rasconnstate == RasConnState.Connected
    code, stats = rasapi.RasGetConnectionStatistics(h)
    assert code == 0 and stats is not None
    assert stats.dwBytesRcved > 0 and stats.dwBytesXmited > 0

    t1 = time.monotonic()
    assert rasapi.RasHangUp(h) == 0
    deadline = time.monotonic() + 60
    while (code := rasapi.RasGetConnectStatus(h)[0]) != ERROR_INVALID_HANDLE:
        assert code == 0, code
        assert time.monotonic() < deadline, "status never answered 6"
        time.sleep(0.05)
    hangup_s = time.monotonic() - t1

    # The promise behind 6: nothing of the link is left.
    assert ifname not in lab.links(pair.b)
    assert rules(pair.b) == rules_before
    assert routes_via(pair.b, ifname) == []
    assert live_pids(pair.b) == {rasman.proc.pid}  # the new rasman, and no helper of the link
    run_dir = rasman.state_dir / "links" / f"link-{h}"
    assert not run_dir.exists() or list(run_dir.iterdir()) == []
    print(
        f"\nkernel wireguard via rasman: dial {dial_s:.2f} s, rasman restart and adoption "
        f"{restart_s:.1f} s, hang-up until 6 {hangup_s:.2f} s"
    )


def test_genl_configures_and_reads_the_kernel_module_as_wg_does(
    lab: NetnsLab, pair: NsPair
) -> None:
    """The driver's in-process WireGuard netlink against the real module, with ``wg`` as the
    judge: a configuration too large for one request (3,000 allowed IPs) set by
    ``WgNetlink.set_device`` reads back through ``wg show IF dump`` exactly as given, and
    ``WgNetlink.device`` reads the same as ``wg show IF dump`` (peer order, keys, endpoints,
    allowed IPs, keepalive, fwmark), without the private key. An update of one peer touches
    only its keepalive."""
    require_programs("wg")
    ifname = "orwgtgenl"
    priv, pub = keypair()
    peers = [keypair()[1] for _ in range(3)]
    psk = _wg("genpsk")
    many = tuple(ipaddress.ip_network(f"10.{i // 250}.{i % 250}.0/24") for i in range(3000))
    settings = DeviceSettings(
        private_key=key_bytes(priv),
        listen_port=51999,
        fwmark=0x6F720001,
        replace_peers=True,
        peers=(
            PeerSettings(key_bytes(peers[0]), preshared_key=key_bytes(psk),
                         endpoint=parse_endpoint("192.0.2.9:51820"), persistent_keepalive=25,
                         allowed_ips=(ipaddress.ip_network("10.250.0.0/24"),
                                      ipaddress.ip_network("fd00:1::/64"))),
            PeerSettings(key_bytes(peers[1]), endpoint=parse_endpoint("[2001:db8::9]:4500"),
                         allowed_ips=many),
            PeerSettings(key_bytes(peers[2])),
        ),
    )  # fmt: skip
    assert len(set_requests(ifname, settings)) > 1, "the test must cover a split request"
    with lab.inside(pair.b):
        with Rtnl() as rtnl:
            rtnl.apply([NewWireGuardInterface(ifname)])
        try:
            with WgNetlink() as genl:
                genl.set_device(ifname, settings)
                ours = genl.device(ifname)
            judged = parse_dump(lab.run(pair.b, ["wg", "show", ifname, "dump"]).stdout)
            assert ours == judged
            assert ours.interface is not None and ours.interface.public_key == pub
            assert ours.interface.listen_port == 51999 and ours.interface.fwmark == 0x6F720001
            first, second, third = ours.peers
            assert (first.public_key, first.endpoint, first.persistent_keepalive) == (
                peers[0], "192.0.2.9:51820", 25,
            )  # fmt: skip
            assert first.has_preshared_key and first.allowed_ips == ("10.250.0.0/24", "fd00:1::/64")
            assert second.endpoint == "[2001:db8::9]:4500"
            assert sorted(second.allowed_ips) == sorted(str(n) for n in many)
            assert third.allowed_ips == () and third.endpoint is None
            assert priv not in repr(ours)

            update = PeerSettings(key_bytes(peers[0]), persistent_keepalive=0,
                                  replace_allowed_ips=False, update_only=True)  # fmt: skip
            with WgNetlink() as genl:
                genl.set_device(ifname, DeviceSettings(peers=(update,)))
                again = genl.device(ifname)
            assert again.peers[0].persistent_keepalive is None
            assert again.peers[0].allowed_ips == first.allowed_ips
            assert again.peers[1:] == ours.peers[1:]
        finally:
            with Rtnl() as rtnl:
                rtnl.delete_link(ifname)
    assert ifname not in lab.links(pair.b)
