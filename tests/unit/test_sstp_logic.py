"""SSTP over pppd, the pure parts: the kind and driver of a Windows SSTP entry, the server
check (host, IPv4, ``:port``), pppd's argv (sstpc as the pty, the plugin, no MPPE), and
sstpc's log lines as RAS codes.

The sstpc lines are recorded from sstp-client 1.0.18 (``--log-stderr``) against the test
server in tests/vm/guest/sstp_server.py and against addresses with no SSTP server.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from openras.errors import ERROR_BAD_PHONE_NUMBER, RasError
from openras.links.base import DialParams, LinkSpec
from openras.links.ppp.argv import PppSettings, build_argv, entry_kind, sstp_server
from openras.links.ppp.interpreter import PppLog, classify_exit, deadline_code
from openras.links.registry import KNOWN_KEYS, driver_name, vpn_attempts
from openras.manager.entries import EntrySnapshot
from openras.policy import Grant
from openras.states import RasConnState

SERVER = "vpn.example.com"
EXPORT = {
    "Type": "2",
    "VpnStrategy": "5",
    "PreferredDevice": "WAN Miniport (SSTP)",
    "DEVICE": "vpn",
    "PhoneNumber": SERVER,
}


class _Entry:
    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = {k.lower(): v for k, v in keys.items()}

    @property
    def name(self) -> str:
        return "Office SSTP"

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._keys.get(key.lower(), default)


def _settings(keys: dict[str, str], *, phone: str = "", admin: bool = False) -> PppSettings:
    spec = LinkSpec(
        handle=7,
        owner_uid=1000,
        entry=_Entry(keys),
        params=DialParams(
            entry_name="Office SSTP", user="alice", password="pw", phone_number=phone
        ),
        run_dir=Path("/nonexistent"),
        marker="test:7",
        grant=Grant(admin_credentials=admin),
    )
    return PppSettings.from_spec(spec)


@pytest.mark.parametrize("strategy", ["5", "6"])
def test_windows_sstp_entries_are_the_sstp_kind(strategy: str) -> None:
    keys = {**EXPORT, "VpnStrategy": strategy}
    assert entry_kind(_Entry(keys)) == "sstp"
    snap = EntrySnapshot("x", {k.lower(): v for k, v in keys.items()})
    assert ("SSTP", "ppp") in vpn_attempts(snap)
    # "SSTP first" is a list (SSTP, then IKEv2...); SSTP only is the ppp driver itself.
    assert driver_name(snap) == ("ppp" if strategy == "5" else "attempts")
    assert "OpenRasSstpCaFile" in KNOWN_KEYS


def test_sstp_argv_from_a_windows_export() -> None:
    settings = _settings({**EXPORT, "OpenRasSstpCaFile": "~/ca.pem"})
    assert (settings.kind, settings.server, settings.mppe) == ("sstp", SERVER, "refuse")
    assert settings.sstp_ca_file == "~/ca.pem"  # read as the caller by the driver, not here
    argv = build_argv(
        settings, pppd="/usr/sbin/pppd", ifname="orppp7", linkname="openras-7",
        logfile=Path("/run/x/pppd.log"), password_fd=5, sstpc="/usr/sbin/sstpc",
        sstp_ca="/run/x/sstp-ca.pem",
    )  # fmt: skip
    pty = argv[argv.index("pty") + 1]
    assert shlex.split(pty) == [
        "/usr/sbin/sstpc", "--nolaunchpppd", "--ipparam", "openras-7",
        "--ca-cert", "/run/x/sstp-ca.pem", "--log-stderr", "--log-level", "2",
        "--log-ident", "sstpc", SERVER,
    ]  # fmt: skip
    assert "--cert-warn" not in pty and "--password" not in pty and "pw" not in argv
    plugin = argv.index("sstp-pppd-plugin.so")
    assert argv[plugin + 1 : plugin + 3] == ["sstp-sock", "/var/run/sstpc/sstpc-openras-7"]
    for option in ("refuse-pap", "refuse-chap", "refuse-mschap", "refuse-eap", "nomppe"):
        assert option in argv
    assert "require-mppe-128" not in argv


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("vpn.example.com", "vpn.example.com"),
        ("vpn.example.com.", "vpn.example.com"),
        (" 192.0.2.7 ", "192.0.2.7"),
        ("vpn.example.com:8443", "vpn.example.com:8443"),
        ("192.0.2.7:0443", "192.0.2.7:443"),
        # IPv6: bare as Windows takes it, or bracketed; sstpc is given [address]:port
        ("2001:db8::1", "[2001:db8::1]"),
        ("[2001:DB8:0::1]:8443", "[2001:db8::1]:8443"),
    ],
)
def test_server_names_that_pass(text: str, server: str) -> None:
    assert sstp_server(text) == server


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-vpn",
        "vpn;reboot",
        "$(id)",
        "vpn example",
        "https://vpn.example.com",
        "vpn.example.com:0",
        "vpn.example.com:65536",
        "vpn.example.com:",
        "vpn.example.com:+1",
        "[2001:db8::1",
        "[2001:db8::1]8443",
        "[2001:db8::1]:0",
        "[vpn.example.com]:443",
        "fe80::1%eth0",  # a zone index (and what follows it) never reaches sstpc
        "2001:db8::1;id",
        "10.1",
        "a" * 64 + ".example",
    ],
)
def test_server_names_that_could_reach_a_parser_are_refused(text: str) -> None:
    with pytest.raises(RasError) as exc:
        sstp_server(text)
    assert exc.value.code == ERROR_BAD_PHONE_NUMBER


def test_the_administrators_password_goes_to_the_entrys_server_only() -> None:
    assert _settings(EXPORT, phone="other.example").server == "other.example"
    with pytest.raises(RasError) as exc:
        _settings(EXPORT, phone="other.example", admin=True)
    assert exc.value.code == 5


def _line(message: str) -> bytes:
    return f"Dec  4 05:57:14 sstpc[17753]: {message} \n".encode()


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        (
            [
                "SSL certificate verification failed: unable to get local issuer certificate (20)",
                "Verification of server certificate failed",
            ],
            801,
        ),
        (["Could not lookup host: `no-such-host.invalid'"], 868),
        (["Unrecoverable socket error, 5", "Could not perform HTTP handshake with server"], 809),
        (["Error: Expected HTTP code 200", "HTTP handshake with server failed"], 809),
        (["Connection was aborted, Reason was not known"], 807),
    ],
)
def test_sstpc_failures(lines: list[str], code: int) -> None:
    log = PppLog("sstp")
    log.feed(b"".join(_line(m) for m in lines) + b"Modem hangup\n")
    assert classify_exit(log, 16, connected=False)[0] == code


def test_sstpc_lines_mean_nothing_to_other_kinds() -> None:
    log = PppLog("pptp")
    log.feed(_line("Verification of server certificate failed"))
    assert log.failure is None


def test_a_wrong_password_stays_691_after_the_tunnel_closes() -> None:
    log = PppLog("sstp")
    log.feed(
        b"rcvd [LCP ConfReq id=0x1 <mru 1400> <auth chap MS-v2> <magic 0x1>]\n"
        b'rcvd [CHAP Challenge id=0x1 <00>, name = "server"]\n'
        b"MS-CHAP authentication failed: E=691 Authentication failure\n"
        b"CHAP authentication failed\n" + _line("Connection was aborted") + b"Modem hangup\n"
    )
    assert classify_exit(log, 19, connected=False)[0] == 691


def test_states_and_codes_without_a_line_from_sstpc() -> None:
    log = PppLog("sstp")
    log.feed(b"Connect: orppp7 <--> /dev/pts/3\n")
    assert log.reached == RasConnState.ConnectDevice  # the pty only, not the server
    assert deadline_code(log) == 809
    log.feed(b"rcvd [LCP ConfAck id=0x1 <mru 1400>]\n")
    assert log.reached == RasConnState.DeviceConnected
    assert deadline_code(log) == 718
    assert classify_exit(PppLog("sstp"), 16, connected=True)[0] == 807
