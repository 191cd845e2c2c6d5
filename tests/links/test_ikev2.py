"""IKEv2 end to end: a Windows 10 export dials through rasman into a strongSwan responder.

The responder (``swan_lab``) runs in namespace A with a test CA's server certificate and
EAP-MSCHAPv2 users; rasman runs in B and dials the entry exactly as Windows exports it (no
``OpenRas*`` key: the daemon is started with the test CA as its CA store, as an
administrator's machine has its company's CA). The data path is charon's kernel-libipsec
(this kernel has no ESP): ESP in UDP over a TUN device.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from _linkkit import Events, check_redial, rules, wait_reconnected
from netns import NetnsLab, NsPair, require_programs, wait_until
from rasman_ns import Daemon, program_pids, rasman_in
from swan_lab import PASSWORD, PSK, USER, USER2, SwanServer, make_ca, windows_entry

from openras import errors, rasapi
from openras.links.rtnl import DAEMON_TABLES
from openras.states import RasConnState

pytestmark = [pytest.mark.netns, pytest.mark.root, pytest.mark.timeout(90)]

ENTRY = "Contoso VPN"


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> tuple[tuple[Path, Path], tuple[Path, Path]]:
    """(the server's CA, a CA nobody uses)."""
    require_programs("pki", "swanctl", "unshare", "ping")
    if not Path("/usr/lib/ipsec/charon").exists():
        pytest.skip("strongSwan's charon is not installed")
    d = tmp_path_factory.mktemp("ikev2-pki")
    return make_ca(d / "ca"), make_ca(d / "other", "some other CA")


@pytest.fixture
def server(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, cas: tuple[tuple[Path, Path], ...]
) -> SwanServer:
    third = netns_pair.addr_a.split(".")[2]
    srv = SwanServer(netns_pair, tmp_path / "responder", pool=f"10.97.{third}.0/28",
                     inside=f"10.96.{third}.1")  # fmt: skip
    srv.start(netns_lab, cas[0])
    return srv


@pytest.fixture
def daemon(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, cas: tuple[tuple[Path, Path], ...]
) -> Iterator[Daemon]:
    with rasman_in(netns_lab, netns_pair.b, tmp_path, OPENRAS_CA_BUNDLE=str(cas[0][0])) as d:
        yield d


def phonebook(tmp_path: Path, server: SwanServer, **extra: str) -> Path:
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(windows_entry(ENTRY, server.pair.addr_a, **extra), encoding="utf-8")
    return pbk


def charons(ns: str) -> list[int]:
    return program_pids(ns, "charon")


def daemon_rules(ns: str) -> list[object]:
    return [
        r for r in rules(ns) if r.get("table", "").isdigit() and int(r["table"]) in DAEMON_TABLES
    ]


def test_windows_export_dials_pings_reports_and_hangs_up(
    daemon: Daemon,
    netns_lab: NetnsLab,
    netns_pair: NsPair,
    server: SwanServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENRAS_SOCKET", str(daemon.socket))  # for the Win32-shaped API
    pbk = phonebook(tmp_path, server)
    seen: list[RasConnState] = []
    resolv_before = Path("/etc/resolv.conf").read_bytes()
    with daemon.client() as c:
        t0 = time.monotonic()
        conn = c.dial(ENTRY, pbk, user=USER, password=PASSWORD,
                      on_state=lambda ev: seen.append(ev.state))  # fmt: skip
        print(f"rasman ikev2 dial: {(time.monotonic() - t0) * 1000:.0f} ms, "
              f"states {[s.name for s in seen]}")  # fmt: skip
        for state in (RasConnState.ConnectDevice, RasConnState.Authenticate,
                      RasConnState.Authenticated, RasConnState.Connected):  # fmt: skip
            assert state in seen
        st = conn.status()
        assert st.state is RasConnState.Connected
        assert (st.device_type, st.device_name) == ("vpn", "WAN Miniport (IKEv2)")
        [charon] = charons(netns_pair.b)
        assert netns_lab.ping(netns_pair.b, server.inside, count=2)
        proj = conn.projection()
        tun = proj.interface
        assert tun.startswith("ipsec") and tun in netns_lab.links(netns_pair.b)
        assert proj.local_address.startswith(server.pool.rsplit(".", 1)[0] + ".")
        assert proj.remote_address == server.pair.addr_a and proj.dns == (server.dns,)
        # The DNS server is reported; the machine's resolv.conf is the daemon's to change
        # (not at all here: tests run it with no DNS backend), never charon's.
        assert Path("/etc/resolv.conf").read_bytes() == resolv_before
        assert proj.extra["auth_protocol"] == "EAP" and proj.extra["eap_type"] == "26"
        stats = conn.statistics()
        assert stats.bytes_sent > 0 and stats.frames_received >= 2
        code, info = rasapi.RasGetProjectionInfoEx(conn.handle)
        assert code == 0 and info is not None and info.ikev2 is not None
        assert info.ikev2.ipv4Address == proj.local_address
        assert (info.ikev2.dwAuthenticationProtocol, info.ikev2.dwEapTypeId) == (2, 26)  # EAP
        assert info.ikev2.dwFlags & 1  # RASIKEv2_FLAGS_MOBIKESUPPORTED
        assert len(daemon_rules(netns_pair.b)) == 1  # charon's rule, in the link's own table
        run_dirs = list((daemon.state_dir / "links").iterdir()) if (
            daemon.state_dir / "links").exists() else []  # fmt: skip
        t0 = time.monotonic()
        conn.hang_up(wait=True, timeout=15)
        print(f"rasman ikev2 hang-up until 6: {(time.monotonic() - t0) * 1000:.0f} ms")
        with pytest.raises(errors.InvalidHandle):
            c.status(conn.handle)
    # 6 means nothing is left: charon, its TUN, its rule and table, the run directory.
    assert not psutil.pid_exists(charon) or psutil.Process(charon).status() == "zombie"
    assert tun not in netns_lab.links(netns_pair.b)
    assert daemon_rules(netns_pair.b) == []
    assert all(not d.exists() for d in run_dirs)
    assert not netns_lab.ping(netns_pair.b, server.inside)


def test_wrong_password_is_691_and_leaves_nothing(
    daemon: Daemon, netns_pair: NsPair, server: SwanServer, tmp_path: Path
) -> None:
    pbk = phonebook(tmp_path, server)
    with daemon.client() as c:
        with pytest.raises(errors.RasError) as info:
            c.dial(ENTRY, pbk, user=USER, password="not the password")
        assert info.value.code == errors.ERROR_AUTHENTICATION_FAILURE, info.value
        assert info.value.handle > 0  # a failed dial still has a handle to hang up
        c.hang_up(info.value.handle, wait=True, timeout=15)
    assert wait_until(lambda: not charons(netns_pair.b), 5)
    assert daemon_rules(netns_pair.b) == []


def test_server_certificate_from_an_unknown_ca_is_13801(
    daemon: Daemon, server: SwanServer, tmp_path: Path, cas: tuple[tuple[Path, Path], ...]
) -> None:
    pbk = phonebook(tmp_path, server, OpenRasIkev2Ca=str(cas[1][0]))
    with daemon.client() as c:
        with pytest.raises(errors.RasError) as info:
            c.dial(ENTRY, pbk, user=USER, password=PASSWORD)
        assert info.value.code == errors.ERROR_IPSEC_IKE_AUTH_FAIL, info.value
        assert "public key" in str(info.value) or "issuer" in str(info.value)
        c.hang_up(info.value.handle, wait=True, timeout=15)


def test_preshared_key_entry(
    daemon: Daemon, netns_lab: NetnsLab, server: SwanServer, tmp_path: Path
) -> None:
    """RASEO2_UsePreSharedKeyForIkev2Initiator (RasSetEntryProperties keeps Options2): the
    dial's password is the key; a wrong key is refused."""
    pbk = phonebook(tmp_path, server, OpenRasOptions2=str(0x800000), IpPrioritizeRemote="0")
    with daemon.client() as c:
        conn = c.dial(ENTRY, pbk, user="", password=PSK)
        assert conn.projection().extra["auth_protocol"] == "PSK"
        assert netns_lab.ping(server.pair.b, server.inside)
        conn.hang_up(wait=True, timeout=15)
        with pytest.raises(errors.RasError) as info:
            c.dial(ENTRY, pbk, user="", password="not the key")
        assert info.value.code == errors.ERROR_IPSEC_IKE_AUTH_FAIL, info.value
        c.hang_up(info.value.handle, wait=True, timeout=15)


def test_responder_down_is_809_within_the_dial_timeout(
    daemon: Daemon, server: SwanServer, tmp_path: Path
) -> None:
    server.kill()
    pbk = phonebook(tmp_path, server, OpenRasDialTimeoutMs="3000")
    with daemon.client() as c:
        t0 = time.monotonic()
        with pytest.raises(errors.RasError) as info:
            c.dial(ENTRY, pbk, user=USER, password=PASSWORD)
        elapsed = time.monotonic() - t0
        assert info.value.code == errors.ERROR_VPN_TIMEOUT, info.value
        assert elapsed < 3 + 2, elapsed
        c.hang_up(info.value.handle, wait=True, timeout=15)


def test_responder_killed_while_connected_drops_and_redials(
    daemon: Daemon, netns_lab: NetnsLab, server: SwanServer, tmp_path: Path
) -> None:
    pbk = phonebook(tmp_path, server, OpenRasIkev2DpdSeconds="1", RedialSeconds="1",
                    RedialAttempts="5", OpenRasDialTimeoutMs="3000")  # fmt: skip
    with daemon.client() as c:
        handle = c.dial(ENTRY, pbk, user=USER, password=PASSWORD).handle
    events = Events(daemon.socket)
    try:
        server.kill()  # no DELETE: dead peer detection finds it (829), redials fail (809)
        check_redial(events, handle, drop={errors.ERROR_LINK_FAILURE},
                     down={errors.ERROR_VPN_TIMEOUT}, timeout=30)  # fmt: skip
        server.launch(netns_lab)
        wait_reconnected(events, handle, 30)
    finally:
        events.close()
    assert netns_lab.ping(server.pair.b, server.inside)


def test_rasman_killed_while_connected_adopts_the_link(
    daemon: Daemon, netns_lab: NetnsLab, netns_pair: NsPair, server: SwanServer, tmp_path: Path
) -> None:
    pbk = phonebook(tmp_path, server)
    with daemon.client() as c:
        conn = c.dial(ENTRY, pbk, user=USER, password=PASSWORD)
        handle, dns = conn.handle, conn.projection().dns
    [charon] = charons(netns_pair.b)
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(5)
    assert psutil.pid_exists(charon), "the link outlives the daemon"
    assert netns_lab.ping(netns_pair.b, server.inside)
    daemon.start()
    with daemon.client() as c:
        st = c.status(handle)
        assert st.state is RasConnState.Connected, st
        assert c.projection(handle).dns == dns  # the facts found again
        assert c.statistics(handle).bytes_sent > 0
        c.hang_up(handle, wait=True, timeout=15)
    assert wait_until(lambda: not charons(netns_pair.b), 5)
    assert daemon_rules(netns_pair.b) == []


def test_mobike_follows_the_tunnel_to_a_new_local_address(
    daemon: Daemon,
    netns_lab: NetnsLab,
    netns_pair: NsPair,
    server: SwanServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The address the tunnel leaves from goes away (a laptop moving from Wi-Fi to cable):
    charon moves the SAs with MOBIKE, traffic keeps crossing, and RASCONNSTATUS's
    localEndPoint says where from now (from charon's ``ike-update`` event)."""
    monkeypatch.setenv("OPENRAS_SOCKET", str(daemon.socket))
    pair = netns_pair
    third = pair.addr_a.split(".")[2]
    new_a, new_b = f"10.98.{third}.1", f"10.98.{third}.2"
    with daemon.client() as c:
        conn = c.dial(ENTRY, phonebook(tmp_path, server), user=USER, password=PASSWORD)

        def endpoints() -> tuple[str, str]:
            code, st = rasapi.RasGetConnectStatus(conn.handle)
            assert code == 0 and st is not None, code
            assert st.rasconnstate == RasConnState.Connected
            return st.localEndPoint.ipv4, st.remoteEndPoint.ipv4

        assert endpoints() == (pair.addr_b, pair.addr_a)
        netns_lab.run(pair.a, ["ip", "addr", "add", f"{new_a}/24", "dev", pair.if_a])
        netns_lab.run(pair.b, ["ip", "addr", "add", f"{new_b}/24", "dev", pair.if_b])
        netns_lab.run(pair.b, ["ip", "route", "add", f"{pair.addr_a}/32", "dev", pair.if_b,
                               "src", new_b])  # fmt: skip
        netns_lab.run(pair.b, ["ip", "addr", "del", f"{pair.addr_b}/{pair.prefix}",
                               "dev", pair.if_b])  # fmt: skip
        assert wait_until(lambda: endpoints() == (new_b, pair.addr_a), 20), endpoints()
        assert netns_lab.ping(pair.b, server.inside, count=2)
        assert "requesting address change using MOBIKE" in _charon_log(daemon)
        conn.hang_up(wait=True, timeout=15)
    assert wait_until(lambda: not charons(pair.b), 5)


def _charon_log(daemon: Daemon) -> str:
    """The link's charon log (its run directory is the only one while it is up)."""
    logs = list((daemon.state_dir / "links").glob("*/charon.log"))
    return "".join(p.read_text(errors="replace") for p in logs)


def test_two_links_each_with_its_charon_tun_and_table(
    daemon: Daemon, netns_lab: NetnsLab, netns_pair: NsPair, server: SwanServer, tmp_path: Path
) -> None:
    """Two IKEv2 links at once (random local ports: no fight over UDP 500/4500); hanging up
    one leaves the other carrying traffic."""
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        windows_entry("First", server.pair.addr_a)
        + windows_entry("Second", server.pair.addr_a, IpPrioritizeRemote="0"),
        encoding="utf-8",
    )
    with daemon.client() as c:
        first = c.dial("First", pbk, user=USER, password=PASSWORD)
        second = c.dial("Second", pbk, user=USER2, password=PASSWORD)
        p1, p2 = first.projection(), second.projection()
        assert p1.interface != p2.interface and p1.local_address != p2.local_address
        assert len(charons(netns_pair.b)) == 2 and len(daemon_rules(netns_pair.b)) == 2
        first.hang_up(wait=True, timeout=15)
        assert p1.interface not in netns_lab.links(netns_pair.b)
        assert second.status().state is RasConnState.Connected
        # The split-tunnel link routes the virtual IP's class network (the server offers
        # everything), which holds the inside address.
        assert netns_lab.ping(netns_pair.b, server.inside)
        second.hang_up(wait=True, timeout=15)
    assert charons(netns_pair.b) == [] and daemon_rules(netns_pair.b) == []
