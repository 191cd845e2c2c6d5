"""DNS per link, end to end: an OpenVPN server (namespace A) pushes a DNS server and a domain,
a DNS server behind it answers an internal name, rasman (namespace B, in a private mount
namespace whose /etc, /run and /usr are overlays) dials, and a lookup in B resolves the name
through the tunnel; after the hang-up the resolver configuration is byte-identical.

Every backend runs against the real program: the file itself (overlay: atomic rename; bind
mount: written in place), Debian's resolvconf script, and systemd-resolved (from its package,
unpacked, on a private system bus). The machine's own resolver files are never written.

The WireGuard cases do the same with a wg-quick config's ``DNS =`` (the server's tunnel
address and a search domain) against a wireguard-go server in A.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dns_lab import (
    BUS_CONF,
    DnsServer,
    PrivateRoot,
    debian_package,
    install_resolvconf,
    install_resolved,
    installed_version,
    start_dns_server,
)
from netns import NetnsLab, NsPair, pids_in_netns, require_programs, wait_until
from ovpn_lab import PASSWORD, USER, OvpnServer, client_profile, make_pki
from test_wireguard import CLIENT_IP, SERVER_IP, SUBNET, WG_PORT, WgServer, keypair, start_server

from openras import errors
from openras.client import Client

pytestmark = [pytest.mark.netns, pytest.mark.root, pytest.mark.timeout(120)]

INTERNAL = "intranet.corp.example"
INTERNAL_IP = "10.99.42.7"
MACHINE = Path("/etc/resolv.conf")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_programs("openvpn", "openssl", "nsenter", "unshare", "getent")
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("debs")


@pytest.fixture(autouse=True)
def machine_resolver_untouched() -> Iterator[None]:
    before = (MACHINE.read_bytes(), os.stat(MACHINE).st_mtime_ns) if MACHINE.exists() else None
    yield
    after = (MACHINE.read_bytes(), os.stat(MACHINE).st_mtime_ns) if MACHINE.exists() else None
    assert after == before, "the machine's /etc/resolv.conf was written"


@dataclass
class Lab:
    lab: NetnsLab
    pair: NsPair
    root: PrivateRoot
    server: OvpnServer | None
    dns: DnsServer
    pbk: Path
    tmp: Path
    socket: Path
    daemon: subprocess.Popen[bytes] | None = None
    #: The WireGuard server when the lab dials one (``server`` is then unused).
    wg: WgServer | None = None
    entry: str = "Lab VPN"
    #: What the dial gives (a WireGuard entry needs nothing).
    dial: dict[str, str] = field(default_factory=lambda: {"user": USER, "password": PASSWORD})

    def start_daemon(self, env: dict[str, str] | None = None) -> None:
        inherited = {k: v for k, v in os.environ.items() if k != "OPENRAS_DNS_BACKEND"}
        full_env = {
            **inherited,
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "XDG_CONFIG_HOME": str(self.tmp / "config"),
            "OPENRAS_SYSTEM_PHONEBOOK": str(self.tmp / "system.pbk"),
            **(env or {}),
        }
        argv = [sys.executable, "-m", "openras.manager", "--socket", str(self.socket),
                "--state-dir", str(self.tmp / "state"), "--log-level", "debug"]  # fmt: skip
        self.daemon = proc = self.root.spawn(argv, log=self.tmp / "rasman.log", env=full_env)

        def answers() -> bool:
            assert proc.poll() is None, (self.tmp / "rasman.log").read_text()
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(str(self.socket))
                except OSError:
                    return False
                return True

        assert wait_until(answers, 15), "rasman did not start"

    def kill_daemon(self) -> None:
        assert self.daemon is not None
        self.daemon.send_signal(signal.SIGKILL)
        self.daemon.wait(5)

    def client(self) -> Client:
        return Client(self.socket, autostart=False, timeout=30)

    def log(self) -> str:
        return (self.tmp / "rasman.log").read_text()


def make_lab(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, pki: Path, *,
    push: tuple[str, ...] = (), bind: bool = False,
) -> tuple[Lab, PrivateRoot]:  # fmt: skip
    d = tmp_path / "server"
    d.mkdir()
    net = f"10.232.{netns_pair.addr_a.split('.')[2]}"
    server = OvpnServer(netns_pair, d, tunnel_net=net)
    server.start(netns_lab, pki, push=("dhcp-option DOMAIN corp.example", *push))
    dns = start_dns_server(
        netns_lab, netns_pair.a, server.pushed_dns, tmp_path / "dns.log", {INTERNAL: INTERNAL_IP}
    )
    client_profile(tmp_path, server, pki)
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        "[Lab VPN]\nEncoding=1\nType=2\n"
        f"PhoneNumber={netns_pair.addr_a}\nIpNameAssign=1\nIpDnsAddress=0.0.0.0\n"
        "OpenRasDevice=openvpn\nOpenRasOpenVpnProfile=client.ovpn\nOpenRasDialTimeoutMs=10000\n"
    )
    root = PrivateRoot(netns_lab, netns_pair.b, tmp_path / "root", bind=bind)
    root.prepare()
    sock_dir = Path(f"/tmp/oras-dns-{os.getpid()}-{time.monotonic_ns()}")
    sock_dir.mkdir(mode=0o755)
    lab = Lab(netns_lab, netns_pair, root, server, dns, pbk, tmp_path, sock_dir / "rasman.sock")
    return lab, root


@pytest.fixture
def cleanup_daemon() -> Iterator[list[Lab]]:
    labs: list[Lab] = []
    yield labs
    for lab in labs:
        if lab.daemon is not None and lab.daemon.poll() is None:
            try:
                with lab.client() as c:
                    for info in c.connections(include_pending=True):
                        c.hang_up(info.handle, wait=True, timeout=15)
            except Exception as exc:
                print(f"could not hang up leftovers: {exc}")
        for p in lab.socket.parent.iterdir():
            p.unlink()
        lab.socket.parent.rmdir()


def dial_lookup_hang_up(
    lab: Lab, backend: str, *, names: tuple[str, ...], during: Callable[[], None] | None = None
) -> dict[str, object]:
    """Dial, check the projection and the lookups of ``names`` through the tunnel, hang up,
    check status 6; the projection's extra."""
    with lab.client() as c:
        t0 = time.monotonic()
        conn = c.dial(lab.entry, lab.pbk, **lab.dial)
        dial_ms = (time.monotonic() - t0) * 1000
        proj = conn.projection()
        extra = dict(proj.extra)
        assert extra.get("dns_backend") == backend, (extra, lab.log())
        assert "dns_error" not in extra, extra
        for name in names:
            t1 = time.monotonic()
            got = lab.root.lookup(name)
            print(f"{backend}: lookup {name} -> {got} in {(time.monotonic() - t1) * 1000:.0f} ms")
            assert got == INTERNAL_IP, (name, lab.root.read("/etc/resolv.conf"), lab.log())
        sources = {src for src, _ in lab.dns.queries()}
        assert sources == {proj.local_address}, f"queries came from {sources}, not the tunnel"
        if during is not None:
            during()
        t0 = time.monotonic()
        conn.hang_up(wait=True, timeout=15)
        print(
            f"{backend}: dial {dial_ms:.0f} ms, hang-up to 6 {(time.monotonic() - t0) * 1000:.0f} ms"
        )
        with pytest.raises(errors.InvalidHandle):
            c.status(conn.handle)
    return extra


