"""The SSH driver's pure parts: stderr lines -> codes, destinations, the argv allow-list."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openras.errors import RasError
from openras.links.ssh.driver import _Settings, build_argv, parse_destination, parse_ss
from openras.links.ssh.log import (
    Authenticated,
    HostKeyLearned,
    Problem,
    SshLogParser,
    classify_exit,
)
from openras.states import RasConnState

# Exact OpenSSH 9.2p1 stderr texts, recorded on this platform.
CHANGED = b"""\
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Offending ED25519 key in kh2:1
Host key for [127.0.0.1]:22299 has changed and you have requested strict checking.
Host key verification failed.
"""


@pytest.mark.parametrize(
    ("text", "code", "state"),
    [
        (b"root@127.0.0.1: Permission denied (publickey).\n", 691, RasConnState.Authenticate),
        (
            b"No ED25519 host key is known for [127.0.0.1]:22299 and you have requested strict "
            b"checking.\nHost key verification failed.\n",
            778,
            RasConnState.DeviceConnected,
        ),
        (CHANGED, 835, RasConnState.DeviceConnected),
        (
            b"ssh: connect to host 127.0.0.1 port 22298: Connection refused\n",
            678,
            RasConnState.ConnectDevice,
        ),
        (
            b"ssh: connect to host 10.1.1.1 port 22: No route to host\n",
            809,
            RasConnState.ConnectDevice,
        ),
        (
            b"ssh: connect to host 10.1.1.1 port 22: Connection timed out\n",
            809,
            RasConnState.ConnectDevice,
        ),
        (
            b"ssh: Could not resolve hostname nowhere.invalid: Name or service not known\n",
            868,
            RasConnState.ConnectDevice,
        ),
        (b"Timeout, server 10.99.0.1 not responding.\n", 829, RasConnState.Authenticate),
        (b"Connection to 10.0.0.1 closed by remote host.\n", 629, RasConnState.DeviceConnected),
        (
            b"bind [127.0.0.1]:1080: Address already in use\n"
            b"channel_setup_fwd_listener_tcpip: cannot listen to port: 1080\n"
            b"Could not request local forwarding.\n",
            633,
            RasConnState.Authenticate,
        ),
        (b"Tunnel forwarding failed\n", 812, RasConnState.Authenticate),
    ],
)
def test_failures_map_to_codes(text: bytes, code: int, state: RasConnState) -> None:
    parser = SshLogParser()
    parser.feed(text)
    got_code, detail, implied = classify_exit(parser, 255)
    assert (got_code, implied) == (code, state)
    assert detail


def test_success_lines_and_byte_by_byte_feed() -> None:
    text = (
        b"Warning: Permanently added '[127.0.0.1]:22299' (ED25519) to the list of known hosts.\n"
        b'Authenticated to 127.0.0.1 ([127.0.0.1]:22299) using "publickey".\n'
    )
    parser = SshLogParser()
    events = [e for i in range(len(text)) for e in parser.feed(text[i : i + 1])]
    assert events == [HostKeyLearned("[127.0.0.1]:22299"), Authenticated("127.0.0.1", "publickey")]
    assert parser.worst is None


def test_unknown_exit() -> None:
    parser = SshLogParser()
    parser.feed(b"something odd\n")
    assert classify_exit(parser, 255) == (
        635,
        "ssh exited (status 255): something odd",
        RasConnState.ConnectDevice,
    )
    assert classify_exit(SshLogParser(), -9)[0] == 829


def test_partial_last_line_and_huge_lines() -> None:
    parser = SshLogParser()
    assert parser.feed(b"Permission denied (password)") == []
    (event,) = parser.close()
    assert isinstance(event, Problem)
    assert event.code == 691
    assert len(SshLogParser().feed(b"x" * 10000)) == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=10))
def test_fuzz_feed(chunks: list[bytes]) -> None:
    parser = SshLogParser()
    for chunk in chunks:
        parser.feed(chunk)
    parser.close()
    code, detail, state = classify_exit(parser, 255)
    assert code > 0
    assert isinstance(detail, str)
    assert state in RasConnState


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("host", (None, "host", 22)),
        ("alice@10.0.0.1:2222", ("alice", "10.0.0.1", 2222)),
        ("[fd00::1]:22", (None, "fd00::1", 22)),
        ("bob@[fd00::1]", ("bob", "fd00::1", 22)),
    ],
)
def test_destinations(text: str, expect: tuple[str | None, str, int]) -> None:
    assert parse_destination(text) == expect


@pytest.mark.parametrize(
    "text",
    ["-oProxyCommand=x", "host:0", "fd00::1", "[fd00::1", "a b", "-l@host", "x@-host", "h:99999"],
)
def test_bad_destinations(text: str) -> None:
    with pytest.raises(RasError) as info:
        parse_destination(text)
    assert info.value.code == 749


def _settings(mode: str = "socks") -> _Settings:
    return _Settings(
        user="alice",
        host="10.0.0.1",
        port=22,
        mode=mode,
        socks_port=1080,
        identity=None,
        known_hosts=Path("/x"),
        accept_new=False,
        dial_timeout=15,
        alive_interval=15,
        alive_count=3,
        tun_local=None,
        tun_remote=None,
        tun_routes=(),
        tun_remote_unit="any",
    )


def test_argv_is_locked_down() -> None:
    argv = build_argv(_settings(), Path("/run/x"), password=False, tun_unit=None)
    joined = " ".join(argv)
    assert argv[:8] == ["ssh", "-N", "-T", "-M", "-S", "/run/x/ctl", "-F", "none"]
    assert argv[-2:] == ["--", "10.0.0.1"]
    for pinned in (
        "ProxyCommand=none",
        "ProxyJump=none",
        "PermitLocalCommand=no",
        "IdentityFile=none",
        "IdentityAgent=none",
        "BatchMode=yes",
        "StrictHostKeyChecking=yes",
        "GlobalKnownHostsFile=/dev/null",
        "UserKnownHostsFile=/run/x/known_hosts",
    ):
        assert pinned in joined
    assert "-D 127.0.0.1:1080" in joined
    with_pw = " ".join(build_argv(_settings(), Path("/run/x"), password=True, tun_unit=None))
    assert "BatchMode=no" in with_pw
    assert "PasswordAuthentication=yes" in with_pw
    tun = " ".join(build_argv(_settings("tun"), Path("/run/x"), password=False, tun_unit=105))
    assert "TunnelDevice=105:any" in tun
    assert "-D" not in tun.split()


def test_parse_ss() -> None:
    text = (
        '0 0 127.0.0.1:33068 127.0.0.1:22299 users:(("ssh",pid=29384,fd=3))\n'
        "\t bbr wscale:10,10 rto:212 bytes_sent:3377 bytes_acked:3378 bytes_received:3305 "
        "segs_out:15 segs_in:12 data_segs_out:8\n"
        '0 0 127.0.0.1:1 127.0.0.1:2 users:(("ssh",pid=2938,fd=3))\n'
        "\t bytes_sent:1\n"
    )
    stats = parse_ss(text, 29384)
    assert stats is not None
    assert (stats.bytes_sent, stats.bytes_received, stats.frames_sent, stats.frames_received) == (
        3377,
        3305,
        15,
        12,
    )
    assert parse_ss(text, 1) is None


def test_privileged_socks_port_only_for_root() -> None:
    from openras.links.ssh.driver import socks_port_allowed

    assert socks_port_allowed(1080, 1000)
    assert socks_port_allowed(1024, 1000)
    assert not socks_port_allowed(1023, 1000)
    assert not socks_port_allowed(22, 1000)
    assert socks_port_allowed(22, 0)
