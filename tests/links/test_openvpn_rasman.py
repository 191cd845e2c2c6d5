"""OpenVPN end to end through the daemon: rasman runs in the client namespace, a test dials
through the client library from outside (the socket is a path, reachable from anywhere)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from _linkkit import Events, check_redial, wait_reconnected
from netns import NetnsLab, NsPair, require_programs, wait_until
from ovpn_lab import PASSWORD, USER, OvpnServer, client_profile, make_pki
from rasman_ns import Daemon, program_pids, rasman_in

from openras import errors
from openras.states import RasConnState

pytestmark = [pytest.mark.netns, pytest.mark.root, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_programs("openvpn", "openssl", "ping")
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def daemon(netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path) -> Iterator[Daemon]:
    with rasman_in(netns_lab, netns_pair.b, tmp_path) as d:
        yield d


def openvpn_pids(ns: str) -> list[int]:
    return program_pids(ns, "openvpn")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def write_phonebook(d: Path, server: OvpnServer) -> Path:
    pbk = d / "rasphone.pbk"
    pbk.write_text(
        "[Lab VPN]\nEncoding=1\nType=2\n"
        f"PhoneNumber={server.pair.addr_a}\n"
        "OpenRasDevice=openvpn\nOpenRasOpenVpnProfile=client.ovpn\nOpenRasDialTimeoutMs=10000\n"
    )
    return pbk


@pytest.fixture
def lab_vpn(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, pki: Path
) -> tuple[OvpnServer, Path]:
    d = tmp_path / "server"
    d.mkdir()
    server = OvpnServer(netns_pair, d, tunnel_net=f"10.232.{netns_pair.addr_a.split('.')[2]}")
    server.start(netns_lab, pki)
    # The profile names a wrong host: the entry's PhoneNumber must win.
    profile = client_profile(tmp_path, server, pki)
    profile.write_text(
        profile.read_text().replace(f"remote {server.pair.addr_a}", "remote 192.0.2.1")
    )
    return server, write_phonebook(tmp_path, server)


def test_dial_ping_hang_up_through_rasman(
    daemon: Daemon, netns_lab: NetnsLab, netns_pair: NsPair, lab_vpn: tuple[OvpnServer, Path]
) -> None:
    server, pbk = lab_vpn
    seen: list[RasConnState] = []
    with daemon.client() as c:
        t0 = time.monotonic()
        conn = c.dial("Lab VPN", pbk, user=USER, password=PASSWORD,
                      on_state=lambda ev: seen.append(ev.state))  # fmt: skip
        dial_ms = (time.monotonic() - t0) * 1000
        print(f"rasman openvpn dial: {dial_ms:.0f} ms, states {[s.name for s in seen]}")
        st = conn.status()
        assert st.state is RasConnState.Connected and st.device_name == "OpenVPN"
        assert RasConnState.Authenticate in seen
        [pid] = openvpn_pids(netns_pair.b)
        assert netns_lab.ping(netns_pair.b, server.tunnel_ip)
        stats = conn.statistics()
        assert stats.bytes_sent > 0 and stats.frames_received > 0
        proj = conn.projection()
        assert proj.remote_address == server.tunnel_ip and proj.dns == (server.pushed_dns,)
        ifname = proj.interface
        assert ifname in netns_lab.links(netns_pair.b)
        t0 = time.monotonic()
        conn.hang_up(wait=True, timeout=15)
        print(
            f"rasman openvpn hang-up until status answers 6: {(time.monotonic() - t0) * 1000:.0f} ms"
        )
        with pytest.raises(errors.InvalidHandle):
            c.status(conn.handle)
        # The promise of 6: nothing of the link is left.
        assert gone(pid)
        assert ifname not in netns_lab.links(netns_pair.b)


def test_wrong_password_through_rasman(
    daemon: Daemon, netns_pair: NsPair, lab_vpn: tuple[OvpnServer, Path]
) -> None:
    _, pbk = lab_vpn
    with daemon.client() as c:
        with pytest.raises(errors.RasError) as info:
            c.dial("Lab VPN", pbk, user=USER, password="nope")
        assert info.value.code == errors.ERROR_AUTHENTICATION_FAILURE
        assert info.value.handle > 0
        c.hang_up(info.value.handle, wait=True, timeout=15)
        assert wait_until(lambda: not openvpn_pids(netns_pair.b), 5)


def test_rasman_crash_adopts_openvpn(
    daemon: Daemon, netns_lab: NetnsLab, netns_pair: NsPair, lab_vpn: tuple[OvpnServer, Path]
) -> None:
    server, pbk = lab_vpn
    with daemon.client() as c:
        conn = c.dial("Lab VPN", pbk, user=USER, password=PASSWORD)
        handle = conn.handle
    [pid] = openvpn_pids(netns_pair.b)
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(5)
    assert not gone(pid), "the link must outlive the daemon"
    assert netns_lab.ping(netns_pair.b, server.tunnel_ip)
    daemon.start()
    with daemon.client() as c:
        st = c.status(handle)
        assert st.state is RasConnState.Connected, st
        assert c.projection(handle).remote_address == server.tunnel_ip
        c.hang_up(handle, wait=True, timeout=15)
        with pytest.raises(errors.InvalidHandle):
            c.status(handle)
    assert gone(pid)


@pytest.mark.parametrize("crash_first", [False, True], ids=["same-daemon", "after-adoption"])
def test_redial_after_the_server_dies(
    daemon: Daemon, netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, pki: Path,
    crash_first: bool,
) -> None:  # fmt: skip
    """RedialOnLinkFailure through rasman: the server is SIGKILLed (a drop, 829), the redial
    into the dead server fails (808/809) and is retried, and once the server is back the same
    handle is Connected again and carries a ping. After adoption (the daemon was SIGKILLed
    and restarted in between) the redial still answers openvpn's password request with the
    dial's credentials, which the restarted daemon kept."""
    d = tmp_path / "server"
    d.mkdir()
    server = OvpnServer(netns_pair, d, tunnel_net=f"10.232.{netns_pair.addr_a.split('.')[2]}")
    server.start(netns_lab, pki, keepalive=(1, 3))
    client_profile(tmp_path, server, pki)
    pbk = write_phonebook(tmp_path, server)
    pbk.write_text(
        pbk.read_text().replace("OpenRasDialTimeoutMs=10000", "OpenRasDialTimeoutMs=3000")
        + "RedialOnLinkFailure=1\nRedialAttempts=4\nRedialSeconds=0\n"
    )
    with daemon.client() as c:
        handle = c.dial("Lab VPN", pbk, user=USER, password=PASSWORD).handle
    [first_pid] = openvpn_pids(netns_pair.b)
    if crash_first:
        assert daemon.proc is not None
        daemon.proc.kill()
        daemon.proc.wait(5)
        daemon.start()
    events = Events(daemon.socket)
    try:
        with daemon.client() as c:
            assert c.status(handle).state is RasConnState.Connected
            assert netns_lab.ping(netns_pair.b, server.tunnel_ip)
            assert server.proc is not None
            server.proc.kill()  # by its pid: the server vanishes without a word
            server.proc.wait(5)
            check_redial(events, handle, drop={829}, down={808, 809}, timeout=20)
            assert gone(first_pid)
            server.log.unlink()  # start() waits for a fresh "Initialization Sequence Completed"
            server.start(netns_lab, pki, keepalive=(1, 3))
            wait_reconnected(events, handle, 20)
            assert c.status(handle).state is RasConnState.Connected
            assert wait_until(lambda: netns_lab.ping(netns_pair.b, server.tunnel_ip), 5)
            [second_pid] = openvpn_pids(netns_pair.b)
            assert second_pid != first_pid
            assert not [e for e in events.items if e["event"] == "created"]  # the same connection
            history = [(r.redialing, r.error) for r in c.history() if r.handle == handle]
            assert (True, 829) in history
            assert "link dropped: openvpn restarted: ping-restart" in daemon.log.read_text()
            c.hang_up(handle, wait=True, timeout=15)
        assert gone(second_pid)
    finally:
        events.close()


