"""The ppp driver on this host, whose kernel has no PPP (no /dev/ppp, no modules).

What runs here: a Windows PPPoE entry, a modem entry, a PPTP and an L2TP entry dialed through a real rasman in a
network namespace fail at once with 797 naming the missing kernel support and leave nothing
running (no pppd, no interface, no run files); and the pure parts: the argv built from the
typed model (the password never in it, no entry value as an option word, values starting
with '-' or holding control characters refused), the registry's choice by the Windows keys,
and pppd's log as RAS states and codes (recorded transcripts, the exit-status race included).
Dials that connect need the VM tier (tests/vm/guest/test_ppp_driver.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _linkkit import NsRasman, make_spec
from netns import NetnsLab, NsPair, pids_in_netns

from openras.client import Client
from openras.errors import RasError
from openras.links.ppp.argv import PppSettings, build_argv, chat_script
from openras.links.ppp.driver import interface_name
from openras.links.ppp.interpreter import ORDER, PppLog, classify_exit
from openras.links.registry import driver_name
from openras.manager.entries import EntrySnapshot
from openras.states import RasConnState

HOST_HAS_PPP = Path("/dev/ppp").exists()

# -- a dial on a kernel without PPP ------------------------------------------------------------


@pytest.mark.skipif(HOST_HAS_PPP, reason="this kernel has PPP: the VM tier tests dials")
@pytest.mark.parametrize(
    ("section", "kind"),
    [
        # Windows' own keys only (the only wired interface is B's veth)
        (
            "Type=5\nMEDIA=rastapi\nPort=PPPoE5-0\nDevice=WAN Miniport (PPPOE)\n\nDEVICE=PPPoE\n",
            "PPPoE",
        ),
        (
            "Type=1\nOpenRasSerialPort=/dev/ptmx\nMEDIA=serial\nPort=COM1\n\nDEVICE=modem\n"
            "PhoneNumber=5550100\n",
            "modem",
        ),
        # a Windows 10 PPTP export (the server need not exist: nothing is sent)
        (
            "Type=2\nVpnStrategy=1\nDataEncryption=256\nPreferredDevice=WAN Miniport (PPTP)\n"
            "MEDIA=rastapi\nPort=VPN4-0\nDevice=WAN Miniport (PPTP)\n\nDEVICE=vpn\n"
            "PhoneNumber=192.0.2.1\n",
            "PPTP",
        ),
        # a Windows L2TP export that allows L2TP without IPsec (DataEncryption=0)
        (
            "Type=2\nVpnStrategy=3\nDataEncryption=0\nPreferredDevice=WAN Miniport (L2TP)\n"
            "MEDIA=rastapi\nPort=VPN3-0\nDevice=WAN Miniport (L2TP)\n\nDEVICE=vpn\n"
            "PhoneNumber=192.0.2.1\n",
            "L2TP",
        ),
    ],
)
def test_dial_without_kernel_ppp_fails_at_once_leaving_nothing(
    netns_lab: NetnsLab,
    netns_pair: NsPair,
    rasman_b: Callable[..., NsRasman],
    tmp_path: Path,
    section: str,
    kind: str,
) -> None:
    rm = rasman_b()
    pbk = tmp_path / "rasphone.pbk"
    pbk.write_text(f"[Broadband]\nEncoding=1\n{section}")
    assert rm.proc is not None
    before = set(pids_in_netns(netns_pair.b))
    t0 = time.monotonic()
    with Client(rm.socket, autostart=False, timeout=30) as ras:
        with pytest.raises(RasError) as exc:
            ras.dial("Broadband", pbk, user="alice", password="s3cret-pw")
        took = time.monotonic() - t0
        assert ras.connections(include_pending=True) == []
    assert exc.value.code == 797, exc.value
    text = str(exc.value)
    assert "kernel support for PPP" in text and "ppp_generic" in text, text
    if kind == "PPPoE":
        assert "PPPoE" in text, text
    if kind == "PPTP":
        assert "CONFIG_PPP_MPPE" in text, text  # MPPE is required: its module is named too
    if kind == "L2TP":
        assert "CONFIG_L2TP" in text and "IPsec" not in text, text
    assert "s3cret-pw" not in text
    assert took < 5, f"the refusal took {took:.2f} s"
    assert set(pids_in_netns(netns_pair.b)) == before == {rm.proc.pid}, "pppd or a helper left"
    assert not [n for n in netns_lab.links(netns_pair.b) if n.startswith("orppp")]
    links_dir = rm.state_dir / "links"
    assert not links_dir.exists() or list(links_dir.iterdir()) == []
    assert "s3cret-pw" not in rm.log.read_text()


# -- the registry: Windows keys choose the driver ------------------------------------------------


@pytest.mark.parametrize(
    "keys",
    [
        {"device": "modem"},
        {"device": "PPPoE"},
        {"device": "isdn"},
        {"device": "serial"},
        {"type": "5"},
        {"type": "1"},
        {"openrasdevice": "ppp"},
        {"device": "vpn", "vpnstrategy": "1"},  # PPTP only
        {"device": "vpn", "vpnstrategy": "5"},  # SSTP only
        {"type": "2", "vpnstrategy": "1"},
        {"device": "vpn", "preferreddevice": "WAN Miniport (PPTP)"},
    ],
)
def test_windows_keys_choose_ppp(keys: dict[str, str]) -> None:
    assert driver_name(EntrySnapshot("x", keys)) == "ppp"
    # "PPTP first" is a list (PPTP, then IKEv2...): tests/unit/test_vpn_strategy.py


def test_l2tp_entries_go_to_their_own_driver_not_ppp() -> None:
    assert driver_name(EntrySnapshot("x", {"device": "vpn", "vpnstrategy": "3"})) == "l2tp"


# -- argv from the typed model ----------------------------------------------------------------


def _settings(
    tmp: Path, keys: dict[str, str], *, user: str = "alice", phone: str = ""
) -> PppSettings:
    spec = make_spec(tmp, keys, handle=7, user=user, password="pw", phone=phone)
    return PppSettings.from_spec(spec)


def test_pppoe_argv_is_constants_and_checked_values(tmp_path: Path) -> None:
    s = _settings(tmp_path, {"DEVICE": "PPPoE", "OpenRasPppoeInterface": "lo"})
    argv = build_argv(
        s, pppd="/usr/sbin/pppd", ifname=interface_name(7), linkname="openras-7",
        logfile=tmp_path / "pppd.log", password_fd=9,
    )  # fmt: skip
    assert argv[0] == "/usr/sbin/pppd"
    assert argv[argv.index("ifname") + 1] == "orppp7"
    assert argv[argv.index("user") + 1] == "alice"
    assert argv[argv.index("passwordfd") + 1] == "9"
    assert argv[argv.index("plugin", argv.index("passwordfd")) + 1] == "rp-pppoe.so"
    assert argv[-1] == "nic-lo"
    assert "pw" not in argv and "nodetach" in argv and "noauth" in argv
    for forbidden in ("file", "call", "connect", "init", "persist", "defaultroute"):
        assert forbidden not in argv
    assert argv[argv.index("ip-up-script") + 1] == "/bin/true"


def test_modem_argv_and_chat_script(tmp_path: Path) -> None:
    keys = {"DEVICE": "modem", "PhoneNumber": "555-0100", "OpenRasSerialPort": "/dev/ttyUSB0"}
    s = _settings(tmp_path, keys)
    assert s.kind == "modem" and s.number == "5550100"
    chat = tmp_path / "run dir" / "chat"
    argv = build_argv(
        s, pppd="pppd", ifname="orppp7", linkname="openras-7", logfile=tmp_path / "l",
        password_fd=None, chat="/usr/sbin/chat", chat_file=chat,
    )  # fmt: skip
    assert argv[argv.index("connect") + 1] == f"/usr/sbin/chat -v -s -f '{chat}'"
    assert argv[-2:] == ["/dev/ttyUSB0", "115200"] and "modem" in argv
    script = chat_script(s)
    assert "ABORT 'BUSY'" in script and "ABORT 'NO DIALTONE'" in script
    assert "OK ATDT5550100\n" in script and script.endswith("CONNECT ''\n")


@pytest.mark.parametrize(
    ("keys", "user", "phone", "says"),
    [
        ({"DEVICE": "PPPoE", "OpenRasPppoeInterface": "-debug"}, "a", "", "may not start"),
        ({"DEVICE": "PPPoE", "OpenRasPppoeInterface": "lo"}, "-call", "", "may not start"),
        ({"DEVICE": "PPPoE", "OpenRasPppoeInterface": "lo"}, "a\nplugin x", "", "control"),
        ({"DEVICE": "PPPoE", "OpenRasPppoeInterface": "no-such-if0"}, "a", "", "no such"),
        ({"DEVICE": "PPPoE", "OpenRasPppoeInterface": "lo"}, "a", "svc name", "service"),
        (
            {"DEVICE": "modem", "OpenRasSerialPort": "/dev/ttyS0", "PhoneNumber": "5;rm -rf"},
            "a",
            "",
            "only digits",
        ),
        (
            {"DEVICE": "modem", "OpenRasSerialPort": "/etc/../dev/ttyS0", "PhoneNumber": "1"},
            "a",
            "",
            "not a /dev/",
        ),
        (
            {"DEVICE": "modem", "OpenRasSerialPort": "/dev/../etc/shadow", "PhoneNumber": "1"},
            "a",
            "",
            "not a /dev/",
        ),
        ({"DEVICE": "modem", "PhoneNumber": "1"}, "a", "", "OpenRasSerialPort"),
    ],
)
def test_values_that_could_reach_pppd_as_options_are_refused(
    tmp_path: Path, keys: dict[str, str], user: str, phone: str, says: str
) -> None:
    with pytest.raises(RasError) as exc:
        _settings(tmp_path, keys, user=user, phone=phone)
    assert says in str(exc.value)


def test_serial_port_is_opened_as_the_owner(tmp_path: Path) -> None:
    from openras.links.ppp.driver import _check_serial_port

    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    s = _settings(
        tmp_path, {"DEVICE": "modem", "OpenRasSerialPort": "/dev/mem", "PhoneNumber": "1"}
    )
    with pytest.raises(RasError) as exc:
        _check_serial_port(s, 65534)  # nobody may not open /dev/mem; root could
    assert exc.value.code == 692 and "/dev/mem" in str(exc.value)


# -- pppd's log as RAS states and codes ----------------------------------------------------------

PPPOE_OK = b"""\
Plugin rp-pppoe.so loaded.
Send PPPOE Discovery V1T1 PADI session 0x0 length 12
PPP session is 1
Connected to 02:aa:bb:cc:dd:ee via interface veth-b
using channel 1
Using interface orppp7
Connect: orppp7 <--> veth-b
sent [LCP ConfReq id=0x1 <mru 1492> <magic 0x1>]
rcvd [LCP ConfReq id=0x1 <mru 1492> <auth chap MS-v2> <magic 0x2>]
sent [LCP ConfAck id=0x1 <mru 1492> <auth chap MS-v2> <magic 0x2>]
rcvd [CHAP Challenge id=0x1 <abcd>, name = "pppoe-server"]
sent [CHAP Response id=0x1 <0123>, name = "alice"]
rcvd [CHAP Success id=0x1 "S=00 M=Access granted"]
CHAP authentication succeeded
sent [IPCP ConfReq id=0x1 <addr 0.0.0.0> <ms-dns1 0.0.0.0> <ms-dns2 0.0.0.0>]
Deflate (15) compression enabled
local  IP address 10.236.43.10
remote IP address 10.236.43.1
primary   DNS address 10.236.43.53
secondary DNS address 10.236.43.54
Script /bin/true started (pid 4242)
"""


def test_transcript_of_a_pppoe_dial_gives_states_and_projection() -> None:
    log = PppLog()
    states = [*log.feed(PPPOE_OK[:200]), *log.feed(PPPOE_OK[200:])]
    # every state once, in the dial's order, up to Projected (Connected is the driver's)
    assert states == list(ORDER[: ORDER.index(RasConnState.Projected) + 1])
    assert log.projected and log.failure is None
    f = log.facts
    assert (f.local_address, f.remote_address, f.dns) == ("10.236.43.10", "10.236.43.1",
                                                          ["10.236.43.53", "10.236.43.54"])  # fmt: skip
    assert f.auth_protocol == "MS-CHAPv2" and f.interface == "orppp7"
    assert f.pppoe_session == "1" and f.compression == ["Deflate (15)"]


def test_projection_waits_for_the_end_of_ipcps_report() -> None:
    """Read between the addresses and the DNS lines, the link is not yet projected."""
    log = PppLog()
    cut = PPPOE_OK.index(b"primary")
    log.feed(PPPOE_OK[:cut])
    assert not log.projected and log.facts.dns == []
    states = log.feed(PPPOE_OK[cut:])
    assert log.projected and states[-1] == RasConnState.Projected
    assert log.facts.dns == ["10.236.43.53", "10.236.43.54"]


def test_auth_failure_is_691_even_when_pppd_exits_as_a_hang_up() -> None:
    log = PppLog()
    log.feed(
        b"Connect: orppp7 <--> veth-b\nrcvd [CHAP Challenge id=0x1 <ab>]\n"
        b'rcvd [CHAP Failure id=0x1 ""]\nCHAP authentication failed\n'
        b"Modem hangup\nConnection terminated."  # no final newline: close() reads it
    )
    code, detail = classify_exit(log, 16, connected=False)  # the race: exit 16, not 19
    assert (code, detail) == (691, "CHAP authentication failed")


# The chat lines are what Debian's chat -v -s writes (recorded against a pty AT emulator).
@pytest.mark.parametrize(
    ("text", "rc", "code"),
    [
        (
            b"abort on (BUSY)\nsend (ATZ^M)\nexpect (OK)\nOK\n -- got it\nsend (ATDT1^M)\n"
            b"expect (CONNECT)\n^M\nBUSY\n -- failed\nFailed (BUSY)\nConnect script failed\n",
            8,
            676,
        ),
        (b"expect (CONNECT)\nNO DIALTONE\n -- failed\nFailed (NO DIALTONE)\n", 8, 680),
        (b"expect (CONNECT)\n^M\nERROR\n -- failed\nFailed (ERROR)\n", 8, 651),
        (b"expect (CONNECT)\nFailed (NO CARRIER)\n", 8, 678),
        (b"send (ATZ^M)\nexpect (OK)\nalarm\nFailed\nConnect script failed\n", 8, 692),
        (b"send (ATDT1^M)\nexpect (CONNECT)\nalarm\nFailed\n", 8, 678),
        (b"Device ttyS0 is locked by pid 4242\n", 6, 633),
        (b"Timeout waiting for PADO packets\nUnable to complete PPPoE Discovery\n", 1, 678),
        (b"LCP: timeout sending Config-Requests\n", 10, 718),
        (b"PAP authentication failed\n", 19, 691),
        (b"Couldn't open the /dev/ppp device: No such file or directory\n", 1, 797),
        (b"", 4, 797),
        (b"", 19, 691),
        (b"", 16, 628),
    ],
)
def test_failures_from_the_log_first_then_the_exit_status(text: bytes, rc: int, code: int) -> None:
    log = PppLog()
    log.feed(text)
    assert classify_exit(log, rc, connected=False)[0] == code


def test_a_connected_link_that_stops_answering_is_629() -> None:
    log = PppLog()
    log.feed(
        PPPOE_OK + b"No response to 3 echo-requests\nSerial link appears to be disconnected.\n"
    )
    assert classify_exit(log, 15, connected=True)[0] == 629
    idle = PppLog()
    idle.feed(PPPOE_OK + b"Terminating connection due to lack of activity.\n")
    assert classify_exit(idle, 12, connected=True)[0] == 926
