"""A dial that needs a password and has none: asked on a terminal, refused at once elsewhere.

The entry is a loopback one with ``OpenRasLoopbackNeedsPassword=1``: like an OpenVPN profile
with ``auth-user-pass``, a dial without a password is refused before anything starts with
691 and ``needs="credentials"`` (the OpenVPN case, with a real server, is in
``test_dial_prompt_openvpn.py``). The daemon is real, the commands run on a pty (pexpect).
"""

from __future__ import annotations

import io
import json
import subprocess
import time
from pathlib import Path

import pexpect
import pytest
from cli_support import OPENRAS, RASDIAL, TIMEOUT, Cli

from openras import Client, errors
from openras.cli.rasdial_output import exit_status

PASSWORD = "hunter2"
LOCKED = (
    "\n[Locked]\nOpenRasDevice=loopback\nOpenRasLoopbackStepMs=5\nOpenRasLoopbackHangUpMs=20\n"
    f"OpenRasLoopbackPassword={PASSWORD}\nOpenRasLoopbackNeedsPassword=1\n"
)


@pytest.fixture
def locked(phonebook: Path) -> Path:
    """The user's phonebook with the ``Locked`` entry added."""
    with phonebook.open("a") as fh:
        fh.write(LOCKED)
    return phonebook


def spawn(cli: Cli, argv: list[str], *args: str) -> tuple[pexpect.spawn, io.StringIO]:
    transcript = io.StringIO()
    child = pexpect.spawn(
        argv[0], [*argv[1:], *args], env=cli.env, encoding="utf-8", timeout=TIMEOUT
    )
    child.logfile_read = transcript
    return child, transcript


def finish(child: pexpect.spawn) -> int | None:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def connected(cli: Cli) -> list[dict[str, object]]:
    out = cli.openras("list", "--json")
    assert out.returncode == 0, out.stderr
    docs: list[dict[str, object]] = json.loads(out.stdout)
    return [d for d in docs if d["entry"] == "Locked"]


def hang_up(cli: Cli) -> None:
    out = cli.openras("hangup", "Locked")
    assert out.returncode == 0, out.stderr


def test_the_wire_says_credentials_are_missing_not_wrong(cli: Cli, locked: Path) -> None:
    """``needs`` tells "none given" (ask) from "refused" (a wrong password: do not)."""
    with Client(cli.daemon.socket, autostart=False) as c:
        with pytest.raises(errors.AuthenticationFailure) as missing:
            c.dial("Locked", locked)
        assert missing.value.needs == errors.NEEDS_CREDENTIALS
        assert missing.value.handle == 0  # refused before anything started
        with pytest.raises(errors.AuthenticationFailure) as wrong:
            c.dial("Locked", locked, user="bob", password="nope")
        assert wrong.value.needs is None
        c.hang_up(wrong.value.handle, wait=True, timeout=15)
        conn = c.dial("Locked", locked, user="bob", password=PASSWORD)
        conn.hang_up(wait=True, timeout=15)


def test_on_a_terminal_the_user_name_and_password_are_asked(cli: Cli, locked: Path) -> None:
    child, transcript = spawn(cli, OPENRAS, "dial", "Locked")
    child.expect("Locked needs a user name and password")
    child.expect("User name: ")
    child.sendline("bob")
    child.expect("Password for bob: ")
    child.sendline(PASSWORD)
    child.expect("Connected")
    assert finish(child) == 0, transcript.getvalue()
    assert PASSWORD not in transcript.getvalue(), "the password was echoed"
    assert [d["state"] for d in connected(cli)] == ["Connected"]
    hang_up(cli)
    # Nothing was saved: asked again next time (the user did not ask for --save).
    shown = cli.openras("--json", "creds", "show", "Locked")
    assert json.loads(shown.stdout)["has_password"] is False


def test_a_wrong_password_is_reported_not_asked_again(cli: Cli, locked: Path) -> None:
    child, transcript = spawn(cli, OPENRAS, "dial", "Locked", "--user", "bob")
    child.expect("Password for bob: ")  # the user name was given: only the password
    child.sendline("wrong")
    status = finish(child)
    text = transcript.getvalue()
    assert status == exit_status(691), text
    assert "error 691" in text and "Authenticate" in text
    assert text.count("Password for") == 1
    assert connected(cli) == []


def test_without_a_terminal_691_at_once(cli: Cli, locked: Path) -> None:
    t0 = time.monotonic()
    out = cli.openras("dial", "Locked")
    elapsed = time.monotonic() - t0
    assert out.returncode == exit_status(691), out.stderr
    assert "error 691" in out.stderr and "asks for a password" in out.stderr
    assert "User name" not in out.stderr + out.stdout
    assert elapsed < 10, elapsed  # a refusal, not a timeout (a cold interpreter start included)
    assert connected(cli) == []


def test_json_on_a_terminal_is_not_asked(cli: Cli, locked: Path) -> None:
    child, transcript = spawn(cli, OPENRAS, "--json", "dial", "Locked")
    status = finish(child)
    assert status == exit_status(691), transcript.getvalue()
    assert "User name" not in transcript.getvalue()


def test_save_keeps_what_was_asked(cli: Cli, locked: Path) -> None:
    child, transcript = spawn(cli, OPENRAS, "dial", "Locked", "--save")
    child.expect("User name: ")
    child.sendline("bob")
    child.expect("Password for bob: ")
    child.sendline(PASSWORD)
    child.expect("credentials saved")
    assert finish(child) == 0, transcript.getvalue()
    hang_up(cli)
    shown = json.loads(cli.openras("--json", "creds", "show", "Locked").stdout)
    assert shown["user"] == "bob" and shown["has_password"] is True
    out = cli.openras("dial", "Locked")  # no terminal: the saved ones serve
    assert out.returncode == 0, out.stderr
    hang_up(cli)


def test_a_saved_user_name_is_offered(cli: Cli, locked: Path) -> None:
    saved = cli.openras("creds", "set", "Locked", "--user", "carol")
    assert saved.returncode == 0, saved.stderr
    child, transcript = spawn(cli, OPENRAS, "dial", "Locked")
    child.expect(r"User name \[carol\]: ")
    child.sendline("")
    child.expect("Password for carol: ")
    child.sendline(PASSWORD)
    assert finish(child) == 0, transcript.getvalue()
    hang_up(cli)


def test_rasdial_asks_on_a_terminal(cli: Cli, locked: Path) -> None:
    child, transcript = spawn(cli, RASDIAL, "Locked")
    child.expect("Enter a user name to connect to 'Locked': ")
    child.sendline("bob")
    child.expect("Enter password for bob to connect to 'Locked': ")
    child.sendline(PASSWORD)
    assert finish(child) == 0, transcript.getvalue()
    assert PASSWORD not in transcript.getvalue()
    assert [d["state"] for d in connected(cli)] == ["Connected"]
    hang_up(cli)


def test_rasdial_without_a_terminal_691_at_once(cli: Cli, locked: Path) -> None:
    out = subprocess.run(
        [*RASDIAL, "Locked"], input="", capture_output=True, text=True, env=cli.env,
        timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert out.returncode == exit_status(691), out
    assert "691" in out.stdout and "asks for a password" in out.stderr, out
    assert "Enter a user name" not in out.stdout + out.stderr
    assert connected(cli) == []
