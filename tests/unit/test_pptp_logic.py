"""PPTP over pppd, the pure parts: the typed settings and pppd's argv from a Windows PPTP
entry, the server name check, and pppd's and pptp's log lines as RAS states and codes.

The log lines are recorded: pppd 2.4.9 with pptp-linux 1.10 against Debian's pptpd in the VM
tier's namespaces (tests/vm/guest/test_pptp.py dials the same cases through rasman).
"""

from __future__ import annotations

import shlex
import socket
import struct
from pathlib import Path

import pytest

from openras.errors import RasError
from openras.links.base import DialParams, LinkSpec
from openras.links.ppp.argv import PppSettings, build_argv, entry_kind, pptp_server
from openras.links.ppp.interpreter import (
    ORDER,
    PppLog,
    classify_exit,
    deadline_code,
    pptp_control_seen,
)
from openras.links.registry import driver_name
from openras.manager.entries import EntrySnapshot
from openras.policy import Grant
from openras.states import RasConnState

SERVER = "10.231.243.1"
#: The keys of a Windows 10 PPTP export that matter here (ras-api.md 7.3).
EXPORT = {
    "Type": "2",
    "VpnStrategy": "1",
    "DataEncryption": "256",
    "PreferredDevice": "WAN Miniport (PPTP)",
    "DEVICE": "vpn",
    "PhoneNumber": SERVER,
}


class _Entry:
    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = {k.lower(): v for k, v in keys.items()}

    @property
    def name(self) -> str:
        return "Office PPTP"

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._keys.get(key.lower(), default)


def _settings(
    keys: dict[str, str],
    *,
    user: str = "alice",
    domain: str = "",
    phone: str = "",
    admin: bool = False,
) -> PppSettings:
    spec = LinkSpec(
        handle=7,
        owner_uid=1000,
        entry=_Entry(keys),
        params=DialParams(
            entry_name="Office PPTP", user=user, password="pw", domain=domain, phone_number=phone
        ),
        run_dir=Path("/nonexistent"),
        marker="test:7",
        grant=Grant(admin_credentials=admin),
    )
    return PppSettings.from_spec(spec)


def _argv(settings: PppSettings) -> list[str]:
    return build_argv(
        settings, pppd="/usr/sbin/pppd", ifname="orppp7", linkname="openras-7",
        logfile=Path("/run/x/pppd.log"), password_fd=9, pptp="/usr/sbin/pptp",
    )  # fmt: skip


# -- the entry: kind, server, encryption ----------------------------------------------------------


@pytest.mark.parametrize(
    "keys",
    [
        EXPORT,
        {"DEVICE": "vpn", "VpnStrategy": "2", "PhoneNumber": SERVER},  # PPTP first
        {"DEVICE": "vpn", "VpnStrategy": "12", "PhoneNumber": SERVER},  # PPTP, then SSTP
        {"Type": "2", "VpnStrategy": "1", "PhoneNumber": SERVER},  # no DEVICE block
        {"DEVICE": "vpn", "PreferredDevice": "WAN Miniport (PPTP)", "PhoneNumber": SERVER},
    ],
)
def test_windows_pptp_entries_are_the_pptp_kind(keys: dict[str, str]) -> None:
    assert entry_kind(_Entry(keys)) == "pptp"
    snap = EntrySnapshot("x", {k.lower(): v for k, v in keys.items()})
    # "PPTP first" (PPTP, then IKEv2...) and 12 (PPTP, then SSTP) are lists run by the
    # attempts link.
    assert driver_name(snap) == ("attempts" if keys.get("VpnStrategy") in ("2", "12") else "ppp")


@pytest.mark.parametrize("strategy", ["3", "5", "7", "0"])
def test_other_vpn_strategies_are_not_pptp(strategy: str) -> None:
    try:
        kind = entry_kind(_Entry({"DEVICE": "vpn", "VpnStrategy": strategy}))
    except RasError as exc:
        assert exc.code == 609
    else:
        assert kind == "sstp" and strategy in ("5", "0")  # 0: SSTP first (Windows 10's order)


