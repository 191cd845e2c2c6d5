"""rasdial's output, line for line, and the exit-status mapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openras.cli import rasdial_output as out
from openras.states import DIAL_SEQUENCE, RasConnState

S = RasConnState


def test_usage_text() -> None:
    assert out.render(out.usage_lines()) == (
        "USAGE:\n"
        "\trasdial entryname [username [password|*]] [/DOMAIN:domain]\n"
        "\t\t[/PHONE:phonenumber] [/CALLBACK:callbacknumber]\n"
        "\t\t[/PHONEBOOK:phonebookfile] [/PREFIXSUFFIX]\n"
        "\n"
        "\trasdial [entryname] /DISCONNECT\n"
        "\n"
        "\trasdial\n"
        "\n"
    )


def test_usage_uses_the_program_name() -> None:
    lines = out.usage_lines("/usr/bin/rasdial")
    assert lines[1].startswith("\t/usr/bin/rasdial entryname ")
    assert lines[5] == "\t/usr/bin/rasdial [entryname] /DISCONNECT"
    assert lines[7] == "\t/usr/bin/rasdial"


def test_list_none() -> None:
    assert out.list_lines([]) == ["No connections", "Command completed successfully."]


def test_list_some() -> None:
    assert out.list_lines(["Office VPN", "Branch"]) == [
        "Connected to",
        "Office VPN",
        "Branch",
        "Command completed successfully.",
    ]


def test_dial_success() -> None:
    assert out.dial_success_lines("Office VPN") == [
        "Successfully connected to Office VPN.",
        "Command completed successfully.",
    ]


def test_already_connected() -> None:
    assert out.already_connected_lines("Office") == [
        "You are already connected to Office.",
        "Command completed successfully.",
    ]


def test_disconnect_success() -> None:
    assert out.disconnect_success_lines() == ["Command completed successfully."]


def test_error_block_691() -> None:
    assert out.render(out.error_lines(691)) == (
        "\n"
        "Remote Access error 691 - The remote connection was denied because the user name and "
        "password combination you provided is not recognized, or the selected authentication "
        "protocol is not permitted on the remote access server.\n"
        "\n"
        "For more help on this error:\n"
        "        Type 'hh netcfg.chm'\n"
        "        In help, click Troubleshooting, then Error Messages, then 691\n"
    )


def test_error_block_623() -> None:
    assert out.error_lines(623) == [
        "",
        "Remote Access error 623 - The system could not find the phone book entry for this "
        "connection.",
        "",
        "For more help on this error:",
        "        Type 'hh netcfg.chm'",
        "        In help, click Troubleshooting, then Error Messages, then 623",
    ]


def test_error_block_win32_and_unknown() -> None:
    assert out.error_lines(5)[1] == "Remote Access error 5 - Access is denied."
    assert out.error_lines(9999)[1] == "Remote Access error 9999 - Unknown error 9999."


def test_render() -> None:
    assert out.render([]) == ""
    assert out.render(["a", "", "b"]) == "a\n\nb\n"


# --- progress -------------------------------------------------------------------------------


def feed_all(states: list[RasConnState], entry: str = "Office") -> list[str]:
    reporter = out.ProgressReporter(entry)
    return [line for s in states if (line := reporter.feed(s)) is not None]


def test_progress_line_per_state() -> None:
    assert out.progress_line(S.OpenPort, "X") == "Connecting to X..."
    assert out.progress_line(S.ConnectDevice, "X") == "Connecting to X..."
    assert out.progress_line(S.Authenticate, "X") == "Verifying username and password..."
    assert out.progress_line(S.AuthProject, "X") == "Registering your computer on the network..."
    silent = set(S) - {S.OpenPort, S.ConnectDevice, S.Authenticate, S.AuthProject}
    assert all(out.progress_line(s, "X") is None for s in silent)


def test_progress_of_a_plain_dial() -> None:
    assert feed_all(list(DIAL_SEQUENCE[:-1])) == [
        "Connecting to Office...",
        "Verifying username and password...",
        "Registering your computer on the network...",
    ]


def test_repeated_notifications_print_once() -> None:
    states = [S.OpenPort, S.OpenPort, S.PortOpened, S.Authenticate, S.Authenticate]
    assert feed_all(states) == ["Connecting to Office...", "Verifying username and password..."]


def test_each_device_and_each_attempt_announces_itself() -> None:
    # Two devices in a chain, then a second attempt from OpenPort.
    states = [
        S.OpenPort,
        S.PortOpened,
        S.ConnectDevice,
        S.DeviceConnected,
        S.ConnectDevice,
        S.DeviceConnected,
        S.OpenPort,
        S.ConnectDevice,
    ]
    assert feed_all(states) == ["Connecting to Office..."] * 3


def test_connect_device_without_open_port_announces() -> None:
    assert feed_all([S.ConnectDevice]) == ["Connecting to Office..."]


def test_reauthentication_announces_again() -> None:
    states = [S.Authenticate, S.AuthRetry, S.Authenticate, S.AuthProject]
    assert feed_all(states) == [
        "Verifying username and password...",
        "Verifying username and password...",
        "Registering your computer on the network...",
    ]


@given(st.lists(st.sampled_from(list(S)), max_size=40))
def test_progress_never_repeats_a_line_for_one_state_entry(states: list[RasConnState]) -> None:
    lines = feed_all(states)
    entries = sum(
        1
        for i, s in enumerate(states)
        if out.progress_line(s, "Office") is not None and (i == 0 or states[i - 1] != s)
    )
    assert len(lines) <= entries


# --- exit status ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (0, 0),
        (5, 1),
        (6, 1),
        (87, 1),
        (123, 1),
        (600, 1),
        (601, 1),
        (602, 1),
        (603, 3),
        (623, 23),
        (691, 91),
        (725, 125),
        (726, 1),
        (727, 1),
        (728, 128),
        (800, 200),
        (855, 255),
        (856, 1),
        (868, 1),
        (875, 1),
        (-1, 1),
        (65536, 1),
    ],
)
def test_exit_status(code: int, status: int) -> None:
    assert out.exit_status(code) == status


def test_usage_status() -> None:
    assert out.EXIT_USAGE == 2
    assert out.ras_code_for_status(out.EXIT_USAGE) is None


@given(st.integers(min_value=-(2**40), max_value=2**40))
def test_exit_status_fits_and_is_zero_only_for_success(code: int) -> None:
    status = out.exit_status(code)
    assert 0 <= status <= 255
    assert (status == 0) == (code == 0)
    assert status not in (out.EXIT_USAGE, 126, 127)


def test_exit_status_round_trips() -> None:
    for code in range(0, 1000):
        status = out.exit_status(code)
        back = out.ras_code_for_status(status)
        if back is not None:
            assert back == code
        else:
            assert status in (0, out.EXIT_FAILURE)
    for status in range(256):
        decoded = out.ras_code_for_status(status)
        if decoded is not None:
            assert out.exit_status(decoded) == status
    assert {out.ras_code_for_status(s) for s in (0, 1, 2, 126, 127)} == {None}
