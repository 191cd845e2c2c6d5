"""``rasdial`` end to end: a real rasman, loopback entries, output checked line by line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
from cli_support import RASDIAL, TIMEOUT, Cli, lines

from openras import Client, errors

OK = "Command completed successfully."


def error_block(code: int) -> list[str]:
    return [
        "",
        f"Remote Access error {code} - {errors.message(code)}",
        "",
        "For more help on this error:",
        "        Type 'hh netcfg.chm'",
        f"        In help, click Troubleshooting, then Error Messages, then {code}",
    ]


def dial_lines(entry: str) -> list[str]:
    return [
        f"Connecting to {entry}...",
        "Verifying username and password...",
        "Registering your computer on the network...",
        f"Successfully connected to {entry}.",
        OK,
    ]


def connections(cli: Cli, pending: bool = True) -> list[dict[str, object]]:
    args = ["list", "--json"] + (["--all"] if pending else [])
    result = cli.openras(*args)
    assert result.returncode == 0, result.stderr
    docs: list[dict[str, object]] = json.loads(result.stdout)
    return docs


def test_list_with_nothing_connected(cli: Cli) -> None:
    result = cli.rasdial()
    assert lines(result.stdout) == ["No connections", OK]
    assert result.returncode == 0


def test_dial_prints_progress_then_lists_the_entry(cli: Cli) -> None:
    result = cli.rasdial("Demo")
    assert lines(result.stdout) == dial_lines("Demo")
    assert result.returncode == 0
    listed = cli.rasdial()
    assert lines(listed.stdout) == ["Connected to", "Demo", OK]
    assert listed.returncode == 0


def test_second_dial_says_already_connected_and_keeps_one_reference(cli: Cli) -> None:
    assert cli.rasdial("Demo").returncode == 0
    again = cli.rasdial("Demo")
    assert lines(again.stdout) == ["You are already connected to Demo.", OK]
    assert again.returncode == 0
    [conn] = connections(cli)
    assert conn["refs"] == 1


def test_unknown_entry_is_error_623(cli: Cli) -> None:
    result = cli.rasdial("NoSuchEntry")
    assert lines(result.stdout) == error_block(623)
    assert result.returncode == 23


def test_wrong_password_is_691_and_the_attempt_is_released(cli: Cli) -> None:
    result = cli.rasdial("Secret", "alice", "wrong")
    assert lines(result.stdout) == [
        "Connecting to Secret...",
        "Verifying username and password...",
        *error_block(691),
    ]
    assert result.returncode == 91
    assert connections(cli) == []  # rasdial hung up its failed handle before exiting


def test_right_password_connects(cli: Cli) -> None:
    result = cli.rasdial("Secret", "alice", "s3cret")
    assert lines(result.stdout) == dial_lines("Secret")


def test_failure_while_connecting_device(cli: Cli) -> None:
    result = cli.rasdial("NoCarrier")
    assert lines(result.stdout) == ["Connecting to NoCarrier...", *error_block(678)]
    assert result.returncode == 78
    assert connections(cli) == []


def test_link_that_drops_is_no_longer_listed(cli: Cli) -> None:
    assert lines(cli.rasdial("Dropper").stdout) == dial_lines("Dropper")
    deadline = time.monotonic() + 15
    while True:
        out = lines(cli.rasdial().stdout)
        if out == ["No connections", OK]:
            break
        assert out == ["Connected to", "Dropper", OK]
        assert time.monotonic() < deadline, "the dropped link is still listed"
    history = json.loads(cli.openras("history", "--json").stdout)
    assert history[-1]["entry"] == "Dropper"
    assert history[-1]["error"] == 629


def test_disconnect_returns_when_gone_so_the_next_line_can_redial(cli: Cli) -> None:
    # Slow takes 600 ms to hang up: /DISCONNECT must wait for all of it.
    assert cli.rasdial("Slow").returncode == 0
    [before] = connections(cli)
    result = cli.rasdial("Slow", "/DISCONNECT")
    assert lines(result.stdout) == [OK]
    assert result.returncode == 0
    assert connections(cli) == []
    with Client() as client, pytest.raises(errors.InvalidHandle):
        client.status(int(str(before["handle"])))
    redial = cli.rasdial("Slow")
    assert lines(redial.stdout) == dial_lines("Slow")
    [after] = connections(cli)
    assert after["handle"] != before["handle"]


def test_disconnect_and_redial_on_consecutive_script_lines(cli: Cli) -> None:
    assert cli.rasdial("Slow").returncode == 0
    script = f"{' '.join(RASDIAL)} Slow /d && {' '.join(RASDIAL)} Slow"
    result = cli.run(["sh", "-c", script])
    assert lines(result.stdout) == [OK, *dial_lines("Slow")]
    assert result.returncode == 0


def test_disconnect_without_entry_ends_the_only_connection(cli: Cli) -> None:
    assert cli.rasdial("Demo").returncode == 0
    result = cli.rasdial("/D")
    assert lines(result.stdout) == [OK]
    assert result.returncode == 0
    assert connections(cli) == []


def test_disconnect_without_entry_refuses_when_several(cli: Cli) -> None:
    assert cli.rasdial("Demo").returncode == 0
    assert cli.rasdial("Second").returncode == 0
    result = cli.rasdial("/DISCONNECT")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "2 connections are active (Demo, Second)" in result.stderr
    assert len(connections(cli)) == 2


def test_disconnect_with_nothing_to_end_is_668(cli: Cli) -> None:
    """Windows' text for this case is not recorded: the usual error block, a note on stderr."""
    block = [
        "",
        f"Remote Access error 668 - {errors.message(668)}",
        "",
        "For more help on this error:",
        "        Type 'hh netcfg.chm'",
        "        In help, click Troubleshooting, then Error Messages, then 668",
    ]
    none = cli.rasdial("/d")
    assert lines(none.stdout) == block
    assert none.stderr == "rasdial: no connection to end\n"
    assert none.returncode == 68
    named = cli.rasdial("Demo", "/d")
    assert lines(named.stdout) == block
    assert named.stderr == "rasdial: you are not connected to Demo\n"
    assert named.returncode == 68