def test_pptp_argv_from_a_windows_export() -> None:
    s = _settings(EXPORT)
    assert (s.kind, s.server, s.mppe, s.user) == ("pptp", SERVER, "require", "alice")
    argv = _argv(s)
    pty = shlex.split(argv[argv.index("pty") + 1])
    assert pty == [
        "/usr/sbin/pptp", SERVER, "--nolaunchpppd", "--nohostroute",
        "--logstring", "openras-7", "--phone", "openras-7",
    ]  # fmt: skip
    for option in ("refuse-pap", "refuse-chap", "refuse-mschap", "refuse-eap"):
        assert option in argv  # MS-CHAPv2 is what is left, as Windows' PPTP default
    assert "require-mppe-128" in argv and "nomppe" not in argv
    assert argv[argv.index("user") + 1] == "alice" and "pw" not in argv
    assert argv[argv.index("passwordfd") + 1] == "9"
    for forbidden in ("file", "call", "connect", "init", "require-mschap-v2", "defaultroute"):
        assert forbidden not in argv


@pytest.mark.parametrize(
    ("value", "mppe"),
    [(None, "require"), ("256", "require"), ("512", "require"), ("8", "require"), ("0", "refuse")],
)
def test_data_encryption_decides_mppe(value: str | None, mppe: str) -> None:
    keys = {k: v for k, v in EXPORT.items() if k != "DataEncryption"}
    if value is not None:
        keys["DataEncryption"] = value
    s = _settings(keys)
    assert s.mppe == mppe
    argv = _argv(s)
    if mppe == "require":
        assert "require-mppe-128" in argv and "nomppe" not in argv
    else:
        assert "nomppe" in argv and "noccp" in argv and "require-mppe-128" not in argv


def test_the_dials_number_is_the_server_but_never_with_the_administrators_password() -> None:
    assert _settings(EXPORT, phone="vpn2.contoso.com").server == "vpn2.contoso.com"
    assert _settings(EXPORT, phone=SERVER, admin=True).server == SERVER
    assert _settings(EXPORT, admin=True).server == SERVER
    with pytest.raises(RasError) as exc:
        _settings(EXPORT, phone="evil.example", admin=True)
    assert exc.value.code == 5


def test_a_domain_goes_as_windows_sends_it() -> None:
    s = _settings(EXPORT, domain="CONTOSO")
    assert s.user == "CONTOSO\\alice"


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("10.0.0.1", "10.0.0.1"),
        (" vpn.contoso.com ", "vpn.contoso.com"),
        ("vpn.contoso.com.", "vpn.contoso.com"),
        ("VPN-1.example", "VPN-1.example"),
        ("localhost", "localhost"),
    ],
)
def test_server_names_that_pass(text: str, server: str) -> None:
    assert pptp_server(text) == server


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-oProxyCommand=x",
        "--nolaunchpppd",
        "vpn;reboot",
        "$(reboot)",
        "`id`",
        "vpn host",
        "vpn\nplugin x.so",
        "a..b",
        "-a.example",
        "a-.example",
        "10.1",
        "010.0.0.1",
        "::1",
        "2001:db8::1",
        "x" * 64 + ".example",
        ".".join(["a" * 60] * 5),
        "vpn.contoso.com:1723",
        "'quoted'",
    ],
)
def test_server_names_that_could_reach_a_parser_are_refused(text: str) -> None:
    with pytest.raises(RasError) as exc:
        pptp_server(text)
    assert exc.value.code == 749


def test_a_bad_phone_number_fails_the_settings_and_a_bad_data_encryption_too() -> None:
    with pytest.raises(RasError) as exc:
        _settings({**EXPORT, "PhoneNumber": "a b"})
    assert exc.value.code == 749
    with pytest.raises(RasError) as exc:
        _settings({**EXPORT, "DataEncryption": "max"})
    assert exc.value.code == 87 and "DataEncryption" in str(exc.value)


# -- pppd's and pptp's log -------------------------------------------------------------------

