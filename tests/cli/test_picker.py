"""``openras hangup`` without a target, driven on a pseudo-terminal with pexpect."""

from __future__ import annotations

import io
import json
import re

import pexpect
import pytest

from conftest import OPENRAS, TIMEOUT, Cli
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
    assert [r[:2] for r in rows] == [["1", "Demo"], ["2", "Slow"]]
    assert all(r[2:5] == ["openras", "loopback", "Connected"] for r in rows)
    assert all("B" in r[-1] or "KiB" in r[-1] for r in rows)  # bytes from statistics
    child.sendline("7")
    child.expect(r"Please type a number from 1-2, or q\.")
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
