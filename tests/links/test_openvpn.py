"""The OpenVPN link against a real openvpn server, client and server in two namespaces.

The driver runs in this process, moved into the client namespace (``NetnsLab.inside``), as
the daemon would run there; the adoption test plays a crashed daemon with a helper process.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from _linkkit import stop_during_start
from netns import NetnsLab, NsPair, pids_in_netns, require_programs, wait_until
from ovpn_lab import PASSWORD, USER, OvpnServer, client_profile, make_pki

from openras.errors import RasError
from openras.links.base import (
    DialParams,
    LinkEvent,
    LinkFailed,
    LinkLost,
    LinkSpec,
    StateReached,
)
from openras.links.openvpn.driver import OpenVpnLink
from openras.manager.entries import EntrySnapshot
from openras.policy import Grant
from openras.states import RasConnState

pytestmark = [pytest.mark.netns, pytest.mark.root, pytest.mark.timeout(60)]
HERE = Path(__file__).resolve().parent
_handles = iter(range(9100, 9999))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_programs("openvpn", "openssl", "ping")
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def server(netns_lab: NetnsLab, netns_pair: NsPair, tmp_path: Path) -> OvpnServer:
    """A server, not started yet (tests choose its options or leave it down)."""
    d = tmp_path / "server"
    d.mkdir()
    third = int(netns_pair.addr_a.split(".")[2])
    return OvpnServer(netns_pair, d, tunnel_net=f"10.232.{third}")


class Events:
    """The link's emit(): records events and lets a test wait for one (bounded)."""

    def __init__(self) -> None:
        self.items: list[tuple[float, LinkEvent]] = []
        self._changed = asyncio.Event()

    def __call__(self, ev: LinkEvent) -> None:
        self.items.append((time.monotonic(), ev))
        self._changed.set()

    @property
    def states(self) -> list[RasConnState]:
        return [e.state for _, e in self.items if isinstance(e, StateReached)]

    async def wait_for(self, pred: Callable[[LinkEvent], bool], timeout: float) -> LinkEvent:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for _, ev in self.items[seen:]:
                if pred(ev):
                    return ev
            seen = len(self.items)
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no matching event within {timeout}s; got {self.items}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def connected(self, timeout: float = 15) -> None:
        ev = await self.wait_for(
            lambda e: (
                isinstance(e, LinkFailed | LinkLost)
                or (isinstance(e, StateReached) and e.state is RasConnState.Connected)
            ),
            timeout,
        )
        assert isinstance(ev, StateReached), ev


def make_spec(
    tmp_path: Path, profile: Path, *, password: str = PASSWORD, run_dir: Path | None = None,
    grant: Grant | None = None, **keys: str,
) -> LinkSpec:  # fmt: skip
    handle = next(_handles)
    pbk = profile.parent / "rasphone.pbk"
    all_keys = {"OpenRasDevice": "openvpn", "OpenRasOpenVpnProfile": profile.name, **keys}
    return LinkSpec(
        handle=handle,
        owner_uid=0,
        entry=EntrySnapshot("VPN", {k.lower(): v for k, v in all_keys.items()}, str(pbk)),
        params=DialParams(entry_name="VPN", user=USER, password=password),
        run_dir=run_dir or tmp_path / f"run-{handle}",
        marker=f"test:{handle}",
        phonebook=pbk,
        grant=grant or Grant(),
    )


def report(name: str, ms: float) -> None:
    """Timings go to the terminal (run with -s) and to a file for the record."""
    line = f"{name}: {ms:.0f} ms"
    print(line)
    with open(os.environ.get("OPENRAS_TIMINGS", "/tmp/openras-openvpn-timings.txt"), "a") as fh:
        fh.write(line + "\n")


def iface_gone(lab: NetnsLab, ns: str, ifname: str) -> bool:
    return ifname not in lab.links(ns)


async def hang_up(link: OpenVpnLink) -> float:
    t0 = time.monotonic()
    link.request_stop()
    await asyncio.wait_for(link.wait_closed(), 15)
    return (time.monotonic() - t0) * 1000


