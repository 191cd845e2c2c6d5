"""The chaos soak (issue 16 §4): random dials, hang-ups, redials and faults against one
rasman, with the invariants checked against /proc and the state directory after each step.

Faults: SIGKILL of the daemon (idle, mid-dial, mid-teardown, racing a dial, a link dying
while it is down; each time restarted, and it must adopt), of link programs (connected and
mid-dial), of clients mid-dial, and links that drop by themselves. Invariants (see
``_chaos.Soak.check``): every link process belongs to exactly one row and is the one its
persisted row names (the same process across restarts: adopted, not replaced); no run
directory without a row; enumeration equals the persisted table and each handle's status;
handles are never reused and every hung-up one answers 6 for the rest of the run; at the
end nothing is left, and the daemon's memory did not grow.

The default is the short CI run; ``--soak-minutes N`` the long one, ``--soak-seed S`` (or
``OPENRAS_SOAK_SEED``) replays a run. The seed and a summary line are printed (``-s``).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol

import pytest
from _chaos import Daemon, Entries, Soak, Truth, marked_links, poll
from _linkkit import ip_json, rules
from netns import NetnsLab, NsPair, require_programs, require_root_netns
from ovpn_lab import PASSWORD, USER, OvpnServer, client_profile, make_pki
from rasman_ns import rasman_in
from test_wireguard import WG_PORT, client_config, keypair, start_server

from openras import errors

pytestmark = [pytest.mark.slow]

#: The CI run: at most this many steps, and at most this long (a busy 2-core machine).
CI_STEPS = 100
CI_SECONDS = 20.0
#: Growth of the daemon's RSS tolerated between warm-up and the end (see test docstring).
RSS_GROWTH = 12 * 2**20

LOOPBACK = {
    "Quick A": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackHangUpMs=0",
    "Quick B": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackHangUpMs=0",
    "Quick C": "OpenRasLoopbackStepMs=2\nOpenRasLoopbackHangUpMs=40",
    # Ignores the stop command: killed at its deadline, whether hung up or adopted so.
    "Stubborn": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackIgnoreHangUp=1\nOpenRasKillDeadlineMs=300",
    # About 1.2 s to connect: long enough to kill a client, a link or the daemon mid-dial.
    "Slow": "OpenRasLoopbackStepMs=120\nOpenRasLoopbackHangUpMs=300",
    "Dropper": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackDropAfterMs=300\nOpenRasLoopbackHangUpMs=0",
    "Bad": "OpenRasLoopbackStepMs=0\nOpenRasLoopbackFailState=ConnectDevice\nOpenRasLoopbackFailCode=678",
}
ENTRIES = Entries(
    quick=("Quick A", "Quick B", "Quick C", "Stubborn"), slow="Slow", dropper="Dropper", bad="Bad"
)


class Rasman(Daemon, Protocol):
    """The ``rasman`` fixture (tests/conftest.py) as the soak uses it."""

    log: Path | None

    def stop(self) -> None: ...


def write_phonebook(path: Path) -> Path:
    path.write_text(
        "".join(f"[{name}]\nOpenRasDevice=loopback\n{keys}\n\n" for name, keys in LOOPBACK.items())
    )
    return path


def run_soak(
    soak: Soak, daemon: Daemon, pytestconfig: pytest.Config, seed: int
) -> tuple[int, int, int]:
    """The short or the long run, then hang up everything; (RSS warm, RSS end, growth)."""
    minutes = pytestconfig.getoption("--soak-minutes", default=None)
    print(f"\nchaos soak seed {seed} (replay: --soak-seed {seed})")
    started = time.monotonic()
    try:
        if minutes:
            soak.run(steps=None, seconds=float(minutes) * 60)
        else:
            soak.run(steps=CI_STEPS, seconds=CI_SECONDS)
        soak.finish()
    finally:
        soak.client.close()
    warm, end, growth = soak.memory()
    print(soak.summary())
    print(
        f"soak: {time.monotonic() - started:.0f} s; rasman RSS after warm-up {warm / 2**20:.1f} MB, "
        f"at the end {end / 2**20:.1f} MB; largest growth of one daemon process "
        f"{growth / 2**20:.1f} MB"
    )
    return warm, end, growth


def assert_nothing_left(soak: Soak, state_dir: Path, memory: tuple[int, int, int]) -> None:
    """After the daemon stopped: no link process, no run directory; no memory growth."""
    left = marked_links(soak.instance)
    run_dirs = list((state_dir / "links").iterdir())
    assert not left, f"link processes left after the daemon stopped: {left}"
    assert not run_dirs, f"run directories left: {run_dirs}"
    assert soak.steps >= 10, "too few steps to mean anything"
    warm, end, growth = memory
    assert end - warm < RSS_GROWTH, f"rasman grew from {warm} to {end} bytes"
    assert growth < RSS_GROWTH, f"one rasman process grew by {growth} bytes"


def seed_of(config: pytest.Config) -> int:
    chosen = config.getoption("--soak-seed", default=None)
    if chosen is None and os.environ.get("OPENRAS_SOAK_SEED"):
        chosen = int(os.environ["OPENRAS_SOAK_SEED"])
    return int(chosen) if chosen is not None else random.SystemRandom().randrange(2**32)


def test_chaos_soak_loopback(rasman: Rasman, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """Loopback links only: every fault but a server's.

    Memory: the daemon's RSS after ``warmup`` steps and at the end (each a quiescent point,
    at most ``max_live`` links up) may differ by at most RSS_GROWTH, and so may the first
    and last sample of any one daemon process. The table, its history (64 records) and the
    parsed-phonebook cache are bounded, so a steady run should stay within allocator noise
    (a few MB: arenas, the per-link objects of up to 6 links); 12 MB is generous for that
    and still catches a leak of a few KB per step over a long run.
    """
    seed = seed_of(pytestconfig)
    pbk = write_phonebook(tmp_path / "soak.pbk")
    soak = Soak(rasman, pbk, ENTRIES, random.Random(seed), log=rasman.log)
    memory = run_soak(soak, rasman, pytestconfig, seed)
    rasman.stop()
    assert_nothing_left(soak, rasman.state_dir, memory)


def test_the_soak_checker_sees_what_it_must(rasman: Rasman, tmp_path: Path) -> None:
    """A checker that sees nothing would pass any soak: plant an orphan link process, a run
    directory without a row and a row nobody dialed, and the check must name each."""
    pbk = write_phonebook(tmp_path / "soak.pbk")
    soak = Soak(rasman, pbk, ENTRIES, random.Random(0), log=rasman.log)
    stray_dir = rasman.state_dir / "links" / "link-999998"
    fake = None
    try:
        soak.check(soak.wait_quiet())
        assert soak.violations == []
        conn = soak.client.dial("Quick B", pbk)  # behind the model's back
        soak.check(soak.read())
        assert soak.violations == [f"a row nobody dialed: {conn.handle} 'Quick B' connected"]
        soak.violations.clear()
        fake = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"],
            env={**os.environ, "OPENRAS_LINK": f"{soak.instance}:999999"},
        )
        stray_dir.mkdir()
        assert poll(lambda: marked_links(soak.instance).get(999999), 10)
        soak.check(soak.read())
        text = "\n".join(soak.violations)
        assert "of handle 999999, which has no row" in text, text
        assert "run directory link-999998 without a row" in text, text
    finally:
        if fake is not None:
            fake.kill()
            fake.wait(5)
        if stray_dir.exists():
            stray_dir.rmdir()
        soak.client.close()


class SharedServer(OvpnServer):
    """The lab's OpenVPN server, letting several clients with the one test certificate in
    at once (two VPN entries up together)."""

    def write_config(
        self,
        pki: Path,
        *,
        keepalive: tuple[int, int],
        exit_notify: bool,
        push: tuple[str, ...] = (),
        verify_script: str | None = None,
    ) -> Path:
        conf = super().write_config(
            pki,
            keepalive=keepalive,
            exit_notify=exit_notify,
            push=push,
            verify_script=verify_script,
        )
        conf.write_text(conf.read_text() + "duplicate-cn\n")
        return conf


VPNS = ("VPN 1", "VPN 2")
TUNNELS = (*VPNS, "WG")
LINK_ENTRIES = Entries(
    quick=("Quick A", "Stubborn", *TUNNELS), slow="Slow", dropper="Dropper", bad="Bad"
)


class Lab:
    """What the links soak adds to the loopback one: an OpenVPN server to kill, and the
    client namespace's interfaces, routes and rules checked against the rows."""

    def __init__(self, lab: NetnsLab, pair: NsPair, server: OvpnServer, pki: Path) -> None:
        self.lab, self.pair, self.server, self.pki = lab, pair, server, pki
        self.ns = pair.b
        self.base_links = set(lab.links(self.ns))
        self.base_rules = (rules(self.ns), rules(self.ns, "-6"))
        self.ifaces: dict[int, str] = {}

    def kill_server(self, soak: Soak) -> None:
        """SIGKILL the server: every OpenVPN link on it drops (829, openvpn's ping-restart);
        the server is started again at once, for the next dials."""
        on_it = [h for h in soak.connected() if soak.rows[h].entry in VPNS]
        soak.note(f"SIGKILL the OpenVPN server ({len(on_it)} links on it), start it again")
        assert self.server.proc is not None
        self.server.proc.kill()
        self.server.proc.wait(5)
        soak.faults["OpenVPN server SIGKILLed"] += 1
        for h in on_it:
            soak.doom(h, frozenset({errors.ERROR_LINK_FAILURE}))
        self.server.log.unlink()  # start() waits for a fresh "Initialization Sequence Completed"
        self.server.start(self.lab, self.pki, keepalive=(1, 3))

    def check(self, soak: Soak, t: Truth) -> list[str]:
        """No interface, route or rule in the client namespace without a row that owns it."""
        v: list[str] = []
        want: set[str] = set()
        for h in soak.connected():
            if soak.rows[h].entry in TUNNELS:
                if h not in self.ifaces:
                    self.ifaces[h] = soak.client.projection(h).interface
                want.add(self.ifaces[h])
        present = set(self.lab.links(self.ns)) - self.base_links
        if present != want:
            v.append(f"interfaces {sorted(present)}, rows own {sorted(want)}")
        for family in ("-4", "-6"):
            for route in ip_json(self.ns, family, "route", "show", "table", "all"):
                dev = route.get("dev")
                if dev and dev not in self.base_links and dev not in want:
                    v.append(f"a route without a row: {route}")
        if (rules(self.ns), rules(self.ns, "-6")) != self.base_rules:
            v.append(f"policy rules changed: {rules(self.ns)} {rules(self.ns, '-6')}")
        return v