def test_file_backend_full_tunnel(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, pki: Path, cleanup_daemon: list[Lab]
) -> None:
    """/etc/resolv.conf of an overlay: replaced atomically; a full tunnel's server only."""
    subprocess.run(
        ["ip", "-n", netns_pair.b, "route", "add", "default", "via", netns_pair.addr_a],
        check=True, timeout=10,
    )  # fmt: skip
    lab, root = make_lab(netns_lab, netns_pair, tmp_path, pki, push=("redirect-gateway def1",))
    cleanup_daemon.append(lab)
    root.start()
    original = root.read("/etc/resolv.conf")
    lab.start_daemon()
    with lab.client() as c:
        conn = c.dial("Lab VPN", lab.pbk, user=USER, password=PASSWORD)
        written = root.upper("/etc/resolv.conf").read_text()
        print(written)
        servers = [ln.split()[1] for ln in written.splitlines() if ln.startswith("nameserver")]
        assert servers == [lab.server.pushed_dns], "a full tunnel must not keep local servers"
        assert "search corp.example" in written
        assert root.lookup("intranet") == INTERNAL_IP  # the pushed domain is searched
        conn.hang_up(wait=True, timeout=15)
    assert root.read("/etc/resolv.conf") == original
    assert not list((tmp_path / "state" / "dns").glob("link-*"))


