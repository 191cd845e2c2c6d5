"""The OpenVPN management parser and the state/error policy, on recorded transcripts.

The transcripts are the exact lines of links-lab.md §3.3 (openvpn 2.6.14), with the CRLF line
ends openvpn really sends. The driver's reaction to them is checked too, without a process:
the failure rules (691 although openvpn exits 0) live in what it does with these events.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openras.links.base import (
    DialParams,
    LinkEvent,
    LinkFailed,
    LinkLost,
    LinkSpec,
    StateReached,
)
from openras.links.openvpn import parser as mp
from openras.links.openvpn.driver import OpenVpnLink
from openras.manager.entries import EntrySnapshot
from openras.states import RasConnState

DIAL = (
    b">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n"
    b">HOLD:Waiting for hold release:0\r\n"
    b"1795458546,CONNECTING,,,,,,\r\n"
    b"END\r\n"
    b"SUCCESS: real-time state notification set to ON\r\n"
    b"SUCCESS: bytecount interval changed\r\n"
    b"SUCCESS: hold release succeeded\r\n"
    b">PASSWORD:Need 'Auth' username/password\r\n"
    b"SUCCESS: 'Auth' username entered, but not yet verified\r\n"
    b"SUCCESS: 'Auth' password entered, but not yet verified\r\n"
    b">STATE:1795458546,WAIT,,,,,,\r\n"
    b">STATE:1795458546,AUTH,,,,,,\r\n"
    b">LOG:1795458546,,PUSH: Received control message: 'PUSH_REPLY,route 10.99.10.0 255.255.255.0,"
    b"dhcp-option DNS 10.99.9.53,route-gateway 10.99.9.1,topology subnet,ping 1,ping-restart 10,"
    b"ifconfig 10.99.9.2 255.255.255.0,peer-id 0,cipher AES-256-GCM'\r\n"
    b">STATE:1795458546,ASSIGN_IP,,10.99.9.2,,,,\r\n"
    b">STATE:1795458546,ADD_ROUTES,,,,,,\r\n"
    b">STATE:1795458546,CONNECTED,SUCCESS,10.99.9.2,10.99.0.1,1194,,\r\n"
    b">BYTECOUNT:3165,3134\r\n"
    b"OpenVPN STATISTICS\r\n"
    b"Updated\t1795458548\r\n"
    b"TUN/TAP read bytes\t48\r\n"
    b"END\r\n"
    b"SUCCESS: pid=9833\r\n"
)
HANG_UP = b"SUCCESS: signal SIGTERM thrown\r\n>STATE:1795458515,EXITING,SIGTERM,,,,,\r\n"
WRONG_PASSWORD = (
    b">STATE:1795458600,WAIT,,,,,,\r\n"
    b">STATE:1795458600,AUTH,,,,,,\r\n"
    b">PASSWORD:Verification Failed: 'Auth'\r\n"
    b">STATE:1795458600,EXITING,auth-failure,,,,,\r\n"
)
UNREACHABLE = (
    b">STATE:1795458700,WAIT,,,,,,\r\n"
    b">STATE:1795458702,RECONNECTING,server_poll,,,,,\r\n"
    b">HOLD:Waiting for hold release:0\r\n"
    b">FATAL:All connections have been connect-retry-max (2) times unsuccessful, exiting\r\n"
)
SERVER_STOPPED = (
    b">NOTIFY:info,server-pushed-connection-reset,\r\n"
    b">STATE:1795458800,RECONNECTING,server-pushed-connection-reset,,,,,\r\n"
    b">HOLD:Waiting for hold release:1\r\n"
)


def test_successful_dial_transcript() -> None:
    events = mp.ManagementParser().feed(DIAL)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "Info", "Hold", "Block", "Success", "Success", "Success", "PasswordRequest", "Success",
        "Success", "State", "State", "Log", "State", "State", "State", "ByteCount", "Block",
        "Success",
    ]  # fmt: skip
    assert events[1] == mp.Hold("Waiting for hold release:0")
    assert events[2] == mp.Block(("1795458546,CONNECTING,,,,,,",))
    assert events[6] == mp.PasswordRequest("Auth", "username/password")
    assert events[14] == mp.State(
        1795458546, "CONNECTED", "SUCCESS", "10.99.9.2", "10.99.0.1", "1194", "", "", ""
    )
    assert events[15] == mp.ByteCount(3165, 3134)
    assert events[16] == mp.Block(
        ("OpenVPN STATISTICS", "Updated\t1795458548", "TUN/TAP read bytes\t48")
    )
    assert events[17] == mp.Success("pid=9833")
    block = events[2]
    assert isinstance(block, mp.Block)
    assert mp.parse_state_fields(block.lines[0]) == mp.State(1795458546, "CONNECTING")


def test_state_names_map_to_ras_states() -> None:
    events = mp.ManagementParser().feed(DIAL)
    states = [mp.ras_state(e.name) for e in events if isinstance(e, mp.State)]
    assert states == [
        RasConnState.ConnectDevice, RasConnState.Authenticate, RasConnState.AuthProject,
        RasConnState.Projected, RasConnState.Connected,
    ]  # fmt: skip
    for name in ("CONNECTING", "WAIT", "RESOLVE", "TCP_CONNECT"):
        assert mp.ras_state(name) is RasConnState.ConnectDevice
    assert mp.ras_state("GET_CONFIG") is RasConnState.AuthProject
    assert mp.ras_state("RECONNECTING") is None and mp.ras_state("EXITING") is None


def test_push_reply_gives_projection_facts() -> None:
    log = next(e for e in mp.ManagementParser().feed(DIAL) if isinstance(e, mp.Log))
    push = mp.parse_push_reply(log.text)
    assert push == mp.PushInfo(
        ifconfig_local="10.99.9.2", ifconfig_remote="255.255.255.0", route_gateway="10.99.9.1",
        topology="subnet", dns=("10.99.9.53",),
    )  # fmt: skip
    v26 = mp.parse_push_reply(
        "PUSH: Received control message: 'PUSH_REPLY,dns server 0 address 10.1.1.1:53 [fd00::1]:53,"
        "ifconfig-ipv6 fd00::2/64 fd00::1,dhcp-option DOMAIN corp.example'"
    )
    assert v26 is not None
    assert v26.dns == ("10.1.1.1", "fd00::1")
    assert v26.ifconfig_ipv6_local == "fd00::2" and v26.ifconfig_ipv6_remote == "fd00::1"
    assert v26.domain == "corp.example"
    assert mp.parse_push_reply("no push here") is None


@pytest.mark.parametrize(
    ("reason", "dialing", "connected"),
    [
        ("auth-failure", 691, 691),
        ("ping-restart", 809, 829),
        ("server_poll", 809, 829),
        ("tls-error", 801, 829),
        ("server-pushed-connection-reset", 808, 629),
        ("connection-reset", 808, 629),
        ("SIGTERM", 800, 628),
        ("SIGUSR1", 800, 628),
        ("something-new", 800, 628),
    ],
)
def test_reason_codes(reason: str, dialing: int, connected: int) -> None:
    assert mp.reason_error(reason, connected=False) == dialing
    assert mp.reason_error(reason, connected=True) == connected


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("All connections have been connect-retry-max (2) times unsuccessful, exiting", 809),
        ("read UDPv4 [ECONNREFUSED]: Connection refused (fd=5,code=111)", 808),
        ("VERIFY ERROR: depth=1, error=self-signed certificate in certificate chain", 801),
        ("VERIFY EKU ERROR", 801),
        ("OpenSSL: error:0A000418:SSL routines::tlsv1 alert unknown ca", 810),
        ("Cannot load certificate file client.crt", 781),
        ("RESOLVE: Cannot resolve host address: vpn.invalid:1194 (Name or service not known)", 868),
        ("TLS Error: TLS key negotiation failed to occur within 60 seconds", 809),
        ("ERROR: Cannot open TUN/TAP dev /dev/net/tun: No such device (errno=19)", 797),
        ("Options error: Unrecognized option or missing or extra parameter(s)", 872),
        ("AUTH: Received control message: AUTH_FAILED", 691),
        ("Exiting due to fatal error", 800),
    ],
)
def test_failure_text_codes(line: str, code: int) -> None:
    assert mp.fatal_error(line) == code


def test_classify_prefers_the_most_specific_cause() -> None:
    lines = ["read UDPv4 [ECONNREFUSED]: Connection refused", "connect-retry-max (1) times"]
    assert mp.classify_text(lines) == (808, "read UDPv4 [ECONNREFUSED]: Connection refused")
    assert mp.classify_text(["Initialization Sequence Completed"]) is None


def test_notification_inside_a_block_is_returned_at_once() -> None:
    p = mp.ManagementParser()
    assert p.feed(b"TITLE\tOpenVPN\r\n>BYTECOUNT:1,2\r\n") == [mp.ByteCount(1, 2)]
    assert p.in_block
    assert p.feed(b"more\r\nEND\r\n") == [mp.Block(("TITLE\tOpenVPN", "more"))]


def test_odd_shapes_become_generic_notifications() -> None:
    p = mp.ManagementParser()
    assert p.feed(
        b">BYTECOUNT:x,2\n>STATE:nope\n>WHATEVER\n>NEED-OK:Need 'token' confirmation\n"
    ) == [
        mp.Notification("BYTECOUNT", "x,2"),
        mp.Notification("STATE", "nope"),
        mp.Notification("", "WHATEVER"),
        mp.Notification("NEED-OK", "Need 'token' confirmation"),
    ]
    assert p.feed(b"ERROR: unknown command\nEND\n\n") == [mp.Error("unknown command"), mp.Block(())]


def test_too_long_line_is_the_parsers_own_error() -> None:
    p = mp.ManagementParser()
    with pytest.raises(mp.ManagementProtocolError):
        p.feed(b"x" * (mp.MAX_LINE + 1))
    with pytest.raises(mp.ManagementProtocolError):
        p.feed(b"\n")  # stays broken


def test_quote_for_management_commands() -> None:
    assert mp.quote('a "b" \\c') == '"a \\"b\\" \\\\c"'


# ------------------------------------------------------------------------------- properties

TRANSCRIPTS = [DIAL, HANG_UP, WRONG_PASSWORD, UNREACHABLE, SERVER_STOPPED]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TRANSCRIPTS), st.lists(st.integers(0, 4000), max_size=30))
def test_chunking_never_changes_events(data: bytes, cuts: list[int]) -> None:
    whole = mp.ManagementParser().feed(data)
    p = mp.ManagementParser()
    got: list[mp.Event] = []
    points = sorted({c % (len(data) + 1) for c in cuts})
    prev = 0
    for c in [*points, len(data)]:
        got += p.feed(data[prev:c])
        prev = c
    assert got == whole


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_fuzz_never_raises_foreign_errors_nor_drops_notifications(chunks: list[bytes]) -> None:
    p = mp.ManagementParser()
    events: list[mp.Event] = []
    for chunk in chunks:
        try:
            events += p.feed(chunk)
        except mp.ManagementProtocolError:
            return
    data = b"".join(chunks)
    complete = [ln.rstrip(b"\r") for ln in data.split(b"\n")[:-1]]
    notes = [ln for ln in complete if ln.startswith(b">")]
    assert len([e for e in events if isinstance(e, mp.REALTIME)]) == len(notes)
    # Every other complete line is a reply, a block line or END, still pending in an open
    # block, or a blank line between replies (the only thing ever dropped).
    others = [ln for ln in complete if not ln.startswith(b">")]
    blanks = [ln for ln in others if not ln.decode("utf-8", "replace").strip()]
    accounted = (
        len([e for e in events if isinstance(e, mp.Success | mp.Error)])
        + sum(len(e.lines) + 1 for e in events if isinstance(e, mp.Block))
        + len(p._block or [])
    )
    assert len(others) - len(blanks) <= accounted <= len(others)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_text_lines(text: str) -> None:
    p = mp.ManagementParser()
    p.feed(text.encode("utf-8", "surrogatepass") + b"\n")


# ------------------------------------------------------------------------------- the driver's policy


def _link(tmp_path: Path) -> tuple[OpenVpnLink, list[LinkEvent]]:
    events: list[LinkEvent] = []
    spec = LinkSpec(
        handle=1, owner_uid=0, entry=EntrySnapshot("VPN", {"openrasdevice": "openvpn"}),
        params=DialParams(user="alice", password="pw"), run_dir=tmp_path / "run", marker="t:1",
    )  # fmt: skip
    return OpenVpnLink(spec, events.append), events


def _play(link: OpenVpnLink, data: bytes) -> None:
    link._attached = True
    for ev in mp.ManagementParser().feed(data):
        link._handle(ev)


async def test_driver_dial_transcript_reaches_connected(tmp_path: Path) -> None:
    link, events = _link(tmp_path)
    _play(link, DIAL)
    assert [e.state for e in events if isinstance(e, StateReached)] == [
        RasConnState.ConnectDevice, RasConnState.Authenticate, RasConnState.AuthProject,
        RasConnState.Projected, RasConnState.Connected,
    ]  # fmt: skip
    proj = await link.projection()
    assert proj is not None
    assert (proj.local_address, proj.remote_address, proj.dns) == (
        "10.99.9.2",
        "10.99.9.1",
        ("10.99.9.53",),
    )
    assert proj.extra["netmask"] == "255.255.255.0"


async def test_driver_wrong_password_is_691_once(tmp_path: Path) -> None:
    link, events = _link(tmp_path)
    _play(link, WRONG_PASSWORD)
    failures = [e for e in events if isinstance(e, LinkFailed | LinkLost)]
    assert failures == [LinkFailed(691, "openvpn: Auth verification failed")]


async def test_driver_exiting_auth_failure_alone_is_691(tmp_path: Path) -> None:
    link, events = _link(tmp_path)
    _play(link, b">STATE:1,WAIT,,,,,,\n>STATE:1,EXITING,auth-failure,,,,,\n")
    assert [e for e in events if isinstance(e, LinkFailed)] == [
        LinkFailed(691, "openvpn: auth-failure")
    ]


async def test_driver_unreachable_uses_the_fatal_line(tmp_path: Path) -> None:
    link, events = _link(tmp_path)
    _play(link, UNREACHABLE)
    assert not [e for e in events if isinstance(e, LinkFailed)]  # still retrying, until exit
    link._finish(*link._interp.failure())
    [fail] = [e for e in events if isinstance(e, LinkFailed)]
    assert fail.error == 809 and "connect-retry-max" in fail.detail


async def test_driver_restart_after_connected_is_a_drop(tmp_path: Path) -> None:
    link, events = _link(tmp_path)
    _play(link, DIAL + SERVER_STOPPED + HANG_UP)
    ends = [e for e in events if isinstance(e, LinkFailed | LinkLost)]
    assert ends == [LinkLost(629, "openvpn restarted: server-pushed-connection-reset")]


async def test_driver_our_own_stop_reports_nothing(tmp_path: Path) -> None:
    link, events = _link(tmp_path)
    _play(link, DIAL)
    link.request_stop()
    _play(link, HANG_UP)
    assert not [e for e in events if isinstance(e, LinkFailed | LinkLost)]
