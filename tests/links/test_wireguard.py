"""The WireGuard driver against real wireguard-go at both ends, in two namespaces.

The server end (namespace A) is plain ``wireguard-go -f`` + ``wg set`` set up by the test.
The driver's link runs in namespace B: in-process through ``NetnsLab.inside`` (the loop's
thread and every program it spawns live in B, as a daemon there would), or in the
``_drive_link.py`` runner under ``ip netns exec`` for the daemon-crash/adoption case.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from _linkkit import (
    Events,
    NsRasman,
    Recorder,
    check_redial,
    link_pids,
    make_spec,
    pid_alive,
    routes_via,
    rules,
    run_driver,
    start_rasman,
    stop_during_start,
    wait_reconnected,
    wait_until_async,
)
from netns import NetnsLab, NsPair, pids_in_netns, require_programs, wait_until

from openras.client import Client
from openras.errors import RasError
from openras.links.base import LinkFailed, LinkLost, LinkSpec, StateReached
from openras.links.policy_slots import PolicySlot
from openras.links.wireguard.driver import WireGuardLink, uapi_socket
from openras.policy import Grant
from openras.states import RasConnState

pytestmark = [pytest.mark.netns, pytest.mark.root]

_n = itertools.count(1)
SUBNET = f"10.232.{os.getpid() % 250 + 1}"
SERVER_IP = f"{SUBNET}.1"
CLIENT_IP = f"{SUBNET}.2"
WG_PORT = 51820
DRIVER = "openras.links.wireguard.driver:WireGuardLink"


def _wg(*args: str, data: str | None = None) -> str:
    return subprocess.run(
        ["wg", *args], input=data, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def keypair() -> tuple[str, str]:
    private = _wg("genkey")
    return private, _wg("pubkey", data=private + "\n")


@dataclass
class WgServer:
    ifname: str
    proc: subprocess.Popen[bytes]
    public_key: str
    private_key: str


def start_server(
    lab: NetnsLab,
    pair: NsPair,
    tmp: Path,
    *,
    client_pub: str,
    keepalive: int | None = None,
    private: str | None = None,
) -> WgServer:
    """wireguard-go in A (a new interface each time; ``private`` restarts the same server)."""
    if private is None:
        private, public = keypair()
    else:
        public = _wg("pubkey", data=private + "\n")
    ifname = f"orwgs{os.getpid() % 100000}{next(_n)}"
    proc = lab.spawn(pair.a, ["wireguard-go", "-f", ifname], log=tmp / f"{ifname}.log")
    sock = uapi_socket(ifname)
    assert wait_until(sock.exists, 5), "server wireguard-go never opened its socket"
    keyfile = tmp / f"{ifname}.key"
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, private.encode())
    os.close(fd)
    peer = ["peer", client_pub, "allowed-ips", f"{CLIENT_IP}/32"]
    if keepalive:
        peer += ["persistent-keepalive", str(keepalive)]
    # The client's endpoint is learned from its first handshake.
    args = ["wg", "set", ifname, "listen-port", str(WG_PORT), "private-key", str(keyfile), *peer]
    lab.run(pair.a, args)
    lab.run(pair.a, ["ip", "address", "add", f"{SERVER_IP}/24", "dev", ifname])
    lab.run(pair.a, ["ip", "link", "set", "dev", ifname, "up"])
    return WgServer(ifname, proc, public, private)


def client_config(
    tmp: Path,
    private: str,
    server_pub: str,
    endpoint: str,
    *,
    allowed: str = f"{SUBNET}.0/24",
    extra_iface: str = "",
) -> Path:
    path = tmp / f"client{next(_n)}.conf"
    path.write_text(
        "# client side, as a user would write it\n"
        "[Interface]\n"
        f"PrivateKey = {private}\n"
        f"Address = {CLIENT_IP}/24\n"
        "DNS = 10.232.0.53, corp.example\n"
        f"{extra_iface}"
        "\n[Peer]\n"
        f"PublicKey = {server_pub}\n"
        f"Endpoint = {endpoint}\n"
        f"AllowedIPs = {allowed}\n"
    )
    path.chmod(0o600)
    return path


def entry(config: Path, **extra: str) -> dict[str, str]:
    return {
        "OpenRasDevice": "wireguard",
        "OpenRasWireGuardConfig": config.name,  # relative to the phonebook's directory
        "OpenRasDialTimeoutMs": "5000",
        **extra,
    }


def handle() -> int:
    return (os.getpid() % 100000) * 100 + next(_n)


@pytest.fixture
def wg_pair(netns_lab: NetnsLab, netns_pair: NsPair) -> NsPair:
    require_programs("wireguard-go", "wg")
    return netns_pair


async def close_link(link: WireGuardLink) -> float:
    t0 = time.monotonic()
    link.request_stop()
    await asyncio.wait_for(link.wait_closed(), 10)
    return time.monotonic() - t0


def assert_nothing_left(
    lab: NetnsLab, ns: str, spec: LinkSpec, ifname: str, pid: int | None
) -> None:
    if pid is not None:
        assert not pid_alive(pid), "wireguard-go still runs"
    assert ifname not in lab.links(ns)
    assert routes_via(ns, ifname) == []
    assert not uapi_socket(ifname).exists()
    assert not spec.run_dir.exists() or list(spec.run_dir.iterdir()) == []


async def test_dial_ping_stats_projection_hangup(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path
) -> None:
    cpriv, cpub = keypair()
    server = start_server(netns_lab, wg_pair, tmp_path, client_pub=cpub)
    conf = client_config(tmp_path, cpriv, server.public_key, f"{wg_pair.addr_a}:{WG_PORT}")
    spec = make_spec(tmp_path, entry(conf), handle=handle())
    rec = Recorder()
    with netns_lab.inside(wg_pair.b):
        # What validate read is what start uses (the manager hands it over): the config is
        # read once a dial, so the file may even be gone by the time the link starts.
        prepared = WireGuardLink.validate(spec)
        conf.unlink()
        link = WireGuardLink(replace(spec, prepared=prepared), rec)
        t0 = time.monotonic()
        await link.start()
        await rec.connected(5)
        dial_s = time.monotonic() - t0
        assert rec.states == [
            RasConnState.ConnectDevice,
            RasConnState.DeviceConnected,
            RasConnState.Connected,
        ]
        ifname = link.record()["ifname"]
        pid = link.record()["process"]["pid"]
        assert ifname == f"orwg{spec.handle}"
        # The private key reaches neither argv nor any file of the run dir.
        assert cpriv not in Path(f"/proc/{pid}/cmdline").read_text()
        for f in spec.run_dir.rglob("*"):
            assert not f.is_file() or cpriv.encode() not in f.read_bytes(), f

        assert netns_lab.ping(wg_pair.b, SERVER_IP, count=2)
        stats = await link.statistics()
        assert stats.bytes_sent > 0
        assert stats.bytes_received > 0
        assert stats.frames_sent >= 2
        proj = await link.projection()
        assert proj is not None
        assert proj.interface == ifname
        assert proj.local_address == CLIENT_IP
        assert proj.dns == ("10.232.0.53",)
        assert proj.extra["endpoint"] == f"{wg_pair.addr_a}:{WG_PORT}"
        assert proj.extra["dns_search"] == "corp.example"
        assert CLIENT_IP in netns_lab.addresses(wg_pair.b, ifname)
        # no IPv6 link-local address on the tunnel (as the kernel's WireGuard)
        v6 = netns_lab.run(wg_pair.b, ["ip", "-6", "addr", "show", "dev", ifname]).stdout
        assert "fe80:" not in v6
        # The keepalive used to start the dial is switched back off (the config has none),
        # by the link's own task after Connected: polled, letting the loop run.
        deadline = time.monotonic() + 5
        while True:
            out = netns_lab.run(wg_pair.b, ["wg", "show", ifname, "persistent-keepalive"]).stdout
            if out.split()[-1] == "off" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        assert out.split()[-1] == "off"

        teardown_s = await close_link(link)
    assert_nothing_left(netns_lab, wg_pair.b, spec, ifname, pid)
    assert not rec.events[3:], f"no event after a hang-up: {rec.events[3:]}"
    print(f"\nwireguard dial {dial_s * 1000:.0f} ms, hang-up {teardown_s * 1000:.0f} ms")
    assert dial_s < 3


async def test_default_route_uses_policy_routing_and_cleans_it(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path
) -> None:
    cpriv, cpub = keypair()
    server = start_server(netns_lab, wg_pair, tmp_path, client_pub=cpub)
    conf = client_config(
        tmp_path, cpriv, server.public_key, f"{wg_pair.addr_a}:{WG_PORT}", allowed="0.0.0.0/0"
    )
    spec = make_spec(tmp_path, entry(conf), handle=handle())
    rec = Recorder()
    rules_before = rules(wg_pair.b)
    with netns_lab.inside(wg_pair.b):
        link = WireGuardLink(spec, rec)
        await link.start()
        await rec.connected(5)
        ifname = link.record()["ifname"]
        pid = link.record()["process"]["pid"]
        assert len(rules(wg_pair.b)) == len(rules_before) + 2
        slot = PolicySlot(link.record()["policy_slot"])
        assert slot == PolicySlot.first_for(spec.handle)  # nothing else held it
        assert routes_via(wg_pair.b, ifname, table=str(slot.table))
        # The tunnel carries the ping; the handshake itself still uses the veth route.
        assert netns_lab.ping(wg_pair.b, SERVER_IP)
        await close_link(link)
    assert rules(wg_pair.b) == rules_before
    assert_nothing_left(netns_lab, wg_pair.b, spec, ifname, pid)


@pytest.mark.parametrize("case", ["wrong-key", "silent-server"])
async def test_no_handshake_fails_809_within_the_dial_timeout(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path, case: str
) -> None:
    cpriv, _ = keypair()
    if case == "wrong-key":
        _, stranger = keypair()  # the server knows some other client, not us
        server = start_server(netns_lab, wg_pair, tmp_path, client_pub=stranger)
        endpoint = f"{wg_pair.addr_a}:{WG_PORT}"
        server_pub = server.public_key
    else:
        # A server that answers nothing at all: a WireGuard peer that drops us (as a firewall
        # that sends no ICMP would); the wrong key above is one, a second one here.
        server = start_server(netns_lab, wg_pair, tmp_path, client_pub=keypair()[1])
        endpoint = f"{wg_pair.addr_a}:{WG_PORT}"
        server_pub = keypair()[1]
    conf = client_config(tmp_path, cpriv, server_pub, endpoint)
    spec = make_spec(tmp_path, entry(conf, OpenRasDialTimeoutMs="1500"), handle=handle())
    rec = Recorder()
    with netns_lab.inside(wg_pair.b):
        link = WireGuardLink(spec, rec)
        t0 = time.monotonic()
        await link.start()
        failed = await rec.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 5)
        took = time.monotonic() - t0
        assert isinstance(failed, LinkFailed)
        assert failed.error == 809
        assert "handshake" in failed.detail
        assert 1.5 <= took < 2.5
        assert RasConnState.Connected not in rec.states
        ifname = link.record()["ifname"]
        pid = link.record()["process"]["pid"]
        # The driver stopped its program itself; the hang-up only cleans up.
        assert await wait_until_async(lambda: not pid_alive(pid), 3)
        await close_link(link)
    assert_nothing_left(netns_lab, wg_pair.b, spec, ifname, pid)


@pytest.mark.parametrize(
    ("case", "code"), [("closed-port", 808), ("no-route", 769)], ids=["closed-port", "no-route"]
)
async def test_a_closed_port_or_no_route_fails_at_once(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path, case: str, code: int
) -> None:
    """What WireGuard never reports, the network does: ICMP port unreachable from the
    server's namespace, or no route at all from the client's; the dial fails at once rather
    than at its timeout (10 s here), naming the endpoint."""
    cpriv, _ = keypair()
    # Nothing listens on the first; the client's namespace has no route to the second.
    closed, unrouted = f"{wg_pair.addr_a}:{WG_PORT + 7}", "10.254.254.1:51820"
    endpoint = closed if case == "closed-port" else unrouted
    conf = client_config(tmp_path, cpriv, keypair()[1], endpoint)
    spec = make_spec(tmp_path, entry(conf, OpenRasDialTimeoutMs="10000"), handle=handle())
    rec = Recorder()
    with netns_lab.inside(wg_pair.b):
        link = WireGuardLink(spec, rec)
        t0 = time.monotonic()
        await link.start()
        failed = await rec.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 5)
        took = time.monotonic() - t0
        assert isinstance(failed, LinkFailed)
        assert (failed.error, endpoint in failed.detail) == (code, True), failed
        assert took < 1.0, took
        ifname = link.record()["ifname"]
        pid = link.record()["process"]["pid"]
        assert await wait_until_async(lambda: not pid_alive(pid), 3)
        await close_link(link)
    assert_nothing_left(netns_lab, wg_pair.b, spec, ifname, pid)


async def test_peer_killed_drops_829_by_silence(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path
) -> None:
    cpriv, cpub = keypair()
    server = start_server(netns_lab, wg_pair, tmp_path, client_pub=cpub, keepalive=1)
    conf = client_config(
        tmp_path,
        cpriv,
        server.public_key,
        f"{wg_pair.addr_a}:{WG_PORT}",
        extra_iface="",
    )
    conf.write_text(conf.read_text() + "PersistentKeepalive = 1\n")
    spec = make_spec(tmp_path, entry(conf, OpenRasWireGuardDeadPeerMs="2500"), handle=handle())
    rec = Recorder()
    with netns_lab.inside(wg_pair.b):
        link = WireGuardLink(spec, rec)
        await link.start()
        await rec.connected(5)
        ifname = link.record()["ifname"]
        pid = link.record()["process"]["pid"]
        # Stays up while the peer talks (longer than the silence limit).
        assert netns_lab.ping(wg_pair.b, SERVER_IP)
        killed = time.monotonic()
        netns_lab.stop(server.proc)
        dropped = await rec.wait_for(lambda e: isinstance(e, LinkLost | LinkFailed), 10)
        took = time.monotonic() - killed
        assert isinstance(dropped, LinkLost)
        assert dropped.error == 829
        assert "silent" in dropped.detail
        assert 2.0 < took < 5.0
        await close_link(link)
    assert_nothing_left(netns_lab, wg_pair.b, spec, ifname, pid)
    print(f"\nwireguard dead peer noticed {took:.2f} s after the kill")


async def test_wireguard_go_killed_drops_829_at_once(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path
) -> None:
    cpriv, cpub = keypair()
    server = start_server(netns_lab, wg_pair, tmp_path, client_pub=cpub)
    conf = client_config(tmp_path, cpriv, server.public_key, f"{wg_pair.addr_a}:{WG_PORT}")
    spec = make_spec(tmp_path, entry(conf), handle=handle())
    rec = Recorder()
    with netns_lab.inside(wg_pair.b):
        link = WireGuardLink(spec, rec)
        await link.start()
        await rec.connected(5)
        ifname = link.record()["ifname"]
        pid = link.record()["process"]["pid"]
        t0 = time.monotonic()
        os.kill(pid, 9)
        dropped = await rec.wait_for(lambda e: isinstance(e, LinkLost | LinkFailed), 5)
        assert isinstance(dropped, LinkLost)
        assert dropped.error == 829
        assert "wireguard-go exited" in dropped.detail
        assert time.monotonic() - t0 < 1.0
        await close_link(link)
    # SIGKILL left the UAPI socket behind; wait_closed removed it.
    assert_nothing_left(netns_lab, wg_pair.b, spec, ifname, pid)


async def test_adopt_after_daemon_crash(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path
) -> None:
    cpriv, cpub = keypair()
    server = start_server(netns_lab, wg_pair, tmp_path, client_pub=cpub)
    conf = client_config(tmp_path, cpriv, server.public_key, f"{wg_pair.addr_a}:{WG_PORT}")
    spec = make_spec(tmp_path, entry(conf), handle=handle())
    with run_driver(DRIVER, spec, ns=wg_pair.b) as runner:
        runner.read_until(lambda e: e.get("name") == "Connected" or e["event"] == "failed", 10)
        # The manager records a link once, right after start() returns: adopt from that.
        record = runner.read_until(lambda e: e["event"] == "started", 1)["record"]
        runner.proc.kill()  # the "daemon" dies; its link must not
        runner.proc.wait(5)
    pid = record["process"]["pid"]
    ifname = record["ifname"]
    assert pid_alive(pid)
    rec = Recorder()
    with netns_lab.inside(wg_pair.b):
        link = await WireGuardLink.adopt(spec, record, rec)
        assert isinstance(link, WireGuardLink)
        await rec.connected(2)
        assert netns_lab.ping(wg_pair.b, SERVER_IP)
        assert (await link.statistics()).bytes_received > 0
        await close_link(link)
    assert_nothing_left(netns_lab, wg_pair.b, spec, ifname, pid)
    # Adopting a link that is gone cleans up and answers None.
    with netns_lab.inside(wg_pair.b):
        assert await WireGuardLink.adopt(spec, record, Recorder()) is None


def test_bad_config_is_refused_before_anything_starts(tmp_path: Path) -> None:
    require_programs("wg")
    cpriv, _ = keypair()
    conf = tmp_path / "bad.conf"
    conf.write_text(f"[Interface]\nPrivateKey = {cpriv}\nPostUp = touch /tmp/pwned\n")
    spec = make_spec(tmp_path, entry(conf), handle=handle())
    with pytest.raises(RasError) as info:
        WireGuardLink.validate(spec)
    assert info.value.code == 872
    assert f"{conf}:3: PostUp is refused" in str(info.value.detail)
    assert cpriv not in str(info.value)


def test_through_rasman_survives_a_daemon_crash(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path
) -> None:
    """Dial through a real rasman in B, SIGKILL it, restart it: the link is adopted and
    still carries traffic; the hang-up then leaves nothing and status answers 6."""
    from openras.errors import InvalidHandle

    cpriv, cpub = keypair()
    server = start_server(netns_lab, wg_pair, tmp_path, client_pub=cpub)
    conf = client_config(tmp_path, cpriv, server.public_key, f"{wg_pair.addr_a}:{WG_PORT}")
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        "[Office WG]\nEncoding=1\nType=2\nOpenRasDevice=wireguard\n"
        f"OpenRasWireGuardConfig={conf.name}\nOpenRasDialTimeoutMs=5000\n"
    )
    sock_dir = Path(tempfile.mkdtemp(prefix="orwg-"))  # short: AF_UNIX path limit
    rm = NsRasman(sock_dir / "rasman.sock", tmp_path / "state", tmp_path / "rasman.log")
    try:
        start_rasman(netns_lab, wg_pair.b, rm, tmp_path / "config")
        with Client(rm.socket, autostart=False, timeout=20) as ras:
            t0 = time.monotonic()
            conn = ras.dial("Office WG", pbk)
            dial_s = time.monotonic() - t0
            assert conn.status().state == RasConnState.Connected
            ifname = f"orwg{conn.handle}"
            assert netns_lab.ping(wg_pair.b, SERVER_IP)
            assert conn.statistics().bytes_received > 0
            assert conn.projection().interface == ifname
        (pid,) = link_pids(pids_in_netns(wg_pair.b), "wireguard-go", ifname)

        assert rm.proc is not None
        rm.proc.kill()  # the daemon crashes; the link lives on in its own session
        rm.proc.wait(5)
        assert pid_alive(pid)
        assert netns_lab.ping(wg_pair.b, SERVER_IP)
        start_rasman(netns_lab, wg_pair.b, rm, tmp_path / "config")
        with Client(rm.socket, autostart=False, timeout=20) as ras:
            assert ras.status(conn.handle).state == RasConnState.Connected
            assert netns_lab.ping(wg_pair.b, SERVER_IP)
            t1 = time.monotonic()
            ras.hang_up(conn.handle, wait=True, timeout=15)
            hangup_s = time.monotonic() - t1
            with pytest.raises(InvalidHandle):
                ras.status(conn.handle)
        # The promise behind 6: nothing of the link is left.
        assert not pid_alive(pid)
        assert ifname not in netns_lab.links(wg_pair.b)
        assert routes_via(wg_pair.b, ifname) == []
        assert not uapi_socket(ifname).exists()
        run_dir = tmp_path / "state" / "links" / f"link-{conn.handle}"
        assert not run_dir.exists() or list(run_dir.iterdir()) == []
        print(
            f"\nvia rasman: dial {dial_s * 1000:.0f} ms, hang-up until 6 {hangup_s * 1000:.0f} ms"
        )
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


async def test_hang_up_while_dialing(netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path) -> None:
    """A hang-up in the middle of the dial stops it quietly (no failure event) and cleans.
    The server knows another client: it drops our handshakes silently, so the dial waits."""
    cpriv, _ = keypair()
    server = start_server(netns_lab, wg_pair, tmp_path, client_pub=keypair()[1])
    conf = client_config(tmp_path, cpriv, server.public_key, f"{wg_pair.addr_a}:{WG_PORT}")
    spec = make_spec(tmp_path, entry(conf), handle=handle())
    rec = Recorder()
    with netns_lab.inside(wg_pair.b):
        link = WireGuardLink(spec, rec)
        await link.start()
        await rec.wait_for(lambda e: getattr(e, "state", None) == RasConnState.DeviceConnected, 5)
        ifname = link.record()["ifname"]
        pid = link.record()["process"]["pid"]
        took = await close_link(link)
    assert rec.states == [RasConnState.ConnectDevice, RasConnState.DeviceConnected]
    assert not [e for e in rec.events if isinstance(e, LinkFailed | LinkLost)]
    assert_nothing_left(netns_lab, wg_pair.b, spec, ifname, pid)
    assert took < 1


def test_redial_through_rasman_after_the_server_dies(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path, rasman_b: Callable[..., NsRasman]
) -> None:
    """RedialOnLinkFailure: the server's wireguard-go is killed by pid, the client notices the
    silence (829), its redial into the dead server finds the port closed (808, heard at once
    from the ICMP) and is retried every RedialSeconds; the server comes back with the same key
    and the same handle is Connected and pings."""
    cpriv, cpub = keypair()
    server = start_server(netns_lab, wg_pair, tmp_path, client_pub=cpub, keepalive=1)
    conf = client_config(
        tmp_path, cpriv, server.public_key, f"{wg_pair.addr_a}:{WG_PORT}",
        allowed=f"{SERVER_IP}/32, {SUBNET}.0/24",
    )  # fmt: skip
    conf.write_text(conf.read_text() + "PersistentKeepalive = 1\n")
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        "[Office WG]\nEncoding=1\nType=2\nOpenRasDevice=wireguard\n"
        f"OpenRasWireGuardConfig={conf.name}\nOpenRasDialTimeoutMs=2000\n"
        "OpenRasWireGuardDeadPeerMs=2500\n"
        "RedialOnLinkFailure=1\nRedialAttempts=30\nRedialSeconds=1\n"
    )
    rm = rasman_b()
    events = Events(rm.socket)
    try:
        with Client(rm.socket, autostart=False, timeout=20) as ras:
            conn = ras.dial("Office WG", pbk)
            ifname = conn.projection().interface
            # The peer's tunnel address comes from its /32 in AllowedIPs.
            assert conn.projection().remote_address == SERVER_IP
            assert netns_lab.ping(wg_pair.b, SERVER_IP)
            (first_pid,) = link_pids(pids_in_netns(wg_pair.b), "wireguard-go", ifname)
            server.proc.kill()  # by its pid
            server.proc.wait(5)
            uapi_socket(server.ifname).unlink()  # SIGKILL leaves wireguard-go's socket behind
            check_redial(events, conn.handle, drop={829}, down={808}, timeout=20)
            assert not pid_alive(first_pid)
            start_server(
                netns_lab, wg_pair, tmp_path, client_pub=cpub, keepalive=1,
                private=server.private_key,
            )  # fmt: skip
            wait_reconnected(events, conn.handle, 15)
            assert ras.status(conn.handle).state == RasConnState.Connected
            assert wait_until(lambda: netns_lab.ping(wg_pair.b, SERVER_IP), 5)
            (second_pid,) = link_pids(pids_in_netns(wg_pair.b), "wireguard-go", ifname)
            assert second_pid != first_pid
            history = [(r.redialing, r.error) for r in ras.history() if r.handle == conn.handle]
            assert (True, 829) in history
            assert "link dropped: peer" in rm.log.read_text()  # the reason, in rasman's log
            conn.hang_up(wait=True, timeout=15)
        assert not pid_alive(second_pid)
        assert ifname not in netns_lab.links(wg_pair.b)
    finally:
        events.close()


async def test_hang_up_before_wireguard_go_started(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path
) -> None:
    """A stop while start() still reads the config: wireguard-go is never spawned."""
    cpriv, _ = keypair()
    conf = client_config(tmp_path, cpriv, keypair()[1], f"{wg_pair.addr_a}:{WG_PORT}")
    spec = make_spec(tmp_path, entry(conf), handle=handle())
    rec = Recorder()
    with netns_lab.inside(wg_pair.b):
        link = WireGuardLink(spec, rec)
        assert (await stop_during_start(link)).code == 631
    assert link.record()["process"] is None
    assert rec.events == []
    assert not link_pids(pids_in_netns(wg_pair.b), "wireguard-go", "-f")
    assert not [n for n in netns_lab.links(wg_pair.b) if n.startswith("orwg")]


def _rule_set(ns: str) -> list[str]:
    return sorted(
        line.strip()
        for fam in ("-4", "-6")
        for line in subprocess.run(
            ["ip", "-n", ns, fam, "rule", "show"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    )


def _own_rules(ns: str, slot: PolicySlot) -> list[str]:
    return [r for r in _rule_set(ns) if f"fwmark {slot.fwmark:#x} " in r]


async def test_teardown_of_one_full_tunnel_leaves_the_others_rules(
    netns_lab: NetnsLab, wg_pair: NsPair, tmp_path: Path
) -> None:
    """Two default-route links in one namespace (the second config even names the first's
    fwmark and table) plus somebody else's rules at their priorities: each link gets its
    own table, mark and priorities, and the teardown of one removes its rules only."""
    cpriv, cpub = keypair()
    server = start_server(netns_lab, wg_pair, tmp_path, client_pub=cpub)
    conf_a = client_config(
        tmp_path, cpriv, server.public_key, f"{wg_pair.addr_a}:{WG_PORT}", allowed="0.0.0.0/0"
    )
    spec_a = make_spec(tmp_path, entry(conf_a), handle=handle())
    base = _rule_set(wg_pair.b)
    rec_a, rec_b = Recorder(), Recorder()
    with netns_lab.inside(wg_pair.b):
        link_a = WireGuardLink(spec_a, rec_a)
        await link_a.start()
        await rec_a.connected(5)
        slot_a = PolicySlot(link_a.record()["policy_slot"])
        # B: root's config naming A's mark and table (a user's would be refused), a peer
        # that never answers (the server drops a stranger's handshake unseen): its rules are
        # in place from DeviceConnected on.
        bpriv, _ = keypair()
        _, nobody = keypair()
        conf_b = tmp_path / "b.conf"
        conf_b.write_text(
            f"[Interface]\nPrivateKey = {bpriv}\nAddress = 10.233.{os.getpid() % 250}.2/32\n"
            f"FwMark = {slot_a.fwmark}\n"
            f"[Peer]\nPublicKey = {nobody}\nEndpoint = {wg_pair.addr_a}:{WG_PORT}\n"
            "AllowedIPs = 0.0.0.0/0, ::/0\n"
        )
        spec_b = make_spec(tmp_path, entry(conf_b), handle=spec_a.handle + 4096)
        assert PolicySlot.first_for(spec_b.handle) == slot_a  # the same first choice
        link_b = WireGuardLink(spec_b, rec_b)
        await link_b.start()
        await rec_b.wait_for(
            lambda e: isinstance(e, StateReached) and e.state == RasConnState.DeviceConnected, 5
        )
        slot_b = PolicySlot(link_b.record()["policy_slot"])
        assert slot_b != slot_a
        assert len(_own_rules(wg_pair.b, slot_a)) == 2
        assert len(_own_rules(wg_pair.b, slot_b)) == 4  # IPv4 and IPv6
        # Somebody else's rules at both links' priorities.
        for pri in (*slot_a.priorities, *slot_b.priorities):
            netns_lab.run(wg_pair.b, ["ip", "rule", "add", "table", "100", "priority", str(pri)])
        with_a = _own_rules(wg_pair.b, slot_a)
        foreign = [r for r in _rule_set(wg_pair.b) if "lookup 100" in r]
        assert len(foreign) == 4

        await close_link(link_b)
        assert _own_rules(wg_pair.b, slot_a) == with_a
        assert _own_rules(wg_pair.b, slot_b) == []
        assert [r for r in _rule_set(wg_pair.b) if "lookup 100" in r] == foreign
        assert netns_lab.ping(wg_pair.b, SERVER_IP)  # A still routes

        await close_link(link_a)
    assert sorted(base + foreign) == _rule_set(wg_pair.b)


def test_policy_refusals_reach_the_driver(tmp_path: Path) -> None:
    """What check_policy refuses, validate refuses (error 5, the config line), before anything
    starts: here a full tunnel the grant does not allow, and a user's privileged port."""
    require_programs("wg")
    cpriv, _ = keypair()
    _, spub = keypair()
    conf = client_config(tmp_path, cpriv, spub, "192.0.2.1:51820", allowed="0.0.0.0/1, 128.0.0.0/1")
    split = Grant(full_tunnel=False, full_tunnel_rule="policy.conf:9: full-tunnel = no")
    spec = replace(make_spec(tmp_path, entry(conf), handle=handle()), grant=split)
    with pytest.raises(RasError) as info:
        WireGuardLink.validate(spec)
    assert info.value.code == 5
    assert f"{conf}:10: AllowedIPs" in str(info.value.detail)
    assert "policy.conf:9: full-tunnel = no" in str(info.value.detail)
    WireGuardLink.validate(replace(spec, grant=Grant()))

    # A user's config (readable by the user): ListenPort 123 is refused, naming its line.
    user_dir = Path(tempfile.mkdtemp(prefix="orwg-user-"))
    try:
        user_dir.chmod(0o755)
        conf = client_config(
            user_dir, cpriv, spub, "192.0.2.1:51820", extra_iface="ListenPort = 123\n"
        )
        conf.chmod(0o644)
        spec = make_spec(user_dir, entry(conf), handle=handle(), owner_uid=65534)
        with pytest.raises(RasError) as info:
            WireGuardLink.validate(spec)
        assert info.value.code == 5
        assert f"{conf}:6: ListenPort = 123 is a privileged port" in str(info.value.detail)
        WireGuardLink.validate(replace(spec, owner_uid=0))
    finally:
        shutil.rmtree(user_dir)