PPTP_OK = b"""\
Plugin passwordfd.so loaded.
using channel 1
Renamed interface ppp0 to orppp7
Using interface orppp7
Connect: orppp7 <--> /dev/pts/0
sent [LCP ConfReq id=0x1 <mru 1400> <asyncmap 0x0> <magic 0x701115e> <pcomp> <accomp>]
rcvd [LCP ConfReq id=0x1 <asyncmap 0x0> <auth chap MS-v2> <magic 0x884f4895> <pcomp> <accomp>]
sent [LCP ConfAck id=0x1 <asyncmap 0x0> <auth chap MS-v2> <magic 0x884f4895> <pcomp> <accomp>]
rcvd [LCP ConfAck id=0x1 <mru 1400> <asyncmap 0x0> <magic 0x701115e> <pcomp> <accomp>]
sent [LCP EchoReq id=0x0 magic=0x701115e]
rcvd [CHAP Challenge id=0xaa <6765a9f182bf01c693e7d24e204235fb>, name = "pptpd"]
added response cache entry 0
sent [CHAP Response id=0xaa <bee19ba4>, name = "alice"]
rcvd [LCP EchoRep id=0x0 magic=0x884f4895]
rcvd [CHAP Success id=0xaa "S=A18AB8DB30F47C87C244DB1909319E068EFDA1F1 M=Access granted"]
response found in cache (entry 0)
CHAP authentication succeeded
sent [CCP ConfReq id=0x1 <mppe +H -M +S -L -D -C>]
rcvd [CCP ConfReq id=0x1 <mppe +H -M +S -L -D -C>]
sent [CCP ConfAck id=0x1 <mppe +H -M +S -L -D -C>]
rcvd [CCP ConfAck id=0x1 <mppe +H -M +S -L -D -C>]
MPPE 128-bit stateless compression enabled
sent [IPCP ConfReq id=0x1 <addr 0.0.0.0> <ms-dns1 0.0.0.0> <ms-dns2 0.0.0.0>]
rcvd [IPCP ConfReq id=0x1 <addr 10.236.44.1>]
sent [IPCP ConfAck id=0x1 <addr 10.236.44.1>]
rcvd [IPCP ConfNak id=0x1 <addr 10.236.44.10> <ms-dns1 10.236.44.53> <ms-dns2 10.236.44.53>]
sent [IPCP ConfReq id=0x2 <addr 10.236.44.10> <ms-dns1 10.236.44.53> <ms-dns2 10.236.44.53>]
rcvd [IPCP ConfAck id=0x2 <addr 10.236.44.10> <ms-dns1 10.236.44.53> <ms-dns2 10.236.44.53>]
Script /etc/ppp/ip-pre-up started (pid 268)
Script /etc/ppp/ip-pre-up finished (pid 268), status = 0x0
local  IP address 10.236.44.10
remote IP address 10.236.44.1
primary   DNS address 10.236.44.53
secondary DNS address 10.236.44.53
Script /bin/true started (pid 271)
"""


def test_a_pptp_dial_gives_states_in_order_and_the_projection() -> None:
    log = PppLog("pptp")
    cut = PPTP_OK.index(b"Connect:")
    assert log.feed(PPTP_OK[:cut]) == []
    # the pty is not the tunnel: only ConnectDevice at "Connect: orppp7 <--> /dev/pts/0"
    log.feed(PPTP_OK[cut : PPTP_OK.index(b"sent [LCP ConfReq")])
    assert log.reached == RasConnState.ConnectDevice
    # the server's answer to our LCP request: GRE gets through both ways
    upto = PPTP_OK.index(b"sent [LCP EchoReq")
    log.feed(PPTP_OK[PPTP_OK.index(b"sent [LCP ConfReq") : upto])
    assert log.reached == RasConnState.DeviceConnected
    states = log.feed(PPTP_OK[upto:])
    assert states == list(ORDER[ORDER.index(RasConnState.Authenticate) : -1])
    assert log.projected and log.failure is None
    f = log.facts
    assert (f.local_address, f.remote_address) == ("10.236.44.10", "10.236.44.1")
    assert f.dns == ["10.236.44.53"] and f.auth_protocol == "MS-CHAPv2"
    assert f.compression == ["MPPE 128-bit stateless"]  # the driver's extra["encryption"]


def test_for_other_kinds_the_connect_line_is_still_device_connected() -> None:
    log = PppLog()
    log.feed(b"Connect: orppp7 <--> /dev/ttyUSB0\n")
    assert log.reached == RasConnState.DeviceConnected


