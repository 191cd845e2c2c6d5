"""OpenVPN challenge/response through rasman, against a real server that asks for a code.

The server (namespace A) checks logins with an ``auth-user-pass-verify`` script: a static
challenge's answer arrives as ``SCRV1:<b64 password>:<b64 code>``; for the dynamic one the
script refuses the first login with ``CRV1:R,E:<state>:<b64 user>:<text>`` (through openvpn's
``auth_failed_reason_file``) and accepts ``CRV1::<state>::<code>``. rasman runs in namespace
B; the dialer answers through ``Client.dial(on_input=...)`` and ``openras dial`` on a pty.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import psutil
import pytest
from netns import NetnsLab, NsPair, require_programs, require_root_netns, wait_until
from ovpn_lab import OvpnServer, client_profile, make_pki
from rasman_ns import Daemon, program_pids, rasman_in

from openras import errors
from openras.client import Client
from openras.states import RasConnState

pytestmark = [pytest.mark.netns, pytest.mark.root, pytest.mark.timeout(120)]

USER = "alice"
PASSWORD = "pw-1"
STATIC_CODE = "424242"
DYNAMIC_CODE = "777"
STATE = "state77"
OPENRAS = [sys.executable, "-m", "openras.cli.openras"]

VERIFY = f"""#!/bin/sh
# via-file: line 1 user, line 2 password (or the answer to a challenge)
user=$(sed -n 1p "$1"); pass=$(sed -n 2p "$1")
case "$pass" in
  SCRV1:*)
    pw=$(printf %s "$pass" | cut -d: -f2 | base64 -d)
    code=$(printf %s "$pass" | cut -d: -f3 | base64 -d)
    [ "$user" = {USER} ] && [ "$pw" = {PASSWORD} ] && [ "$code" = {STATIC_CODE} ] && exit 0 ;;
  CRV1::{STATE}::*)
    [ "$user" = {USER} ] && [ "${{pass#CRV1::{STATE}::}}" = {DYNAMIC_CODE} ] && exit 0 ;;
  {PASSWORD})
    if [ "$user" = {USER} ] && [ -n "$auth_failed_reason_file" ]; then
      printf 'CRV1:R,E:{STATE}:%s:Enter the code from the app' \\
        "$(printf %s {USER} | base64)" > "$auth_failed_reason_file"
    fi ;;
esac
exit 1
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root_netns()
    require_programs("openvpn", "openssl", "ping", "base64")
    return make_pki(tmp_path_factory.mktemp("pki"))


class Lab:
    """The server in A, rasman in B, an entry for each kind of challenge."""

    def __init__(self, lab: NetnsLab, pair: NsPair, tmp: Path, pki: Path, daemon: Daemon) -> None:
        self.lab = lab
        self.daemon = daemon
        self.pair = pair
        self.socket = daemon.socket
        self.log = daemon.log
        d = tmp / "server"
        d.mkdir()
        self.server = OvpnServer(
            self.pair, d, tunnel_net=f"10.232.{self.pair.addr_a.split('.')[2]}"
        )
        self.server.start(lab, pki, verify_script=VERIFY)
        (tmp / "static").mkdir()
        (tmp / "dynamic").mkdir()
        client_profile(tmp / "static", self.server, pki, extra='static-challenge "Enter PIN" 0')
        client_profile(tmp / "dynamic", self.server, pki)
        self.pbk = tmp / "rasphone.pbk"
        self.pbk.write_text(
            "".join(
                f"[{name}]\nEncoding=1\nType=2\nPhoneNumber={self.pair.addr_a}\n"
                f"OpenRasDevice=openvpn\nOpenRasOpenVpnProfile={sub}/client.ovpn\n"
                "OpenRasDialTimeoutMs=10000\n\n"
                for name, sub in (("Static", "static"), ("Dynamic", "dynamic"))
            )
        )

    def client(self) -> Client:
        return self.daemon.client()

    def openvpn_pids(self) -> list[int]:
        return program_pids(self.pair.b, "openvpn")


@pytest.fixture
def lab(tmp_path: Path, pki: Path) -> Iterator[Lab]:
    netns = NetnsLab(workdir=tmp_path)
    try:
        pair = netns.create_pair()
        with rasman_in(netns, pair.b, tmp_path, OPENRAS_DNS_BACKEND="none") as daemon:
            s = Lab(netns, pair, tmp_path, pki, daemon)
            yield s
            daemon.hang_up_all()
            assert wait_until(lambda: s.openvpn_pids() == [], 10), "openvpn left behind"
    finally:
        netns.close()