def test_file_backend_bind_mounted_split_tunnel(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, pki: Path, cleanup_daemon: list[Lab]
) -> None:
    """A bind-mounted resolv.conf (as containers have) cannot be renamed over: written in
    place, then restored byte for byte."""
    lab, root = make_lab(netns_lab, netns_pair, tmp_path, pki, bind=True)
    cleanup_daemon.append(lab)
    original = b"# the uplink's\nnameserver 10.255.255.53\noptions timeout:1\n"
    (root.dir / "resolv.conf").write_bytes(original)
    root.start()
    lab.start_daemon({"OPENRAS_DNS_BACKEND": "file"})
    dial_lookup_hang_up(lab, "file", names=(INTERNAL, "intranet"))
    assert (root.dir / "resolv.conf").read_bytes() == original
    assert root.read("/etc/resolv.conf") == original


def test_file_backend_crash_adopt_then_dead_link(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, pki: Path, cleanup_daemon: list[Lab]
) -> None:
    """SIGKILL the daemon: the adopted link keeps its DNS; killed again with the link dead
    meanwhile, the restarted daemon restores the original."""
    lab, root = make_lab(netns_lab, netns_pair, tmp_path, pki)
    cleanup_daemon.append(lab)
    root.start()
    original = root.read("/etc/resolv.conf")
    lab.start_daemon()
    with lab.client() as c:
        c.dial("Lab VPN", lab.pbk, user=USER, password=PASSWORD)
    assert root.lookup(INTERNAL) == INTERNAL_IP
    lab.kill_daemon()
    lab.start_daemon()
    assert "adopted" in lab.log()
    assert root.lookup(INTERNAL) == INTERNAL_IP, "an adopted link keeps its DNS"
    lab.kill_daemon()
    ovpn = [
        p
        for p in pids_in_netns(netns_pair.b)
        if Path(f"/proc/{p}/comm").read_text().strip() == "openvpn"
    ]
    assert len(ovpn) == 1
    os.kill(ovpn[0], signal.SIGKILL)
    assert wait_until(
        lambda: (
            not Path(f"/proc/{ovpn[0]}").exists()
            or "Z" in Path(f"/proc/{ovpn[0]}/stat").read_text().split()[2]
        ),
        5,
    )
    lab.start_daemon()
    assert wait_until(lambda: root.read("/etc/resolv.conf") == original, 10), lab.log()
    assert not list((tmp_path / "state" / "dns").glob("link-*"))


def test_resolvconf_backend(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, pki: Path, debs: Path,
    cleanup_daemon: list[Lab],
) -> None:  # fmt: skip
    pkg = debian_package("resolvconf", debs)
    if pkg is None:
        pytest.skip("apt-get download resolvconf failed")
    lab, root = make_lab(netns_lab, netns_pair, tmp_path, pki)
    cleanup_daemon.append(lab)
    install_resolvconf(root, pkg, "nameserver 10.255.255.53\n")
    root.start()
    res = root.run("resolvconf", "-u")
    assert res.returncode == 0, res.stderr
    original = root.read("/etc/resolv.conf")
    assert b"10.255.255.53" in original
    lab.start_daemon()  # chosen by itself: resolvconf is installed there
    with lab.client() as c:
        conn = c.dial("Lab VPN", lab.pbk, user=USER, password=PASSWORD)
        iface = conn.projection().interface
        record = root.upper(f"/run/resolvconf/interface/{iface}.openras")
        assert record.read_text() == f"nameserver {lab.server.pushed_dns}\nsearch corp.example\n"
        conn.hang_up(wait=True, timeout=15)
    assert not record.exists()
    assert root.read("/etc/resolv.conf") == original
    # And once more with the lookups (a fresh dial after the hang-up).
    dial_lookup_hang_up(lab, "resolvconf", names=(INTERNAL, "intranet"))
    assert root.read("/etc/resolv.conf") == original


@pytest.mark.parametrize("full", [False, True], ids=["split", "full"])
def test_resolved_backend(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, pki: Path, debs: Path,
    cleanup_daemon: list[Lab], full: bool,
) -> None:  # fmt: skip
    pkg = resolved_package(debs)
    if full:
        subprocess.run(
            ["ip", "-n", netns_pair.b, "route", "add", "default", "via", netns_pair.addr_a],
            check=True, timeout=10,
        )  # fmt: skip
    push = ("redirect-gateway def1",) if full else ()
    lab, root = make_lab(netns_lab, netns_pair, tmp_path, pki, push=push)
    cleanup_daemon.append(lab)
    bus = start_resolved(lab, pkg)
    original = root.read("/etc/resolv.conf")
    lab.start_daemon(bus)  # chosen by itself: resolved runs in its namespace
    assert "DNS backend: resolved" in lab.log()
    elsewhere = "www.elsewhere.example"

    def routing() -> None:
        # Split: only names under the link's domains go to it; full: every lookup does.
        root.lookup(elsewhere)
        asked = {name for _, name in lab.dns.queries()}
        assert (elsewhere in asked) is full, asked

    dial_lookup_hang_up(lab, "resolved", names=(INTERNAL, "intranet"), during=routing)
    assert root.read("/etc/resolv.conf") == original
    # The link is gone from resolved: the internal name no longer resolves.
    assert root.lookup(INTERNAL) is None