@pytest.fixture
def inside_b(netns_lab: NetnsLab, netns_pair: NsPair) -> Iterator[None]:
    with netns_lab.inside(netns_pair.b):
        yield


# ---------------------------------------------------------------------------------- tests


async def test_dial_ping_stats_projection_hang_up(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path,
    inside_b: None,
) -> None:  # fmt: skip
    server.start(netns_lab, pki)
    profile = client_profile(tmp_path, server, pki, inline_ca=True)
    # A run dir too long for AF_UNIX: the driver must still reach its socket.
    run_dir = tmp_path / ("long-" * 12) / "run"
    spec = make_spec(tmp_path, profile, run_dir=run_dir)
    assert len(str(run_dir / "mgmt.sock")) > 108
    events = Events()
    link = OpenVpnLink(spec, events)
    t0 = time.monotonic()
    await link.start()
    await events.connected()
    report(
        f"openvpn dial-to-connected {[s.name for s in events.states]}",
        (time.monotonic() - t0) * 1000,
    )
    assert events.states[0] is RasConnState.ConnectDevice
    for s in (RasConnState.Authenticate, RasConnState.AuthProject, RasConnState.Projected):
        assert s in events.states
    assert events.states[-1] is RasConnState.Connected
    assert events.states == sorted(events.states), "states go forward only"

    # No config file: openvpn got argv built from the checked profile; keys are sealed 0600
    # memory files it inherited (none on disk); the password is nowhere on disk or in argv.
    assert link.pid is not None
    cmdline = psutil.Process(link.pid).cmdline()
    assert "--config" not in cmdline and PASSWORD not in " ".join(cmdline)
    assert not (run_dir / "openvpn.conf").exists() and not (run_dir / "keys").exists()
    named = {cmdline[i - 1]: a for i, a in enumerate(cmdline) if a.startswith("/proc/self/fd/")}
    assert sorted(named) == ["--ca", "--cert", "--key"]
    for option, arg in named.items():
        held = Path(f"/proc/{link.pid}/fd/{arg.rsplit('/', 1)[1]}")
        assert os.readlink(held).startswith("/memfd:"), (option, os.readlink(held))
        assert held.stat().st_mode & 0o777 == 0o600
        content = held.read_bytes()
        assert b"-----BEGIN " in content and PASSWORD.encode() not in content
        fd = os.open(held, os.O_RDONLY)
        try:
            assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) & fcntl.F_SEAL_WRITE
        finally:
            os.close(fd)
    mine = []
    for n in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            mine.append(os.readlink(f"/proc/self/fd/{n}"))
    assert not [t for t in mine if t.startswith("/memfd:")], "the daemon closed its copies"
    assert [a for a in cmdline if a.startswith("--")] == [
        "--client", "--proto", "--remote", "--ca", "--cert", "--key",
        "--remote-cert-tls", "--auth-user-pass", "--nobind", "--cd", "--dev", "--dev-type",
        "--auth-retry", "--verb", "--auth-nocache", "--management", "--management-hold",
        "--management-query-passwords",
    ]  # fmt: skip

    assert netns_lab.ping(netns_pair.b, server.tunnel_ip, count=2)
    stats = await link.statistics()
    assert stats.bytes_sent > 0 and stats.bytes_received > 0
    assert stats.frames_sent >= 2 and stats.frames_received >= 2
    proj = await link.projection()
    assert proj is not None
    assert proj.interface == link.ifname
    assert proj.local_address in netns_lab.addresses(netns_pair.b, link.ifname)
    assert proj.remote_address == server.tunnel_ip
    assert proj.dns == (server.pushed_dns,)
    assert proj.extra["server"] == netns_pair.addr_a

    pid = link.pid
    report("openvpn teardown", await hang_up(link))
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert iface_gone(netns_lab, netns_pair.b, link.ifname)
    assert not run_dir.exists()
    # The stop was ours: nothing more is reported.
    assert not any(isinstance(e, LinkFailed | LinkLost) for _, e in events.items)