# Each from a recorded dial; the code is what Windows gives for the same failure.
@pytest.mark.parametrize(
    ("text", "rc", "code"),
    [
        # pptpd down: TCP 1723 refused (pptp's stderr is pppd's log)
        (
            b"Connect: orppp7 <--> /dev/pts/0\n"
            b"openras-7 warn[open_inetsock:pptp_callmgr.c:352]: connect: Connection refused\n"
            b"openras-7 fatal[callmgr_main:pptp_callmgr.c:134]: Could not open control "
            b"connection to 10.231.243.1\n"
            b"openras-7 fatal[open_callmgr:pptp.c:525]: Call manager exited with error 256\n"
            b"Modem hangup\nConnection terminated.\n",
            16,
            807,
        ),
        # nobody at the address (no ARP answer)
        (
            b"Connect: orppp7 <--> /dev/pts/0\n"
            b"sent [LCP ConfReq id=0x1 <mru 1400> <asyncmap 0x0> <magic 0x798f7718>]\n"
            b"openras-7 warn[open_inetsock:pptp_callmgr.c:352]: connect: No route to host\n"
            b"openras-7 fatal[callmgr_main:pptp_callmgr.c:134]: Could not open control "
            b"connection to 10.236.45.200\n"
            b"Modem hangup\nConnection terminated.\n",
            16,
            809,
        ),
        # a name that does not resolve
        (
            b"Connect: orppp7 <--> /dev/pts/0\n"
            b"openras-7 fatal[get_ip_address:pptp.c:472]: getaddrinfo(): Temporary failure in "
            b"name resolution\nModem hangup\nConnection terminated.\n",
            16,
            868,
        ),
        # we require MPPE, the server (nomppe) offers Deflate only
        (
            b"CHAP authentication succeeded\n"
            b"sent [CCP ConfReq id=0x1 <mppe +H -M +S -L -D -C>]\n"
            b"rcvd [CCP ConfReq id=0x1 <deflate 15> <deflate(old#) 15>]\n"
            b"MPPE required but peer negotiation failed\n"
            b'sent [LCP TermReq id=0x2 "MPPE required but peer negotiation failed"]\n'
            b"Connection terminated.\n",
            10,
            742,
        ),
        # we require MPPE, the server rejects the option
        (
            b"rcvd [CCP ConfRej id=0x1 <mppe +H -M +S -L -D -C>]\n"
            b"MPPE required but peer refused\n"
            b'sent [LCP TermReq id=0x3 "MPPE required but peer refused"]\n'
            b"Connection terminated.\n",
            10,
            742,
        ),
        # DataEncryption=0 (nomppe noccp) and a server that requires MPPE
        (
            b"rcvd [CCP ConfReq id=0x1 <mppe +H -M +S -L -D -C>]\n"
            b"Unsupported protocol 'Compression Control Protocol' (0x80fd) received\n"
            b'rcvd [LCP TermReq id=0x2 "MPPE required but peer negotiation failed"]\n'
            b"LCP terminated by peer (MPPE required but peer negotiation failed)\n"
            b"Modem hangup\nConnection terminated.\n",
            16,
            741,
        ),
        (
            b"sent [CCP ConfRej id=0x1 <mppe +H -M +S -L -D -C>]\n"
            b'rcvd [LCP TermReq id=0x2 "MPPE required but peer refused"]\n'
            b"LCP terminated by peer (MPPE required but peer refused)\nConnection terminated.\n",
            16,
            741,
        ),
        (b"MPPE required, but kernel has no support.\n", 10, 741),
        (b"MPPE required, but MS-CHAP[v2] auth not performed.\n", 10, 742),
        # a wrong password, the hang-up racing the exit status as with PPPoE
        (
            b'rcvd [CHAP Failure id=0x1 "E=691 R=1 C=0123 V=0 M=Access denied"]\n'
            b"MS-CHAP authentication failed: Access denied\nCHAP authentication failed\n"
            b"Modem hangup\n",
            16,
            691,
        ),
        (b"LCP terminated by peer (User request)\n", 16, 734),
        (b"", 16, 807),  # pptp went away, nothing said: the tunnel closed
    ],
)
def test_pptp_failures_from_the_log_then_the_exit_status(text: bytes, rc: int, code: int) -> None:
    log = PppLog("pptp")
    log.feed(text)
    assert classify_exit(log, rc, connected=False)[0] == code


def test_pptp_lines_mean_nothing_to_other_kinds() -> None:
    log = PppLog("pppoe")
    log.feed(b"openras-7 warn[open_inetsock:pptp_callmgr.c:352]: connect: Connection refused\n")
    assert log.failure is None
    assert classify_exit(log, 16, connected=False)[0] == 628


LCP_TIMEOUT = b"Connect: orppp7 <--> /dev/pts/0\nLCP: timeout sending Config-Requests\n"


