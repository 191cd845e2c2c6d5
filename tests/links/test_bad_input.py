"""Bad input through a real rasman in namespace B: a link program that is not installed and
an ssh server nobody answers for. Each is a clear RAS code at dial time with nothing left
running. "Not installed" is played with ``OPENRAS_LINK_PATH`` (where the daemon looks for
link programs) pointing at a directory without the program: no system binary is touched.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _linkkit import NsRasman, link_pids
from netns import NetnsLab, NsPair, pids_in_netns, require_programs
from ovpn_lab import PASSWORD, USER, OvpnServer, client_profile, make_pki

from openras.client import Client
from openras.errors import ERROR_CONNECTING_DEVICE_NOT_FOUND, ERROR_VPN_TIMEOUT, RasError
from openras.links._common import PROGRAM_PATH_ENV

pytestmark = [pytest.mark.netns, pytest.mark.root]


def _wg_key() -> str:
    return subprocess.run(
        ["wg", "genkey"], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def _phonebook(d: Path, pair: NsPair) -> Path:
    """One entry per driver, each valid apart from what the test takes away."""
    pki = make_pki(d / "pki")
    server = OvpnServer(pair, d / "server", tunnel_net="10.236.0")  # never started
    client_profile(d, server, pki)
    wg = d / "wg.conf"
    wg.write_text(
        f"[Interface]\nPrivateKey = {_wg_key()}\nAddress = 10.236.1.2/24\n\n"
        f"[Peer]\nPublicKey = {_wg_key()}\nEndpoint = {pair.addr_a}:51820\n"
        "AllowedIPs = 10.236.1.0/24\n"
    )
    wg.chmod(0o600)
    pbk = d / "rasphone.pbk"
    pbk.write_text(
        "[VPN]\nOpenRasDevice=openvpn\nOpenRasOpenVpnProfile=client.ovpn\n"
        f"PhoneNumber={pair.addr_a}\n\n"
        "[WG]\nOpenRasDevice=wireguard\nOpenRasWireGuardConfig=wg.conf\n\n"
        f"[SSH]\nOpenRasDevice=ssh\nPhoneNumber=root@{pair.addr_a}:2222\n"
        "OpenRasSshSocksPort=21999\n"
    )
    return pbk


def _nothing_of_ours_runs(ns: str) -> bool:
    pids = pids_in_netns(ns)
    return not any(
        link_pids(pids, prog, arg)
        for prog, arg in (("openvpn", "--management"), ("wireguard-go", "-f"), ("ssh", "-M"))
    )


def test_missing_link_programs_are_797_at_dial_time(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, rasman_b: Callable[..., NsRasman]
) -> None:
    require_programs("openvpn", "openssl", "wg", "wireguard-go", "ssh")  # wg: the test's keys
    pbk = _phonebook(tmp_path, netns_pair)
    empty = tmp_path / "no-programs"
    empty.mkdir()
    # The daemon needs no wg (it speaks the kernel's netlink and wireguard-go's socket
    # itself); this kernel has no WireGuard, so the WireGuard entry needs wireguard-go.
    rm = rasman_b({PROGRAM_PATH_ENV: str(empty)})
    with Client(rm.socket, autostart=False, timeout=20) as ras:
        for entry, program in (("VPN", "openvpn"), ("WG", "wireguard-go"), ("SSH", "ssh")):
            t0 = time.monotonic()
            with pytest.raises(RasError) as info:
                ras.dial(entry, pbk, user=USER, password=PASSWORD)
            assert info.value.code == ERROR_CONNECTING_DEVICE_NOT_FOUND, (entry, info.value)
            assert f"{program} is not installed" in str(info.value.detail), info.value
            assert str(empty) in str(info.value.detail)
            assert time.monotonic() - t0 < 2
            assert info.value.handle == 0  # refused before a connection existed
        assert ras.connections(include_pending=True) == []
    assert _nothing_of_ours_runs(netns_pair.b)
    assert not [n for n in netns_lab.links(netns_pair.b) if n.startswith("orwg")]
    assert not any(os.scandir(rm.state_dir / "links"))


def test_unreachable_ssh_server_is_809_in_bounded_time(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, rasman_b: Callable[..., NsRasman]
) -> None:
    """The server's address is routed to A, which drops it (no forwarding, no ICMP): the
    SYN goes unanswered and the dial timeout ends the attempt."""
    require_programs("ssh")
    netns_lab.run(netns_pair.b, ["ip", "route", "add", "10.237.0.0/24", "via", netns_pair.addr_a])
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        "[Far]\nOpenRasDevice=ssh\nPhoneNumber=root@10.237.0.9:22\nOpenRasSshSocksPort=21998\n"
        f"OpenRasSshKnownHosts={kh}\nOpenRasDialTimeoutMs=1500\n"
    )
    rm = rasman_b()
    with Client(rm.socket, autostart=False, timeout=20) as ras:
        t0 = time.monotonic()
        with pytest.raises(RasError) as info:
            ras.dial("Far", pbk)
        took = time.monotonic() - t0
        assert info.value.code == ERROR_VPN_TIMEOUT, info.value
        assert 1.4 < took < 4, took
        ras.hang_up(info.value.handle, wait=True, timeout=15)
    assert _nothing_of_ours_runs(netns_pair.b)
    assert "attempt failed: not connected within 1.5 s" in rm.log.read_text()