async def test_wrong_password_is_691(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path,
    inside_b: None,
) -> None:  # fmt: skip
    server.start(netns_lab, pki)
    spec = make_spec(tmp_path, client_profile(tmp_path, server, pki), password="wrong")
    events = Events()
    link = OpenVpnLink(spec, events)
    await link.start()
    ev = await events.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 15)
    assert isinstance(ev, LinkFailed) and ev.error == 691, ev
    assert RasConnState.Connected not in events.states
    # The driver stops openvpn itself after a failure (exit status 0 notwithstanding).
    await asyncio.wait_for(link.wait_closed(), 10)
    assert iface_gone(netns_lab, netns_pair.b, link.ifname)
    assert len([e for _, e in events.items if isinstance(e, LinkFailed)]) == 1


async def test_untrusted_server_certificate_is_801_at_once(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path,
    inside_b: None,
) -> None:  # fmt: skip
    server.start(netns_lab, pki)
    other_ca = make_pki(tmp_path / "other-pki")  # the client trusts some other CA
    profile = client_profile(tmp_path, server, pki)
    (tmp_path / "ca.crt").write_bytes((other_ca / "ca.crt").read_bytes())
    events = Events()
    link = OpenVpnLink(make_spec(tmp_path, profile), events)
    t0 = time.monotonic()
    await link.start()
    ev = await events.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 10)
    assert isinstance(ev, LinkFailed) and ev.error == 801, ev
    assert "VERIFY ERROR" in ev.detail
    assert time.monotonic() - t0 < 5  # not the dial timeout
    await asyncio.wait_for(link.wait_closed(), 10)


async def test_server_down_fails_in_bounded_time(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path,
    inside_b: None,
) -> None:  # fmt: skip
    profile = client_profile(
        tmp_path, server, pki, extra="server-poll-timeout 2\nconnect-retry 1 1\nconnect-retry-max 1"
    )
    spec = make_spec(tmp_path, profile, OpenRasDialTimeoutMs="8000")
    events = Events()
    link = OpenVpnLink(spec, events)
    t0 = time.monotonic()
    await link.start()
    ev = await events.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 12)
    elapsed = time.monotonic() - t0
    report(f"openvpn server-down failure ({ev})", elapsed * 1000)
    assert isinstance(ev, LinkFailed)
    assert ev.error in (808, 809), ev  # refused (ICMP port unreachable) or no answer
    assert elapsed < 10
    await asyncio.wait_for(link.wait_closed(), 10)


async def test_dial_timeout_when_server_silent(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path,
    inside_b: None,
) -> None:  # fmt: skip
    # Packets to the server vanish (no ICMP): only the driver's dial timeout ends it.
    netns_lab.run(netns_pair.a, ["ip", "link", "set", netns_pair.if_a, "down"])
    spec = make_spec(tmp_path, client_profile(tmp_path, server, pki), OpenRasDialTimeoutMs="1500")
    events = Events()
    link = OpenVpnLink(spec, events)
    t0 = time.monotonic()
    await link.start()
    ev = await events.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 6)
    assert isinstance(ev, LinkFailed) and ev.error == 809, ev
    assert 1.4 < time.monotonic() - t0 < 4
    await asyncio.wait_for(link.wait_closed(), 10)


@pytest.mark.parametrize(
    ("how", "expected"),
    [("SIGKILL", 829), ("SIGTERM", 629)],
    ids=["server-vanishes", "server-stops-with-notice"],
)
async def test_server_gone_while_connected_drops(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path,
    inside_b: None, how: str, expected: int,
) -> None:  # fmt: skip
    server.start(netns_lab, pki, keepalive=(1, 3), exit_notify=how == "SIGTERM")
    spec = make_spec(tmp_path, client_profile(tmp_path, server, pki))
    events = Events()
    link = OpenVpnLink(spec, events)
    await link.start()
    await events.connected()
    assert server.proc is not None
    t0 = time.monotonic()
    server.proc.send_signal(getattr(signal, how))
    ev = await events.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 15)
    report(f"openvpn drop detected ({how} server: {ev})", (time.monotonic() - t0) * 1000)
    assert isinstance(ev, LinkLost), ev
    assert ev.error == expected and ev.detail, ev
    await asyncio.wait_for(link.wait_closed(), 10)
    assert iface_gone(netns_lab, netns_pair.b, link.ifname)