# -- WireGuard: DNS = from the wg-quick config --------------------------------------------------


def make_wg_lab(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, *, full: bool, bind: bool = False
) -> tuple[Lab, PrivateRoot]:
    """A wireguard-go server in A with a resolver on its tunnel address, and an entry in B
    whose config says ``DNS = <that address>, corp.example`` (``full``: AllowedIPs 0.0.0.0/0)."""
    require_programs("wireguard-go", "wg", "nsenter", "unshare", "getent")
    cpriv, cpub = keypair()
    server = start_server(netns_lab, netns_pair, tmp_path, client_pub=cpub)
    dns = start_dns_server(
        netns_lab, netns_pair.a, SERVER_IP, tmp_path / "dns.log", {INTERNAL: INTERNAL_IP}
    )
    conf = tmp_path / "lab.conf"
    conf.write_text(
        "[Interface]\n"
        f"PrivateKey = {cpriv}\n"
        f"Address = {CLIENT_IP}/24\n"
        f"DNS = {SERVER_IP}, corp.example\n"
        "\n[Peer]\n"
        f"PublicKey = {server.public_key}\n"
        f"Endpoint = {netns_pair.addr_a}:{WG_PORT}\n"
        f"AllowedIPs = {'0.0.0.0/0' if full else f'{SUBNET}.0/24'}\n"
    )
    conf.chmod(0o600)
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(
        "[Lab WG]\nEncoding=1\nType=2\nOpenRasDevice=wireguard\n"
        "OpenRasWireGuardConfig=lab.conf\nOpenRasDialTimeoutMs=10000\n"
    )
    root = PrivateRoot(netns_lab, netns_pair.b, tmp_path / "root", bind=bind)
    root.prepare()
    sock_dir = Path(f"/tmp/oras-dns-{os.getpid()}-{time.monotonic_ns()}")
    sock_dir.mkdir(mode=0o755)
    lab = Lab(
        netns_lab, netns_pair, root, None, dns, pbk, tmp_path, sock_dir / "rasman.sock",
        wg=server, entry="Lab WG", dial={},
    )  # fmt: skip
    return lab, root


def written_servers(text: str) -> list[str]:
    return [ln.split()[1] for ln in text.splitlines() if ln.startswith("nameserver")]


def test_wireguard_file_backend_full_tunnel(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, cleanup_daemon: list[Lab]
) -> None:
    """``DNS =`` of a full tunnel (AllowedIPs 0.0.0.0/0): resolv.conf names the tunnel's
    server only and searches its domain; the lookups go through the tunnel; the original
    comes back byte for byte."""
    lab, root = make_wg_lab(netns_lab, netns_pair, tmp_path, full=True)
    cleanup_daemon.append(lab)
    root.start()
    original = root.read("/etc/resolv.conf")
    lab.start_daemon()  # chosen by itself: neither resolved nor resolvconf runs there

    def written() -> None:
        text = root.upper("/etc/resolv.conf").read_text()
        assert written_servers(text) == [SERVER_IP], text
        assert "search corp.example" in text, text

    extra = dial_lookup_hang_up(lab, "file", names=(INTERNAL, "intranet"), during=written)
    print(extra)
    assert root.read("/etc/resolv.conf") == original
    assert not list((tmp_path / "state" / "dns").glob("link-*"))


def test_wireguard_file_backend_bind_mounted_split_tunnel(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, cleanup_daemon: list[Lab]
) -> None:
    """A split tunnel's ``DNS =`` server follows the original ones (resolv.conf cannot route
    by domain); written in place into a bind-mounted file and restored byte for byte."""
    lab, root = make_wg_lab(netns_lab, netns_pair, tmp_path, full=False, bind=True)
    cleanup_daemon.append(lab)
    original = b"# the uplink's\nnameserver 10.255.255.53\noptions timeout:1\n"
    (root.dir / "resolv.conf").write_bytes(original)
    root.start()
    lab.start_daemon({"OPENRAS_DNS_BACKEND": "file"})

    def written() -> None:
        text = (root.dir / "resolv.conf").read_text()
        assert written_servers(text) == ["10.255.255.53", SERVER_IP], text

    dial_lookup_hang_up(lab, "file", names=(INTERNAL, "intranet"), during=written)
    assert (root.dir / "resolv.conf").read_bytes() == original