@pytest.mark.root
@pytest.mark.netns
def test_chaos_soak_links(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """The loopback soak with OpenVPN and WireGuard (wireguard-go) links beside them, rasman
    and its links in a network namespace, and one more fault: the OpenVPN server's death.
    After every step the client namespace holds exactly the tunnel devices (and their
    routes) of the connected rows and the policy rules it started with."""
    require_root_netns()
    require_programs("openvpn", "openssl", "wireguard-go", "wg")
    seed = seed_of(pytestconfig)
    netns = NetnsLab(workdir=tmp_path)
    try:
        pair = netns.create_pair()
        pki = make_pki(tmp_path / "pki")
        (tmp_path / "server").mkdir()
        server = SharedServer(
            pair, tmp_path / "server", tunnel_net=f"10.233.{pair.addr_a.split('.')[2]}"
        )
        server.start(netns, pki, keepalive=(1, 3))
        client_profile(tmp_path, server, pki)
        wg_private, wg_public = keypair()
        wg_server = start_server(netns, pair, tmp_path, client_pub=wg_public)
        wg_conf = client_config(
            tmp_path, wg_private, wg_server.public_key, f"{pair.addr_a}:{WG_PORT}"
        )
        pbk = write_phonebook(tmp_path / "soak.pbk")
        with pbk.open("a") as fh:
            for name in VPNS:
                fh.write(
                    f"[{name}]\nOpenRasDevice=openvpn\nPhoneNumber={pair.addr_a}\n"
                    "OpenRasOpenVpnProfile=client.ovpn\nOpenRasDialTimeoutMs=10000\n\n"
                )
            fh.write(
                "[WG]\nOpenRasDevice=wireguard\n"
                f"OpenRasWireGuardConfig={wg_conf.name}\nOpenRasDialTimeoutMs=5000\n\n"
            )
        lab = Lab(netns, pair, server, pki)
        with rasman_in(netns, pair.b, tmp_path) as daemon:
            soak = Soak(daemon, pbk, LINK_ENTRIES, random.Random(seed), log=daemon.log)
            for name in VPNS:
                soak.client.save_credentials(name, pbk, user=USER, password=PASSWORD)
            soak.extra_checks.append(lambda t: lab.check(soak, t))
            soak.extra_faults["kill_server"] = (4, lambda: lab.kill_server(soak))
            memory = run_soak(soak, daemon, pytestconfig, seed)
            assert daemon.proc is not None
            netns.stop(daemon.proc)
        assert_nothing_left(soak, daemon.state_dir, memory)
        assert set(netns.links(pair.b)) == lab.base_links
    finally:
        netns.close()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert pair.a not in listed.stdout and pair.b not in listed.stdout
