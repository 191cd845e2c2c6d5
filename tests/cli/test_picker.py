"""``openras hangup`` without a target, driven on a pseudo-terminal with pexpect."""

from __future__ import annotations

import io
import json
import re

import pexpect
import pytest
from cli_support import OPENRAS, TIMEOUT, Cli

from openras import Client, errors

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def spawn(cli: Cli, *args: str) -> tuple[pexpect.spawn, io.StringIO]:
    transcript = io.StringIO()
    child = pexpect.spawn(
        OPENRAS[0], [*OPENRAS[1:], *args], env=cli.env, encoding="utf-8", timeout=TIMEOUT
    )
    child.logfile_read = transcript
    return child, transcript


def handles(cli: Cli) -> dict[str, int]:
    docs = json.loads(cli.openras("list", "--all", "--json").stdout)
    return {str(d["entry"]): int(d["handle"]) for d in docs}


def test_picker_lists_connections_and_hangs_up_the_chosen_one(cli: Cli) -> None:
    assert cli.openras("dial", "Demo").returncode == 0
    assert cli.openras("dial", "Slow").returncode == 0
    before = handles(cli)
    child, transcript = spawn(cli, "hangup")
    child.expect(r"Hang up which connection\? \[1-2, q to cancel\]: ")
    table = ANSI.sub("", transcript.getvalue()).splitlines()
    assert table[0].split() == [
        "#",
        "ENTRY",
        "DEVICE",
        "STATE",
        "DURATION",
        "SENT",
        "/",
        "RECEIVED",
    ]
    rows = [ln.split() for ln in table[1:3]]
    assert rows[0][0] == ">"  # the marker starts on the first row
    rows[0] = rows[0][1:]
    assert [r[:2] for r in rows] == [["1", "Demo"], ["2", "Slow"]]
    # Coloured states do not push the columns out of line with the header.
    assert table[0].index("STATE") == table[1].index("Connected") == table[2].index("Connected")
    assert all(r[2:5] == ["openras", "loopback", "Connected"] for r in rows)
    assert all("B" in r[-1] or "KiB" in r[-1] for r in rows)  # bytes from statistics
    child.sendline("7")
    child.expect(r"Please type a number from 1-2, or q\.")
    child.expect(r"\[1-2, q to cancel\]: ")
    child.sendline("2")
    child.expect(rf"Hung up.*Slow \(handle {before['Slow']}\): the handle is now invalid\.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Slow: Disconnected" in ANSI.sub("", transcript.getvalue())  # the teardown was shown
    with Client() as client:
        with pytest.raises(errors.InvalidHandle):
            client.status(before["Slow"])
        assert [c.entry for c in client.connections()] == ["Demo"]


def test_picker_can_be_cancelled(cli: Cli) -> None:
    assert cli.openras("dial", "Demo").returncode == 0
    child, _ = spawn(cli, "hangup")
    child.expect(r"\[1, q to cancel\]: ")
    child.sendline("q")
    child.expect("Nothing was hung up.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert list(handles(cli)) == ["Demo"]


def test_picker_offers_failed_and_dialing_attempts_too(cli: Cli) -> None:
    """Whatever holds a handle may be ended, not only connected entries."""
    with Client() as client:
        with pytest.raises(errors.RasError) as failed:
            client.dial("NoCarrier")
        child, transcript = spawn(cli, "hangup")
        child.expect(r"\[1, q to cancel\]: ")
        assert "ConnectDevice (error 678)" in ANSI.sub("", transcript.getvalue())
        child.sendline("1")
        child.expect("the handle is now invalid")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        with pytest.raises(errors.InvalidHandle):
            client.status(failed.value.handle)


def test_picker_with_nothing_to_hang_up(cli: Cli) -> None:
    child, _ = spawn(cli, "hangup")
    child.expect("no connections to hang up")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 68


def marked_row(screen: str) -> str:
    """The entry on the row the marker is on in the last drawing of the picker in ``screen``."""
    rows = [ln for ln in ANSI.sub("", screen).splitlines() if ln.lstrip().startswith(">")]
    return rows[-1].split()[2]


def test_picker_arrow_keys_and_enter(cli: Cli) -> None:
    """Down, Down (wraps to the top), Up, End, Home... then Enter hangs up the marked row."""
    for entry in ("Demo", "Slow", "Second"):
        assert cli.openras("dial", entry).returncode == 0
    before = handles(cli)
    child, transcript = spawn(cli, "hangup")
    child.expect(r"\[1-3, q to cancel\]: ")
    assert marked_row(transcript.getvalue()) == "Demo"
    for key, marked in [
        ("\x1b[B", "Slow"),  # Down
        ("\x1b[B", "Second"),
        ("\x1b[B", "Demo"),  # wraps
        ("\x1b[A", "Second"),  # Up wraps back
        ("\x1bOA", "Slow"),  # Up in application cursor mode
        ("k", "Demo"),
        ("\x1b[F", "Second"),  # End
        ("\x1b[H", "Demo"),  # Home
        ("j", "Slow"),
    ]:
        mark = len(transcript.getvalue())
        child.send(key)
        child.expect(r"\[1-3, q to cancel\]: ")
        assert marked_row(transcript.getvalue()[mark:]) == marked, key
    child.send("\r")
    child.expect(rf"Hung up.*Slow \(handle {before['Slow']}\): the handle is now invalid\.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert sorted(handles(cli)) == ["Demo", "Second"]


def test_picker_typed_number_moves_the_marker_and_esc_cancels(cli: Cli) -> None:
    for entry in ("Demo", "Slow"):
        assert cli.openras("dial", entry).returncode == 0
    child, transcript = spawn(cli, "hangup")
    child.expect(r"\[1-2, q to cancel\]: ")
    mark = len(transcript.getvalue())
    child.send("2")
    child.expect(r"\[1-2, q to cancel\]: 2")
    assert marked_row(transcript.getvalue()[mark:]) == "Slow"
    child.send("\x1b")  # a lone Esc
    child.expect("Nothing was hung up.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert sorted(handles(cli)) == ["Demo", "Slow"]


def test_picker_ctrl_c_interrupts_and_hangs_up_nothing(cli: Cli) -> None:
    assert cli.openras("dial", "Demo").returncode == 0
    child, _ = spawn(cli, "hangup")
    child.expect(r"\[1, q to cancel\]: ")
    child.sendintr()  # Ctrl-C still works in the picker's key-at-a-time mode
    child.expect("openras: interrupted")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 31
    assert list(handles(cli)) == ["Demo"]