def test_disconnect_ends_a_connection_dialed_twice(cli: Cli) -> None:
    """Another client's extra reference does not keep /DISCONNECT from ending it."""
    with Client() as client:
        client.dial("Demo")
        client.dial("Demo")  # two references
        assert connections(cli)[0]["refs"] == 2
        result = cli.rasdial("Demo", "/DISCONNECT")
    assert lines(result.stdout) == [OK]
    assert connections(cli) == []


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["/FOO"], "unknown switch /FOO"),
        (["Demo", "u", "p", "extra"], "too many arguments"),
        (["Demo", "/DOMAIN"], "/DOMAIN needs a value"),
        (["Demo", "/D", "/DOMAIN:x"], "cannot be used with /DISCONNECT"),
        (["/PHONE:123"], "an entry name is required"),
    ],
)
def test_usage_errors_print_usage_and_exit_2(cli: Cli, argv: list[str], why: str) -> None:
    result = cli.rasdial(*argv)
    assert result.returncode == 2
    assert lines(result.stdout)[0] == "USAGE:"
    assert why in result.stderr
    assert connections(cli) == []


def test_help(cli: Cli) -> None:
    result = cli.rasdial("/?")
    assert result.returncode == 0
    out = lines(result.stdout)
    assert out[0] == "USAGE:"
    assert "\trasdial [entryname] /DISCONNECT" in out
    assert any("Exit status" in line for line in out)
    text = result.stdout
    assert "3-255" not in text  # 126 and 127 never occur
    assert "3-125 and 128-255" in text
    assert "126 and 127 are never used" in text


