"""``openras dial`` and ``rasdial`` of an OpenVPN entry whose profile says ``auth-user-pass``
and for which nothing is given or saved: on a terminal they ask and connect; elsewhere 691
at once and no openvpn is started.

Real programs: an OpenVPN server in namespace A (``tests/links/ovpn_lab.py``, which checks
the user name and password), rasman in namespace B, the commands on a pty (pexpect) talking
to rasman's socket.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import psutil
import pytest
from cli_support import OPENRAS, RASDIAL, TIMEOUT

from openras.cli.rasdial_output import exit_status
from openras.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "links"))

from netns import (
    NetnsLab,
    NsPair,
    require_programs,
    require_root_netns,
)
from ovpn_lab import PASSWORD, USER, OvpnServer, client_profile, make_pki
from rasman_ns import Daemon, program_pids, rasman_in

pytestmark = [pytest.mark.netns, pytest.mark.root, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root_netns()
    require_programs("openvpn", "openssl", "ping")
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[NetnsLab]:
    lab = NetnsLab(workdir=tmp_path)
    try:
        yield lab
    finally:
        lab.close()


class Setup:
    """The server in A, rasman in B, the entry in a phonebook the commands name."""

    def __init__(self, lab: NetnsLab, pair: NsPair, tmp: Path, pki: Path, daemon: Daemon) -> None:
        self.lab = lab
        self.pair = pair
        d = tmp / "server"
        d.mkdir()
        self.server = OvpnServer(
            self.pair, d, tunnel_net=f"10.232.{self.pair.addr_a.split('.')[2]}"
        )
        self.server.start(lab, pki)
        client_profile(tmp, self.server, pki)  # auth-user-pass, no file
        self.pbk = tmp / "rasphone.pbk"
        self.pbk.write_text(
            "[Lab VPN]\nEncoding=1\nType=2\n"
            f"PhoneNumber={self.pair.addr_a}\n"
            "OpenRasDevice=openvpn\nOpenRasOpenVpnProfile=client.ovpn\n"
            "OpenRasDialTimeoutMs=10000\n"
        )
        self.daemon = daemon
        self.socket = daemon.socket
        self.env = {**os.environ, "OPENRAS_SOCKET": str(self.socket)}
        self.env.pop("NO_COLOR", None)

    def client(self) -> Client:
        return self.daemon.client()

    def openvpn_pids(self) -> list[int]:
        return program_pids(self.pair.b, "openvpn")

    def hang_up_all(self) -> None:
        self.daemon.hang_up_all()


@pytest.fixture
def setup(lab: NetnsLab, tmp_path: Path, pki: Path) -> Iterator[Setup]:
    pair = lab.create_pair()
    with rasman_in(lab, pair.b, tmp_path, OPENRAS_DNS_BACKEND="none") as daemon:
        yield Setup(lab, pair, tmp_path, pki, daemon)


def spawn(s: Setup, argv: list[str], *args: str) -> tuple[pexpect.spawn, io.StringIO]:
    transcript = io.StringIO()
    child = pexpect.spawn(argv[0], [*argv[1:], *args], env=s.env, encoding="utf-8", timeout=TIMEOUT)
    child.logfile_read = transcript
    return child, transcript


def test_openras_dial_asks_then_connects(setup: Setup) -> None:
    child, transcript = spawn(setup, OPENRAS, "--phonebook", str(setup.pbk), "dial", "Lab VPN")
    child.expect("Lab VPN needs a user name and password")
    child.expect("User name: ")
    assert setup.openvpn_pids() == [], "openvpn started before the credentials were there"
    child.sendline(USER)
    child.expect(f"Password for {USER}: ")
    child.sendline(PASSWORD)
    child.expect("Connected")
    child.expect(pexpect.EOF)
    child.close()
    text = transcript.getvalue()
    assert child.exitstatus == 0, text
    assert PASSWORD not in text, "the password was echoed"
    assert setup.lab.ping(setup.pair.b, setup.server.tunnel_ip), "no traffic through the tunnel"
    [pid] = setup.openvpn_pids()
    assert PASSWORD not in " ".join(psutil.Process(pid).cmdline())
    setup.hang_up_all()


def test_rasdial_asks_on_a_terminal(setup: Setup) -> None:
    child, transcript = spawn(setup, RASDIAL, "Lab VPN", f"/PHONEBOOK:{setup.pbk}")
    child.expect("Enter a user name to connect to 'Lab VPN': ")
    child.sendline(USER)
    child.expect(f"Enter password for {USER} to connect to 'Lab VPN': ")
    child.sendline(PASSWORD)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, transcript.getvalue()
    assert setup.lab.ping(setup.pair.b, setup.server.tunnel_ip)
    setup.hang_up_all()


def test_without_a_terminal_691_at_once(setup: Setup) -> None:
    for argv in (
        [*OPENRAS, "--phonebook", str(setup.pbk), "dial", "Lab VPN"],
        [*RASDIAL, "Lab VPN", f"/PHONEBOOK:{setup.pbk}"],
    ):
        t0 = time.monotonic()
        out = subprocess.run(
            argv, input="", capture_output=True, text=True, env=setup.env, timeout=TIMEOUT,
            check=False,
        )  # fmt: skip
        elapsed = time.monotonic() - t0
        both = out.stdout + out.stderr
        assert out.returncode == exit_status(691), both
        assert "691" in both and "asks for a user name and password" in out.stderr, both
        assert "user name:" not in both.lower() and "enter password" not in both.lower()
        assert elapsed < 10, elapsed  # the refusal itself, plus a cold interpreter start
        assert setup.openvpn_pids() == []
    with setup.client() as c:
        assert c.connections(include_pending=True) == []