def test_static_challenge_is_asked_and_answered(lab: Lab) -> None:
    asked: list[tuple[str, bool]] = []
    states: list[RasConnState] = []

    def on_input(prompt: str, echo: bool) -> str:
        asked.append((prompt, echo))
        return STATIC_CODE

    with lab.client() as c:
        conn = c.dial("Static", lab.pbk, user=USER, password=PASSWORD, on_input=on_input,
                      on_state=lambda e: states.append(e.state))  # fmt: skip
        assert asked == [("Enter PIN", False)]
        assert RasConnState.Interactive in states
        assert states[-1] is RasConnState.Connected
        assert lab.lab.ping(lab.pair.b, lab.server.tunnel_ip), "no traffic through the tunnel"
        [pid] = lab.openvpn_pids()
        cmdline = " ".join(psutil.Process(pid).cmdline())
        assert STATIC_CODE not in cmdline and PASSWORD not in cmdline
        conn.hang_up(wait=True)
    assert STATIC_CODE not in lab.log.read_text(), "the code reached the daemon's log"


def test_a_dialer_that_allows_no_questions_gets_703_at_once(lab: Lab) -> None:
    with lab.client() as c:
        t0 = time.monotonic()
        with pytest.raises(errors.RasError) as info:
            c.dial("Static", lab.pbk, user=USER, password=PASSWORD)
        assert info.value.code == errors.ERROR_INTERACTIVE_MODE
        assert "Enter PIN" in (info.value.detail or "")
        assert time.monotonic() - t0 < 8  # openvpn's start and TLS, not the dial timeout
        c.hang_up(info.value.handle, wait=True)
    assert wait_until(lambda: lab.openvpn_pids() == [], 10)


def test_dynamic_challenge_is_asked_and_answered(lab: Lab) -> None:
    asked: list[tuple[str, bool]] = []

    def on_input(prompt: str, echo: bool) -> str:
        asked.append((prompt, echo))
        return DYNAMIC_CODE

    with lab.client() as c:
        conn = c.dial("Dynamic", lab.pbk, user=USER, password=PASSWORD, on_input=on_input)
        assert asked == [("Enter the code from the app", True)]
        assert c.status(conn.handle).state is RasConnState.Connected
        assert lab.lab.ping(lab.pair.b, lab.server.tunnel_ip)
        conn.hang_up(wait=True)


def test_a_wrong_answer_is_691(lab: Lab) -> None:
    with lab.client() as c:
        with pytest.raises(errors.RasError) as info:
            c.dial("Dynamic", lab.pbk, user=USER, password=PASSWORD, on_input=lambda p, e: "1")
        assert info.value.code == errors.ERROR_AUTHENTICATION_FAILURE
        c.hang_up(info.value.handle, wait=True)


def test_openras_dial_asks_on_the_terminal(lab: Lab) -> None:
    with lab.client() as c:
        c.save_credentials("Static", lab.pbk, user=USER, password=PASSWORD)
    transcript = io.StringIO()
    env = {**os.environ, "OPENRAS_SOCKET": str(lab.socket)}
    child = pexpect.spawn(
        OPENRAS[0], [*OPENRAS[1:], "--phonebook", str(lab.pbk), "dial", "Static"],
        env=env, encoding="utf-8", timeout=60,
    )  # fmt: skip
    child.logfile_read = transcript
    child.expect("Enter PIN: ")
    child.sendline(STATIC_CODE)
    child.expect("Connected")
    child.expect(pexpect.EOF)
    child.close()
    text = transcript.getvalue()
    assert child.exitstatus == 0, text
    assert STATIC_CODE not in text, "the code was echoed (the profile says no echo)"
    assert lab.lab.ping(lab.pair.b, lab.server.tunnel_ip)


def test_rasdial_asks_on_the_terminal(lab: Lab) -> None:
    rasdial = [sys.executable, "-m", "openras.cli.rasdial"]
    transcript = io.StringIO()
    env = {**os.environ, "OPENRAS_SOCKET": str(lab.socket)}
    child = pexpect.spawn(
        rasdial[0], [*rasdial[1:], "Dynamic", USER, PASSWORD, f"/PHONEBOOK:{lab.pbk}"],
        env=env, encoding="utf-8", timeout=60,
    )  # fmt: skip
    child.logfile_read = transcript
    child.expect("Enter the code from the app: ")
    child.sendline(DYNAMIC_CODE)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, transcript.getvalue()
    assert "Command completed successfully." in transcript.getvalue()
    assert lab.lab.ping(lab.pair.b, lab.server.tunnel_ip)