def test_wireguard_resolvconf_backend(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, debs: Path,
    cleanup_daemon: list[Lab],
) -> None:  # fmt: skip
    pkg = debian_package("resolvconf", debs)
    if pkg is None:
        pytest.skip("apt-get download resolvconf failed")
    lab, root = make_wg_lab(netns_lab, netns_pair, tmp_path, full=False)
    cleanup_daemon.append(lab)
    install_resolvconf(root, pkg, "nameserver 10.255.255.53\noptions timeout:1\n")
    root.start()
    res = root.run("resolvconf", "-u")
    assert res.returncode == 0, res.stderr
    original = root.read("/etc/resolv.conf")
    lab.start_daemon()  # chosen by itself: resolvconf is installed there

    def recorded() -> None:
        records = list(root.upper("/run/resolvconf/interface").glob("*.openras"))
        assert [r.read_text() for r in records] == [
            f"nameserver {SERVER_IP}\nsearch corp.example\n"
        ], records

    dial_lookup_hang_up(lab, "resolvconf", names=(INTERNAL, "intranet"), during=recorded)
    assert not list(root.upper("/run/resolvconf/interface").glob("*.openras"))
    assert root.read("/etc/resolv.conf") == original


@pytest.mark.parametrize("full", [False, True], ids=["split", "full"])
def test_wireguard_resolved_backend(
    netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path, debs: Path,
    cleanup_daemon: list[Lab], full: bool,
) -> None:  # fmt: skip
    """Through systemd-resolved: split (AllowedIPs the tunnel's subnet) sends only names
    under ``corp.example`` to the link's server; full (0.0.0.0/0) sends every lookup."""
    pkg = resolved_package(debs)
    lab, root = make_wg_lab(netns_lab, netns_pair, tmp_path, full=full)
    cleanup_daemon.append(lab)
    bus = start_resolved(lab, pkg)
    original = root.read("/etc/resolv.conf")
    lab.start_daemon(bus)
    assert "DNS backend: resolved" in lab.log()
    elsewhere = "www.elsewhere.example"

    def routing() -> None:
        root.lookup(elsewhere)
        asked = {name for _, name in lab.dns.queries()}
        assert (elsewhere in asked) is full, asked

    dial_lookup_hang_up(lab, "resolved", names=(INTERNAL, "intranet"), during=routing)
    assert root.read("/etc/resolv.conf") == original
    assert root.lookup(INTERNAL) is None


def resolved_package(debs: Path) -> Path:
    """systemd-resolved unpacked from the package matching the installed systemd (or skip)."""
    require_programs("dbus-daemon")
    systemd = installed_version("systemd")
    if systemd is None:  # never installed by the tests: it changes /dev/net/tun (links-lab.md)
        pytest.skip("systemd-resolved needs libsystemd-shared from the systemd package")
    pkg = debian_package("systemd-resolved", debs, systemd)
    if pkg is None:
        pytest.skip("apt-get download systemd-resolved failed")
    return pkg


def start_resolved(lab: Lab, pkg: Path) -> dict[str, str]:
    """A private system bus and systemd-resolved on it, inside the lab's private root; the
    environment that points a daemon at that bus."""
    root, tmp_path = lab.root, lab.tmp
    install_resolved(root)
    bus_sock = lab.socket.parent / "bus.sock"  # resolved connects as its own user: not in tmp_path
    (tmp_path / "bus.conf").write_text(BUS_CONF.format(sock=bus_sock))
    root.start()
    root.spawn(
        ["dbus-daemon", f"--config-file={tmp_path / 'bus.conf'}", "--nofork"],
        log=tmp_path / "dbus.log",
    )
    assert wait_until(bus_sock.exists, 10)
    bus = {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus_sock}"}
    resolved = root.spawn([str(pkg / "lib/systemd/systemd-resolved")], log=tmp_path / "resolved.log",
                          env={**os.environ, **bus})  # fmt: skip

    def owned() -> bool:
        assert resolved.poll() is None, (tmp_path / "resolved.log").read_text()
        return asyncio.run(
            name_has_owner(bus["DBUS_SYSTEM_BUS_ADDRESS"], "org.freedesktop.resolve1")
        )

    assert wait_until(owned, 10)
    assert wait_until(lambda: root.upper("/run/systemd/resolve/stub-resolv.conf").exists(), 10)
    return bus


async def name_has_owner(address: str, name: str) -> bool:
    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus", member="NameHasOwner", signature="s",
                    body=[name])
        )  # fmt: skip
        return bool(reply is not None and reply.body and reply.body[0] is True)
    finally:
        bus.disconnect()