def test_lcp_timeout_is_gre_blocked_only_with_the_control_connection_up() -> None:
    blocked = PppLog("pptp")
    blocked.control_up()  # the driver saw TCP 1723 established
    blocked.feed(LCP_TIMEOUT)
    assert classify_exit(blocked, 10, connected=False)[0] == 806
    silent = PppLog("pptp")
    silent.feed(LCP_TIMEOUT)
    assert classify_exit(silent, 10, connected=False)[0] == 809
    late = PppLog("pptp")  # the TCP table read after the line: 806 all the same
    late.feed(LCP_TIMEOUT)
    late.control_up()
    assert classify_exit(late, 10, connected=False)[0] == 806
    other = PppLog("modem")
    other.feed(LCP_TIMEOUT)
    assert classify_exit(other, 10, connected=False)[0] == 718


def test_control_up_reaches_connect_device_once() -> None:
    log = PppLog("pptp")
    assert log.control_up() == [RasConnState.ConnectDevice]
    assert log.control_up() == []
    assert log.reached == RasConnState.ConnectDevice


def test_the_dial_deadline_codes() -> None:
    silent = PppLog("pptp")
    silent.feed(b"Connect: orppp7 <--> /dev/pts/0\n")
    assert deadline_code(silent) == 809
    silent.control_up()
    assert deadline_code(silent) == 806  # control connection up, GRE not through
    started = PppLog("pptp")
    started.feed(PPTP_OK[: PPTP_OK.index(b"sent [LCP EchoReq")])
    assert deadline_code(started) == 718
    assert deadline_code(PppLog("pppoe")) == 678
    pppoe = PppLog("pppoe")
    pppoe.feed(b"Connect: orppp7 <--> veth-b\n")
    assert deadline_code(pppoe) == 718


def _tcp_row(n: int, local: str, remote: str, rport: int, state: str) -> str:
    def enc(addr: str, port: int) -> str:
        (value,) = struct.unpack("<I", socket.inet_aton(addr))
        return f"{value:08X}:{port:04X}"

    return (
        f"   {n}: {enc(local, 41522)} {enc(remote, rport)} {state} 00000000:00000000 "
        "00:00000000 00000000     0        0 12345 1 0000000000000000 20 4 30 10 -1"
    )


TCP_HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode"
)


def test_the_control_connection_is_seen_in_the_tcp_table() -> None:
    up = "\n".join([TCP_HEADER, _tcp_row(0, "10.231.243.2", SERVER, 1723, "01")])
    assert pptp_control_seen(up, SERVER)
    assert pptp_control_seen(up, "vpn.contoso.com")  # a name: any server's port 1723
    assert not pptp_control_seen(up, "10.9.9.9")
    syn_sent = "\n".join([TCP_HEADER, _tcp_row(0, "10.231.243.2", SERVER, 1723, "02")])
    assert not pptp_control_seen(syn_sent, SERVER)
    other_port = "\n".join([TCP_HEADER, _tcp_row(0, "10.231.243.2", SERVER, 443, "01")])
    assert not pptp_control_seen(other_port, SERVER)
    assert not pptp_control_seen(TCP_HEADER + "\n   0: garbage\n", SERVER)


# -- the kernel check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gaps", "code"),
    [
        (["MPPE (ppp_mppe)"], 741),  # PPP is there, only the encryption the entry requires
        (["PPP (ppp_generic: /dev/ppp is missing)", "MPPE (ppp_mppe)"], 797),
    ],
)
def test_a_kernel_without_mppe_is_741_without_ppp_797(
    monkeypatch: pytest.MonkeyPatch, gaps: list[str], code: int
) -> None:
    from openras.links.ppp import driver

    seen: list[tuple[str, bool]] = []

    def fake_gaps(kind: str, *, mppe: bool = False) -> list[str]:
        seen.append((kind, mppe))
        return gaps

    def no_modprobe(name: str) -> str:
        raise RasError(797, f"{name} is not installed")

    monkeypatch.setattr(driver, "_kernel_gaps", fake_gaps)
    monkeypatch.setattr(driver, "find_program", no_modprobe)
    with pytest.raises(RasError) as exc:
        driver.check_kernel("pptp", mppe=True)
    assert exc.value.code == code
    assert "CONFIG_PPP_MPPE" in str(exc.value) and "no modprobe" in str(exc.value)
    assert seen == [("pptp", True)]