def _read_json_line(proc: subprocess.Popen[bytes], key: str, timeout: float) -> dict[str, object]:
    """Read the helper's stdout until a JSON line with ``key`` (bounded)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            obj = json.loads(line)
            if key in obj:
                return dict(obj[key])
            if obj.get("event") in ("LinkFailed", "LinkLost"):
                pytest.fail(f"helper link failed: {obj}")
    pytest.fail(f"helper printed no {key!r} in {timeout}s: {buf!r}")


def dial_in_crashing_daemon(lab: NetnsLab, pair: NsPair, spec: LinkSpec) -> dict[str, object]:
    """Dial ``spec`` in a helper process in namespace B, then SIGKILL it; the record."""
    cfg = {
        "handle": spec.handle, "keys": dict(spec.entry.keys),  # type: ignore[attr-defined]
        "phonebook": str(spec.phonebook), "user": USER, "password": PASSWORD,
        "run_dir": str(spec.run_dir),
    }  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    host = lab.spawn(
        pair.b, [sys.executable, str(HERE / "_ovpn_host.py")],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert host.stdin is not None
    host.stdin.write(json.dumps(cfg).encode() + b"\n")
    host.stdin.flush()
    record = _read_json_line(host, "record", 20)
    # The "daemon" dies without a word; openvpn (its own session) must outlive it.
    host.send_signal(signal.SIGKILL)
    host.wait(5)
    pid = int(record["pid"])  # type: ignore[call-overload]
    assert psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    return record


async def test_adopt_after_daemon_crash(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path
) -> None:
    server.start(netns_lab, pki)
    spec = make_spec(tmp_path, client_profile(tmp_path, server, pki))
    record = dial_in_crashing_daemon(netns_lab, netns_pair, spec)
    pid = int(record["pid"])  # type: ignore[call-overload]
    events = Events()
    with netns_lab.inside(netns_pair.b):
        link = await OpenVpnLink.adopt(spec, record, events)
        assert isinstance(link, OpenVpnLink)
        await events.connected(5)
        assert netns_lab.ping(netns_pair.b, server.tunnel_ip)
        proj = await link.projection()
        assert proj is not None and proj.local_address and proj.dns == (server.pushed_dns,)
        report("openvpn teardown (adopted)", await hang_up(link))
    assert wait_until(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
        5,
    )
    assert iface_gone(netns_lab, netns_pair.b, link.ifname)
    assert not spec.run_dir.exists()


async def test_adopt_reports_a_drop_that_happened_meanwhile(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path
) -> None:
    server.start(netns_lab, pki, exit_notify=True)
    spec = make_spec(tmp_path, client_profile(tmp_path, server, pki))
    record = dial_in_crashing_daemon(netns_lab, netns_pair, spec)
    # While no daemon watches, the server goes away: openvpn restarts and waits in HOLD.
    assert server.proc is not None
    netns_lab.stop(server.proc)
    log = spec.run_dir / "openvpn.log"
    assert wait_until(lambda: "server-pushed-connection-reset" in log.read_text(), 10)
    events = Events()
    with netns_lab.inside(netns_pair.b):
        link = await OpenVpnLink.adopt(spec, record, events)
        assert isinstance(link, OpenVpnLink)
        ev = await events.wait_for(lambda e: isinstance(e, LinkFailed | LinkLost), 5)
        assert ev == LinkLost(629, "openvpn reconnecting: server-pushed-connection-reset")
        await asyncio.wait_for(link.wait_closed(), 10)  # the driver stopped it itself
    assert iface_gone(netns_lab, netns_pair.b, link.ifname)


async def test_adopt_of_a_dead_link_cleans_up(tmp_path: Path, pki: Path) -> None:
    """A record whose process is gone: adopt answers None and removes the run dir."""
    spec = make_spec(tmp_path, tmp_path / "client.ovpn")
    spec.run_dir.mkdir()
    (spec.run_dir / "keys").mkdir()
    (spec.run_dir / "keys" / "ca.pem").write_text("x\n")
    dead = subprocess.Popen(["true"])
    dead.wait()
    record = {"pid": dead.pid, "create_time": 1.0, "mgmt": str(spec.run_dir / "mgmt.sock"),
              "ifname": "orvpn-none"}  # fmt: skip
    assert await OpenVpnLink.adopt(spec, record, Events()) is None
    assert not spec.run_dir.exists()


async def test_hang_up_while_starting(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path,
    inside_b: None,
) -> None:  # fmt: skip
    """A stop requested while start() still prepares (the manager does that on a hang-up
    mid-dial) means openvpn is never started: nothing would be left to stop it later."""
    spec = make_spec(tmp_path, client_profile(tmp_path, server, pki))
    events = Events()
    link = OpenVpnLink(spec, events)
    assert (await stop_during_start(link)).code == 631
    assert link.proc is None
    assert events.items == []
    assert not [p for p in pids_in_netns(netns_pair.b) if psutil.Process(p).name() == "openvpn"]
    assert not spec.run_dir.exists()


async def test_split_tunnel_policy_against_a_real_server(
    netns_lab: NetnsLab, netns_pair: NsPair, server: OvpnServer, pki: Path, tmp_path: Path,
    inside_b: None,
) -> None:  # fmt: skip
    """The server pushes redirect-gateway and routes; a dial without the right to a full
    tunnel connects, but none of the pushed routes is installed (``--route-nopull``), the
    profile's own (checked) route is, and the pushed DNS still reaches the projection."""
    server.start(netns_lab, pki, push=("redirect-gateway def1", "route-ipv6 ::/0"))
    own = f"{server.tunnel_net.rsplit('.', 1)[0]}.251.0"
    profile = client_profile(tmp_path, server, pki, extra=f"route {own} 255.255.255.0")
    split = Grant(full_tunnel=False, full_tunnel_rule="policy.conf:3: full-tunnel = no")
    events = Events()
    link = OpenVpnLink(make_spec(tmp_path, profile, grant=split), events)
    await link.start()
    await events.connected()
    assert link.pid is not None
    cmdline = psutil.Process(link.pid).cmdline()
    assert cmdline[1:8] == [
        "--route-nopull", "--pull-filter", "ignore", "redirect-gateway",
        "--pull-filter", "ignore", "redirect-private",
    ]  # fmt: skip
    routes = netns_lab.run(netns_pair.b, ["ip", "route", "show", "dev", link.ifname]).stdout
    assert f"{own}/24" in routes, routes
    pushed = f"{server.tunnel_net.rsplit('.', 1)[0]}.250.0/24"
    # (the tunnel's own subnet may be that one too, as a kernel route: not a pushed one)
    assert not [r for r in routes.splitlines() if r.startswith(pushed) and "proto kernel" not in r]
    assert "0.0.0.0/1" not in routes and "default" not in routes
    routes6 = netns_lab.run(netns_pair.b, ["ip", "-6", "route", "show", "dev", link.ifname]).stdout
    assert "::/" not in routes6.replace("fe80::/64", ""), routes6
    proj = await link.projection()
    assert proj is not None and proj.dns == (server.pushed_dns,)
    assert netns_lab.ping(netns_pair.b, server.tunnel_ip)
    await hang_up(link)

    # The same profile asking for a full tunnel itself is refused before anything runs.
    profile.write_text(profile.read_text() + "redirect-gateway def1\n")
    with pytest.raises(RasError) as info:
        OpenVpnLink.validate(make_spec(tmp_path, profile, grant=split))
    assert info.value.code == 5 and "policy.conf:3: full-tunnel = no" in str(info.value.detail)