def test_an_imported_provider_profile_dials(
    daemon: Daemon, netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, pki: Path
) -> None:
    """A provider's export (setenv, up/down scripts, Windows switches, files beside it)
    goes through `openras entry import` as a person would, then dials and pings."""
    d = tmp_path / "server"
    d.mkdir()
    server = OvpnServer(netns_pair, d, tunnel_net=f"10.233.{netns_pair.addr_a.split('.')[2]}")
    server.start(netns_lab, pki)
    download = tmp_path / "Downloads"
    download.mkdir()
    extra = (
        "persist-tun\nsetenv CLIENT_CERT 0\nscript-security 2\n"
        "up /etc/openvpn/update-resolv-conf\ndown /etc/openvpn/update-resolv-conf\n"
        "block-outside-dns\n"
    )
    profile = client_profile(download, server, pki, extra=extra)
    profile.rename(download / "provider-lab.ovpn")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out = subprocess.run(
        [sys.executable, "-m", "openras.cli.openras", "entry", "import",
         str(download / "provider-lab.ovpn")],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "dropped" in out.stdout and "ca.crt copied into the profile" in out.stdout
    book = tmp_path / "config" / "openras" / "rasphone.pbk"
    shutil.rmtree(download)  # the entry no longer needs anything from where it came
    with daemon.client() as c:
        conn = c.dial("provider-lab", book, user=USER, password=PASSWORD)
        assert netns_lab.ping(netns_pair.b, server.tunnel_ip)
        conn.hang_up(wait=True, timeout=15)


def test_credentials_from_the_profiles_file_or_a_clear_refusal_at_once(
    daemon: Daemon, netns_lab: NetnsLab, netns_pair: NsPair, lab_vpn: tuple[OvpnServer, Path]
) -> None:
    """No password anywhere: 691 before anything starts, saying what to do (it used to be
    809 after the dial timeout). ``auth-user-pass FILE``: read as the owner, and used."""
    server, pbk = lab_vpn
    with daemon.client() as c:
        t0 = time.monotonic()
        with pytest.raises(errors.AuthenticationFailure) as info:
            c.dial("Lab VPN", pbk)
        assert time.monotonic() - t0 < 2.0
        assert info.value.handle == 0 and "openras creds set" in (info.value.detail or "")
        profile = pbk.parent / "client.ovpn"
        (pbk.parent / "creds.txt").write_text(f"{USER}\n{PASSWORD}\n")
        profile.write_text(
            profile.read_text().replace("auth-user-pass\n", "auth-user-pass creds.txt\n")
        )
        conn = c.dial("Lab VPN", pbk)
        assert netns_lab.ping(netns_pair.b, server.tunnel_ip)
        [pid] = openvpn_pids(netns_pair.b)
        assert PASSWORD not in " ".join(psutil.Process(pid).cmdline())
        conn.hang_up(wait=True, timeout=15)


@pytest.mark.parametrize(
    ("number", "code"),
    [("{addr} 1199", 808), ("no-such-host.invalid", 868)],
    ids=["refused-port", "unresolvable"],
)
def test_a_dial_that_cannot_work_fails_at_once(
    daemon: Daemon, lab_vpn: tuple[OvpnServer, Path], number: str, code: int
) -> None:
    """A refused port or a name that does not resolve is known in milliseconds: the dial
    fails then (openvpn alone retries for a minute), with openvpn's own words."""
    server, pbk = lab_vpn
    with daemon.client() as c:
        t0 = time.monotonic()
        with pytest.raises(errors.RasError) as info:
            c.dial("Lab VPN", pbk, user=USER, password=PASSWORD,
                   phone_number=number.format(addr=server.pair.addr_a))  # fmt: skip
        took = time.monotonic() - t0
        print(f"{number}: error {info.value.code} after {took * 1000:.0f} ms: {info.value.detail}")
        assert info.value.code == code and took < 3.0
        assert info.value.detail
        c.hang_up(info.value.handle, wait=True, timeout=15)