def test_help_names_the_phonebooks_actually_used(cli: Cli, tmp_path: Path) -> None:
    """$XDG_CONFIG_HOME and $OPENRAS_SYSTEM_PHONEBOOK, not a hardcoded ~/.config."""
    env = {
        **cli.env,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "OPENRAS_SYSTEM_PHONEBOOK": str(tmp_path / "all.pbk"),
    }
    text = cli.rasdial("/?", env=env).stdout
    assert f"in yours ({tmp_path / 'xdg' / 'openras' / 'rasphone.pbk'})" in text
    assert f"all-users phonebook ({tmp_path / 'all.pbk'})" in text
    assert "~/.config" not in text


def test_daemon_not_running_is_711_without_traceback(cli: Cli, tmp_path: Path) -> None:
    env = {**cli.env, "OPENRAS_SOCKET": str(tmp_path / "nobody.sock")}
    for argv in ([], ["Demo"], ["Demo", "/D"]):
        result = cli.rasdial(*argv, env=env)
        assert lines(result.stdout) == error_block(711)
        assert result.returncode == 111
        assert "nobody.sock" in result.stderr


def test_star_prompts_for_the_password_without_echo(cli: Cli) -> None:
    child = pexpect.spawn(
        RASDIAL[0],
        [*RASDIAL[1:], "Secret", "alice", "*"],
        env=cli.env,
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    child.expect("Enter password for alice to connect to 'Secret': ")
    child.sendline("s3cret")
    child.expect(pexpect.EOF)
    child.close()
    assert "s3cret" not in child.before
    assert [ln for ln in lines(child.before) if ln.strip()] == dial_lines("Secret")
    assert child.exitstatus == 0


def test_star_with_a_wrong_password_is_691(cli: Cli) -> None:
    child = pexpect.spawn(
        RASDIAL[0],
        [*RASDIAL[1:], "Secret", "alice", "*"],
        env=cli.env,
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    child.expect("password")
    child.sendline("nope")
    child.expect(pexpect.EOF)
    child.close()
    assert f"Remote Access error 691 - {errors.message(691)}" in child.before
    assert child.exitstatus == 91


def test_interrupted_dial_is_hung_up_and_reported_as_631(cli: Cli) -> None:
    """Ctrl-C (or SIGTERM) while dialing ends the attempt; nothing is left behind."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = subprocess.Popen(
            [*RASDIAL, "Plodding"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli.env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "Connecting to Plodding...\n"  # the attempt has a handle
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=TIMEOUT)
        assert lines(out) == error_block(631)
        assert proc.returncode == 31
        assert "Traceback" not in err
        assert connections(cli) == []


def test_runs_as_a_module_too(cli: Cli) -> None:
    result = cli.run([sys.executable, "-m", "openras.cli.rasdial", "/?"])
    assert lines(result.stdout)[1].startswith("\trasdial entryname")
    assert result.returncode == 0


#: An X.25 entry (Windows' RASDT_X25, ``DEVICE=x25``): no driver here runs X.25, so the dial
#: ends in 609 once RasDial has taken it.
X25_ENTRY = """
[Office X25]
Encoding=1
PBVersion=4
Type=1
MEDIA=x25
Port=X25-0
Device=PAD
DEVICE=x25
PhoneNumber=311040100000
"""


def test_failure_before_any_state_still_says_connecting(cli: Cli) -> None:
    """Windows' rasdial prints "Connecting to X..." before the error block of a dial RasDial
    took (a Vista transcript: 'Connecting to IKEEXT...' then 'Remote Access error 797'), also
    when the device cannot be dialed here at all (609)."""
    book = Path(cli.daemon.phonebook)
    book.write_text(book.read_text() + X25_ENTRY)
    result = cli.rasdial("Office X25", f"/PHONEBOOK:{book}")
    assert lines(result.stdout) == ["Connecting to Office X25...", *error_block(609)]
    assert result.returncode == 9  # 609 - 600, rasdial's exit status for a RAS code


def test_unknown_entry_fails_without_connecting(cli: Cli) -> None:
    """623 is RasDial refusing the call itself: no notification, so no progress line."""
    result = cli.rasdial("Ghost")
    assert lines(result.stdout) == error_block(623)
